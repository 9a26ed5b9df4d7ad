"""Passing over transaction sets (Tokenizer.skip, used by tokenloop.Part) reads the rest exactly.

A part that checks some of a file's sets gets only the ST and SE of the others. Those,
and every segment it does read, must carry the index and line a full read gives them,
and the CLM/LX counts passed over must be the full read's; whatever the layout (CRLF, no
line breaks, blank and empty segments, stray text) and wherever a chunk ends.
"""

from __future__ import annotations

import io
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.strategies import gen_options
from x12dental import tokenizer
from x12dental.synthetic import applicable_kinds, generate, mutate
from x12dental.tokenizer import SkippedSet, Token, Tokenizer, UnreadableInput

Seen = tuple[str, str, int, int | None]


def _key(tok: Token) -> Seen:
    return (tok.seg_id, tok.text, tok.index, tok.line)


def _full(data: bytes) -> list[Token]:
    return list(Tokenizer(io.BytesIO(data), lambda f: None))


def _expected(toks: list[Seen], skip: set[int]) -> tuple[list[Seen], dict[int, SkippedSet]]:
    """`toks` without the segments inside skipped sets, and at each skipped set's SE (or
    whatever ends it) the CLM/LX counts of what is left out."""
    out: list[Seen] = []
    passed: dict[int, SkippedSet] = {}
    sets = -1
    inside = False
    clm = False
    lx = 0
    for seen in toks:
        seg, _text, index, _line = seen
        if inside and seg in ("SE", "ST", "GS", "GE", "IEA", "ISA"):
            passed[index] = SkippedSet(clm, lx, index)
            inside = False
        if seg == "ST":
            sets += 1
            inside = sets in skip
            clm, lx = False, 0
            out.append(seen)
            continue
        if inside:
            if seg == "CLM":
                clm, lx = True, 0
            elif seg == "LX":
                lx += 1
            continue
        out.append(seen)
    return out, passed


def _skipping(data: bytes, skip: set[int]) -> tuple[list[Seen], dict[int, SkippedSet]]:
    tk = Tokenizer(io.BytesIO(data), lambda f: None)
    tk.skip = skip.__contains__
    out: list[Seen] = []
    passed: dict[int, SkippedSet] = {}
    for tok in tk:
        out.append(_key(tok))
        got = tk.skipped
        if got is not None and got.next_index == tok.index:
            passed[tok.index] = got
    return out, passed


def _same_either_way(data: bytes, skip: set[int]) -> list[Seen]:
    """The skipping read agrees with a full one; returns what it gave.

    A set the tokenizer could not pass over (an unusual layout) is read in full, which a
    reader handles the same way, so the skipping read may hold more of the full read's
    segments than needed, but never one the full read does not have, and a set it did
    pass over must have the full read's counts."""
    try:
        full = [_key(t) for t in _full(data)]
    except UnreadableInput:
        return []
    want, want_passed = _expected(full, skip)
    got, got_passed = _skipping(data, skip)
    assert _expected(got, skip)[0] == want
    assert set(got) <= set(full)
    assert [index for _seg, _text, index, _line in got] == sorted(
        index for _seg, _text, index, _line in got
    )
    for index, passed in got_passed.items():
        assert want_passed[index] == passed
    return got


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    opts=gen_options(max_claims=30, max_sets=3),
    seed=st.integers(0, 2**32 - 1),
    pick=st.integers(0, 2**32 - 1),
    mutated=st.booleans(),
    chunk=st.sampled_from((97, 512, 4096, tokenizer.CHUNK)),
)
def test_skipping_reads_the_rest_exactly(
    opts: object, seed: int, pick: int, mutated: bool, chunk: int
) -> None:
    text = generate(seed, opts).text  # type: ignore[arg-type]
    rng = random.Random(pick)
    if mutated:
        text = mutate(text, rng, rng.choice(applicable_kinds(text))).text
    data = text.encode("latin-1", "replace")
    sets = text.count("ST*") + 1
    skip = {k for k in range(sets) if rng.random() < 0.6}
    original = tokenizer.CHUNK
    tokenizer.CHUNK = chunk
    try:
        _same_either_way(data, skip)
    finally:
        tokenizer.CHUNK = original


ISA = (
    "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       "
    "*260101*1200*^*00501*000000001*0*P*:~"
)


def _file(body: str) -> bytes:
    return (
        ISA + "\nGS*HC*S*R*20260101*1200*1*X*005010X224A2~\n" + body + "GE*2*1~\nIEA*1*000000001~\n"
    ).encode()


SET = "ST*837*{n}*005010X224A2~\nCLM*C{n}*10~\nLX*1~\nSV3*AD:D0120*10~\nLX*2~\nSV3*AD:D1110*10~\nSE*7*{n}~\n"


@pytest.mark.parametrize("chunk", [64, 200, 1 << 20])
def test_skipped_set_gives_its_se_at_the_right_index_and_line(chunk: int) -> None:
    data = _file(SET.format(n="0001") + SET.format(n="0002"))
    original = tokenizer.CHUNK
    tokenizer.CHUNK = chunk
    try:
        got, passed = _skipping(data, {0})
    finally:
        tokenizer.CHUNK = original
    ids = [(seg, index, line) for seg, _text, index, line in got]
    assert ids[:5] == [("ISA", 1, 1), ("GS", 2, 2), ("ST", 3, 3), ("SE", 9, 9), ("ST", 10, 10)]
    assert passed == {9: SkippedSet(True, 2, 9)}
    assert _same_either_way(data, {0}) == got
    assert len(got) == 2 + 2 + 7 + 2


def test_blank_and_empty_segments_in_a_skipped_set_are_not_counted() -> None:
    blank = "NTE*ADD*A LONG NOTE TO FILL THE FIRST CHUNK~\n" * 14
    body = SET.format(n="0001").replace("LX*1~\n", "LX*1~\n" + blank + "~\n  ~")
    data = _file(body + SET.format(n="0002"))
    original = tokenizer.CHUNK
    tokenizer.CHUNK = 128  # the first chunk reads plainly up to ST; the blanks come later
    try:
        got = _same_either_way(data, {0})
        _got, passed = _skipping(data, {0})
    finally:
        tokenizer.CHUNK = original
    assert "CLM" not in [seg for seg, *_ in got][:4]
    assert list(passed.values()) == [SkippedSet(True, 2, 23)]


def test_a_set_without_se_stops_the_pass_at_the_next_envelope_segment() -> None:
    body = SET.format(n="0001").replace("SE*7*0001~\n", "") + SET.format(n="0002")
    got = _same_either_way(_file(body), {0})
    assert [seg for seg, *_ in got][:4] == ["ISA", "GS", "ST", "ST"]


_PLAIN = "NTE*ADD*A LONG NOTE TO FILL THE FIRST CHUNK~\n" * 14


def _passed_over(body: str) -> list[tuple[bool, int]]:
    """(saw_clm, lx_after_clm) of set 1 of `body` + a plain set, passed over, checked
    against a full read. The first chunk reads plainly up to the ST; the rest comes later."""
    data = _file(body + SET.format(n="0002"))
    original = tokenizer.CHUNK
    tokenizer.CHUNK = 128
    try:
        got = _same_either_way(data, {0})
        _got, passed = _skipping(data, {0})
    finally:
        tokenizer.CHUNK = original
    assert [seg for seg, *_ in got][:5] == ["ISA", "GS", "ST", "SE", "ST"]  # passed over
    return [(p.saw_clm, p.lx_after_clm) for p in passed.values()]


def test_clm_and_lx_counts_of_a_skipped_set_ignore_ids_inside_values() -> None:
    """The pass reads the LX count from the set's last CLM segment on, found from the end:
    "CLM*" inside a value does not start a segment, and blanks after a terminator do not
    stop one from starting."""
    weird = "  \t LX*3~NM1*QC*1*DOE CLM*JANE~REF*D9*CLM*1~NTE*ADD* CLM*X~\n"
    body = SET.format(n="0001").replace("LX*2~\n", "LX*2~\n" + _PLAIN + weird)
    assert _passed_over(body) == [(True, 3)]


def test_the_last_clm_of_a_skipped_set_after_blanks_restarts_the_lx_count() -> None:
    last_claim = "~\n \n  CLM*C9*10~\n \tLX*1~\nSE*9*0001~\n"
    body = SET.format(n="0001").replace("LX*1~\n", "LX*1~\n" + _PLAIN)
    assert _passed_over(body.replace("SE*7*0001~\n", last_claim)) == [(True, 1)]
