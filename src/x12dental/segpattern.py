"""One regular expression per map segment: its element rules, checked in a single C call.

Most segments of a real file are written once (names, amounts, claim ids differ from
claim to claim), so remembering verdicts by segment text helps little, and checking each
element in Python costs a few microseconds a segment. Element counts, presence, lengths,
character sets, numeric formats and internal code lists all fit one regular expression
per segment node and pair of separators; the few checks that do not (calendar dates,
external code lists, pyx12's per-element patterns) are listed beside it and run on the
split values afterwards.

The pattern only ever vouches: when it matches (and the listed checks pass), the
element-by-element check in faststructure would also find nothing. When it does not
match, the caller runs that exact check, which hands doubtful segments to pyx12. So
the pattern may be stricter than pyx12, never looser; tests/test_segpattern.py holds it
to that.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from x12dental.mapcompile import MAXINT, Elem, Node

# A check the pattern leaves to Python: (element index in the split segment, component
# index or None, the element spec).
PostCheck = tuple[int, int | None, Elem]

_DATES = frozenset({"DT", "D8", "D6", "TM"})


class SegmentPattern:
    """A compiled segment node for one pair of separators."""

    __slots__ = ("post", "regex")

    def __init__(self, regex: re.Pattern[str] | None, post: tuple[PostCheck, ...]) -> None:
        self.regex = regex  # None: this node cannot be vouched for by a pattern
        self.post = post


def _repeat(lo: int, hi: int) -> str:
    lo = max(lo, 0)
    if hi >= MAXINT:
        return f"{{{lo},}}"
    return f"{{{lo},{hi}}}"


def char_class(chars: str) -> str:
    """A regex class of exactly `chars`, runs written as ranges.

    Why ranges: the class appears once or twice per element, and sre parses a listed
    class character by character; spelled out, compiling a process's ~50 segment
    patterns was ~15% of its start-up. The compiled class is the same."""
    points = sorted({ord(c) for c in chars})
    if not points:
        return "(?!)"  # no character at all
    out: list[str] = []
    i = 0
    while i < len(points):
        j = i
        while j + 1 < len(points) and points[j + 1] == points[j] + 1:
            j += 1
        lo, hi = re.escape(chr(points[i])), re.escape(chr(points[j]))
        if j - i >= 2:
            out.append(f"{lo}-{hi}")
        else:
            out.extend(re.escape(chr(p)) for p in points[i : j + 1])
        i = j + 1
    return "[" + "".join(out) + "]"


class _Builder:
    def __init__(self, allowed: str, ele: str, sub: str) -> None:
        self.ele = re.escape(ele)
        self.sub = re.escape(sub)
        self.any_char = char_class(allowed)
        self.last_char = char_class(allowed.replace(" ", ""))
        self.allowed = frozenset(allowed)
        self.post: list[PostCheck] = []

    def value(self, s: Elem, at: tuple[int, int | None]) -> str | None:
        """Pattern of one non-empty simple value; None when no value can pass."""
        if s.usage == "N":
            return None
        lo, hi = max(s.min_len, 1), s.max_len
        if lo > hi:
            return None
        dtype = s.dtype
        post = bool(s.type_list) or s.rec is not None
        pattern: str | None
        if dtype in ("AN", "ID"):
            if s.codes and s.external is None:
                ok = sorted(
                    c
                    for c in s.codes
                    if lo <= len(c) <= hi and c[-1] != " " and set(c) <= self.allowed
                )
                if not ok:
                    return None
                pattern = "(?:" + "|".join(re.escape(c) for c in ok) + ")"
            else:
                pattern = self.any_char + _repeat(lo - 1, hi - 1) + self.last_char
                post = post or s.external is not None
        elif dtype is not None and dtype[0] == "N":
            pattern = "-?[0-9]" + _repeat(lo, hi)
            post = post or bool(s.codes) or s.external is not None
        elif dtype == "R":
            end = f"(?:{self.ele}|{self.sub}|$)"
            pattern = rf"-?(?=\.?(?:[0-9]\.?){_repeat(lo, hi)}{end})[0-9]*(?:\.[0-9]+)?"
            post = post or bool(s.codes) or s.external is not None
        elif dtype in _DATES:
            pattern = "[0-9]" + _repeat(lo, hi)
            post = True
        else:
            return None
        if post:
            self.post.append((at[0], at[1], s))
        return pattern

    def simple(self, s: Elem, index: int) -> str:
        if s.usage == "N":
            return ""
        val = self.value(s, (index, None))
        if s.required_empty:
            return val if val is not None else "(?!)"
        return f"(?:{val})?" if val is not None else ""

    def composite(self, s: Elem, index: int) -> str:
        subs = s.subs
        assert subs is not None
        if s.usage == "N":
            return ""
        tail = ""
        for j in range(len(subs) - 1, -1, -1):
            sub = subs[j]
            val = self.value(sub, (index, j))
            if sub.required_empty:
                q = val if val is not None else "(?!)"
            else:
                q = f"(?:{val})?" if val is not None else ""
            group = (self.sub if j else "") + q + tail
            if j and not any(x.required_empty for x in subs[j:]):
                group = f"(?:{group})?"
            tail = group
        # A composite written as separators only ("::") goes to the exact check.
        inner = f"(?!{self.sub}*(?:{self.ele}|$)){tail}"
        return inner if s.usage == "R" else f"(?:{inner})?"

    def segment(self, node: Node) -> str:
        specs: Sequence[Elem] = node.elems
        tail = ""
        for i in range(len(specs) - 1, -1, -1):
            s = specs[i]
            p = self.simple(s, i + 1) if s.subs is None else self.composite(s, i + 1)
            group = self.ele + p + tail
            if not any(x.usage == "R" for x in specs[i:]):
                group = f"(?:{group})?"
            tail = group
        return re.escape(node.xid) + tail


def compile_segment(node: Node, allowed: str, ele: str, sub: str) -> SegmentPattern:
    """The pattern of `node` for these separators (they are never part of a value)."""
    chars = "".join(c for c in allowed if c not in (ele, sub))
    b = _Builder(chars, ele, sub)
    try:
        regex = re.compile(b.segment(node))
    except (re.error, RecursionError, OverflowError):
        return SegmentPattern(None, ())
    return SegmentPattern(regex, tuple(b.post))
