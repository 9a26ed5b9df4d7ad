"""The TA1 interchange acknowledgment: could the envelope itself be read?

A TA1 answers an ISA/IEA envelope, not its contents, so it is due only when the envelope is
broken or when the sender asked for one (ISA14 = 1). Sent on its own it travels in an
interchange that holds nothing else: ISA, TA1, IEA with IEA01 = 0 (no functional groups).
One TA1 interchange per received interchange that needs one, one after the other.

A TA1 carries one note code, so the first envelope error of the interchange (in file order)
is the one named; any envelope error rejects the interchange (TA104 R): we never accept an
envelope "with errors", since a broken count, control number or length is exactly what a
receiver's translator would refuse.
"""

from __future__ import annotations

import pyx12.validation

from x12dental import model as m
from x12dental.ack_envelope import ReplyEnvelope, SegmentWriter, owner
from x12dental.findings import Finding, Severity
from x12dental.pipeline import FileResult

_NOTE_CODES = frozenset(f"{n:03d}" for n in range(32))
# An element error in ISA or IEA, by element position: the TA1 note code that names it.
_ISA_ELEMENT = {
    1: "010",
    2: "011",
    3: "012",
    4: "013",
    5: "005",
    6: "006",
    7: "007",
    8: "008",
    9: "014",
    10: "015",
    11: "016",
    12: "017",
    13: "018",
    14: "019",
    15: "020",
    16: "027",
}
_IEA_ELEMENT = {1: "021", 2: "018"}


def write_ta1(result: FileResult) -> str | None:
    """TA1 interchanges for the envelopes that need one; None when none is due."""
    interchanges = result.interchange_list
    notes: dict[int, str] = {}
    for f in result.findings:
        code = _note_code(f)
        if code is None:
            continue
        index = _interchange_index(interchanges, f)
        if index is not None and index not in notes:
            notes[index] = code
    texts: list[str] = []
    for index, inbound in enumerate(interchanges):
        code = notes.get(index)
        if code is None and inbound.ack_requested != "1":
            continue
        repeat = sum(1 for earlier in interchanges[:index] if _same(earlier, inbound))
        envelope = ReplyEnvelope("TA1" if repeat == 0 else f"TA1/{repeat + 1}", inbound)
        texts.append(_interchange(envelope, inbound, code))
    return "".join(texts) or None


def _same(a: m.Interchange, b: m.Interchange) -> bool:
    return a.control == b.control and a.sender == b.sender


def _note_code(f: Finding) -> str | None:
    """The TA105 code an error stands for, or None when it is not an envelope error."""
    a = f.ack
    if f.severity is not Severity.ERROR or a is None:
        return None
    if a.level == "isa":
        return a.code if a.code in _NOTE_CODES else "024"
    segment = f.location.segment_id
    if segment not in ("ISA", "IEA"):
        return None
    if a.level == "ele" and a.element_position is not None:
        table = _ISA_ELEMENT if segment == "ISA" else _IEA_ELEMENT
        return table.get(a.element_position, "024")
    return "024"


def _interchange_index(interchanges: tuple[m.Interchange, ...], f: Finding) -> int | None:
    """The interchange a finding is about; an ISA error found before ISA13 was read has none."""
    loc = f.location
    if loc.interchange_control is not None:
        indexes = [i for i, x in enumerate(interchanges) if x.control == loc.interchange_control]
    else:
        indexes = [
            i
            for i, x in enumerate(interchanges)
            if loc.file_line is not None and x.where.file_line == loc.file_line
        ] or list(range(len(interchanges)))[:1]
    chosen = owner([interchanges[i] for i in indexes], loc.file_line)
    return next((i for i in indexes if interchanges[i] is chosen), None)


def _interchange(envelope: ReplyEnvelope, inbound: m.Interchange, code: str | None) -> str:
    w = SegmentWriter.like(inbound)
    envelope.isa(w)
    w.seg(
        "TA1",
        _control(inbound.control),
        inbound.date if pyx12.validation.is_valid_date("D6", inbound.date) else "000101",
        inbound.time if _is_time(inbound.time) else "0000",
        "A" if code is None else "R",
        code or "000",
    )
    envelope.iea(w, 0)
    return w.text()


def _is_time(value: str) -> bool:
    return len(value) == 4 and value.isdigit() and pyx12.validation.is_valid_time(value)


def _control(control: str) -> str:
    """TA101 is N0 9/9: the received ISA13 as sent, when it is a control number at all."""
    value = control.strip()
    return value.zfill(9) if value.isdigit() and len(value) <= 9 else "000000000"
