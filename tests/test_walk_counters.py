"""The walker's loop counters: re-entering a loop deletes exactly the counts below it.

`faststructure._reenter` scans only the counts added since the loop was last entered
(dict order), or, for a loop not counted, since the nearest loop above it that is; this
checks it against deleting every key below the loop, on random walks over random loop
trees, including loops entered from above without their parents.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from x12dental.faststructure import _reenter


@st.composite
def trees(draw: st.DrawFn) -> list[int | None]:
    """parent[k] for keys 0..n-1 (0 is the root): a random tree."""
    n = draw(st.integers(2, 25))
    return [None] + [draw(st.integers(0, k - 1)) for k in range(1, n)]


def _below(parent: list[int | None], key: int) -> frozenset[int]:
    out = set()
    for k in range(len(parent)):
        p = parent[k]
        while p is not None:
            if p == key:
                out.add(k)
                break
            p = parent[p]
    return frozenset(out)


def _above(parent: list[int | None], key: int) -> tuple[int, ...]:
    """The keys above `key`, nearest first, the root's left out (as Tables.reentry)."""
    out = []
    p = parent[key]
    while p is not None and p != 0:
        out.append(p)
        p = parent[p]
    return tuple(out)


@settings(max_examples=600, deadline=None)
@given(parent=trees(), data=st.data())
def test_reentering_deletes_what_the_full_reset_deletes(
    parent: list[int | None], data: st.DataObject
) -> None:
    below = [_below(parent, k) for k in range(len(parent))]
    above = [_above(parent, k) for k in range(len(parent))]
    fast: dict[int, int] = {}
    full: dict[int, int] = {}
    steps = data.draw(
        st.lists(st.tuples(st.booleans(), st.integers(0, len(parent) - 1)), max_size=60)
    )
    for enter, key in steps:
        # Keys with keys below them are loops, counted only when entered (as the walker
        # does); the others are segments, counted as matched. A segment may be counted
        # while its loop's own count is not there (pyx12 enters a wrapper loop's child
        # loop without the wrapper).
        if enter or below[key]:  # a loop entry: reset below, count the loop
            _reenter(fast, key, below[key], above[key])
            fast[key] = fast.get(key, 0) + 1
            for k in below[key] & full.keys():
                del full[k]
            full[key] = full.get(key, 0) + 1
        else:
            fast[key] = fast.get(key, 0) + 1
            full[key] = full.get(key, 0) + 1
        assert fast == full
