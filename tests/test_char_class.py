"""segpattern.char_class: a regex class of exactly the given characters, runs as ranges."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from x12dental.segpattern import char_class

_PRINTABLE = st.characters(min_codepoint=0x20, max_codepoint=0xFF)


@given(chars=st.text(_PRINTABLE, max_size=120))
def test_the_class_matches_exactly_its_characters(chars: str) -> None:
    pattern = re.compile(char_class(chars))
    for code in range(0x00, 0x180):
        c = chr(code)
        assert (pattern.fullmatch(c) is not None) == (c in chars), (chars, c)


def test_runs_become_ranges_and_specials_are_escaped() -> None:
    basic = "".join(map(chr, range(0x20, 0x7F)))
    assert char_class(basic) == r"[\ -\~]"
    # the X12 separators taken out leave three runs
    assert char_class(basic.replace("*", "").replace(":", "")) == r"[\ -\)\+-9;-\~]"
    assert char_class("]^-[") == r"[\-\[\]\^]"
    assert char_class("]^-[\\") == r"[\-\[-\^]"
    assert re.compile(char_class("")).search("anything") is None
