"""Bad input gets a clear, located message and the right status: never a traceback or a hang."""

from __future__ import annotations

import pytest

from x12dental.findings import Severity
from x12dental.pipeline import FileResult, check_bytes
from x12dental.synthetic import GenOptions, generate

from .builders import Claim, Line, build

CLEAN = generate(21, GenOptions(claims=3)).text


def check(text: str | bytes) -> FileResult:
    return check_bytes(text.encode("latin-1") if isinstance(text, str) else text, "input.837")


def rules(result: FileResult) -> set[str]:
    return {f.rule for f in result.findings}


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200), "binary"),
        (b"patient,claim,amount\nDOE,1,100\n", "no ISA"),
        (b"ISA*00*  ~", "incomplete"),
    ],
)
def test_unreadable(data: bytes, words: str) -> None:
    result = check(data)
    assert result.status == "unreadable"
    (finding,) = result.findings
    assert finding.rule == "x12.input.unreadable" and words in finding.message


def test_truncated_mid_segment_is_located() -> None:
    cut = CLEAN[: CLEAN.index("SV3") + 12]
    result = check(cut)
    assert result.status == "rejected"
    trunc = next(f for f in result.findings if f.rule == "x12.envelope.truncated")
    assert trunc.location.segment_id == "SV3"
    assert trunc.location.file_line == cut.count("\n") + 1
    assert {"x12.transaction.trailer-missing", "x12.envelope.trailer-missing"} <= rules(result)
    assert result.claims >= 1  # the claims read before the cut are still reported


def test_mixed_delimiters_located_at_the_segment() -> None:
    lines = CLEAN.splitlines()
    at = next(i for i, s in enumerate(lines) if s.startswith("N3"))
    lines[at] = lines[at].replace("*", "|")
    result = check("\n".join(lines) + "\n")
    assert result.status == "rejected"
    assert any(
        f.location.file_line == at + 1 for f in result.findings if f.severity is Severity.ERROR
    )


@pytest.mark.parametrize(
    "variant",
    [
        lambda t: "\ufeff" + t,
        lambda t: t.replace("\n", "\r\n"),
        lambda t: t.replace("\n", ""),
        lambda t: "Batch exported by PracticeSoft\nDo not edit\n\n" + t,
    ],
    ids=["bom", "crlf", "no-line-breaks", "prose-before-isa"],
)
def test_byte_layouts_that_are_still_valid(variant: object) -> None:
    text = variant(CLEAN)  # type: ignore[operator]
    result = check(text.encode("utf-8"))
    assert result.status == "accepted"
    assert result.claims == 3
    assert result.count(Severity.ERROR) == 0


def test_no_line_breaks_gives_null_file_lines() -> None:
    result = check(CLEAN.replace("\n", "").replace("*11:B:1*", "*11:Q:1*", 1))
    assert result.findings and all(f.location.file_line is None for f in result.findings)


def test_isa_of_wrong_length() -> None:
    result = check(CLEAN.replace("*00*          *", "*00*         *", 1))
    assert result.status == "rejected"
    assert "x12.envelope.isa-length" in rules(result)
    assert result.claims == 3


def test_unsupported_version() -> None:
    text = CLEAN.replace("*00501*", "*00401*", 1).replace("005010X224A2", "004010X097A1")
    result = check(text)
    assert result.status == "rejected"
    assert "x12.envelope.version-unsupported" in rules(result)


def test_several_interchanges_in_one_file() -> None:
    gen = generate(4, GenOptions(claims=6, interchanges=3))
    result = check(gen.text)
    assert result.status == "accepted"
    assert (result.interchanges, result.claims) == (3, 6)


def test_interchange_with_no_claims() -> None:
    result = check(generate(4, GenOptions(claims=0)).text)
    assert result.status == "accepted"
    assert rules(result) == {"x12.transaction.no-claims"}
    assert result.findings[0].severity is Severity.WARNING


def test_garbage_after_the_isa_does_not_hang() -> None:
    isa = CLEAN[:106]
    result = check(isa + "\n" + "x" * 2_000_000)
    assert result.status == "rejected"
    assert "x12.envelope.truncated" in rules(result)


def test_service_line_without_sv3_before_another_line() -> None:
    """pyx12 misses an LX with no SV3 when another LX follows; we report it at the next LX."""
    text = build(Claim(lines=(Line("D0120"), Line("D1110"), Line("D0274")))).decode()
    lines = text.splitlines()
    at = [i for i, s in enumerate(lines) if s.startswith("SV3")][1]
    del lines[at]
    st = next(i for i, s in enumerate(lines) if s.startswith("ST*"))
    se = next(i for i, s in enumerate(lines) if s.startswith("SE*"))
    lines[se] = f"SE*{se - st + 1}*0001~"
    result = check("\n".join(lines) + "\n")
    missing = [f for f in result.findings if f.rule == "x12.segment.missing"]
    assert [f.location.segment_id for f in missing] == ["SV3"]
    assert missing[0].location.segment_position == at - st + 1
    assert missing[0].claim_id == "CLM001"
