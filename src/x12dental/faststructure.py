"""SNIP 1-2 structural validation without pyx12's per-segment cost.

`FastStructuralChecker` finds what `structure.StructuralChecker` finds (same rules,
positions and 999 codes) but walks the compiled map of `mapcompile` with integer
counters, reads ordinary segments with one `str.split`, and checks their elements
with precompiled specs. A segment those checks cannot vouch for (a bad value, a
missing element, an envelope segment) is handed to pyx12's own segment validator,
so every element error is still worded and placed by pyx12. The loop walk is a
port of pyx12's `map_walker.walk_tree` and keeps its behaviour, quirks included.
"""

from __future__ import annotations

import re
import types
from typing import Any, Final

import pyx12.errors
import pyx12.segment
from pyx12 import validation
from pyx12.map_if._segment import apply_segment_errors

from x12dental import mapcompile
from x12dental.mapcompile import Elem, Node, Tables
from x12dental.segpattern import compile_segment
from x12dental.structure import ContextFn, FindingSink, StructuralChecker
from x12dental.tokenizer import Token

_ENVELOPE = mapcompile.ENVELOPE
_COUNTED = frozenset({"HL", "CLM", "LX"})  # segments X12Reader counts or checks on reading
_NUM = re.compile(r"-?[0-9]+")
_REAL = re.compile(r"-?[0-9]*(\.[0-9]+)?")
_DATE_FORMATS = frozenset({"RD8", "D8", "D6", "DT", "TM"})
_NOT_FOUND = object()
_Q01 = ((1, None),)
_MAX_TRACES = 20000
_MAX_QUALS = 64  # element-1 values remembered per segment id and start node
_MAX_SEEN = 2048  # values remembered per element / texts per segment node
# A memo pays where values repeat (qualifiers, codes, dates, whole DTP and LX segments).
# Where nearly every value is new (claim ids, names, addresses, HL numbers) each lookup
# is a miss that costs more than the check it was to save: a fresh string hashed and a
# probe into a dict too big to stay in the cache (such lookups took ~7% of a compiled
# run's time). A memo that has taken _PROBE values keeps going only if at least
# _MIN_HITS (a fraction) of the lookups so far were hits; else it is dropped for good.
_PROBE = 256
_MIN_HITS = (1, 4)
# Steps of a recorded walk.
_MISS, _SEG, _LOOP, _NOTFOUND, _RESULT = range(5)

# One walker error: (map node or None, segment id for the cursor, seg count, code, text).
WalkError = tuple[Node | None, str, int, str, str]


def _reenter(
    counts: dict[int, int], loop: int, below: frozenset[int], above: tuple[int, ...]
) -> None:
    """Entering loop `loop`: delete the counts below it and move its own last.

    Why scanning from the end is enough: dicts keep insertion order, and every entry of
    a loop deletes what is counted below it and moves its count last, so whatever below
    a counted loop is counted now was counted after it. So for a loop counted already,
    the scan stops at its own count (a few keys, against ~125 keys below a claim loop).

    A loop not counted yet (each claim's 2300, each first 2400: three in four calls) may
    have counts below it that were made while it was not counted (_goto_seg_match, as
    pyx12's walk, can enter a loop's child loop without the loop: wrappers, or a loop
    whose first segment did not match). Those are below every loop `above` it too, so
    they were counted after the nearest of those that is counted: the scan stops there
    (for a claim's 2300, its patient's 2000 loop and the few keys since). With none of
    them counted, `isdisjoint` looks at every count, in C: over the smaller side."""
    if loop not in counts:
        for stop in above:
            if stop in counts:
                break
        else:
            if len(counts) < len(below):
                disjoint = below.isdisjoint(counts)
            else:
                disjoint = counts.keys().isdisjoint(below)
            if not disjoint:
                for k in [k for k in counts if k in below]:
                    del counts[k]
            return
    else:
        stop = loop
    doomed = []
    for k in reversed(counts):
        if k == stop:
            break
        if k in below:
            doomed.append(k)
    for k in doomed:
        del counts[k]
    if stop == loop:
        counts[loop] = counts.pop(loop)


def _value(el: list[str], idx: int, sub: int | None, subterm: str) -> str | None:
    if idx >= len(el):
        return None
    v = el[idx]
    if sub is None:
        return v
    parts = v.split(subterm)
    return parts[sub - 1] if sub <= len(parts) else None


# A recorded walk of the usual shape: counter keys of the mandatory segments and loops it
# passed (each must have been seen), then the segment matched, and the loop it opens or None.
FastStep = tuple[tuple[int, ...], Node, Node | None]


def _fast_form(trace: list[tuple[int, Any]]) -> FastStep | None:
    """A trace of missing-checks, then one matched segment or entered loop, then its result."""
    if len(trace) < 2 or trace[-1][0] != _RESULT:
        return None
    miss: list[int] = []
    for op, arg in trace[:-2]:
        if op != _MISS:
            return None
        miss.append(arg[0].key)
    op, arg = trace[-2]
    if op == _SEG and arg.usage != "N":
        return tuple(miss), arg, None
    if op == _LOOP and arg[0].usage != "N":
        return tuple(miss), arg[1], arg[0]
    return None


class _ByQualifier:
    """A node's usual next steps for one segment id, told apart by one element's value."""

    __slots__ = ("by", "idx", "sub")

    def __init__(self, idx: int, sub: int | None) -> None:
        self.idx = idx
        self.sub = sub
        self.by: dict[str | None, FastStep] = {}


class FastWalker:
    """pyx12's walk_tree over compiled nodes: same matching, counting and missing-segment errors."""

    def __init__(self, t: Tables) -> None:
        self.t = t
        self.counts: dict[int, int] = {}
        self.missing: list[tuple[Node, str, int]] = []
        self.pending: list[WalkError] = []
        self.seg_id = ""
        self.el: list[str] = []
        self.subterm = ":"
        self.seg_count = 0
        self.trace: list[tuple[int, Any]] = []
        self.traces: dict[object, list[tuple[int, Any]]] = {}
        # Traces of the usual shape (see _fast_form), by the same keys as `traces`.
        self.fast: dict[object, FastStep] = {}

    # counters ---------------------------------------------------------------
    def _reset(self, key: int) -> None:
        below, above = self.t.reentry(key)
        _reenter(self.counts, key, below, above)

    def _inc(self, key: int) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1

    def forceWalkCounterToLoopStart(self, x12_path: str, child_path: str) -> None:
        k = self.t.key(x12_path)
        self._reset(k)
        self._inc(k)
        self._inc(self.t.key(child_path))

    # matching ---------------------------------------------------------------
    def _match(self, seg: Node) -> bool:
        if seg.xid != self.seg_id:
            return False
        q = seg.qual
        if q is None:
            return True
        return _value(self.el, q[0], q[1], self.subterm) in seg.qual_codes

    # the walk ---------------------------------------------------------------
    def key(self, orig: Node, seg_id: str, el: list[str], subterm: str) -> object:
        """Which way the walk goes depends on where it starts, the segment's id and its
        qualifiers only, never on the counters: walks are recorded and replayed by this key."""
        quals = self.t.qual_pos.get(seg_id, ())
        if quals == _Q01:
            # a string key: no tuple for the collector to track on every segment
            return f"{orig.uid}|{seg_id}|{el[1]}" if len(el) > 1 else (orig, seg_id)
        if not quals:
            return f"{orig.uid}|{seg_id}"
        return (orig, seg_id, subterm, *(_value(el, q[0], q[1], subterm) for q in quals))

    def quick(self, key: object) -> Node | None:
        """The usual case, or None: the mandatory segments passed on the way are there and
        the segment (or the loop it opens) is within its repeat count, so there is nothing
        to report; the counters move as the full walk would move them."""
        fast = self.fast.get(key)
        return None if fast is None else self.take(fast)

    def take(self, step: FastStep) -> Node | None:
        """Move the counters by a usual step (see quick), or None when it does not apply."""
        counts = self.counts
        miss, child, loop = step
        for k in miss:
            if k not in counts:
                return None
        k = child.key
        if loop is None:
            count = counts.get(k, 0) + 1
            if count > child.max_repeat:
                return None
            counts[k] = count
            return child
        lk = loop.key
        count = counts.get(lk, 0) + 1
        if count > loop.max_repeat:
            return None
        below, above = self.t.reentry(lk)
        _reenter(counts, lk, below, above)
        counts[lk] = count
        counts[k] = counts.get(k, 0) + 1
        return child

    def walk(
        self,
        orig: Node,
        seg_id: str,
        el: list[str],
        subterm: str,
        seg_count: int,
        key: object = None,
    ) -> tuple[Node | None, list[WalkError]]:
        if self.missing:
            self.missing = []
        pending = self.pending
        if pending:
            pending.clear()  # the caller has used the last walk's errors
        if key is None:
            key = self.key(orig, seg_id, el, subterm)
            child = self.quick(key)
            if child is not None:
                return child, pending
        self.seg_id = seg_id
        self.el = el
        self.subterm = subterm
        self.seg_count = seg_count
        trace = self.traces.get(key)
        if trace is None:
            self.trace = []
            found = self._walk(orig)
            trace = self.trace
            trace.append((_RESULT, found))
            if len(self.traces) < _MAX_TRACES:
                self.traces[key] = trace
                fast = _fast_form(trace)
                if fast is not None:
                    self.fast[key] = fast
            return found, self.pending
        return self._replay(orig, trace), self.pending

    def _replay(self, orig: Node, trace: list[tuple[int, Any]]) -> Node | None:
        counts = self.counts
        if len(trace) == 2 and trace[0][0] == _SEG:
            # the usual case: the next segment of the same loop
            child = trace[0][1]
            key = child.key
            count = counts[key] = counts.get(key, 0) + 1
            if count > child.max_repeat or child.usage == "N":
                counts[key] -= 1
                self._matched_seg(child)
            return child  # type: ignore[no-any-return]
        for op, arg in trace:
            if op == _MISS:
                if counts.get(arg[0].key, 0) < 1:
                    self.missing.append((arg[1], arg[2], self.seg_count))
            elif op == _SEG:
                self._matched_seg(arg)
            elif op == _LOOP:
                self._enter_loop(arg)
            elif op == _NOTFOUND:
                self.pending.append(
                    (orig, self.seg_id, self.seg_count, "1", self._not_found_text(orig))
                )
            else:
                return arg  # type: ignore[no-any-return]
        return None

    def _walk(self, orig: Node) -> Node | None:
        node = orig
        node_pos = orig.pos
        if node.kind == "S":
            assert node.parent_loop is not None
            node = node.parent_loop
        while True:
            found = self._scan(node, node_pos)
            if found is not _NOT_FOUND:
                return found  # type: ignore[return-value]
            if node.kind == "R":
                self.trace.append((_NOTFOUND, None))
                self.pending.append(
                    (orig, self.seg_id, self.seg_count, "1", self._not_found_text(orig))
                )
                return None
            node_pos = node.pos
            assert node.parent_loop is not None
            node = node.parent_loop

    def _not_found_text(self, orig: Node) -> str:
        if self.seg_id == "HL":
            seg = pyx12.segment.Segment("*".join(self.el), "~", "*", self.subterm)
            seg_str = seg.format("", "*", ":")
        else:
            seg_str = f"{self.seg_id}*{_value(self.el, 1, None, self.subterm)}"
        return f"Segment {seg_str} not found.  Started at {orig.path}"

    def _scan(self, node: Node, node_pos: int) -> object:
        for ordinal, kids in node.children:
            if ordinal < node_pos:
                continue
            for child in kids:
                if child.kind == "S":
                    if self._match(child):
                        if node.kind == "L" and self._is_loop_match(node):
                            return self._goto_seg_match(node)
                        self.trace.append((_SEG, child))
                        self._matched_seg(child)
                        return child
                    if child.usage == "R":
                        text = f'Mandatory segment "{child.name}" ({child.xid}) missing'
                        self.trace.append((_MISS, (child, child, text)))
                        if self.counts.get(child.key, 0) < 1:
                            self.missing.append((child, text, self.seg_count))
                elif self._is_loop_match(child):
                    return self._goto_seg_match(child)
        return _NOT_FOUND

    def _matched_seg(self, child: Node) -> None:
        self._inc(child.key)
        self._check_seg_usage(child)
        if self.missing:
            self.missing = [m for m in self.missing if m[0] is not child]
            self._flush(child.pos)

    def _enter_loop(self, arg: tuple[Node, Node]) -> None:
        loop, first = arg
        self._check_loop_usage(loop)
        self._inc(first.key)
        if self.missing:
            self._flush(None)

    def _is_loop_match(self, loop: Node) -> bool:
        first = loop.first_node
        if first is None:
            return False
        if first.kind == "L":
            return any(c.kind == "L" and self._is_loop_match(c) for c in loop.child_list)
        if first.kind == "S" and self._match(first):
            return True
        if loop.usage == "R":
            text = f'Mandatory loop "{loop.name}" ({loop.xid}) missing'
            self.trace.append((_MISS, (loop, first, text)))
            if self.counts.get(loop.key, 0) < 1:
                self.missing.append((first, text, self.seg_count))
        return False

    def _goto_seg_match(self, loop: Node) -> Node | None:
        first = loop.first_seg
        if first is not None and self._match(first):
            self.trace.append((_LOOP, (loop, first)))
            self._enter_loop((loop, first))
            return first
        for child in loop.child_list:
            if child.kind == "L":
                got = self._goto_seg_match(child)
                if got is not None:
                    return got
        return None

    def _check_seg_usage(self, seg: Node) -> None:
        if seg.usage == "N":
            self.pending.append(
                (None, "", 0, "2", f"Segment {seg.xid} found but marked as not used")
            )
            return
        count = self.counts.get(seg.key, 0)
        if count > seg.max_repeat:
            self.pending.append(
                (
                    seg,
                    self.seg_id,
                    self.seg_count,
                    "5",
                    f"Segment {self.seg_id} exceeded max count.  Found {count:d}, "
                    f"should have {seg.max_repeat:d}",
                )
            )

    def _check_loop_usage(self, loop: Node) -> None:
        if loop.usage == "N":
            self.pending.append((None, "", 0, "2", f"Loop {loop.xid} found but marked as not used"))
            return
        self._reset(loop.key)
        self._inc(loop.key)
        count = self.counts[loop.key]
        if count > loop.max_repeat:
            self.pending.append(
                (
                    loop,
                    self.seg_id,
                    self.seg_count,
                    "4",
                    f"Loop {loop.xid} exceeded max count.  Found {count:d}, "
                    f"should have {loop.max_repeat:d}",
                )
            )

    def _flush(self, cur_pos: int | None) -> None:
        keep = []
        for m in self.missing:
            seg = m[0]
            if seg.pos != cur_pos:
                self.pending.append((seg, seg.xid, m[2], "3", m[1]))
            else:
                keep.append(m)
        self.missing = keep


# Date types an 8-digit CCYYMMDD value satisfies when it is a real day (pyx12's
# is_valid_date: DT takes 6, 8 or 12 digits, D8 exactly 8).
_CCYYMMDD = frozenset({"DT", "D8"})
_MONTH_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def ccyymmdd_valid(v: str) -> bool:
    """True when `v` is 8 ASCII digits naming a day from 1800 on: a date pyx12 accepts.

    Why here: every unseen date (birth dates, mostly) went to pyx12's checker, ~8,000
    instructions a call. False means only "not vouched for": the caller asks pyx12."""
    if len(v) != 8 or not v.isascii() or not v.isdigit():
        return False
    year = int(v[:4])
    month = int(v[4:6])
    day = int(v[6:])
    if year < 1800 or month < 1 or month > 12 or day < 1:
        return False
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return day <= 29
    return day <= _MONTH_DAYS[month]


def _ele_clean(s: Elem, v: str, bad: re.Pattern[str], ext: Any) -> bool:
    """True when pyx12 would find nothing wrong with value v of a simple element."""
    if v == "":
        return not s.required_empty
    if s.usage == "N":
        return False
    dtype = s.dtype
    n = len(v.replace("-", "").replace(".", "")) if s.numeric else len(v)
    if n < s.min_len or n > s.max_len:
        return False
    if dtype == "AN" or dtype == "ID":
        if v[-1] == " " or bad.search(v) is not None:
            return False
    elif dtype is None:
        return False
    elif dtype[0] == "N":
        if _NUM.fullmatch(v) is None:
            return False
    elif dtype == "R":
        if _REAL.fullmatch(v) is None:
            return False
    elif dtype in ("DT", "D8", "D6", "TM"):
        if not (dtype in _CCYYMMDD and ccyymmdd_valid(v)) and not validation.IsValidDataType(
            v, dtype, mapcompile.CHARSET, "00501"
        ):
            return False
    else:
        return False
    if (
        (s.codes or s.external is not None)
        and v not in s.codes
        and (s.external is None or not ext.isValid(s.external, v))
    ):
        return False
    if s.type_list and not any(
        (d in _CCYYMMDD and ccyymmdd_valid(v))
        or validation.IsValidDataType(v, d, mapcompile.CHARSET)
        for d in s.type_list
    ):
        return False
    return s.rec is None or s.rec.search(v) is not None


def segment_clean(
    node: Node, text: str, el: list[str], subterm: str, bad: re.Pattern[str], ext: Any
) -> bool:
    """True when pyx12's segment validation would report nothing (a sound, quick check)."""
    if node.seen_sub != subterm:
        # The same text splits otherwise with another component separator (the element
        # separator is the text's own character after the segment id).
        node.seen = {}
        node.seen_sub = subterm
        node.asked = 0
    seen = node.seen
    if seen is not None:
        node.asked += 1
        got = seen.get(text)
        if got is not None:
            return got
    if _BY_ELEMENT:
        got = _segment_clean(node, el, subterm, bad, ext)
    else:
        got = _pattern_clean(node, text, el, subterm, bad, ext) or _segment_clean(
            node, el, subterm, bad, ext
        )
    if seen is not None and len(seen) < _MAX_SEEN:
        seen[text] = got
        if len(seen) == _PROBE and _few_hits(node.asked):
            node.seen = None
    return got


def _few_hits(asked: int) -> bool:
    """Whether a memo that has just taken its _PROBE-th value (one per miss) found too
    few of the values it was asked for to be worth keeping."""
    return (asked - _PROBE) * _MIN_HITS[1] < asked * _MIN_HITS[0]


_ALLOWED: dict[str, str] = {}  # bad-character pattern -> the characters it allows


def _allowed_chars(bad: re.Pattern[str]) -> str:
    got = _ALLOWED.get(bad.pattern)
    if got is None:
        got = _ALLOWED[bad.pattern] = "".join(
            c for c in map(chr, range(32, 256)) if bad.search(c) is None
        )
    return got


def _pattern_clean(
    node: Node, text: str, el: list[str], subterm: str, bad: re.Pattern[str], ext: Any
) -> bool:
    """The one-regex check of segpattern, then what it leaves to Python; False = not sure."""
    ele = text[len(node.xid)] if len(text) > len(node.xid) else ""
    if not ele:
        return False
    sp = node.patterns.get((ele, subterm))
    if sp is None:
        sp = node.patterns[(ele, subterm)] = compile_segment(
            node, _allowed_chars(bad), ele, subterm
        )
    if sp.regex is None or sp.regex.fullmatch(text) is None:
        return False
    for i, j, spec in sp.post:
        if i >= len(el):
            continue
        v = el[i]
        if j is not None:
            parts = v.split(subterm)
            v = parts[j] if j < len(parts) else ""
        if v and not _cached_clean(spec, v, bad, ext):
            return False
    return not node.tail or _tail_clean(node, el, len(el) - 1, subterm)


def _cached_clean(s: Elem, v: str, bad: re.Pattern[str], ext: Any) -> bool:
    seen = s.seen
    if seen is None:
        return _ele_clean(s, v, bad, ext)
    s.asked += 1
    got = seen.get(v)
    if got is None:
        got = _ele_clean(s, v, bad, ext)
        if len(seen) < _MAX_SEEN:
            seen[v] = got
            if len(seen) == _PROBE and _few_hits(s.asked):
                s.seen = None
    return got


def _segment_clean(node: Node, el: list[str], subterm: str, bad: re.Pattern[str], ext: Any) -> bool:
    specs = node.elems
    n = len(el) - 1
    if n > len(specs):
        return False
    for i in range(n):
        s = specs[i]
        v = el[i + 1]
        subs = s.subs
        if subs is None:
            if subterm in v:
                return False
            if not _cached_clean(s, v, bad, ext):
                return False
            continue
        if v == "":
            if s.usage == "R":
                return False
            continue
        if s.usage == "N":
            return False
        parts = v.split(subterm)
        if len(parts) > len(subs):
            return False
        if not any(parts):
            return False  # an empty composite written with separators: let pyx12 judge it
        for j, p in enumerate(parts):
            if not _cached_clean(subs[j], p, bad, ext):
                return False
        for j in range(len(parts), len(subs)):
            if subs[j].required_empty:
                return False
    for i in range(n, len(specs)):
        if specs[i].usage == "R":
            return False
    return not node.tail or _tail_clean(node, el, n, subterm)


def _tail_clean(node: Node, el: list[str], n: int, subterm: str) -> bool:
    """The checks that span elements: DTP's date against its format, syntax rules."""
    if (
        node.xid == "DTP"
        and n >= 3
        and el[3] != ""
        and el[2] in _DATE_FORMATS
        and not validation.IsValidDataType(el[3], el[2], mapcompile.CHARSET)
    ):
        return False
    for code, idx in node.syntax:
        count = 0
        for s_i in idx:
            if s_i <= n and el[s_i] != "":
                if subterm in el[s_i]:
                    return False
                count += 1
        if code == "P":
            if count != 0 and count != len(idx):
                return False
        elif code == "R":
            if count == 0:
                return False
        elif code == "E":
            if count > 1:
                return False
        elif code == "C" or code == "L":
            first = idx[0]
            if first <= n and el[first] != "":
                rest = count - 1
                if code == "C" and rest != len(idx) - 1:
                    return False
                if code == "L" and rest < 1:
                    return False
        else:
            return False
    return True


class FastStructuralChecker(StructuralChecker):
    """Same findings as StructuralChecker, from compiled tables; pyx12 only for doubtful segments."""

    def __init__(
        self, sink: FindingSink, context: ContextFn, accepted_versions: tuple[str, ...] = ()
    ) -> None:
        super().__init__(sink, context, accepted_versions)
        self._tables = mapcompile.tables(self._folder)
        self._plain_ids = self._tables.plain_ids  # one set, filled as maps are added
        self._fast_walker = FastWalker(self._tables)
        self._walker = self._fast_walker
        self._bad = mapcompile.bad_char_re()
        self._cnode: Node | None = None
        self._cnode_of: Any = None
        # pyx12's reader counts segments and lines (seg_count, cur_line) on a Python
        # object: four attribute look-ups and two boxed ints a segment. The fast path counts
        # here instead, and _sync writes the counts back before anything else reads them
        # (the slow path, finish). _segc < 0: not mirrored, read them from the reader.
        self._segc = -1
        self._curl = 0

    def _sync(self) -> None:
        if self._segc >= 0:
            r = self._reader
            r.seg_count = self._segc
            r.cur_line = self._curl
            self._segc = -1

    def finish(self) -> None:
        self._sync()
        super().finish()

    def _start_interchange(self, tok: Token) -> None:
        super()._start_interchange(tok)
        if self._control is not None:
            mapcompile.load(self._folder, "x12.control.00501.xml")

    def feed(self, tok: Token) -> None:
        seg_id = tok.seg_id
        r = self._reader
        d = tok.delimiters
        # The reader's separators are those of the interchange's ISA token (see
        # _start_interchange): read them off the token, natively, when it is that one's.
        own = d is self._delims
        # (None before the first ISA: "" then, which no text ends with)
        ele_term: str = d.element if own else (r.ele_term or "")
        text = tok.text
        node = self._node
        if (
            node is None
            or self._cnode_of is not node
            or self._skip
            or seg_id not in self._plain_ids
            or len(text) <= len(seg_id) + 1
            or (text[-1] == ele_term and text.rstrip(ele_term) == seg_id)
        ):
            self._sync()
            super().feed(tok)
            return
        # An ordinary segment inside a checked transaction: StructuralChecker.feed and
        # _validate, with nothing looked up twice.
        self._line = tok.line
        self.current = seg_id
        if self.position is not None:
            self.position += 1
        self._sv3_missing_reported = False
        errh = self._errh
        errh.suppress_unrecognized = False
        segc = self._segc
        if segc < 0:
            segc = r.seg_count
            self._curl = r.cur_line
        if text[-1] == ele_term:
            r._seg_error(
                "SEG1", "Segment contains trailing element terminators", None, self._curl + 1
            )
        el = tok.fields() if own else text.split(ele_term)
        if seg_id in _COUNTED:
            self._read_counted(seg_id, el)
        segc += 1
        self._segc = segc
        self._curl += 1
        subterm: str = d.component if own else r.subele_term
        start = self._cnode
        assert start is not None
        walker = self._fast_walker
        # The walk's usual step, looked up on the start node without building a key.
        step = start.steps.get(seg_id)
        if step is not None and step.__class__ is _ByQualifier:
            step = step.by.get(_value(el, step.idx, step.sub, subterm))
        cn = walker.take(step) if step is not None else None
        if cn is None:
            key = walker.key(start, seg_id, el, subterm)
            cn = walker.quick(key)
            if cn is not None:
                self._remember_step(start, seg_id, el, key)
        if cn is None:
            cn, walk_errors = walker.walk(start, seg_id, el, subterm, segc, key)
            for w_node, w_seg, w_count, w_code, w_text in walk_errors:
                if w_node is not None:
                    errh._set_seg(w_seg, w_node.py, w_count)
                errh.seg_error(w_code, w_text, None)
        if cn is None:
            if r.err_list:
                errh.handle_errors(r.pop_errors())
        else:
            node = cn.py
            errh._seg_id = seg_id
            errh._seg_count = segc
            errh._seg_name = cn.name
            errh._seg_loop = cn.loop_id
            errh._ele = None
            if r.err_list:
                errh.handle_errors(r.pop_errors())
            if cn.special or not segment_clean(cn, text, el, subterm, self._bad, cn.ext):
                seg = pyx12.segment.Segment(text, r.seg_term, ele_term, subterm)
                apply_segment_errors(node, seg, errh)
            self._node = node
            self._cnode = cn
            self._cnode_of = node
        if self._previous == "LX" and seg_id != "SV3" and not self._sv3_missing_reported:
            self.emit(
                "seg",
                "3",
                "Mandatory segment SV3 missing",
                None,
                segment_id="SV3",
                position=self.position,
                segment_name="Dental Service",
                loop="2400",
            )
        self._previous = seg_id

    def _remember_step(self, start: Node, seg_id: str, el: list[str], key: object) -> None:
        """Keep a usual walk step on its start node, by segment id (and element 1 where the
        map tells segments apart by it), for feed's lookup without a key."""
        fast = self._fast_walker.fast.get(key)
        if fast is None:
            return
        quals = self._tables.qual_pos.get(seg_id, ())
        steps = start.steps
        if not quals:
            steps[seg_id] = fast
        elif len(quals) == 1:
            idx, sub = quals[0]
            by_qual = steps.get(seg_id)
            if by_qual is None:
                by_qual = steps[seg_id] = _ByQualifier(idx, sub)
            if len(by_qual.by) < _MAX_QUALS:
                by_qual.by[_value(el, idx, sub, self._reader.subele_term)] = fast

    def _wrong_delimiter(self, tok: Token) -> bool:
        return not tok.seg_id.isalnum() and super()._wrong_delimiter(tok)

    def _validate(self, tok: Token) -> None:
        r = self._reader
        text = tok.text
        errh = self._errh
        errh.suppress_unrecognized = self._wrong_delimiter(tok)
        ele_term = r.ele_term
        subterm = r.subele_term
        if text.endswith(ele_term):
            r._seg_error(
                "SEG1", "Segment contains trailing element terminators", None, r.cur_line + 1
            )
        el = text.split(ele_term)
        seg_id = el[0]
        t = self._tables
        seg: Any = None
        if seg_id in _ENVELOPE or seg_id not in t.seg_ids or not any(el[1:]):
            seg = pyx12.segment.Segment(text, r.seg_term, ele_term, subterm)
            try:
                r._parse_segment(seg)
            except (
                pyx12.errors.X12Error,
                IndexError,
            ) as exc:  # IndexError: a trailer with no open header
                r._isa_error("024", str(exc))
            seg_id = seg.get_seg_id()
        else:
            self._read(seg_id, el)
        walker = self._fast_walker
        orig = self._node
        node: Any
        cn: Node | None = None
        if seg_id == "ISA":
            node = self._control.getnodebypath("/ISA_LOOP/ISA")
            walker.forceWalkCounterToLoopStart("/ISA_LOOP", "/ISA_LOOP/ISA")
        elif seg_id == "GS":
            node = self._control.getnodebypath("/ISA_LOOP/GS_LOOP/GS")
            walker.forceWalkCounterToLoopStart("/ISA_LOOP/GS_LOOP", "/ISA_LOOP/GS_LOOP/GS")
        else:
            if orig is None:
                return
            count = r.seg_count + (1 if seg_id == "SE" else 0)
            start = self._cnode if self._cnode is not None and self._cnode_of is orig else None
            if start is None:
                start = t.node(orig)
            cn, walk_errors = walker.walk(start, seg_id or "", el, subterm, count)
            for w_node, w_seg, w_count, w_code, w_text in walk_errors:
                if w_node is not None:
                    errh._set_seg(w_seg, w_node.py, w_count)
                errh.seg_error(w_code, w_text, None)
            node = cn.py if cn is not None else None
        if node is None:
            self._node = orig
            errh.handle_errors(r.pop_errors())
            return
        if seg_id == "ISA":
            errh._set_seg("ISA", None, None)
            errh.handle_errors(r.pop_errors())
        elif seg_id == "GS":
            name = self._index.get_filename(self._icvn, seg.get_value("GS08"), "HC")
            if name and name != self._map_name:
                self._map, _t = mapcompile.load(self._folder, name)
                self._map_name = name
                r.check_837_lx = self._map.id == "837"
            node = self._map.getnodebypath("/ISA_LOOP/GS_LOOP/GS")
            errh._set_seg("GS", None, None)
            errh.handle_errors(r.pop_errors())
        elif seg_id == "ST":
            errh._set_seg("ST", None, 1)
            errh.handle_errors(r.pop_errors())
        elif cn is not None:
            # errh._set_seg(seg_id, node, count), without looking anything up
            errh._seg_id = seg_id
            errh._seg_count = r.seg_count
            errh._seg_name = cn.name
            errh._seg_loop = cn.loop_id
            errh._ele = None
            if r.err_list:
                errh.handle_errors(r.pop_errors())
        else:
            errh._set_seg(seg_id, node, r.seg_count)
            errh.handle_errors(r.pop_errors())
        if cn is None:
            cn = t.by_py.get(id(node))
        if (
            seg is not None
            or cn is None
            or cn.special
            or not segment_clean(cn, text, el, subterm, self._bad, cn.ext)
        ):
            if seg is None:
                seg = pyx12.segment.Segment(text, r.seg_term, ele_term, subterm)
            apply_segment_errors(node, seg, errh)
        self._node = node
        self._cnode = cn
        self._cnode_of = node
        if seg_id == "SE":
            self._st_control = None
            self.position = None

    def _read(self, seg_id: str, el: list[str]) -> None:
        """pyx12's X12Reader._parse_segment for an ordinary segment with a valid id."""
        if seg_id in _COUNTED:
            self._read_counted(seg_id, el)
        r = self._reader
        r.seg_count += 1
        r.cur_line += 1

    def _read_counted(self, seg_id: str, el: list[str]) -> None:
        """_read's HL and LX bookkeeping (the segment and line counts are the caller's)."""
        r = self._reader
        if seg_id == "HL":
            r.hl_count += 1
            hl01 = el[1] if len(el) > 1 else None
            if r.hl_count != _int(hl01):
                r._seg_error(
                    "HL1", f"My HL count {r.hl_count:d} does not match your HL count {hl01}"
                )
            hl02 = el[2] if len(el) > 2 else None
            stack: list[int] = r.hl_stack
            if hl02 != "":
                # pyx12 tests `parent in stack`, then pops down to it. Searched from the
                # top here: the same answer, but pyx12 pops only for a child HL, so a set
                # with many 2000A loops keeps each billing provider's HL on the stack, and
                # a search from the bottom made every HL cost O(stack).
                parent = _int(hl02)
                i = len(stack) - 1
                while i >= 0 and stack[i] != parent:
                    i -= 1
                if i < 0:
                    r._seg_error("HL2", f"HL parent ({parent}) is not a valid parent")
                del stack[i + 1 :]
            stack.append(r.hl_count)
        elif r.check_837_lx and seg_id == "CLM":
            r.lx_count = 0
        elif r.check_837_lx and seg_id == "LX":
            r.lx_count += 1
            lx01 = el[1] if len(el) > 1 else None
            if lx01 != f"{r.lx_count:d}":
                r._seg_error(
                    "LX",
                    f"Your 2400/LX01 Service Line Number {lx01} does not match my count "
                    f"of {r.lx_count:d}",
                )


def _int(value: str | None) -> int | None:
    try:
        return int(value)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return None


# Which check a new segment text gets first. Both vouch only for what pyx12 accepts (the
# pattern may be stricter, never looser). Compiled (mypyc), the element-by-element check
# costs ~5,900 instructions a new segment against ~8,500 for the pattern (a regex call,
# its match object, the checks it leaves to Python): it goes alone. As Python source the
# two cost about the same (the pattern ~0.4% less on a whole run): the pattern goes first.
_BY_ELEMENT: Final = not isinstance(_segment_clean, types.FunctionType)
