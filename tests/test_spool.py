"""Spool and SpillMap: bounded memory, the rest on disk in private files that go away."""

from __future__ import annotations

import gc
import os
import pickle
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from x12dental.spool import SpillMap, Spool


def _mode(path: str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_items_beyond_memory_go_to_disk_in_private_files() -> None:
    spool: Spool[tuple[int, str]] = Spool(memory=3, block=4)
    for i in range(3):
        spool.append((i, "x"))
    assert spool.path is None and spool.on_disk == 0  # nothing written yet
    spool.extend((i, "x") for i in range(3, 20))
    assert len(spool) == 20
    assert spool.on_disk == 16  # four full blocks; the last item waits in memory
    path = spool.path
    assert path is not None
    assert _mode(path) == 0o600
    assert _mode(os.path.dirname(path)) == 0o700
    assert os.path.getsize(path) > 0
    assert list(spool) == [(i, "x") for i in range(20)]
    assert list(spool) == list(spool)  # re-iterable
    assert spool[0] == (0, "x") and spool[7] == (7, "x") and spool[-1] == (19, "x")
    assert spool[5:8] == [(5, "x"), (6, "x"), (7, "x")]
    with pytest.raises(IndexError):
        spool[20]
    spool.close()
    assert not os.path.exists(path) and not os.path.exists(os.path.dirname(path))


def test_file_is_deleted_when_the_spool_is_collected() -> None:
    spool = Spool(range(50), memory=0, block=8)
    path = spool.path
    assert path is not None and os.path.exists(path)
    del spool
    gc.collect()
    assert not os.path.exists(path)


def test_equal_to_a_tuple_with_the_same_items() -> None:
    assert Spool((), memory=0) == ()
    assert Spool(range(10), memory=2, block=3) == tuple(range(10))
    assert Spool(range(10), memory=2, block=3) != tuple(range(9))
    assert tuple(range(10)) == Spool(range(10), memory=0, block=4)


def test_pickle_carries_the_items_by_default() -> None:
    spool = Spool(range(30), memory=5, block=4)
    copy = pickle.loads(pickle.dumps(spool))
    assert list(copy) == list(range(30))
    assert copy.path != spool.path  # its own file: both can be closed independently
    spool.close()
    assert list(copy) == list(range(30))
    copy.close()


def test_handover_moves_the_file_to_the_receiver() -> None:
    spool = Spool(range(30), memory=5, block=4).handover()
    path = spool.path
    assert path is not None
    data = pickle.dumps(spool)
    assert len(data) < 300  # the path, not the items
    del spool
    gc.collect()
    assert os.path.exists(path)  # the sender no longer owns it
    received = pickle.loads(data)
    assert received.path == path
    assert list(received) == list(range(30)) and len(received) == 30
    assert received[29] == 29
    with pytest.raises(ValueError):
        received.append(30)  # read-only once handed over
    del received
    gc.collect()
    assert not os.path.exists(path)  # the receiver deleted it


@settings(max_examples=40, deadline=None)
@given(
    items=st.lists(st.tuples(st.integers(), st.text(max_size=5)), max_size=60),
    memory=st.integers(0, 10),
    block=st.integers(1, 7),
)
def test_a_spool_is_the_list_it_was_given(
    items: list[tuple[int, str]], memory: int, block: int
) -> None:
    spool = Spool(items, memory=memory, block=block)
    assert len(spool) == len(items)
    assert list(spool) == items
    assert [spool[i] for i in range(len(items))] == items
    assert pickle.loads(pickle.dumps(spool)) == items
    spool.close()


def test_spill_map_moves_to_sqlite_past_its_budget_and_keeps_order() -> None:
    data: SpillMap[list[int]] = SpillMap(memory=3)
    for k in "abc":
        data.put(k, [ord(k)])
    assert not data.spilled
    data.put("d", [1])
    data.put("b", [2, 3])  # an update keeps the key's place
    assert data.spilled and len(data) == 4
    assert data.get("b") == [2, 3] and data.get("zz") is None
    assert "d" in data and "zz" not in data
    assert [k for k, _ in data.items()] == ["a", "b", "c", "d"]
    path = data.path
    assert path is not None
    assert _mode(path) == 0o600 and _mode(os.path.dirname(path)) == 0o700
    assert os.listdir(os.path.dirname(path)) == ["spill.sqlite"]  # no journal beside it
    data.close()
    assert not os.path.exists(os.path.dirname(path))


def test_spill_map_weight_lowers_the_budget() -> None:
    data: SpillMap[int] = SpillMap(memory=16, weight=8)
    data.put("a", 1)
    data.put("b", 2)
    assert not data.spilled
    data.put("c", 3)
    assert data.spilled
    assert list(data.values()) == [1, 2, 3]
    data.close()


def test_spilled_map_answers_unknown_keys_without_a_query() -> None:
    data: SpillMap[int] = SpillMap(memory=50)
    for i in range(500):  # past the budget: most keys are in SQLite, some in the buffer
        data.put(f"k{i}", i)
    assert data.spilled and data._db is not None
    queries: list[str] = []
    data._db.set_trace_callback(queries.append)
    assert all(data.get(f"k{i}") == i for i in range(500))  # every key written is found
    assert all(f"k{i}" in data for i in range(0, 500, 7))
    found = len(queries)
    assert found > 0
    assert all(data.get(f"new{i}") is None and f"new{i}" not in data for i in range(2000))
    assert len(queries) - found < 20  # a rare false "maybe" costs a query, nothing else
    data.close()


@pytest.mark.parametrize("memory", [100, 5])  # all in memory; a head and blocks on disk
def test_handed_over_plain_items_travel_as_marshal_and_come_back_equal(memory: int) -> None:
    items = [("CLM", i, str(i) * 3, None, (1.5, True)) for i in range(30)]
    state = Spool(items, memory=memory, block=4).handover().__getstate__()
    assert any(key.endswith("/marshal") for key in state)
    # The state owns the sender's file now: a receiver must take it over, or it stays behind.
    receiver: Spool[object] = Spool.__new__(Spool)
    receiver.__setstate__(state)
    assert list(receiver) == items
    path = receiver.path
    receiver.close()
    assert path is None or not os.path.exists(path)
    back = pickle.loads(pickle.dumps(Spool(items, memory=memory, block=4).handover()))
    assert list(back) == items
    back.close()


def test_items_marshal_cannot_carry_are_pickled() -> None:
    class Odd:
        def __eq__(self, other: object) -> bool:
            return isinstance(other, Odd)

        __hash__ = object.__hash__

    items = [("a", 1), Odd()]
    spool = Spool(items, memory=100).handover()
    assert "items" in spool.__getstate__()
    plain = Spool([("a", 1)], memory=100)  # not handed over: may go to another machine
    assert "items" in plain.__getstate__()


def test_blocks_of_plain_items_are_marshalled_others_pickled() -> None:
    """Claim records (plain tuples) go to disk as marshal, anything else as pickle, and
    both come back equal, of the same types."""
    from decimal import Decimal

    from x12dental.spool import _MARSHAL, _PICKLE

    plain = [("CLM", i, str(i), None, True, 1.5) for i in range(12)]
    odd = [("CLM", Decimal("1.10"), i) for i in range(12)]
    for items, tag in ((plain, _MARSHAL), (odd, _PICKLE)):
        spool = Spool(items, memory=2, block=5)
        assert spool.on_disk == 10
        assert spool.path is not None
        with open(spool.path, "rb") as fh:
            assert fh.read(1) == tag
        back = list(spool)
        assert back == items
        assert [type(x) for row in back for x in row] == [type(x) for row in items for x in row]
        spool.close()
