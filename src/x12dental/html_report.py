"""The HTML report: one self-contained page showing each file segment by segment,
grouped by claim, with every finding beside the segment it is about.

A FileResult keeps findings, not segments, so the page re-reads each input (a
path, or the bytes the caller kept for standard input) in one streaming pass and
puts findings back on their segments by transaction control and position (as the
999 locates them), or by file line outside a transaction set.

The page is opened by a person, often from a mail attachment, so it must work
alone: inline CSS and JS, no fonts or scripts from the network. Claim data is
hostile input: every value from the file or a finding goes through html.escape.

Size limits (a page of a 100 MB batch must still open in a browser):

* the segments of every claim with findings are shown, and those of the first
  `clean_claims` (default 20) claims without findings of each file; the
  billing provider, subscriber and patient segments are shown with the first
  claim shown under them, or on their own when they have findings;
* at most `max_segments` segments (default 20,000) on the page: past that, a
  section shows only its segments with findings;
* at most `max_finding_claims` claims with findings (default 2,000) get a
  section: the summary still counts every finding, and the JSON or text report
  lists them all.
Each place where something was left out says what and how much.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from pathlib import Path

import attrs

from x12dental import __version__
from x12dental.catalog import RuleDoc, all_rules
from x12dental.findings import Finding, Severity
from x12dental.pipeline import FileResult, PartyName
from x12dental.redact import (
    MASK,
    FileSecrets,
    Key,
    Segment,
    disk_sources,
    finding_keys,
    iter_segments,
    open_source,
    redact_file,
    source_for,
)
from x12dental.report import Report
from x12dental.text_report import (
    VERDICTS,
    ClaimKey,
    claim_key_of_finding,
    person_label,
    subject,
    tally,
    where,
)

DEFAULT_CLEAN_CLAIMS = 20
DEFAULT_MAX_SEGMENTS = 20_000
DEFAULT_MAX_FINDING_CLAIMS = 2_000
SECTION_CAP = 1_000  # segments kept per section (a malformed file can have one huge "claim")
LINK_CAP = 20  # links to claims per rule in the summary

_SEVERITIES = (Severity.ERROR, Severity.WARNING, Severity.INFO)
_ICON = {Severity.ERROR: "\u2716", Severity.WARNING: "\u25b2", Severity.INFO: "\u2139"}
_LABEL = {Severity.ERROR: "Error", Severity.WARNING: "Warning", Severity.INFO: "Info"}
_CONTEXT_LEVEL = {"billing": 1, "subscriber": 2, "patient": 3, "hl": 3}
_HL_KINDS = {"20": "billing", "22": "subscriber", "23": "patient"}


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _badge(sev: Severity, text: str | None = None) -> str:
    label = text if text is not None else _LABEL[sev]
    return (
        f'<span class="badge sev-{sev.value}"><span aria-hidden="true">{_ICON[sev]}</span> '
        f"{esc(label)}</span>"
    )


@attrs.define
class _Budget:
    segments: int
    finding_claims: int


@attrs.define
class _Row:
    seg: Segment
    hits: list[int]


@attrs.define
class _Section:
    kind: str
    anchor: str
    title: str
    env: tuple[str | None, str | None, str | None]
    rows: list[_Row] = attrs.field(factory=list)
    dropped: int = 0  # segments past SECTION_CAP without findings
    claim_id: str | None = None
    charge: str = ""
    lines: int = 0
    person: str = ""
    billing: str = ""
    unplaced: list[int] = attrs.field(factory=list)  # claim findings not on any segment

    @property
    def size(self) -> int:
        return len(self.rows) + self.dropped

    @property
    def finding_indexes(self) -> list[int]:
        return [i for r in self.rows for i in r.hits] + self.unplaced

    @property
    def last_position(self) -> int | None:
        positions = [r.seg.position for r in self.rows if r.seg.position is not None]
        return positions[-1] if positions else None


@attrs.define
class _ClaimLink:
    file_index: int
    claim_id: str
    anchor: str
    label: str
    counts: dict[Severity, int]


class _FileView:
    """Walks one file's segments into sections and renders them, within the budget."""

    def __init__(
        self,
        index: int,
        file: FileResult,
        known: FileSecrets | None,
        budget: _Budget,
        clean_claims: int,
        rule_anchor: Mapping[str, str],
    ) -> None:
        self.fi = index
        self.rule_anchor = rule_anchor
        self.file = file
        self.known = known
        self.redact = known is not None
        self.budget = budget
        self.clean_left = clean_claims
        self.out: list[str] = []
        self.claims: list[_ClaimLink] = []
        self.anchor_of: dict[int, str] = {}  # finding index -> where it is shown
        self.placed: set[int] = set()
        self.index: dict[Key, list[int]] = {}
        self.by_claim: dict[ClaimKey, list[int]] = {}
        for i, f in enumerate(file.findings):
            for k in finding_keys(f):
                self.index.setdefault(k, []).append(i)
            ck = claim_key_of_finding(f)
            if ck is not None:
                self.by_claim.setdefault(ck, []).append(i)
        self.cur: _Section | None = None
        self.pending: list[_Section] = []
        self.sections = 0
        self.omitted_claims = 0
        self.omitted_finding_claims = 0
        self.omitted_segments = 0
        self.billing = ""
        self.subscriber: PartyName | None = None
        self.patient: PartyName | None = None

    # -- walking ---------------------------------------------------------------------------

    def walk(self, segments: Iterable[Segment]) -> None:
        for seg in segments:
            self._feed(seg)
        self._close(end=True)
        self._drop_pending()
        self._note_omitted(final=True)

    def _feed(self, seg: Segment) -> None:
        kind = self._boundary(seg)
        if kind is not None or self.cur is None:
            self._open(kind or "interchange", seg)
        sec = self.cur
        assert sec is not None
        hits: list[int] = []
        for k in seg.match_keys():
            for i in self.index.get(k, ()):
                if i not in self.placed:
                    self.placed.add(i)
                    hits.append(i)
        self._track(seg, sec)
        if hits or len(sec.rows) < SECTION_CAP:
            sec.rows.append(_Row(seg, hits))
        else:
            sec.dropped += 1

    def _boundary(self, seg: Segment) -> str | None:
        sid = seg.seg_id
        cur = self.cur.kind if self.cur is not None else None
        if sid == "ISA":
            return "interchange"
        if sid == "GS":
            return None if cur == "interchange" else "group"
        if sid == "ST":
            return "transaction"
        if sid == "HL":
            return _HL_KINDS.get(seg.element(3), "hl")
        if sid == "CLM":
            return "claim"
        if sid == "SE":
            return "trailer"
        if sid in ("GE", "IEA"):
            return None if cur == "trailer" else "trailer"
        return None

    def _track(self, seg: Segment, sec: _Section) -> None:
        """Names for the claim headings: billing provider, subscriber, patient."""
        if seg.seg_id == "NM1":
            qual = seg.element(1)
            name = PartyName(seg.element(3), seg.element(4), "", "")
            if qual == "85":
                self.billing = seg.element(3)
            elif qual == "IL" and sec.kind == "subscriber":
                self.subscriber = name
            elif qual == "QC" and sec.kind == "patient":
                self.patient = name
        elif seg.seg_id == "CLM" and sec.kind == "claim":
            sec.claim_id = seg.element(1)
            sec.charge = seg.element(2)
            sec.billing = self.billing
            sec.person = person_label(self.patient or self.subscriber, self.redact)
        elif seg.seg_id == "LX" and sec.kind == "claim":
            sec.lines += 1

    def _open(self, kind: str, seg: Segment) -> None:
        self._close(end=False)
        if kind == "billing":
            self.billing, self.subscriber, self.patient = "", None, None
        elif kind == "subscriber":
            self.subscriber = self.patient = None
        elif kind == "patient":
            self.patient = None
        if kind in _CONTEXT_LEVEL:
            level = _CONTEXT_LEVEL[kind]
            keep = [p for p in self.pending if _CONTEXT_LEVEL[p.kind] < level]
            self._drop_pending([p for p in self.pending if _CONTEXT_LEVEL[p.kind] >= level])
            self.pending = keep
        elif kind != "claim":
            self._drop_pending()
        self.sections += 1
        anchor = f"f{self.fi}-s{self.sections}"
        env = (seg.interchange_control, seg.group_control, seg.transaction_control)
        self.cur = _Section(kind, anchor, self._title(kind, seg), env)

    @staticmethod
    def _title(kind: str, seg: Segment) -> str:
        if kind == "interchange":
            return f"Interchange {seg.interchange_control or ''} (ISA, GS)"
        if kind == "group":
            return f"Functional group {seg.group_control or ''} (GS)"
        if kind == "transaction":
            return f"Transaction set {seg.transaction_control or ''}: header, submitter, receiver"
        if kind == "billing":
            return f"Billing provider (HL {seg.element(1)})"
        if kind == "subscriber":
            return f"Subscriber (HL {seg.element(1)})"
        if kind == "patient":
            return f"Patient (HL {seg.element(1)})"
        if kind == "hl":
            return f"HL {seg.element(1)} (level {seg.element(3)})"
        if kind == "trailer":
            return "Trailers"
        return "Claim"

    def _close(self, end: bool) -> None:
        sec, self.cur = self.cur, None
        if sec is None:
            return
        if sec.kind == "claim" and sec.claim_id is not None:
            self._claim_unplaced(sec, end)
        has = bool(sec.finding_indexes)
        if sec.kind in _CONTEXT_LEVEL:
            if has:
                self._flush_pending()
                self._render(sec)
            else:
                self.pending.append(sec)
        elif sec.kind == "claim":
            if has and self.budget.finding_claims <= 0:
                self.omitted_finding_claims += 1
                self.omitted_segments += sec.size
            elif has or self.clean_left > 0:
                if has:
                    self.budget.finding_claims -= 1
                else:
                    self.clean_left -= 1
                self._flush_pending()
                self._render(sec)
            else:
                self.omitted_claims += 1
                self.omitted_segments += sec.size
        else:
            self._render(sec)

    def _claim_unplaced(self, sec: _Section, end: bool) -> None:
        """Findings about this claim whose segment was never read (a cut-off file)."""
        if sec.claim_id is None:
            return
        key: ClaimKey = (sec.env[0], sec.env[1], sec.env[2], sec.claim_id)
        last = sec.last_position
        for i in self.by_claim.get(key, ()):
            if i in self.placed:
                continue
            pos = self.file.findings[i].location.segment_position
            if end or pos is None or (last is not None and pos <= last):
                self.placed.add(i)
                sec.unplaced.append(i)

    def _flush_pending(self) -> None:
        pending, self.pending = self.pending, []
        for p in pending:
            self._render(p)

    def _drop_pending(self, which: list[_Section] | None = None) -> None:
        for p in self.pending if which is None else which:
            self.omitted_segments += p.size
        if which is None:
            self.pending = []

    # -- rendering -------------------------------------------------------------------------

    def _note_omitted(self, final: bool = False) -> None:
        """Say what was left out since the last section shown; left-out context segments
        alone (a subscriber loop without findings) wait for the next note."""
        claims = self.omitted_claims or self.omitted_finding_claims
        if not claims and not (final and self.omitted_segments):
            return
        parts = []
        if self.omitted_claims:
            parts.append(f"{self.omitted_claims} claim(s) without findings")
        if self.omitted_finding_claims:
            parts.append(
                f"{self.omitted_finding_claims} claim(s) with findings (page limit reached; "
                "the text and JSON reports list every finding)"
            )
        what = " and ".join(parts) if parts else "segments without findings"
        self.out.append(
            f'<p class="omitted">Not shown here: {esc(what)}, '
            f"{self.omitted_segments} segment(s) in all.</p>"
        )
        self.omitted_claims = self.omitted_finding_claims = self.omitted_segments = 0

    def _render(self, sec: _Section) -> None:
        self._note_omitted()
        has = bool(sec.finding_indexes)
        rows = sec.rows
        cut = sec.dropped
        if len(rows) > self.budget.segments:
            kept = [r for r in rows if r.hits]
            cut += len(rows) - len(kept)
            rows = kept
            if not rows and not has:
                self.omitted_segments += sec.size
                if sec.kind == "claim":
                    self.omitted_claims += 1
                return
        self.budget.segments -= len(rows)
        classes = ["block", sec.kind]
        if not has:
            classes.append("clean")
        out = self.out
        out.append(
            f'<section class="{" ".join(classes)}" id="{sec.anchor}" '
            f'aria-labelledby="{sec.anchor}-h">'
        )
        out.append(f'<h3 id="{sec.anchor}-h">{self._heading(sec)}</h3>')
        if rows:
            out.append(
                '<table class="segs"><thead><tr><th scope="col">Line</th>'
                '<th scope="col"><abbr title="position from ST (ST = 1), as the 999 counts">'
                'Pos.</abbr></th><th scope="col">Segment</th><th scope="col">Findings</th>'
                "</tr></thead><tbody>"
            )
            for row in rows:
                out.append(self._row(row, sec))
            out.append("</tbody></table>")
        if sec.unplaced:
            out.append(
                '<div class="unplaced"><p>About this claim, on a segment that could not be '
                "read:</p>"
            )
            for i in sec.unplaced:
                self.anchor_of[i] = sec.anchor
                out.append(self._finding(i, show_where=True))
            out.append("</div>")
        if cut:
            out.append(
                f'<p class="omitted">{cut} segment(s) of this section without findings not '
                "shown (page limit).</p>"
            )
        out.append("</section>")
        if sec.kind == "claim" and sec.claim_id is not None:
            counts = {s: 0 for s in _SEVERITIES}
            for i in sec.finding_indexes:
                counts[self.file.findings[i].severity] += 1
            if has:
                label = sec.person
                self.claims.append(_ClaimLink(self.fi, sec.claim_id, sec.anchor, label, counts))

    def _heading(self, sec: _Section) -> str:
        counts = {s: 0 for s in _SEVERITIES}
        for i in sec.finding_indexes:
            counts[self.file.findings[i].severity] += 1
        badges = " ".join(
            _badge(s, f"{n} {_LABEL[s].lower()}{'s' if n > 1 and s is not Severity.INFO else ''}")
            for s, n in counts.items()
            if n
        )
        if sec.kind != "claim":
            extra = ""
            if sec.kind == "billing" and sec.rows:
                name = next(
                    (
                        r.seg.element(3)
                        for r in sec.rows
                        if r.seg.seg_id == "NM1" and r.seg.element(1) == "85"
                    ),
                    "",
                )
                extra = f' <span class="sub">{esc(name)}</span>' if name else ""
            elif sec.kind in ("subscriber", "patient"):
                qual = "IL" if sec.kind == "subscriber" else "QC"
                nm1 = next(
                    (r.seg for r in sec.rows if r.seg.seg_id == "NM1" and r.seg.element(1) == qual),
                    None,
                )
                if nm1 is not None:
                    who = person_label(
                        PartyName(nm1.element(3), nm1.element(4), "", ""), self.redact
                    )
                    extra = f' <span class="sub">{esc(who)}</span>' if who else ""
            return f"{esc(sec.title)}{extra} {badges}".rstrip()
        parts = [f'Claim <span class="cid">{esc(sec.claim_id or "")}</span>']
        sub = []
        if sec.person:
            sub.append(f"patient {sec.person}")
        if sec.billing:
            sub.append(f"billing {sec.billing}")
        sub.append(f"{sec.lines} line(s)")
        if sec.charge:
            sub.append(f"charge {sec.charge}")
        parts.append(f'<span class="sub">{esc(" · ".join(sub))}</span>')
        parts.append(badges or '<span class="ok">no findings</span>')
        return " ".join(parts)

    def _row(self, row: _Row, sec: _Section) -> str:
        seg = row.seg
        text = seg.shown(self.known.secrets if self.known is not None else None)
        cls = ""
        row_id = ""
        if row.hits:
            worst = max((self.file.findings[i].severity for i in row.hits), key=lambda s: s.rank)
            cls = f' class="hit row-{worst.value}"'
            row_id = f' id="f{self.fi}-g{seg.index}"'
            for i in row.hits:
                self.anchor_of[i] = (
                    sec.anchor if sec.kind == "claim" else f"f{self.fi}-g{seg.index}"
                )
        order = sorted(row.hits, key=lambda i: (-self.file.findings[i].severity.rank, i))
        findings = "".join(self._finding(i) for i in order)
        return (
            f'<tr{row_id}{cls}><td class="ln">{"" if seg.line is None else seg.line}</td>'
            f'<td class="pos">{"" if seg.position is None else seg.position}</td>'
            f'<td class="seg"><code>{esc(text)}</code></td><td class="fx">{findings}</td></tr>'
        )

    def _finding(self, i: int, show_where: bool = False) -> str:
        return finding_html(self.file.findings[i], show_where, self.rule_anchor)


def finding_html(f: Finding, show_where: bool, rule_anchor: Mapping[str, str]) -> str:
    """One finding: severity in words and icon (not colour alone), message, rule, fix."""
    meta = []
    anchor = rule_anchor.get(f.rule)
    rule = (
        f'<a class="rule" href="#{anchor}">{esc(f.rule)}</a>'
        if anchor
        else f'<span class="rule">{esc(f.rule)}</span>'
    )
    meta.append(rule)
    meta.append(f"SNIP {f.snip}")
    about = subject(f)
    if about:
        meta.append(esc(about))
    if show_where:
        at = where(f)
        if at:
            meta.append(esc(at))
    elif f.element:
        meta.append(esc(f.element))
    hint = f'<div class="hint"><b>Fix:</b> {esc(f.hint)}</div>' if f.hint else ""
    return (
        f'<div class="finding sev-{f.severity.value}" data-severity="{f.severity.value}">'
        f'{_badge(f.severity)} <span class="msg">{esc(f.message)}</span>'
        f'<div class="meta">{" · ".join(meta)}</div>{hint}</div>'
    )


# -- the page ------------------------------------------------------------------------------

_CSS = """
:root{--err:#a4001d;--err-bg:#fdecee;--warn:#7a4a00;--warn-bg:#fff3d6;--info:#0b4f8a;
--info-bg:#e7f0fb;--ok:#1d6b2f;--line:#d5d9de;--muted:#57606a;--mono:ui-monospace,
"DejaVu Sans Mono",Menlo,Consolas,monospace}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,"DejaVu Sans",Arial,sans-serif;color:#1f2328;margin:0;
background:#fff}
main{padding:0 24px 48px;max-width:1400px;margin:0 auto}
h1{font-size:22px;margin:18px 0 4px}
h2{font-size:18px;margin:28px 0 10px;border-bottom:2px solid var(--line);padding-bottom:4px}
h3{font-size:15px;margin:0;padding:8px 10px;background:#f3f5f7;border-bottom:1px solid
var(--line);font-weight:600}
h3 .sub{font-weight:400;color:var(--muted);margin-left:6px}
h3 .cid{font-family:var(--mono)}
.lede{color:var(--muted);margin:0 0 8px}
.redacted{background:#eef1f4;border-left:4px solid #57606a;padding:6px 10px;margin:8px 0}
.filters{position:sticky;top:0;z-index:5;background:#fffffff0;border-bottom:1px solid
var(--line);padding:8px 24px;margin:0 -24px}
.filters fieldset{border:0;margin:0;padding:0;display:flex;gap:18px;flex-wrap:wrap;
align-items:center}
.filters legend{float:left;font-weight:600;margin-right:8px}
.filters label{cursor:pointer;white-space:nowrap}
table{border-collapse:collapse}
caption{text-align:left;font-weight:600;padding:4px 0}
.summary table{margin:6px 0 18px;min-width:60%}
.summary th,.summary td{border:1px solid var(--line);padding:4px 8px;text-align:left;
vertical-align:top}
.summary td.n{text-align:right;font-variant-numeric:tabular-nums}
.summary th{background:#f3f5f7}
.summary details pre{white-space:pre-wrap;font:12px/1.4 var(--mono);margin:6px 0;
max-width:80ch}
.summary details summary{cursor:pointer;color:var(--muted)}
.badge{display:inline-block;border-radius:3px;padding:0 6px;font-size:12px;font-weight:600;
white-space:nowrap;border:1px solid currentColor}
.badge.sev-error{color:var(--err);background:var(--err-bg)}
.badge.sev-warning{color:var(--warn);background:var(--warn-bg)}
.badge.sev-info{color:var(--info);background:var(--info-bg)}
.ok{color:var(--ok);font-size:12px;font-weight:600}
.status{font-weight:600}
.status-accepted{color:var(--ok)}
.status-accepted_with_errors{color:var(--warn)}
.status-rejected,.status-unreadable{color:var(--err)}
.file{margin-top:24px}
.block{border:1px solid var(--line);border-radius:4px;margin:10px 0;overflow:hidden}
.block.claim{border-left:4px solid #8c959f}
.block.claim.clean{border-left-color:#b6dfc0}
table.segs{width:100%;table-layout:fixed}
table.segs th{font-size:12px;color:var(--muted);text-align:left;font-weight:600;
padding:2px 8px;border-bottom:1px solid var(--line)}
table.segs th:nth-child(1),table.segs th:nth-child(2){width:4.5em}
table.segs th:nth-child(3){width:48%}
table.segs td{padding:2px 8px;vertical-align:top;border-bottom:1px solid #eef0f2}
td.ln,td.pos{color:var(--muted);font:12px/1.6 var(--mono);text-align:right}
td.seg code{font:12.5px/1.55 var(--mono);white-space:pre-wrap;word-break:break-all}
tr.hit td.seg{background:#fafbfc}
tr.row-error td.seg{box-shadow:inset 4px 0 var(--err)}
tr.row-warning td.seg{box-shadow:inset 4px 0 #c98a00}
tr.row-info td.seg{box-shadow:inset 4px 0 var(--info)}
.finding{border-left:4px solid;padding:4px 8px;margin:3px 0;border-radius:2px}
.finding.sev-error{border-color:var(--err);background:var(--err-bg)}
.finding.sev-warning{border-color:#c98a00;background:var(--warn-bg)}
.finding.sev-info{border-color:var(--info);background:var(--info-bg)}
.finding .meta{font-size:12px;color:var(--muted)}
.finding .meta .rule{font-family:var(--mono)}
.finding .hint{font-size:12.5px}
.unplaced,.toplevel{padding:6px 10px}
.omitted{color:var(--muted);font-style:italic;margin:8px 0}
a{color:#0550ae}
[hidden]{display:none!important}
@media print{.filters{display:none}}
"""

_JS = """
(function () {
  "use strict";
  var kinds = ["error", "warning", "info", "clean"];
  function box(k) { return document.getElementById("show-" + k); }
  function hiddenKinds() {
    return kinds.filter(function (k) { var b = box(k); return b && !b.checked; });
  }
  function apply(updateHash) {
    var hide = hiddenKinds();
    document.body.setAttribute("data-hide", hide.join(" "));
    kinds.forEach(function (k) {
      var b = box(k);
      if (b) { if (b.checked) { b.setAttribute("checked", ""); } else { b.removeAttribute("checked"); } }
    });
    document.querySelectorAll("main [data-severity]").forEach(function (el) {
      el.hidden = hide.indexOf(el.getAttribute("data-severity")) >= 0;
    });
    document.querySelectorAll("section.clean").forEach(function (el) {
      el.hidden = hide.indexOf("clean") >= 0;
    });
    if (updateHash) {
      try {
        history.replaceState(null, "", hide.length ? "#hide=" + hide.join(",")
          : location.pathname + location.search);
      } catch (e) { /* file: URLs may refuse; the filter still works */ }
    }
  }
  function fromHash() {
    var m = /^#hide=([a-z,]*)$/.exec(location.hash);
    if (!m) { return false; }
    var hide = m[1].split(",");
    kinds.forEach(function (k) { var b = box(k); if (b) { b.checked = hide.indexOf(k) < 0; } });
    return true;
  }
  function openTarget() {
    var id = decodeURIComponent(location.hash.slice(1));
    if (!id || id.indexOf("hide=") === 0) { return; }
    var el = document.getElementById(id);
    var d = el && (el.tagName === "DETAILS" ? el : el.querySelector("details"));
    if (d) { d.open = true; }
  }
  fromHash();
  apply(false);
  openTarget();
  kinds.forEach(function (k) {
    var b = box(k);
    if (b) { b.addEventListener("change", function () { apply(true); }); }
  });
  window.addEventListener("hashchange", function () {
    if (fromHash()) { apply(false); }
    openTarget();
  });
  document.body.setAttribute("data-ready", "1");
})();
"""


def _rule_docs() -> dict[str, RuleDoc]:
    try:
        return {r.id: r for r in all_rules()}
    except Exception:  # a broken plugin must not cost the user the report
        return {}


def render_html(
    report: Report,
    sources: Mapping[str, bytes | Path] | None = None,
    *,
    redact: bool = False,
    clean_claims: int = DEFAULT_CLEAN_CLAIMS,
    max_segments: int = DEFAULT_MAX_SEGMENTS,
    max_finding_claims: int = DEFAULT_MAX_FINDING_CLAIMS,
) -> str:
    """The report as one self-contained HTML page.

    `sources` maps each FileResult.path to the bytes or Path that was checked (keep
    standard input's bytes); None reads the paths that are files on disk. A file
    without a source is shown by its findings only. `redact` masks people's
    identity (see `redact`) in the segments, the findings and the headings.
    """
    if sources is None:
        sources = disk_sources(report)
    docs = _rule_docs()
    findings_by_rule: dict[str, list[tuple[int, int]]] = {}
    for fi, file in enumerate(report.files):
        for i, f in enumerate(file.findings):
            findings_by_rule.setdefault(f.rule, []).append((fi, i))
    rule_order = sorted(
        findings_by_rule,
        key=lambda r: (
            -max(report.files[fi].findings[i].severity.rank for fi, i in findings_by_rule[r]),
            -len(findings_by_rule[r]),
            r,
        ),
    )
    rule_anchor = {r: f"rule-{n}" for n, r in enumerate(rule_order, 1)}

    budget = _Budget(max_segments, max_finding_claims)
    views: list[_FileView] = []
    bodies: list[str] = []
    shown_files: list[FileResult] = []
    for fi, original in enumerate(report.files):
        source = source_for(original, sources)
        file, known = (original, None)
        if redact:
            file, known = redact_file(original, source)
        shown_files.append(file)
        view = _FileView(fi, file, known, budget, clean_claims, rule_anchor)
        with open_source(source) as stream:
            if stream is not None:
                view.walk(iter_segments(stream))
        views.append(view)
        bodies.append(_file_html(fi, original, file, view, source is not None, rule_anchor))

    summary = report.summary()
    out: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="generator" content="x12dental ' + esc(__version__) + '">',
        f"<title>x12dental report: {summary['files']} file(s), {summary['errors']} error(s)"
        "</title>",
        f"<style>{_CSS}</style></head>",
        "<body><main>",
        "<header><h1>x12dental report</h1>",
        f'<p class="lede">{summary["files"]} file(s), {summary["claims"]} claim(s): '
        f"{summary['errors']} error(s), {summary['warnings']} warning(s), "
        f"{summary['infos']} info(s). Checked against HIPAA X12 837 Dental 5010 "
        "(005010X224A2).</p>",
    ]
    if redact:
        out.append(
            f'<p class="redacted"><b>Redacted.</b> Patient and subscriber names, member ids, '
            f"addresses and birth dates are masked as {MASK}; patients are shown by their "
            "initials.</p>"
        )
    out.append("</header>")
    out.append(_filters(report))
    out.append(
        _summary(report, shown_files, views, rule_order, rule_anchor, findings_by_rule, docs)
    )
    out.extend(bodies)
    out.append(
        '<p class="omitted">Segments are shown for every claim with findings and for the '
        f"first {clean_claims} claim(s) without findings of each file, at most "
        f"{max_segments} segments and {max_finding_claims} claims with findings per page.</p>"
    )
    out.append(f"</main><script>{_JS}</script></body></html>")
    return "\n".join(out) + "\n"


def _filters(report: Report) -> str:
    counts = {s: report.count(s) for s in _SEVERITIES}
    boxes = [
        f'<label for="show-{s.value}"><input type="checkbox" id="show-{s.value}" checked> '
        f"{_badge(s, _LABEL[s] + ('s' if s is not Severity.INFO else ''))} ({counts[s]})</label>"
        for s in _SEVERITIES
    ]
    boxes.append(
        '<label for="show-clean"><input type="checkbox" id="show-clean" checked> '
        "Claims and sections without findings</label>"
    )
    return (
        '<nav class="filters" aria-label="Filters"><fieldset><legend>Show</legend>'
        + "".join(boxes)
        + '<a href="#summary">Summary</a></fieldset></nav>'
    )


def _summary(
    report: Report,
    shown: list[FileResult],
    views: list[_FileView],
    rule_order: list[str],
    rule_anchor: Mapping[str, str],
    by_rule: Mapping[str, list[tuple[int, int]]],
    docs: Mapping[str, RuleDoc],
) -> str:
    out = ['<section class="summary" id="summary" aria-labelledby="summary-h">']
    out.append('<h2 id="summary-h">Summary</h2>')
    out.append(
        "<table><caption>Files</caption><thead><tr>"
        '<th scope="col">File</th><th scope="col">Status</th><th scope="col">Claims</th>'
        '<th scope="col">Accepted</th><th scope="col">With errors</th>'
        '<th scope="col">In rejected sets</th><th scope="col">Errors</th>'
        '<th scope="col">Warnings</th><th scope="col">Info</th></tr></thead><tbody>'
    )
    for fi, file in enumerate(report.files):
        t = tally(file)
        out.append(
            f'<tr><th scope="row"><a href="#f{fi}">{esc(file.path)}</a></th>'
            f'<td><span class="status status-{esc(file.status)}">'
            f"{esc(file.status.replace('_', ' '))}</span></td>"
            f'<td class="n">{t.total}</td><td class="n">{t.accepted}</td>'
            f'<td class="n">{t.with_errors}</td><td class="n">{t.rejected_sets}</td>'
            f'<td class="n">{file.count(Severity.ERROR)}</td>'
            f'<td class="n">{file.count(Severity.WARNING)}</td>'
            f'<td class="n">{file.count(Severity.INFO)}</td></tr>'
        )
    out.append("</tbody></table>")

    if rule_order:
        out.append(
            "<table><caption>Findings by rule</caption><thead><tr>"
            '<th scope="col">Rule</th><th scope="col">Severity</th><th scope="col">Count</th>'
            '<th scope="col">Where</th></tr></thead><tbody>'
        )
        for rule in rule_order:
            hits = by_rule[rule]
            sevs = {report.files[fi].findings[i].severity for fi, i in hits}
            badges = " ".join(_badge(s) for s in _SEVERITIES if s in sevs)
            doc = docs.get(rule)
            title = f' title="{esc(doc.summary)}"' if doc is not None else ""
            explain = (
                f"<details><summary>Explanation</summary><pre>{esc(doc.explain())}</pre></details>"
                if doc is not None
                else ""
            )
            links: list[str] = []
            seen: set[str] = set()
            unshown: set[tuple[int, str | None, int | None]] = set()
            for fi, i in hits:
                f = shown[fi].findings[i]
                anchor = views[fi].anchor_of.get(i)
                if anchor is None:  # its claim was left off the page
                    unshown.add((fi, f.claim_id, None if f.claim_id else i))
                    continue
                if anchor in seen:
                    continue
                seen.add(anchor)
                label = f.claim_id if f.claim_id is not None else (f.location.segment_id or "file")
                if len(report.files) > 1:
                    label = f"{Path(report.files[fi].path).name}: {label}"
                links.append(f'<a href="#{anchor}">{esc(label)}</a>')
            more = ""
            if len(links) > LINK_CAP:
                more = f" and {len(links) - LINK_CAP} more"
                links = links[:LINK_CAP]
            if unshown:
                more += f"; {len(unshown)} more not shown on this page"
            out.append(
                f'<tr id="{rule_anchor[rule]}"><th scope="row"><code{title}>{esc(rule)}</code>'
                f'{explain}</th><td>{badges}</td><td class="n">{len(hits)}</td>'
                f"<td>{', '.join(links)}{more}</td></tr>"
            )
        out.append("</tbody></table>")

    claims = [c for v in views for c in v.claims]
    if claims:
        out.append(
            "<table><caption>Claims with findings</caption><thead><tr>"
            '<th scope="col">Claim</th><th scope="col">Patient</th>'
            + ('<th scope="col">File</th>' if len(report.files) > 1 else "")
            + '<th scope="col">Errors</th><th scope="col">Warnings</th>'
            '<th scope="col">Info</th></tr></thead><tbody>'
        )
        for c in claims:
            file_cell = (
                f"<td>{esc(Path(report.files[c.file_index].path).name)}</td>"
                if len(report.files) > 1
                else ""
            )
            out.append(
                f'<tr><th scope="row"><a href="#{c.anchor}">{esc(c.claim_id)}</a></th>'
                f"<td>{esc(c.label)}</td>{file_cell}"
                + "".join(f'<td class="n">{c.counts[s]}</td>' for s in _SEVERITIES)
                + "</tr>"
            )
        out.append("</tbody></table>")
    out.append("</section>")
    return "\n".join(out)


def _file_html(
    fi: int,
    original: FileResult,
    file: FileResult,
    view: _FileView,
    have_source: bool,
    rule_anchor: Mapping[str, str],
) -> str:
    t = tally(original)
    out = [f'<section class="file" id="f{fi}" aria-labelledby="f{fi}-h">']
    out.append(
        f'<h2 id="f{fi}-h">{esc(file.path)} <span class="status status-{esc(file.status)}">'
        f"{esc(VERDICTS.get(file.status, file.status))}</span></h2>"
    )
    out.append(
        f'<p class="lede">{file.interchanges} interchange(s), {file.transactions} transaction '
        f"set(s), {file.claims} claim(s), {file.service_lines} service line(s)."
        + (
            ""
            if file.status == "unreadable"
            else f" Claims: {t.accepted} accepted, {t.with_errors} with errors"
            + (f", {t.rejected_sets} in rejected transaction sets" if t.rejected_sets else "")
            + (f", {t.unchecked} not checked" if t.unchecked else "")
            + "."
        )
        + (
            ""
            if have_source or file.status == "unreadable"
            else " The file itself was not available, so only its findings are shown."
        )
        + "</p>"
    )
    top = [i for i in range(len(file.findings)) if i not in view.placed]
    if top:
        out.append('<div class="block toplevel">')
        out.append(f'<h3 id="f{fi}-top">File and envelope findings</h3>')
        for i in top:
            view.anchor_of.setdefault(i, f"f{fi}-top")
            out.append(finding_html(file.findings[i], True, rule_anchor))
        out.append("</div>")
    out.extend(view.out)
    out.append("</section>")
    return "\n".join(out)
