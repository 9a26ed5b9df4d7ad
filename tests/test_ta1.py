"""TA1 interchange acknowledgments: due for a broken envelope or when ISA14 asks for one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from x12dental.ack999 import write_999
from x12dental.ack_envelope import ReplyEnvelope
from x12dental.pipeline import FileResult, check_bytes, check_path
from x12dental.ta1 import write_ta1

from .builders import Claim, Line, build
from .conftest import CORPUS, SAMPLES
from .strategies import MutatedFile, generated_files, mutated_files
from .test_ack999 import only, pyx12_errors, segments

CLEAN = build(Claim(lines=(Line("D0120"),), claim_id="PCN4471")).decode()
ASK = CLEAN.replace("*000000101*0*", "*000000101*1*")  # ISA14 = 1


def check(data: bytes | str) -> FileResult:
    return check_bytes(data.encode() if isinstance(data, str) else data, "test.837")


def ta1(result: FileResult) -> list[list[str]]:
    text = write_ta1(result)
    assert text is not None
    assert pyx12_errors(text) == []
    return segments(text)


def test_control_number_mismatch_is_rejected_with_001() -> None:
    result = check_path(SAMPLES / "bad" / "control-number-mismatch.837")
    inbound = result.interchange_list[0]
    segs = ta1(result)
    assert [s[0] for s in segs] == ["ISA", "TA1", "IEA"]  # a TA1 travels on its own
    assert only(segs, "TA1") == [["TA1", "000000304", inbound.date, inbound.time, "R", "001"]]
    isa, iea = segs[0], segs[-1]
    assert iea[1] == "0" and iea[2] == isa[13]
    assert isa[13] == ReplyEnvelope("TA1", inbound).control
    assert isa[13] not in (inbound.control, ReplyEnvelope("999", inbound).control)
    assert (isa[6].strip(), isa[8].strip()) == (inbound.receiver, inbound.sender)


def test_requested_ta1_for_a_good_envelope_accepts_with_000() -> None:
    result = check(ASK)
    assert only(ta1(result), "TA1") == [["TA1", "000000101", "261101", "1200", "A", "000"]]


def test_truncated_file_is_rejected_with_023() -> None:
    segs = ta1(check_path(SAMPLES / "bad" / "truncated.837"))
    assert only(segs, "TA1")[0][4:] == ["R", "023"]


def test_no_ta1_for_a_clean_file_without_request() -> None:
    assert write_ta1(check(CLEAN)) is None
    assert write_ta1(check_path(SAMPLES / "clean-batch.837")) is None


@pytest.mark.parametrize("name", ["empty.837", "binary.837", "not-x12.837", "isa-wrong-length.837"])
def test_no_ta1_for_unreadable_input(name: str) -> None:
    result = check_path(SAMPLES / "bad" / name)
    assert result.status == "unreadable"
    assert write_ta1(result) is None


@pytest.mark.parametrize(
    ("source", "code"),
    [
        (lambda: (SAMPLES / "bad" / "version-4010.837").read_text(), "017"),
        (lambda: (SAMPLES / "bad" / "isa-short-padding.837").read_text(), "024"),
        (lambda: CLEAN.replace("IEA*1*000000101~", "IEA*2*000000101~"), "021"),
    ],
    ids=["version", "isa-length", "iea01"],
)
def test_envelope_errors_have_their_note_code(source: Any, code: str) -> None:
    assert only(ta1(check(source())), "TA1")[0][4:] == ["R", code]


def test_request_does_not_hide_an_error() -> None:
    broken = ASK.replace("IEA*1*000000101~", "IEA*1*000000102~")
    assert only(ta1(check(broken)), "TA1")[0][4:] == ["R", "001"]


def test_one_ta1_per_interchange_that_needs_one() -> None:
    text = (SAMPLES / "bad" / "two-interchanges.837").read_text()
    # The second interchange reuses the first one's ISA13: only it is in error (025).
    result = check(text.replace("000000313", "000000312"))
    segs = ta1(result)
    assert only(segs, "TA1") == [["TA1", "000000312", *only(segs, "TA1")[0][2:4], "R", "025"]]
    assert write_ta1(check(text)) is None


def test_same_input_same_bytes() -> None:
    path = SAMPLES / "bad" / "control-number-mismatch.837"
    first, second = check_path(path), check_path(path)
    assert write_ta1(first) == write_ta1(second) == write_ta1(first)
    assert write_ta1(first) != write_999(first)


@pytest.mark.parametrize("path", sorted(SAMPLES.rglob("*.837")), ids=lambda p: p.name)
def test_sample_ta1s_are_valid(path: Path) -> None:
    text = write_ta1(check_path(path))
    if text is not None:
        assert pyx12_errors(text) == []


def test_corpus_ta1s_are_valid(corpus: Path) -> None:
    for path in sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix != ".md"):
        text = write_ta1(check_path(path))
        if text is not None:
            assert pyx12_errors(text) == [], path.name


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated_files())
def test_generated_files_get_a_ta1_only_when_asked(generated: Any) -> None:
    result = check(generated.text)
    text = write_ta1(result)
    asked = [i for i in result.interchange_list if i.ack_requested == "1"]
    if not asked:
        assert text is None
        return
    assert text is not None and pyx12_errors(text) == []
    assert [s[4:] for s in only(segments(text), "TA1")] == [["A", "000"]] * len(asked)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_files(kinds=("control-mismatch",)))
def test_generated_control_mismatch_is_rejected(mutated: MutatedFile) -> None:
    text = write_ta1(check(mutated.mutation.text))
    assert text is not None and pyx12_errors(text) == []
    assert ["R", "001"] in [s[4:] for s in only(segments(text), "TA1")]
