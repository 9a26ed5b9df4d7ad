"""Compile a pyx12 map into flat lookup tables for the fast structural checker.

pyx12 reads our map XML (and its control, data-element and code-list files) into a
tree of Python objects and walks that tree, building path objects, for every
segment. Here the same tree is read once per process and flattened: each loop
and segment becomes a `Node` with plain attributes (usage, position, repeat,
qualifier codes as a frozenset, an integer counter key), and each element an
`Elem` with its type, lengths and code set. The checker then walks these with
dictionaries of integers. The pyx12 node is kept on each `Node`, so a segment the
fast checks cannot vouch for is handed to pyx12 itself (see faststructure.py).
"""

from __future__ import annotations

import gc
import re
from typing import Any

import pyx12.map_if
import pyx12.params
import pyx12.path
import pyx12.segment
from pyx12 import validation
from pyx12.map_if._composite import composite_if
from pyx12.map_if._segment import segment_if

MAXINT = 2147483647
ENVELOPE = frozenset({"ISA", "IEA", "GS", "GE", "ST", "SE"})
_PARAM = pyx12.params.params()
CHARSET = str(_PARAM.get("charset") or "B")


def bad_char_re(icvn: str = "00501") -> re.Pattern[str]:
    """The pattern pyx12 uses to find a character AN/ID values may not hold."""
    rec: re.Pattern[str]
    if CHARSET == "E":
        rec = validation.rec_ID_E5 if icvn == "00501" else validation.rec_ID_E
    else:
        rec = validation.rec_ID_B
    return rec


class Elem:
    """One element (or composite) of a segment, as plain values."""

    __slots__ = (
        "asked",
        "codes",
        "codes_order",
        "data_ele",
        "dtype",
        "external",
        "max_len",
        "min_len",
        "numeric",
        "rec",
        "required_empty",
        "seen",
        "subs",
        "type_list",
        "usage",
    )

    def __init__(self, node: Any) -> None:
        self.usage: str = node.usage or "S"
        self.subs: tuple[Elem, ...] | None = None
        self.required_empty = False
        self.dtype: str | None = None
        self.numeric = False
        self.min_len = 0
        self.max_len = MAXINT
        self.codes: frozenset[str] = frozenset()
        self.external: str | None = None
        self.rec: re.Pattern[str] | None = None
        self.data_ele: str | None = None
        self.type_list: tuple[str, ...] = ()
        # value -> clean, filled by the checker; None: not worth it for this element
        self.seen: dict[str, bool] | None = {}
        self.asked = 0  # lookups in `seen` (faststructure decides on it)
        self.codes_order: list[str] = []
        if isinstance(node, composite_if):
            self.subs = tuple(Elem(c) for c in node.children)
            return
        parent = node.parent
        self.required_empty = self.usage == "R" and (
            node.seq != 1 or not parent.is_composite() or parent.usage == "R"
        )
        data = node._resolve_data_ele()
        self.dtype = data["data_type"]
        self.numeric = self.dtype is not None and (self.dtype == "R" or self.dtype[0] == "N")
        self.min_len = int(data["min_len"])
        self.max_len = int(data["max_len"])
        self.codes = frozenset(node._valid_codes_set)
        self.codes_order = list(node.valid_codes)
        self.external = node.external_codes
        self.rec = node.rec
        self.data_ele = node.data_ele


class Node:
    """A loop, a segment or the map root, flattened."""

    __slots__ = (
        "asked",
        "child_list",
        "children",
        "elems",
        "ext",
        "first_node",
        "first_seg",
        "key",
        "kind",
        "loop_id",
        "max_repeat",
        "name",
        "parent_loop",
        "path",
        "patterns",
        "pos",
        "py",
        "qual",
        "qual_codes",
        "seen",
        "seen_sub",
        "special",
        "steps",
        "syntax",
        "tail",
        "uid",
        "usage",
        "xid",
    )

    def __init__(self, py: Any, kind: str, key: int) -> None:
        self.py = py
        self.kind = kind  # "R" root, "L" loop, "S" segment
        self.uid = 0  # unique among all compiled nodes
        self.xid: str = py.id or ""
        self.name: str = py.name or ""
        self.usage: str = getattr(py, "usage", None) or ""
        self.pos: int = int(getattr(py, "pos", 0) or 0)
        self.max_repeat = MAXINT
        self.parent_loop: Node | None = None
        self.key = key
        self.path: str = py.get_path()
        parent = py.get_parent() if hasattr(py, "get_parent") else None
        self.loop_id: str = getattr(parent, "id", "") or ""
        self.children: list[tuple[int, list[Node]]] = []
        self.child_list: list[Node] = []
        self.first_node: Node | None = None
        self.first_seg: Node | None = None
        self.qual: tuple[int, int | None] | None = None
        self.qual_codes: frozenset[str] = frozenset()
        self.elems: tuple[Elem, ...] = ()
        self.ext: Any = None  # pyx12's external code lists (its map root's), for segments
        self.syntax: list[tuple[str, tuple[int, ...]]] = []
        # segment text -> clean, filled by the checker; None: not worth it for this segment
        self.seen: dict[str, bool] | None = {}
        self.seen_sub = ""  # the component separator `seen` holds texts for
        self.asked = 0  # lookups in `seen` (faststructure decides on it)
        # (element separator, component separator) -> segpattern.SegmentPattern
        self.patterns: dict[tuple[str, str], Any] = {}
        self.special = False  # DTP/1251 handling or ISA-style parsing: always ask pyx12
        self.tail = False  # checks spanning elements (syntax rules, DTP's date format)
        # The walk's usual next steps from this node, filled by faststructure: segment id ->
        # FastStep, or (segments told apart by element 1) -> {element 1: FastStep}.
        self.steps: dict[str, Any] = {}


class Tables:
    """Counter keys and compiled nodes for every map loaded in this process."""

    def __init__(self) -> None:
        self.keys: dict[str, int] = {}
        self.paths: list[list[str]] = []
        self.by_py: dict[int, Node] = {}
        self.maps: dict[str, Any] = {}
        self.seg_ids: set[str] = set()
        self.plain_ids: set[str] = set()  # seg_ids but the envelope's
        # Where each segment id carries the qualifier that tells its map nodes apart.
        self.qual_pos: dict[str, tuple[tuple[int, int | None], ...]] = {}
        self._reentry: dict[int, tuple[frozenset[int], tuple[int, ...]]] = {}

    def key(self, path: str) -> int:
        fmt = pyx12.path.X12Path(path).format()
        k = self.keys.get(fmt)
        if k is None:
            k = len(self.paths)
            self.keys[fmt] = k
            self.paths.append(fmt.split("/"))
            self._reentry.clear()
        return k

    def reentry(self, key: int) -> tuple[frozenset[int], tuple[int, ...]]:
        """What faststructure._reenter needs to enter loop `key`: the counter keys strictly
        below it (pyx12's NodeCounter.reset_to_node), and the keys of the loops above it,
        nearest first (the keys whose paths are `key`'s path cut short, the root's "/"
        left out)."""
        got = self._reentry.get(key)
        if got is None:
            path = self.paths[key]
            n = len(path)
            below = frozenset(i for i, p in enumerate(self.paths) if len(p) > n and p[:n] == path)
            above = (self.keys.get("/".join(path[:i])) for i in range(n - 1, 1, -1))
            got = (below, tuple(k for k in above if k is not None))
            self._reentry[key] = got
        return got

    def node(self, py: Any) -> Node:
        return self.by_py[id(py)]

    def add_map(self, name: str, root: Any) -> Any:
        if name in self.maps:
            return self.maps[name]
        self.maps[name] = root
        self._compile(root, None)
        return root

    def _compile(self, py: Any, parent_loop: Node | None) -> Node:
        if py.is_map_root():
            node = Node(py, "R", self.key("/"))
        elif py.is_loop():
            node = Node(py, "L", self.key(py.x12path.format()))
            node.max_repeat = py.get_max_repeat()
        else:
            node = Node(py, "S", self.key(py.x12path.format()))
            node.max_repeat = py.get_max_repeat()
        node.parent_loop = parent_loop
        node.uid = len(self.by_py)
        self.by_py[id(py)] = node
        if node.kind == "S":
            self._compile_segment(node, py)
            if node.qual is not None and node.qual not in self.qual_pos.get(node.xid, ()):
                self.qual_pos[node.xid] = (*self.qual_pos.get(node.xid, ()), node.qual)
            if pyx12.segment.rec_seg_id.search(node.xid) is not None:
                self.seg_ids.add(node.xid)
                if node.xid not in ENVELOPE:
                    self.plain_ids.add(node.xid)
            return node
        for ordinal in sorted(py.pos_map):
            kids = [
                self._compile(c, node) for c in py.pos_map[ordinal] if c.is_loop() or c.is_segment()
            ]
            node.children.append((ordinal, kids))
            node.child_list.extend(kids)
        if node.kind == "L":
            first = py.get_first_node()
            node.first_node = self.by_py.get(id(first)) if first is not None else None
            fs = py.get_first_seg()
            node.first_seg = self.by_py.get(id(fs)) if fs is not None else None
        return node

    @staticmethod
    def _compile_segment(node: Node, py: segment_if) -> None:
        key = py._resolve_unique_key_field(py.id, with_qual=False)
        if key is not None:
            child, ele_idx, sub_idx = key
            node.qual = (ele_idx, sub_idx)
            node.qual_codes = frozenset(child._valid_codes_set)
        node.elems = tuple(Elem(c) for c in py.children)
        node.ext = py.root.ext_codes
        for syn in py.syntax:
            node.syntax.append((str(syn[0]), tuple(int(s) for s in syn[1:])))
        if py.id in ENVELOPE:
            node.special = True
        # pyx12 checks a date element (1251) against the formats its segment's
        # qualifier element (1250) allows: all of them, whatever the qualifier says.
        formats: list[str] = []
        for i, e in enumerate(node.elems):
            if e.subs is not None:
                continue
            if e.data_ele == "1250":
                formats.extend(e.codes_order)
            if e.data_ele == "1251" and formats and not (py.id == "DTP" and i == 2):
                e.type_list = tuple(formats)
        if any(len(s[1]) < 2 for s in node.syntax):
            node.special = True
        node.tail = bool(node.syntax) or node.xid == "DTP"


_TABLES: dict[str, Tables] = {}
_PY_MAPS: dict[str, Any] = {}


def tables(folder: str) -> Tables:
    """One Tables per map folder per process."""
    t = _TABLES.get(folder)
    if t is None:
        t = _TABLES[folder] = Tables()
    return t


def load(folder: str, name: str) -> tuple[Any, Tables]:
    """Load (once per process) and compile map `name`; return pyx12's root and the tables."""
    t = tables(folder)
    key = folder + "/" + name
    root = _PY_MAPS.get(key)
    if root is None:
        # Share the copy structure.py loads, when it already has one.
        from x12dental import structure

        root = structure._load_map(name, folder)
        _PY_MAPS[key] = root
    if name not in t.maps:
        t.add_map(name, root)
        # The map trees live as long as the process: keep the collector from walking
        # them again and again (a full collection over them costs more than the check).
        gc.freeze()
    return root, t
