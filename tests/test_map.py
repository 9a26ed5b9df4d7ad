"""The 837D pyx12 map and the assembled map folder.

pyx12 is our oracle for X12 structure (SNIP 1-2), so these tests check the map three
ways: as a file (pyx12's XSD, and the generator reproducing it from the reference), as a
tree pyx12 loads (every loop of reference §8 where it belongs), and by behaviour (the
public 837D corpus validates the way its sources say it should, and deliberate defects
are caught).
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import io
import logging
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import pyx12.errors
import pyx12.map_if
import pyx12.map_index
import pyx12.params
import pyx12.segment
import pyx12.x12n_document
from lxml import etree

from x12dental import mapfolder
from x12dental.mapfolder import DENTAL_MAP_FILE, DENTAL_VERSIONS, PREFERRED_VERSION, map_folder
from x12dental.resources import data_dir

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(__file__).parents[1] / ".." / "shared" / "corpus" / "public"
REFERENCE = REPO.parent / "shared" / "reference" / "837D-5010-structure.md"
GENERATOR = REPO / "maps" / "tools" / "build_837d_map.py"
PYX12_MAPS = importlib.resources.files("pyx12").joinpath("map")

# The X12 example files (X224A2) stupidedi ships as "pass" fixtures, plus EdiFabric's.
STUPIDEDI_837 = [
    "claim-from-billing-provider-to-payer-a.edi",
    "claim-from-billing-provider-to-payer-b.edi",
    "claim-multi-quantity-single-line.edi",
    "commercial-health-insurance.edi",
    "multiple-tooth-numbers.edi",
    "orthodontic-treatment-plan.edi",
    "predetermination-of-benefits.edi",
    "sales-tax.edi",
]
CLAREDI_CASES = ["1", "2a", "2b", "3", "4"]

ROOT = "/ISA_LOOP/GS_LOOP/ST_LOOP"
DETAIL = f"{ROOT}/DETAIL/2000A"
CLAIM_LOOPS = [
    "2300",
    "2300/2310A",
    "2300/2310B",
    "2300/2310C",
    "2300/2310D",
    "2300/2310E",
    "2300/2320",
    *[f"2300/2320/2330{x}" for x in "ABCDEFGH"],
    "2300/2400",
    *[f"2300/2400/2420{x}" for x in "ABCD"],
    "2300/2400/2430",
]
LOOP_PATHS = [
    f"{ROOT}/HEADER/1000A",
    f"{ROOT}/HEADER/1000B",
    DETAIL,
    f"{DETAIL}/2010AA",
    f"{DETAIL}/2010AB",
    f"{DETAIL}/2010AC",
    f"{DETAIL}/2000B",
    f"{DETAIL}/2000B/2010BA",
    f"{DETAIL}/2000B/2010BB",
    *[f"{DETAIL}/2000B/{p}" for p in CLAIM_LOOPS],
    f"{DETAIL}/2000B/2000C",
    f"{DETAIL}/2000B/2000C/2010CA",
    *[f"{DETAIL}/2000B/2000C/{p}" for p in CLAIM_LOOPS],
]


# --------------------------------------------------------------------------- helpers
class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def validate(source: bytes, tmp_path: Path) -> tuple[bool, list[str]]:
    """Run pyx12's own validator with our map folder; return (valid, error messages).

    Errors are read from the `pyx12` logger: pyx12's JSON output silently drops
    element errors on ST (e.g. a wrong ST03), while the logger reports every error.
    """
    path = tmp_path / "input.x12"
    path.write_bytes(source)
    handler = _Collect()
    logger = logging.getLogger("pyx12")
    # The application silences pyx12's logger (it reports findings itself); listen anyway.
    saved = (logger.level, logging.root.manager.disable)
    logger.setLevel(logging.ERROR)
    logging.disable(logging.NOTSET)
    logger.addHandler(handler)
    try:
        valid = pyx12.x12n_document.x12n_document(
            pyx12.params.params(),
            str(path),
            fd_997=None,
            fd_html=None,
            fd_json=io.StringIO(),
            map_path=str(map_folder()),
        )
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logging.disable(saved[1])
    return valid, handler.messages


def from_isa(data: bytes) -> bytes:
    """The Claredi files open with prose; X12 starts at the first ISA."""
    return data[data.index(b"ISA") :]


def recount_se(text: str) -> str:
    """Fix SE01 after a test adds or removes segments (one ST per test file)."""
    segs = [s for s in text.split("~") if s.strip()]
    st = next(i for i, s in enumerate(segs) if s.strip().startswith("ST*"))
    se = next(i for i, s in enumerate(segs) if s.strip().startswith("SE*"))
    parts = segs[se].strip().split("*")
    segs[se] = f"{parts[0]}*{se - st + 1}*{parts[2]}"
    return "~".join(segs) + "~"


def corpus_file(*parts: str) -> Path:
    path = CORPUS.joinpath(*parts)
    if not path.is_file():
        pytest.skip(f"public corpus not available ({path})")
    return path


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_837d_map", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    write_bytecode = sys.dont_write_bytecode
    sys.dont_write_bytecode = True  # keep maps/ free of __pycache__ (it ships in the wheel)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = write_bytecode
    return module


@pytest.fixture(scope="module")
def dental_map() -> pyx12.map_if.map_if:
    return pyx12.map_if.load_map_file(
        DENTAL_MAP_FILE, pyx12.params.params(), map_path=str(map_folder())
    )


def _segments(node: pyx12.map_if.x12_node) -> Iterator[pyx12.map_if.segment_if]:
    for child in node.loop_segment_iterator():
        if isinstance(child, pyx12.map_if.segment_if):
            yield child


# --------------------------------------------------------------------------- the file
def test_map_validates_against_pyx12_xsd() -> None:
    # map.xsd is the schema of the element-style maps (pyx12's 837P 5010 map included);
    # map.v2.xsd is for the attribute-style "*.v2.xml" maps.
    schema = etree.XMLSchema(etree.fromstring(PYX12_MAPS.joinpath("map.xsd").read_bytes()))
    pyx12_837p = etree.fromstring(PYX12_MAPS.joinpath("837.5010.X222.A1.xml").read_bytes())
    assert schema.validate(pyx12_837p), "map.xsd is not the schema of pyx12's 5010 maps"
    ours = etree.parse(str(data_dir("maps") / DENTAL_MAP_FILE))
    assert schema.validate(ours), schema.error_log


def test_generator_reproduces_committed_map() -> None:
    if not REFERENCE.is_file():
        pytest.skip(f"reference not available ({REFERENCE})")
    generator = load_generator()
    committed = (data_dir("maps") / DENTAL_MAP_FILE).read_text(encoding="utf-8")
    assert generator.build(REFERENCE.read_text(encoding="utf-8")) == committed, (
        "maps/837.5010.X224.A2.xml is out of date: run maps/tools/build_837d_map.py"
    )


# --------------------------------------------------------------------------- the tree
@pytest.mark.parametrize("path", LOOP_PATHS)
def test_loop_is_in_place(dental_map: pyx12.map_if.map_if, path: str) -> None:
    node = dental_map.getnodebypath(path)
    assert node is not None and node.is_loop()
    assert node.id == path.rsplit("/", 1)[1]


def test_claim_loop_required_only_under_patient(dental_map: pyx12.map_if.map_if) -> None:
    assert dental_map.getnodebypath(f"{DETAIL}/2000B/2300").usage == "S"
    assert dental_map.getnodebypath(f"{DETAIL}/2000B/2000C/2300").usage == "R"
    under_subscriber = [
        s.get_path() for s in _segments(dental_map.getnodebypath(f"{DETAIL}/2000B/2300"))
    ]
    under_patient = [
        s.get_path() for s in _segments(dental_map.getnodebypath(f"{DETAIL}/2000B/2000C/2300"))
    ]
    assert [p.replace("/2000C", "") for p in under_patient] == under_subscriber


def test_qualifier_keyed_repeats_are_distinguishable(dental_map: pyx12.map_if.map_if) -> None:
    """pyx12 takes the first sibling whose qualifier matches: the code sets must not overlap."""
    for node in dental_map.loop_segment_iterator():
        if not isinstance(node, pyx12.map_if.loop_if):
            continue
        for siblings in node.pos_map.values():
            segs = [s for s in siblings if isinstance(s, pyx12.map_if.segment_if)]
            by_id: dict[str | None, list[pyx12.map_if.segment_if]] = {}
            for seg in segs:
                by_id.setdefault(seg.id, []).append(seg)
            for same in by_id.values():
                if len(same) < 2:
                    continue
                seen: set[str | None] = set()
                for seg in same:
                    key = seg.guess_unique_key_id_element()
                    assert key is not None and key.valid_codes, seg.get_path()
                    assert not seen & set(key.valid_codes), seg.get_path()
                    seen |= set(key.valid_codes)
            # Sibling loops at one position are told apart by their first segment.
            loops = [c for c in siblings if isinstance(c, pyx12.map_if.loop_if)]
            if len(loops) < 2:
                continue
            firsts = [c.get_first_seg() for c in loops if c.get_first_seg() is not None]
            codes: set[str | None] = set()
            for first in firsts:
                key = first.guess_unique_key_id_element()
                assert key is not None and key.valid_codes, first.get_path()
                assert not codes & set(key.valid_codes), first.get_path()
                codes |= set(key.valid_codes)


def test_dental_specifics(dental_map: pyx12.map_if.map_if) -> None:
    line = f"{DETAIL}/2000B/2300/2400"
    too = dental_map.getnodebypath(f"{line}/TOO")
    assert too.get_child_node_by_ordinal(1).valid_codes == ["JP"]
    assert too.get_child_node_by_ordinal(3).children[0].valid_codes == list("BDFILMO")
    sv3 = dental_map.getnodebypath(f"{line}/SV3")
    assert sv3.get_child_node_by_ordinal(1).children[0].valid_codes == ["AD"]
    assert sv3.get_child_node_by_ordinal(3).external_codes == "pos"
    clm = dental_map.getnodebypath(f"{DETAIL}/2000B/2300/CLM")
    assert clm.get_child_node_by_ordinal(5).children[0].external_codes == "pos"
    assert clm.get_child_node_by_ordinal(5).children[1].valid_codes == ["B"]
    assert clm.get_child_node_by_ordinal(19).valid_codes == ["PB"]
    hl_codes = {
        p: dental_map.getnodebypath(p + "/HL").get_child_node_by_ordinal(3).valid_codes
        for p in (DETAIL, f"{DETAIL}/2000B", f"{DETAIL}/2000B/2000C")
    }
    assert list(hl_codes.values()) == [["20"], ["22"], ["23"]]
    # Not-used elements are in the map, so that sending one is an error.
    nm1 = dental_map.getnodebypath(f"{ROOT}/HEADER/1000A/NM1")
    assert [e.usage for e in nm1.children] == list("RRRSSNNRRNNN")


def test_envelope_codes(dental_map: pyx12.map_if.map_if) -> None:
    gs = dental_map.getnodebypath("/ISA_LOOP/GS_LOOP/GS")
    assert gs.get_child_node_by_ordinal(1).valid_codes == ["HC"]
    assert set(gs.get_child_node_by_ordinal(8).valid_codes) == DENTAL_VERSIONS
    st = dental_map.getnodebypath(f"{ROOT}/ST")
    assert set(st.get_child_node_by_ordinal(3).valid_codes) == DENTAL_VERSIONS
    assert PREFERRED_VERSION in DENTAL_VERSIONS
    isa11 = dental_map.getnodebypath("/ISA_LOOP/ISA").get_child_node_by_ordinal(11)
    assert isa11.data_ele == "I65" and isa11.valid_codes == []


@pytest.mark.parametrize(
    ("version", "ok"),
    [
        ("005010X224A2", True),
        ("005010X224A1", True),
        ("005010X224A3", True),
        ("005010X224", False),
        ("005010X222A1", False),
    ],
)
def test_gs08_outside_the_dental_versions_is_a_map_error(
    dental_map: pyx12.map_if.map_if, version: str, ok: bool
) -> None:
    gs = dental_map.getnodebypath("/ISA_LOOP/GS_LOOP/GS")
    seg = pyx12.segment.Segment(f"GS*HC*SENDER*RECEIVER*20240101*1200*1*X*{version}", "~", "*", ":")
    valid, errors = gs.is_valid_errors(seg)
    assert valid is ok, errors


# --------------------------------------------------------------------------- the folder
def test_map_folder_holds_pyx12_maps_and_ours() -> None:
    folder = map_folder()
    for entry in PYX12_MAPS.iterdir():
        if entry.is_file() and entry.name not in ("maps.xml", "codes.xml"):
            assert (folder / entry.name).read_bytes() == entry.read_bytes(), entry.name
    # codes.xml is pyx12's plus the current postal codes its `states` list lacks.
    codes = (folder / "codes.xml").read_text()
    assert all(f"<code>{c}</code>" in codes for c in ("QC", "NL", "NU", "PQ", "OH"))
    assert (folder / DENTAL_MAP_FILE).read_bytes() == (
        data_dir("maps") / DENTAL_MAP_FILE
    ).read_bytes()
    index = pyx12.map_index.map_index(str(folder))
    for version in DENTAL_VERSIONS:
        assert index.get_filename("00501", version, "HC") == DENTAL_MAP_FILE
        assert index.get_abbr("00501", version, "HC") == "837D"
    assert index.get_filename("00501", "005010X224", "HC") is None
    assert index.get_filename("00501", "005010X222A1", "HC") == "837.5010.X222.A1.xml"
    # Everything pyx12 listed is still listed.
    original = pyx12.map_index.map_index()
    assert all(m in index.maps for m in original.maps)


def test_map_folder_is_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X12DENTAL_CACHE_DIR", str(tmp_path / "cache"))
    first = mapfolder._locate_or_build()
    assert first.parent == tmp_path / "cache"
    marker = first / "marker"
    marker.write_text("kept")
    assert mapfolder._locate_or_build() == first and marker.exists()
    assert [p.name for p in first.parent.iterdir()] == [first.name]  # no staging left over


def test_map_folder_tolerates_losing_the_race(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("X12DENTAL_CACHE_DIR", str(tmp_path / "cache"))
    real_rename = os.rename
    calls = []

    def rival_wins(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if not calls:  # another process finishes its copy first
            calls.append(dst)
            mapfolder._build(Path(dst), PYX12_MAPS, b"rival")
        real_rename(src, dst)  # ours now fails: the target exists and is not empty

    monkeypatch.setattr(mapfolder.os, "rename", rival_wins)
    folder = mapfolder._locate_or_build()
    assert calls == [folder]
    assert (folder / DENTAL_MAP_FILE).read_bytes() == b"rival"  # theirs, complete
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]


def test_unwritable_cache_falls_back_to_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("X12DENTAL_CACHE_DIR", str(blocker / "cache"))
    monkeypatch.setattr(mapfolder.tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    folder = mapfolder._locate_or_build()
    assert folder.parent.parent == tmp_path / "tmp"
    assert (folder / "maps.xml").is_file()


def test_cache_key_follows_our_map() -> None:
    assert mapfolder._content_key(b"a") != mapfolder._content_key(b"b")
    assert re.fullmatch(r"[0-9a-f]{16}", mapfolder._content_key(b"a"))


# --------------------------------------------------------------------------- the corpus
@pytest.mark.parametrize("name", STUPIDEDI_837)
def test_x12_examples_validate(name: str, tmp_path: Path) -> None:
    valid, errors = validate(corpus_file("stupidedi", name).read_bytes(), tmp_path)
    assert errors == [] and valid


def test_edifabric_sample_validates(tmp_path: Path) -> None:
    valid, errors = validate(corpus_file("edifabric", "DentalClaim.txt").read_bytes(), tmp_path)
    assert errors == [] and valid


@pytest.mark.parametrize("case", CLAREDI_CASES)
def test_claredi_good_files_validate(case: str, tmp_path: Path) -> None:
    data = from_isa(corpus_file("stupidedi-claredi", "X224-HC837", f"{case}-good.txt").read_bytes())
    assert b"*005010X224A1~" in data  # read with the same map as A2
    valid, errors = validate(data, tmp_path)
    assert errors == [] and valid


@pytest.mark.parametrize("case", CLAREDI_CASES)
def test_claredi_bad_files_fail(case: str, tmp_path: Path) -> None:
    data = from_isa(corpus_file("stupidedi-claredi", "X224-HC837", f"{case}-bad.txt").read_bytes())
    # GS01=XX: pyx12 finds no map for the group and stops with an exception, not a report.
    with pytest.raises(pyx12.errors.EngineError, match="Map not found"):
        validate(data, tmp_path)
    # With GS01 repaired the rest of the file reaches our map, which still rejects it.
    valid, errors = validate(data.replace(b"GS*XX*", b"GS*HC*", 1), tmp_path)
    assert not valid
    assert any("(005010X224) is not a valid code" in e and "ST03" in e for e in errors)
    assert any("(CLM07) is missing" in e for e in errors)
    if case in ("2b", "3"):  # DMG in 2320; DTP*D8*573 with swapped elements
        assert any("Segment DMG*D8 not found" in e for e in errors)
        assert any("Segment DTP*D8 not found" in e for e in errors)


# --------------------------------------------------------------------------- defects
def _example() -> str:
    path = corpus_file("stupidedi", "commercial-health-insurance.edi")
    return path.read_text(encoding="ascii").strip()


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("TOO*JP*12*M:O", "TOO*JP*12*M:X", "(X) is not a valid code for Tooth Surface Code"),
        ("SV3*AD:D2150", "SV3*HC:D2150", "Segment SV3*HC:D2150 not found"),
        ("SERVICE*****46*TGJ23", "SERVICE****JR*46*TGJ23", "(NM107) is marked as Not Used"),
        (
            "CLM*26403774*150***11:B:1",
            "CLM*26403774*150***11:A:1",
            "(A) is not a valid code for Facility Code Qualifier",
        ),
        ("ST*837*3456*005010X224A2", "ST*837*3456*005010X224", "(005010X224) is not a valid code"),
        ("DTP*472*D8*20061029", "DTP*472*D8*20061329", "contains an invalid date"),
    ],
)
def test_defects_are_reported(old: str, new: str, expected: str, tmp_path: Path) -> None:
    text = _example()
    assert old in text
    valid, errors = validate(text.replace(old, new, 1).encode(), tmp_path)
    assert not valid
    assert any(expected in e for e in errors), errors


def test_line_service_date_is_d8_only(tmp_path: Path) -> None:
    # §9: 2400 DTP*472 is D8 only (2300 allows RD8); an RD8 on the line is an error.
    text = _example().replace(
        "SV3*AD:D1110*50****1~", "SV3*AD:D1110*50****1~DTP*472*RD8*20061029-20061030~"
    )
    valid, errors = validate(recount_se(text).encode(), tmp_path)
    assert not valid and any("(RD8) is not a valid code" in e for e in errors), errors
    claim_level = _example().replace("DTP*472*D8*20061029", "DTP*472*RD8*20061029-20061030")
    assert validate(claim_level.encode(), tmp_path) == (True, [])


def test_many_providers_subscribers_patients_and_claims(tmp_path: Path) -> None:
    """No public 837D has more than one claim; build one with every level repeated."""
    segs = [s.strip() for s in _example().split("~") if s.strip()]
    head = segs[: segs.index("HL*1**20*1")]
    provider = segs[segs.index("HL*1**20*1") : segs.index("HL*2*1*22*1")]
    subscriber = segs[segs.index("HL*2*1*22*1") : segs.index("HL*3*2*23*0")]
    patient = segs[segs.index("HL*3*2*23*0") : segs.index("CLM*26403774*150***11:B:1*Y*A*Y*I")]
    claim = segs[len(head) + len(provider) + len(subscriber) + len(patient) : -3]
    trailer = segs[-3:]
    body: list[str] = []
    hl = 0
    for _ in range(2):
        hl += 1
        billing = hl
        body += [f"HL*{hl}**20*1", *provider[1:]]
        hl += 1
        parent = hl
        body += [f"HL*{hl}*{billing}*22*1", *subscriber[1:]]
        for _ in range(2):
            hl += 1
            body += [f"HL*{hl}*{parent}*23*0", *patient[1:], *claim, *claim]
        hl += 1
        body += [
            f"HL*{hl}*{billing}*22*0",
            "SBR*P*18*GRP******CI",
            "NM1*IL*1*DOE*JOHN****MI*222",
            "NM1*PR*2*INSURANCE COMPANY XYZ*****PI*66783JJT",
            *claim,
        ]
    text = recount_se("~".join([*head, *body, *trailer]) + "~")
    assert validate(text.encode(), tmp_path) == (True, [])


def test_shared_temp_folder_of_another_user_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("X12DENTAL_CACHE_DIR", str(blocker / "cache"))
    monkeypatch.setattr(mapfolder.tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(mapfolder, "_owned_by_us", lambda folder: False)
    folder = mapfolder._locate_or_build()
    assert folder.parent.parent == tmp_path / "tmp"
    assert folder.parent.name.startswith("x12dental-") and folder.parent.name != (
        f"x12dental-{mapfolder._user_tag()}"
    )
    assert (folder / "maps.xml").is_file()
