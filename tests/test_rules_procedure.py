"""Per-code requirements from rules/cdt.toml (procedure.*): data loading and every rule."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from x12dental.checks.procedure import (
    RULE_IDS,
    CodeFacts,
    builtin_table,
    facts_for,
    load_table,
)
from x12dental.engine import default_registry
from x12dental.findings import Finding, Severity
from x12dental.pipeline import FileResult, Options, check_bytes
from x12dental.ruledata import RuleDataError
from x12dental.synthetic import _FEES, GenOptions, generate

from .builders import TODAY, Claim, Line, rule_hits, run, structural
from .conftest import SAMPLES


def one(result: FileResult, rule: str) -> Finding:
    assert structural(result) == []
    hits = rule_hits(result, rule)
    assert len(hits) == 1, [h.message for h in hits]
    return hits[0]


def none_of(result: FileResult, rule: str) -> None:
    assert structural(result) == []
    assert rule_hits(result, rule) == [], [h.message for h in rule_hits(result, rule)]


def procedure_findings(result: FileResult) -> list[Finding]:
    return [f for f in result.findings if f.rule.startswith("procedure.")]


def check_line(hit: Finding, severity: Severity, line: int, code: str, snip: int = 6) -> None:
    assert (hit.severity, hit.snip, hit.claim_id, hit.line, hit.procedure) == (
        severity,
        snip,
        "CLM001",
        line,
        code,
    )


# -- procedure.tooth-required -------------------------------------------------------------


def test_tooth_required() -> None:
    bad = run(Claim(lines=(Line("D0120"), Line("D3330"))))
    hit = one(bad, "procedure.tooth-required")
    check_line(hit, Severity.ERROR, 2, "D3330")
    assert hit.location.segment_id == "SV3"
    assert "D3330 on line 2 has no tooth number" in hit.message
    good = run(Claim(lines=(Line("D3330", teeth=(("30", ""),)),)))
    none_of(good, "procedure.tooth-required")


def test_tooth_required_not_for_by_report_code() -> None:
    result = run(Claim(lines=(Line("D2999"),), notes=("Repair of fractured cusp, see report",)))
    none_of(result, "procedure.tooth-required")


# -- procedure.tooth-not-expected ---------------------------------------------------------


def test_tooth_not_expected() -> None:
    bad = run(Claim(lines=(Line("D0120", teeth=(("8", ""),)),)))
    hit = one(bad, "procedure.tooth-not-expected")
    check_line(hit, Severity.WARNING, 1, "D0120")
    assert hit.tooth == "8"
    assert hit.location.segment_id == "TOO"
    assert "#8" in hit.message
    none_of(run(Claim(lines=(Line("D0120"),))), "procedure.tooth-not-expected")


def test_tooth_allowed_where_optional() -> None:
    # A periapical image may name the tooth it was taken for.
    none_of(run(Claim(lines=(Line("D0220", teeth=(("19", ""),)),))), "procedure.tooth-not-expected")


# -- procedure.surface-required -----------------------------------------------------------


def test_surface_required() -> None:
    bad = run(Claim(lines=(Line("D2150", teeth=(("30", ""),)),)))
    hit = one(bad, "procedure.surface-required")
    check_line(hit, Severity.ERROR, 1, "D2150")
    assert hit.tooth == "30"
    assert hit.location.segment_id == "TOO"
    good = run(Claim(lines=(Line("D2150", teeth=(("30", "MO"),)),)))
    none_of(good, "procedure.surface-required")


def test_surface_required_leaves_missing_tooth_to_tooth_rule() -> None:
    result = run(Claim(lines=(Line("D2150"),)))
    none_of(result, "procedure.surface-required")
    assert rule_hits(result, "procedure.tooth-required")


# -- procedure.surface-count --------------------------------------------------------------


def test_surface_count_mismatch() -> None:
    bad = run(
        Claim(lines=(Line("D2140", teeth=(("3", "O"),)), Line("D2150", teeth=(("30", "MOD"),))))
    )
    hit = one(bad, "procedure.surface-count")
    check_line(hit, Severity.ERROR, 2, "D2150")
    assert hit.tooth == "30"
    assert hit.location.segment_id == "TOO"
    assert "two-surface code" in hit.message and "3 surfaces (M, O, D)" in hit.message


def test_surface_count_matches() -> None:
    lines = (
        Line("D2150", teeth=(("30", "MO"),)),
        Line("D2332", teeth=(("8", "MIF"),)),
        Line("D2394", teeth=(("19", "MODBL"),)),  # four or more: five is fine
        Line("D2530", teeth=(("14", "MODB"),), prosthesis="I"),  # three or more
    )
    none_of(run(Claim(lines=lines)), "procedure.surface-count")


def test_surface_count_counts_distinct_surfaces() -> None:
    none_of(run(Claim(lines=(Line("D2150", teeth=(("30", "MOM"),)),))), "procedure.surface-count")


def test_surface_count_open_ended_minimum() -> None:
    low = run(Claim(lines=(Line("D2161", teeth=(("30", "MOD"),)),)))
    assert "four-or-more-surface" in one(low, "procedure.surface-count").message
    inlay = run(Claim(lines=(Line("D2530", teeth=(("14", "MO"),), prosthesis="I"),)))
    assert "three-or-more-surface" in one(inlay, "procedure.surface-count").message


# -- procedure.area-required --------------------------------------------------------------


def test_area_missing_on_quadrant_code() -> None:
    hit = one(run(Claim(lines=(Line("D4341"),))), "procedure.area-required")
    check_line(hit, Severity.ERROR, 1, "D4341")
    assert hit.element == "SV304"
    assert "per quadrant" in hit.message
    none_of(run(Claim(lines=(Line("D4341", area="10"),))), "procedure.area-required")


def test_area_of_wrong_kind() -> None:
    arch_for_quadrant = run(Claim(lines=(Line("D4342", area="01"),)))
    assert "01 (maxillary arch)" in one(arch_for_quadrant, "procedure.area-required").message
    quadrant_for_arch = run(Claim(lines=(Line("D9972", area="20"),)))
    assert "per arch" in one(quadrant_for_arch, "procedure.area-required").message
    none_of(run(Claim(lines=(Line("D9972", area="02"),))), "procedure.area-required")


def test_area_against_arch_named_by_code() -> None:
    # A maxillary denture needs no SV304, but must not be sent for the other arch.
    none_of(run(Claim(lines=(Line("D5110", prosthesis="I"),))), "procedure.area-required")
    none_of(
        run(Claim(lines=(Line("D5110", area="01", prosthesis="I"),))), "procedure.area-required"
    )
    wrong = run(Claim(lines=(Line("D5110", area="02", prosthesis="I"),)))
    hit = one(wrong, "procedure.area-required")
    check_line(hit, Severity.ERROR, 1, "D5110")
    assert "maxillary arch (01)" in hit.message


# -- procedure.tooth-kind -----------------------------------------------------------------


def test_tooth_kind() -> None:
    bad = run(Claim(lines=(Line("D3330", teeth=(("8", ""),)),)))
    hit = one(bad, "procedure.tooth-kind")
    check_line(hit, Severity.ERROR, 1, "D3330", snip=5)
    assert hit.tooth == "8"
    assert "molars" in hit.message and "an anterior tooth" in hit.message
    none_of(run(Claim(lines=(Line("D3330", teeth=(("30", ""),)),))), "procedure.tooth-kind")


def test_tooth_kind_posterior_and_anterior_resins() -> None:
    bad = run(Claim(lines=(Line("D2391", teeth=(("8", "F"),)), Line("D2330", teeth=(("4", "B"),)))))
    assert [h.line for h in rule_hits(bad, "procedure.tooth-kind")] == [1, 2]
    good = run(
        Claim(lines=(Line("D2391", teeth=(("4", "O"),)), Line("D2330", teeth=(("8", "F"),))))
    )
    none_of(good, "procedure.tooth-kind")


# -- procedure.dentition ------------------------------------------------------------------


def test_dentition_primary_code_on_permanent_tooth() -> None:
    hit = one(run(Claim(lines=(Line("D2930", teeth=(("30", ""),)),))), "procedure.dentition")
    check_line(hit, Severity.ERROR, 1, "D2930", snip=5)
    assert hit.tooth == "30"
    assert "permanent tooth" in hit.message
    none_of(run(Claim(lines=(Line("D2930", teeth=(("K", ""),)),))), "procedure.dentition")


def test_dentition_permanent_code_on_primary_tooth() -> None:
    hit = one(run(Claim(lines=(Line("D3310", teeth=(("E", ""),)),))), "procedure.dentition")
    check_line(hit, Severity.ERROR, 1, "D3310", snip=5)
    assert hit.tooth == "E"
    none_of(run(Claim(lines=(Line("D3310", teeth=(("8", ""),)),))), "procedure.dentition")


# -- procedure.age ------------------------------------------------------------------------


def test_age_adult_code_for_child() -> None:
    child = Claim(lines=(Line("D0120"), Line("D1110")), dependent=True, birth_date="20170301")
    hit = one(run(child), "procedure.age")
    check_line(hit, Severity.WARNING, 2, "D1110")
    assert "14 and older" in hit.message and "patient is 9 on 2026-09-10" in hit.message
    adult = Claim(lines=(Line("D1110"),))
    none_of(run(adult), "procedure.age")


def test_age_child_code_for_adult() -> None:
    hit = one(run(Claim(lines=(Line("D1120"),))), "procedure.age")
    check_line(hit, Severity.WARNING, 1, "D1120")
    assert "13 and younger" in hit.message
    child = Claim(lines=(Line("D1120"),), dependent=True, birth_date="20170301")
    none_of(run(child), "procedure.age")


def test_age_counted_on_the_date_of_service() -> None:
    # 14th birthday on the date of service: an adult for D1110; one day short: not yet.
    on_birthday = Claim(lines=(Line("D1110"),), dependent=True, birth_date="20120910")
    none_of(run(on_birthday), "procedure.age")
    day_before = Claim(lines=(Line("D1110"),), dependent=True, birth_date="20120911")
    assert "patient is 13" in one(run(day_before), "procedure.age").message
    # A line date overrides the claim date.
    later = Claim(lines=(Line("D1110", date="20261001"),), dependent=True, birth_date="20120911")
    none_of(run(later), "procedure.age")


def test_age_uses_the_patient_not_the_subscriber() -> None:
    # Subscriber (2010BA) is born 1975 in the builder; the dependent patient is 7.
    result = run(Claim(lines=(Line("D1120"),), dependent=True, birth_date="20190505"))
    none_of(result, "procedure.age")


# -- procedure.prosthesis-missing ---------------------------------------------------------


def test_prosthesis_missing() -> None:
    hit = one(
        run(Claim(lines=(Line("D2740", teeth=(("8", ""),)),))), "procedure.prosthesis-missing"
    )
    check_line(hit, Severity.WARNING, 1, "D2740")
    assert hit.element == "SV305"
    good = run(Claim(lines=(Line("D2740", teeth=(("8", ""),), prosthesis="I"),)))
    none_of(good, "procedure.prosthesis-missing")


def test_prosthesis_not_expected_on_interim_crown() -> None:
    none_of(run(Claim(lines=(Line("D2799", teeth=(("8", ""),)),))), "procedure.prosthesis-missing")


# -- procedure.by-report-narrative --------------------------------------------------------


def test_by_report_without_narrative() -> None:
    hit = one(run(Claim(lines=(Line("D9999"),))), "procedure.by-report-narrative")
    check_line(hit, Severity.WARNING, 1, "D9999")
    with_note = Claim(lines=(Line("D9999"),), notes=("Removal of orthodontic wire fragment",))
    none_of(run(with_note), "procedure.by-report-narrative")
    with_pwk = Claim(lines=(Line("D9999"),), attachments=(("OZ", "EL"),))
    none_of(run(with_pwk), "procedure.by-report-narrative")


def test_by_report_codes_where_category_ends_early() -> None:
    assert rule_hits(run(Claim(lines=(Line("D5899"),))), "procedure.by-report-narrative")
    assert rule_hits(run(Claim(lines=(Line("D6199"),))), "procedure.by-report-narrative")


# -- procedure.per-visit-units ------------------------------------------------------------


def test_per_visit_units() -> None:
    hit = one(run(Claim(lines=(Line("D0120", units="2"),))), "procedure.per-visit-units")
    check_line(hit, Severity.ERROR, 1, "D0120")
    assert hit.element == "SV306"
    assert "2 units" in hit.message
    none_of(run(Claim(lines=(Line("D0120", units="1"),))), "procedure.per-visit-units")
    none_of(run(Claim(lines=(Line("D0120"),))), "procedure.per-visit-units")


def test_every_rule_id_is_registered() -> None:
    registered = {r.id for r in default_registry() if r.id.startswith("procedure.")}
    assert registered == RULE_IDS


def test_per_tooth_code_may_have_units() -> None:
    line = Line("D9911", units="2", teeth=(("8", "F"), ("9", "F")))
    none_of(
        run(Claim(lines=(line,), notes=("Gluma resin on #8 #9; recession",))),
        "procedure.per-visit-units",
    )


# -- requirements another family reports ------------------------------------------------


def test_reported_elsewhere_gives_one_finding() -> None:
    result = run(Claim(lines=(Line("D9910", units="2", teeth=(("8", ""),)), Line("D9911"))))
    assert structural(result) == []
    for rule in (
        "procedure.tooth-not-expected",
        "procedure.per-visit-units",
        "procedure.tooth-required",
    ):
        assert rule_hits(result, rule) == [], rule
    facts = facts_for("D9911")
    assert facts is not None and facts.tooth == "required"
    assert "procedure.tooth-required" in facts.silent


def test_reported_elsewhere_names_registered_rules() -> None:
    registry = default_registry()
    deferrals = builtin_table().deferrals
    assert deferrals
    for deferral in deferrals:
        assert registry.get(deferral.rule) is not None, deferral.rule
        assert registry.get(deferral.by) is not None, deferral.by


# -- the data -----------------------------------------------------------------------------


def test_every_category_is_covered() -> None:
    table = builtin_table()
    missing = [f"D{n:04d}" for n in range(100, 10000) if table.get(f"D{n:04d}") is None]
    assert missing == []


def test_every_generator_code_has_an_entry() -> None:
    for code in _FEES:
        assert facts_for(code) is not None, code
        assert facts_for(code) != CodeFacts(), f"{code} has only defaults"


def test_data_is_coherent() -> None:
    for code, facts in builtin_table().by_code.items():
        if facts.surface_count is not None:
            assert facts.surfaces == "required" and facts.tooth == "required", code
        if facts.tooth_kinds or facts.dentition:
            assert facts.tooth == "required", code
        if code.endswith("999"):
            assert facts.narrative == "required", code


def test_precedence_narrowest_wins_key_by_key() -> None:
    d2999 = facts_for("D2999")
    assert d2999 is not None and d2999.tooth == "optional"
    d2140 = facts_for("D2140")
    assert d2140 is not None
    assert (d2140.tooth, d2140.surfaces, d2140.surface_count) == ("required", "required", 1)


def test_generated_file_is_clean_for_these_rules() -> None:
    text = generate(20261102, GenOptions(claims=300)).text
    result = check_bytes(text.encode(), "gen.837", Options(today=TODAY))
    assert structural(result) == []
    assert [(f.claim_id, f.rule, f.message) for f in procedure_findings(result)] == []


def test_clean_batch_sample_is_clean_for_these_rules() -> None:
    data = (SAMPLES / "clean-batch.837").read_bytes()
    result = check_bytes(data, "clean-batch.837", Options(today=dt.date(2026, 11, 20)))
    assert procedure_findings(result) == []


# -- loading: a malformed file names the file and the key --------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cdt.toml"
    path.write_text(text)
    return path


def load_error(tmp_path: Path, text: str) -> RuleDataError:
    path = write(tmp_path, text)
    with pytest.raises(RuleDataError) as info:
        load_table(path)
    assert info.value.path == str(path)
    assert str(path) in str(info.value)
    return info.value


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[[entry]]\ncodes = ["D2140"]\ncolour = "blue"\n', "entry[0].colour"),
        ('[[entry]]\ncodes = ["2140"]\ntooth = "required"\n', "entry[0].codes[0]"),
        ('[[entry]]\ncodes = ["D2999-D2000"]\ntooth = "required"\n', "entry[0].codes[0]"),
        ('[[entry]]\ntooth = "required"\n', "entry[0].codes"),
        ('[[entry]]\ncodes = ["D2140"]\ntooth = "maybe"\n', "entry[0].tooth"),
        ('[[entry]]\ncodes = ["D2140"]\nsurface_count = 5\n', "entry[0].surface_count"),
        ('[[entry]]\ncodes = ["D2140"]\nsurface_count = "many"\n', "entry[0].surface_count"),
        ('[[entry]]\ncodes = ["D3330"]\ntooth_kind = "canine"\n', "entry[0].tooth_kind"),
        ('[[entry]]\ncodes = ["D1110"]\nage = { min = "14" }\n', "entry[0].age.min"),
        ('[[entry]]\ncodes = ["D1110"]\nage = { above = 14 }\n', "entry[0].age.above"),
        ('[[entry]]\ncodes = ["D1110"]\nage = { min = 14, max = 13 }\n', "entry[0].age"),
        ('[[entry]]\ncodes = ["D1110"]\n', "entry[0]"),
        (
            '[[entry]]\ncodes = ["D0120"]\ntooth = "none"\ndentition = "primary"\n',
            "entry[0].dentition",
        ),
        (
            '[[entry]]\ncodes = ["D2140"]\ntooth = "required"\n[[entry]]\ncodes = ["D2140"]\ntooth = "none"\n',
            "entry[1].tooth",
        ),
        (
            '[[entry]]\ncodes = ["D2*"]\ntooth = "none"\n'
            '[[entry]]\ncodes = ["D2000-D2999"]\ntooth = "required"\n',
            "entry[1].tooth",
        ),
        ('[codes]\nD2140 = "tooth"\n', "codes"),
        (
            '[[entry]]\ncodes = ["D2140"]\ntooth = "required"\n[[reported_elsewhere]]\n'
            'rule = "procedure.teeth"\ncodes = ["D2140"]\nby = "x.y"\n',
            "reported_elsewhere[0].rule",
        ),
        (
            '[[entry]]\ncodes = ["D2140"]\ntooth = "required"\n[[reported_elsewhere]]\n'
            'rule = "procedure.tooth-required"\ncodes = ["D2140"]\nby = "procedure.age"\n',
            "reported_elsewhere[0].by",
        ),
        (
            '[[entry]]\ncodes = ["D2140"]\ntooth = "required"\n[[reported_elsewhere]]\n'
            'rule = "procedure.tooth-required"\nby = "x.y"\n',
            "reported_elsewhere[0].codes",
        ),
        (
            '[[entry]]\ncodes = ["D2140"]\ntooth = "required"\n[[reported_elsewhere]]\n'
            'rule = "procedure.tooth-required"\ncodes = ["D2140"]\nby = "x.y"\nwhy = 1\n',
            "reported_elsewhere[0].why",
        ),
        ("entry = 3\n", "entry"),
    ],
)
def test_malformed_data_names_file_and_key(tmp_path: Path, text: str, key: str) -> None:
    assert load_error(tmp_path, text).key == key


def test_not_toml(tmp_path: Path) -> None:
    assert "not valid TOML" in str(load_error(tmp_path, "[[entry]\ncodes = \n"))


def test_loader_precedence_and_open_counts(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[[entry]]
codes = ["D*"]
tooth = "optional"
[[entry]]
codes = ["D2000-D2999"]
tooth = "required"
surfaces = "optional"
[[entry]]
codes = ["D2530"]
surfaces = "required"
surface_count = "3+"
[[entry]]
codes = ["D2530", "D2999"]
prosthesis = "required"
tooth_kind = ["premolar", "molar"]
[[entry]]
codes = ["D2999"]
tooth = "optional"
""",
    )
    table = load_table(path)
    d2530 = table.get("D2530")
    assert d2530 is not None
    assert (d2530.tooth, d2530.surfaces, d2530.surface_count, d2530.surfaces_or_more) == (
        "required",
        "required",
        3,
        True,
    )
    assert d2530.tooth_kinds == frozenset({"premolar", "molar"})
    d2999 = table.get("D2999")
    assert d2999 is not None and d2999.tooth == "optional" and d2999.prosthesis == "required"
    d2100 = table.get("D2100")
    assert d2100 is not None and d2100.tooth == "required"
    d3310 = table.get("D3310")
    assert d3310 is not None and d3310.tooth == "optional"
