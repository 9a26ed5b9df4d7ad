"""Which of x12dental's modules run compiled (mypyc) and which as Python source.

The compiled build is optional (README, "Compiled build"). A benchmark figure or a bug
report means little without knowing which build produced it, so `--version` says, and the
tests can insist on the build they were told to expect.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys

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
)


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
