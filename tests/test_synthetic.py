"""Tests of the synthetic 837D generator itself.

Other tests trust generated files to be clean, so these check that trust independently: a small
parser here (not the generator's own) re-reads the text and checks the envelope, the HL tree,
balancing, and the dental content the rules engine will judge.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
import json
import random
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.strategies import MutatedFile, gen_options, generated_files, mutated_files
from x12dental.synthetic import (
    MUTATION_KINDS,
    Delimiters,
    Generated,
    GenOptions,
    MutationKind,
    applicable_kinds,
    generate,
    make_npi,
    mutate,
    write_interchange,
)

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
TODAY = dt.date.today()
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --------------------------------------------------------------------------------------------
# An independent reader for generated text
# --------------------------------------------------------------------------------------------


@attrs.frozen
class Seg:
    sid: str
    elements: tuple[str, ...]  # elements[0] is the segment id
    position: int | None  # from ST, ST = 1
    st02: str | None

    def el(self, n: int) -> str:
        return self.elements[n] if n < len(self.elements) else ""


@attrs.frozen
class Doc:
    isa: str
    element: str
    component: str
    repetition: str
    terminator: str
    segments: tuple[Seg, ...]


def read(text: str) -> Doc:
    assert text.startswith("ISA")
    element, repetition, component, terminator = text[3], text[82], text[104], text[105]
    raw = text.split(terminator)
    assert raw[-1].strip("\r\n") == ""
    segs: list[Seg] = []
    position: int | None = None
    st02: str | None = None
    for chunk in raw[:-1]:
        body = chunk.lstrip("\r\n")
        fields = tuple(body.split(element))
        if fields[0] == "ST":
            position, st02 = 0, fields[2]
        if position is not None:
            position += 1
        segs.append(Seg(fields[0], fields, position, st02))
        if fields[0] == "SE":
            position, st02 = None, None
    return Doc(text[:106], element, component, repetition, terminator, tuple(segs))


def transactions(doc: Doc) -> Iterator[list[Seg]]:
    current: list[Seg] = []
    for seg in doc.segments:
        if seg.sid == "ST":
            current = []
        current.append(seg)
        if seg.sid == "SE":
            yield current


@attrs.define
class Line:
    code: str
    charge: str
    area: str
    prosthesis: str
    units: str
    teeth: list[tuple[str, tuple[str, ...]]] = attrs.Factory(list)
    date: str = ""


@attrs.define
class Claim:
    clm: Seg
    patient: str  # a key for the patient: name + birth date
    birth: dt.date
    date: str = ""
    notes: list[str] = attrs.Factory(list)
    pwk: list[str] = attrs.Factory(list)
    refs: dict[str, str] = attrs.Factory(dict)
    lines: list[Line] = attrs.Factory(list)


def d8(value: str) -> dt.date:
    return dt.datetime.strptime(value, "%Y%m%d").date()


def claims(doc: Doc) -> list[Claim]:
    out: list[Claim] = []
    name = ""
    birth = dt.date.min
    claim: Claim | None = None
    for seg in doc.segments:
        sid = seg.sid
        if sid in ("HL", "SE"):
            claim = None
        elif sid == "NM1" and seg.el(1) in ("IL", "QC"):
            name = f"{seg.el(3)},{seg.el(4)}"
        elif sid == "DMG":
            birth = d8(seg.el(2))
        elif sid == "CLM":
            claim = Claim(seg, f"{name},{birth}", birth)
            out.append(claim)
        elif claim is None:
            continue
        elif sid == "DTP" and seg.el(1) == "472":
            if claim.lines:
                claim.lines[-1].date = seg.el(3)
            else:
                claim.date = seg.el(3)
        elif sid == "NTE":
            claim.notes.append(seg.el(2))
        elif sid == "PWK":
            claim.pwk.append(seg.el(1))
        elif sid == "REF" and not claim.lines:
            claim.refs[seg.el(1)] = seg.el(2)
        elif sid == "SV3":
            code = seg.el(1).split(doc.component)
            assert code[0] == "AD"
            claim.lines.append(Line(code[1], seg.el(2), seg.el(4), seg.el(5), seg.el(6)))
        elif sid == "TOO":
            surfaces = tuple(seg.el(3).split(doc.component)) if seg.el(3) else ()
            claim.lines[-1].teeth.append((seg.el(2), surfaces))
    return out


def npi_ok(npi: str) -> bool:
    """Luhn over 80840 + NPI, written out the long way (dental-code-sets.md §12)."""
    if len(npi) != 10 or not npi.isdigit() or npi[0] not in "12":
        return False
    total = 0
    for i, ch in enumerate(reversed("80840" + npi)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


# --------------------------------------------------------------------------------------------
# Envelope, counts, balancing
# --------------------------------------------------------------------------------------------


@FAST
@given(generated_files())
def test_envelope_is_consistent(g: Generated) -> None:
    doc = read(g.text)
    opts = g.options
    isas = [s for s in doc.segments if s.sid == "ISA"]
    ieas = [s for s in doc.segments if s.sid == "IEA"]
    assert len(isas) == len(ieas) == opts.interchanges
    # Every ISA is 106 characters with its terminator, and its delimiters agree with ours.
    chunks = [c.lstrip("\r\n") for c in g.text.split(doc.terminator)]
    for isa in (c + doc.terminator for c in chunks if c.startswith("ISA" + doc.element)):
        assert len(isa) == 106
        assert isa[3] == opts.delimiters.element and isa[105] == opts.delimiters.segment
        assert isa[82] == opts.delimiters.repetition and isa[104] == opts.delimiters.component
    for isa, iea in zip(isas, ieas, strict=True):
        assert isa.el(11) == opts.delimiters.repetition
        assert isa.el(12) == "00501"
        assert isa.el(13) == iea.el(2) and re.fullmatch(r"\d{9}", isa.el(13))
        assert isa.el(14) == opts.isa14 and isa.el(15) == opts.usage
    gs_stack: list[Seg] = []
    groups_in_isa = 0
    sets_in_gs = 0
    for seg in doc.segments:
        if seg.sid == "ISA":
            groups_in_isa = 0
        elif seg.sid == "GS":
            gs_stack.append(seg)
            groups_in_isa += 1
            sets_in_gs = 0
            assert seg.el(1) == "HC" and seg.el(8) == opts.version
        elif seg.sid == "ST":
            sets_in_gs += 1
            assert seg.el(1) == "837" and seg.el(3) == opts.version
        elif seg.sid == "SE":
            assert seg.position == int(seg.el(1)), "SE01 counts ST..SE"
            assert seg.el(2) == seg.st02
        elif seg.sid == "GE":
            assert int(seg.el(1)) == sets_in_gs
            assert seg.el(2) == gs_stack[-1].el(6)
        elif seg.sid == "IEA":
            assert int(seg.el(1)) == groups_in_isa
    st02s = [s.el(2) for s in doc.segments if s.sid == "ST"]
    assert len(st02s) == len(set(st02s)) == g.summary.transactions
    for tx in transactions(doc):
        bht = tx[1]
        assert bht.sid == "BHT" and bht.elements[1:3] == ("0019", "00") and bht.el(6) == "CH"
        assert [s.sid for s in tx[2:5]] == ["NM1", "PER", "NM1"]
        assert tx[2].el(1) == "41" and tx[4].el(1) == "40"


@FAST
@given(generated_files())
def test_counts_match_summary(g: Generated) -> None:
    doc = read(g.text)
    s = g.summary
    clms = [seg for seg in doc.segments if seg.sid == "CLM"]
    assert s.claims == len(clms) == g.options.claims
    assert s.service_lines == sum(seg.sid == "LX" for seg in doc.segments)
    assert s.segments == len(doc.segments)
    assert s.characters == len(g.text)
    assert s.transactions == sum(seg.sid == "ST" for seg in doc.segments)
    assert s.groups == sum(seg.sid == "GS" for seg in doc.segments)
    assert s.claim_ids == tuple(seg.el(1) for seg in clms)
    assert len(set(s.claim_ids)) == len(s.claim_ids), "CLM01 unique in the file"
    assert s.line_counts == tuple(len(c.lines) for c in claims(doc))
    for info, seg in zip(s.claim_details, clms, strict=True):
        assert (info.position, info.st02, info.charge) == (seg.position, seg.st02, seg.el(2))
    assert all(1 <= n <= g.options.max_lines for n in s.line_counts)


@FAST
@given(generated_files())
def test_claim_charge_is_sum_of_lines(g: Generated) -> None:
    amount = re.compile(r"(0|[1-9]\d*)(\.\d?[1-9])?")  # X12 R, no trailing zeros
    for claim in claims(read(g.text)):
        assert amount.fullmatch(claim.clm.el(2))
        for line in claim.lines:
            assert amount.fullmatch(line.charge), line.charge
        assert Decimal(claim.clm.el(2)) == sum(Decimal(ln.charge) for ln in claim.lines)


@FAST
@given(generated_files())
def test_hierarchy(g: Generated) -> None:
    doc = read(g.text)
    for tx in transactions(doc):
        hls = [s for s in tx if s.sid == "HL"]
        levels: dict[str, str] = {}
        for n, hl in enumerate(hls, 1):
            assert hl.el(1) == str(n), "HL01 sequential from 1"
            level, parent = hl.el(3), hl.el(2)
            levels[hl.el(1)] = level
            if level == "20":
                assert parent == ""
            else:
                assert levels[parent] == {"22": "20", "23": "22"}[level]
            has_child = any(h.el(2) == hl.el(1) for h in hls)
            assert hl.el(4) == ("1" if has_child else "0")
        for i, seg in enumerate(tx):
            if seg.sid == "HL" and seg.el(3) == "22":
                sbr = tx[i + 1]
                assert sbr.sid == "SBR"
                dependents = any(h.el(2) == seg.el(1) for h in hls)
                assert sbr.el(2) == ("" if dependents else "18")
            if seg.sid == "HL" and seg.el(3) == "23":
                assert tx[i + 1].sid == "PAT" and tx[i + 1].el(1) not in ("", "18")
                assert tx[i + 2].elements[:3] == ("NM1", "QC", "1")


# --------------------------------------------------------------------------------------------
# Content that the dental rules will judge
# --------------------------------------------------------------------------------------------

ANTERIOR = {6, 7, 8, 9, 10, 11, 22, 23, 24, 25, 26, 27}
PREMOLAR = {4, 5, 12, 13, 20, 21, 28, 29}
QUADRANT = {t: ("10", "20", "30", "40")[(t - 1) // 8] for t in range(1, 33)}
SURFACES = {"restorative": set("MDLFIBO"), "anterior": set("MDLFI"), "posterior": set("MDLBO")}
SURFACE_CODES = {
    **{c: (n, "posterior") for n, c in enumerate(("D2140", "D2150", "D2160", "D2161"), 1)},
    **{c: (n, "anterior") for n, c in enumerate(("D2330", "D2331", "D2332", "D2335"), 1)},
    **{c: (n, "posterior") for n, c in enumerate(("D2391", "D2392", "D2393", "D2394"), 1)},
}
NO_TOOTH = {
    "D0120",
    "D0150",
    "D0210",
    "D0274",
    "D1110",
    "D1120",
    "D4910",
    "D9910",
    "D4341",
    "D4342",
}
ONE_TOOTH = {"D2740", "D2750", "D3310", "D3320", "D3330", "D7140", "D7210", "D6010", "D6011"}
SAME_DAY_CONFLICTS = [
    {"D0120", "D0150"},
    {"D0210", "D0274"},
    {"D1110", "D1120"},
    {"D1110", "D4341"},
    {"D1110", "D4342"},
    {"D1110", "D4910"},
    {"D4910", "D4341"},
    {"D4910", "D4342"},
    {"D9910", "D9911"},
    {"D9911", "D4341"},
    {"D9911", "D4342"},
    {"D9911", "D4910"},
    {"D6010", "D6011"},
]


def age(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def check_line(line: Line, patient_age: int) -> None:
    code, teeth = line.code, line.teeth
    numbers = [int(t) for t, _ in teeth]
    assert all(1 <= n <= 32 for n in numbers), "permanent teeth only"
    if code in NO_TOOTH:
        assert not teeth
        assert line.units == "1"
        if code in ("D4341", "D4342"):
            assert line.area in ("10", "20", "30", "40")
        else:
            assert line.area == ""
    elif code in SURFACE_CODES:
        count, kind = SURFACE_CODES[code]
        assert len(teeth) == 1 and line.units == "1"
        (tooth, surfaces), n = teeth[0], numbers[0]
        assert (n in ANTERIOR) == (kind == "anterior"), (code, tooth)
        assert len(set(surfaces)) == len(surfaces)
        assert set(surfaces) <= SURFACES[kind], (code, tooth, surfaces)
        assert len(surfaces) == count if count < 4 else len(surfaces) >= 4
    elif code in ONE_TOOTH:
        assert len(teeth) == 1 and teeth[0][1] == () and line.units == "1"
        n = numbers[0]
        if code in ("D2740", "D2750"):
            assert line.prosthesis == "I"
        if code == "D3310":
            assert n in ANTERIOR
        if code == "D3320":
            assert n in PREMOLAR
        if code == "D3330":
            assert n not in ANTERIOR and n not in PREMOLAR
    elif code == "D9911":
        assert int(line.units) == len(teeth) >= 1, "one unit per tooth listed"
        for n, (_, surfaces) in zip(numbers, teeth, strict=True):
            assert surfaces == (("F",) if n in ANTERIOR else ("B",))
    else:
        raise AssertionError(f"unexpected code {code}")
    if code == "D1110":
        assert patient_age >= 14
    if code == "D1120":
        assert patient_age < 14
    if patient_age < 14:
        assert code in ("D0120", "D0150", "D1120")


@FAST
@given(generated_files())
def test_dental_content_is_clean(g: Generated) -> None:
    doc = read(g.text)
    bht_dates = {tx[1].st02: d8(tx[1].el(4)) for tx in transactions(doc)}
    for seg in doc.segments:
        if seg.sid in ("NM1",) and seg.el(8) == "XX":
            assert npi_ok(seg.el(9)), seg
        if seg.sid == "NTE":
            note = seg.el(2)
            assert seg.el(1) == "ADD" and 1 <= len(note) <= 80
    for tx in transactions(doc):
        for i, seg in enumerate(tx):
            if seg.sid == "NM1" and seg.el(1) == "85":
                n3, n4, ref = tx[i + 1], tx[i + 2], tx[i + 3]
                assert n3.sid == "N3" and "BOX" not in n3.el(1)
                assert n4.sid == "N4" and re.fullmatch(r"\d{9}", n4.el(3))
                assert ref.sid == "REF" and ref.el(1) == "EI" and re.fullmatch(r"\d{9}", ref.el(2))
    all_claims = claims(doc)
    placements: dict[tuple[str, str], str] = {}
    scaled: dict[str, set[str]] = {}  # patient -> quadrants scaled (SRP) earlier in the file
    for claim in all_claims:
        st02 = claim.clm.st02
        assert st02 is not None
        dates = {claim.date} | {ln.date for ln in claim.lines}
        dates.discard("")
        assert len(dates) <= 1, "one visit per claim"
        if dates:
            day = d8(dates.pop())
            assert claim.birth < day <= bht_dates[st02] <= TODAY
        else:
            day = bht_dates[st02]
        patient_age = age(claim.birth, day)
        codes = [ln.code for ln in claim.lines]
        for line in claim.lines:
            check_line(line, patient_age)
        for pair in SAME_DAY_CONFLICTS:
            assert not pair <= set(codes), (pair, codes)
        teeth = [t for ln in claim.lines for t, _ in ln.teeth]
        assert len(teeth) == len(set(teeth)), "one procedure per tooth per visit"
        areas = [ln.area for ln in claim.lines if ln.area]
        assert len(areas) == len(set(areas))
        for line in claim.lines:
            if line.code == "D6010":
                placements[(claim.patient, line.teeth[0][0])] = claim.date or line.date
            if line.code in ("D4341", "D4342"):
                scaled.setdefault(claim.patient, set()).add(line.area)
            if line.code == "D9911":
                assert g.options.notes and claim.notes
                note = claim.notes[0].lower()
                assert "resin" in note and all(f"#{t}" in note for t, _ in line.teeth)
                if "after srp" in note:
                    quadrants = {QUADRANT[int(t)] for t, _ in line.teeth}
                    assert quadrants <= scaled[claim.patient], "post-SRP teeth were scaled"
                    assert not any(c.code.startswith("D43") for c in claim.lines)
            if line.code == "D6011":
                tooth = line.teeth[0][0]
                placed = placements[(claim.patient, tooth)]  # an earlier claim placed it
                if placed:  # files without any DTP*472 still name the date in the NTE
                    assert d8(placed) < day
                    assert any(f"#{tooth} on {d8(placed):%m/%d/%Y}" in n for n in claim.notes)
                assert any(n.startswith(f"D6010 placed #{tooth} on ") for n in claim.notes)
                assert "G1" in claim.refs and "RB" in claim.pwk


def test_no_implants_or_d9911_without_their_paperwork() -> None:
    for flag in ("notes", "prior_auth", "attachments", "implants"):
        opts = attrs.evolve(GenOptions(claims=300), **{flag: False})
        doc = read(generate(5, opts).text)
        codes = {ln.code for c in claims(doc) for ln in c.lines}
        assert not codes & {"D6010", "D6011"}
        if flag == "notes":
            assert "D9911" not in codes
            assert not [s for s in doc.segments if s.sid == "NTE"]


def test_a_large_mix_uses_every_procedure() -> None:
    g = generate(11, GenOptions(claims=1500, max_lines=50, keep_claims=True))
    codes = {c for info in g.summary.claim_details for c in info.codes}
    expected = {
        "D0120", "D0150", "D0210", "D0274", "D1110", "D1120", "D2140", "D2150", "D2160", "D2161",
        "D2330", "D2331", "D2332", "D2335", "D2391", "D2392", "D2393", "D2394", "D2740", "D2750",
        "D3310", "D3320", "D3330", "D4341", "D4342", "D4910", "D6010", "D6011", "D7140", "D7210",
        "D9910", "D9911",
    }  # fmt: skip
    assert codes == expected
    assert any(info.dependent for info in g.summary.claim_details)
    assert max(g.summary.line_counts) > 8


# --------------------------------------------------------------------------------------------
# Determinism and streaming
# --------------------------------------------------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(gen_options(), st.integers(0, 2**32 - 1))
def test_same_seed_same_bytes(opts: GenOptions, seed: int) -> None:
    first = generate(seed, opts)
    assert generate(seed, opts) == first
    assert generate(random.Random(seed), opts).text == first.text


def test_different_seeds_differ() -> None:
    assert generate(1).text != generate(2).text


@settings(max_examples=10, deadline=None)
@given(gen_options(), st.integers(0, 2**32 - 1))
def test_streaming_writer_matches_generate(
    tmp_path_factory: Any, opts: GenOptions, seed: int
) -> None:
    path = tmp_path_factory.mktemp("stream") / "out.837"
    with path.open("w", encoding="ascii", newline="") as fp:
        summary = write_interchange(fp, random.Random(seed), opts)
    expected = generate(seed, opts)
    assert path.read_bytes() == expected.text.encode("ascii")
    assert summary == expected.summary


def test_streaming_flushes_in_chunks() -> None:
    class Counting(io.StringIO):
        writes = 0

        def write(self, s: str) -> int:
            Counting.writes += 1
            return super().write(s)

    fp = Counting()
    summary = write_interchange(fp, random.Random(3), GenOptions(claims=2000))
    assert Counting.writes > 5, "a big file is written in pieces, not built whole"
    assert summary.claim_details == (), "per-claim data only when asked"


# --------------------------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------------------------


def test_options_reject_impossible_values() -> None:
    with pytest.raises(ValueError):
        Delimiters("*", "*", "^", "~")
    with pytest.raises(ValueError):
        Delimiters(".", ":", "^", "~")  # '.' occurs in amounts
    with pytest.raises(ValueError):
        GenOptions(max_lines=51)
    with pytest.raises(ValueError):
        GenOptions(max_lines=0)
    with pytest.raises(ValueError):
        GenOptions(claims=3, transactions=2, groups=2)
    with pytest.raises(ValueError):
        GenOptions(line_break="\r")
    with pytest.raises(ValueError):
        GenOptions(dependent_share=1.5)


def test_options_shape_the_file() -> None:
    opts = GenOptions(claims=12, providers=3, dependent_share=1.0, interchanges=2, groups=2)
    doc = read(generate(4, opts).text)
    assert sum(s.sid == "ISA" for s in doc.segments) == 2
    assert sum(s.sid == "GS" for s in doc.segments) == 4
    billing = [s for s in doc.segments if s.sid == "HL" and s.el(3) == "20"]
    assert len(billing) == 4 * 3
    assert all(s.el(2) == "" for s in doc.segments if s.sid == "SBR"), "all patients dependents"
    assert not [s for s in doc.segments if s.sid == "SBR" and s.el(2) == "18"]
    none = read(generate(4, GenOptions(claims=12, dependent_share=0.0)).text)
    assert not [s for s in none.segments if s.sid == "PAT"]
    empty = generate(4, GenOptions(claims=0)).text
    assert "CLM" not in empty and "HL*2*1*22*0" in empty


def test_make_npi_is_luhn_valid() -> None:
    rng = random.Random(0)
    assert all(npi_ok(make_npi(rng)) for _ in range(500))
    assert npi_ok("1234567893") and not npi_ok("1234567890")


def test_line_breaks() -> None:
    for lb in ("", "\n", "\r\n"):
        text = generate(2, GenOptions(claims=3, line_break=lb)).text
        assert text.endswith("~" + lb)
        assert text.count("~" + lb) == text.count("~")


# --------------------------------------------------------------------------------------------
# Mutations
# --------------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(mutated_files())
def test_mutation_is_exactly_one_fault(m: MutatedFile) -> None:
    before = read(m.original.text)
    after = read(m.mutation.text)
    mut = m.mutation
    if mut.kind.startswith("missing-"):
        assert len(after.segments) == len(before.segments) - 1
        gone = [s for s in before.segments if (s.st02, s.position) == (mut.st02, mut.position)]
        assert [s.sid for s in gone] == [mut.segment_id]
        if mut.kind == "missing-n3":
            i = before.segments.index(gone[0])
            assert before.segments[i - 1].elements[:2] == ("NM1", "85")
        # SE01 recomputed: the deletion is the only fault.
        for seg in after.segments:
            if seg.sid == "SE":
                assert int(seg.el(1)) == seg.position
        return
    assert len(after.segments) == len(before.segments)
    changed = [(b, a) for b, a in zip(before.segments, after.segments, strict=True) if b != a]
    assert len(changed) == 1
    b, a = changed[0]
    assert a.sid == mut.segment_id and a.position == mut.position and a.st02 == mut.st02
    assert mut.element is not None and mut.value is not None
    if mut.kind == "control-mismatch":
        assert mut.position is None and a.el(2) == mut.value
        isa = [s for s in after.segments if s.sid == "ISA"]
        assert all(i.el(13) != a.el(2) for i in isa)
        return
    field = int(mut.element[len(mut.segment_id) :])
    value = a.el(field)
    if mut.component is not None:
        value = value.split(after.component)[mut.component - 1]
    assert (
        value
        == mut.value
        != (
            b.el(field).split(before.component)[mut.component - 1] if mut.component else b.el(field)
        )
    )
    if mut.kind == "too-long-clm01":
        assert len(value) > 38
    if mut.kind == "se-count":
        assert int(value) != a.position


def test_mutate_rejects_missing_target() -> None:
    text = generate(1, GenOptions(claims=1, max_lines=1)).text
    kinds = applicable_kinds(text)
    assert set(MUTATION_KINDS) - set(kinds) <= {"bad-code-too01"}
    if "bad-code-too01" not in kinds:
        with pytest.raises(ValueError):
            mutate(text, random.Random(0), "bad-code-too01")


# --------------------------------------------------------------------------------------------
# pyx12 with our 837D map: generated files are clean, mutated ones are not
# --------------------------------------------------------------------------------------------

HAVE_MAP = importlib.util.find_spec("x12dental.mapfolder") is not None
needs_map = pytest.mark.skipif(not HAVE_MAP, reason="x12dental.mapfolder not available yet")


def pyx12_check(path: Path) -> tuple[bool, dict[str, Any]]:
    import pyx12.params
    import pyx12.x12n_document

    from x12dental.mapfolder import map_folder

    out = io.StringIO()
    ok = pyx12.x12n_document.x12n_document(
        pyx12.params.params(),
        str(path),
        fd_997=None,
        fd_html=None,
        fd_json=out,
        map_path=str(map_folder()),
    )
    text = out.getvalue()
    return bool(ok), json.loads(text) if text else {}


def pyx12_errors(doc: Any) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(node, error) pairs from pyx12's JSON; node is the segment dict when there is one."""
    found: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def walk(node: Any, owner: dict[str, Any]) -> None:
        if isinstance(node, dict):
            owner = node if "seg_id" in node else owner
            for err in node.get("errors", []):
                found.append((owner, err))
            for key, value in node.items():
                if key != "errors":
                    walk(value, owner)
        elif isinstance(node, list):
            for item in node:
                walk(item, owner)

    walk(doc, {})
    return found


PYX12_CASES = [
    GenOptions(claims=60, providers=3, dependent_share=0.4, max_lines=50),
    GenOptions(claims=30, line_break="", delimiters=Delimiters("|", ">", "^", "~")),
    GenOptions(claims=20, line_break="\r\n", interchanges=2, groups=2, transactions=2),
    GenOptions(claims=20, notes=False, attachments=False, line_dates=False, line_control=False),
    GenOptions(claims=12, delimiters=Delimiters("+", ":", "`", "'"), isa14="1", usage="P"),
    GenOptions(claims=0),
]


@needs_map
@pytest.mark.parametrize("case", range(len(PYX12_CASES)))
def test_pyx12_accepts_generated_files(tmp_path: Path, case: int) -> None:
    path = tmp_path / "clean.837"
    path.write_text(generate(100 + case, PYX12_CASES[case]).text, encoding="ascii", newline="")
    ok, doc = pyx12_check(path)
    assert ok, json.dumps(pyx12_errors(doc)[:5], indent=1)
    assert not pyx12_errors(doc)


@needs_map
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated_files(gen_options(max_claims=12)))
def test_pyx12_accepts_drawn_files(tmp_path_factory: Any, g: Generated) -> None:
    path = tmp_path_factory.mktemp("pyx12") / "drawn.837"
    path.write_text(g.text, encoding="ascii", newline="")
    ok, doc = pyx12_check(path)
    assert ok, (g.options, json.dumps(pyx12_errors(doc)[:5], indent=1))


@needs_map
@pytest.mark.parametrize("kind", MUTATION_KINDS)
def test_pyx12_rejects_each_mutation(tmp_path: Path, kind: MutationKind) -> None:
    g = generate(21, GenOptions(claims=8, providers=2))
    m = mutate(g.text, random.Random(5), kind)
    path = tmp_path / "bad.837"
    path.write_text(m.text, encoding="ascii", newline="")
    ok, doc = pyx12_check(path)
    assert not ok
    errors = pyx12_errors(doc)
    assert errors
    if m.position is not None and kind != "se-count":
        # pyx12 counts from ST as we do; its first complaint is at the mutated segment (or, for
        # a deleted one, at the segment now in its place).
        at = [owner["seg_count"] for owner, _ in errors if "seg_count" in owner]
        assert at and at[0] == m.position, errors[:3]


# --------------------------------------------------------------------------------------------
# samples/
# --------------------------------------------------------------------------------------------


def sample_table() -> dict[str, int]:
    """file -> expected exit status, from samples/README.md."""
    rows: dict[str, int] = {}
    for line in (SAMPLES / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        if len(cells) >= 3 and cells[0].startswith("`") and cells[0].endswith(".837`"):
            rows[cells[0].strip("`")] = int(cells[-1])
    return rows


def test_samples_readme_lists_every_sample() -> None:
    if not SAMPLES.is_dir():
        pytest.skip("no samples folder")
    on_disk = {p.relative_to(SAMPLES).as_posix() for p in SAMPLES.rglob("*.837")}
    table = sample_table()
    assert set(table) == on_disk
    assert table["clean-batch.837"] == 0
    assert {table[f"bad/{n}.837"] for n in ("empty", "binary", "not-x12", "isa-wrong-length")} == {
        2
    }


@needs_map
def test_clean_batch_sample_passes_pyx12() -> None:
    path = SAMPLES / "clean-batch.837"
    if not path.exists():
        pytest.skip("no clean-batch sample")
    ok, doc = pyx12_check(path)
    assert ok, json.dumps(pyx12_errors(doc)[:5], indent=1)
    codes = {ln.code for c in claims(read(path.read_text(encoding="ascii"))) for ln in c.lines}
    assert {"D6010", "D6011", "D9911", "D4341"} <= codes


def test_missing_clm_spares_a_claim_that_follows_a_service_line() -> None:
    # Two claims of one subscriber: without the second CLM, that claim's DTP*472 reads as
    # the first claim's line date, and the fault shows later. Only a claim right after the
    # subscriber's (or patient's) loops is a fair target.
    options = GenOptions(
        claims=2,
        claims_per_provider=2,
        dependent_share=0.0,
        max_lines=1,
        line_break="",
        claim_dates=True,
        line_dates=False,
    )
    text = generate(0, options).text
    segments = [s.split("*")[0] for s in text.split("~")]
    st = segments.index("ST")
    assert segments.count("CLM") == 2 and segments.count("HL") == 2  # one subscriber
    for seed in range(20):
        mut = mutate(text, random.Random(seed), "missing-clm")
        assert mut.position is not None
        deleted = st + mut.position - 1  # (position counts from ST = 1)
        assert segments[deleted] == "CLM"
        before = [s for s in segments[:deleted] if s in ("HL", "LX", "CLM")]
        assert before[-1] == "HL", seed
