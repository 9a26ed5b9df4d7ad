"""A wheel carries maps/ and rules/, and the installed package finds them from any directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT, SAMPLES


def test_installed_wheel_finds_its_data(tmp_path: Path) -> None:
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("x12dental-*.whl")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    env = {**os.environ, "PYTHONPATH": str(target), "X12DENTAL_CACHE_DIR": str(tmp_path / "cache")}
    maps_prefix, sample = str(target), str(SAMPLES / "clean-batch.837")
    code = (
        "import x12dental, x12dental.resources as r, x12dental.cli as c;"
        f"assert str(r.data_dir('maps')).startswith({maps_prefix!r}), r.data_dir('maps');"
        "assert (r.data_dir('rules') / 'README.md').is_file();"
        f"raise SystemExit(c.main(['check', {sample!r}]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd="/", env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "accepted" in proc.stdout
