"""Rules from installed distributions: the entry-point group `x12dental.rules`.

An entry point names either a module (importing it registers its rules through
the decorators in `x12dental.engine`) or a callable taking the Registry. A plugin
that fails to load is reported, never fatal: the built-in rules still run.
"""

from __future__ import annotations

import types
from importlib.metadata import entry_points

from x12dental.engine import Registry

GROUP = "x12dental.rules"
PLUGIN_ERRORS: list[str] = []


def load_plugins(registry: Registry) -> list[str]:
    """Load every plugin once; return the names loaded. Failures go to PLUGIN_ERRORS."""
    loaded: list[str] = []
    for ep in entry_points(group=GROUP):
        try:
            obj = ep.load()
            if not isinstance(obj, types.ModuleType) and callable(obj):
                obj(registry)
            loaded.append(ep.name)
        except Exception as exc:  # a broken plugin must not stop validation
            PLUGIN_ERRORS.append(f"rule plugin {ep.name!r} ({ep.value}) failed to load: {exc}")
    return loaded
