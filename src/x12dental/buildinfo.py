"""Which of x12dental's modules run compiled (mypyc) and which as Python source.

The compiled build is optional (README, "Compiled build"). A benchmark figure or a bug
report means little without knowing which build produced it, so `--version` says, and the
tests can insist on the build they were told to expect.
"""

from __future__ import annotations

import functools
import importlib
import importlib.machinery
import json
import sys
from pathlib import Path

# The modules the compiled build compiles; kept equal to pyproject.toml's
# [tool.hatch.build.targets.wheel.hooks.custom] list by tests/test_build.py.
HOT_MODULES = (
    "x12dental.tokenizer",
    "x12dental.mapper",
    "x12dental.structure",
    "x12dental.faststructure",
    "x12dental.mapcompile",
    "x12dental.segpattern",
    "x12dental.narrative",
    "x12dental.engine",
    "x12dental.checks.balancing",
    "x12dental.checks.codes",
    "x12dental.checks.desensitizing",
    "x12dental.checks.implant",
    "x12dental.checks.procedure",
    "x12dental.checks.situational",
    "x12dental.checks.payer",
    "x12dental.checks.history_rules",
    "x12dental.claimrecord",
    "x12dental.claimidentity",
    "x12dental.tokenloop",
)

# Written by the build hook (hatch_build.py) into the compiled wheel only.
DOCSTRINGS = Path(__file__).resolve().parent / "_data" / "docstrings.json"


def is_compiled(module: str) -> bool:
    """True when the module was loaded from an extension module, not from its .py file."""
    mod = sys.modules.get(module) or importlib.import_module(module)
    path = getattr(mod, "__file__", None) or ""
    return path.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def compiled_modules() -> tuple[str, ...]:
    return tuple(m for m in HOT_MODULES if is_compiled(m))


def describe() -> str:
    """One phrase for `--version` and the benchmark: 'mypyc: a, b' or 'pure Python'."""
    done = compiled_modules()
    if not done:
        return "pure Python"
    names = ", ".join(m.rpartition(".")[2] for m in done)
    if len(done) < len(HOT_MODULES):
        return f"partly compiled, mypyc: {names}"
    return f"mypyc: {names}"


def compiled_docstring(fn: object) -> str | None:
    """The docstring of a function of a compiled module, as its source gives it.

    mypyc keeps a function's signature as its __doc__, not its docstring; a rule's
    explanation is its function's docstring (engine.Rule), so the build saves every
    compiled module's docstrings in the wheel. None for anything not compiled.
    """
    module = compiled_module_of(fn)
    name = getattr(fn, "__qualname__", None)
    if module is None or not isinstance(name, str):
        return None
    return _docstrings().get(module, {}).get(name)


def compiled_module_of(fn: object) -> str | None:
    """The module `fn` was defined in when that module runs compiled, else None."""
    module = getattr(fn, "__module__", None)
    if isinstance(module, str) and module in HOT_MODULES and is_compiled(module):
        return module
    return None


@functools.cache
def _docstrings() -> dict[str, dict[str, str]]:
    try:
        table = json.loads(DOCSTRINGS.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return table if isinstance(table, dict) else {}
