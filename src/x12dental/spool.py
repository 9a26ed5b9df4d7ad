"""Append-only sequences and maps that keep a bounded part in memory and the rest on disk.

A 200,000-claim file has 200,000 claim results (for the 277CA and the text report) and
may have as many findings; cross-claim rules remember something of every claim. Held
in memory, that grows with the file; here it does not: a Spool keeps its first items in
memory and pickles later ones, a block at a time, to a private temporary file; a SpillMap
keeps up to a number of keys in memory and moves them all to a private temporary SQLite
database when there are more.

The temporary files hold claim data (PHI): each is created 0600 inside its own 0700
folder, and both are deleted on close(), when the object is garbage-collected, and at
process exit, whichever comes first.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import pickle
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any, Generic, TypeVar, overload

if TYPE_CHECKING:  # imported where first used: most files never spill (start-up time)
    import sqlite3
    from multiprocessing.util import Finalize

T = TypeVar("T")
V = TypeVar("V")

# Items a Spool keeps in memory before it writes blocks to disk. Small on purpose: items
# held while a file is read cost more than their size (they pin the allocator's pools
# among the many short-lived objects of each claim); spooled ones cost a pickle.
MEMORY_ITEMS = 2048
BLOCK_ITEMS = 1024  # items per block on disk
MEMORY_KEYS = 10_240  # keys a SpillMap keeps in memory before it moves to SQLite

_PROTOCOL = pickle.HIGHEST_PROTOCOL


def private_file(name: str) -> tuple[str, str]:
    """(folder, path): a new 0700 folder holding an empty file created 0600."""
    # What deletes the folder (_cleanup's Finalize) is imported before the folder exists:
    # the first import takes milliseconds, and a SIGTERM then (the CLI unwinds on it) would
    # leave a folder nobody is to delete.
    import multiprocessing.util  # noqa: F401
    import tempfile

    folder = tempfile.mkdtemp(prefix="x12dental-spool-")  # 0700 by contract
    path = os.path.join(folder, name)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    os.close(fd)
    return folder, path


def _remove(handle: Any, folder: str) -> None:
    """Close and delete a temporary file and its folder; quiet when already gone."""
    with contextlib.suppress(Exception):  # cleanup must never raise (it runs at GC / exit)
        if handle is not None:
            handle.close()
    if os.path.isdir(folder):
        for name in os.listdir(folder):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(folder, name))  # the file, and any SQLite side file
    with contextlib.suppress(OSError):
        os.rmdir(folder)


def _cleanup(owner: object, handle: Any, folder: str) -> Finalize:
    """_remove(handle, folder) when `owner` is collected, or at exit, whichever is first.

    multiprocessing's Finalize rather than weakref.finalize: a worker process of a pool
    ends without running atexit handlers, but runs these (exitpriority set)."""
    from multiprocessing.util import Finalize

    return Finalize(owner, _remove, args=(handle, folder), exitpriority=0)


class Stored(Sequence[T]):
    """What every sequence here shares: indexing through `_item`, equality by items."""

    def _item(self, index: int) -> T:
        """Item `index`, already known to be within 0..len-1."""
        raise NotImplementedError

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[T]: ...

    def __getitem__(self, index: int | slice) -> T | Sequence[T]:
        size = len(self)
        if isinstance(index, slice):
            return [self._item(i) for i in range(*index.indices(size))]
        if index < 0:
            index += size
        if not 0 <= index < size:
            raise IndexError("index out of range")
        return self._item(index)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, (Stored, tuple, list)):
            return NotImplemented
        if len(self) != len(other):
            return False
        return all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]


def _packed(key: str, items: list[Any], same_machine: bool) -> dict[str, Any]:
    """Items for a pickled Spool: as marshal bytes when they are plain values (claim
    records are) and go to a process of this same interpreter (handover), else as they are.

    Why: a split part sends its claim records to the parent, and the parent waits for
    them; marshal writes and reads plain tuples two to three times faster than pickle. It
    is only for this interpreter's version, hence only on handover (never across machines).
    """
    if same_machine:
        try:
            return {key + "/marshal": marshal.dumps(items)}
        except ValueError:  # an object marshal does not carry (a Finding, say)
            pass
    return {key: items}


def _unpacked(key: str, state: dict[str, Any]) -> list[Any]:
    packed = state.get(key + "/marshal")
    return list(marshal.loads(packed)) if packed is not None else list(state[key])


def _block_bytes(items: list[Any]) -> bytes:
    """A block as written to the spool's file: marshal for plain values, pickle otherwise.

    Why: claim records (tuples of str, int, bool, None) fill most blocks, and marshal
    writes and reads them two to three times faster than pickle. The file is private to
    this process or to a process it hands the spool over to (same machine, same
    interpreter), never read by another Python version, which is all marshal promises."""
    try:
        return _MARSHAL + marshal.dumps(items)
    except ValueError:  # an object marshal does not carry (a Finding, a Decimal)
        return _PICKLE + pickle.dumps(items, _PROTOCOL)


def _block_items(data: bytes) -> list[Any]:
    body = memoryview(data)[1:]
    items: list[Any] = marshal.loads(body) if data[:1] == _MARSHAL else pickle.loads(body)
    return items


_MARSHAL, _PICKLE = b"M", b"P"  # first byte of a block: how the rest is written


class Spool(Stored[T]):
    """An append-only, re-iterable, sized, indexable sequence with a bounded memory part.

    Pickled, it carries its items (so it works on any machine), unless handover() was
    called: then it carries the path of its file and the receiving process becomes the
    file's owner (for process pools on one machine, where copying would double memory).
    """

    def __init__(
        self,
        items: Iterable[T] = (),
        *,
        memory: int | None = None,
        block: int | None = None,
    ) -> None:
        # None: the module's budgets, read now (tests lower them to exercise the disk part)
        self._memory = max(0, MEMORY_ITEMS if memory is None else memory)
        self._block = max(1, BLOCK_ITEMS if block is None else block)
        self._head: list[T] = []
        self._tail: list[T] = []
        self._blocks: list[tuple[int, int]] = []  # (offset, size) of each block in the file
        self._len = 0
        self._file: IO[bytes] | None = None
        self._folder = ""
        self._path = ""
        self._end = 0
        self._cache: tuple[int, list[T]] = (-1, [])
        self._finalizer: Finalize | None = None
        self._handover = False
        self._sealed = False
        self.extend(items)

    # -- writing ---------------------------------------------------------------------------

    def append(self, item: T) -> None:
        if self._sealed:
            raise ValueError("this spool was handed over and is read-only")
        self._len += 1
        if len(self._head) < self._memory and not self._blocks and not self._tail:
            self._head.append(item)
            return
        tail = self._tail
        tail.append(item)
        if len(tail) >= self._block:
            self._write_block(tail)
            self._tail = []

    def extend(self, items: Iterable[T]) -> None:
        for item in items:
            self.append(item)

    def _open(self) -> IO[bytes]:
        if self._file is None:
            self._folder, self._path = private_file("spool.bin")
            self._file = open(self._path, "r+b")  # noqa: SIM115 - closed by close()/finalizer
            self._finalizer = _cleanup(self, self._file, self._folder)
        return self._file

    def _write_block(self, items: list[T]) -> None:
        data = _block_bytes(items)
        fh = self._open()
        fh.seek(self._end)
        fh.write(data)
        self._blocks.append((self._end, len(data)))
        self._end += len(data)

    # -- reading ---------------------------------------------------------------------------

    def _read_block(self, index: int) -> list[T]:
        if self._cache[0] == index:
            return self._cache[1]
        offset, size = self._blocks[index]
        fh = self._file
        assert fh is not None
        fh.seek(offset)
        items: list[T] = _block_items(fh.read(size))
        self._cache = (index, items)
        return items

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[T]:
        yield from self._head
        for index in range(len(self._blocks)):
            yield from self._read_block(index)
        yield from self._tail

    def _item(self, index: int) -> T:
        if index < len(self._head):
            return self._head[index]
        rest = index - len(self._head)
        block, within = divmod(rest, self._block)
        if block < len(self._blocks):
            return self._read_block(block)[within]
        return self._tail[rest - len(self._blocks) * self._block]

    def __repr__(self) -> str:
        return f"Spool(<{self._len} items, {len(self._blocks)} blocks on disk>)"

    @property
    def on_disk(self) -> int:
        """Items held in the temporary file (not in memory)."""
        return self._len - len(self._head) - len(self._tail) if self._blocks else 0

    @property
    def path(self) -> str | None:
        """The temporary file, while there is one (for tests and diagnostics)."""
        return self._path or None

    # -- lifetime --------------------------------------------------------------------------

    def close(self) -> None:
        """Delete the temporary file now; the spool keeps only its in-memory items."""
        if self._finalizer is not None:
            self._finalizer()
            self._finalizer = None
        self._file = None
        self._blocks = []
        self._cache = (-1, [])
        self._len = len(self._head) + len(self._tail)

    def handover(self) -> Spool[T]:
        """Pickle by file path from now on: the unpickling process takes the file over."""
        self._handover = True
        return self

    def __getstate__(self) -> dict[str, Any]:
        if not (self._handover and self._blocks):
            return {
                **_packed("items", list(self), self._handover),
                "memory": self._memory,
                "block": self._block,
            }
        if self._tail:  # the tail goes to the file too, so the receiver has it all there
            self._write_block(self._tail)
            self._tail = []
        assert self._file is not None
        self._file.flush()
        # The receiver owns the file now: this process must not delete it.
        if self._finalizer is not None:
            self._finalizer.cancel()
            self._finalizer = None
        self._file.close()
        self._file = None
        self._sealed = True
        blocks = list(self._blocks)
        state = {
            **_packed("head", self._head, True),
            "blocks": blocks,
            "len": self._len,
            "folder": self._folder,
            "path": self._path,
            "memory": self._memory,
            "block": self._block,
        }
        self._blocks = []  # this side no longer reads the file
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(memory=state["memory"], block=state["block"])  # type: ignore[misc]
        if "items" in state or "items/marshal" in state:
            self.extend(_unpacked("items", state))
            return
        self._head = _unpacked("head", state)
        self._blocks = state["blocks"]
        self._len = state["len"]
        self._folder, self._path = state["folder"], state["path"]
        self._end = sum(size for _, size in self._blocks)
        self._file = open(self._path, "r+b")  # noqa: SIM115 - closed by close()/finalizer
        self._finalizer = _cleanup(self, self._file, self._folder)
        self._sealed = True


class Decoded(Stored[T]):
    """A read-only view of a Spool of compact records, each decoded when read.

    The records (plain tuples) are cheap to keep and to pickle; the objects callers want
    exist only while they are used. Pickles as its spool (by path after handover())."""

    def __init__(self, raw: Spool[Any], decode: Callable[[Any], T]) -> None:
        self.raw = raw
        self.decode = decode  # a module-level function, so the view pickles

    def __len__(self) -> int:
        return len(self.raw)

    def __iter__(self) -> Iterator[T]:
        return map(self.decode, self.raw)

    def _item(self, index: int) -> T:
        return self.decode(self.raw._item(index))

    def __repr__(self) -> str:
        return f"Decoded({self.raw!r})"

    @property
    def on_disk(self) -> int:
        return self.raw.on_disk

    @property
    def path(self) -> str | None:
        return self.raw.path

    def handover(self) -> Decoded[T]:
        self.raw.handover()
        return self

    def close(self) -> None:
        self.raw.close()


_FILTER_BITS = 21  # 256 KB of filter per spilled map, whatever its size
_FILTER_BYTES = 1 << (_FILTER_BITS - 3)
_FILTER_MASK = (1 << _FILTER_BITS) - 1
_FILTER_SHIFT = 32  # the second position from other bits of the same hash


class SpillMap(Generic[V]):
    """A str -> value map in insertion order, in memory up to `memory` keys, then in SQLite.

    For cross-claim state keyed by patient or by claim digest: get() then put() per claim.
    Once spilled, the latest puts wait in a small buffer (values as they are, unpickled)
    and go to SQLite together: a read is one query at most, a write a share of one.
    Values must pickle; a value changed after get() must be put() again.
    """

    def __init__(self, memory: int | None = None, *, weight: int = 1) -> None:
        # `weight`: how many ordinary keys one of this map's values is worth in memory
        self._memory = (MEMORY_KEYS if memory is None else memory) // max(1, weight)
        self._data: dict[str, V] = {}  # everything (not spilled), or the unwritten puts
        self._db: sqlite3.Connection | None = None
        # Once spilled: a Bloom filter of the keys written to SQLite (fixed size, see
        # _maybe_written). Most lookups are of keys never seen (a new patient, a claim
        # that is no duplicate); the filter answers those without a query.
        self._written = bytearray()
        self._count = 0  # order numbers given out (first put of a key)
        self._finalizer: Finalize | None = None
        self._path = ""

    def _spill(self) -> sqlite3.Connection:
        import sqlite3

        folder, path = private_file("spill.sqlite")
        self._path = path
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._finalizer = _cleanup(self, db, folder)
        db.execute("PRAGMA journal_mode=OFF")  # no side files: the data lives for this run only
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA temp_store=MEMORY")
        db.execute("PRAGMA cache_size=-1024")  # KiB: the OS caches the file anyway
        db.execute(
            "CREATE TABLE kv (n INTEGER PRIMARY KEY, k TEXT UNIQUE NOT NULL, v BLOB NOT NULL)"
        )
        db.execute("BEGIN")  # one transaction for the run: never committed, never needed
        self._db = db
        self._written = bytearray(_FILTER_BYTES)
        self._flush()
        return db

    def _flush(self) -> None:
        db = self._db
        if db is None or not self._data:
            return
        first = self._count
        self._count += len(self._data)
        written = self._written
        for k in self._data:
            h = hash(k)
            a = h & _FILTER_MASK
            b = (h >> _FILTER_SHIFT) & _FILTER_MASK
            written[a >> 3] |= 1 << (a & 7)
            written[b >> 3] |= 1 << (b & 7)
        db.executemany(
            "INSERT INTO kv VALUES (?, ?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
            (
                (n, k, pickle.dumps(v, _PROTOCOL))
                for n, (k, v) in enumerate(self._data.items(), first)
            ),
        )
        self._data = {}

    def get(self, key: str) -> V | None:
        data = self._data
        value = data.get(key)
        db = self._db
        if value is not None or db is None or not self._maybe_written(key):
            return value
        row = db.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
        return None if row is None else pickle.loads(row[0])

    def __contains__(self, key: str) -> bool:
        if key in self._data:
            return True
        db = self._db
        return (
            db is not None
            and self._maybe_written(key)
            and db.execute("SELECT 1 FROM kv WHERE k = ?", (key,)).fetchone() is not None
        )

    def _maybe_written(self, key: str) -> bool:
        """False: `key` was never written to SQLite. True: it may have been (two bits of
        a 2**21-bit filter: ~3% false "maybe" at 200,000 keys, which only costs a query)."""
        h = hash(key)
        a = h & _FILTER_MASK
        b = (h >> _FILTER_SHIFT) & _FILTER_MASK
        written = self._written
        return bool(written[a >> 3] & (1 << (a & 7))) and bool(written[b >> 3] & (1 << (b & 7)))

    def put(self, key: str, value: V) -> None:
        data = self._data
        if key in data or len(data) < self._memory:
            data[key] = value
        elif self._db is None:
            self._spill()
            self._data[key] = value
        else:
            self._flush()
            self._data[key] = value

    def __len__(self) -> int:
        db = self._db
        if db is None:
            return len(self._data)
        self._flush()
        return int(db.execute("SELECT count(*) FROM kv").fetchone()[0])

    @property
    def spilled(self) -> bool:
        return self._db is not None

    @property
    def path(self) -> str | None:
        """The SQLite file once spilled (for tests and diagnostics)."""
        return self._path if self._db is not None else None

    def items(self) -> Iterator[tuple[str, V]]:
        """Every key and value, in the order the keys were first put."""
        db = self._db
        if db is None:
            yield from list(self._data.items())
            return
        self._flush()
        last = -1
        while True:  # in pages, so a caller may put() while iterating
            rows = db.execute(
                "SELECT n, k, v FROM kv WHERE n > ? ORDER BY n LIMIT 512", (last,)
            ).fetchall()
            if not rows:
                return
            for n, k, v in rows:
                last = n
                yield k, pickle.loads(v)

    def values(self) -> Iterator[V]:
        for _, value in self.items():
            yield value

    def close(self) -> None:
        if self._finalizer is not None:
            self._finalizer()
            self._finalizer = None
        self._db = None
        self._data = {}
        self._written = bytearray()
        self._count = 0
