"""The one-regex segment check (segpattern) may only vouch for what the exact check accepts.

`_pattern_clean` True must imply `_segment_clean` True on any text: it is allowed to say
"not sure" (False) where the exact check says clean, never the reverse. The property runs
on real map nodes (captured while checking generated files, so every segment kind of the
837D appears) with element values rewritten by hypothesis; the examples pin down the
cases a regular expression gets wrong most easily.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from x12dental import buildinfo, faststructure, synthetic
from x12dental.faststructure import FastStructuralChecker, _pattern_clean, _segment_clean
from x12dental.findings import ClaimContext
from x12dental.mapcompile import Node
from x12dental.tokenizer import Tokenizer

if buildinfo.is_compiled("x12dental.faststructure"):
    # The inputs are captured by swapping faststructure.segment_clean, a call compiled code
    # makes directly. The property is about the source, which the pure-Python run tests; the
    # compiled build is held to the same findings by the differential and end-to-end tests.
    pytest.skip(
        "captures calls by monkeypatching; runs on the pure-Python build", allow_module_level=True
    )

Call = tuple[Node, str, str, Any, Any]  # node, text, component separator, bad, ext


def _captured(seed: int, delimiters: synthetic.Delimiters) -> list[Call]:
    calls: list[Call] = []
    original = faststructure.segment_clean

    def record(node: Node, text: str, el: list[str], sub: str, bad: Any, ext: Any) -> bool:
        calls.append((node, text, sub, bad, ext))
        return original(node, text, el, sub, bad, ext)

    options = synthetic.GenOptions(
        claims=6, max_lines=4, delimiters=delimiters, dependent_share=0.5, implants=True
    )
    data = synthetic.generate(seed, options).text.encode()
    faststructure.segment_clean = record
    try:
        chk = FastStructuralChecker(lambda f: None, ClaimContext)
        for tok in Tokenizer(io.BytesIO(data), lambda f: None):
            chk.feed(tok)
        chk.finish()
    finally:
        faststructure.segment_clean = original
    return [c for c in calls if not c[0].special]


STAR = _captured(3, synthetic.Delimiters())
PIPE = _captured(4, synthetic.Delimiters(element="|", component=">", repetition="^", segment="~"))


def _both(node: Node, text: str, sub: str, bad: Any, ext: Any) -> tuple[bool, bool]:
    ele = text[len(node.xid)]
    el = text.split(ele)
    return _pattern_clean(node, text, el, sub, bad, ext), _segment_clean(node, el, sub, bad, ext)


def test_generated_segments_are_vouched_for() -> None:
    """Clean generated segments pass the pattern itself (else it saves nothing)."""
    for calls in (STAR, PIPE):
        assert len(calls) > 100
        for node, text, sub, bad, ext in calls:
            fast, exact = _both(node, text, sub, bad, ext)
            assert exact, text
            assert fast, f"pattern rejects a clean {node.xid} ({node.path})"


VALUES = st.one_of(
    st.text(alphabet="0123456789.-", max_size=20),
    st.text(alphabet="ABCXYZ019 :>*|^-.é\t", max_size=12),
    st.sampled_from(["", " ", "A ", " A", "-", ".", "1.", ".5", "-.5", "20261399", "20240229"]),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    which=st.integers(min_value=0, max_value=10_000),
    at=st.integers(min_value=1, max_value=30),
    value=VALUES,
    extra=st.integers(min_value=0, max_value=2),
)
def test_pattern_never_vouches_for_what_the_exact_check_rejects(
    which: int, at: int, value: str, extra: int
) -> None:
    calls = STAR if which % 2 else PIPE
    node, text, sub, bad, ext = calls[which % len(calls)]
    ele = text[len(node.xid)]
    el = text.split(ele)
    while len(el) <= at and extra:
        el.append("")
        extra -= 1
    if at < len(el):
        el[at] = value
    elif extra == 0:
        del el[len(el) - 1 :]  # drop the last element instead
    mutated = ele.join(el)
    if len(mutated) <= len(node.xid) or mutated[len(node.xid)] != ele:
        return
    fast, exact = _both(node, mutated, sub, bad, ext)
    assert not fast or exact, mutated


def _node(xid: str) -> Call:
    for call in STAR:
        if call[0].xid == xid:
            return call
    raise LookupError(xid)


@pytest.mark.parametrize(
    ("xid", "edit", "clean"),
    [
        ("CLM", lambda el: el.__setitem__(2, "100.5"), True),
        ("CLM", lambda el: el.__setitem__(2, "100."), False),  # R: dot without digits
        ("CLM", lambda el: el.__setitem__(2, "1" * 19), False),  # R: longer than 18
        ("CLM", lambda el: el.__setitem__(1, ""), False),  # required element empty
        ("CLM", lambda el: el.__setitem__(1, "ABC "), False),  # AN ending in a space
        ("CLM", lambda el: el.__setitem__(5, "::"), False),  # composite of separators
        ("CLM", lambda el: el.append("X" * 5) or el.extend([""] * 30), False),  # too many
        ("DMG", lambda el: el.__setitem__(2, "20240229"), True),
        ("DMG", lambda el: el.__setitem__(2, "20230229"), False),  # no such day
        ("SBR", lambda el: el.__setitem__(1, "Q"), False),  # not in the code list
        ("N4", lambda el: el.__setitem__(2, "ZZ"), False),  # not a state (external list)
    ],
)
def test_examples(xid: str, edit: Any, clean: bool) -> None:
    node, text, sub, bad, ext = _node(xid)
    el = text.split("*")
    edit(el)
    fast, exact = _both(node, "*".join(el), sub, bad, ext)
    assert fast == clean
    assert not fast or exact
