"""The 999 implementation acknowledgment (005010X231A1): what the submitter gets back first.

A 999 says, per received transaction set, whether it conforms to X12 and to the 837D guide,
and points at each segment and element in error so the practice software can fix it. It
answers one functional group per ST (one AK1 per ST in the X231A1 map), so each received
group gets its own ST/SE inside one FA group, and each received interchange its own 999
interchange (the parties of two interchanges can differ, and each needs its own reply).

Choices the guide leaves open, made here once:

* Only errors are acknowledged. Warnings (a preferred version, text before the ISA, a set
  with no claims) are the report's business, so IK501 is A or R and never E; AK901 is A, P or
  R (E would need a set accepted with errors, which we never write).
* SNIP 1-2 findings always count; rule findings (SNIP 3-7) only with `include_snip_3_7`
  (a rule pack's `snip_3_7_in_999`). A rule finding on an element of its own segment becomes
  IK304 8 with an IK4 whose IK403 is 7 (SNIP 5 code sets; 8 for a date) or I12 (a guide or
  payer rule the value breaks); a rule finding about the segment as a whole becomes IK304 I9
  (the segment is present as it should not be under a situational rule).
* IK303 is the guide's loop id cut to the four characters DE 447 allows (2010AA -> 2010).
* IK404 echoes the bad value only when it is safe: never for names, ids, addresses and birth
  dates of the subscriber, the patient or another subscriber, never when it holds a delimiter
  or a character X12 does not allow, never past 99 characters.
* Groups not checked (not 5010, not 837D) are rejected as a whole: AK905 2, and each of their
  sets IK5*R*I6. A group of 837s with a wrong GS01 is quoted as HC (GS06 and GS08 still name
  it) and rejected with AK905 1. A group or set the 999 cannot quote (a group of
  acknowledgments, a GS06 that is not a number, an ST01 outside AK201's list) is left out
  rather than misquoted: acknowledgments are never acknowledged.
* Group-level errors (GE01, GE02, GE missing, GS elements) reject the group (AK901 R) while
  AK904 still counts the sets that were themselves accepted. Envelope (ISA/IEA) errors are
  the TA1's (`x12dental.ta1`) and change nothing here.
"""

from __future__ import annotations

import functools
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from typing import Any

import attrs
import pyx12.validation

from x12dental import model as m
from x12dental.ack_envelope import ReplyEnvelope, SegmentWriter, century_date, owner
from x12dental.findings import Finding, Severity
from x12dental.mapfolder import DENTAL_MAP_FILE, DENTAL_VERSIONS
from x12dental.pipeline import ClaimResult, FileResult
from x12dental.resources import data_dir

VERSION = "005010X231A1"

_AK101 = frozenset({"BE", "HB", "HC", "HI", "HN", "HP", "HR", "HS", "RA"})
_AK201 = frozenset({"270", "271", "276", "277", "278", "820", "834", "835", "837"})
_IK304 = frozenset({"1", "2", "3", "4", "5", "6", "7", "8", "I4", "I6", "I7", "I8", "I9"})
_IK403 = frozenset(
    {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "12", "13"}
    | {"I6", "I9", "I10", "I11", "I12", "I13"}
)
_IK502 = frozenset(
    {str(n) for n in (*range(1, 14), 15, 16, 17, 18, 19, 23, 24, 25, 26, 27)} | {"I5", "I6"}
)
_AK905 = frozenset({str(n) for n in (*range(1, 7), *range(10, 20), 23, 24, 25, 26)})
# pyx12 sequence checks that it reports on the segment: the element they are about.
_SEQUENCE_ELEMENT = {"HL1": (1, "628"), "HL2": (2, "734"), "LX": (1, "554")}
# Transaction-set errors reported on an ST/SE element: the IK5 code that says it.
_ST_ELEMENT_CODE = {("ST", 1): "6", ("ST", 2): "7", ("ST", 3): "19", ("SE", 1): "4", ("SE", 2): "7"}
# Group errors reported on a GS/GE element: the AK9 code (others reject without a code).
_GS_ELEMENT_CODE = {("GS", 1): "1", ("GS", 6): "6", ("GS", 8): "2", ("GE", 1): "5", ("GE", 2): "6"}
_PHI_LOOPS = frozenset({"2010BA", "2010CA", "2330A"})
_PHI_SEGMENTS = frozenset({"NM1", "DMG", "N3", "N4", "REF", "PER"})
_DATE_ELEMENTS = frozenset({"1251", "373"})
_SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{1,2}$")
_ELEMENT_PLACE = re.compile(r"(\d{2})(?:-(\d{1,2}))?")


# -- what the 999 will say ---------------------------------------------------------------


@attrs.frozen
class _ElementNote:
    position: int
    component: int | None
    repeat: int | None
    data_element: str | None
    code: str
    bad_value: str | None


@attrs.define
class _SegmentNote:
    segment_id: str
    position: int
    loop: str | None
    code: str | None
    claim_id: str | None
    elements: list[_ElementNote] = attrs.field(factory=list)


@attrs.define
class _SetAck:
    tx: m.Transaction
    notes: dict[tuple[int, str, str | None], _SegmentNote] = attrs.field(factory=dict)
    codes: set[str] = attrs.field(factory=set)
    rejected: bool = False

    @property
    def accepted(self) -> bool:
        return not self.rejected


@attrs.define
class _GroupAck:
    group: m.FunctionalGroup
    supported: bool
    sets: list[_SetAck] = attrs.field(factory=list)
    codes: set[str] = attrs.field(factory=set)
    rejected: bool = False
    functional_id: str | None = None


# -- public -----------------------------------------------------------------------------


def write_999(result: FileResult, *, include_snip_3_7: bool = False) -> str | None:
    """The 999 answering every functional group of the input; None when there is none to answer.

    Several input interchanges give several 999 interchanges, one after the other, each
    answering its own interchange's groups with that interchange's parties swapped.
    """
    layout = _Layout.of(result)
    acks = _acknowledge(result, layout, include_snip_3_7)
    texts: list[str] = []
    used: dict[str, int] = {}
    for i_index, inbound in enumerate(result.interchange_list):
        groups = [acks[g] for g in layout.groups_of.get(i_index, []) if _nameable(acks[g])]
        if not groups:
            continue
        # A repeated ISA13 would give two identical 999 control numbers: number the repeats.
        seen = used.get(inbound.control + "|" + inbound.sender, 0)
        used[inbound.control + "|" + inbound.sender] = seen + 1
        envelope = ReplyEnvelope("999" if seen == 0 else f"999/{seen + 1}", inbound)
        texts.append(_interchange(envelope, inbound, groups))
    return "".join(texts) or None


# -- which envelope each thing belongs to ---------------------------------------------------


@attrs.frozen
class _Layout:
    groups_of: dict[int, list[int]]  # interchange index -> group indexes, in file order
    sets_of: dict[int, list[int]]  # group index -> transaction indexes, in file order
    result: FileResult

    @classmethod
    def of(cls, result: FileResult) -> _Layout:
        groups_of: dict[int, list[int]] = {}
        sets_of: dict[int, list[int]] = {}
        layout = cls(groups_of, sets_of, result)
        for g_index, group in enumerate(result.groups):
            i_index = layout.interchange(group.interchange_control, group.where.file_line)
            if i_index is not None:
                groups_of.setdefault(i_index, []).append(g_index)
        for t_index, tx in enumerate(result.transaction_list):
            env = tx.envelope
            owner_group = layout.group(
                env.interchange_control, env.group_control, tx.where.file_line
            )
            if owner_group is not None:
                sets_of.setdefault(owner_group, []).append(t_index)
        return layout

    def interchange(self, control: str | None, line: int | None) -> int | None:
        items = self.result.interchange_list
        return _pick(items, [i for i, x in enumerate(items) if x.control == control], line)

    def group(self, ic: str | None, gc: str | None, line: int | None) -> int | None:
        i_index = self.interchange(ic, line)
        if i_index is None:
            return None
        items = self.result.groups
        candidates = [g for g in self.groups_of.get(i_index, []) if items[g].control == gc]
        return _pick(items, candidates, line)

    def transaction(
        self, ic: str | None, gc: str | None, tc: str | None, line: int | None
    ) -> tuple[int | None, int | None]:
        g_index = self.group(ic, gc, line)
        if g_index is None or tc is None:
            return g_index, None
        items = self.result.transaction_list
        candidates = [t for t in self.sets_of.get(g_index, []) if items[t].control == tc]
        return g_index, _pick(items, candidates, line)


def _pick(items: Sequence[Any], indexes: list[int], line: int | None) -> int | None:
    chosen = owner([items[i] for i in indexes], line)
    return next((i for i in indexes if items[i] is chosen), None)


# -- findings to codes --------------------------------------------------------------------


def _reported(f: Finding, include_snip_3_7: bool) -> bool:
    if f.severity is not Severity.ERROR:
        return False
    if f.ack is not None:
        return f.ack.level != "isa"  # interchange errors are the TA1's
    return f.snip <= 2 or include_snip_3_7


def _first_claims(result: FileResult, include_snip_3_7: bool) -> dict[str, ClaimResult]:
    """The first claim of each CLM01 a reported finding may be placed by (not every claim:
    a file's claim results may be too many to index in memory)."""
    wanted = {
        f.claim_id
        for f in result.findings
        if f.claim_id is not None and f.ack is None and _reported(f, include_snip_3_7)
    }
    claims: dict[str, ClaimResult] = {}
    if wanted:
        for c in result.claim_results:
            if c.claim_id in wanted and c.claim_id not in claims:
                claims[c.claim_id] = c
    return claims


def _acknowledge(
    result: FileResult, layout: _Layout, include_snip_3_7: bool
) -> dict[int, _GroupAck]:
    version_of = {
        g: result.interchange_list[i].version for i, gs in layout.groups_of.items() for g in gs
    }
    acks: dict[int, _GroupAck] = {}
    for g_index, group in enumerate(result.groups):
        supported = version_of.get(g_index) == "00501" and group.version in DENTAL_VERSIONS
        ack = _GroupAck(group, supported)
        for t_index in layout.sets_of.get(g_index, []):
            ack.sets.append(_SetAck(result.transaction_list[t_index]))
        ack.functional_id = _functional_id(group, ack.sets)
        if not supported:
            ack.rejected = True
            ack.codes.add("2")
            for s in ack.sets:
                s.rejected = True
                s.codes.add("I6")
        acks[g_index] = ack
    set_ack = {
        t: acks[g].sets[layout.sets_of[g].index(t)] for g in acks for t in layout.sets_of.get(g, [])
    }
    claims = _first_claims(result, include_snip_3_7)
    for f in result.findings:
        if not _reported(f, include_snip_3_7):
            continue
        loc = f.location
        ic, gc, tc = loc.interchange_control, loc.group_control, loc.transaction_control
        position, segment_id = loc.segment_position, loc.segment_id
        if tc is None and f.ack is None and f.claim_id in claims:
            claim = claims[f.claim_id]
            env = claim.envelope
            ic, gc, tc = env.interchange_control, env.group_control, env.transaction_control
            position, segment_id = claim.where.position, claim.where.segment_id
        elif f.ack is None and position is None and f.claim_id in claims:
            position = claims[f.claim_id].where.position
            segment_id = claims[f.claim_id].where.segment_id
        in_group, in_set = layout.transaction(ic, gc, tc, loc.file_line)
        if in_group is None:
            continue
        if in_set is None or _is_group_level(f):
            _group_error(acks[in_group], f)
        else:
            _set_error(set_ack[in_set], f, segment_id, position)
    return acks


def _is_group_level(f: Finding) -> bool:
    if f.ack is not None and f.ack.level == "gs":
        return True
    return f.location.segment_id in ("GS", "GE") and f.location.transaction_control is None


def _group_error(ack: _GroupAck, f: Finding) -> None:
    ack.rejected = True
    if f.ack is not None and f.ack.level == "gs":
        code = "19" if f.ack.code == "6" else f.ack.code  # pyx12's 6: GS06 used twice
        if code in _AK905:
            ack.codes.add(code)
        return
    seg = f.location.segment_id or ""
    position = f.ack.element_position if f.ack is not None else _split(f.element, seg)[0]
    element_code = _GS_ELEMENT_CODE.get((seg, position or 0))
    if element_code is not None:
        ack.codes.add(element_code)


def _set_error(ack: _SetAck, f: Finding, segment_id: str | None, position: int | None) -> None:
    ack.rejected = True
    a = f.ack
    if a is not None and a.level == "st":
        code = "19" if a.code == "6" and f.element == "ST03" else a.code
        if code in _IK502:
            ack.codes.add(code)
        return
    if a is not None and a.level == "ele" and segment_id in ("ST", "SE"):
        element_code = _ST_ELEMENT_CODE.get((segment_id, _element_place(f)[0] or 0))
        if element_code is not None:
            ack.codes.add(element_code)
        return
    ack.codes.add("5" if f.snip <= 1 and a is not None else "I5")
    if segment_id is None or position is None or not _SEGMENT_ID.match(segment_id):
        return  # the 999 cannot point at it; IK5 still says why the set is rejected
    note_code: str | None
    element: _ElementNote | None
    loop: str | None
    if a is None:
        note_code, element, loop = _rule_note(f, segment_id)
    elif a.level == "seg":
        note_code, element, loop = _segment_note(f), _sequence_element(f), a.loop_id
    else:
        note_code, element, loop = "8", _element_note(f), a.loop_id
    key = (position, segment_id, note_code)
    note = ack.notes.get(key)
    if note is None:
        note = _SegmentNote(segment_id, position, _loop(loop), note_code, f.claim_id)
        ack.notes[key] = note
    if note.claim_id is None:
        note.claim_id = f.claim_id
    if element is not None and element not in note.elements:
        note.elements.append(element)


def _segment_note(f: Finding) -> str | None:
    assert f.ack is not None
    code = f.ack.code
    if (
        code == "1"
        and f.rule == "x12.segment.unexpected"
        and f.location.segment_id in _map_facts().segments
    ):
        return "2"  # an 837D segment, only not here: unexpected rather than unrecognized
    if code == "SEG1" or code in _SEQUENCE_ELEMENT:
        return "8"
    return code if code in _IK304 else None


def _sequence_element(f: Finding) -> _ElementNote | None:
    assert f.ack is not None
    found = _SEQUENCE_ELEMENT.get(f.ack.code)
    if found is None:
        return None
    return _ElementNote(found[0], None, None, found[1], "I12", None)


def _element_note(f: Finding) -> _ElementNote | None:
    a = f.ack
    assert a is not None
    position, component = _element_place(f)
    if position is None:
        return None
    code = a.code
    if code == "10":
        code = "I10" if f.rule == "x12.element.not-used" else "10"
    if code not in _IK403:
        return None
    data_element = a.data_element if a.data_element and a.data_element.isdigit() else None
    return _ElementNote(
        position,
        component,
        a.repeat_position,
        data_element,
        code,
        _echo(a.bad_value, f.location.segment_id, a.loop_id),
    )


def _element_place(f: Finding) -> tuple[int | None, int | None]:
    """IK401-1/-2 of an element finding, read from its name where the segment id is known.

    The name ("SV302", "CLM05-2") is read after the segment id because a digit in the id
    (SV3, N4, DN2) would otherwise be taken for part of the position.
    """
    a = f.ack
    assert a is not None
    position, component = _split(f.element, f.location.segment_id or "")
    if position is not None:
        return position, component
    if a.element_position is not None and 0 < a.element_position < 100:
        return a.element_position, a.component_position
    return None, None


def _rule_note(f: Finding, segment_id: str) -> tuple[str, _ElementNote | None, str | None]:
    """A SNIP 3-7 finding: IK304 8 with an IK4 when it names an element of this segment."""
    facts = _map_facts()
    loop = _rule_loop(facts.loops.get(segment_id, frozenset()), f.line is not None)
    position, component = _split(f.element, segment_id)
    if position is None:
        return "I9", None, loop
    data_element = facts.elements.get((segment_id, position, component))
    code = ("8" if data_element in _DATE_ELEMENTS else "7") if f.snip == 5 else "I12"
    return "8", _ElementNote(position, component, None, data_element, code, None), loop


def _rule_loop(loops: frozenset[str], on_line: bool) -> str | None:
    if on_line and "2400" in loops:
        return "2400"
    if not on_line and "2300" in loops:
        return "2300"
    return next(iter(loops)) if len(loops) == 1 else None


def _split(name: str | None, segment_id: str) -> tuple[int | None, int | None]:
    """Element and component position of "SV302" or "CLM05-2" in segment `segment_id`.

    Read after the segment id, because a digit in the id (SV3, N4, DN2) would otherwise be
    taken for part of the position; a name of another segment gives (None, None).
    """
    if not name or not segment_id or not name.startswith(segment_id):
        return None, None
    found = _ELEMENT_PLACE.fullmatch(name[len(segment_id) :])
    if found is None:
        return None, None
    return int(found.group(1)), int(found.group(2)) if found.group(2) else None


def _loop(loop_id: str | None) -> str | None:
    """DE 447 is AN 1/4: the guide's lettered loops keep their number (2010AA -> 2010)."""
    if not loop_id:
        return None
    return loop_id[:4]


# -- values that may be echoed ----------------------------------------------------------------


def _text_ok(value: str, w: SegmentWriter | None = None, longest: int = 99) -> bool:
    if not value or len(value) > longest:
        return False
    if pyx12.validation.not_match_re("AN", value, "E", "00501"):
        return False
    delimiters = (w.element, w.component, w.repetition, w.terminator) if w else ()
    return not any(d in value for d in delimiters)


def _echo(value: str | None, segment_id: str | None, loop_id: str | None) -> str | None:
    """IK404 candidate, or None when it may identify a person (or cannot be echoed at all)."""
    if not value:
        return None
    if segment_id in _PHI_SEGMENTS and (loop_id is None or loop_id in _PHI_LOOPS):
        return None
    if segment_id == "DMG":
        return None
    return value


# -- the dental map: loops and data element numbers for rule findings ------------------------------


@attrs.frozen
class _MapFacts:
    segments: frozenset[str]
    loops: dict[str, frozenset[str]]
    elements: dict[tuple[str, int, int | None], str]


@functools.cache
def _map_facts() -> _MapFacts:
    """Which loops each segment id appears in, and each element's data element number."""
    root = ET.parse(data_dir("maps") / DENTAL_MAP_FILE).getroot()
    segments: set[str] = set()
    loops: dict[str, set[str]] = {}
    elements: dict[tuple[str, int, int | None], str] = {}

    def element(seg: str, node: ET.Element) -> None:
        position, component = _split(node.get("xid"), seg)
        number = (node.findtext("data_ele") or "").strip()
        if position is not None and number.isdigit():
            elements.setdefault((seg, position, component), number)

    def walk(node: ET.Element, loop: str | None) -> None:
        for child in node:
            if child.tag == "loop":
                xid = child.get("xid") or ""
                wrapper = child.get("type") == "wrapper" or xid.endswith("_LOOP")
                walk(child, loop if wrapper else xid)
            elif child.tag == "segment":
                seg = child.get("xid") or ""
                segments.add(seg)
                if loop:
                    loops.setdefault(seg, set()).add(loop)
                for part in child:
                    if part.tag == "element":
                        element(seg, part)
                    elif part.tag == "composite":
                        for sub in part:
                            if sub.tag == "element":
                                element(seg, sub)

    walk(root, None)
    return _MapFacts(frozenset(segments), {k: frozenset(v) for k, v in loops.items()}, elements)


# -- writing ------------------------------------------------------------------------------


def _functional_id(group: m.FunctionalGroup, sets: list[_SetAck]) -> str | None:
    """AK101: GS01 when X231A1 allows it; HC for a group of 837s sent with a wrong GS01.

    A wrong GS01 is itself an error to report (AK905 1), and the group is still named
    exactly by GS06 and GS08; anything else (an FA group of acknowledgments) is not
    acknowledged: acknowledgments are never acknowledged.
    """
    if group.functional_id in _AK101:
        return group.functional_id
    if any(s.tx.set_id == "837" for s in sets):
        return "HC"
    return None


def _nameable(ack: _GroupAck) -> bool:
    """Can AK1 quote this group as X231A1 allows? If not, it is left out of the 999."""
    group = ack.group
    return (
        ack.functional_id is not None
        and group.control.isdigit()
        and len(group.control) <= 9
        and _text_ok(group.version, longest=12)
    )


def _interchange(envelope: ReplyEnvelope, inbound: m.Interchange, groups: list[_GroupAck]) -> str:
    w = SegmentWriter.like(inbound)
    envelope.isa(w)
    first = groups[0].group
    control = envelope.group_control(first.control)
    date = century_date(inbound.date)
    if not (len(date) == 8 and pyx12.validation.is_valid_date("D8", date)):
        date = "20000101"
    time = inbound.time
    if not (len(time) == 4 and time.isdigit() and pyx12.validation.is_valid_time(time)):
        time = "0000"
    w.seg(
        "GS",
        "FA",
        _party(first.receiver, inbound.receiver),
        _party(first.sender, inbound.sender),
        date,
        time,
        control,
        "X",
        VERSION,
    )
    for number, ack in enumerate(groups, start=1):
        _transaction(w, str(number).zfill(4), ack)
    w.seg("GE", str(len(groups)), control)
    envelope.iea(w, 1)
    return w.text()


def _party(code: str, fallback: str) -> str:
    """GS02/GS03 (AN 2/15): the received group's codes swapped, or the ISA ids if unusable."""
    for value in (code.strip(), fallback.strip()):
        if 2 <= len(value) <= 15 and _text_ok(value):
            return value
    return "UNKNOWN"


def _transaction(w: SegmentWriter, control: str, ack: _GroupAck) -> None:
    start = w.mark()
    w.seg("ST", "999", control, VERSION)
    g = ack.group
    w.seg("AK1", ack.functional_id or "HC", g.control, g.version)
    for s in ack.sets:
        _set(w, s)
    received = len(ack.sets)
    included = g.trailer_count if g.trailer_count and g.trailer_count.isdigit() else None
    accepted = sum(1 for s in ack.sets if s.accepted)
    if ack.rejected or ack.codes:
        code = "R"
    elif received and accepted == received:
        code = "A"
    elif accepted:
        code = "P"
    else:
        code = "R"
    w.seg(
        "AK9",
        code,
        str(int(included)) if included is not None and len(included) <= 6 else str(received),
        str(received),
        str(accepted),
        *_ordered(ack.codes)[:5],
    )
    w.seg("SE", str(w.count_since(start)), control)


def _set(w: SegmentWriter, s: _SetAck) -> None:
    tx = s.tx
    if tx.set_id not in _AK201 or not (4 <= len(tx.control) <= 9 and _text_ok(tx.control, w)):
        return  # counted in AK903 and not in AK904, but AK2 could not quote it
    version = tx.version if _text_ok(tx.version, w, 35) else ""
    w.seg("AK2", tx.set_id, tx.control, version)
    for note in sorted(s.notes.values(), key=lambda n: n.position):
        w.seg("IK3", note.segment_id, str(note.position), note.loop or "", note.code or "")
        if note.claim_id and _text_ok(note.claim_id, w, 35):
            w.seg("CTX", w.composite("CLM01", note.claim_id))
        for e in note.elements:
            value = e.bad_value if e.bad_value and _text_ok(e.bad_value, w) else ""
            w.seg(
                "IK4",
                w.composite(
                    str(e.position),
                    str(e.component) if e.component else "",
                    str(e.repeat) if e.repeat else "",
                ),
                e.data_element or "",
                e.code,
                value,
            )
    if s.rejected:
        w.seg("IK5", "R", *_ordered(s.codes)[:5])
    else:
        w.seg("IK5", "A")


def _ordered(codes: Iterable[str]) -> list[str]:
    """X12 codes in a stable order: numbers first, then the I-codes."""
    return sorted(codes, key=lambda c: (c.startswith("I"), int(c.lstrip("I") or 0), c))
