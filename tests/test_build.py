"""Which build the suite is testing, and the compiled build's guard rails.

The suite runs twice in CI: on the editable pure-Python install and on the compiled (mypyc)
build. X12DENTAL_EXPECT_COMPILED=1 or 0 makes each run prove it tested the build it was
meant to, so a failed compile can't quietly turn the second run into a repeat of the first.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import x12dental
from x12dental import buildinfo

ROOT = Path(__file__).resolve().parent.parent


def _hook_modules() -> list[str]:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    hook = data["tool"]["hatch"]["build"]["targets"]["wheel"]["hooks"]["custom"]
    return list(hook["modules"])


def test_buildinfo_lists_the_modules_the_build_compiles() -> None:
    assert list(buildinfo.HOT_MODULES) == _hook_modules()


def test_the_expected_build_is_the_one_under_test() -> None:
    expected = os.environ.get("X12DENTAL_EXPECT_COMPILED")
    got = buildinfo.compiled_modules()
    if expected == "1":
        assert got == buildinfo.HOT_MODULES, buildinfo.describe()
        assert buildinfo.describe().startswith("mypyc: ")
    elif expected == "0":
        assert got == (), buildinfo.describe()
        assert buildinfo.describe() == "pure Python"
    else:
        pytest.skip("X12DENTAL_EXPECT_COMPILED not set: either build may be installed")


def test_new_segments_are_checked_the_way_that_is_cheaper_in_this_build() -> None:
    """faststructure decides by what its own functions are (mypyc: native ones); if that test
    went wrong, the compiled build would pay for the regex again, or the source build
    lose its pattern, and no result would change to tell."""
    from x12dental import faststructure

    assert faststructure._BY_ELEMENT is buildinfo.is_compiled("x12dental.faststructure")


def test_version_names_the_build() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "x12dental.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"x12dental {x12dental.__version__} ({buildinfo.describe()})"


def test_no_compiled_leftovers_shadow_the_sources() -> None:
    """An extension module beside its .py in src/ wins the import: an editable install would
    run stale compiled code instead of the source being edited, without a word."""
    package = ROOT / "src" / "x12dental"
    leftovers = sorted(
        p.name for p in package.rglob("*") if p.suffix in (".so", ".pyd") and p.is_file()
    )
    assert leftovers == [], f"remove compiled files from {package}: {leftovers}"


def test_describe_reports_a_partial_build(monkeypatch: pytest.MonkeyPatch) -> None:
    first = buildinfo.HOT_MODULES[0]
    monkeypatch.setattr(buildinfo, "is_compiled", lambda module: module == first)
    assert buildinfo.compiled_modules() == (first,)
    assert buildinfo.describe() == f"partly compiled, mypyc: {first.rpartition('.')[2]}"
    monkeypatch.setattr(buildinfo, "is_compiled", lambda module: True)
    assert buildinfo.describe().startswith("mypyc: ")
    monkeypatch.setattr(buildinfo, "is_compiled", lambda module: False)
    assert buildinfo.describe() == "pure Python"


def test_build_hook_refuses_to_compile_an_editable_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The hook returns before compiling anything for an editable build (its docstring says
    why). Checked on the hook itself, loaded against a stand-in for hatchling's interface."""
    hook = _load_hook(monkeypatch).CompiledBuild()
    data: dict[str, object] = {"force_include": {}}
    # editable: returns at once (the empty module list would raise if it went on)
    hook.initialize("editable", data)
    assert data == {"force_include": {}}
    with pytest.raises(ValueError, match="lists no modules"):
        hook.initialize("standard", data)
    hook.target_name = "sdist"
    hook.initialize("standard", data)  # only wheels are compiled
    assert data == {"force_include": {}}


def _load_hook(monkeypatch: pytest.MonkeyPatch) -> Any:
    """hatch_build.py, loaded against a stand-in for hatchling's interface."""
    import importlib.util
    import types

    class BuildHookInterface:
        target_name = "wheel"
        config: dict[str, object] = {"modules": []}  # noqa: RUF012
        root = str(ROOT)

    iface = types.ModuleType("hatchling.builders.hooks.plugin.interface")
    iface.BuildHookInterface = BuildHookInterface  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "hatchling.builders.hooks.plugin.interface", iface)
    for name in ("hatchling", "hatchling.builders", "hatchling.builders.hooks"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "hatchling.builders.hooks.plugin", types.ModuleType("plugin"))
    spec = importlib.util.spec_from_file_location("x12dental_hatch_build", ROOT / "hatch_build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_build_hook_saves_the_docstrings_mypyc_drops(monkeypatch: pytest.MonkeyPatch) -> None:
    hook = _load_hook(monkeypatch)
    source = '''
def rule(line):
    """Why a payer denies it.

    The rule's explanation:
        an indented example stays indented.
    """
    def inner():
        """Not reachable by a qualified name."""

class State:
    def observe(self):
        """Seen."""

    class Inner:
        async def go(self):
            """Deep."""

def bare():
    return 1
'''
    assert hook.docstrings(source) == {
        "rule": "Why a payer denies it.\n\nThe rule's explanation:\n    an indented example stays indented.",
        "State.observe": "Seen.",
        "State.Inner.go": "Deep.",
    }


def _source_docstring(fn: Any) -> str | None:
    path = ROOT / "src" / Path(*fn.__module__.split("."))
    tree = ast.parse(path.with_suffix(".py").read_text(encoding="utf-8"))
    body: list[ast.stmt] = tree.body
    *outer, name = fn.__qualname__.split(".")
    for part in outer:
        body = next(n for n in body if isinstance(n, ast.ClassDef) and n.name == part).body
    node = next(
        n for n in body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == name
    )
    return ast.get_docstring(node)


def test_every_rule_explains_itself_with_its_source_docstring() -> None:
    """In either build: `x12dental explain` gives the docstring the source has. In the
    compiled build this is the table the hook saved (mypyc keeps no docstring), so a
    wheel without it fails here rather than at a user's first run."""
    from x12dental import engine

    compared = 0
    for rule in engine.default_registry():
        assert rule.explanation == _source_docstring(rule.check), rule.id
        if buildinfo.is_compiled(rule.check.__module__):
            assert rule.check.__doc__ is None or rule.explanation not in rule.check.__doc__
        compared += 1
    assert compared > 40


def test_compiled_docstring_answers_only_for_compiled_modules() -> None:
    from x12dental.checks.balancing import claim_total

    def plugin_rule() -> None:
        """A plugin's own."""

    assert buildinfo.compiled_docstring(plugin_rule) is None
    assert buildinfo.compiled_docstring(object()) is None
    if buildinfo.is_compiled("x12dental.checks.balancing"):
        assert buildinfo.compiled_docstring(claim_total) == _source_docstring(claim_total)
    else:
        assert buildinfo.compiled_docstring(claim_total) is None


def test_a_compiled_rule_without_its_docstring_says_the_wheel_is_broken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A compiled wheel missing its docstring table must say so, not ask for a docstring
    the source has."""
    from x12dental import engine

    def claim_total() -> None:
        pass

    claim_total.__module__ = "x12dental.checks.balancing"
    monkeypatch.setattr(buildinfo, "is_compiled", lambda module: True)
    monkeypatch.setattr(buildinfo, "_docstrings", lambda: {})
    with pytest.raises(engine.RuleError, match="lacks its docstring table"):
        engine._doc(claim_total)
    monkeypatch.setattr(buildinfo, "is_compiled", lambda module: False)
    with pytest.raises(engine.RuleError, match="needs a docstring"):
        engine._doc(claim_total)
