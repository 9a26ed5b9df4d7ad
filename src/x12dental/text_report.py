"""The terminal report: per file a verdict and counts, then findings grouped by claim.

Written for the biller fixing the batch: the claim first, then what is wrong in
words, then where (file line, segment), the segment itself when the input is at
hand, and how to fix it. Colour only when asked (a terminal), and never as the
only signal: every finding starts with its severity in words.

The claim tally and the claim labels live here and the HTML report reuses them,
so the two reports never count differently.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping, Sequence

import attrs

from x12dental.findings import Finding, Severity
from x12dental.pipeline import ClaimResult, FileResult, PartyName
from x12dental.redact import (
    FileSecrets,
    Key,
    Source,
    disk_sources,
    finding_keys,
    iter_segments,
    open_source,
    redact_file,
    source_for,
)
from x12dental.report import Report

_COLOURS = {Severity.ERROR: "\x1b[31m", Severity.WARNING: "\x1b[33m", Severity.INFO: "\x1b[36m"}
_STATUS_COLOURS = {
    "accepted": "\x1b[32m",
    "accepted_with_errors": "\x1b[33m",
    "rejected": "\x1b[31m",
    "unreadable": "\x1b[31m",
}
_RESET = "\x1b[0m"
_BOLD = "\x1b[1m"
_SEGMENT_WIDTH = 160  # longer segments are cut in the text report (an NTE can be 80+ chars)

VERDICTS = {
    "accepted": "accepted",
    "accepted_with_errors": "accepted with errors (claims with errors will be rejected)",
    "rejected": "REJECTED (the 999 rejects the transaction set: nothing in it reaches the payer)",
    "unreadable": "UNREADABLE",
}

ClaimKey = tuple[str | None, str | None, str | None, str]


def _norm(control: str | None) -> str | None:
    return control.strip() if control is not None else None


def claim_key_of_finding(f: Finding) -> ClaimKey | None:
    if f.claim_id is None:
        return None
    loc = f.location
    return (
        _norm(loc.interchange_control),
        loc.group_control,
        loc.transaction_control,
        f.claim_id,
    )


def claim_key(c: ClaimResult) -> ClaimKey:
    env = c.envelope
    return (
        _norm(env.interchange_control),
        env.group_control,
        env.transaction_control,
        c.claim_id,
    )


@attrs.frozen(slots=True)
class ClaimTally:
    """How the claims of one file fare.

    `rejected_sets`: claims in a transaction set (or group, interchange) the 999
    rejects, so the payer never sees them; `with_errors`: claims with an error of
    their own; `accepted`: neither. A claim can be in both of the first two.
    """

    total: int
    accepted: int
    with_errors: int
    rejected_sets: int
    unchecked: int  # counted by the parser but in a group x12dental does not check


def tally(file: FileResult) -> ClaimTally:
    whole_file = False
    isa: set[str | None] = set()
    gs: set[tuple[str | None, str | None]] = set()
    st: set[tuple[str | None, str | None, str | None]] = set()
    errors: set[ClaimKey] = set()
    for f in file.findings:
        if f.severity is not Severity.ERROR:
            continue
        key = claim_key_of_finding(f)
        if key is not None:
            errors.add(key)
        if f.snip > 2:
            continue
        loc = f.location
        ic = _norm(loc.interchange_control)
        if ic is None:
            whole_file = True
        elif loc.transaction_control is not None:
            st.add((ic, loc.group_control, loc.transaction_control))
        elif loc.group_control is not None:
            gs.add((ic, loc.group_control))
        else:
            isa.add(ic)
    accepted = with_errors = rejected = 0
    for c in file.claim_results:
        k = claim_key(c)
        in_rejected = whole_file or k[0] in isa or k[:2] in gs or k[:3] in st
        has_errors = k in errors
        rejected += in_rejected
        with_errors += has_errors
        accepted += not (in_rejected or has_errors)
    checked = len(file.claim_results)
    return ClaimTally(
        max(file.claims, checked), accepted, with_errors, rejected, max(0, file.claims - checked)
    )


def initials(party: PartyName | None) -> str:
    if party is None:
        return ""
    parts = [p[:1] + "." for p in (party.first, party.last_or_org) if p.strip()]
    return " ".join(parts)


def person_label(party: PartyName | None, redact: bool) -> str:
    """The patient as a biller would say it: 'DOE, JANE', or 'J. D.' in a redacted report."""
    if party is None:
        return ""
    if redact:
        return initials(party)
    return ", ".join(p for p in (party.last_or_org, party.first) if p)


def claim_labels(
    file: FileResult, redact: bool, keys: Container[ClaimKey] | None = None
) -> dict[ClaimKey, str]:
    """'patient DOE, JANE, billing BRIGHT SMILE DENTAL' per claim (from the unredacted file).

    `keys`: only these claims (those with findings), so a huge clean file costs nothing."""
    out: dict[ClaimKey, str] = {}
    for c in file.claim_results:
        if keys is not None and claim_key(c) not in keys:
            continue
        who = person_label(c.patient or c.subscriber, redact)
        parts = []
        if who:
            parts.append(f"patient {who}")
        if c.billing_provider is not None and c.billing_provider.last_or_org:
            parts.append(f"billing {c.billing_provider.last_or_org}")
        out.setdefault(claim_key(c), ", ".join(parts))
    return out


def counts_line(file: FileResult) -> str:
    return (
        f"{file.count(Severity.ERROR)} error(s), {file.count(Severity.WARNING)} warning(s), "
        f"{file.count(Severity.INFO)} info(s)"
    )


def claims_line(t: ClaimTally) -> str:
    parts = [f"{t.accepted} accepted", f"{t.with_errors} with errors"]
    if t.rejected_sets:
        parts.append(f"{t.rejected_sets} in rejected transaction sets")
    if t.unchecked:
        parts.append(f"{t.unchecked} not checked (not 837D 5010)")
    return "claims: " + ", ".join(parts)


def where(f: Finding) -> str:
    loc = f.location
    parts = []
    if loc.file_line is not None:
        parts.append(f"line {loc.file_line}")
    if loc.segment_id:
        seg = loc.segment_id
        if loc.segment_position is not None:
            seg += f" #{loc.segment_position}"
        parts.append(f"segment {seg}")
    if f.element:
        parts.append(f.element)
    if loc.transaction_control:
        parts.append(f"ST {loc.transaction_control}")
    return ", ".join(parts)


def subject(f: Finding) -> str:
    """'line 2 D9911 tooth 8': the service line a finding is about."""
    parts = []
    if f.line is not None:
        parts.append(f"line {f.line}")
    if f.procedure:
        parts.append(f.procedure)
    if f.tooth:
        parts.append(f"tooth {f.tooth}")
    return " ".join(parts)


def segment_texts(
    findings: Sequence[Finding], source: Source | None, known: FileSecrets | None = None
) -> dict[int, str]:
    """The text of the segment each finding is about (index in `findings` -> text).

    One streaming pass; only the texts of segments with findings are kept. With
    `known` (a redacted report) people's values are masked.
    """
    secrets = known.secrets if known is not None else None
    index: dict[Key, list[int]] = {}
    for i, f in enumerate(findings):
        for k in finding_keys(f):
            index.setdefault(k, []).append(i)
    out: dict[int, str] = {}
    if not index:
        return out
    with open_source(source) as stream:
        if stream is None:
            return out
        for seg in iter_segments(stream):
            for k in seg.match_keys():
                for i in index.get(k, ()):
                    if i not in out:
                        out[i] = seg.shown(secrets)
    return out


def _cut(text: str) -> str:
    return text if len(text) <= _SEGMENT_WIDTH else text[: _SEGMENT_WIDTH - 3] + "..."


def _finding_lines(f: Finding, colour: bool, segment: str | None) -> list[str]:
    label = f.severity.value.upper()
    pad = " " * (8 - len(label))
    if colour:
        label = f"{_COLOURS[f.severity]}{label}{_RESET}"
    about = subject(f)
    head = f"    {label}{pad}" + (f"[{about}] " if about else "") + f.message
    indent = " " * 12
    out = [head]
    at = where(f)
    out.append(f"{indent}{f.rule} (SNIP {f.snip})" + (f" at {at}" if at else ""))
    if segment is not None:
        out.append(f"{indent}| {_cut(segment)}")
    if f.hint:
        out.append(f"{indent}fix: {f.hint}")
    return out


def _groups(findings: Iterable[tuple[int, Finding]]) -> list[tuple[ClaimKey | None, list[int]]]:
    groups: dict[ClaimKey | None, list[int]] = {}
    for i, f in findings:
        groups.setdefault(claim_key_of_finding(f), []).append(i)
    # findings outside any claim first: envelope problems explain the rest
    return sorted(groups.items(), key=lambda kv: kv[0] is not None)


def _redaction_source(file: FileResult, source: Source | None) -> Source | None:
    """Where to learn the values to mask: the kept source, else the file on disk."""
    if source is not None or file.status == "unreadable":
        return source
    return disk_sources(Report((file,))).get(file.path)


def render_file(
    file: FileResult,
    colour: bool = False,
    source: Source | None = None,
    *,
    redact: bool = False,
) -> str:
    """One file's verdict, counts and findings by claim.

    With `source` (the bytes or path checked) each finding shows its segment.
    `redact` masks people's identity in messages and segments (see `redact`); it
    reads the file on disk to learn the values to mask when no source is given.
    """
    tally_ = tally(file)
    keys = {k for k in map(claim_key_of_finding, file.findings) if k is not None}
    labels = claim_labels(file, redact, keys)
    known: FileSecrets | None = None
    if redact:
        file, known = redact_file(file, _redaction_source(file, source))
    texts = segment_texts(file.findings, source, known) if source is not None else {}
    status = VERDICTS.get(file.status, file.status)
    title = f"{file.path}: {status}"
    if colour:
        title = _BOLD + _STATUS_COLOURS.get(file.status, "") + title + _RESET
    lines = [
        title,
        f"  {file.interchanges} interchange(s), {file.transactions} transaction set(s), "
        f"{file.claims} claim(s), {file.service_lines} service line(s)",
    ]
    if file.status != "unreadable":
        lines.append(f"  {claims_line(tally_)}")
    lines.append(f"  {counts_line(file)}")
    for key, indexes in _groups(enumerate(file.findings)):
        lines.append("")
        if key is None:
            lines.append("  outside any claim (envelope, provider, subscriber):")
        else:
            label = labels.get(key, "")
            head = f"  claim {key[3]}" + (f" ({label})" if label else "") + ":"
            lines.append(_BOLD + head + _RESET if colour else head)
        # errors first within a claim; a segment shown once for the findings that follow it
        previous: str | None = None
        for i in sorted(indexes, key=lambda i: (-file.findings[i].severity.rank, i)):
            text = texts.get(i)
            lines.extend(
                _finding_lines(file.findings[i], colour, None if text == previous else text)
            )
            previous = text
    return "\n".join(lines) + "\n"


def render_text(
    report: Report,
    colour: bool = False,
    sources: Mapping[str, Source] | None = None,
    *,
    redact: bool = False,
) -> str:
    """The whole run for a terminal.

    `sources` (FileResult.path -> the bytes or Path checked) adds each finding's
    segment text; without it the report needs only the findings.
    """
    parts = [render_file(f, colour, source_for(f, sources), redact=redact) for f in report.files]
    s = report.summary()
    parts.append(
        f"{s['files']} file(s), {s['claims']} claim(s): {s['errors']} error(s), "
        f"{s['warnings']} warning(s), {s['infos']} info(s)\n"
    )
    return "\n".join(parts)
