"""The benchmark runs end to end on a tiny size and prints its tables (a smoke test, not a timing)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT


def test_bench_runs_and_prints_its_columns(tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--sizes",
            "50",
            "--pyx12-max",
            "50",
            "--batch-files",
            "2,3",
            "--data",
            str(tmp_path / "data"),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    from x12dental import buildinfo

    assert lines[0] == f"x12dental: {buildinfo.describe()} ({sys.executable})"
    lines = lines[1:]
    assert lines[0].split() == [
        "size",
        "tool",
        "seconds",
        "CPU",
        "s",
        "claims/s",
        "ratio",
        "peak",
        "RSS",
        "MB",
    ]
    tools = [line.split()[1] for line in lines[2:4]]
    assert tools == ["pyx12", "x12dental"]
    ours = lines[3].split()
    assert ours[0] == "50" and ours[5].endswith("x") and float(ours[2]) > 0 and float(ours[3]) > 0
    assert "speed-up" in proc.stdout and "workers" in proc.stdout
    rows = json.loads(out.read_text())["rows"]
    capacity = [r for r in rows if r["mode"] == "capacity"]
    assert len(capacity) == 2 and all(c["x"] > 0 for c in capacity)
    batches = [(r["files"], r["workers"]) for r in rows if r["mode"] == "batch"]
    assert batches == [(2, 1), (2, 2), (3, 1), (3, 2)]
    assert proc.stdout.count("\nbatch: ") == 2
    assert "copies of a pure-Python loop" in proc.stdout
    rows = [r for r in rows if r["mode"] != "capacity"]
    assert {(r["mode"], r["tool"]) for r in rows} == {
        ("file", "pyx12"),
        ("file", "x12dental"),
        ("batch", "x12dental"),
    }
    assert all(r["rss_mb"] > 0 and r["seconds"] > 0 and r["cpu"] > 0 for r in rows)
