"""The command line contract: formats, output file, stdin, directories, exit statuses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from x12dental.cli import main
from x12dental.synthetic import GenOptions, generate

CLEAN = generate(3, GenOptions(claims=4)).text


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def clean_file(tmp_path: Path) -> Path:
    path = tmp_path / "clean.837"
    path.write_text(CLEAN)
    return path


def test_clean_file_text_report(clean_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["check", str(clean_file)], capsys)
    assert code == 0
    assert "accepted" in out and "4 claim(s)" in out


def test_json_report_matches_the_contract(
    clean_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["check", "--format", "json", str(clean_file)], capsys)
    doc = json.loads(out)
    assert code == 0
    assert doc["schema"] == "x12dental.report/1"
    (file,) = doc["files"]
    assert set(file) == {
        "path",
        "status",
        "interchanges",
        "transactions",
        "claims",
        "service_lines",
        "findings",
    }
    assert file["status"] == "accepted" and file["claims"] == 4
    assert doc["summary"] == {"files": 1, "claims": 4, "errors": 0, "warnings": 0, "infos": 0}


def test_finding_fields_all_present(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.837"
    bad.write_text(CLEAN.replace("*11:B:1*", "*11:X:1*", 1))
    code, out, _ = run(["check", "--format", "json", str(bad)], capsys)
    assert code == 1
    (finding,) = json.loads(out)["files"][0]["findings"]
    assert set(finding) == {
        "rule",
        "severity",
        "snip",
        "message",
        "hint",
        "claim_id",
        "line",
        "procedure",
        "tooth",
        "segment_id",
        "segment_position",
        "element",
        "file_line",
        "interchange_control",
        "group_control",
        "transaction_control",
    }
    assert finding["element"] == "CLM05-2"
    assert finding["message"].startswith("CLM05-2") and "must be B" in finding["message"]
    assert "'X'" in finding["message"]
    assert finding["segment_id"] == "CLM" and finding["claim_id"]
    assert (
        finding["file_line"]
        == CLEAN.splitlines().index(next(s for s in CLEAN.splitlines() if s.startswith("CLM"))) + 1
    )


def test_output_file_stdin_and_directory(
    tmp_path: Path, clean_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = tmp_path / "report.json"
    code, out, _ = run(["check", "--format", "json", "-o", str(out_file), str(tmp_path)], capsys)
    assert code == 0 and out == ""
    assert json.loads(out_file.read_text())["summary"]["files"] == 1
    proc = subprocess.run(
        [sys.executable, "-m", "x12dental.cli", "check", "--format", "json", "-"],
        input=CLEAN.encode(),
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["files"][0]["path"] == "-"


def test_fail_on_levels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    warn = tmp_path / "a1.837"
    warn.write_text(CLEAN.replace("005010X224A2", "005010X224A1"))
    assert run(["check", str(warn)], capsys)[0] == 0
    assert run(["check", "--fail-on", "warning", str(warn)], capsys)[0] == 1
    bad = tmp_path / "bad.837"
    bad.write_text(CLEAN.replace("*11:B:1*", "*11:X:1*", 1))
    assert run(["check", "--fail-on", "never", str(bad)], capsys)[0] == 0


def test_missing_file_and_many_files(
    tmp_path: Path, clean_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.837"
    empty.write_bytes(b"")
    code, out, _ = run(
        ["check", "--format", "json", str(tmp_path / "nope"), str(empty), str(clean_file)], capsys
    )
    doc = json.loads(out)
    assert code == 2
    assert [f["status"] for f in doc["files"]] == ["unreadable", "unreadable", "accepted"]
    assert "not found" in doc["files"][0]["findings"][0]["message"]


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["check", "--format", "pdf", "x"])
    assert info.value.code == 2


def test_rules_and_explain(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["rules"], capsys)
    assert code == 0 and "x12.segment.missing" in out and "SNIP 2" in out
    code, out, _ = run(["explain", "x12.element.invalid-code"], capsys)
    assert code == 0 and "How to fix" in out
    assert run(["explain", "no.such.rule"], capsys)[0] == 2


def test_maps_path_is_usable_by_pyx12(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["maps-path"], capsys)
    folder = Path(out.strip())
    assert code == 0
    assert (folder / "837.5010.X224.A2.xml").is_file()
    assert "005010X224A2" in (folder / "maps.xml").read_text()
