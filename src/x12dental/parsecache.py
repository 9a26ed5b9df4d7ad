"""Keep parsed data files on disk, so a process starts in milliseconds instead of 0.3 s.

pyx12 reads a map by parsing its XML, the data-element and code-list files and building a
tree of Python objects: ~0.19 s for our 837D map, paid again by every process (each CLI
run and each parallel worker); expanding the code ranges of `rules/cdt.toml` costs
~0.08 s more. Unpickling the finished objects takes ~0.02 s. The pickles live inside the
assembled map folder (`mapfolder.map_folder()`), whose name already stands for pyx12's
version and our map's bytes, so a pickled map can never outlive the maps it was made
from; callers name other data after a hash of its source bytes. Each pickle's name adds
the Python version (pickles are not promised to load across versions).

The folder is ours (mapfolder checks ownership and keeps it 0700), and a pickle is only
read from there: the same trust as the map files beside it. Anything unexpected (a
truncated or unreadable pickle, a read-only folder) falls back to parsing the XML.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

_SUBDIR = ".parsed"
_FORMAT = "1"  # bump when what we pickle changes shape


def _pickle_path(folder: str, name: str) -> Path:
    tag = f"{sys.implementation.cache_tag}-{_FORMAT}"
    return Path(folder) / _SUBDIR / f"{name}.{tag}.pickle"


def load_cached(folder: str, name: str, parse: Callable[[], Any]) -> Any:
    """What `parse()` returns for data file `name` in `folder`: unpickled when it was
    parsed before, else parsed (and kept)."""
    path = _pickle_path(folder, name)
    try:
        with path.open("rb") as fh:
            return pickle.load(fh)
    except FileNotFoundError:
        pass
    except Exception:
        _discard(path)
    root = parse()
    _store(path, root)
    return root


def _store(path: Path, root: Any) -> None:
    """Write atomically (temporary file, then rename): racing processes never see half a file."""
    try:
        path.parent.mkdir(mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(root, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except BaseException:
            _discard(Path(tmp))
            raise
    except (OSError, pickle.PicklingError, RecursionError):
        return  # read-only or full disk: parse again next time


def _discard(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def source_key(data: bytes) -> str:
    """A name part that changes whenever the parsed source does."""
    return hashlib.sha256(data).hexdigest()[:20]
