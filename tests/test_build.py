"""Which build the suite is testing, and the compiled build's guard rails.

The suite runs twice in CI: on the editable pure-Python install and on the compiled (mypyc)
build. X12DENTAL_EXPECT_COMPILED=1 or 0 makes each run prove it tested the build it was
meant to, so a failed compile can't quietly turn the second run into a repeat of the first.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
    hook = module.CompiledBuild()
    data: dict[str, object] = {"force_include": {}}
    # editable: returns at once (the empty module list would raise if it went on)
    hook.initialize("editable", data)
    assert data == {"force_include": {}}
    with pytest.raises(ValueError, match="lists no modules"):
        hook.initialize("standard", data)
    hook.target_name = "sdist"
    hook.initialize("standard", data)  # only wheels are compiled
    assert data == {"force_include": {}}
