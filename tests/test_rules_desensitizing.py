"""Desensitizing rules (D9910 per visit, D9911 per tooth): each rule fails and passes end to end."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from x12dental.checks import desensitizing
from x12dental.engine import default_registry
from x12dental.findings import Finding, Severity
from x12dental.pipeline import FileResult, check_bytes
from x12dental.ruledata import RuleDataError, builtin
from x12dental.synthetic import GenOptions, generate

from .builders import Claim, Line, rule_hits, run, structural
from .conftest import SAMPLES

GOOD_NOTE = "SEAL & PROTECT HEMA/UDMA RESIN, LIGHT CURED; RECESSION 2MM, EXPOSED ROOT"
SRP = Line("D4342", area="20")


def d9911(*teeth: tuple[str, str], units: str | None = None, date: str | None = None) -> Line:
    return Line("D9911", teeth=teeth, units=str(len(teeth)) if units is None else units, date=date)


def checked(*claims: Claim) -> FileResult:
    result = run(*claims)
    assert structural(result) == []
    return result


def one(result: FileResult, rule: str) -> Finding:
    hits = rule_hits(result, rule)
    assert len(hits) == 1, [h.message for h in hits]
    return hits[0]


def summary(f: Finding) -> tuple[Severity, int, str | None, int | None, str | None]:
    return (f.severity, f.snip, f.claim_id, f.line, f.procedure)


def desens(result: FileResult) -> list[Finding]:
    return [f for f in result.findings if f.rule.startswith("desensitizing.")]


# -- desensitizing.d9911-no-tooth ------------------------------------------------------------


def test_d9911_without_tooth_numbers() -> None:
    result = checked(Claim(lines=(Line("D9911", units="6"),), notes=(GOOD_NOTE,)))
    hit = one(result, "desensitizing.d9911-no-tooth")
    assert summary(hit) == (Severity.ERROR, 6, "CLM001", 1, "D9911")
    assert hit.location.segment_id == "SV3"


def test_d9911_with_an_area_instead_of_teeth_says_so() -> None:
    result = checked(Claim(lines=(Line("D9911", area="02"),), notes=(GOOD_NOTE,)))
    hit = one(result, "desensitizing.d9911-no-tooth")
    assert "area 02" in hit.message


def test_d9911_with_teeth_passes() -> None:
    result = checked(Claim(lines=(d9911(("8", "F")),), notes=(GOOD_NOTE,)))
    assert rule_hits(result, "desensitizing.d9911-no-tooth") == []


# -- desensitizing.d9911-units-teeth-mismatch ------------------------------------------------

SIX = tuple((t, "F") for t in ("22", "23", "24", "25", "26", "27"))


def test_one_unit_with_six_teeth() -> None:
    result = checked(Claim(lines=(d9911(*SIX, units="1"),), notes=(GOOD_NOTE,)))
    hit = one(result, "desensitizing.d9911-units-teeth-mismatch")
    assert summary(hit) == (Severity.ERROR, 6, "CLM001", 1, "D9911")
    assert "6 teeth (#22, #23, #24, #25, #26, #27)" in hit.message
    assert "SV306 says 1 unit" in hit.message
    assert hit.element == "SV306"


def test_six_units_with_one_tooth() -> None:
    result = checked(Claim(lines=(d9911(("22", "F"), units="6"),), notes=(GOOD_NOTE,)))
    hit = one(result, "desensitizing.d9911-units-teeth-mismatch")
    assert "1 tooth (#22)" in hit.message and "6 units" in hit.message
    assert hit.tooth == "22"


def test_absent_units_mean_one() -> None:
    teeth = (("10", "F"), ("11", "F"), ("12", "B"))
    result = checked(Claim(lines=(d9911(*teeth, units=""),), notes=(GOOD_NOTE,)))
    hit = one(result, "desensitizing.d9911-units-teeth-mismatch")
    assert "SV306 is absent" in hit.message
    single = checked(Claim(lines=(d9911(("10", "F"), units=""),), notes=(GOOD_NOTE,)))
    assert rule_hits(single, "desensitizing.d9911-units-teeth-mismatch") == []


def test_units_matching_teeth_pass() -> None:
    result = checked(Claim(lines=(d9911(*SIX),), notes=(GOOD_NOTE,)))
    assert rule_hits(result, "desensitizing.d9911-units-teeth-mismatch") == []


# -- desensitizing.d9911-no-surface ----------------------------------------------------------


def test_tooth_without_surface_is_reported_per_tooth() -> None:
    result = checked(Claim(lines=(d9911(("8", "F"), ("9", ""), ("10", "")),), notes=(GOOD_NOTE,)))
    hits = rule_hits(result, "desensitizing.d9911-no-surface")
    assert [h.tooth for h in hits] == ["9", "10"]
    for hit in hits:
        assert summary(hit) == (Severity.WARNING, 6, "CLM001", 1, "D9911")
        assert hit.location.segment_id == "TOO"
        assert hit.element == "TOO03"
    first, second = (h.location.segment_position or 0 for h in hits)
    assert second == first + 1  # the TOO segments of #9 and #10


def test_teeth_with_surfaces_pass() -> None:
    result = checked(Claim(lines=(d9911(("8", "F"), ("9", "FL")),), notes=(GOOD_NOTE,)))
    assert rule_hits(result, "desensitizing.d9911-no-surface") == []


# -- desensitizing.d9911-bundled-same-day ----------------------------------------------------

BUNDLED = "desensitizing.d9911-bundled-same-day"
D9911_LINE = d9911(("10", "F"), ("11", "F"), ("12", "B"))


def test_same_claim_srp_and_d9911() -> None:
    result = checked(Claim(lines=(SRP, D9911_LINE), notes=(GOOD_NOTE,)))
    hit = one(result, BUNDLED)
    assert summary(hit) == (Severity.WARNING, 6, "CLM001", 2, "D9911")
    assert "scaling and root planing" in hit.message
    assert "D4342 on line 1 of this claim" in hit.message
    assert "zero" in hit.message and "next visit" in hit.message


def test_srp_on_an_earlier_claim_of_the_batch() -> None:
    srp = Claim(claim_id="SRP1", lines=(SRP,))
    des = Claim(claim_id="DES1", lines=(D9911_LINE,), notes=(GOOD_NOTE,))
    hit = one(checked(srp, des), BUNDLED)
    assert summary(hit) == (Severity.WARNING, 6, "DES1", 1, "D9911")
    assert "D4342 on claim SRP1 line 1" in hit.message


def test_originating_procedure_later_in_the_file_is_reported_once_on_the_d9911() -> None:
    des = Claim(claim_id="DES1", lines=(D9911_LINE,), notes=(GOOD_NOTE,))
    srp = Claim(claim_id="SRP1", lines=(SRP,))
    maint = Claim(claim_id="MNT1", lines=(Line("D4910"),))
    result = checked(des, srp, maint)
    hit = one(result, BUNDLED)
    assert summary(hit) == (Severity.WARNING, 6, "DES1", 1, "D9911")
    assert hit.location.segment_id == "SV3"


@pytest.mark.parametrize(
    ("line", "label"),
    [
        (Line("D4910"), "periodontal maintenance"),
        (Line("D9972", area="01"), "bleaching"),
        (Line("D9974", teeth=(("9", ""),)), "bleaching"),
        (Line("D2740", teeth=(("9", ""),), prosthesis="I"), "crown preparation"),
        (Line("D6750", teeth=(("13", ""),), prosthesis="I"), "crown preparation"),
    ],
)
def test_other_originating_procedures(line: Line, label: str) -> None:
    result = checked(Claim(lines=(line, D9911_LINE), notes=(GOOD_NOTE,)))
    assert label in one(result, BUNDLED).message


def test_d9911_at_a_later_visit_or_for_another_patient_passes() -> None:
    srp = Claim(claim_id="SRP1", date="20260909", lines=(SRP,))
    later = Claim(claim_id="DES1", date="20260928", lines=(D9911_LINE,), notes=(GOOD_NOTE,))
    other = Claim(
        claim_id="DES2",
        date="20260909",
        lines=(D9911_LINE,),
        notes=(GOOD_NOTE,),
        member_id="M999999999",
        patient=("ROE", "RICHARD"),
    )
    assert rule_hits(checked(srp, later, other), BUNDLED) == []
    implant_crown = Line("D6065", teeth=(("9", ""),), prosthesis="I")
    result = checked(Claim(lines=(implant_crown, D9911_LINE), notes=(GOOD_NOTE,)))
    assert rule_hits(result, BUNDLED) == []


def test_line_dates_decide_the_day() -> None:
    srp = Line("D4342", area="20", date="20260901")
    des = d9911(("10", "F"), date="20260920")
    result = checked(Claim(lines=(srp, des), date=None, notes=(GOOD_NOTE,)))
    assert rule_hits(result, BUNDLED) == []


# -- same tooth / same surface as a restoration ----------------------------------------------

SURFACE = "desensitizing.d9911-same-surface-as-restoration"
TOOTH = "desensitizing.d9911-same-tooth-as-restoration"


def test_same_surface_as_a_composite_on_the_same_claim() -> None:
    lines = (Line("D2330", teeth=(("8", "F"),)), d9911(("8", "F"), ("9", "F")))
    result = checked(Claim(lines=lines, notes=(GOOD_NOTE,)))
    hit = one(result, SURFACE)
    assert summary(hit) == (Severity.ERROR, 6, "CLM001", 2, "D9911")
    assert hit.tooth == "8"
    assert hit.location.segment_id == "TOO"
    assert "D2330 on line 1 of this claim" in hit.message
    assert rule_hits(result, TOOTH) == []


def test_buccal_and_facial_are_one_surface() -> None:
    lines = (Line("D2391", teeth=(("12", "B"),)), d9911(("12", "F")))
    hit = one(checked(Claim(lines=lines, notes=(GOOD_NOTE,))), SURFACE)
    assert hit.tooth == "12"


def test_restoration_later_in_the_batch() -> None:
    des = Claim(claim_id="DES1", lines=(d9911(("8", "F")),), notes=(GOOD_NOTE,))
    rest = Claim(claim_id="RST1", lines=(Line("D2330", teeth=(("8", "F"),)),))
    hit = one(checked(des, rest), SURFACE)
    assert summary(hit) == (Severity.ERROR, 6, "DES1", 1, "D9911")
    assert "D2330 on claim RST1 line 1" in hit.message


def test_same_tooth_other_surface_is_a_warning() -> None:
    lines = (Line("D2391", teeth=(("12", "O"),)), d9911(("12", "F"), ("13", "F")))
    result = checked(Claim(lines=lines, notes=(GOOD_NOTE,)))
    hit = one(result, TOOTH)
    assert summary(hit) == (Severity.WARNING, 6, "CLM001", 2, "D9911")
    assert hit.tooth == "12"
    assert rule_hits(result, SURFACE) == []


def test_same_tooth_warning_yields_to_a_later_same_surface_error() -> None:
    des = Claim(claim_id="DES1", lines=(d9911(("8", "F")),), notes=(GOOD_NOTE,))
    other_surface = Claim(claim_id="RST1", lines=(Line("D2330", teeth=(("8", "M"),)),))
    same_surface = Claim(claim_id="RST2", lines=(Line("D2331", teeth=(("8", "DF"),)),))
    result = checked(des, other_surface, same_surface)
    assert one(result, SURFACE).tooth == "8"
    assert rule_hits(result, TOOTH) == []


def test_restoration_on_another_tooth_or_day_passes() -> None:
    lines = (Line("D2330", teeth=(("7", "F"),)), d9911(("8", "F")))
    result = checked(Claim(lines=lines, notes=(GOOD_NOTE,)))
    assert rule_hits(result, SURFACE) == rule_hits(result, TOOTH) == []
    rest = Claim(claim_id="RST1", date="20260901", lines=(Line("D2330", teeth=(("8", "F"),)),))
    des = Claim(claim_id="DES1", lines=(d9911(("8", "F")),), notes=(GOOD_NOTE,))
    result = checked(rest, des)
    assert rule_hits(result, SURFACE) == rule_hits(result, TOOTH) == []


# -- narrative rules -------------------------------------------------------------------------

NON_RESIN = "desensitizing.d9911-non-resin-material"
NO_MATERIAL = "desensitizing.d9911-no-material"
NO_ETIOLOGY = "desensitizing.d9911-no-etiology"


def narrative_run(*notes: str, attachments: tuple[tuple[str, str], ...] = ()) -> FileResult:
    lines = (d9911(("22", "F"), ("23", "F")), d9911(("24", "F")))
    return checked(Claim(lines=lines, notes=notes, attachments=attachments))


def test_fluoride_varnish_on_d9911() -> None:
    result = narrative_run("FLUORIDE VARNISH APPLIED #22-24; RECESSION")
    hit = one(result, NON_RESIN)
    assert summary(hit) == (Severity.WARNING, 6, "CLM001", 1, "D9911")
    assert "fluoride varnish" in hit.message and "D1206" in hit.message
    assert "D9910" not in hit.message.split(";", 1)[1]
    assert hit.location.segment_id == "NTE"
    assert rule_hits(result, NO_MATERIAL) == []  # one finding for one problem


def test_sodium_fluoride_varnish_is_reported_as_a_varnish_only() -> None:
    hit = one(narrative_run("5% SODIUM FLUORIDE VARNISH; ABRASION"), NON_RESIN)
    assert "sodium fluoride" not in hit.message.replace("fluoride varnish", "")


@pytest.mark.parametrize(
    "note",
    [
        "GLUTARALDEHYDE RINSE APPLIED, NO RESIN; RECESSION",
        "POTASSIUM NITRATE PASTE; ROOT EXPOSURE",
        "CPP-ACP (MI PASTE) ON EXPOSED DENTIN",
        "SILVER DIAMINE FLUORIDE #22 #23 #24; ABFRACTION",
        "NON-RESIN OXALATE DESENSITIZER; EROSION",
    ],
)
def test_medicaments_point_to_d9910(note: str) -> None:
    hit = one(narrative_run(note), NON_RESIN)
    assert "D9910" in hit.message


@pytest.mark.parametrize(
    "note",
    [
        "GLUMA (GLUTARALDEHYDE/HEMA) #22-24; RECESSION 2MM",
        "GLUMA DESENSITIZER; GLUTARALDEHYDE 5%; EXPOSED ROOT",
        "VIVASENS RESIN; POTASSIUM NITRATE TOOTHPASTE FOR HOME CARE; ABRASION",
        GOOD_NOTE,
    ],
)
def test_resin_named_passes_the_material_rules(note: str) -> None:
    result = narrative_run(note)
    assert rule_hits(result, NON_RESIN) == rule_hits(result, NO_MATERIAL) == []


def test_generic_desensitizer_has_no_material() -> None:
    result = narrative_run("DESENSITIZER APPLIED #22 #23 #24; RECESSION")
    hit = one(result, NO_MATERIAL)
    assert summary(hit) == (Severity.WARNING, 6, "CLM001", 1, "D9911")
    assert hit.location.segment_id == "NTE"
    assert rule_hits(result, NO_ETIOLOGY) == []


def test_negated_resin_is_not_a_material() -> None:
    assert rule_hits(narrative_run("NO RESIN USED; RECESSION"), NO_MATERIAL)


def test_no_narrative_at_all() -> None:
    result = narrative_run()
    assert "no narrative" in one(result, NO_MATERIAL).message
    assert "no narrative" in one(result, NO_ETIOLOGY).message
    assert rule_hits(result, NON_RESIN) == []
    assert one(result, NO_ETIOLOGY).location.segment_id == "SV3"


def test_chart_note_sent_as_support_attachment() -> None:
    result = narrative_run(attachments=(("OZ", "EL"),))
    assert rule_hits(result, NO_MATERIAL) == rule_hits(result, NO_ETIOLOGY) == []
    on_request = narrative_run(attachments=(("OZ", "AA"),))
    assert rule_hits(on_request, NO_MATERIAL) and rule_hits(on_request, NO_ETIOLOGY)
    varnish = narrative_run("FLUORIDE VARNISH", attachments=(("OZ", "EL"),))
    assert rule_hits(varnish, NON_RESIN)


def test_no_etiology() -> None:
    result = narrative_run("GLUMA APPLIED #22-24, PT SENSITIVE TO COLD")
    hit = one(result, NO_ETIOLOGY)
    assert summary(hit) == (Severity.WARNING, 6, "CLM001", 1, "D9911")
    assert rule_hits(narrative_run("GLUMA #22-24; NO RECESSION"), NO_ETIOLOGY)


@pytest.mark.parametrize(
    "note",
    [
        "GLUMA; RECESSION 2MM #22-24",
        "HURRISEAL ON CERVICAL DENTIN",
        "SEAL&PROTECT; ROOT EXPOSURE AFTER SRP",
        "VIVASENS; POST-SRP SENSITIVITY",
        "GLUMA SELF-ETCH; ABFRACTION LESIONS, NON-CARIOUS CERVICAL LESIONS",
    ],
)
def test_etiology_named_passes(note: str) -> None:
    assert rule_hits(narrative_run(note), NO_ETIOLOGY) == []


# -- desensitizing.d9910-per-tooth -----------------------------------------------------------

D9910_RULE = "desensitizing.d9910-per-tooth"


def test_d9910_with_units_or_teeth() -> None:
    units = checked(Claim(lines=(Line("D0120"), Line("D9910", units="3"))))
    hit = one(units, D9910_RULE)
    assert summary(hit) == (Severity.ERROR, 6, "CLM001", 2, "D9910")
    assert "3 units" in hit.message
    teeth = checked(Claim(lines=(Line("D9910", teeth=(("8", ""), ("9", ""))),)))
    hit = one(teeth, D9910_RULE)
    assert summary(hit) == (Severity.ERROR, 6, "CLM001", 1, "D9910")
    assert "2 teeth (#8, #9)" in hit.message


def test_two_d9910_lines_on_one_claim() -> None:
    result = checked(Claim(lines=(Line("D9910"), Line("D0120"), Line("D9910"))))
    hit = one(result, D9910_RULE)
    assert summary(hit) == (Severity.ERROR, 6, "CLM001", 3, "D9910")
    assert "line 1 of this claim" in hit.message


def test_second_d9910_in_the_batch() -> None:
    first = Claim(claim_id="A1", lines=(Line("D9910"),))
    second = Claim(claim_id="A2", lines=(Line("D9910"),))
    hit = one(checked(first, second), D9910_RULE)
    assert summary(hit) == (Severity.ERROR, 6, "A2", 1, "D9910")
    assert "claim A1 line 1" in hit.message


def test_d9910_once_per_visit_passes() -> None:
    first = Claim(claim_id="A1", lines=(Line("D0120"), Line("D9910", units="1")))
    next_visit = Claim(claim_id="A2", date="20260920", lines=(Line("D9910"),))
    other = Claim(claim_id="B1", lines=(Line("D9910"),), member_id="M2", patient=("ROE", "ANN"))
    assert rule_hits(checked(first, next_visit, other), D9910_RULE) == []


# -- desensitizing.d9911-recall-pattern ------------------------------------------------------

RECALL = "desensitizing.d9911-recall-pattern"


def recall_batch(visits: int, with_d9911: int, *, separate_claim: bool = False) -> FileResult:
    claims = []
    for i in range(visits):
        who: dict[str, Any] = {"member_id": f"M{i:08d}", "patient": ("PATIENT", f"P{i}")}
        lines = [Line("D0120"), Line("D1110")]
        if i >= visits - with_d9911:
            if separate_claim:
                claims.append(
                    Claim(claim_id=f"D{i}", lines=(d9911(("8", "F")),), notes=(GOOD_NOTE,), **who)
                )
            else:
                lines.append(d9911(("8", "F")))
        claims.append(Claim(claim_id=f"R{i}", lines=tuple(lines), notes=(GOOD_NOTE,), **who))
    return checked(*claims)


def test_d9911_on_most_recall_visits() -> None:
    result = recall_batch(6, 4)
    hit = one(result, RECALL)
    assert (hit.severity, hit.snip, hit.claim_id, hit.line) == (Severity.WARNING, 6, "R2", None)
    assert hit.location.segment_id == "CLM"
    assert "4 of the 6 recall visits" in hit.message


def test_d9911_on_its_own_claim_the_same_day_counts() -> None:
    hit = one(recall_batch(5, 3, separate_claim=True), RECALL)
    assert hit.claim_id == "D2"


def test_recall_pattern_thresholds() -> None:
    assert rule_hits(recall_batch(6, 3), RECALL) == []  # half is not more than half
    assert rule_hits(recall_batch(4, 4), RECALL) == []  # too few recall visits to judge


# -- the data file, registration, clean files ------------------------------------------------


def _doc() -> dict[str, Any]:
    return copy.deepcopy(builtin(desensitizing.DATA_FILE))


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda d: d["narrative"].pop("resin"), "narrative.resin"),
        (lambda d: d["narrative"].__setitem__("etiology", []), "narrative.etiology"),
        (
            lambda d: d["bundled_same_day"][0].__setitem__("codes", ["4341"]),
            "bundled_same_day[0].codes[0]",
        ),
        (lambda d: d.__setitem__("bundled_same_day", {"a": 1}), "bundled_same_day"),
        (
            lambda d: d["restorations"].__setitem__("equivalent_surfaces", [["B", "X"]]),
            "restorations.equivalent_surfaces[0]",
        ),
        (
            lambda d: d["narrative"]["non_resin"][1]["terms"].append(3),
            "narrative.non_resin[1].terms[",
        ),
        (lambda d: d["recall_pattern"].__setitem__("max_share", 1.5), "recall_pattern.max_share"),
        (lambda d: d["recall_pattern"].__setitem__("min_visits", "5"), "recall_pattern.min_visits"),
    ],
)
def test_malformed_data_names_file_and_key(change: Any, key: str) -> None:
    doc = _doc()
    change(doc)
    with pytest.raises(RuleDataError) as info:
        desensitizing.parse_data(doc, Path("rules/desensitizing.toml"))
    assert info.value.path.endswith("desensitizing.toml")
    assert info.value.key.startswith(key)


def test_builtin_data_loads() -> None:
    data = desensitizing.parse_data(_doc(), "desensitizing.toml")
    assert {"D4341", "D4342", "D4910", "D9972", "D2740", "D6750"} <= set(data.bundled)
    assert "D6065" not in data.bundled and "D9975" not in data.bundled
    assert {"D2140", "D2161", "D2330", "D2394"} <= data.restorations
    assert data.recall_min_visits == 5 and data.recall_max_share == 0.5


RULES = {
    "desensitizing.d9911-no-tooth": ("error", "line"),
    "desensitizing.d9911-units-teeth-mismatch": ("error", "line"),
    "desensitizing.d9911-no-surface": ("warning", "line"),
    "desensitizing.d9911-bundled-same-day": ("warning", "batch"),
    "desensitizing.d9911-same-surface-as-restoration": ("error", "batch"),
    "desensitizing.d9911-same-tooth-as-restoration": ("warning", "batch"),
    "desensitizing.d9911-non-resin-material": ("warning", "line"),
    "desensitizing.d9911-no-material": ("warning", "line"),
    "desensitizing.d9911-no-etiology": ("warning", "line"),
    "desensitizing.d9910-per-tooth": ("error", "line"),
    "desensitizing.d9911-recall-pattern": ("warning", "batch"),
}


def test_rules_are_registered_and_explained() -> None:
    registry = default_registry()
    ours = {r.id for r in registry if r.id.startswith("desensitizing.")}
    assert ours == set(RULES)
    for rule_id, (severity, scope) in RULES.items():
        rule = registry.get(rule_id)
        assert rule is not None
        assert (rule.severity.value, rule.scope, rule.snip) == (severity, scope, 6)
        text = rule.explain()
        assert "Triggers" in text and "How to fix" in text


def test_clean_sample_gives_no_desensitizing_finding() -> None:
    data = (SAMPLES / "clean-batch.837").read_bytes()
    assert b"D9911" in data and b"D4342" in data
    assert desens(check_bytes(data, "clean-batch.837")) == []


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_files_give_no_desensitizing_finding(seed: int) -> None:
    text = generate(seed, GenOptions(claims=300)).text
    assert "D9911" in text and "D9910" in text
    assert desens(check_bytes(text.encode(), "generated.837")) == []
