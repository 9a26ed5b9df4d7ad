"""999 acknowledgments: each code at the right place, and every 999 valid by pyx12's own map.

pyx12 knows X231A1 (`999.5010X231.A1.xml`), so every 999 written here is read back by
`x12n_document` and must come out without a single error: the acknowledgments leave our
hands as well-formed as the claims we ask of the submitters.
"""

from __future__ import annotations

import io
import json
import logging
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pyx12.params
import pyx12.x12n_document
from hypothesis import HealthCheck, given, settings

from x12dental.ack999 import write_999
from x12dental.ack_envelope import ReplyEnvelope
from x12dental.findings import Severity
from x12dental.packs import settings_from_packs
from x12dental.pipeline import FileResult, Options, check_bytes, check_path
from x12dental.synthetic import MUTATION_KINDS, GenOptions, applicable_kinds, generate, mutate

from .builders import TODAY, Claim, Line, build
from .conftest import CORPUS, SAMPLES
from .strategies import MutatedFile, generated_files, mutated_files

# pyx12's control map makes GS_LOOP mandatory, but X12 lets an interchange carry only a TA1;
# pyx12 logs (and does not count) that complaint for a TA1-only interchange.
_TA1_ONLY = 'Mandatory loop "Functional Group Header" (GS_LOOP) missing'


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _json_errors(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for item in node.get("errors", []) or []:
            yield str(item)
        for value in node.values():
            yield from _json_errors(value)
    elif isinstance(node, list):
        for value in node:
            yield from _json_errors(value)


def pyx12_errors(text: str) -> list[str]:
    """Every error pyx12 finds in an acknowledgment we wrote, read with its own maps.

    pyx12 logs errors through logging (x12dental silences it: values are PHI); they are
    collected here for the duration of one read, together with its JSON error tree.
    """
    logger = logging.getLogger("pyx12")
    handler = _Collect()
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.ERROR)
    logger.propagate = False
    out = io.StringIO()
    try:
        ok = pyx12.x12n_document.x12n_document(
            pyx12.params.params(), io.StringIO(text), fd_997=None, fd_html=None, fd_json=out
        )
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
    errors = list(_json_errors(json.loads(out.getvalue() or "{}")))
    errors += [m for m in handler.messages if _TA1_ONLY not in m]
    if not ok:
        errors.append("x12n_document returned False")
    return errors


def segments(text: str) -> list[list[str]]:
    """The segments of an acknowledgment, split with the delimiters its ISA declares."""
    element, terminator = text[3], text[105]
    return [s.strip("\r\n").split(element) for s in text.split(terminator) if s.strip("\r\n")]


def only(segs: list[list[str]], seg_id: str) -> list[list[str]]:
    return [s for s in segs if s[0] == seg_id]


def set_segments(segs: list[list[str]], st02: str) -> list[list[str]]:
    """The AK2 ... IK5 stretch of one acknowledged transaction set."""
    out: list[list[str]] = []
    inside = False
    for s in segs:
        if s[0] == "AK2":
            inside = s[2] == st02
        if inside:
            out.append(s)
            if s[0] == "IK5":
                inside = False
    return out


def ack(result: FileResult, **kw: bool) -> list[list[str]]:
    text = write_999(result, **kw)
    assert text is not None
    assert pyx12_errors(text) == []
    return segments(text)


def check(data: bytes | str) -> FileResult:
    raw = data.encode() if isinstance(data, str) else data
    return check_bytes(raw, "test.837")


CLEAN = build(Claim(lines=(Line("D0120"),), claim_id="PCN4471")).decode()


def two_sets(good: str, bad: str) -> str:
    """One group holding the transaction set of `good` (0001) and that of `bad` as 0002."""

    def body(text: str) -> list[str]:
        lines = text.splitlines()
        start = next(i for i, s in enumerate(lines) if s.startswith("ST*"))
        end = next(i for i, s in enumerate(lines) if s.startswith("SE*"))
        return lines[start : end + 1]

    second = body(bad)
    second[0] = second[0].replace("*0001*", "*0002*")
    second[-1] = second[-1].replace("*0001~", "*0002~")
    lines = good.splitlines()
    end = next(i for i, s in enumerate(lines) if s.startswith("SE*"))
    merged = lines[: end + 1] + second + ["GE*2*101~", "IEA*1*000000101~", ""]
    return "\n".join(merged)


# -- the cases --------------------------------------------------------------------------


def test_structural_error_in_a_claim_rejects_the_set_at_its_segment() -> None:
    text = build(Claim(lines=(Line("D0120"),), claim_id="PCN4471", extra=("DTP*439*D8*20261399",)))
    result = check(text)
    finding = next(f for f in result.findings if f.rule == "x12.element.invalid-date")
    segs = ack(result)
    ik3 = only(segs, "IK3")
    assert ik3 == [["IK3", "DTP", str(finding.location.segment_position), "2300", "8"]]
    assert only(segs, "CTX") == [["CTX", "CLM01:PCN4471"]]
    assert only(segs, "IK4") == [["IK4", "3", "1251", "8", "20261399"]]
    assert only(segs, "IK5")[0][1] == "R"
    assert only(segs, "AK9") == [["AK9", "R", "1", "1", "0"]]
    # The order the X231A1 loops require: IK3, its business-unit CTX, then its IK4.
    ids = [s[0] for s in set_segments(segs, "0001")]
    assert ids == ["AK2", "IK3", "CTX", "IK4", "IK5"]


def test_invalid_component_code_points_at_the_component() -> None:
    result = check_path(SAMPLES / "bad" / "invalid-code-value.837")
    finding = next(f for f in result.findings if f.rule == "x12.element.invalid-code")
    segs = ack(result)
    assert only(segs, "IK3") == [
        ["IK3", "CLM", str(finding.location.segment_position), "2300", "8"]
    ]
    assert only(segs, "CTX") == [["CTX", f"CLM01:{finding.claim_id}"]]
    assert only(segs, "IK4") == [["IK4", "5:2", "1332", "7", "A"]]
    assert only(segs, "IK5") == [["IK5", "R", "I5"]]


def test_clean_file_is_accepted() -> None:
    segs = ack(check(CLEAN))
    assert only(segs, "AK1") == [["AK1", "HC", "101", "005010X224A2"]]
    assert only(segs, "AK2") == [["AK2", "837", "0001", "005010X224A2"]]
    assert only(segs, "IK3") == []
    assert only(segs, "IK5") == [["IK5", "A"]]
    assert only(segs, "AK9") == [["AK9", "A", "1", "1", "1"]]


def test_two_sets_one_bad_is_partially_accepted() -> None:
    bad = build(Claim(lines=(Line("D0120"),), claim_id="BAD1", extra=("DTP*439*D8*20261399",)))
    result = check(two_sets(CLEAN, bad.decode()))
    segs = ack(result)
    assert only(set_segments(segs, "0001"), "IK5") == [["IK5", "A"]]
    assert only(set_segments(segs, "0002"), "IK5")[0][1] == "R"
    assert only(set_segments(segs, "0002"), "CTX") == [["CTX", "CLM01:BAD1"]]
    assert only(segs, "AK9") == [["AK9", "P", "2", "2", "1"]]


def test_se01_wrong_rejects_with_ik5_4() -> None:
    segs = ack(check_path(SAMPLES / "bad" / "se-count-wrong.837"))
    assert only(segs, "IK5") == [["IK5", "R", "4"]]
    assert only(segs, "AK9") == [["AK9", "R", "1", "1", "0"]]


def test_se02_wrong_rejects_with_ik5_3() -> None:
    text = CLEAN.replace("*0001~\nGE", "*0002~\nGE")
    assert only(ack(check(text)), "IK5") == [["IK5", "R", "3"]]


def test_missing_se_rejects_with_ik5_2_and_missing_ge_with_ak905_3() -> None:
    segs = ack(check_path(SAMPLES / "bad" / "truncated.837"))
    assert only(segs, "IK5") == [["IK5", "R", "2"]]
    # GE never came: AK902 counts the sets received.
    assert only(segs, "AK9") == [["AK9", "R", "1", "1", "0", "3"]]


def test_ge01_wrong_gives_ak905_5() -> None:
    segs = ack(check(CLEAN.replace("GE*1*101~", "GE*2*101~")))
    assert only(segs, "IK5") == [["IK5", "A"]]
    assert only(segs, "AK9") == [["AK9", "R", "2", "1", "1", "5"]]


def test_ge02_wrong_gives_ak905_4() -> None:
    segs = ack(check(CLEAN.replace("GE*1*101~", "GE*1*102~")))
    assert only(segs, "AK9") == [["AK9", "R", "1", "1", "1", "4"]]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(lambda: (SAMPLES / "bad" / "version-a1.837").read_bytes(), id="sample"),
        pytest.param(
            lambda: build(Claim(lines=(Line("D0120"),)), version="005010X224A1"), id="built"
        ),
    ],
)
def test_a1_version_is_a_warning_and_accepted(data: Any) -> None:
    result = check(data())
    assert any(f.rule == "x12.envelope.version-not-preferred" for f in result.findings)
    segs = ack(result)
    assert only(segs, "AK1")[0][3] == "005010X224A1"
    assert only(segs, "AK2")[0][3] == "005010X224A1"
    assert only(segs, "IK5") == [["IK5", "A"]]
    assert only(segs, "AK9")[0][:2] == ["AK9", "A"]


def test_warnings_do_not_reject() -> None:
    for name in ("prose-before-isa.837", "no-claims.837"):
        result = check_path(SAMPLES / "bad" / name)
        assert result.count(Severity.WARNING) >= 1 and result.count(Severity.ERROR) == 0
        assert only(ack(result), "AK9")[0][:2] == ["AK9", "A"]


def test_snip_3_7_only_when_asked() -> None:
    result = check_path(SAMPLES / "bad" / "clm02-not-balanced.837")
    finding = next(f for f in result.findings if f.rule == "balancing.claim-total")
    assert only(ack(result), "AK9") == [["AK9", "A", "1", "1", "1"]]
    segs = ack(result, include_snip_3_7=True)
    position = str(finding.location.segment_position)
    assert only(segs, "IK3") == [["IK3", "CLM", position, "2300", "8"]]
    assert only(segs, "CTX") == [["CTX", f"CLM01:{finding.claim_id}"]]
    assert only(segs, "IK4") == [["IK4", "2", "782", "I12"]]
    assert only(segs, "IK5") == [["IK5", "R", "I5"]]
    assert only(segs, "AK9") == [["AK9", "R", "1", "1", "0"]]


def test_strict_pack_asks_for_snip_3_7() -> None:
    strict = settings_from_packs(("example-strict",))
    assert strict.param("snip_3_7_in_999") is True
    result = check_path(SAMPLES / "bad" / "clm02-not-balanced.837", Options(settings=strict))
    segs = ack(result, include_snip_3_7=bool(strict.param("snip_3_7_in_999")))
    assert only(segs, "IK5")[0][1] == "R"


def test_rule_finding_without_element_is_an_i9_segment_note() -> None:
    claim = Claim(lines=(Line("D6011"),), claim_id="IMPL1", refs=(("G1", "PA1"),))
    result = check_bytes(build(claim), "t.837", Options(today=TODAY))
    finding = next(f for f in result.findings if f.rule == "implant.d6011-no-tooth")
    segs = ack(result, include_snip_3_7=True)
    note = ["IK3", "SV3", str(finding.location.segment_position), "2400", "I9"]
    assert note in only(segs, "IK3")


# -- envelope ---------------------------------------------------------------------------------


def test_envelope_parties_swapped_and_control_numbers_derived() -> None:
    result = check(CLEAN)
    text = write_999(result)
    assert text is not None
    segs = segments(text)
    inbound = result.interchange_list[0]
    isa, gs, st, se, ge, iea = (only(segs, k)[0] for k in ("ISA", "GS", "ST", "SE", "GE", "IEA"))
    assert (isa[5], isa[6].strip(), isa[7], isa[8].strip()) == (
        inbound.receiver_qualifier,
        inbound.receiver,
        inbound.sender_qualifier,
        inbound.sender,
    )
    assert isa[13] == ReplyEnvelope("999", inbound).control == iea[2]
    assert isa[13] != inbound.control
    assert isa[13] != ReplyEnvelope("277CA", inbound).control
    assert isa[13] != ReplyEnvelope("TA1", inbound).control
    assert len(isa[13]) == 9 and isa[13].isdigit()
    assert isa[14] == "0"  # no TA1 wanted for an acknowledgment
    group = result.groups[0]
    assert (gs[1], gs[2], gs[3], gs[8]) == ("FA", group.receiver, group.sender, "005010X231A1")
    assert gs[6] == ge[2] and gs[6].isdigit() and len(gs[6]) <= 9
    assert ge[1] == "1" and iea[1] == "1"
    assert (st[1], st[2], st[3]) == ("999", "0001", "005010X231A1")
    assert se[2] == st[2] and int(se[1]) == len(segs) - 4  # ST..SE, without ISA GS GE IEA


def test_each_received_group_gets_its_own_transaction_set() -> None:
    generated = generate(7, GenOptions(claims=4, groups=2, transactions=2))
    result = check(generated.text)
    segs = ack(result)
    assert [s[2] for s in only(segs, "AK1")] == [g.control for g in result.groups]
    assert len(only(segs, "ST")) == 2 and len(only(segs, "GS")) == 1
    assert [s[2] for s in only(segs, "ST")] == ["0001", "0002"]
    assert only(segs, "GE")[0][1] == "2"
    assert [s[1:4] for s in only(segs, "AK9")] == [["A", "2", "2"], ["A", "2", "2"]]


def test_each_received_interchange_gets_its_own_999_interchange() -> None:
    result = check_path(SAMPLES / "bad" / "two-interchanges.837")
    segs = ack(result)
    isa13 = [s[13] for s in only(segs, "ISA")]
    assert len(isa13) == 2 and len(set(isa13)) == 2
    assert [s[2] for s in only(segs, "IEA")] == isa13


def test_repeated_isa13_still_gives_distinct_999_control_numbers() -> None:
    text = (SAMPLES / "bad" / "two-interchanges.837").read_text()
    result = check(text.replace("000000313", "000000312"))
    segs = ack(result)
    isa13 = [s[13] for s in only(segs, "ISA")]
    assert len(set(isa13)) == 2
    assert [s[2] for s in only(segs, "AK1")] == [g.control for g in result.groups]


def test_same_input_same_bytes() -> None:
    path = SAMPLES / "bad" / "invalid-code-value.837"
    first, second = check_path(path), check_path(path)
    assert write_999(first) == write_999(second) == write_999(first)
    assert write_999(first, include_snip_3_7=True) == write_999(second, include_snip_3_7=True)


# -- codes ------------------------------------------------------------------------------------


def test_not_used_element_is_i10() -> None:
    segs = ack(check(CLEAN.replace("*100***11:B:1", "*100*X**11:B:1")))
    assert only(segs, "IK4") == [["IK4", "3", "1032", "I10"]]


def test_line_number_sequence_is_an_element_note() -> None:
    result = check_path(SAMPLES / "bad" / "lx-out-of-sequence.837")
    finding = next(f for f in result.findings if f.rule == "x12.lx.sequence")
    segs = ack(result)
    assert only(segs, "IK3") == [["IK3", "LX", str(finding.location.segment_position), "2400", "8"]]
    assert only(segs, "IK4") == [["IK4", "1", "554", "I12"]]


def test_missing_segment_outside_a_claim_has_no_claim_context() -> None:
    segs = ack(check_path(SAMPLES / "bad" / "missing-required-segment.837"))
    assert only(segs, "IK3") == [["IK3", "N3", "9", "2010", "3"]]
    assert only(segs, "CTX") == []


def test_unknown_segment_is_unrecognized_known_one_unexpected() -> None:
    segs = ack(check(CLEAN.replace("LX*1~", "LX*1~\nZZZ*1~")))
    assert ["IK3", "ZZZ", "24", "2400", "1"] in only(segs, "IK3")
    segs = ack(check(CLEAN.replace("LX*1~", "LX*1~\nBHT*0019*00*B1*20261101*1200*CH~")))
    assert ["IK3", "BHT", "24", "2400", "2"] in only(segs, "IK3")


def test_segment_with_the_wrong_separator_is_unrecognized() -> None:
    result = check_path(SAMPLES / "bad" / "mixed-delimiters.837")
    finding = next(f for f in result.findings if f.rule == "x12.segment.wrong-delimiter")
    segs = ack(result)
    assert only(segs, "IK3") == [["IK3", "DTP", str(finding.location.segment_position), "", "1"]]
    assert only(segs, "IK5") == [["IK5", "R", "5"]]


def test_phi_is_never_echoed() -> None:
    claim = Claim(lines=(Line("D0120"),), patient=("X" * 70, "JANE"))
    result = check(build(claim))
    finding = next(f for f in result.findings if f.rule == "x12.element.too-long")
    assert finding.ack is not None and finding.ack.bad_value  # the value was there to echo
    text = write_999(result)
    assert text is not None and "X" * 70 not in text
    assert only(segments(text), "IK4") == [["IK4", "3", "1035", "5"]]


def test_wrong_gs01_is_named_as_hc_and_rejected() -> None:
    segs = ack(check(CLEAN.replace("GS*HC", "GS*XX")))
    assert only(segs, "AK1") == [["AK1", "HC", "101", "005010X224A2"]]
    assert only(segs, "AK9") == [["AK9", "R", "1", "1", "1", "1"]]


def test_group_we_do_not_check_is_rejected_as_unsupported() -> None:
    segs = ack(check(CLEAN.replace("005010X224A2", "005010X222A1")))
    assert only(segs, "AK1") == [["AK1", "HC", "101", "005010X222A1"]]
    assert only(segs, "IK5") == [["IK5", "R", "I6"]]
    assert only(segs, "AK9") == [["AK9", "R", "1", "1", "0", "2"]]


def test_4010_interchange_is_rejected_as_unsupported() -> None:
    segs = ack(check_path(SAMPLES / "bad" / "version-4010.837"))
    assert only(segs, "AK2") == [["AK2", "837", "0001"]]  # a 4010 ST has no ST03
    assert only(segs, "AK9") == [["AK9", "R", "1", "1", "0", "2"]]


def test_acknowledgments_are_not_acknowledged() -> None:
    ours = write_999(check(CLEAN))
    assert ours is not None
    assert write_999(check(ours)) is None


def test_unreadable_input_has_no_999() -> None:
    for name in ("empty.837", "binary.837", "not-x12.837", "isa-wrong-length.837"):
        result = check_path(SAMPLES / "bad" / name)
        assert result.status == "unreadable"
        assert write_999(result) is None


# -- every 999 we write is valid X231A1 ---------------------------------------------------------


SAMPLE_FILES = sorted(SAMPLES.rglob("*.837"))


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
@pytest.mark.parametrize("snip_3_7", [False, True])
def test_samples_give_valid_999(path: Path, snip_3_7: bool) -> None:
    result = check_path(path)
    text = write_999(result, include_snip_3_7=snip_3_7)
    if result.status == "unreadable":
        assert text is None
        return
    assert text is not None
    assert pyx12_errors(text) == []
    assert text == write_999(check_path(path), include_snip_3_7=snip_3_7)


def _corpus_files() -> list[str]:
    if not CORPUS.is_dir():
        return []
    return sorted(
        str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*") if p.is_file() and p.suffix != ".md"
    )


@pytest.mark.parametrize("rel", _corpus_files())
def test_corpus_files_give_valid_999(corpus: Path, rel: str) -> None:
    result = check_path(corpus / rel)
    text = write_999(result, include_snip_3_7=True)
    if any(g.functional_id == "HC" or "837" in g.version for g in result.groups) or any(
        t.set_id == "837" for t in result.transaction_list
    ):
        assert text is not None  # every 837 group is answered
    if text is not None:
        assert pyx12_errors(text) == []


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated_files())
def test_generated_clean_files_are_accepted(generated: Any) -> None:
    result = check(generated.text)
    segs = ack(result)
    assert {s[1] for s in only(segs, "IK5")} == {"A"}
    assert {s[1] for s in only(segs, "AK9")} == {"A"}
    assert len(only(segs, "AK2")) == len(result.transaction_list)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_files())
def test_each_structural_fault_rejects_its_set_at_its_position(mutated: MutatedFile) -> None:
    m = mutated.mutation
    result = check(m.text)
    text = write_999(result, include_snip_3_7=True)
    assert text is not None
    assert pyx12_errors(text) == []
    assert text == write_999(result, include_snip_3_7=True)
    if m.st02 is None:
        return  # an interchange fault: the TA1's (tests/test_ta1.py)
    mine = set_segments(segments(text), m.st02)
    assert only(mine, "IK5")[0][1] == "R"
    if m.kind == "se-count":
        assert "4" in only(mine, "IK5")[0][2:]
    else:
        assert str(m.position) in [s[2] for s in only(mine, "IK3")]


def test_mutation_kinds_each_once() -> None:
    """A fixed sweep over every mutation kind, so no kind depends on hypothesis drawing it."""
    original = generate(11, GenOptions(claims=6, transactions=2))
    for kind in MUTATION_KINDS:
        if kind not in applicable_kinds(original.text):
            continue
        m = mutate(original.text, random.Random(3), kind)
        result = check(m.text)
        text = write_999(result)
        assert text is not None and pyx12_errors(text) == [], kind
        if m.st02 is not None:
            mine = set_segments(segments(text), m.st02)
            assert only(mine, "IK5")[0][1] == "R", kind
