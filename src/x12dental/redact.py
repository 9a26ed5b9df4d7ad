"""`--redact`: keep patients' and subscribers' identity out of reports that get shared.

A report travels further than the claim file (attached to a ticket, mailed to a
vendor), so with `--redact` no report (text, HTML, JSON) may show who the patient
is. Acknowledgments are never redacted: the payer's systems need the real values.

What is masked, and why:

* the person loops: 2010BA (subscriber), 2010CA (patient) and 2330A (other
  subscriber), i.e. an `NM1*IL` or `NM1*QC` and the N3, N4, DMG, REF and PER that
  follow it in its loop. Names NM103/NM104/NM105/NM107 and the member id NM109;
  street lines N301/N302, city N401 and ZIP N403 (HIPAA Safe Harbor treats any
  geography below the state as identifying; the state N402 stays); the birth date
  DMG02 (the sex DMG03 stays: it is not an identifier and some rules are about
  it); every REF02/REF03 there (SY social security number, 1W member id, Y4 claim
  number: all identify the person); PER02/04/06/08 (contact name and numbers).
* DMG02 and REF*SY/REF*1W wherever they stand, PAT06 (the patient's date of death).
* free text (NTE) and finding messages: every occurrence of a name, member id,
  street line or birth date collected from the person loops above (birth dates
  also as 1980-01-15 and 01/15/1980), matched as whole words, case-insensitively.
* a finding about one of those segments may quote the bad value it found
  (`found 'W93420069'`): its quoted values and its `bad_value` are masked whatever
  they contain.

Kept on purpose: claim ids (CLM01), service dates, providers, payers, procedure
codes and teeth. The biller needs them to find and fix the claim, and a claim id
means nothing outside the practice's own system. Headings name the patient by
initials only. File names are shown as given.

Memory: one pass collects the values to mask; it keeps one entry per distinct
value (a few per person), so it grows with the number of people in a file, not
with its size (about 8 MB for 20,000 claims).

The mask is a fixed `▒▒▒`, never one character per character masked, so its
length says nothing about the value.

The module also re-reads an input segment by segment (`iter_segments`) with the
envelope position and the person-loop context of each segment: the HTML and text
reports use the same walk to put findings beside their segments.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import attrs

from x12dental.findings import AckCode, Finding
from x12dental.pipeline import ClaimResult, FileResult, PartyName
from x12dental.report import Report
from x12dental.spool import Spool
from x12dental.tokenizer import Delimiters, Token, Tokenizer, UnreadableInput

MASK = "▒▒▒"

Source = bytes | Path
Sources = Mapping[str, Source]

# Segments that can follow NM1*IL / NM1*QC inside its loop (2010BA, 2010CA, 2330A),
# and the elements of each that identify the person.
_PERSON_LOOP: dict[str, tuple[int, ...]] = {
    "N3": (1, 2),
    "N4": (1, 3),
    "DMG": (2,),
    "REF": (2, 3),
    "PER": (2, 4, 6, 8),
}
_PERSON_NM1 = (3, 4, 5, 7, 9)
_PERSON_QUALIFIERS = ("IL", "QC")
_ENVELOPE_IDS = ("ISA", "GS", "GE", "IEA")
_FREE_TEXT = {"NTE": (2,)}

Key = tuple[object, ...]


# -- re-reading a file -------------------------------------------------------------------


@attrs.frozen(slots=True)
class Segment:
    """One segment as re-read, with what a report needs to place findings on it and mask it.

    `phi` lists the element positions (1-based) that identify a person.
    """

    seg_id: str
    text: str
    index: int
    line: int | None
    position: int | None
    interchange_control: str | None
    group_control: str | None
    transaction_control: str | None
    delimiters: Delimiters
    phi: tuple[int, ...] = ()

    def elements(self) -> list[str]:
        return self.text.split(self.delimiters.element)[1:]

    def element(self, n: int) -> str:
        els = self.elements()
        return els[n - 1] if 0 < n <= len(els) else ""

    def match_keys(self) -> list[Key]:
        """How findings can point at this segment (see `finding_keys`)."""
        keys: list[Key] = []
        if self.position is not None:
            keys.append(
                (
                    "tx",
                    self.interchange_control,
                    self.group_control,
                    self.transaction_control,
                    self.position,
                )
            )
        if self.line is not None:
            keys.append(("line", self.line, self.seg_id))
        if self.seg_id in _ENVELOPE_IDS:
            group = self.group_control if self.seg_id in ("GS", "GE") else None
            keys.append(("env", self.seg_id, self.interchange_control, group))
        return keys

    def shown(self, secrets: Secrets | None = None) -> str:
        """The segment text for a report: as read, or with identifying elements masked."""
        if secrets is None:
            return self.text
        free = _FREE_TEXT.get(self.seg_id, ())
        if not self.phi and not free:
            return self.text
        sep = self.delimiters.element
        parts = self.text.split(sep)
        for n in self.phi:
            if n < len(parts) and parts[n]:
                parts[n] = MASK
        for n in free:
            if n < len(parts):
                parts[n] = secrets.mask(parts[n])
        return sep.join(parts)


def finding_keys(f: Finding) -> list[Key]:
    """The keys under which `Segment.match_keys` can match a finding, most precise first.

    The position in the transaction set (IK302) is exact, and also places a missing
    segment where it was expected; a file line only counts when the segment id agrees
    (a missing trailer is reported at the last line read, which is some other
    segment); envelope segments of a file without line breaks match by control number.
    """
    loc = f.location
    keys: list[Key] = []
    if loc.transaction_control is not None and loc.segment_position is not None:
        keys.append(
            (
                "tx",
                _norm(loc.interchange_control),
                loc.group_control,
                loc.transaction_control,
                loc.segment_position,
            )
        )
    if loc.file_line is not None and loc.segment_id:
        keys.append(("line", loc.file_line, loc.segment_id))
    if loc.segment_id in _ENVELOPE_IDS and loc.file_line is None:
        group = loc.group_control if loc.segment_id in ("GS", "GE") else None
        keys.append(("env", loc.segment_id, _norm(loc.interchange_control), group))
    return keys


def _norm(control: str | None) -> str | None:
    return control.strip() if control is not None else None


class _Context:
    """Envelope position and person-loop state while walking the segments."""

    def __init__(self) -> None:
        self.isa: str | None = None
        self.gs: str | None = None
        self.st: str | None = None
        self.position: int | None = None
        self.person = False

    def phi(self, tok: Token, els: list[str]) -> tuple[int, ...]:
        seg = tok.seg_id
        if seg == "NM1":
            self.person = bool(els) and els[0] in _PERSON_QUALIFIERS
            return _PERSON_NM1 if self.person else ()
        if self.person and seg in _PERSON_LOOP:
            return _PERSON_LOOP[seg]
        self.person = False
        if seg == "DMG":
            return (2,)
        if seg == "REF" and els and els[0] in ("SY", "1W"):
            return (2,)
        if seg == "PAT":
            return (6,)
        return ()

    def advance(self, tok: Token) -> Segment:
        els = tok.elements()
        seg = tok.seg_id
        if seg == "ISA":
            self.isa = els[12].strip() if len(els) > 12 else None
            self.gs = self.st = None
            self.position = None
        elif seg == "GS":
            self.gs = els[5] if len(els) > 5 else None
            self.st = None
            self.position = None
        elif seg == "ST":
            self.st = els[1] if len(els) > 1 else None
            self.position = 1
        elif self.position is not None:
            self.position += 1
        phi = self.phi(tok, els)
        out = Segment(
            seg,
            tok.text,
            tok.index,
            tok.line,
            self.position,
            self.isa,
            self.gs,
            self.st,
            tok.delimiters,
            phi,
        )
        if seg == "SE":
            self.st = None
            self.position = None
        return out


def iter_segments(stream: BinaryIO) -> Iterator[Segment]:
    """Re-read an input segment by segment (memory stays flat); stops quietly where the
    tokenizer gives up, since the findings already say why."""
    ctx = _Context()
    try:
        for tok in Tokenizer(stream, lambda _f: None):
            yield ctx.advance(tok)
    except UnreadableInput:
        return


@contextmanager
def open_source(source: Source | None) -> Iterator[BinaryIO | None]:
    """A binary stream over a kept source, or None when there is none or it cannot be read."""
    if source is None:
        yield None
        return
    if isinstance(source, bytes):
        yield io.BytesIO(source)
        return
    try:
        fh = source.open("rb")
    except OSError:
        yield None
        return
    with fh:
        yield fh


def disk_sources(report: Report) -> dict[str, Source]:
    """Sources for files whose reported path is a readable file on disk (not stdin, not bytes)."""
    out: dict[str, Source] = {}
    for file in report.files:
        path = Path(file.path)
        if file.status != "unreadable" and path.is_file():
            out[file.path] = path
    return out


def source_for(file: FileResult, sources: Sources | None) -> Source | None:
    if file.status == "unreadable" or sources is None:
        return None
    return sources.get(file.path)


# -- secrets -------------------------------------------------------------------------------

_WORD = re.compile(r"[A-Za-z0-9]+")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_DATE_FORMS = re.compile(
    r"\b(?:(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})|(?P<m2>\d{2})/(?P<d2>\d{2})/(?P<y2>\d{4}))\b"
)


class Secrets:
    """The identifying values of one file, masked wherever they occur as whole words.

    A value of one word (a name, a member id, a birth date) is kept in a set; a value
    of several words (`1 ELM ST`, `VAN DER BERG`) is kept by its first word and only
    masks where all its words follow each other, so `1 ELM ST` does not mask every
    `1`. Masking a text costs one look-up per word however many people the file
    has, and memory grows with the number of distinct people, not with the file.
    Single words shorter than two characters are not collected (a middle initial
    would mask every `A`). Birth dates also match when a message writes them as
    1980-01-15 or 01/15/1980.
    """

    def __init__(self) -> None:
        self._words: set[str] = set()
        self._multi: dict[str, set[str]] = {}

    def __len__(self) -> int:
        return len(self._words) + sum(len(v) for v in self._multi.values())

    def add(self, value: str) -> None:
        words = [w.upper() for w in _WORD.findall(value)]
        if len(words) == 1:
            if len(words[0]) >= 2:
                self._words.add(words[0])
        elif words:
            self._multi.setdefault(words[0], set()).add(" ".join(words))

    def add_party(self, party: PartyName | None) -> None:
        if party is not None:
            self.add(party.last_or_org)
            self.add(party.first)
            self.add(party.id)

    def add_segment(self, seg: Segment) -> None:
        """Collect what a person-loop segment (one with `phi`) says about the person."""
        if not seg.phi or seg.seg_id == "N4":
            return  # city and ZIP: masked in their segment, too common to hunt in text
        for n in seg.phi:
            self.add(seg.element(n))

    def _date(self, m: re.Match[str]) -> str:
        y, mo, d = (
            m.group("y") or m.group("y2"),
            m.group("m") or m.group("m2"),
            m.group("d") or m.group("d2"),
        )
        return MASK if f"{y}{mo}{d}" in self._words else m.group()

    def mask(self, text: str) -> str:
        if not text or not (self._words or self._multi):
            return text
        text = _DATE_FORMS.sub(self._date, text)
        words = list(_WORD.finditer(text))
        upper = [w.group().upper() for w in words]
        out: list[str] = []
        last = 0
        i = 0
        while i < len(words):
            hit = 1 if upper[i] in self._words else 0
            for seq in sorted(self._multi.get(upper[i], ()), key=len, reverse=True):
                n = seq.count(" ") + 1
                if " ".join(upper[i : i + n]) == seq:
                    hit = max(hit, n)
                    break
            if hit:
                out.append(text[last : words[i].start()])
                out.append(MASK)
                last = words[i + hit - 1].end()
                i += hit
            else:
                i += 1
        out.append(text[last:])
        return "".join(out)


@attrs.frozen(slots=True)
class FileSecrets:
    """What one pass over a file learns for redaction."""

    secrets: Secrets
    phi_keys: frozenset[Key]  # keys of the segments that identify a person


def collect(file: FileResult, source: Source | None) -> FileSecrets:
    """Names, ids, streets and birth dates of the file's people, and where their segments are.

    Without a source only the claim results' names and member ids are known, and a
    finding counts as being about a person segment when its segment could be one.
    """
    secrets = Secrets()
    for claim in file.claim_results:
        secrets.add_party(claim.subscriber)
        secrets.add_party(claim.patient)
    wanted = {k for f in file.findings for k in finding_keys(f)}
    phi_keys: set[Key] = set()
    with open_source(source) as stream:
        if stream is not None:
            for seg in iter_segments(stream):
                if seg.phi:
                    secrets.add_segment(seg)
                    phi_keys.update(k for k in seg.match_keys() if k in wanted)
    return FileSecrets(secrets, frozenset(phi_keys))


# -- findings and reports ------------------------------------------------------------------

_MAYBE_PERSON = ("NM1", "N3", "N4", "DMG", "REF", "PER", "PAT")


def _about_person(f: Finding, known: FileSecrets, have_source: bool) -> bool:
    if have_source:
        return any(k in known.phi_keys for k in finding_keys(f))
    return f.location.segment_id in _MAYBE_PERSON


def redact_finding(f: Finding, known: FileSecrets, have_source: bool = True) -> Finding:
    """The finding with identifying values masked in its message, hint and ack value."""
    person = _about_person(f, known, have_source)
    bad = f.ack.bad_value if f.ack is not None else None

    def clean(text: str) -> str:
        if person and bad:
            text = text.replace(bad, MASK)
        text = known.secrets.mask(text)
        if person:
            text = _QUOTED.sub(lambda m: m.group()[0] + MASK + m.group()[0], text)
        return text

    ack: AckCode | None = f.ack
    if ack is not None and ack.bad_value:
        masked = MASK if person else known.secrets.mask(ack.bad_value)
        if masked != ack.bad_value:
            ack = attrs.evolve(ack, bad_value=masked)
    return attrs.evolve(f, message=clean(f.message), hint=clean(f.hint), ack=ack)


def _mask_party(party: PartyName | None) -> PartyName | None:
    if party is None:
        return None
    return PartyName(
        MASK if party.last_or_org else "",
        MASK if party.first else "",
        party.id_qualifier,
        MASK if party.id else "",
    )


def _redact_claim(claim: ClaimResult) -> ClaimResult:
    return attrs.evolve(
        claim, subscriber=_mask_party(claim.subscriber), patient=_mask_party(claim.patient)
    )


def redact_file(file: FileResult, source: Source | None) -> tuple[FileResult, FileSecrets]:
    known = collect(file, source)
    have = source is not None
    redacted = attrs.evolve(
        file,
        findings=Spool(redact_finding(f, known, have) for f in file.findings),
        claim_results=Spool(_redact_claim(c) for c in file.claim_results),
    )
    return redacted, known


def redact_report(report: Report, sources: Sources | None = None) -> Report:
    """A copy of the report safe to share: messages, hints, ack values and claim parties masked.

    `sources` maps each FileResult.path to the bytes or file checked (keep the bytes
    of standard input); None reads the paths that are files on disk. Write the
    acknowledgments from the original report, never from this one. Counts, rule
    ids and locations are unchanged, so `to_json()` of the copy is the redacted JSON.
    """
    if sources is None:
        sources = disk_sources(report)
    return Report(tuple(redact_file(f, source_for(f, sources))[0] for f in report.files))
