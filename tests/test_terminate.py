"""SIGTERM in the middle of a check: the spooled claim data (PHI) goes with the process.

Findings and claim summaries past the memory budget sit in private temporary files while
a file is checked; a terminated run must delete them, say so and exit 143.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from x12dental.synthetic import GenOptions, generate

OUT = ("--format", "json", "-o", os.devnull)


@pytest.mark.parametrize("workers", ["1", "2"])  # 2: the file is split by transaction set
def test_sigterm_mid_check_deletes_the_spooled_files(tmp_path: Path, workers: str) -> None:
    claims = tmp_path / "many.837"
    claims.write_text(generate(5, GenOptions(claims=8000, max_lines=3, transactions=2)).text)
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "x12dental.cli",
            "check",
            "--workers",
            workers,
            "--quiet",
            *OUT,
            str(claims),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not any(temp.glob("x12dental-spool-*/*")):
        assert proc.poll() is None, proc.communicate()  # still checking: nothing spooled yet
        assert time.monotonic() < deadline, "no claim was spooled to disk"
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "terminated" in err
    assert "Traceback" not in err
    assert list(temp.iterdir()) == []
