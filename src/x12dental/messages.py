"""Words for structural errors: pyx12 error codes become rule ids and sentences a biller reads.

pyx12's own texts are written for X12 developers ("Mandatory data element ...
(CLM05-02) is missing"). A finding says the same thing as "CLM05-2 must be B
(claim form code); found X", names the loop, and says how to fix it.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

_SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{1,2}$")


@attrs.frozen(slots=True)
class Described:
    rule: str
    snip: int
    message: str
    hint: str
    element: str | None
    element_position: int | None
    component_position: int | None
    ack_code: str


@attrs.frozen(slots=True)
class CodeText:
    """One pyx12 error code: its rule id, SNIP type, message pattern and fix."""

    rule: str
    snip: int
    text: str
    hint: str


# Envelope (TA1 note codes), group (AK9) and transaction (IK5) errors.
_ENVELOPE: dict[tuple[str, str], CodeText] = {
    ("isa", "001"): CodeText(
        "x12.envelope.control-mismatch",
        1,
        "IEA02 does not match the interchange control number in ISA13",
        "Make IEA02 equal to ISA13.",
    ),
    ("isa", "021"): CodeText(
        "x12.envelope.group-count",
        1,
        "IEA01 does not match the number of functional groups (GS) in the interchange",
        "Set IEA01 to the number of GS/GE groups.",
    ),
    ("isa", "023"): CodeText(
        "x12.envelope.trailer-missing",
        1,
        "the interchange trailer IEA is missing: the file ends early",
        "Resend the complete file; it ends before IEA.",
    ),
    ("isa", "024"): CodeText(
        "x12.envelope.invalid",
        1,
        "the interchange envelope is invalid",
        "Correct the ISA/IEA envelope.",
    ),
    ("isa", "025"): CodeText(
        "x12.envelope.duplicate-control",
        1,
        "interchange control number ISA13 is used twice in this file",
        "Give every interchange its own ISA13.",
    ),
    ("gs", "3"): CodeText(
        "x12.group.trailer-missing",
        1,
        "the functional group trailer GE is missing",
        "End every GS group with a GE.",
    ),
    ("gs", "4"): CodeText(
        "x12.group.control-mismatch",
        1,
        "GE02 does not match the group control number in GS06",
        "Make GE02 equal to GS06.",
    ),
    ("gs", "5"): CodeText(
        "x12.group.transaction-count",
        1,
        "GE01 does not match the number of transaction sets (ST) in the group",
        "Set GE01 to the number of ST/SE sets in the group.",
    ),
    ("gs", "6"): CodeText(
        "x12.group.duplicate-control",
        1,
        "group control number GS06 is used twice in this interchange",
        "Give every group its own GS06.",
    ),
    ("st", "2"): CodeText(
        "x12.transaction.trailer-missing",
        1,
        "the transaction set trailer SE is missing",
        "End every ST transaction set with an SE.",
    ),
    ("st", "3"): CodeText(
        "x12.transaction.control-mismatch",
        1,
        "SE02 does not match the transaction set control number in ST02",
        "Make SE02 equal to ST02.",
    ),
    ("st", "4"): CodeText(
        "x12.transaction.segment-count",
        1,
        "SE01 does not match the number of segments from ST to SE",
        "Set SE01 to the count of segments from ST through SE, both included.",
    ),
    ("st", "23"): CodeText(
        "x12.transaction.duplicate-control",
        1,
        "transaction set control number ST02 is used twice in this group",
        "Give every transaction set its own ST02.",
    ),
}

_SEGMENT: dict[str, CodeText] = {
    "1": CodeText(
        "x12.segment.unrecognized",
        1,
        "{seg} is not a recognised segment",
        "Check the segment id and the delimiters: a wrong element separator makes a whole "
        "segment unreadable.",
    ),
    "2": CodeText(
        "x12.segment.unexpected",
        2,
        "{seg} is not allowed here{where}",
        "Remove the segment or move it to the loop the 837D guide puts it in.",
    ),
    "3": CodeText(
        "x12.segment.missing",
        2,
        "required segment {seg}{name} is missing{where}",
        "Add the segment; the 837D guide requires it.",
    ),
    "4": CodeText(
        "x12.loop.too-many",
        2,
        "loop {loop} repeats more often than the 837D guide allows (at {seg})",
        "Split the claim or file so the loop stays within its limit (e.g. 50 service lines).",
    ),
    "5": CodeText(
        "x12.segment.too-many",
        2,
        "{seg}{name} repeats more often than the 837D guide allows{where}",
        "Send the segment no more times than allowed.",
    ),
    "6": CodeText(
        "x12.segment.not-in-set",
        2,
        "{seg} is not part of an 837 transaction set",
        "Remove the segment.",
    ),
    "7": CodeText(
        "x12.segment.out-of-order",
        2,
        "{seg}{name} is out of order{where}",
        "Put the segment in the order the 837D guide gives.",
    ),
    "8": CodeText(
        "x12.segment.syntax",
        1,
        "{seg}{name} breaks an X12 syntax rule",
        "Send the elements the rule pairs together (e.g. NM108 with NM109), or none of them; "
        "send no more elements than the segment has.",
    ),
    "HL1": CodeText(
        "x12.hl.sequence",
        2,
        "HL01 is out of sequence: HL ids must count 1, 2, 3... within the transaction set",
        "Number the HL segments consecutively from 1.",
    ),
    "HL2": CodeText(
        "x12.hl.parent",
        2,
        "HL02 points to a parent HL that does not exist",
        "Make HL02 the HL01 of the parent level (billing provider or subscriber).",
    ),
    "LX": CodeText(
        "x12.lx.sequence",
        2,
        "LX01 service line numbers must start at 1 and count up by 1 within each claim",
        "Renumber the claim's service lines 1, 2, 3...",
    ),
    "SEG1": CodeText(
        "x12.segment.trailing-separators",
        1,
        "{seg} ends with empty elements (trailing element separators)",
        "Drop trailing element separators before the segment terminator.",
    ),
}

_ELEMENT: dict[str, CodeText] = {
    "1": CodeText("x12.element.missing", 2, "{ref}{name} is required but missing", "Fill it in."),
    "2": CodeText(
        "x12.element.conditional-missing",
        1,
        "{ref}{name} is required because a related element is present",
        "Fill it in, or remove the element it depends on.",
    ),
    "3": CodeText(
        "x12.element.too-many",
        1,
        "{seg} has more elements than the standard defines",
        "Remove the extra elements.",
    ),
    "4": CodeText(
        "x12.element.too-short",
        1,
        "{ref}{name} is too short{len}; found {value}",
        "Send the full value.",
    ),
    "5": CodeText(
        "x12.element.too-long",
        1,
        "{ref}{name} is too long{len}; found {value}",
        "Shorten the value to the maximum length.",
    ),
    "6": CodeText(
        "x12.element.invalid-character",
        1,
        "{ref}{name} has characters that are not allowed or the wrong data type; found {value}",
        "Use only the characters X12 allows (numbers in numeric fields, no delimiters in text).",
    ),
    "7": CodeText(
        "x12.element.invalid-code",
        2,
        "{ref}{name} {codes}; found {value}",
        "Use one of the codes the 837D guide allows here.",
    ),
    "8": CodeText(
        "x12.element.invalid-date",
        1,
        "{ref}{name} is not a valid date (CCYYMMDD); found {value}",
        "Send a real calendar date as CCYYMMDD.",
    ),
    "9": CodeText(
        "x12.element.invalid-time",
        1,
        "{ref}{name} is not a valid time (HHMM); found {value}",
        "Send the time as HHMM.",
    ),
    "10": CodeText(
        "x12.element.not-used",
        2,
        "{ref}{name} is not used in the 837D and must be empty",
        "Leave the element empty.",
    ),
    "12": CodeText(
        "x12.element.too-many-repeats",
        1,
        "{ref}{name} repeats too often",
        "Send fewer repetitions.",
    ),
    "13": CodeText(
        "x12.element.too-many-components",
        1,
        "{ref}{name} has too many components",
        "Remove the extra components.",
    ),
}


_SYNTAX = re.compile(r"^(?:If|At least one of|Only one of)", re.I)


def _syntax_words(text: str) -> str:
    """pyx12's syntax texts name elements as NM108/NM109 already; drop its quoting noise."""
    words = text.replace('"', "").strip()
    return words[0].lower() + words[1:] if words and not _SYNTAX.match(words) else words


# Segment error codes pyx12's walker and reader raise (it never raises 6 or 7).
SEGMENT_CODES = ("1", "2", "3", "4", "5", "8", "HL1", "HL2", "LX", "SEG1")
# Element error codes pyx12 reports on an element; the others reach us as segment code 8.
ELEMENT_CODES = ("1", "4", "5", "6", "7", "8", "9", "10")


def element_ref(refdes: str | None) -> tuple[str | None, int | None, int | None]:
    """pyx12 writes CLM05-01; people and the report write CLM05-2. Also return the positions."""
    if not refdes:
        return None, None, None
    base, _, comp = refdes.partition("-")
    # An element reference is the segment id and a two-digit position (NM103, SV302, N403):
    # the segment id itself may hold digits, so only the last two characters are the position.
    digits = base[-2:] if len(base) > 2 and base[-2:].isdigit() else ""
    seg = base[: len(base) - len(digits)]
    pos = int(digits) if digits else None
    if comp and comp.isdigit():
        return f"{seg}{digits}-{int(comp)}", pos, int(comp)
    return f"{seg}{digits}", pos, None


def _codes_text(element: Any) -> str:
    codes = list(getattr(element, "valid_codes", []) or [])
    external = getattr(element, "external_codes", None)
    if 0 < len(codes) <= 8:
        if len(codes) == 1:
            return f"must be {codes[0]}"
        return "must be one of " + ", ".join(codes)
    if external:
        return f"is not a valid code from the {external} code list"
    return "has a code value the 837D guide does not allow here"


def _show(value: str | None) -> str:
    if value is None or value == "":
        return "nothing"
    return repr(value) if len(value) <= 40 else repr(value[:37] + "...")


def describe(
    level: str,
    code: str,
    text: str,
    value: str | None,
    segment_id: str | None,
    segment_name: str,
    loop: str,
    element: Any,
    refdes: str | None,
) -> Described:
    """Turn one pyx12 error into our rule id, sentence, fix and 999 positions."""
    seg = segment_id or "segment"
    where = f" in loop {loop}" if loop and loop not in ("ISA_LOOP", "GS_LOOP", "ST_LOOP") else ""
    name = f" ({segment_name})" if segment_name else ""
    if level in ("isa", "gs", "st"):
        entry = _ENVELOPE.get((level, code))
        if entry is None:
            return Described(f"x12.{level}.error-{code}", 1, text, "", None, None, None, code)
        text_out = entry.text
        if (level, code) == ("isa", "024") and "Unterminated" in text:
            text_out = "a functional group (GS) or transaction set (ST) is not closed before the next trailer"
        return Described(entry.rule, entry.snip, text_out, entry.hint, None, None, None, code)
    if level == "seg" and code == "1" and _SEGMENT_ID.match(seg):
        # pyx12 says "unrecognized" for a real segment it cannot place: say that instead.
        return Described(
            "x12.segment.unexpected",
            2,
            f"{seg} does not fit here{where}: the 837D guide has no {seg} with these "
            "qualifiers at this point",
            "Check the segment's qualifier (element 01) and that it sits in the right loop; "
            "remove it if it does not belong in an 837D.",
            None,
            None,
            None,
            code,
        )
    if level == "seg":
        entry = _SEGMENT.get(code) or CodeText(f"x12.segment.error-{code}", 1, "{seg}: " + text, "")
        message = entry.text.format(seg=seg, name=name, where=where, loop=loop or "?")
        if code == "8":
            message += ": " + _syntax_words(text)
        return Described(entry.rule, entry.snip, message, entry.hint, None, None, None, code)
    ref = refdes or getattr(element, "refdes", None) or getattr(element, "id", None)
    shown, pos, comp = element_ref(ref)
    entry = _ELEMENT.get(code) or CodeText(f"x12.element.error-{code}", 1, "{ref}: " + text, "")
    el_name = getattr(element, "name", "") or ""
    ack_code = code
    if code == "10" and "Not Used" in text:
        ack_code = "I10"
    elif code == "10":
        entry = CodeText(
            "x12.element.exclusion",
            1,
            "{ref}{name} breaks an exclusion rule: only one of the related elements may be sent",
            "Send only one of the mutually exclusive elements.",
        )
    length = ""
    data = getattr(element, "_resolve_data_ele", None)
    if code in ("4", "5") and callable(data):
        try:
            info = data()
            length = f" (allowed length {info['min_len']} to {info['max_len']})"
        except Exception:
            length = ""
    message = entry.text.format(
        ref=shown or seg,
        name=f" ({el_name.lower()})" if el_name else "",
        seg=seg,
        value=_show(value),
        codes=_codes_text(element),
        len=length,
    )
    if where:
        message += f" [{seg}{where}]"
    return Described(entry.rule, entry.snip, message, entry.hint, shown, pos, comp, ack_code)
