"""The terminal report: verdict and counts per file, findings grouped by claim, segment text."""

from __future__ import annotations

from pathlib import Path

from tests.builders import TODAY, Claim, Line, build
from x12dental.pipeline import FileResult, Options, check_bytes, check_path
from x12dental.report import Report
from x12dental.text_report import render_file, render_text, tally

SAMPLES = Path(__file__).parents[1] / "samples"


def _two_claims() -> tuple[bytes, FileResult]:
    data = build(
        Claim(lines=(Line("D9911"),), claim_id="CLMA"),
        Claim(lines=(Line("D2391", teeth=(("3", "O"),)),), claim_id="CLMB"),
        Claim(lines=(Line("D6011", teeth=(("8", ""),)),), claim_id="CLMC"),
    )
    return data, check_bytes(data, "batch.837", Options(today=TODAY))


def test_verdict_counts_and_findings_grouped_by_claim() -> None:
    _, result = _two_claims()
    out = render_file(result)
    lines = out.splitlines()
    assert lines[0] == "batch.837: accepted with errors (claims with errors will be rejected)"
    assert "3 claim(s), 3 service line(s)" in lines[1]
    assert lines[2] == "  claims: 2 accepted, 1 with errors"
    heads = [ln for ln in lines if ln.startswith("  claim ")]
    assert [h.split()[1] for h in heads] == ["CLMA", "CLMC"]
    assert "patient DOE, JANE" in heads[0] and "billing BRIGHT SMILE DENTAL" in heads[0]
    # each finding under its claim, with its severity in words, rule, place and fix
    block = out.split("  claim CLMA")[1].split("  claim CLMC")[0]
    assert "ERROR" in block and "desensitizing.d9911-no-tooth (SNIP" in block
    assert "fix: " in block and "at line " in block
    assert "\x1b[" not in out


def test_segment_text_only_when_the_input_is_given() -> None:
    data, result = _two_claims()
    plain = render_text(Report((result,)))
    assert "| SV3*" not in plain
    shown = render_text(Report((result,)), sources={"batch.837": data})
    assert "            | SV3*AD:D9911*100" in shown
    assert "            | SV3*AD:D6011*100" in shown


def test_colour_only_when_asked() -> None:
    _, result = _two_claims()
    coloured = render_text(Report((result,)), colour=True)
    assert "\x1b[31mERROR\x1b[0m" in coloured and "\x1b[33mWARNING\x1b[0m" in coloured
    assert "\x1b[" not in render_text(Report((result,)))


def test_envelope_findings_come_first_and_rejected_sets_are_counted() -> None:
    result = check_path(SAMPLES / "bad" / "truncated.837")
    out = render_file(result)
    assert "REJECTED" in out.splitlines()[0]
    assert "0 accepted, 1 with errors, 2 in rejected transaction sets" in out
    first_group = out.split("\n\n")[1]
    assert first_group.startswith("  outside any claim")
    assert "x12.envelope.trailer-missing" in first_group
    assert "claim ESZ0000002" in out


def test_tally_of_the_clean_batch_and_an_unreadable_file() -> None:
    t = tally(check_path(SAMPLES / "clean-batch.837"))
    assert (t.total, t.accepted, t.with_errors, t.rejected_sets) == (9, 9, 0, 0)
    empty = check_path(SAMPLES / "bad" / "empty.837")
    out = render_file(empty)
    assert "UNREADABLE" in out and "the file is empty" in out and "claims:" not in out


def test_run_summary_line_keeps_its_shape() -> None:
    result = check_path(SAMPLES / "clean-batch.837")
    out = render_text(Report((result,)))
    assert out.endswith("1 file(s), 9 claim(s): 0 error(s), 0 warning(s), 0 info(s)\n")
    assert Report((result,)).to_text() == out
