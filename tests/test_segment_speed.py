"""The per-segment speed-ups read exactly what the plain code read.

The tokenizer's whole-chunk path for regular layouts, the substring screen and memos of
the narrative reader, the cached content-hash pieces and the engine's inlined rule loop
each have a slow, obvious twin; these tests hold them to it.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import pickle
import re
from collections.abc import Iterator
from decimal import Decimal

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from x12dental import claimidentity, narrative, tokenizer
from x12dental import model as m
from x12dental.engine import Hit, Registry, RuleRunner, StoreError, batch_rule, claim_rule
from x12dental.engine import line_rule as line_rule_
from x12dental.findings import Finding
from x12dental.mapper import ModelBuilder
from x12dental.tokenizer import Delimiters, Token, Tokenizer

from .builders import Claim, Line, build

ISA = (
    "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       "
    "*260101*1200*^*00501*000000001*0*P*:~"
)
ISA_PIPE = ISA.replace("*", "|")

# -- tokenizer ------------------------------------------------------------------------------


def _expected(
    data: str, interchanges: list[tuple[str, list[str]]], lines: bool
) -> list[tuple[object, ...]]:
    """What each token must be, worked out from the text alone: the segments in order, each
    on the line of its first character (None when the tokenizer saw no line breaks)."""
    out: list[tuple[object, ...]] = []
    at = 0
    index = 0
    for sep, segments in interchanges:
        for seg in segments:
            at = data.index(seg, at)
            index += 1
            line = data.count("\n", 0, at) + 1 if lines else None
            out.append((seg.split(sep, 1)[0], seg, index, line, sep))
            at += len(seg)
    return out


def _read(data: str, chunk: int) -> tuple[list[tuple[object, ...]], bool]:
    old = tokenizer.CHUNK
    tokenizer.CHUNK = chunk
    try:
        tk = Tokenizer(io.BytesIO(data.encode("latin-1")), lambda f: None)
        toks = list(tk)
    finally:
        tokenizer.CHUNK = old
    got = [(t.seg_id, t.text, t.index, t.line, t.delimiters.element) for t in toks]
    return got, tk.has_line_breaks


_BODY = st.lists(
    st.tuples(
        st.sampled_from(["NM1", "N3", "REF", "DTP", "CLM", "SV3", "NTE"]),
        st.lists(st.text(alphabet="AB01 .#/", max_size=6), max_size=4),
    ),
    max_size=25,
)
# Regular layouts take the whole-chunk path; the odd ones (blank lines, spaces, a CR alone)
# are read segment by segment. `mixed` puts several in one file.
_BREAKS = st.sampled_from(["\n", "\r\n", "", "\n\n", " \n", "\n ", "\r", "\t\n"])


@settings(max_examples=150, deadline=None)
@given(
    bodies=st.lists(_BODY, min_size=1, max_size=2),
    breaks=st.lists(_BREAKS, min_size=1, max_size=3),
    mixed=st.booleans(),
    chunk=st.sampled_from([64, 200, 1 << 20]),
)
def test_tokens_match_the_text_on_any_layout(
    bodies: list[list[tuple[str, list[str]]]], breaks: list[str], mixed: bool, chunk: int
) -> None:
    parts: list[str] = []
    interchanges: list[tuple[str, list[str]]] = []
    n = 0
    for i, body in enumerate(bodies):
        sep, isa = ("|", ISA_PIPE) if i % 2 else ("*", ISA)
        segments = [isa[:-1]] + [sep.join([sid, *els]) for sid, els in body]
        segments.append(sep.join(["IEA", "1", "000000001"]))
        interchanges.append((sep, segments))
        for seg in segments:
            brk = breaks[n % len(breaks)] if mixed else breaks[0]
            parts.append(seg + "~" + brk)
            n += 1
    data = "".join(parts)
    got, lines = _read(data, chunk)
    if chunk > len(data):
        assert lines == ("\n" in data)  # (decided on the first chunk read)
    assert got == _expected(data, interchanges, lines)


def test_a_large_regular_file_keeps_its_line_numbers_across_chunks() -> None:
    body = "".join(f"NTE*ADD*NOTE {i}~\r\n" for i in range(5_000))
    data = ISA + "\r\n" + body + "IEA*0*000000001~\r\n"
    got, _lines = _read(data, 4096)
    assert len(got) == 5_002
    assert [t[3] for t in got] == list(range(1, 5_003))
    assert [t[2] for t in got] == list(range(1, 5_003))
    assert got[-1][:2] == ("IEA", "IEA*0*000000001")


def test_token_is_a_value() -> None:
    d = Delimiters("*", ":", "^", "~")
    a = Token("NM1", "NM1*85*2", 3, 7, d)
    b = Token("NM1", "NM1*85*2", 3, 7, d)
    assert a == b and hash(a) == hash(b) and a != Token("NM1", "NM1*85*2", 4, 7, d)
    assert a.elements() == ["85", "2"]
    assert "seg_id='NM1'" in repr(a) and "line=7" in repr(a)
    with pytest.raises(AttributeError):
        a.extra = 1  # type: ignore[attr-defined]


# -- model ----------------------------------------------------------------------------------


def test_where_is_an_immutable_value_that_pickles() -> None:
    where = m.Where("NM1", 3, 12)
    assert (where.segment_id, where.position, where.file_line) == ("NM1", 3, 12)
    assert where == m.Where("NM1", 3, 12) and where != m.Where("NM1", 4, 12)
    with pytest.raises(AttributeError):
        where.position = 4  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(where)) == where


def test_mapper_places_segments_as_before() -> None:
    data = build(Claim(claim_id="C1", lines=(Line("D2740", teeth=(("30", ""),)),)))
    claims: list[m.Claim] = []
    builder = ModelBuilder(claims.append)
    for tok in Tokenizer(io.BytesIO(data), lambda f: None):
        builder.feed(tok)
    builder.finish()
    (claim,) = claims
    assert type(claim.where) is m.Where and claim.where.segment_id == "CLM"
    assert claim.where.position is not None and claim.where.file_line is not None
    line = claim.lines[0]
    assert line.service_where is not None
    places = [claim.where, line.where, line.service_where, line.teeth[0].where]
    assert [w.segment_id for w in places] == ["CLM", "LX", "SV3", "TOO"]
    # One segment a line: position from ST and file line move together.
    offsets = {(w.file_line or 0) - (w.position or 0) for w in places}
    assert len(offsets) == 1 and offsets != {0}


# -- narrative ------------------------------------------------------------------------------


def _plain_find_terms(text: str, terms: list[str]) -> list[str]:
    upper = text.upper()
    return [t for t in terms if narrative._term_pattern(t).search(upper)]


_WORDS = ["RESIN", "HEMA", "GLUMA", "NO", "NOT", "ROOT", "EXPOSED", "#8", "8", "SEAL", "-", "/"]


@settings(max_examples=200, deadline=None)
@given(
    text=st.lists(st.sampled_from([*_WORDS, " ", ", ", "x"]), max_size=12).map("".join),
    terms=st.lists(
        st.lists(st.sampled_from(_WORDS), min_size=1, max_size=3).map(" ".join),
        min_size=1,
        max_size=5,
    ),
)
def test_substring_screen_never_hides_a_term(text: str, terms: list[str]) -> None:
    assert narrative.find_terms(text, terms) == _plain_find_terms(text, terms)
    candidates = narrative._candidates(text.upper(), tuple(terms))
    for term in terms:
        if narrative._term_pattern(term).search(text.upper()):
            assert term in candidates


def test_memoized_dates_and_teeth_are_fresh_copies() -> None:
    text = "D6010 PLACED #8 ON 03/14/2026"
    first = narrative.find_teeth(text)
    first.add("99")
    assert narrative.find_teeth(text) == {"8"}
    spans = narrative.find_date_spans(text)
    spans.clear()
    assert [d for _s, _e, d in narrative.find_date_spans(text)] == [dt.date(2026, 3, 14)]


# -- claim content hash ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", ["0", "-0", "0.00", "1", "1.0", "1E+1", "10", "2.50", "-3", "0.001", "1E-30"]
)
def test_units_read_as_before(raw: str) -> None:
    value = Decimal(raw)
    plain = format(value.normalize(), "f")
    assert claimidentity._units(value) == plain
    assert claimidentity._units(value) == plain  # the memo answers the same


def test_zero_and_minus_zero_keep_their_own_spelling() -> None:
    assert claimidentity._units(Decimal("-0")) == "-0"
    assert claimidentity._units(Decimal("0")) == "0"


def test_content_encoder_writes_what_json_dumps_writes() -> None:
    payload = [2, "k\u00e9y", "1", False, [["D2740", "1", "", "30:MO", "2026-09-10"]]]
    expected = json.dumps(payload, separators=(",", ":"), ensure_ascii=True)
    assert claimidentity._CONTENT_ENCODER.encode(payload) == expected


# -- engine ---------------------------------------------------------------------------------


def _claims(*claims: Claim) -> list[m.Claim]:
    out: list[m.Claim] = []
    builder = ModelBuilder(out.append)
    for tok in Tokenizer(io.BytesIO(build(*claims)), lambda f: None):
        builder.feed(tok)
    builder.finish()
    return out


class _Boom(Exception):
    pass


def _registry(fail: str) -> Registry:
    reg = Registry()

    @claim_rule("t.claim", snip=7, severity="warning", summary="s", fix="f", registry=reg)
    def claim_check(claim: m.Claim, ctx: object) -> Iterator[Hit]:
        """Doc."""
        yield Hit("claim one")
        if fail == "claim":
            raise _Boom
        yield Hit("claim two")

    @line_rule_("t.line", snip=7, severity="warning", summary="s", fix="f", registry=reg)
    def line_check(line: m.ServiceLine, claim: m.Claim, ctx: object) -> Iterator[Hit]:
        """Doc."""
        if fail == "store":
            raise StoreError("store gone")
        yield Hit(f"line {line.number}", line=line)
        if fail == "line":
            raise _Boom

    class _State:
        def observe(self, claim: m.Claim, ctx: object) -> Iterator[Hit]:
            if fail == "batch":
                raise _Boom
            yield Hit("batch")

        def finish(self, ctx: object) -> list[Hit]:
            return []

    @batch_rule("t.batch", snip=7, severity="warning", summary="s", fix="f", registry=reg)
    def batch() -> _State:
        """Doc."""
        return _State()

    return reg


def _run(fail: str) -> list[Finding]:
    runner = RuleRunner(registry=_registry(fail), today=dt.date(2026, 11, 1))
    (claim,) = _claims(Claim(claim_id="C1", lines=(Line("D2740"), Line("D1110"))))
    return runner.check_claim(claim)


def test_rules_run_in_order_and_keep_their_hits() -> None:
    got = [(f.rule, f.message) for f in _run("")]
    assert got == [
        ("t.claim", "claim one"),
        ("t.claim", "claim two"),
        ("t.line", "line 1"),
        ("t.line", "line 2"),
        ("t.batch", "batch"),
    ]


@pytest.mark.parametrize("fail", ["claim", "line", "batch"])
def test_a_crashing_rule_keeps_earlier_hits_and_becomes_one_warning(fail: str) -> None:
    got = [f.rule for f in _run(fail)]
    crashed = "x12dental.rule-crashed"
    expected = {
        "claim": ["t.claim", crashed, "t.line", "t.line", "t.batch"],
        "line": ["t.claim", "t.claim", "t.line", crashed, "t.line", crashed, "t.batch"],
        "batch": ["t.claim", "t.claim", "t.line", "t.line", crashed],
    }[fail]
    assert got == expected


def test_a_store_error_stops_the_run() -> None:
    with pytest.raises(StoreError):
        _run("store")


def test_hits_become_the_same_findings_as_before() -> None:
    (finding,) = [f for f in _run("") if f.message == "line 1"]
    assert attrs.asdict(finding)["line"] == 1 and finding.procedure == "D2740"
    assert re.fullmatch(r"SV3", finding.location.segment_id or "")


# -- rules ----------------------------------------------------------------------------------


@pytest.mark.parametrize("qualifier", ["AD", "ZZ"])
@pytest.mark.parametrize("code", ["D2391", "2391", "d2391", "D239", "D23911", "X1234", " D2391"])
def test_cdt_prefilter_skips_only_codes_the_rule_is_silent_on(qualifier: str, code: str) -> None:
    from x12dental.checks.codes import _not_cdt_shaped, cdt_code
    from x12dental.engine import Settings

    (claim,) = _claims(Claim(claim_id="C1", lines=(Line("D2391"),)))
    line = attrs.evolve(claim.lines[0], procedure=code, procedure_qualifier=qualifier)
    runner = RuleRunner(today=dt.date(2026, 11, 1))
    hits = list(cdt_code(line, claim, runner.ctx))
    if not _not_cdt_shaped(code, Settings()):
        assert hits == []
    elif qualifier == "AD":
        assert len(hits) == 1  # the screen let it through and the rule does report it


def test_latest_service_day_answers_for_the_claim_asked() -> None:
    from x12dental.checks.situational import _latest_service_day

    first, second = _claims(
        Claim(claim_id="C1", date="20260910", lines=(Line("D2391"),)),
        Claim(claim_id="C2", date="20261001", lines=(Line("D1110"),)),
    )
    assert _latest_service_day(first) == dt.date(2026, 9, 10)
    assert _latest_service_day(second) == dt.date(2026, 10, 1)
    assert _latest_service_day(first) == dt.date(2026, 9, 10)
