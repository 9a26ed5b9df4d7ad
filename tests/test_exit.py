"""The command's own exit (cli.run / exit_now): no interpreter teardown, nothing lost.

The `x12dental` command ends with os._exit once its work is done. What a normal exit
does that matters must still happen, and these tests watch it from outside the process:
the status, every byte written to standard output, atexit handlers, a thread still
running, and no spooled file left behind.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

from x12dental.cli import main
from x12dental.synthetic import GenOptions, generate, write_interchange


def _command(args: list[str], tmp: Path) -> subprocess.CompletedProcess[bytes]:
    """`python -m x12dental.cli ARGS` with its temporary files in `tmp`."""
    env = {**os.environ, "TMPDIR": str(tmp)}
    return subprocess.run(
        [sys.executable, "-m", "x12dental.cli", *args], capture_output=True, check=False, env=env
    )


def test_exit_now_runs_atexit_waits_for_threads_and_flushes(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import atexit, sys, threading, time
        from x12dental.cli import exit_now
        atexit.register(lambda: print("atexit ran"))
        def late():
            time.sleep(0.2)
            print("thread finished")
        threading.Thread(target=late).start()
        sys.stdout.write("x" * 200_000 + "\\n")  # more than a pipe holds, not flushed
        sys.stderr.write("to stderr")
        exit_now(3)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, check=False, text=True
    )
    assert proc.returncode == 3
    lines = proc.stdout.splitlines()
    assert lines[0] == "x" * 200_000
    assert lines[1:] == ["thread finished", "atexit ran"]
    assert proc.stderr == "to stderr"


def test_command_status_and_whole_report_match_main(tmp_path: Path) -> None:
    # Errors in every claim: exit status 1 and a report of well over a pipe's 64 KB.
    text = generate(11, GenOptions(claims=300)).text.replace("*11:B:1*", "*11:X:1*")
    bad = tmp_path / "bad.837"
    bad.write_text(text)
    spool = tmp_path / "tmp"
    spool.mkdir()
    proc = _command(["check", "--format", "json", str(bad)], spool)
    assert proc.returncode == 1, proc.stderr
    assert len(proc.stdout) > 65_536
    report = json.loads(proc.stdout)
    assert report["summary"]["errors"] >= 300
    out = tmp_path / "in-process.json"
    assert main(["check", "--format", "json", "-o", str(out), str(bad)]) == 1
    assert json.loads(out.read_text()) == report
    assert list(spool.iterdir()) == []


def test_files_spooled_by_workers_are_deleted_at_exit(tmp_path: Path) -> None:
    # Two files of more claims than a Spool holds in memory, checked by two workers: each
    # worker hands its spooled claim results over by file, and this process deletes them
    # (as it writes the report, with atexit handlers as the safety net): none may remain.
    folder = tmp_path / "batch"
    folder.mkdir()
    for i in range(2):
        with (folder / f"{i}.837").open("w", encoding="latin-1", newline="") as fp:
            write_interchange(fp, random.Random(i), GenOptions(claims=2_200))
    spool = tmp_path / "tmp"
    spool.mkdir()
    out = tmp_path / "report.json"
    proc = _command(
        ["check", "--format", "json", "-o", str(out), "--workers", "2", "--quiet", str(folder)],
        spool,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["summary"]["claims"] == 4_400
    assert list(spool.iterdir()) == []


def test_a_usage_error_still_exits_2(tmp_path: Path) -> None:
    proc = _command(["check", "--format", "yaml", "x.837"], tmp_path)
    assert proc.returncode == 2
    assert b"invalid choice" in proc.stderr
