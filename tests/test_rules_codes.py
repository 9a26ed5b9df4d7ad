"""Code-set rules (SNIP 5): NPI, teeth, surfaces, areas, CDT shape, birth dates, ZIP, state."""

from __future__ import annotations

from pathlib import Path

import pytest

from x12dental.checks.codes import CodePolicy, load_policy, npi_check_digit, npi_problem, policy
from x12dental.codesets import npi_is_valid
from x12dental.findings import Finding, Severity
from x12dental.pipeline import FileResult, Options, check_bytes
from x12dental.ruledata import RuleDataError, builtin, builtin_path

from .builders import (
    BILLING_NPI,
    RENDERING_NPI,
    TODAY,
    Claim,
    Line,
    build,
    rule_hits,
    run,
    structural,
)


def patched(*claims: Claim, replace: tuple[tuple[bytes, bytes], ...] = (), **kw: str) -> FileResult:
    """Build, patch what the builder cannot write (SE01 recounted), check; must stay valid X12."""
    data = build(*claims, **kw)
    for old, new in replace:
        assert old in data, old
        data = data.replace(old, new)
    segments = data.split(b"~\n")
    st = next(i for i, s in enumerate(segments) if s.startswith(b"ST*"))
    se = next(i for i, s in enumerate(segments) if s.startswith(b"SE*"))
    segments[se] = b"SE*%d*0001" % (se - st + 1)
    result = check_bytes(b"~\n".join(segments), "test.837", Options(today=TODAY))
    assert structural(result) == []
    return result


def ok(result: FileResult) -> FileResult:
    assert structural(result) == []
    return result


def one(result: FileResult, rule: str, severity: Severity = Severity.ERROR) -> Finding:
    [hit] = rule_hits(result, rule)
    assert hit.severity is severity
    assert hit.snip == 5
    return hit


BILLING_N4 = b"N4*COLUMBUS*OH*432151234~"
SUBSCRIBER_N4 = b"N4*COLUMBUS*OH*43215~"
RENDERING_PRV = b"PRV*PE*PXC*1223G0001X~\nLX*1~"

# -- codes.npi-check-digit ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("npi", "valid"),
    [("1234567893", True), ("1999999992", True), ("1588667638", True), ("1234567890", False)],
)
def test_npi_vectors(npi: str, valid: bool) -> None:
    assert (npi_problem(npi) is None) is valid
    assert npi_is_valid(npi) is valid  # the shared code set agrees
    assert (npi_check_digit(npi[:9]) == int(npi[9])) is valid


def test_npi_problems_in_words() -> None:
    assert npi_problem("123456789") == "is not 10 digits"
    assert npi_problem("12345678AB") == "is not 10 digits"
    assert npi_problem("9876543210") == (
        "does not start with 1 or 2 (every NPI does) and fails the NPI check digit "
        "(the last digit would be 3)"
    )
    assert npi_problem("1234567890") == "fails the NPI check digit (the last digit would be 3)"


def test_npis_valid() -> None:
    result = ok(run(Claim(lines=(Line("D1110"),))))
    assert rule_hits(result, "codes.npi-check-digit") == []


def test_billing_npi_check_digit() -> None:
    result = patched(
        Claim(lines=(Line("D1110"),), claim_id="NPI1"),
        replace=((b"XX*" + BILLING_NPI.encode(), b"XX*1234567890"),),
    )
    hit = one(result, "codes.npi-check-digit")
    assert hit.claim_id == "NPI1"
    assert hit.line is None and hit.procedure is None
    assert hit.location.segment_id == "NM1"
    assert hit.element == "NM109"
    assert "billing provider (2010AA)" in hit.message
    assert "1234567890" in hit.message and "would be 3" in hit.message
    assert "BRIGHT SMILE" not in hit.message


def test_rendering_npi_format() -> None:
    result = patched(
        Claim(lines=(Line("D1110"),)),
        replace=((b"XX*" + RENDERING_NPI.encode(), b"XX*9876543210"),),
    )
    hit = one(result, "codes.npi-check-digit")
    assert "rendering provider (2310B)" in hit.message
    assert "does not start with 1 or 2" in hit.message
    assert "SMITH" not in hit.message and "ANNA" not in hit.message


def test_facility_and_line_rendering_npis() -> None:
    facility = (
        b"PRV*PE*PXC*1223G0001X~\nNM1*77*2*MAIN CLINIC*****XX*1588667630~\n"
        b"N3*5 OAK ST~\nN4*COLUMBUS*OH*432151234~\nLX*1~"
    )
    line_rendering = (
        b"SV3*AD:D2391*100~\nTOO*JP*8*M~\n"
        b"NM1*82*1*LEE*TOM****XX*1999999993~\nPRV*PE*PXC*1223G0001X~"
    )
    result = patched(
        Claim(lines=(Line("D1110"), Line("D2391", teeth=(("8", "M"),))), claim_id="NPI3"),
        replace=(
            (RENDERING_PRV, facility),
            (b"SV3*AD:D2391*100~\nTOO*JP*8*M~", line_rendering),
        ),
    )
    hits = rule_hits(result, "codes.npi-check-digit")
    assert len(hits) == 2
    fac, line = hits
    assert "service facility (2310C)" in fac.message and fac.line is None
    assert "MAIN CLINIC" not in fac.message
    assert "rendering provider of line 2 (2420A)" in line.message
    assert line.line == 2 and line.procedure == "D2391" and line.tooth == "8"
    assert line.location.segment_id == "NM1"
    assert "LEE" not in line.message


# -- codes.tooth-number ---------------------------------------------------------------------


def test_tooth_numbers_valid() -> None:
    teeth = (("1", ""), ("32", ""), ("A", ""), ("T", ""), ("51", ""), ("82", ""), ("AS", ""))
    result = ok(run(Claim(lines=(Line("D7140", teeth=teeth, units=str(len(teeth))),))))
    assert rule_hits(result, "codes.tooth-number") == []


def test_tooth_number_leading_zero() -> None:
    result = ok(
        run(Claim(lines=(Line("D1110"), Line("D2391", teeth=(("08", "M"),))), claim_id="T1"))
    )
    hit = one(result, "codes.tooth-number")
    assert hit.claim_id == "T1"
    assert hit.line == 2
    assert hit.procedure == "D2391"
    assert hit.tooth == "08"
    assert hit.element == "TOO02"
    assert hit.location.segment_id == "TOO"
    assert "'08'" in hit.message
    assert hit.hint.startswith("Send 8 (no leading zero)")


def test_tooth_number_lower_case_and_unknown() -> None:
    result = ok(run(Claim(lines=(Line("D7140", teeth=(("a", ""), ("33", "")), units="2"),))))
    low, unknown = rule_hits(result, "codes.tooth-number")
    assert low.tooth == "a" and low.hint.startswith("Send A (upper-case letters)")
    assert unknown.tooth == "33"
    assert (
        unknown.hint
        == "Send tooth numbers 1-32 or letters A-T (supernumerary 51-82, AS-TS), without leading zeros."
    )


def test_tooth_status_dn201() -> None:
    result = ok(run(Claim(lines=(Line("D5213", area="01"),), extra=("DN2*8*M****JP~",))))
    assert rule_hits(result, "codes.tooth-number") == []
    result = ok(
        run(Claim(lines=(Line("D5213", area="01"),), extra=("DN2*08*M****JP~",), claim_id="T3"))
    )
    hit = one(result, "codes.tooth-number")
    assert hit.claim_id == "T3"
    assert hit.line is None
    assert hit.element == "DN201"
    assert hit.location.segment_id == "DN2"
    assert hit.tooth == "08"


# -- codes.surface-duplicate / codes.surface-tooth-mismatch ---------------------------------


def test_surfaces_fine() -> None:
    result = ok(
        run(
            Claim(
                lines=(Line("D2392", teeth=(("30", "MOD"),)), Line("D2331", teeth=(("8", "MI"),)))
            )
        )
    )
    assert rule_hits(result, "codes.surface-duplicate") == []
    assert rule_hits(result, "codes.surface-tooth-mismatch") == []


def test_surface_duplicate() -> None:
    result = ok(run(Claim(lines=(Line("D2392", teeth=(("30", "MOO"),)),), claim_id="S1")))
    hit = one(result, "codes.surface-duplicate")
    assert hit.claim_id == "S1"
    assert hit.line == 1
    assert hit.procedure == "D2392"
    assert hit.tooth == "30"
    assert hit.element == "TOO03"
    assert "surface O more than once" in hit.message and "M:O:O" in hit.message


def test_surface_on_wrong_kind_of_tooth() -> None:
    result = ok(
        run(
            Claim(
                lines=(
                    Line("D2391", teeth=(("8", "MO"),)),
                    Line("D2392", teeth=(("30", "IF"),)),
                    Line("D2391", teeth=(("C", "B"),)),
                ),
                claim_id="S2",
            )
        )
    )
    front, back, primary = rule_hits(result, "codes.surface-tooth-mismatch")
    for hit in (front, back, primary):
        assert hit.severity is Severity.WARNING and hit.snip == 5 and hit.claim_id == "S2"
    assert (front.line, front.procedure, front.tooth) == (1, "D2391", "8")
    assert "anterior tooth" in front.message and "O (occlusal)" in front.message
    assert (back.line, back.procedure, back.tooth) == (2, "D2392", "30")
    assert "I (incisal), F (facial)" in back.message
    assert primary.tooth == "C" and "B (buccal)" in primary.message


# -- codes.area-unusual / codes.area-invalid / codes.area-tooth-quadrant --------------------


def test_area_codes_accepted() -> None:
    lines = tuple(Line("D4341", area=a) for a in ("00", "01", "02", "10", "20", "30", "40"))
    result = ok(run(Claim(lines=lines)))
    assert rule_hits(result, "codes.area-unusual") == []
    assert rule_hits(result, "codes.area-invalid") == []


def test_area_unusual() -> None:
    result = ok(run(Claim(lines=(Line("D1110"), Line("D4341", area="03")), claim_id="A1")))
    hit = one(result, "codes.area-unusual", Severity.WARNING)
    assert hit.claim_id == "A1"
    assert hit.line == 2
    assert hit.procedure == "D4341"
    assert hit.element == "SV304"
    assert "area code 03" in hit.message
    assert rule_hits(result, "codes.area-invalid") == []


def test_area_invalid_with_old_code_hint() -> None:
    result = ok(run(Claim(lines=(Line("D4341", area="UR"),), claim_id="A2")))
    hit = one(result, "codes.area-invalid")
    assert hit.claim_id == "A2"
    assert hit.line == 1
    assert hit.procedure == "D4341"
    assert "'UR'" in hit.message
    assert hit.hint == "Send 10: the alphabetic UR is a pre-HIPAA code."
    result = ok(run(Claim(lines=(Line("D4341", area="99"),))))
    assert one(result, "codes.area-invalid").hint.startswith("Use 00 whole mouth")


def test_area_quadrant_matches_teeth() -> None:
    result = ok(run(Claim(lines=(Line("D4342", area="10", teeth=(("3", ""), ("E", ""))),))))
    assert rule_hits(result, "codes.area-tooth-quadrant") == []


def test_area_quadrant_tooth_outside() -> None:
    result = ok(
        run(Claim(lines=(Line("D4342", area="10", teeth=(("3", ""), ("30", ""))),), claim_id="A3"))
    )
    hit = one(result, "codes.area-tooth-quadrant", Severity.WARNING)
    assert hit.claim_id == "A3"
    assert hit.line == 1
    assert hit.procedure == "D4342"
    assert hit.tooth == "30"
    assert hit.location.segment_id == "TOO"
    assert "quadrant 40 (lower right)" in hit.message and "10 (upper right)" in hit.message


# -- codes.cdt-code -------------------------------------------------------------------------


def test_cdt_code_shape_ok() -> None:
    assert (
        rule_hits(ok(run(Claim(lines=(Line("D2391", teeth=(("3", "O"),)),)))), "codes.cdt-code")
        == []
    )


@pytest.mark.parametrize(
    ("code", "hint"),
    [
        ("d2391", "Send D2391."),
        ("2391", "Send D2391."),
        ("D23910", "Send the CDT code as D followed by four digits (SV3*AD:D2391)."),
    ],
)
def test_cdt_code_shape_bad(code: str, hint: str) -> None:
    result = ok(run(Claim(lines=(Line("D1110"), Line(code)), claim_id="C1")))
    hit = one(result, "codes.cdt-code")
    assert hit.claim_id == "C1"
    assert hit.line == 2
    assert hit.procedure == code
    assert hit.element == "SV301-2"
    assert hit.hint == hint


# -- codes.birth-date -----------------------------------------------------------------------


def test_birth_date_fine() -> None:
    result = ok(run(Claim(lines=(Line("D1110"),), birth_date="20260910")))
    assert rule_hits(result, "codes.birth-date") == []


def test_birth_after_service() -> None:
    result = ok(
        run(
            Claim(
                lines=(Line("D1110", date="20261002"), Line("D0120", date="20260915")),
                date=None,
                birth_date="20261001",
                claim_id="B1",
            )
        )
    )
    hit = one(result, "codes.birth-date")
    assert hit.claim_id == "B1"
    assert hit.line == 2
    assert hit.procedure == "D0120"
    assert hit.location.segment_id == "DMG"
    assert hit.element == "DMG02"
    assert "20260915" in hit.message
    assert "20261001" not in hit.message  # the birth date itself stays out of the report


def test_birth_in_future_for_dependent_and_subscriber() -> None:
    result = patched(
        Claim(lines=(Line("D1110"),), dependent=True, birth_date="20270101", date="20261101"),
        replace=((b"DMG*D8*19750101", b"DMG*D8*20270202"),),
    )
    pat, sub = rule_hits(result, "codes.birth-date")
    assert "patient's birth date" in pat.message and "future" in pat.message
    assert "subscriber's birth date" in sub.message and "future" in sub.message


# -- codes.zip / codes.billing-zip-plus4 / codes.state --------------------------------------


def test_addresses_fine() -> None:
    result = ok(run(Claim(lines=(Line("D1110"),), dependent=True)))
    for rule in ("codes.zip", "codes.billing-zip-plus4", "codes.state"):
        assert rule_hits(result, rule) == []


def test_zip_with_hyphen() -> None:
    result = patched(
        Claim(lines=(Line("D1110"),), claim_id="Z1"),
        replace=((BILLING_N4, b"N4*COLUMBUS*OH*43215-1234~"),),
    )
    hit = one(result, "codes.zip")
    assert hit.claim_id == "Z1"
    assert hit.line is None
    assert hit.location.segment_id == "N4"
    assert hit.element == "N403"
    assert "billing provider (2010AA)" in hit.message and "'43215-1234'" in hit.message
    assert hit.hint.startswith("Remove the hyphen")
    assert rule_hits(result, "codes.billing-zip-plus4") == []


def test_subscriber_zip_lost_zero_stays_private() -> None:
    result = patched(
        Claim(lines=(Line("D1110"),)), replace=((SUBSCRIBER_N4, b"N4*BOSTON*MA*2115~"),)
    )
    hit = one(result, "codes.zip")
    assert "subscriber (2010BA) ZIP code (N403)" in hit.message
    assert "2115" not in hit.message
    assert "leading zero" in hit.hint


def test_billing_zip_five_digits() -> None:
    result = patched(
        Claim(lines=(Line("D1110"),), claim_id="Z3"),
        replace=((BILLING_N4, b"N4*COLUMBUS*OH*43215~"),),
    )
    hit = one(result, "codes.billing-zip-plus4", Severity.WARNING)
    assert hit.claim_id == "Z3"
    assert hit.line is None
    assert hit.element == "N403"
    assert "43215" in hit.message
    assert rule_hits(result, "codes.zip") == []


def test_canadian_address() -> None:
    result = patched(
        Claim(lines=(Line("D1110"),)), replace=((BILLING_N4, b"N4*TORONTO*ON*M5V2T6*CA~"),)
    )
    for rule in ("codes.zip", "codes.billing-zip-plus4", "codes.state"):
        assert rule_hits(result, rule) == []


def test_province_on_us_address() -> None:
    result = patched(
        Claim(lines=(Line("D1110"),), claim_id="ST1"),
        replace=((BILLING_N4, b"N4*COLUMBUS*ON*432151234~"),),
    )
    hit = one(result, "codes.state")
    assert hit.claim_id == "ST1"
    assert hit.line is None
    assert hit.element == "N402"
    assert hit.location.segment_id == "N4"
    assert "state ON (N402) is a Canadian province code" in hit.message


def test_us_state_on_canadian_address() -> None:
    result = patched(
        Claim(lines=(Line("D1110"),)), replace=((BILLING_N4, b"N4*TORONTO*OH*M5V2T6*CA~"),)
    )
    hit = one(result, "codes.state")
    assert "is a US code, but the address is in Canada" in hit.message


def test_unknown_state_left_to_the_syntax_check() -> None:
    data = build(Claim(lines=(Line("D1110"),))).replace(BILLING_N4, b"N4*COLUMBUS*XX*432151234~")
    result = check_bytes(data, "test.837", Options(today=TODAY))
    assert [f.rule for f in structural(result)] == ["x12.element.invalid-code"]
    assert rule_hits(result, "codes.state") == []


def test_missing_state_and_zip() -> None:
    result = patched(Claim(lines=(Line("D1110"),)), replace=((SUBSCRIBER_N4, b"N4*COLUMBUS~"),))
    assert "has no state" in one(result, "codes.state").message
    assert "has no ZIP code" in one(result, "codes.zip").message


# -- rules/codes.toml -----------------------------------------------------------------------


def test_policy_file_loads() -> None:
    pol = policy()
    assert isinstance(pol, CodePolicy)
    assert pol.areas_accepted == {"00", "01", "02", "10", "20", "30", "40"}
    assert "03" in pol.areas_unusual
    assert pol.posterior_only == {"B", "O"} and pol.anterior_only == {"F", "I"}
    assert load_policy(builtin("codes.toml"), builtin_path("codes.toml")) == pol


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"surfaces": {"posterior_only": ["B"], "anterior_only": ["I"]}}, "area"),
        ({"area": {"accepted": ["00"]}, "surfaces": {}}, "area.unusual"),
        ({"area": {"accepted": "00", "unusual": []}, "surfaces": {}}, "area.accepted"),
        ({"area": {"accepted": ["00"], "unusual": ["00"]}, "surfaces": {}}, "area.unusual"),
        ({"area": {"accepted": [0], "unusual": []}, "surfaces": {}}, "area.accepted[0]"),
        (
            {
                "area": {"accepted": ["00"], "unusual": []},
                "surfaces": {"posterior_only": ["X"], "anterior_only": []},
            },
            "surfaces.posterior_only",
        ),
        (
            {
                "area": {"accepted": ["00"], "unusual": []},
                "surfaces": {"posterior_only": ["O"], "anterior_only": ["O"]},
            },
            "surfaces.anterior_only",
        ),
    ],
)
def test_policy_file_errors(data: dict[str, object], key: str) -> None:
    with pytest.raises(RuleDataError) as err:
        load_policy(data, Path("codes.toml"))
    assert err.value.key == key
    assert err.value.path == "codes.toml"


# -- the public corpus: what Claredi's validator reported, we report ------------------------

# Claredi's lists: H24402 (check digit), H20617 (format: first digit not 1 or 2), H25377
# (billing ZIP not 9 digits). Each NPI it names, and the ZIP edit, must be found here.
CLAREDI_NPI = {
    "1-bad.txt": {"1234567890", "9876543210"},
    "2a-bad.txt": {"4567890123", "6789012345"},
    "2b-bad.txt": {"4567890123", "6789012345"},
    "3-bad.txt": {"4567890123", "6789012345"},
    "4-bad.txt": {"2345678901"},
}


@pytest.mark.parametrize(("name", "npis"), sorted(CLAREDI_NPI.items()))
def test_claredi_bad_npi_and_zip_found(corpus: Path, name: str, npis: set[str]) -> None:
    data = (corpus / "stupidedi-claredi/X224-HC837" / name).read_bytes()
    result = check_bytes(data[data.index(b"ISA") :], name, Options(today=TODAY))
    hits = rule_hits(result, "codes.npi-check-digit")
    assert {h.message.split(" NPI ")[1].split()[0] for h in hits} == npis
    assert all(h.severity is Severity.ERROR for h in hits)
    [zip4] = rule_hits(result, "codes.billing-zip-plus4")
    assert zip4.location.segment_id == "N4"


@pytest.mark.parametrize("n", ["1", "2a", "2b", "3", "4"])
def test_claredi_good_files_pass_the_code_sets(corpus: Path, n: str) -> None:
    data = (corpus / f"stupidedi-claredi/X224-HC837/{n}-good.txt").read_bytes()
    result = check_bytes(data[data.index(b"ISA") :], n, Options(today=TODAY))
    assert [f.rule for f in result.findings if f.rule.startswith("codes.")] == []
