#!/usr/bin/env python3
"""Build the pyx12 map `maps/837.5010.X224.A2.xml` from the team's 837D reference.

Why a generator: the reference (`shared/reference/837D-5010-structure.md`) is the one
place where the 837D structure is argued about and corrected; writing ~150 segment
definitions into XML by hand would drift from it.  This script reads the reference's
markdown tables and writes the map deterministically, so a change to the reference is a
re-run, and `--check` proves the committed XML is exactly what the reference says.

What the reference does not carry, this script supplies explicitly (and nothing else):

* the X12 data element number of each element position (`SEGMENT_DICTIONARY`, the X12
  005010 segment dictionary as pyx12's own maps use it), because pyx12 takes element
  type and length from `dataele.xml` through `<data_ele>`, never from the map;
* the loop nesting (`LOOP_PARENTS`) and the envelope positions, from reference §4/§8
  and pyx12's 837P 5010 map conventions;
* a few project decisions: GS08/ST03 accept X224A1/A2/A3 (`CODE_OVERRIDES`), ISA11 is
  the 5010 repetition separator with no code list, DETAIL is a required wrapper, no TA1
  or empty FOOTER loop (see `_file_comment`);
* where each situational note of reference §6, §7 and §9 is attached as an XML comment
  (`NOTE_ANCHORS`), so that reading the map is reading the guide.

Every note and every table row of the reference must land somewhere: the script fails
rather than silently drop text it does not understand.

Usage (from the repository root):

    python maps/tools/build_837d_map.py            # (re)write the map
    python maps/tools/build_837d_map.py --check    # exit 1 if the committed map differs
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

REPO = Path(__file__).resolve().parents[2]
DEFAULT_REFERENCE = REPO.parent / "shared" / "reference" / "837D-5010-structure.md"
DEFAULT_OUTPUT = REPO / "maps" / "837.5010.X224.A2.xml"

# GS08/ST03: the program reads all three errata with this one map and reports the
# version itself; anything else (base 005010X224, another guide) stays a map error.
DENTAL_VERSIONS = ("005010X224A2", "005010X224A1", "005010X224A3")

# ---------------------------------------------------------------------------------------
# X12 005010 segment dictionary: data element number per element position.
# Taken from pyx12's maps (837P 5010, 837I 5010, 4010 837D for SV3/TOO/DN1/DN2), which
# agree with each other everywhere these segments occur.  Composite positions are written
# "Cnnn[sub-element numbers]".  Positions pyx12's maps never use were filled from the
# X12 dictionary: ISA11 I65 (5010 repetition separator), PRV05 C035, PWK08 C002,
# K303 C001, DN206 1270, SV301-08 234, SV311 C004.
# ---------------------------------------------------------------------------------------
SEGMENT_DICTIONARY_TEXT = {
    "ISA": "I01 I02 I03 I04 I05 I06 I05 I07 I08 I09 I65 I11 I12 I13 I14 I15",
    "GS": "479 142 124 373 337 28 455 480",
    "ST": "143 329 1705",
    "BHT": "1005 353 127 373 337 640",
    "NM1": "98 1065 1035 1036 1037 1038 1039 66 67 706 98 1035",
    "PER": "366 93 365 364 365 364 365 364 443",
    "HL": "628 734 735 736",
    "PRV": "1221 128 127 156 C035[1222 559 1073] 1223",
    "CUR": "98 100 280 98 100 669 374 373 337 374 373 337 374 373 337 374 373 337 374 373 337",
    "N3": "166 166",
    "N4": "19 156 116 26 309 310 1715",
    "REF": "128 127 352 C040[128 127 128 127 128 127]",
    "SBR": "1138 1069 127 93 1336 1143 1073 584 1032",
    "DMG": "1250 1251 1068 1067 C056[1109 1270 1271] 1066 26 659 380 1270 1271",
    "PAT": "1069 1384 584 1220 1250 1251 355 81 1073",
    "CLM": (
        "1028 782 1032 1343 C023[1331 1332 1325] 1073 1359 1073 1363 1351"
        " C024[1362 1362 1362 156 26] 1366 1073 1338 1073 1360 1029 1073 1383 1514"
    ),
    "DTP": "374 1250 1251",
    "DN1": "380 380 1073 352",
    "DN2": "127 1368 380 1250 1251 1270",
    "PWK": "755 756 757 98 66 67 352 C002[704 704 704 704 704] 1525",
    "CN1": "1166 782 332 127 338 799",
    "AMT": "522 782 478",
    "K3": "449 1333 C001[355 1018 649 355 1018 649 355 1018 649 355 1018 649 355 1018 649]",
    "NTE": "363 352",
    "HI": " ".join(["C022[1270 1271 1250 1251 782 380 799 1271 1073]"] * 12),
    "HCP": "1473 782 782 127 118 127 782 234 235 234 355 380 901 1526 1527",
    "CAS": "1033" + " 1034 782 380" * 6,
    "OI": "1032 1383 1073 1351 1360 1363",
    "MOA": "954 782 127 127 127 127 127 782 782",
    "LX": "554",
    "SV3": (
        "C003[235 234 1339 1339 1339 1339 352 234] 782 1331 C006[1361 1361 1361 1361 1361]"
        " 1358 380 352 1327 1360 1073 C004[1328 1328 1328 1328]"
    ),
    "TOO": "1270 1271 C005[1369 1369 1369 1369 1369]",
    "SVD": "67 782 C003[235 234 1339 1339 1339 1339 352 234] 234 380 554",
    "SE": "96 329",
    "GE": "97 28",
    "IEA": "I16 I12",
}


def _parse_dictionary() -> dict[str, list[tuple[str, list[str]]]]:
    """Turn the compact text above into {segment: [(data_ele, [sub data_ele...]), ...]}."""
    out: dict[str, list[tuple[str, list[str]]]] = {}
    for seg_id, text in SEGMENT_DICTIONARY_TEXT.items():
        positions: list[tuple[str, list[str]]] = []
        for token in re.findall(r"C\d{3}\[[^\]]*\]|\S+", text):
            m = re.fullmatch(r"(C\d{3})\[([^\]]*)\]", token)
            if m:
                positions.append((m.group(1), m.group(2).split()))
            else:
                positions.append((token, []))
        out[seg_id] = positions
    return out


SEGMENT_DICTIONARY = _parse_dictionary()

# ---------------------------------------------------------------------------------------
# Loop nesting (reference §4 and §8).  2300 sits under 2000B and again under 2000C (where
# it is required); 2000C is nested in 2000B after 2300, as in pyx12's own 837 maps.
# ---------------------------------------------------------------------------------------
LOOP_PARENTS = {
    "1000A": "HEADER",
    "1000B": "HEADER",
    "2000A": "DETAIL",
    "2010AA": "2000A",
    "2010AB": "2000A",
    "2010AC": "2000A",
    "2000B": "2000A",
    "2010BA": "2000B",
    "2010BB": "2000B",
    "2300": "2000B",
    "2310A": "2300",
    "2310B": "2300",
    "2310C": "2300",
    "2310D": "2300",
    "2310E": "2300",
    "2320": "2300",
    "2330A": "2320",
    "2330B": "2320",
    "2330C": "2320",
    "2330D": "2320",
    "2330E": "2320",
    "2330F": "2320",
    "2330G": "2320",
    "2330H": "2320",
    "2400": "2300",
    "2420A": "2400",
    "2420B": "2400",
    "2420C": "2400",
    "2420D": "2400",
    "2430": "2400",
    "2000C": "2000B",
    "2010CA": "2000C",
}

# Element names the reference writes as prose rather than a name.
NAME_OVERRIDES = {
    "ISA11": "Repetition Separator",
    "GE01": "Number of Transaction Sets Included",
    "GE02": "Group Control Number",
    "IEA01": "Number of Included Functional Groups",
    "IEA02": "Interchange Control Number",
}

# Code lists the reference states in prose; each override is explained in the map.
CODE_OVERRIDES: dict[str, tuple[list[str], str]] = {
    "GS08": (
        list(DENTAL_VERSIONS),
        "X224A2 is the HIPAA-named version; X224A1 and X224A3 are read with the same map and"
        " the program reports which one it saw. Any other value (005010X224, 005010X222A1,"
        " ...) is an invalid code here.",
    ),
    "ST03": (
        list(DENTAL_VERSIONS),
        "Same three values as GS08 (reference §7 rule 2: GS08 = ST03); equality of the two"
        " is checked by the program, not by pyx12.",
    ),
}

# External code sets pyx12 ships in codes.xml, by X12 data element (reference §8).
EXTERNAL_BY_DATA_ELE = {"1331": "pos", "156": "states", "26": "country"}

CODE_TOKEN = re.compile(r"([0-9A-Z]{1,12})(?: [a-z][a-z ]*)?")


# ---------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------
@dataclass
class Element:
    ref: str
    seq: int
    usage: str
    type: str
    length: str
    name: str
    data_ele: str = ""
    codes: list[str] = field(default_factory=list)
    external: str | None = None
    notes: list[str] = field(default_factory=list)
    children: list[Element] = field(default_factory=list)
    composite: bool = False
    de_hint: str | None = None


@dataclass
class Segment:
    id: str
    name: str
    pos: str
    usage: str
    max_use: str
    syntax: list[str] = field(default_factory=list)
    elements: list[Element] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        """Segment id plus its qualifier, e.g. `REF[G3]`, `HL[22]`, as notes address it."""
        qual = self.qualifier_element()
        if qual is None or not qual.codes:
            return self.id
        return f"{self.id}[{qual.codes[0]}]"

    def qualifier_element(self) -> Element | None:
        if self.id == "HL":
            return self.elements[2]
        first = self.elements[0] if self.elements else None
        if first is not None and first.composite:
            return first.children[0] if first.children else None
        return first


@dataclass
class Loop:
    id: str
    name: str
    usage: str
    pos: str
    repeat: str
    type: str | None = None
    children: list[Segment | Loop] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------
# Markdown reading
# ---------------------------------------------------------------------------------------
SEG_HEADER = re.compile(
    r"^\*\*(?P<id>[A-Z][A-Z0-9]{1,2}) — (?P<name>.+?)\*\* · pos (?P<pos>\d{4})"
    r" · usage \*\*(?P<usage>[RSN])\*\* · max use (?P<max>\d+|>1)(?: · syntax (?P<syntax>.+))?$"
)
LOOP_HEADER = re.compile(
    r"^#### Loop (?P<id>\w+) — (?P<name>.+?)  \(loop usage (?P<usage>.+?); repeat (?P<repeat>[^;]+);"
    r" pyx12 loop pos (?P<pos>\d{4})(?P<rest>.*)\)$"
)
ENVELOPE_HEADER = re.compile(r"^\*\*(?P<id>ISA|GS) — (?P<name>[^*]+)\*\*(?P<rest>.*)$")
TRAILER_PROSE = re.compile(r"^\*\*(?P<id>GE|IEA) — (?P<name>[^*]+)\*\*: (?P<body>.+)$")
TRAILER_ELEMENT = re.compile(
    r"(?P<ref>(?:GE|IEA)\d\d) \((?P<type>\w+) (?P<len>\d+/\d+)\) (?P<what>[^;]+)"
)


def _sections(lines: list[str]) -> dict[str, list[str]]:
    """Split the reference at its `## n.` headings so each part is read on its own terms."""
    out: dict[str, list[str]] = {}
    current = "preamble"
    for line in lines:
        m = re.match(r"^## (\d+)\. ", line)
        if m:
            current = m.group(1)
        elif line.startswith("## "):
            current = line[3:].split()[0].lower()
        out.setdefault(current, []).append(line)
    return out


def _table_rows(lines: list[str], start: int) -> Iterator[list[str]]:
    """Yield the cells of the markdown table that begins at or after `start`."""
    i = start
    while i < len(lines) and not lines[i].startswith("|"):
        i += 1
    i += 2  # header and separator
    while i < len(lines) and lines[i].startswith("|"):
        yield [c.strip() for c in lines[i].strip().strip("|").split("|")]
        i += 1


def _strip_markup(text: str) -> str:
    return text.replace("**", "").replace("`", "").strip()


def _remove_parens(text: str) -> str:
    out, depth = [], 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def parse_codes(text: str) -> list[str] | None:
    """Read a code list such as `01, 14, ZZ` or `P production, T test`; None if prose."""
    bare = _remove_parens(text).split(". ")[0].strip().rstrip(".").strip()
    tokens = [t.strip() for t in bare.split(",")]
    codes = []
    for token in tokens:
        m = CODE_TOKEN.fullmatch(token)
        if not m:
            return None
        codes.append(m.group(1))
    return codes


def _element_from_row(seg_id: str, cells: list[str]) -> tuple[Element, int | None]:
    """Build an element (or composite) from one table row; return it and its parent seq."""
    ref, usage, typ, length, notes = cells
    m = re.fullmatch(
        re.escape(seg_id)
        + r"(?P<seq>\d{2})(?:-(?P<sub>\d{2}))?(?: \(composite (?P<comp>C\d{3})\))?",
        ref,
    )
    if not m:
        raise ValueError(f"{seg_id}: cannot read element reference {ref!r}")
    seq = int(m.group("seq"))
    sub = int(m.group("sub")) if m.group("sub") else None
    xid = ref.split(" ")[0]
    name_part, _, code_part = notes.partition(" — ")
    name_part = name_part.replace("**", "")
    de_hint = re.search(r"DE (\w+)", name_part)
    name = re.sub(r"\s*\[[^\[\]]*, DE \w+\]", "", name_part)
    name = re.sub(r"\s*\(DE \w+\)", "", name)
    extra_notes: list[str] = []
    paren = re.search(r"\s*\(([^)]*)\)\s*$", name)
    if paren and xid not in NAME_OVERRIDES:
        extra_notes.append(paren.group(1))
        name = name[: paren.start()]
    name = NAME_OVERRIDES.get(xid, name.strip())
    element = Element(
        ref=xid,
        seq=sub if sub is not None else seq,
        usage=usage,
        type=typ,
        length=length,
        name=name,
        composite=m.group("comp") is not None,
    )
    if m.group("comp"):
        element.data_ele = m.group("comp")
    if de_hint:
        element.de_hint = de_hint.group(1)  # checked against the dictionary later
    code_part = code_part.strip()
    if code_part:
        codes = parse_codes(code_part) if "external" not in code_part else None
        if codes is not None:
            element.codes = codes
            if code_part != ", ".join(codes):
                # The code list came with an explanation: keep it beside the element.
                extra_notes.append(_strip_markup(code_part))
        else:
            extra_notes.append(_strip_markup(code_part))
    element.notes.extend(extra_notes)
    return element, (seq if sub is not None else None)


def _read_segment_table(seg: Segment, lines: list[str], start: int) -> None:
    composites: dict[int, Element] = {}
    for cells in _table_rows(lines, start):
        element, parent_seq = _element_from_row(seg.id, cells)
        if parent_seq is None:
            seg.elements.append(element)
            if element.composite:
                composites[element.seq] = element
        else:
            composites[parent_seq].children.append(element)


def _parse_envelope(section: list[str]) -> dict[str, Segment]:
    segments: dict[str, Segment] = {}
    for i, line in enumerate(section):
        m = ENVELOPE_HEADER.match(line)
        if m:
            seg = Segment(m.group("id"), m.group("name").strip(), "0100", "R", "1")
            rest = m.group("rest").strip()
            if rest.startswith("(") and rest.endswith(")"):
                seg.notes.append(rest[1:-1])
            _read_segment_table(seg, section, i + 1)
            segments[seg.id] = seg
            continue
        m = TRAILER_PROSE.match(line)
        if m:
            seg = Segment(m.group("id"), m.group("name").strip(), "0300", "R", "1")
            for n, em in enumerate(TRAILER_ELEMENT.finditer(m.group("body")), start=1):
                ref = em.group("ref")
                element = Element(
                    ref=ref,
                    seq=n,
                    usage="R",
                    type=em.group("type"),
                    length=em.group("len"),
                    name=NAME_OVERRIDES[ref],
                    notes=[em.group("what").strip().rstrip(".")],
                )
                seg.elements.append(element)
            segments[seg.id] = seg
        elif line.startswith("Delimiters are positional"):
            segments["ISA"].notes.append(line.strip())
    return segments


def _parse_tables(section: list[str]) -> tuple[list[Segment], dict[str, Loop], list[Segment]]:
    """Read §5: header segments (ST, BHT), the loops with their segments, and SE."""
    loops: dict[str, Loop] = {}
    header_segments: list[Segment] = []
    trailer_segments: list[Segment] = []
    current: Loop | None = None
    for i, line in enumerate(section):
        m = LOOP_HEADER.match(line)
        if m:
            usage = m.group("usage")
            notes = []
            if usage.startswith("S under 2000B"):
                usage = "S"  # the copy under 2000C is switched to R when it is attached
            rest = m.group("rest").strip()
            if rest:
                notes.append(rest.strip("() "))
            current = Loop(
                id=m.group("id"),
                name=m.group("name").strip(),
                usage=usage,
                pos=m.group("pos"),
                repeat=m.group("repeat").strip(),
                notes=notes,
            )
            loops[current.id] = current
            continue
        m = SEG_HEADER.match(line)
        if m:
            seg = Segment(
                id=m.group("id"),
                name=m.group("name").strip(),
                pos=m.group("pos"),
                usage=m.group("usage"),
                max_use=m.group("max"),
                syntax=(m.group("syntax") or "").split(),
            )
            _read_segment_table(seg, section, i + 1)
            if seg.id in ("ST", "BHT"):
                header_segments.append(seg)
            elif seg.id == "SE":
                trailer_segments.append(seg)
            else:
                if current is None:
                    raise ValueError(f"segment {seg.id} outside any loop")
                current.children.append(seg)
    return header_segments, loops, trailer_segments


# ---------------------------------------------------------------------------------------
# Notes from §6, §7 and §9, anchored to the loop or segment they govern
# ---------------------------------------------------------------------------------------
# Anchor syntax: "LOOP" (loop note) or "LOOP/KEY" (segment note, KEY as Segment.key),
# "LOOP/KEY/REF" (element note).  A (subsection, prefix) pair routes the bullet, table row
# or paragraph whose text starts with `prefix`; several anchors repeat the note.
NOTE_ANCHORS: dict[str, list[tuple[str, list[str]]]] = {
    "6.1": [
        ("CLM01", ["2300/CLM/CLM01"]),
        ("CLM02", ["2300/CLM/CLM02"]),
        ("CLM05-1", ["2300/CLM/CLM05"]),
        ("CLM06", ["2300/CLM/CLM06"]),
        ("CLM11", ["2300/CLM/CLM11"]),
        ("CLM12", ["2300/CLM/CLM12"]),
        ("CLM19", ["2300/CLM/CLM19"]),
        ("CLM20", ["2300/CLM/CLM20"]),
    ],
    "6.2": [
        ("439", ["2300/DTP[439]"]),
        ("452", ["2300/DTP[452]"]),
        ("472", ["2300/DTP[472]"]),
        ("050", ["2300/DTP[050]"]),
    ],
    "6.3": [("DN1", ["2300/DN1"]), ("DN2", ["2300/DN2"])],
    "6.4": [("PWK01", ["2300/PWK"])],
    "6.5": [
        ("G3", ["2300/REF[G3]"]),
        ("4N", ["2300/REF[4N]"]),
        ("F8", ["2300/REF[F8]"]),
        ("9F", ["2300/REF[9F]"]),
        ("G1", ["2300/REF[G1]"]),
        ("9A", ["2300/REF[9A]"]),
        ("9C", ["2300/REF[9C]"]),
        ("D9", ["2300/REF[D9]"]),
        ("(EA medical record number", ["2300/REF[G3]"]),
    ],
    "6.6": [("NTE01", ["2300/NTE"]), ("HI ", ["2300/HI"]), ("HCP", ["2300/HCP"])],
    "6.7": [
        ("2310A", ["2310A"]),
        ("2310B", ["2310B"]),
        ("2310C", ["2310C"]),
        ("2310D", ["2310D", "2310E"]),
        (
            "Secondary REF qualifiers",
            ["2310A/REF", "2310B/REF", "2310C/REF", "2310D/REF", "2310E/REF"],
        ),
    ],
    "6.8": [
        ("LX01", ["2400/LX"]),
        ("SV301-1", ["2400/SV3/SV301"]),
        ("SV302", ["2400/SV3/SV302"]),
        ("SV303", ["2400/SV3/SV303"]),
        ("SV304", ["2400/SV3/SV304"]),
        ("SV305", ["2400/SV3/SV305"]),
        ("SV306", ["2400/SV3/SV306"]),
        ("SV307", ["2400/SV3/SV311"]),
        ("TOO", ["2400/TOO"]),
        ("2400 DTP", ["2400/DTP[472]"]),
        ("2400 REF", ["2400/REF[G3]"]),
        ("AMT*T", ["2400/AMT[T]"]),
    ],
    "6.9": [
        ("2320 SBR01", ["2320/SBR"]),
        ("2320 AMT*D", ["2320/AMT[D]"]),
        ("OI03", ["2320/OI"]),
        ("2330B DTP*573", ["2330B/DTP[573]"]),
        ("2330C", ["2330C", "2330D", "2330E", "2330F", "2330G", "2330H"]),
        ("2430 SVD01", ["2430/SVD"]),
    ],
    "7": [
        ("1 ", ["ST_LOOP/SE"]),
        ("2 ", ["GS_LOOP/GS/GS08"]),
        ("3 ", ["2000A/HL[20]"]),
        ("4 ", ["2000C"]),
        ("5 ", ["2300/CLM/CLM02"]),
        ("6 ", ["2320/AMT[D]"]),
        ("7 ", ["2400/LX"]),
        ("8 ", ["2300/REF[F8]"]),
        ("9 ", ["2300/DTP[472]", "2400/DTP[472]"]),
        ("10 ", ["2400/SV3/SV305"]),
        ("11 ", ["2300/DN1"]),
        ("12 ", ["2400/TOO"]),
        ("13 ", ["2400/SV3/SV311"]),
        ("14 ", ["2010AA/NM1[85]"]),
        ("15 ", ["2300/DTP[472]"]),
        ("16 ", ["2010AA/REF[EI]"]),
        ("17 ", ["2010AA/N4"]),
        ("18 ", ["2010AA/N3"]),
    ],
    "9": [
        ("A1 vs A2 differences", ["ST_LOOP/ST/ST03"]),
        ("2400 DTP*472 format", ["2400/DTP[472]"]),
        ("2400 DTP prior placement", ["2400/DTP[139]"]),
        ("HI01-1 TQ", ["2300/HI"]),
        ("SV301-07", ["2400/SV3/SV301", "2430/SVD/SVD04"]),
        ("2000B and 2320 SBR05", ["2000B/SBR/SBR05", "2320/SBR/SBR05"]),
        ("2010CA REF*1W/SY", ["2010CA"]),
        ("N4 in 2010BA/2010BB/2330A/2330B", ["2010BA/N4", "2010BB/N4", "2330A/N4", "2330B/N4"]),
        ("Exact situational wording", ["2300/DTP[472]", "2300/REF[4N]", "2300/CLM/CLM08"]),
        ("Oral cavity code list", ["2400/SV3/SV304"]),
    ],
}

# §6 prose paragraphs that introduce a subsection rather than state a rule.
SKIPPED_PROSE_PREFIXES = ("The situational conditions below",)


def _collect_notes(sections: dict[str, list[str]]) -> list[tuple[str, str, str]]:
    """Return (subsection, text, label) for every bullet/row/paragraph of §6, §7 and §9."""
    items: list[tuple[str, str, str]] = []
    sub = "6"
    paragraph: list[str] = []

    def flush_paragraph() -> None:
        text = " ".join(paragraph).strip()
        paragraph.clear()
        if text and not text.startswith(SKIPPED_PROSE_PREFIXES):
            items.append((sub, text, f"§{sub}"))

    for line in sections.get("6", []):
        is_prose = bool(line.strip()) and not line.startswith(("#", "|", "* "))
        if not is_prose:
            flush_paragraph()
        m = re.match(r"^### (6\.\d)", line)
        if m:
            sub = m.group(1)
            continue
        if line.startswith("## ") or not line.strip() or line.startswith("|---"):
            continue
        if line.startswith(("| DTP01 |", "| REF01 |")):
            continue
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            items.append((sub, " — ".join(cells), f"§{sub}"))
        elif line.startswith("* "):
            items.append((sub, line[2:].strip(), f"§{sub}"))
        else:
            paragraph.append(line.strip())
    flush_paragraph()
    for line in sections.get("7", []):
        m = re.match(r"^\| (\d+) \| (.+) \| (.+) \|$", line)
        if m:
            # The rule number leads the text only so that NOTE_ANCHORS can route it.
            items.append(("7", f"{m.group(1)} {m.group(2)}", f"§7 rule {m.group(1)}"))
    for line in sections.get("9", []):
        if line.startswith("* "):
            items.append(("9", line[2:].strip(), "§9 (open question)"))
    return items


def _attach_notes(
    root_loops: dict[str, Loop],
    envelope: dict[str, Loop | Segment],
    items: list[tuple[str, str, str]],
) -> None:
    for sub, text, label in items:
        plain = _strip_markup(text)
        anchors: list[str] | None = None
        for prefix, targets in NOTE_ANCHORS.get(sub, []):
            if plain.startswith(_strip_markup(prefix)):
                anchors = targets
                break
        if anchors is None:
            raise ValueError(f"reference {label}: no anchor for note {plain[:70]!r}")
        if sub == "7":
            plain = plain.split(" ", 1)[1]
        for anchor in anchors:
            _resolve_anchor(anchor, root_loops, envelope).append(f"{label}: {plain}")


def _resolve_anchor(
    anchor: str, loops: dict[str, Loop], envelope: dict[str, Loop | Segment]
) -> list[str]:
    parts = anchor.split("/")
    holder = loops.get(parts[0]) or envelope.get(parts[0])
    if holder is None:
        raise ValueError(f"anchor {anchor!r}: unknown loop")
    if len(parts) == 1:
        return holder.notes
    assert isinstance(holder, Loop)
    segs = [c for c in holder.children if isinstance(c, Segment)]
    seg = next((s for s in segs if s.key == parts[1]), None)
    if seg is None:
        seg = next((s for s in segs if s.id == parts[1]), None)
    if seg is None:
        raise ValueError(f"anchor {anchor!r}: no segment {parts[1]} in {holder.id}")
    if len(parts) == 2:
        return seg.notes
    element = next((e for e in seg.elements if e.ref == parts[2]), None)
    if element is None:
        raise ValueError(f"anchor {anchor!r}: no element {parts[2]}")
    return element.notes


# ---------------------------------------------------------------------------------------
# Assembly and checks
# ---------------------------------------------------------------------------------------
def _assign_data_elements(seg: Segment) -> None:
    """Give every element its X12 data element number and check it against the reference."""
    positions = SEGMENT_DICTIONARY[seg.id]
    if len(seg.elements) != len(positions):
        raise ValueError(
            f"{seg.id} '{seg.name}': {len(seg.elements)} elements, dictionary has {len(positions)}"
        )
    for element, (de, subs) in zip(seg.elements, positions, strict=True):
        if element.seq != seg.elements.index(element) + 1:
            raise ValueError(f"{element.ref}: elements out of order")
        if element.composite:
            if element.data_ele != de:
                raise ValueError(f"{element.ref}: composite {element.data_ele}, dictionary {de}")
            if len(element.children) != len(subs):
                raise ValueError(
                    f"{element.ref}: {len(element.children)} sub-elements,"
                    f" dictionary has {len(subs)}"
                )
            for child, sub_de in zip(element.children, subs, strict=True):
                _set_data_ele(child, sub_de)
        else:
            if subs:
                raise ValueError(
                    f"{element.ref}: reference has a simple element where X12 has composite {de}"
                )
            _set_data_ele(element, de)


def _set_data_ele(element: Element, de: str) -> None:
    if element.de_hint is not None and element.de_hint != de:
        raise ValueError(
            f"{element.ref}: reference says DE {element.de_hint}, dictionary says {de}"
        )
    element.data_ele = de
    if element.usage != "N" and de in EXTERNAL_BY_DATA_ELE and not element.codes:
        element.external = EXTERNAL_BY_DATA_ELE[de]


def _check_lengths_against_pyx12(segments: list[Segment]) -> None:
    """Fail if the reference's type or length disagrees with pyx12's dataele.xml.

    pyx12 reads type and length only from dataele.xml (its map format has no per-element
    min/max override), so a disagreement could not be expressed in the map and must be
    settled in the reference or turned into a program edit.  Skipped without pyx12, which
    never changes the output.
    """
    try:
        from importlib.resources import files

        raw = files("pyx12").joinpath("map", "dataele.xml").read_text(encoding="utf-8")
    except (ImportError, ModuleNotFoundError, FileNotFoundError):
        return
    known = {
        m.group(1): (m.group(2), f"{m.group(3)}/{m.group(4)}")
        for m in re.finditer(
            r'<data_ele ele_num="([^"]+)" data_type="([^"]+)" min_len="(\d+)" max_len="(\d+)"',
            raw,
        )
    }
    problems = []
    for seg in segments:
        for element in seg.elements:
            for leaf in element.children if element.composite else [element]:
                if known.get(leaf.data_ele) != (leaf.type, leaf.length):
                    problems.append(
                        f"{seg.key} {leaf.ref}: reference {leaf.type} {leaf.length},"
                        f" dataele.xml {leaf.data_ele} {known.get(leaf.data_ele)}"
                    )
    if problems:
        raise ValueError("type/length disagreements:\n  " + "\n  ".join(problems))


def _apply_overrides(seg: Segment) -> None:
    for element in seg.elements:
        if element.ref in CODE_OVERRIDES:
            codes, why = CODE_OVERRIDES[element.ref]
            element.codes = list(codes)
            element.notes = [f"Code list set by the project: {why}"]
        m = re.fullmatch(r".*same list as (\w+)", " ".join(element.notes))
        if m and not element.codes:
            source = next(e for e in seg.elements if e.ref == m.group(1))
            element.codes = list(source.codes)
            element.notes = [n for n in element.notes if "same list as" not in n]
    if seg.id == "ISA":
        isa11 = seg.elements[10]
        isa11.notes = [
            "5010 repetition separator (DE I65): one character, no code list, as in pyx12's"
            " x12.control.00501.xml (pyx12's 837P map still lists the 4010 code U here)."
            " Note: pyx12 validates ISA with x12.control.00501.xml, not with this map."
        ]


def build(reference_text: str) -> str:
    """Return the map XML for the given reference text."""
    lines = reference_text.splitlines()
    sections = _sections(lines)
    envelope_segments = _parse_envelope(sections["3"])
    header_segments, loops, trailer_segments = _parse_tables(sections["5"])

    st, bht = header_segments
    (se,) = trailer_segments
    all_segments = [*envelope_segments.values(), st, bht, se]
    for loop in loops.values():
        all_segments.extend(c for c in loop.children if isinstance(c, Segment))
    for seg in all_segments:
        _assign_data_elements(seg)
        _apply_overrides(seg)
    _check_lengths_against_pyx12(all_segments)

    missing = set(LOOP_PARENTS) - set(loops)
    extra = set(loops) - set(LOOP_PARENTS)
    if missing or extra:
        raise ValueError(
            f"loops missing from reference: {sorted(missing)}; unknown: {sorted(extra)}"
        )

    isa_loop = Loop("ISA_LOOP", "Interchange Control Header", "R", "0010", ">1", "explicit")
    gs_loop = Loop("GS_LOOP", "Functional Group Header", "R", "0200", ">1", "explicit")
    st_loop = Loop("ST_LOOP", "Transaction Set Header", "R", "0200", ">1", "explicit")
    header = Loop("HEADER", "Table 1 - Header", "R", "0100", "1", "wrapper")
    detail = Loop("DETAIL", "Table 2 - Detail", "R", "0200", "1", "wrapper")
    isa_loop.children = [envelope_segments["ISA"], gs_loop, envelope_segments["IEA"]]
    gs_loop.children = [envelope_segments["GS"], st_loop, envelope_segments["GE"]]
    st_loop.children = [st, header, detail, se]
    header.children = [bht]
    wrappers: dict[str, Loop] = {"HEADER": header, "DETAIL": detail}
    envelope: dict[str, Loop | Segment] = {
        "ST_LOOP": st_loop,
        "GS_LOOP": gs_loop,
        "ISA_LOOP": isa_loop,
    }

    _attach_notes(loops, envelope, _collect_notes(sections))

    for loop_id, parent_id in LOOP_PARENTS.items():
        parent = wrappers.get(parent_id) or loops[parent_id]
        parent.children.append(loops[loop_id])
    # Children in position order (e.g. 2300 at 1300 before 2000C at 1400 in 2000B).
    for loop in [*loops.values(), header, detail]:
        loop.children.sort(key=lambda c: int(c.pos))
    patient_claim = _copy_loop(loops["2300"])
    patient_claim.usage = "R"
    patient_claim.notes = [
        'Claim information "floats": it belongs to 2000B when the patient is the subscriber'
        " and to 2000C otherwise (§7 rule 4). pyx12 cannot share a subtree, so the 2300 loop"
        " under 2000B is repeated here unchanged, except that it is required at this level.",
        *loops["2300"].notes,
    ]
    loops["2000C"].children.append(patient_claim)
    loops["2000C"].children.sort(key=lambda c: int(c.pos))

    out: list[str] = []
    out.append('<?xml version="1.0" encoding="utf-8"?>')
    out.extend(_file_comment())
    out.append('<transaction xid="837">')
    out.append("  <name>HIPAA Health Care Claim: Dental X224A2-837</name>")
    _emit_loop(isa_loop, out, 1)
    out.append("</transaction>")
    return "\n".join(out) + "\n"


def _copy_loop(loop: Loop) -> Loop:
    return copy.deepcopy(loop)


# ---------------------------------------------------------------------------------------
# XML writing
# ---------------------------------------------------------------------------------------
def _file_comment() -> list[str]:
    return [
        "<!--",
        "  pyx12 map for the HIPAA X12 837 Health Care Claim: Dental, 005010X224A2.",
        "",
        "  GENERATED FILE: do not edit by hand. Written by maps/tools/build_837d_map.py from",
        "  shared/reference/837D-5010-structure.md (the team's reference; the official TR3 was",
        "  not available). Edit the reference or the generator and re-run it.",
        "",
        "  Conventions (pyx12, reference §8): ISA_LOOP/GS_LOOP/ST_LOOP, HEADER and DETAIL",
        "  wrapper loops, 2000C nested in 2000B after 2300 with the 2300 subtree repeated, and",
        "  qualifier-keyed repeats told apart by the code list of element 01 (HL: element 03).",
        "  Element type and length come from pyx12's dataele.xml through data_ele; the map",
        "  format has no per-element length override.",
        "  Comments marked with a reference section (e.g. §6.1, §7 rule 5) carry the",
        "  reference's situational notes; most of them are edits for the program, not for pyx12.",
        "",
        "  Choices the reference leaves open: DETAIL is required exactly once (pyx12's 837P map",
        "  says S, >1); no TA1 in ISA_LOOP (reference §3: never inside an 837) and no empty",
        "  FOOTER loop; not-used composites keep their sub-elements so the map is complete.",
        "  pyx12 validates ISA with its x12.control.00501.xml, not with the ISA below.",
        "-->",
    ]


def _comment(text: str, indent: str) -> list[str]:
    safe = text.replace("--", "- -")
    if safe.endswith("-"):
        safe += " "
    width = max(40, 100 - len(indent) - 5)
    wrapped = textwrap.wrap(safe, width=width, break_long_words=False, break_on_hyphens=False)
    if len(wrapped) == 1:
        return [f"{indent}<!-- {wrapped[0]} -->"]
    return [f"{indent}<!--", *[f"{indent}  {w}" for w in wrapped], f"{indent}-->"]


def _emit_loop(loop: Loop, out: list[str], depth: int) -> None:
    ind = "  " * depth
    for note in loop.notes:
        out.extend(_comment(note, ind))
    type_attr = f" type={quoteattr(loop.type)}" if loop.type else ""
    out.append(f"{ind}<loop xid={quoteattr(loop.id)}{type_attr}>")
    out.append(f"{ind}  <name>{escape(loop.name)}</name>")
    out.append(f"{ind}  <usage>{loop.usage}</usage>")
    out.append(f"{ind}  <pos>{loop.pos}</pos>")
    out.append(f"{ind}  <repeat>{escape(loop.repeat)}</repeat>")
    for child in loop.children:
        if isinstance(child, Loop):
            _emit_loop(child, out, depth + 1)
        else:
            _emit_segment(child, out, depth + 1)
    out.append(f"{ind}</loop>")


def _emit_segment(seg: Segment, out: list[str], depth: int) -> None:
    ind = "  " * depth
    for note in seg.notes:
        out.extend(_comment(note, ind))
    out.append(f"{ind}<segment xid={quoteattr(seg.id)}>")
    out.append(f"{ind}  <name>{escape(seg.name)}</name>")
    out.append(f"{ind}  <usage>{seg.usage}</usage>")
    out.append(f"{ind}  <pos>{seg.pos}</pos>")
    out.append(f"{ind}  <max_use>{escape(seg.max_use)}</max_use>")
    for rule in seg.syntax:
        out.append(f"{ind}  <syntax>{rule}</syntax>")
    for element in seg.elements:
        _emit_element(element, out, depth + 1)
    out.append(f"{ind}</segment>")


def _emit_element(element: Element, out: list[str], depth: int) -> None:
    ind = "  " * depth
    for note in element.notes:
        out.extend(_comment(note, ind))
    tag = "composite" if element.composite else "element"
    out.append(f"{ind}<{tag} xid={quoteattr(element.ref)}>")
    out.append(f"{ind}  <data_ele>{element.data_ele}</data_ele>")
    out.append(f"{ind}  <name>{escape(element.name)}</name>")
    out.append(f"{ind}  <usage>{element.usage}</usage>")
    out.append(f"{ind}  <seq>{element.seq:02d}</seq>")
    if element.composite:
        for child in element.children:
            _emit_element(child, out, depth + 1)
    elif element.external:
        out.append(f"{ind}  <valid_codes external={quoteattr(element.external)}/>")
    elif element.codes:
        out.append(f"{ind}  <valid_codes>")
        for code in element.codes:
            out.append(f"{ind}    <code>{escape(code)}</code>")
        out.append(f"{ind}  </valid_codes>")
    out.append(f"{ind}</{tag}>")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--check", action="store_true", help="do not write; exit 1 if the output file differs"
    )
    args = parser.parse_args(argv)
    xml = build(args.reference.read_text(encoding="utf-8"))
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != xml:
            print(f"{args.output} is out of date; re-run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(xml, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
