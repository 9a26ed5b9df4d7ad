"""Rules from installed distributions: the entry-point group `x12dental.rules`.

An entry point names either a module (importing it registers its rules through
the decorators in `x12dental.engine`) or a callable taking the Registry. A plugin
that fails to load is reported, never fatal: the built-in rules still run.
"""

from __future__ import annotations

import os
import types
from collections.abc import Iterable
from typing import TYPE_CHECKING

from x12dental.engine import Registry
from x12dental.resources import metadata_folders

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

GROUP = "x12dental.rules"
PLUGIN_ERRORS: list[str] = []

# What importlib.metadata treats as "this distribution has no entry_points.txt".
_ABSENT = (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError)


def may_declare(group: str) -> bool:
    """False only when no installed distribution can have an entry point in `group`.

    Most runs have no plugin at all, and finding that out with importlib.metadata cost
    ~15 ms of every start-up (its import, then a parse of every entry_points.txt): a
    distribution's file that does not even contain the group's name cannot declare it.
    True (ask importlib.metadata) whenever that is not certain.
    """
    folders = metadata_folders()
    if folders is None:
        return True
    for _, folder in folders:
        try:
            with open(os.path.join(folder, "entry_points.txt"), "rb") as fh:
                text = fh.read().decode("utf-8")
        except _ABSENT:
            continue
        except (OSError, UnicodeDecodeError):
            return True  # importlib.metadata would stumble here: let it, as it always did
        if group in text:
            return True
    return False


def entry_points_of(group: str) -> Iterable[EntryPoint]:
    """`importlib.metadata.entry_points(group=group)`, without its cost when there are none."""
    if not may_declare(group):
        return ()
    from importlib.metadata import entry_points

    return entry_points(group=group)


def load_plugins(registry: Registry) -> list[str]:
    """Load every plugin once; return the names loaded. Failures go to PLUGIN_ERRORS."""
    loaded: list[str] = []
    for ep in entry_points_of(GROUP):
        try:
            obj = ep.load()
            if not isinstance(obj, types.ModuleType) and callable(obj):
                obj(registry)
            loaded.append(ep.name)
        except Exception as exc:  # a broken plugin must not stop validation
            PLUGIN_ERRORS.append(f"rule plugin {ep.name!r} ({ep.value}) failed to load: {exc}")
    return loaded
