"""Implant rules (D6010 placement / D6011 uncovering): each rule found, and not found, end to end."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import attrs
import pytest

from x12dental.checks import implant
from x12dental.engine import default_registry
from x12dental.findings import Finding, Severity
from x12dental.pipeline import FileResult, Options, check_bytes
from x12dental.ruledata import RuleDataError, builtin
from x12dental.synthetic import GenOptions, generate

from .builders import Claim, Line, rule_hits, run, structural
from .conftest import SAMPLES

GOOD_NOTE = "D6010 placed #20 on 05/28/2026; healing abutment placed"
RULES = sorted(r.id for r in default_registry() if r.id.startswith("implant."))


def d6011(*lines: Line, **kw: Any) -> Claim:
    """A clean D6011 claim (the synthetic generator's shape), with `kw` overriding any field."""
    fields: dict[str, Any] = {
        "lines": lines or (Line("D6011", "550", teeth=(("20", ""),)),),
        "claim_id": "IMP2",
        "date": "20260830",
        "notes": (GOOD_NOTE,),
        "refs": (("G1", "PA90552703"),),
        "attachments": (("RB", "EL"),),
    }
    fields.update(kw)
    return Claim(**fields)


def placement(tooth: str = "20", date: str = "20260528", **kw: Any) -> Claim:
    fields: dict[str, Any] = {
        "lines": (Line("D6010", "2100", teeth=((tooth, ""),)),),
        "claim_id": "IMP1",
        "date": date,
        "notes": (f"Submerged two-stage implant #{tooth}; cover screw placed",),
        "refs": (("G1", "PA90552703"),),
        "attachments": (("RB", "EL"),),
    }
    fields.update(kw)
    return Claim(**fields)


def checked(*claims: Claim, **kw: Any) -> FileResult:
    result = run(*claims, **kw)
    assert structural(result) == []
    assert [f for f in result.findings if f.rule == "x12dental.rule-crashed"] == []
    return result


def implant_findings(result: FileResult) -> list[Finding]:
    return [f for f in result.findings if f.rule.startswith("implant.")]


def one(
    result: FileResult,
    rule: str,
    *,
    severity: Severity,
    claim_id: str,
    line: int,
    procedure: str,
    tooth: str | None = None,
) -> Finding:
    hits = rule_hits(result, rule)
    assert len(hits) == 1, [h.message for h in hits]
    hit = hits[0]
    assert (hit.severity, hit.claim_id, hit.line, hit.procedure) == (
        severity,
        claim_id,
        line,
        procedure,
    )
    assert hit.snip == 6
    if tooth is not None:
        assert hit.tooth == tooth
    return hit


# -- the clean shapes ----------------------------------------------------------------------


def test_clean_two_stage_pair_has_no_implant_finding() -> None:
    assert implant_findings(checked(placement(), d6011())) == []


def test_clean_batch_sample_has_no_implant_finding() -> None:
    data = (SAMPLES / "clean-batch.837").read_bytes()
    result = check_bytes(data, "clean-batch.837", Options(today=dt.date(2026, 11, 20)))
    assert b"D6011" in data
    assert implant_findings(result) == []


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_implant_claims_have_no_implant_finding(seed: int) -> None:
    text = generate(seed, GenOptions(claims=200)).text
    assert "AD:D6011" in text
    result = check_bytes(text.encode(), "gen.837", Options(today=dt.date(2026, 11, 20)))
    assert implant_findings(result) == []


def test_every_implant_rule_is_snip_6_and_explained() -> None:
    assert len(RULES) == 11
    for rule in default_registry():
        if rule.id.startswith("implant."):
            assert rule.snip == 6
            assert "Example" in rule.explanation and "Instead" in rule.explanation


# -- 1. implant.d6011-no-tooth -----------------------------------------------------------


def test_d6011_without_tooth_is_an_error() -> None:
    result = checked(d6011(Line("D6011", "550")))
    hit = one(
        result,
        "implant.d6011-no-tooth",
        severity=Severity.ERROR,
        claim_id="IMP2",
        line=1,
        procedure="D6011",
    )
    assert "no tooth number" in hit.message
    assert hit.location.segment_id == "SV3"


def test_d6011_with_only_an_area_is_still_an_error() -> None:
    result = checked(d6011(Line("D6011", "550", area="30")))
    hit = one(
        result,
        "implant.d6011-no-tooth",
        severity=Severity.ERROR,
        claim_id="IMP2",
        line=1,
        procedure="D6011",
    )
    assert "area 30" in hit.message


def test_d6011_with_tooth_passes() -> None:
    assert rule_hits(checked(d6011()), "implant.d6011-no-tooth") == []


# -- 2. implant.placement-and-uncovering-same-day ----------------------------------------

SAME_DAY = "implant.placement-and-uncovering-same-day"


def test_placement_then_uncovering_same_claim_reports_the_d6011_line() -> None:
    claim = d6011(
        Line("D6010", "2100", teeth=(("20", ""),)),
        Line("D6011", "550", teeth=(("20", ""),)),
        notes=("implant #20 placed 05/28/2026",),
    )
    hit = one(
        checked(claim),
        SAME_DAY,
        severity=Severity.ERROR,
        claim_id="IMP2",
        line=2,
        procedure="D6011",
        tooth="20",
    )
    assert "08/30/2026" in hit.message and "D6010 on #20 on line 1 of this claim" in hit.message


def test_uncovering_then_placement_same_claim_reports_the_second_line() -> None:
    claim = d6011(
        Line("D6011", "550", teeth=(("20", ""),)),
        Line("D6010", "2100", teeth=(("20", ""),)),
    )
    hit = one(
        checked(claim),
        SAME_DAY,
        severity=Severity.ERROR,
        claim_id="IMP2",
        line=2,
        procedure="D6010",
        tooth="20",
    )
    assert "D6011 on #20 on line 1" in hit.message


def test_same_day_across_claims_of_one_patient_both_orders() -> None:
    first, second = placement(date="20260830"), d6011()
    hit = one(
        checked(first, second),
        SAME_DAY,
        severity=Severity.ERROR,
        claim_id="IMP2",
        line=1,
        procedure="D6011",
        tooth="20",
    )
    assert "D6010 on #20 in claim IMP1 (line 1) earlier in this file" in hit.message
    one(
        checked(second, first),
        SAME_DAY,
        severity=Severity.ERROR,
        claim_id="IMP1",
        line=1,
        procedure="D6010",
        tooth="20",
    )


def test_same_day_uses_line_dates() -> None:
    claim = d6011(
        Line("D6010", "2100", teeth=(("20", ""),), date="20260528"),
        Line("D6011", "550", teeth=(("20", ""),), date="20260830"),
    )
    assert rule_hits(checked(claim), SAME_DAY) == []
    claim = d6011(
        Line("D6010", "2100", teeth=(("20", ""),), date="20260830"),
        Line("D6011", "550", teeth=(("20", ""),), date="20260830"),
        date=None,
    )
    one(
        checked(claim),
        SAME_DAY,
        severity=Severity.ERROR,
        claim_id="IMP2",
        line=2,
        procedure="D6011",
    )


@pytest.mark.parametrize(
    "claims",
    [
        (placement(), d6011()),  # two dates: the normal two-stage path
        (placement(tooth="19", date="20260830"), d6011()),  # same day, other tooth
        # same day, same tooth, another patient
        (placement(date="20260830", member_id="M999999999", patient=("ROE", "ANN")), d6011()),
    ],
)
def test_same_day_passes(claims: tuple[Claim, ...]) -> None:
    assert rule_hits(checked(*claims), SAME_DAY) == []


# -- 3. implant.d6011-no-placement-reference / implant.d6011-narrative-other-tooth -------

NO_REF = "implant.d6011-no-placement-reference"
OTHER_TOOTH = "implant.d6011-narrative-other-tooth"


@pytest.mark.parametrize(
    ("notes", "says"),
    [
        ((), "has no narrative"),
        (("Uncovered implant, healing abutment placed",), "no placement date before 08/30/2026"),
        (("D6010 placed on 05/28/2026",), "not tooth #20"),
        (("Implant #20 uncovered",), "no placement date"),
        (("D6010 placed #20 on 09/15/2026",), "no placement date"),  # after the D6011 date
        (("D6010 placed #20 on 08/30/2026",), "no placement date"),  # the D6011 date itself
        (("D6010 placed #20 on 02/30/2026",), "no placement date"),  # not a date
    ],
)
def test_missing_placement_reference_warns(notes: tuple[str, ...], says: str) -> None:
    result = checked(d6011(notes=notes))
    hit = one(
        result,
        NO_REF,
        severity=Severity.WARNING,
        claim_id="IMP2",
        line=1,
        procedure="D6011",
        tooth="20",
    )
    assert says in hit.message
    assert rule_hits(result, OTHER_TOOTH) == []


@pytest.mark.parametrize(
    "note",
    [
        GOOD_NOTE,
        "Implant placed tooth 20 on 2026-05-28",
        "IMPLANT TH#20 PLACED 20260528, UNCOVERED TODAY",
        "Stage 1 at site 20 on May 28, 2026",
        "placed 28 MAY 2026 #20 and #19",
        "D 6010 #20 5/28/26",
    ],
)
def test_placement_reference_passes(note: str) -> None:
    result = checked(d6011(notes=(note,)))
    assert rule_hits(result, NO_REF) == []
    assert rule_hits(result, OTHER_TOOTH) == []


def test_narrative_naming_another_tooth_warns_once() -> None:
    result = checked(d6011(notes=("D6010 placed #19 on 05/28/2026",)))
    hit = one(
        result,
        OTHER_TOOTH,
        severity=Severity.WARNING,
        claim_id="IMP2",
        line=1,
        procedure="D6011",
        tooth="20",
    )
    assert "#20" in hit.message and "#19" in hit.message
    assert rule_hits(result, NO_REF) == []


def test_other_line_teeth_are_not_a_different_placement() -> None:
    # D6011 on #20 and #19; the narrative names only #19: #20 lacks a reference, #19 is fine.
    claim = d6011(
        Line("D6011", "550", teeth=(("19", ""),)),
        Line("D6011", "550", teeth=(("20", ""),)),
        notes=("D6010 placed #19 on 05/28/2026",),
    )
    result = checked(claim)
    assert rule_hits(result, OTHER_TOOTH) == []
    hit = one(result, NO_REF, severity=Severity.WARNING, claim_id="IMP2", line=2, procedure="D6011")
    assert "not tooth #20" in hit.message


def test_placement_reference_not_checked_on_voids() -> None:
    result = checked(d6011(notes=(), frequency="8", refs=(("F8", "ICN123"), ("G1", "PA1"))))
    assert rule_hits(result, NO_REF) == []


# -- 4. implant.d6011-no-prior-auth ------------------------------------------------------

NO_PA = "implant.d6011-no-prior-auth"


def test_missing_prior_auth_warns() -> None:
    hit = one(
        checked(d6011(refs=())),
        NO_PA,
        severity=Severity.WARNING,
        claim_id="IMP2",
        line=1,
        procedure="D6011",
    )
    assert "REF*G1" in hit.message


def test_predetermination_number_is_not_a_prior_auth() -> None:
    result = checked(d6011(refs=(("G3", "PD123"),)))
    assert len(rule_hits(result, NO_PA)) == 1


def test_payer_pack_can_make_missing_prior_auth_an_error(tmp_path: Path) -> None:
    pack = tmp_path / "strict.toml"
    pack.write_text(
        '[pack]\nname = "strict"\n[severity]\n"implant.d6011-no-prior-auth" = "error"\n'
    )
    one(
        checked(d6011(refs=()), packs=(str(pack),)),
        NO_PA,
        severity=Severity.ERROR,
        claim_id="IMP2",
        line=1,
        procedure="D6011",
    )


@pytest.mark.parametrize(
    "claim",
    [
        d6011(),  # claim-level REF*G1
        d6011(Line("D6011", "550", teeth=(("20", ""),), refs=(("G1", "PA1"),)), refs=()),
        d6011(refs=(), predetermination=True, date=None),  # the predetermination is the request
    ],
)
def test_prior_auth_passes(claim: Claim) -> None:
    assert rule_hits(checked(claim), NO_PA) == []


# -- 5. implant.d6011-no-radiograph ------------------------------------------------------

NO_RG = "implant.d6011-no-radiograph"


@pytest.mark.parametrize(
    ("attachments", "says", "segment"),
    [
        ((), "no radiograph attachment", "SV3"),
        ((("P6", "EL"),), "no radiograph attachment", "SV3"),
        ((("RB", "AA"),), "only announced", "PWK"),
    ],
)
def test_missing_radiograph_warns(
    attachments: tuple[tuple[str, str], ...], says: str, segment: str
) -> None:
    hit = one(
        checked(d6011(attachments=attachments)),
        NO_RG,
        severity=Severity.WARNING,
        claim_id="IMP2",
        line=1,
        procedure="D6011",
    )
    assert says in hit.message
    assert hit.location.segment_id == segment


@pytest.mark.parametrize(
    "attachments", [(("RB", "EL"),), (("RR", "FX"),), (("RB", "AA"), ("RR", "EL"))]
)
def test_radiograph_passes(attachments: tuple[tuple[str, str], ...]) -> None:
    assert rule_hits(checked(d6011(attachments=attachments)), NO_RG) == []


# -- 6. implant.d6011-single-stage -------------------------------------------------------

SINGLE = "implant.d6011-single-stage"


@pytest.mark.parametrize(
    ("note", "term"),
    [
        ("Single-stage implant #20 placed 05/28/2026", "single stage"),
        ("#20 one stage protocol, placed 05/28/2026", "one stage"),
        ("Non-submerged implant #20 placed 05/28/2026", "non submerged"),
        ("Implant #20 placed 05/28/2026, was never submerged", "never submerged"),
        ("Implant #20 placed 05/28/2026 not submerged", "not submerged"),
        ("Transmucosal healing #20 since 05/28/2026", "transmucosal"),
        (
            "Tissue-level implant #20 05/28/2026; healing abutment placed at surgery",
            "tissue level + healing abutment placed at surgery",
        ),
        ("#20 05/28/2026 healing abutment placed at implant placement", "healing abutment"),
        ("Two-stage planned but single-stage done #20 05/28/2026", "single stage"),
    ],
)
def test_single_stage_narrative_is_an_error(note: str, term: str) -> None:
    hit = one(
        checked(d6011(notes=(note,))),
        SINGLE,
        severity=Severity.ERROR,
        claim_id="IMP2",
        line=1,
        procedure="D6011",
        tooth="20",
    )
    assert term in hit.message


@pytest.mark.parametrize(
    "note",
    [
        GOOD_NOTE,
        "Two-stage, not single-stage; D6010 #20 05/28/2026",
        "Submerged implant #20 (not transmucosal) placed 05/28/2026",
        "Implant #20 was not a one-stage case; placed 05/28/2026",
        "Tissue-level implant #20 buried 05/28/2026",  # tissue level alone can be submerged
        "Stage 1 / stage 2 protocol, #20 placed 05/28/2026",
        "Stage one/stage two #20 05/28/2026",
    ],
)
def test_two_stage_narrative_passes(note: str) -> None:
    assert rule_hits(checked(d6011(notes=(note,))), SINGLE) == []


# -- 7. implant.d6011-with-custom-abutment -----------------------------------------------

ABUT = "implant.d6011-with-custom-abutment"


@pytest.mark.parametrize("code", ["D6056", "D6057"])
def test_abutment_same_day_same_tooth_warns(code: str) -> None:
    claim = d6011(Line("D6011", "550", teeth=(("20", ""),)), Line(code, "900", teeth=(("20", ""),)))
    hit = one(
        checked(claim),
        ABUT,
        severity=Severity.WARNING,
        claim_id="IMP2",
        line=2,
        procedure=code,
        tooth="20",
    )
    assert "D6011 on #20 on line 1" in hit.message


def test_abutment_first_then_d6011_reports_the_d6011_line() -> None:
    first = placement(date="20260830", lines=(Line("D6057", "900", teeth=(("20", ""),)),))
    one(
        checked(first, d6011()),
        ABUT,
        severity=Severity.WARNING,
        claim_id="IMP2",
        line=1,
        procedure="D6011",
        tooth="20",
    )


@pytest.mark.parametrize(
    "lines",
    [
        (Line("D6011", "550", teeth=(("20", ""),)), Line("D6057", "900", teeth=(("19", ""),))),
        (
            Line("D6011", "550", teeth=(("20", ""),)),
            Line("D6057", "900", teeth=(("20", ""),), date="20261015"),
        ),
        (Line("D6011", "550", teeth=(("20", ""),)), Line("D6010", "2100", teeth=(("19", ""),))),
    ],
)
def test_abutment_passes(lines: tuple[Line, ...]) -> None:
    assert rule_hits(checked(d6011(*lines)), ABUT) == []


# -- 8. implant.primary-tooth / implant.supernumerary-tooth ------------------------------


def test_implant_on_primary_tooth_is_an_error() -> None:
    claim = placement(tooth="K", date="20260528")
    hit = one(
        checked(claim),
        "implant.primary-tooth",
        severity=Severity.ERROR,
        claim_id="IMP1",
        line=1,
        procedure="D6010",
        tooth="K",
    )
    assert "primary tooth K" in hit.message
    assert rule_hits(checked(claim), "implant.supernumerary-tooth") == []


@pytest.mark.parametrize("tooth", ["58", "AS"])
def test_implant_on_supernumerary_position_warns(tooth: str) -> None:
    result = checked(d6011(Line("D6065", "1400", teeth=((tooth, ""),))))
    hit = one(
        result,
        "implant.supernumerary-tooth",
        severity=Severity.WARNING,
        claim_id="IMP2",
        line=1,
        procedure="D6065",
        tooth=tooth,
    )
    assert f"#{tooth}" in hit.message
    assert rule_hits(result, "implant.primary-tooth") == []


def test_each_primary_tooth_of_a_line_is_reported() -> None:
    claim = d6011(Line("D6075", "900", teeth=(("K", ""), ("19", ""), ("L", ""))))
    hits = rule_hits(checked(claim), "implant.primary-tooth")
    assert [(h.tooth, h.line, h.procedure) for h in hits] == [("K", 1, "D6075"), ("L", 1, "D6075")]


@pytest.mark.parametrize(
    "line",
    [
        Line("D6010", "2100", teeth=(("19", ""),)),
        Line("D6040", "5000", teeth=(("K", ""),)),  # arch-based: not in codes.site
        Line("D2740", "1200", teeth=(("K", ""),)),  # not an implant code
    ],
)
def test_permanent_or_not_site_specific_passes(line: Line) -> None:
    result = checked(d6011(line))
    assert rule_hits(result, "implant.primary-tooth") == []
    assert rule_hits(result, "implant.supernumerary-tooth") == []


# -- 9. implant.units-exceed-teeth -------------------------------------------------------

UNITS = "implant.units-exceed-teeth"


def test_units_above_teeth_is_an_error() -> None:
    claim = placement(lines=(Line("D6010", "4200", teeth=(("19", ""),), units="2"),))
    hit = one(
        checked(claim),
        UNITS,
        severity=Severity.ERROR,
        claim_id="IMP1",
        line=1,
        procedure="D6010",
        tooth="19",
    )
    assert "lists 1 tooth (#19) but SV306 says 2 units" in hit.message
    assert hit.element == "SV306"


@pytest.mark.parametrize(
    "line",
    [
        Line("D6010", "4200", teeth=(("19", ""), ("20", "")), units="2"),
        Line("D6010", "2100", teeth=(("19", ""),), units="1"),
        Line("D6010", "2100", teeth=(("19", ""),)),
        Line("D6010", "4200", units="2"),  # no tooth: another rule's finding
        Line("D6190", "300", teeth=(("19", ""),), units="2"),  # not a per-site code
    ],
)
def test_units_within_teeth_passes(line: Line) -> None:
    assert rule_hits(checked(placement(lines=(line,))), UNITS) == []


# -- rules/implant.toml --------------------------------------------------------------------


def test_builtin_data_loads() -> None:
    data = implant.implant_data()
    assert data.placement == {"D6010"}
    assert data.custom_abutment == {"D6056", "D6057"}
    assert {"D6010", "D6011", "D6065", "D6075"} <= data.site
    assert not {"D6040", "D6050", "D6055", "D6080", "D6110", "D6199"} & data.site
    assert data.radiograph_types == {"RB", "RR"}


def _broken(path: list[str], value: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {k: dict(v) for k, v in builtin("implant.toml").items()}
    table = doc
    for key in path[:-1]:
        table = table[key]
    if value is attrs.NOTHING:
        del table[path[-1]]
    else:
        table[path[-1]] = value
    return doc


@pytest.mark.parametrize(
    ("path", "value", "key"),
    [
        (["codes"], attrs.NOTHING, "codes"),
        (["codes", "placement"], ["D2740"], "codes.placement"),
        (["codes", "site"], ["D60"], "codes.site[0]"),
        (["codes", "custom_abutment"], "D6057", "codes.custom_abutment"),
        (["radiograph", "report_types"], ["radiograph"], "radiograph.report_types[0]"),
        (["radiograph", "not_sent"], [], "radiograph.not_sent"),
        (["prior_auth", "qualifiers"], [7], "prior_auth.qualifiers[0]"),
        (["single_stage", "terms"], [""], "single_stage.terms[0]"),
        (["single_stage", "together"], [["tissue level"]], "single_stage.together[0]"),
        (["single_stage", "window"], -1, "single_stage.window"),
        (["single_stage", "window"], "3", "single_stage.window"),
    ],
)
def test_malformed_data_names_file_and_key(path: list[str], value: Any, key: str) -> None:
    with pytest.raises(RuleDataError) as info:
        implant.load_data(_broken(path, value), "rules/implant.toml")
    assert info.value.key == key
    assert info.value.path == "rules/implant.toml"
