"""The tokenizer: delimiters, line numbers and reading problems on awkward byte layouts."""

from __future__ import annotations

import io

import pytest

from x12dental.findings import Finding
from x12dental.tokenizer import Token, Tokenizer, UnreadableInput, parse_isa

ISA = (
    "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       "
    "*260101*1200*^*00501*000000001*0*P*:~"
)


def tokens(data: bytes) -> tuple[list[Token], list[Finding], Tokenizer]:
    found: list[Finding] = []
    tk = Tokenizer(io.BytesIO(data), found.append)
    return list(tk), found, tk


def test_isa_fixed_width_gives_delimiters() -> None:
    assert len(ISA) == 106
    d, length, problem = parse_isa(ISA)
    assert (d.element, d.component, d.repetition, d.segment) == ("*", ":", "^", "~")
    assert length == 106 and problem is None


def test_isa_short_is_read_but_reported() -> None:
    short = ISA.replace("*          *00", "*         *00", 1)
    d, length, problem = parse_isa(short)
    assert d.segment == "~" and length == 105
    assert problem is not None and "105" in problem


def test_lines_counted_with_crlf_and_bom() -> None:
    data = (
        "\ufeff"
        + ISA
        + "\r\nGS*HC*A*B*20260101*1200*1*X*005010X224A2~\r\nGE*0*1~\r\nIEA*1*000000001~\r\n"
    ).encode()
    toks, found, tk = tokens(data)
    assert [t.seg_id for t in toks] == ["ISA", "GS", "GE", "IEA"]
    assert [t.line for t in toks] == [1, 2, 3, 4]
    assert found == [] and tk.has_line_breaks


def test_no_line_breaks_gives_null_lines() -> None:
    data = (ISA + "GS*HC*A*B*20260101*1200*1*X*005010X224A2~GE*0*1~IEA*1*000000001~").encode()
    toks, _, tk = tokens(data)
    assert [t.line for t in toks] == [None] * 4
    assert not tk.has_line_breaks


def test_prose_before_isa_is_skipped_with_a_warning() -> None:
    data = ("This is a test file\nfrom a vendor\n" + ISA + "\nIEA*0*000000001~\n").encode()
    toks, found, _ = tokens(data)
    assert [t.seg_id for t in toks] == ["ISA", "IEA"]
    assert toks[0].line == 3
    assert [f.rule for f in found] == ["x12.envelope.text-before-isa"]


def test_truncated_file_reported_at_its_line() -> None:
    data = (ISA + "\nGS*HC*A*B*20260101*1200*1*X*005010X224A2~\nST*837*0001*00501").encode()
    toks, found, _ = tokens(data)
    assert [t.seg_id for t in toks] == ["ISA", "GS"]
    assert found[0].rule == "x12.envelope.truncated"
    assert found[0].location.file_line == 3 and found[0].location.segment_id == "ST"


def test_second_interchange_with_other_delimiters() -> None:
    isa2 = ISA.replace("*", "|").replace("~", "\n").replace(":", ">")
    data = (ISA + "\nIEA*0*000000001~\n" + isa2 + "IEA|0|000000001\n").encode()
    toks, found, _ = tokens(data)
    assert [t.seg_id for t in toks] == ["ISA", "IEA", "ISA", "IEA"]
    assert toks[3].delimiters.element == "|"
    assert toks[3].elements() == ["0", "000000001"]
    assert found == []


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (bytes(range(256)) * 4, "binary"),
        (b"name,dob,claim\nsmith,1990,1\n", "no ISA"),
        (b"ISA*00*short~", "incomplete"),
    ],
)
def test_unreadable_inputs(data: bytes, words: str) -> None:
    with pytest.raises(UnreadableInput) as info:
        tokens(data)
    assert words in info.value.message


def test_large_input_streams_in_chunks() -> None:
    body = "".join(f"NTE*ADD*NOTE {i}~\n" for i in range(120_000))
    data = (ISA + "\n" + body + "IEA*0*000000001~\n").encode()
    count = 0
    last = None
    for tok in Tokenizer(io.BytesIO(data), lambda f: None):
        count += 1
        last = tok
    assert count == 120_002
    assert last is not None and last.line == 120_002
