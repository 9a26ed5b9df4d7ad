"""ruff and mypy --strict are part of the test suite, so one command checks everything."""

from __future__ import annotations

import shutil
import subprocess
import sys

from .conftest import ROOT


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_ruff_clean() -> None:
    assert shutil.which("ruff") or _run("ruff", "--version").returncode == 0
    proc = _run("ruff", "check", "src", "tests", "bench", "maps/tools")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = _run("ruff", "format", "--check", "src", "tests", "bench", "maps/tools")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_strict_clean() -> None:
    proc = _run("mypy", "--strict", "src/x12dental")
    assert proc.returncode == 0, proc.stdout + proc.stderr
