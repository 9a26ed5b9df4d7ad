"""Hatch build hook: the compiled build, with mypyc, of the modules that run per segment and per claim.

Why a hook of our own rather than the hatch-mypyc plugin: that plugin compiles in place,
leaving `.so` files in `src/x12dental/`. An editable install then imports those instead of
the `.py` files being edited, and nothing says so. Here mypy and the C compiler work in a
temporary directory; only the finished extension modules are copied into the wheel.

Off unless asked for (`HATCH_BUILD_HOOKS_ENABLE=1`), and never for an editable install.
The `.py` files stay in the wheel beside their compiled modules (Python imports the
extension first), so tracebacks and readers still have the source.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

_SETUP = """\
import sys
from setuptools import setup
from mypyc.build import mypycify

setup(
    name="x12dental-compiled",
    ext_modules=mypycify(sys.argv[4:], opt_level="3", target_dir=sys.argv[3]),
    script_args=["build_ext", "--build-lib", sys.argv[1], "--build-temp", sys.argv[2]],
)
"""


class CompiledBuild(BuildHookInterface):  # type: ignore[misc, unused-ignore]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        if version == "editable":
            print(
                "x12dental: an editable install is never compiled (it must run the .py files "
                "being edited); build a wheel or use a non-editable install for the compiled build",
                file=sys.stderr,
            )
            return
        modules: list[str] = list(self.config.get("modules", []))
        if not modules:
            raise ValueError(
                "hatch_build.py: [tool.hatch.build.targets.wheel.hooks.custom] lists no modules"
            )
        root = Path(self.root)
        src = root / "src"
        self._tmp = tempfile.mkdtemp(prefix="x12dental-mypyc-")
        tmp = Path(self._tmp)
        (tmp / "setup.py").write_text(_SETUP, encoding="utf-8")
        mypy_args = [
            "--config-file",
            str(root / "pyproject.toml"),
            "--cache-dir",
            str(tmp / "mypy-cache"),
        ]
        paths = [str(Path(*m.split("."))) + ".py" for m in modules]
        for rel in paths:
            if not (src / rel).is_file():
                raise ValueError(f"hatch_build.py: no module file src/{rel}")
        try:
            self._compile(src, tmp, mypy_args, paths, modules, build_data)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def _compile(
        self,
        src: Path,
        tmp: Path,
        mypy_args: list[str],
        paths: list[str],
        modules: list[str],
        build_data: dict[str, Any],
    ) -> None:
        lib, temp, c_dir = tmp / "lib", tmp / "temp", tmp / "c"
        # cwd=src, so mypy names the modules x12dental.*, as they are imported.
        proc = subprocess.run(
            [
                sys.executable,
                str(tmp / "setup.py"),
                str(lib),
                str(temp),
                str(c_dir),
                *mypy_args,
                *paths,
            ],
            cwd=src,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError("mypyc could not compile x12dental:\n" + proc.stdout[-20000:])
        built = sorted(p for p in lib.rglob("*") if p.suffix in (".so", ".pyd"))
        if len(built) < len(modules):
            raise RuntimeError(
                f"mypyc built {len(built)} extension files for {len(modules)} modules"
            )
        for ext in built:
            build_data["force_include"][str(ext)] = ext.relative_to(lib).as_posix()
        # mypyc drops docstrings, and a rule's explanation is its function's docstring
        # (x12dental.buildinfo.compiled_docstring reads them back from here).
        table = {
            module: docstrings((src / rel).read_text(encoding="utf-8"))
            for module, rel in zip(modules, paths, strict=True)
        }
        saved = tmp / "docstrings.json"
        saved.write_text(json.dumps(table, indent=1, sort_keys=True), encoding="utf-8")
        build_data["force_include"][str(saved)] = "x12dental/_data/docstrings.json"
        build_data["pure_python"] = False
        build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        tmp = getattr(self, "_tmp", None)
        if tmp is not None and os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)


def docstrings(source: str) -> dict[str, str]:
    """Qualified name -> docstring (cleaned as inspect.getdoc cleans it) of every function
    and method of a module's source, nested classes' included; functions inside functions
    have no qualified name a caller could look up, and are left out."""
    found: dict[str, str] = {}

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                if doc:
                    found[prefix + node.name] = doc
            elif isinstance(node, ast.ClassDef):
                visit(node.body, f"{prefix}{node.name}.")

    visit(ast.parse(source).body, "")
    return found
