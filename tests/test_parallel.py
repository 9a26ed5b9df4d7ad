"""--workers, the streaming JSON report and the progress line.

A run with several worker processes must give the very report a one-process run gives
(byte for byte, files in input order) and the same exit status.
"""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

import pytest

from x12dental.api import validate
from x12dental.cli import main
from x12dental.history import open_history
from x12dental.parallel import JsonReportWriter, Plan, check_job, check_many
from x12dental.pipeline import Options, check_bytes
from x12dental.progress import Progress
from x12dental.redact import redact_report
from x12dental.report import Report
from x12dental.synthetic import GenOptions, generate

CLEAN = generate(11, GenOptions(claims=12)).text
BAD = CLEAN.replace("*11:B:1*", "*11:X:1*", 1)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Good, bad and unreadable files, in an order a pool would finish them out of."""
    folder = tmp_path_factory.mktemp("mixed")
    (folder / "a_big.837").write_text(generate(1, GenOptions(claims=300)).text)
    (folder / "b_bad.837").write_text(BAD)
    (folder / "c_binary.837").write_bytes(b"\x00\x01\x02 not x12")
    (folder / "d_clean.837").write_text(CLEAN)
    (folder / "e_empty.837").write_bytes(b"")
    (folder / "f_bad_segment.837").write_text(CLEAN.replace("~\nN3*", "~\nN3*~\nN3*", 1))
    sub = folder / "sub"
    sub.mkdir()
    (sub / "g_clean.837").write_text(generate(2, GenOptions(claims=5)).text)
    return folder


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_two_workers_give_the_same_json_and_exit_status(
    mixed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(mixed / "nope.837")
    args = ["check", "--format", "json", str(mixed), missing, str(mixed / "d_clean.837")]
    code1, out1, err1 = _run([*args, "--workers", "1"], capsys)
    code2, out2, err2 = _run([*args, "--workers", "2"], capsys)
    assert out1 == out2
    assert code1 == code2 == 2  # unreadable inputs
    assert err1 == err2 == ""  # no progress: stderr is not a terminal
    doc = json.loads(out2)
    paths = [f["path"] for f in doc["files"]]
    assert paths[:2] == [str(mixed / "a_big.837"), str(mixed / "b_bad.837")]
    assert paths[-2:] == [missing, str(mixed / "d_clean.837")]
    assert [f["status"] for f in doc["files"]][2] == "unreadable"
    # the same document the Python API builds in one process
    files = [f for src in (mixed, missing, mixed / "d_clean.837") for f in validate(src).files]
    assert out2 == Report(tuple(files)).to_json()


def test_streamed_json_is_byte_identical_to_report_to_json(mixed: Path) -> None:
    expected = validate(mixed)
    buf = io.StringIO()
    writer = JsonReportWriter(buf, expected.settings)
    for f in expected.files:
        writer.add(f)
    writer.close()
    assert buf.getvalue() == expected.to_json()
    empty = io.StringIO()
    JsonReportWriter(empty).close()
    assert empty.getvalue() == Report(()).to_json()


def test_exit_statuses_unchanged_with_workers(
    mixed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = [str(mixed / "b_bad.837"), str(mixed / "d_clean.837")]
    for workers in ("1", "2"):
        assert _run(["check", "--format", "json", "--workers", workers, *files], capsys)[0] == 1
        clean = [str(mixed / "d_clean.837"), str(mixed / "sub")]
        assert _run(["check", "--format", "json", "--workers", workers, *clean], capsys)[0] == 0
        never = ["--fail-on", "never", *files]
        assert _run(["check", "--format", "json", "--workers", workers, *never], capsys)[0] == 0


def test_text_report_and_redacted_json_same_with_workers(
    mixed: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    files = [str(mixed / "b_bad.837"), str(mixed / "f_bad_segment.837"), str(mixed / "sub")]
    t1 = _run(["check", "--workers", "1", *files], capsys)
    t2 = _run(["check", "--workers", "2", *files], capsys)
    assert t1 == t2 and t1[0] == 1
    r1 = _run(["check", "--format", "json", "--redact", "--workers", "1", *files], capsys)
    r2 = _run(["check", "--format", "json", "--redact", "--workers", "2", *files], capsys)
    assert r1 == r2
    whole = validate(mixed / "b_bad.837")
    assert (
        redact_report(whole).to_json()
        == _run(["check", "--format", "json", "--redact", str(mixed / "b_bad.837")], capsys)[1]
    )
    out = tmp_path / "r.json"
    acks = tmp_path / "acks"
    args = ["check", "--format", "json", "-o", str(out), "--ack-dir", str(acks), *files]
    assert _run([*args, "--workers", "2"], capsys)[0] == 1
    assert json.loads(out.read_text())["summary"]["files"] == 3
    # the acknowledgments streamed with the JSON are those the text path writes all at once
    acks_text = tmp_path / "acks_text"
    args = ["check", "-o", str(tmp_path / "r.txt"), "--ack-dir", str(acks_text), *files]
    assert _run([*args, "--workers", "1"], capsys)[0] == 1
    written = {p.name: p.read_bytes() for p in acks.iterdir()}
    assert written and written == {p.name: p.read_bytes() for p in acks_text.iterdir()}


def test_stdin_keeps_its_place(mixed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class _Stdin:
        buffer = io.BytesIO(BAD.encode())

        def close(self) -> None:  # a forked worker closes its copy of stdin, as the real one
            pass

    monkeypatch.setattr("sys.stdin", _Stdin())
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    path = str(mixed / "d_clean.837")
    assert main(["check", "--format", "json", "--workers", "2", path, "-", path]) == 1
    doc = json.loads(out.getvalue())
    assert [f["path"] for f in doc["files"]] == [path, "-", path]


def test_check_many_yields_in_input_order_with_a_small_window(mixed: Path) -> None:
    jobs: list[Path | tuple[str, bytes]] = sorted(mixed.glob("*.837"))
    jobs.append(("mem", BAD.encode()))
    seen: list[int] = []
    results = list(check_many(jobs, Plan(), 2, window=2, on_done=lambda i, _r: seen.append(i)))
    assert [r.path for r in results] == [str(j) for j in jobs[:-1]] + ["mem"]
    assert sorted(seen) == list(range(len(jobs)))
    assert results == [check_job(j, Options()) for j in jobs]


def test_file_results_pickle() -> None:
    for text in (CLEAN, BAD, "garbage"):
        result = check_bytes(text.encode(), "x")
        assert pickle.loads(pickle.dumps(result)) == result
    assert pickle.loads(pickle.dumps(Plan(history="h.db"))) == Plan(history="h.db")


def test_history_with_workers_each_worker_records(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(4):
        (folder / f"f{i}.837").write_text(generate(20 + i, GenOptions(claims=3)).text)
    db = tmp_path / "h.db"
    assert main(["check", "--quiet", "--workers", "2", "--history", str(db), str(folder)]) == 0
    store = open_history(db)
    try:
        stats = store.stats()
    finally:
        store.close()
    assert stats.files == 4 and stats.claims == 12


# ---- progress -------------------------------------------------------------------------------


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_on_a_terminal_is_redrawn_and_cleared() -> None:
    term, clock = FakeTerminal(), FakeClock()
    p = Progress(term, 3, 300, clock=clock)
    assert p.enabled
    clock.now += 1
    p.file_done(claims=50, size=100)
    clock.now += 0.05
    p.file_done(claims=50, size=100)  # within 1/5 s: not redrawn
    assert term.getvalue().count("\r") == 1
    clock.now += 1
    p.read(50)
    line = term.getvalue().split("\r")[-1]
    assert "2/3 files" in line and "100 claims" in line and "claims/s" in line
    assert "left" in line
    p.file_done(claims=10, size=100)
    clock.now += 1
    p.finish()
    assert term.getvalue().endswith("\r")
    assert term.getvalue().split("\r")[-2].strip() == ""


@pytest.mark.parametrize("quiet,stream", [(True, FakeTerminal()), (False, io.StringIO())])
def test_progress_silent_when_quiet_or_not_a_terminal(quiet: bool, stream: io.StringIO) -> None:
    p = Progress(stream, 2, 10, quiet=quiet)
    p.read(5)
    p.file_done(3, 10)
    p.finish()
    assert not p.enabled and stream.getvalue() == ""


def test_cli_progress_only_on_a_terminal_without_quiet(
    mixed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    files = [str(mixed / "a_big.837"), str(mixed / "d_clean.837")]
    term = FakeTerminal()
    monkeypatch.setattr("sys.stderr", term)
    assert main(["check", "--format", "json", "--quiet", "--workers", "1", *files]) == 0
    assert term.getvalue() == ""
    assert main(["check", "--format", "json", "--workers", "1", *files]) == 0
    shown = term.getvalue()
    assert shown.startswith("\rx12dental: ") and "files" in shown
    assert shown.endswith("\r") and shown.split("\r")[-2].strip() == ""


def test_negative_workers_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["check", "--workers", "-1", "x"])
    assert exc.value.code == 2
    assert "--workers" in capsys.readouterr().err


def test_default_workers_start_no_pool_for_a_small_input() -> None:
    from x12dental.parallel import POOL_MIN_BYTES, choose_workers, default_workers

    assert choose_workers(None, POOL_MIN_BYTES - 1) == 1
    assert choose_workers(None, POOL_MIN_BYTES) == default_workers()
    assert choose_workers(2, 10) == 2
