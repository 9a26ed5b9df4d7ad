"""Parsed maps and rule tables kept on disk: reused, rebuilt when damaged, never required."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from x12dental import parsecache


def test_parsed_once_then_loaded(tmp_path: Path) -> None:
    calls: list[int] = []

    def parse() -> dict[str, int]:
        calls.append(1)
        return {"a": 1}

    assert parsecache.load_cached(str(tmp_path), "m.xml", parse) == {"a": 1}
    assert parsecache.load_cached(str(tmp_path), "m.xml", parse) == {"a": 1}
    assert len(calls) == 1
    (kept,) = (tmp_path / ".parsed").iterdir()
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / ".parsed").stat().st_mode) == 0o700


def test_a_damaged_pickle_is_parsed_again(tmp_path: Path) -> None:
    parsecache.load_cached(str(tmp_path), "m.xml", lambda: [1, 2])
    (kept,) = (tmp_path / ".parsed").iterdir()
    kept.write_bytes(kept.read_bytes()[:5])
    assert parsecache.load_cached(str(tmp_path), "m.xml", lambda: [3]) == [3]
    assert parsecache.load_cached(str(tmp_path), "m.xml", lambda: [4]) == [3]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
def test_a_read_only_folder_only_costs_the_parse(tmp_path: Path) -> None:
    tmp_path.chmod(0o500)
    try:
        assert parsecache.load_cached(str(tmp_path), "m.xml", lambda: "x") == "x"
        assert not (tmp_path / ".parsed").exists()
    finally:
        tmp_path.chmod(0o700)


def test_an_unwritable_cache_is_not_an_error(tmp_path: Path) -> None:
    blocker = tmp_path / ".parsed"
    blocker.write_text("a file where the folder should be")
    assert parsecache.load_cached(str(tmp_path), "m.xml", lambda: "x") == "x"
    assert blocker.read_text().startswith("a file")


def test_source_key_follows_the_bytes() -> None:
    assert parsecache.source_key(b"a") == parsecache.source_key(b"a")
    assert parsecache.source_key(b"a") != parsecache.source_key(b"b")


def test_the_837d_map_round_trips_through_the_cache() -> None:
    """A pickled pyx12 map checks a file exactly as the parsed one does (the differential
    and structural tests run on whichever copy the cache holds)."""
    from x12dental import structure
    from x12dental.mapfolder import DENTAL_MAP_FILE, map_folder

    folder = str(map_folder())
    root = structure._load_map(DENTAL_MAP_FILE, folder)
    assert root.id == "837"
    assert (Path(folder) / ".parsed").is_dir()
