"""Assemble the map folder that pyx12 reads when it validates an 837D.

pyx12 ships no 5010 dental map, and its `map_path` argument does not add a folder to
its own: it *replaces* it.  Every support file pyx12 expects next to a map (the 5010
control map, `dataele.xml`, `codes.xml`, `maps.xml` and the other guides' maps, which a
multi-group interchange may need) must therefore be in the folder we hand it.  So we
build one: pyx12's own `map/` folder copied file for file, plus our 837D map, plus a
`maps.xml` that is pyx12's with rows sending `005010X224A1/A2/A3` (GS01 `HC`) to it.

The folder is built once per (pyx12 version, our map bytes) and kept in a per-user
cache, because building it means copying ~10 MB and callers (CLI runs, test workers,
parallel batch jobs) ask for it often.  It is created in a temporary sibling directory
and renamed into place, so a reader never sees a half-written folder and two processes
racing to build it both end up using one complete copy.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from x12dental.resources import data_dir, metadata_folders, normalize_name

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = ["DENTAL_MAP_FILE", "DENTAL_VERSIONS", "PREFERRED_VERSION", "map_folder"]

PREFERRED_VERSION = "005010X224A2"
"""The HIPAA-named 837D version; what we write and what we expect by default."""

DENTAL_VERSIONS: frozenset[str] = frozenset({"005010X224A2", "005010X224A1", "005010X224A3"})
"""GS08 values read with our map.  A1 and A3 are accepted so that the program can read
the file and report the version itself instead of pyx12 stopping at "Map not found"."""

DENTAL_MAP_FILE = "837.5010.X224.A2.xml"

_FUNCTIONAL_ID = "HC"
_ABBREVIATION = "837D"
_CACHE_ENV = "X12DENTAL_CACHE_DIR"
_FORMAT_VERSION = "2"  # bump when the folder layout or maps.xml rows change


_known_folder: Path | None = None


def quoteattr(value: str) -> str:
    """An XML attribute value in double quotes (xml.sax.saxutils pulls in urllib and costs
    ~15 ms of every start-up for this one call)."""
    escaped = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return '"' + escaped.replace('"', "&quot;") + '"'


def map_folder() -> Path:
    """Return a folder usable as pyx12's `map_path` that also knows the 837D map.

    Remembered for the life of the process (re-checked with two `stat` calls, so a cache
    cleaned while we run is rebuilt rather than handed out) and kept on disk across
    processes.
    """
    global _known_folder
    if _known_folder is None or not _is_complete(_known_folder):
        _known_folder = _locate_or_build()
    return _known_folder


def _pyx12_maps() -> Traversable:
    import importlib.resources  # only a build reads pyx12's own maps

    return importlib.resources.files("pyx12").joinpath("map")


def _locate_or_build() -> Path:
    our_map_bytes = (data_dir("maps") / DENTAL_MAP_FILE).read_bytes()
    name = f"pyx12-maps-{_content_key(our_map_bytes)}"
    for cache_root, shared in _cache_roots():
        target = cache_root / name
        try:
            cache_root.mkdir(mode=0o700, parents=True, exist_ok=True)
            if shared and not _owned_by_us(cache_root):
                continue  # someone else made it: what is inside is not ours to trust
            if _is_complete(target):
                return target
            return _build(target, _pyx12_maps(), our_map_bytes)
        except OSError:
            continue  # not writable (read-only home, sandbox): try the next location
    # Last resort: a private folder for this process only, never reused.
    return _build(Path(tempfile.mkdtemp(prefix="x12dental-")) / name, _pyx12_maps(), our_map_bytes)


def _content_key(our_map_bytes: bytes) -> str:
    """Name the folder after everything that goes into it, so stale folders are never reused.

    pyx12's version stands for its map files; hashing them all would cost more on every
    start-up than the copy it saves.
    """
    digest = hashlib.sha256()
    digest.update(_FORMAT_VERSION.encode())
    digest.update(b"\0pyx12=")
    digest.update(_version("pyx12").encode())
    digest.update(b"\0map=")
    digest.update(our_map_bytes)
    return digest.hexdigest()[:16]


def _version(name: str) -> str:
    """`importlib.metadata.version(name)`, read from the distribution's METADATA directly:
    importing importlib.metadata and its lookup cost ~16 ms of every start-up. Anything
    this plain reading is not sure of goes to importlib.metadata."""
    wanted = normalize_name(name)
    for found, folder in metadata_folders() or ():
        if found == wanted:
            version = _metadata_version(os.path.join(folder, "METADATA"))
            if version is not None:
                return version
            break
    import importlib.metadata

    return importlib.metadata.version(name)


def _metadata_version(path: str) -> str | None:
    """The Version header of a core-metadata file, as the email parser reads it; None when
    the file is missing or not plainly written (a folded or odd line before Version)."""
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().split("\n")
    except (OSError, UnicodeDecodeError):
        return None
    for i, line in enumerate(lines):
        name, colon, value = line.partition(":")
        if not (colon and name.isascii() and name.isprintable()) or " " in name:
            return None  # the end of the headers, or something odd, before a Version
        if name.lower() == "version":
            after = lines[i + 1] if i + 1 < len(lines) else ""
            if after[:1] in (" ", "\t"):
                return None  # a folded header
            return value.lstrip(" \t") or None
    return None


def _cache_roots() -> list[tuple[Path, bool]]:
    """Where the folder may live, best first, each flagged if it sits in a shared temp dir."""
    shared_temp = (Path(tempfile.gettempdir()) / f"x12dental-{_user_tag()}", True)
    override = os.environ.get(_CACHE_ENV)
    if override:
        return [(Path(override), False), shared_temp]
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return [(base / "x12dental", False), shared_temp]


def _user_tag() -> str:
    """Keep users apart in a shared temp dir."""
    getuid = getattr(os, "getuid", None)
    if getuid is not None:
        return str(getuid())
    return os.environ.get("USERNAME", "user")


def _owned_by_us(folder: Path) -> bool:
    """In /tmp anyone can create `x12dental-<uid>` first; only trust a real folder of ours."""
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode):  # a symlink planted in our name, say
        return False
    getuid = getattr(os, "getuid", None)
    return getuid is None or info.st_uid == getuid()


def _is_complete(folder: Path) -> bool:
    # maps.xml is written last in _build, and the folder only appears by rename once
    # everything is in it; its presence is enough.
    return (folder / "maps.xml").is_file() and (folder / DENTAL_MAP_FILE).is_file()


def _build(target: Path, pyx12_maps: Traversable, our_map_bytes: bytes) -> Path:
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        pyx12_index = b""
        for entry in pyx12_maps.iterdir():
            if not entry.is_file() or entry.name.endswith((".pyc", ".pyo")):
                continue
            data = entry.read_bytes()
            if entry.name == "maps.xml":
                pyx12_index = data
                continue
            if entry.name == "codes.xml":
                data = _extend_states(data)
            (staging / entry.name).write_bytes(data)
        if not pyx12_index:
            raise FileNotFoundError("pyx12's map folder has no maps.xml")
        (staging / DENTAL_MAP_FILE).write_bytes(our_map_bytes)
        (staging / "maps.xml").write_bytes(_extend_index(pyx12_index))
        try:
            os.rename(staging, target)
        except OSError:
            # Another process renamed its copy first (the target exists and is not
            # empty).  Use theirs if it is complete; otherwise this is a real error.
            if not _is_complete(target):
                raise
        return target
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


# Current postal codes pyx12's `states` list lacks: Newfoundland and Labrador, Nunavut and
# Quebec (it still has the retired NF and PQ), the US minor outlying islands and Palau.
_MISSING_STATES = ("NL", "NU", "QC", "UM", "PW")


def _extend_states(codes_xml: bytes) -> bytes:
    """Add the missing state/province codes to pyx12's `states` code set (N402, CLM11-4)."""
    text = codes_xml.decode("utf-8")
    start = text.find("<id>states</id>")
    end = text.find("</version>", start)
    if start < 0 or end < 0:
        return codes_xml
    block = text[start:end]
    extra = "".join(
        f"<code>{c}</code>" for c in _MISSING_STATES if f"<code>{c}</code>" not in block
    )
    return (text[:end] + extra + text[end:]).encode("utf-8")


def _extend_index(pyx12_index: bytes) -> bytes:
    """Add our rows to pyx12's maps.xml inside its `icvn="00501"` version element.

    Text insertion rather than an XML rewrite keeps pyx12's file byte for byte (comments
    and all) apart from our rows, which makes the result easy to diff against the original.
    """
    text = pyx12_index.decode("utf-8")
    opening = '<version icvn="00501">'
    at = text.find(opening)
    if at < 0:
        raise ValueError('pyx12 maps.xml has no <version icvn="00501"> element')
    end = text.find("</version>", at)
    rows = "".join(
        f"    <map vriic={quoteattr(v)} fic={quoteattr(_FUNCTIONAL_ID)}"
        f" abbr={quoteattr(_ABBREVIATION)}>{DENTAL_MAP_FILE}</map>\n"
        for v in sorted(DENTAL_VERSIONS)
    )
    line_start = text.rfind("\n", 0, end) + 1
    return (text[:line_start] + rows + text[line_start:]).encode("utf-8")
