"""Locate the data folders (`maps/`, `rules/`) that ship with x12dental.

They live at the top of the repository so that people can read and edit them,
and a wheel carries them inside the package as `x12dental/_data/...`. Both
layouts must work: an installed wheel run from `/`, and an editable checkout.
"""

from __future__ import annotations

import os
import re
import sys
from importlib.machinery import PathFinder
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Return the folder `name` ("maps" or "rules"), installed or from the checkout."""
    installed = _PACKAGE_DIR / "_data" / name
    if installed.is_dir():
        return installed
    checkout = _PACKAGE_DIR.parent.parent / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(
        f"x12dental data folder {name!r} not found (looked in {installed} and {checkout}); "
        "reinstall the package"
    )


def normalize_name(name: str) -> str:
    """A distribution name as importlib.metadata compares them (PEP 503, underscores)."""
    return re.sub(r"[-_.]+", "-", name).lower().replace("-", "_")


def metadata_folders() -> list[tuple[str, str]] | None:
    """(normalized name, path) of every `*.dist-info` / `*.egg-info` on `sys.path`, or None.

    A start-up that only needs "is any plugin installed?" or "which pyx12 is this?" reads
    the folders itself: importing importlib.metadata (email, zipfile, csv, ...) and its
    lookups cost ~16 ms of every run. The order is importlib.metadata's for what callers
    use (path entries in order, each folder's entries as listed, so the first of a name
    is the one it finds). None means a layout only importlib.metadata reads as it should
    (a zip or an egg on the path, a finder of its own in `sys.meta_path`): ask it then.
    """
    for finder in sys.meta_path:
        if finder is not PathFinder and getattr(finder, "find_distributions", None) is not None:
            return None
    found: list[tuple[str, str]] = []
    for entry in sys.path:
        if not isinstance(entry, str) or entry.lower().endswith(".egg"):
            return None
        root = entry or "."
        try:
            names = os.listdir(root)
        except FileNotFoundError:
            if os.path.lexists(root):
                return None  # a broken symlink, say: not worth guessing
            continue  # importlib.metadata skips a missing path entry too
        except OSError:
            return None  # a zip file, an unreadable folder
        for child in names:
            low = child.lower()
            if low.endswith((".dist-info", ".egg-info")):
                name = normalize_name(low.rpartition(".")[0].partition("-")[0])
                found.append((name, os.path.join(root, child)))
    return found
