"""Payer packs (SNIP 7): requirements, severities, located errors in malformed packs."""

from __future__ import annotations

from pathlib import Path

import pytest

from x12dental.findings import Severity
from x12dental.packs import load_pack, settings_from_packs
from x12dental.ruledata import RuleDataError

from .builders import Claim, Line, rule_hits, run, structural


def pack(tmp_path: Path, text: str) -> str:
    path = tmp_path / "pack.toml"
    path.write_text(text)
    return str(path)


def test_prior_auth_required(tmp_path: Path) -> None:
    p = pack(tmp_path, '[[prior_auth]]\ncodes = ["D6010-D6199"]\n')
    bad = run(Claim(lines=(Line("D6010", teeth=(("8", ""),)),)), packs=(p,))
    assert structural(bad) == []
    (hit,) = rule_hits(bad, "payer.prior-auth-required")
    assert (hit.severity, hit.claim_id, hit.line, hit.procedure) == (
        Severity.ERROR,
        "CLM001",
        1,
        "D6010",
    )
    good = run(
        Claim(lines=(Line("D6010", teeth=(("8", ""),), refs=(("G1", "PA77"),)),)), packs=(p,)
    )
    assert rule_hits(good, "payer.prior-auth-required") == []
    other = run(Claim(lines=(Line("D2391", teeth=(("3", "O"),)),)), packs=(p,))
    assert rule_hits(other, "payer.prior-auth-required") == []


def test_requirements_only_for_listed_payers(tmp_path: Path) -> None:
    p = pack(tmp_path, '[pack]\npayers = ["ZZ999"]\n[[non_covered]]\ncodes = ["D9911"]\n')
    result = run(Claim(lines=(Line("D1110"),)), packs=(p,))
    assert rule_hits(result, "payer.non-covered") == []
    p2 = pack(tmp_path, '[pack]\npayers = ["AD101"]\n[[non_covered]]\ncodes = ["D1110"]\n')
    (hit,) = rule_hits(run(Claim(lines=(Line("D1110"),)), packs=(p2,)), "payer.non-covered")
    assert hit.procedure == "D1110"


def test_attachment_required(tmp_path: Path) -> None:
    p = pack(tmp_path, '[[attachment]]\ncodes = ["D4341"]\nreport_types = ["P6"]\n')
    line = Line("D4341", area="10")
    assert rule_hits(run(Claim(lines=(line,)), packs=(p,)), "payer.attachment-required")
    ok = run(Claim(lines=(line,), attachments=(("P6", "EL"),)), packs=(p,))
    assert rule_hits(ok, "payer.attachment-required") == []


def test_frequency_per_tooth_lifetime_across_claims(tmp_path: Path) -> None:
    p = pack(tmp_path, '[[frequency]]\ncodes = ["D9911"]\nper = "tooth"\nmax = 1\n')
    first = Claim(claim_id="A1", date="20260301", lines=(Line("D9911", teeth=(("8", "F"),)),))
    again = Claim(claim_id="A2", date="20260901", lines=(Line("D9911", teeth=(("8", "F"),)),))
    other = Claim(claim_id="A3", date="20260901", lines=(Line("D9911", teeth=(("9", "F"),)),))
    result = run(first, again, other, packs=(p,))
    (hit,) = rule_hits(result, "payer.frequency-limit")
    assert (hit.claim_id, hit.tooth) == ("A2", "8")
    assert "service 2" in hit.message
    assert rule_hits(run(first, other, packs=(p,)), "payer.frequency-limit") == []


def test_frequency_per_patient_benefit_year(tmp_path: Path) -> None:
    p = pack(
        tmp_path,
        '[[frequency]]\ncodes = ["D0120"]\nper = "patient"\nmax = 2\nperiod = "benefit-year"\n',
    )
    claims = [
        Claim(claim_id=f"E{i}", date=day, lines=(Line("D0120"),))
        for i, day in enumerate(("20251201", "20260201", "20260801", "20261001"))
    ]
    hits = rule_hits(run(*claims, packs=(p,)), "payer.frequency-limit")
    assert [h.claim_id for h in hits] == ["E3"]


def test_teeth_per_period(tmp_path: Path) -> None:
    p = pack(tmp_path, '[[teeth_per_period]]\ncodes = ["D9911"]\nmax_teeth = 2\n')
    two = Line("D9911", units="2", teeth=(("8", "F"), ("9", "F")))
    third = Line("D9911", teeth=(("10", "F"),))
    result = run(Claim(lines=(two, third)), packs=(p,))
    (hit,) = rule_hits(result, "payer.teeth-per-period")
    assert hit.line == 2
    assert rule_hits(run(Claim(lines=(two,)), packs=(p,)), "payer.teeth-per-period") == []


def test_max_lines_and_severity_override(tmp_path: Path) -> None:
    p = pack(
        tmp_path,
        '[limits]\nmax_lines_per_claim = 2\n[severity]\n"payer.too-many-lines" = "warning"\n',
    )
    lines = tuple(Line("D0210") for _ in range(3))
    (hit,) = rule_hits(run(Claim(lines=lines), packs=(p,)), "payer.too-many-lines")
    assert hit.severity is Severity.WARNING
    assert rule_hits(run(Claim(lines=lines[:2]), packs=(p,)), "payer.too-many-lines") == []


def test_severity_off_silences_structural_rule(tmp_path: Path) -> None:
    a1 = dict(version="005010X224A1")
    result = run(Claim(lines=(Line("D0120"),)), **a1)
    assert rule_hits(result, "x12.envelope.version-not-preferred")
    p = pack(tmp_path, '[severity]\n"x12.envelope.version-not-preferred" = "off"\n')
    assert run(Claim(lines=(Line("D0120"),)), packs=(p,), **a1).findings == ()
    p2 = pack(tmp_path, '[versions]\naccepted = ["005010X224A2"]\n')
    (hit,) = rule_hits(
        run(Claim(lines=(Line("D0120"),)), packs=(p2,), **a1), "payer.version-not-accepted"
    )
    assert hit.severity is Severity.ERROR and hit.snip == 7


def test_example_strict_pack_loads() -> None:
    settings = settings_from_packs(("example-strict",))
    assert settings.packs == ("example-strict",)
    assert settings.param("max_lines_per_claim") == 15
    assert settings.param("snip_3_7_in_999") is True


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[[frequency]]\ncodes = ['D9911']\n", "frequency[0].max"),
        ("[[frequency]]\ncodes = ['9911']\nmax = 1\n", "frequency[0].codes[0]"),
        ("[severity]\n'x' = 'fatal'\n", "severity.x"),
        ("[bogus]\n", "bogus"),
        (
            "[[attachment]]\ncodes = ['D4341']\nreport_types = ['P6']\ncolour = 'red'\n",
            "attachment[0].colour",
        ),
        ("[[frequency]]\ncodes = ['D1*']\nmax = 1\nperiod = 'fortnight'\n", "frequency[0].period"),
        ("this is = not toml [", ""),
    ],
)
def test_malformed_pack_is_located(tmp_path: Path, text: str, key: str) -> None:
    path = pack(tmp_path, text)
    with pytest.raises(RuleDataError) as info:
        load_pack(path)
    assert info.value.path == path
    assert info.value.key == key


def test_unknown_pack_name_lists_known_ones() -> None:
    with pytest.raises(RuleDataError) as info:
        load_pack("no-such-pack")
    assert "example-strict" in info.value.message


def test_cli_reports_bad_pack_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from x12dental.cli import main

    path = pack(tmp_path, "[severity]\n'x12.segment.missing' = 'loud'\n")
    assert main(["check", "--rules", path, "x.837"]) == 2
    err = capsys.readouterr().err
    assert "severity.x12.segment.missing" in err and "Traceback" not in err
