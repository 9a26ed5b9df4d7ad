"""Several processes on one history store, and a process killed while recording.

Real processes (subprocess + `python -c`), because SQLite locking is per process: threads
in one process would not show a "database is locked" failure or a torn transaction.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from x12dental.history import open_history

from .builders import Claim, Line, build
from .conftest import ROOT
from .test_history import PIPELINE_RECORDS, check_and_record

WORKERS = 8
CHECKED_FILES = 2  # checked with the store as history, then recorded
RAW_FILES = 25  # recorded straight away: many short write transactions racing
CLAIMS_PER_FILE = 5


def _claims(prefix: str, n: int) -> list[Claim]:
    """n claims of n different patients: nothing for the rules to connect."""
    return [
        Claim(
            claim_id=f"{prefix}C{i}",
            member_id=f"{prefix}M{i}",
            date="20260915",
            lines=(Line("D2391", teeth=(("3", "O"),)),),
        )
        for i in range(n)
    ]


# One `x12dental check --history` process, imports kept to what the pipeline needs. It opens
# the store when told, at once with the others (so the store's creation races too), checks
# and records its files, then records more files straight away.
WORKER = """
import io, sys, time
import attrs
from pathlib import Path
import pytest

from x12dental.history import open_history
from x12dental.mapper import ModelBuilder
from x12dental.pipeline import Options, check_bytes
from x12dental.tokenizer import Tokenizer
from tests.builders import TODAY, Claim, Line, build

store_path, index, ready, go = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
checked_files, raw_files, per_file = (int(a) for a in sys.argv[5:8])

def claims(prefix):
    return [
        Claim(claim_id=f"{prefix}C{i}", member_id=f"{prefix}M{i}", date="20260915",
              lines=(Line("D2391", teeth=(("3", "O"),)),))
        for i in range(per_file)
    ]

def model(data):
    out = []
    builder = ModelBuilder(out.append)
    for token in Tokenizer(io.BytesIO(data), lambda finding: None):
        builder.feed(token)
    builder.finish()
    return out

checked = [build(*claims(f"W{index}F{f}")) for f in range(checked_files)]
raw = model(build(*claims(f"W{index}R")))
Path(ready, index).touch()
while not Path(go).exists():
    time.sleep(0.002)
pipeline_records = "record" in attrs.fields_dict(Options)
with open_history(store_path) as store:
    for f, data in enumerate(checked):
        name = f"w{index}-{f}.837"
        result = check_bytes(data, name, Options(history=store, today=TODAY))
        if pipeline_records:
            continue  # the pipeline recorded the file itself
        recorder = store.begin_file(name, seen=TODAY)
        for claim in model(data):
            recorder.add(claim)
        recorder.commit(result.findings)
    for f in range(raw_files):
        recorder = store.begin_file(f"w{index}-raw{f}.837", seen=TODAY)
        for claim in raw:
            recorder.add(claim)
        recorder.commit()
"""


def _python(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_eight_processes_writing_one_store_lose_nothing(tmp_path: Path) -> None:
    store_path = tmp_path / "history.db"
    ready = tmp_path / "ready"
    ready.mkdir()
    go = tmp_path / "go"
    counts = (str(CHECKED_FILES), str(RAW_FILES), str(CLAIMS_PER_FILE))
    procs = [
        _python(WORKER, str(store_path), str(i), str(ready), str(go), *counts)
        for i in range(WORKERS)
    ]
    deadline = time.monotonic() + 60
    while len(list(ready.iterdir())) < WORKERS and time.monotonic() < deadline:
        if any(p.poll() not in (None, 0) for p in procs):
            break
        time.sleep(0.01)
    go.touch()
    results = [p.communicate(timeout=120) for p in procs]
    for p, (_out, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err
        assert "locked" not in err, err

    files = WORKERS * (CHECKED_FILES + RAW_FILES)
    with open_history(store_path, create=False) as store:
        stats = store.stats()
    assert (stats.files, stats.claims, stats.services) == (
        files,
        files * CLAIMS_PER_FILE,
        files * CLAIMS_PER_FILE,
    )
    assert stats.rejected_claims == 0
    conn = sqlite3.connect(store_path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    torn = conn.execute(
        "SELECT count(*) FROM files f WHERE f.claims <> "
        "(SELECT count(*) FROM claims c WHERE c.file_id = f.id)"
    ).fetchone()[0]
    conn.close()
    assert torn == 0


@pytest.mark.skipif(not PIPELINE_RECORDS, reason="the pipeline does not record files yet")
def test_eight_check_commands_on_one_store(tmp_path: Path) -> None:
    """The command line itself: `x12dental check --history DB` eight times at once."""
    store_path = tmp_path / "history.db"
    files = []
    for i in range(WORKERS):
        path = tmp_path / f"batch{i}.837"
        path.write_bytes(build(*_claims(f"CLI{i}", CLAIMS_PER_FILE)))
        files.append(path)
    cli = "from x12dental.cli import main; raise SystemExit(main())"
    procs = [
        _python(cli, "check", "--quiet", "--history", str(store_path), str(path)) for path in files
    ]
    for p in procs:
        _out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    with open_history(store_path, create=False) as store:
        stats = store.stats()
    assert (stats.files, stats.claims) == (WORKERS, WORKERS * CLAIMS_PER_FILE)
    again = _python(cli, "check", "--history", str(store_path), str(files[0]))
    out, _err = again.communicate(timeout=60)
    assert out.count("history.duplicate-claim") == CLAIMS_PER_FILE


KILLED = """
import sys, time
from pathlib import Path
import pytest

from x12dental.history import open_history
from tests.builders import TODAY, build
from tests.builders import Claim, Line
from tests.test_history import claims_of

store_path, marker = sys.argv[1], sys.argv[2]
store = open_history(store_path)
claims = claims_of(build(*(
    Claim(claim_id=f"BIG{i}", member_id=f"BIG{i}", lines=(Line("D2391", teeth=(("3", "O"),)),))
    for i in range(100)
)))
recorder = store.begin_file("big.837", seen=TODAY)
for _ in range(100):
    for claim in claims:
        recorder.add(claim)
conn = store._conn
conn.execute("PRAGMA cache_size = 10")  # spill uncommitted pages to the log, as a big file does
calls = 0

def progress():
    global calls
    if conn.in_transaction:
        calls += 1
        if calls == 400:
            Path(marker).write_text("recording")
            time.sleep(120)
    return 0

conn.set_progress_handler(progress, 1000)
recorder.commit()
print("committed")
"""


def test_a_process_killed_while_recording_leaves_no_part_of_its_file(tmp_path: Path) -> None:
    store_path = tmp_path / "history.db"
    with open_history(store_path) as store:
        check_and_record(store, build(*_claims("BEFORE", 3)), name="before.837")
    marker = tmp_path / "recording"
    proc = _python(KILLED, str(store_path), str(marker))
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the recorder never reached its transaction"
        time.sleep(0.01)
    wal = Path(f"{store_path}-wal")
    assert wal.stat().st_size > 100_000  # part of the file is on disk, uncommitted
    os.kill(proc.pid, signal.SIGKILL)
    out, _err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL and "committed" not in out

    with open_history(store_path, create=False, timeout=5) as store:
        stats = store.stats()
        assert (stats.files, stats.claims, stats.services) == (1, 3, 3)
        # the store is not left locked: the next file records at once
        check_and_record(store, build(*_claims("AFTER", 2)), name="after.837")
        assert store.stats().claims == 5
    conn = sqlite3.connect(store_path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
