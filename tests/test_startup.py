"""Start-up short cuts give what the slow ways give: kept rule data, plugin and version look-ups.

Each short cut must be exact or step aside: a stale or damaged cache is parsed again, and
a layout the plain folder scan cannot read with certainty goes to importlib.metadata.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.metadata
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomllib

from x12dental import mapfolder, parsecache, plugins, resources, ruledata
from x12dental.ruledata import RuleDataError

from .conftest import SAMPLES

# ---- rule data (TOML) kept parsed ------------------------------------------------------------


@pytest.fixture
def cache_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "maps"
    folder.mkdir()
    monkeypatch.setattr(mapfolder, "map_folder", lambda: folder)
    return folder


def _kept(folder: Path) -> list[Path]:
    parsed = folder / ".parsed"
    return sorted(parsed.glob("rules-*")) if parsed.is_dir() else []


def test_builtin_rule_files_parse_as_tomllib_does() -> None:
    for name in ("codes.toml", "implant.toml", "desensitizing.toml"):
        with (resources.data_dir("rules") / name).open("rb") as fh:
            assert ruledata.builtin(name) == tomllib.load(fh)


def test_rule_data_is_kept_then_loaded(cache_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = cache_folder / "demo.toml"
    path.write_bytes(b'[demo]\ncodes = ["D1110"]\n')
    first = ruledata._cached_parse(path, path.read_bytes())
    assert first == {"demo": {"codes": ["D1110"]}}
    assert len(_kept(cache_folder)) == 1

    def no_parse(path: Path, data: bytes) -> dict[str, object]:
        raise AssertionError("parsed again although kept")

    monkeypatch.setattr(ruledata, "parse_toml", no_parse)
    assert ruledata._cached_parse(path, path.read_bytes()) == first


def test_an_edited_rule_file_is_parsed_again(cache_folder: Path) -> None:
    path = cache_folder / "demo.toml"
    path.write_bytes(b"[demo]\nmax = 1\n")
    assert ruledata._cached_parse(path, path.read_bytes()) == {"demo": {"max": 1}}
    path.write_bytes(b"[demo]\nmax = 2\n")
    assert ruledata._cached_parse(path, path.read_bytes()) == {"demo": {"max": 2}}
    assert len(_kept(cache_folder)) == 2  # named after the bytes: the old one is never used


def test_a_damaged_rule_cache_is_parsed_again(cache_folder: Path) -> None:
    path = cache_folder / "demo.toml"
    path.write_bytes(b"[demo]\nmax = 3\n")
    ruledata._cached_parse(path, path.read_bytes())
    (kept,) = _kept(cache_folder)
    kept.write_bytes(b"\x80\x05not a pickle")
    assert ruledata._cached_parse(path, path.read_bytes()) == {"demo": {"max": 3}}


def test_an_unreadable_rule_cache_falls_back_to_parsing(cache_folder: Path) -> None:
    path = cache_folder / "demo.toml"
    data = b"[demo]\nmax = 4\n"
    name = f"rules-demo-{parsecache.source_key(data)}"
    parsecache._pickle_path(str(cache_folder), name).mkdir(parents=True)  # cannot be opened
    assert ruledata._cached_parse(path, data) == {"demo": {"max": 4}}


def test_no_cache_folder_still_parses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable() -> Path:
        raise PermissionError("no cache here")

    monkeypatch.setattr(mapfolder, "map_folder", unavailable)
    path = tmp_path / "demo.toml"
    path.write_bytes(b"[demo]\nmax = 5\n")
    assert ruledata._cached_parse(path, path.read_bytes()) == {"demo": {"max": 5}}


def test_broken_rule_data_is_located_and_not_kept(cache_folder: Path) -> None:
    path = cache_folder / "demo.toml"
    path.write_bytes(b"[demo\n")
    with pytest.raises(RuleDataError, match=r"demo\.toml: not valid TOML"):
        ruledata._cached_parse(path, path.read_bytes())
    assert _kept(cache_folder) == []
    with pytest.raises(RuleDataError, match="file not found"):
        ruledata.load_toml(cache_folder / "missing.toml")


# ---- entry points and versions without importlib.metadata -------------------------------------


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    yield folder
    importlib.invalidate_caches()


def _dist(site: Path, name: str, entry_points: str | None = None, meta: str = "") -> Path:
    dist = site / f"{name}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        meta or f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n", encoding="utf-8"
    )
    if entry_points is not None:
        (dist / "entry_points.txt").write_text(entry_points, encoding="utf-8")
    return dist


def _same_entry_points(group: str) -> None:
    expected = list(importlib.metadata.entry_points(group=group))
    assert list(plugins.entry_points_of(group)) == expected
    if not expected:
        assert plugins.may_declare(group) is False or resources.metadata_folders() is None


def test_importlib_metadata_backport_is_left_to_itself() -> None:
    """importlib_metadata (loaded by dask, say) takes discovery over with a finder of its own."""
    if not any(getattr(f, "find_distributions", None) for f in sys.meta_path):
        pytest.skip("no finder finds distributions here")
    if any(
        getattr(f, "find_distributions", None) is not None
        and f is not importlib.machinery.PathFinder
        for f in sys.meta_path
    ):
        assert resources.metadata_folders() is None


def test_entry_points_match_importlib_metadata() -> None:
    for group in (plugins.GROUP, "x12dental.packs", "console_scripts", "no.such.group"):
        _same_entry_points(group)


def test_a_declared_plugin_is_found(site: Path) -> None:
    _dist(site, "demo_rules", "[x12dental.rules]\ndemo = demo_rules:register\n")
    _dist(site, "other_tool", "[console_scripts]\nother = other_tool:main\n")
    assert plugins.may_declare(plugins.GROUP)
    assert [ep.name for ep in plugins.entry_points_of(plugins.GROUP)] == ["demo"]
    if resources.metadata_folders() is not None:  # (not when, say, dask's backport is loaded)
        assert not plugins.may_declare("x12dental.packs")
    _same_entry_points(plugins.GROUP)
    _same_entry_points("x12dental.packs")


def test_a_zip_on_the_path_goes_to_importlib_metadata(tmp_path: Path) -> None:
    archive = tmp_path / "plugins.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("zipped-0.1.dist-info/METADATA", "Name: zipped\nVersion: 0.1\n")
        zf.writestr("zipped-0.1.dist-info/entry_points.txt", "[x12dental.rules]\nz = zipped\n")
    sys.path.insert(0, str(archive))
    try:
        assert resources.metadata_folders() is None
        assert plugins.may_declare(plugins.GROUP)
        assert [ep.name for ep in plugins.entry_points_of(plugins.GROUP)] == ["z"]
    finally:
        sys.path.remove(str(archive))


class _OwnFinder(importlib.abc.MetaPathFinder):
    """A finder that knows distributions of its own: only importlib.metadata asks it."""

    def find_distributions(self, context: object = None) -> list[object]:
        return []


def test_a_finder_with_distributions_goes_to_importlib_metadata(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "meta_path", [_OwnFinder(), *sys.meta_path])
    assert resources.metadata_folders() is None
    assert plugins.may_declare(plugins.GROUP)


def test_versions_match_importlib_metadata() -> None:
    names = {d.metadata["Name"] for d in importlib.metadata.distributions()}
    assert "pyx12" in names
    for name in names:
        assert mapfolder._version(name) == importlib.metadata.version(name), name


def test_odd_metadata_goes_to_importlib_metadata(site: Path) -> None:
    _dist(site, "folded", meta="Metadata-Version: 2.1\nName: folded\nVersion: 1.0\n  .post1\n")
    _dist(site, "spaced", meta="Metadata-Version: 2.1\nName: spaced\nVersion:  2.0 \n")
    egg = site / "egged-3.0.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: egged\nVersion: 3.0\n")
    assert mapfolder._metadata_version(str(site / "folded-0.1.dist-info" / "METADATA")) is None
    for name in ("folded", "spaced", "egged"):
        assert mapfolder._version(name) == importlib.metadata.version(name), name


# ---- what a plain check imports ---------------------------------------------------------------


def test_a_plain_check_does_not_import_what_it_does_not_use() -> None:
    """importlib.metadata, tomllib, the pool and process machinery cost start-up time (a
    spool imports multiprocessing's Finalize only when it first writes to disk)."""
    code = (
        "import os, sys\n"
        "from x12dental.cli import main\n"
        f"status = main(['check', '--format', 'json', '-o', os.devnull, '--quiet',"
        f" '--workers', '1', {str(SAMPLES / 'clean-batch.837')!r}])\n"
        "unwanted = ('importlib.metadata', 'tomllib', 'concurrent.futures', 'email',"
        " 'multiprocessing')\n"
        "print(status, sorted(m for m in unwanted if m in sys.modules))\n"
    )
    run = [sys.executable, "-c", code]
    subprocess.run(run, check=True, capture_output=True)  # the first may fill the caches
    out = subprocess.run(run, check=True, capture_output=True, text=True).stdout
    assert out.split() == ["0", "[]"], out
