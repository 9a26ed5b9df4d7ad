"""Situational rules (SNIP 4): required-when and not-used-when across segments."""

from __future__ import annotations

from pathlib import Path

from x12dental.findings import Finding, Severity
from x12dental.pipeline import FileResult, Options, check_bytes

from .builders import TODAY, Claim, Line, build, rule_hits, run, structural


def patched(*claims: Claim, replace: tuple[tuple[bytes, bytes], ...] = (), **kw: str) -> bytes:
    """Build, then patch segments the builder cannot write; SE01 is recounted."""
    data = build(*claims, **kw)
    for old, new in replace:
        assert old in data, old
        data = data.replace(old, new)
    segments = data.split(b"~\n")
    st = next(i for i, s in enumerate(segments) if s.startswith(b"ST*"))
    se = next(i for i, s in enumerate(segments) if s.startswith(b"SE*"))
    segments[se] = b"SE*%d*0001" % (se - st + 1)
    return b"~\n".join(segments)


def edited(*claims: Claim, replace: tuple[tuple[bytes, bytes], ...] = (), **kw: str) -> FileResult:
    """Build, patch and check a file that must stay structurally valid."""
    result = check_bytes(patched(*claims, replace=replace, **kw), "test.837", Options(today=TODAY))
    assert structural(result) == []
    return result


def ok(result: FileResult) -> FileResult:
    assert structural(result) == []
    return result


def one(result: FileResult, rule: str, severity: Severity = Severity.ERROR) -> Finding:
    [hit] = rule_hits(result, rule)
    assert hit.severity is severity
    assert hit.snip == 4
    return hit


CLM = b"CLM*CLM001*100***11:B:1*Y*A*Y*Y~"

# -- situational.patient-loop ----------------------------------------------------------------


def test_patient_loop_consistent() -> None:
    assert rule_hits(ok(run(Claim(lines=(Line("D1110"),)))), "situational.patient-loop") == []
    result = ok(run(Claim(lines=(Line("D1110"),), dependent=True)))
    assert rule_hits(result, "situational.patient-loop") == []


def test_patient_loop_self_with_2000c() -> None:
    result = edited(
        Claim(lines=(Line("D1110"),), dependent=True, claim_id="PL1"),
        replace=((b"SBR*P**GRP1", b"SBR*P*18*GRP1"),),
    )
    hit = one(result, "situational.patient-loop")
    assert hit.claim_id == "PL1"
    assert hit.line is None and hit.procedure is None
    assert hit.location.segment_id == "HL"
    assert "SBR02" in hit.message and "(18)" in hit.message


def test_patient_loop_dependent_without_2000c() -> None:
    result = edited(
        Claim(lines=(Line("D1110"),), claim_id="PL2"),
        replace=((b"SBR*P*18*GRP1", b"SBR*P**GRP1"),),
    )
    hit = one(result, "situational.patient-loop")
    assert hit.claim_id == "PL2"
    assert "SBR02 is empty" in hit.message and "no 2000C" in hit.message


def test_patient_loop_pat01_self() -> None:
    # PAT01 = 18 is not in the map's code list either: the structural check rejects the PAT
    # segment ("does not fit"); this rule says why.
    data = patched(
        Claim(lines=(Line("D1110"),), dependent=True, claim_id="PL3"),
        replace=((b"PAT*19~", b"PAT*18~"),),
    )
    result = check_bytes(data, "test.837", Options(today=TODAY))
    assert {f.rule for f in structural(result)} == {"x12.segment.unexpected", "x12.segment.missing"}
    hit = one(result, "situational.patient-loop")
    assert hit.claim_id == "PL3"
    assert "PAT01 is 18" in hit.message
    assert hit.location.segment_id == "HL"


# -- situational.replacement-without-f8 -----------------------------------------------------


def test_replacement_with_f8() -> None:
    result = ok(run(Claim(lines=(Line("D1110"),), frequency="7", refs=(("F8", "ICN123"),))))
    assert rule_hits(result, "situational.replacement-without-f8") == []


def test_replacement_without_f8() -> None:
    result = ok(run(Claim(lines=(Line("D1110"),), frequency="7", claim_id="R7")))
    hit = one(result, "situational.replacement-without-f8")
    assert hit.claim_id == "R7"
    assert hit.line is None
    assert hit.location.segment_id == "CLM"
    assert hit.element == "CLM05-3"
    assert "replacement" in hit.message


def test_void_without_f8() -> None:
    result = ok(run(Claim(lines=(Line("D1110"),), frequency="8", refs=(("G1", "PA1"),))))
    hit = one(result, "situational.replacement-without-f8")
    assert "void" in hit.message


# -- situational.predetermination-with-dates ------------------------------------------------


def test_predetermination_without_dates() -> None:
    result = ok(run(Claim(lines=(Line("D2740", teeth=(("30", ""),)),), predetermination=True)))
    assert rule_hits(result, "situational.predetermination-with-dates") == []
    assert rule_hits(result, "situational.service-date-missing") == []


def test_predetermination_with_line_date() -> None:
    result = ok(
        run(
            Claim(
                lines=(Line("D1110"), Line("D2740", teeth=(("30", ""),), date="20260910")),
                predetermination=True,
                claim_id="PB1",
            )
        )
    )
    hit = one(result, "situational.predetermination-with-dates")
    assert hit.claim_id == "PB1"
    assert hit.line == 2
    assert hit.procedure == "D2740"
    assert hit.tooth == "30"
    assert hit.location.segment_id == "DTP"
    assert "20260910" in hit.message


def test_predetermination_with_claim_date() -> None:
    result = edited(
        Claim(lines=(Line("D1110"),), predetermination=True),
        replace=((b"NM1*82*", b"DTP*472*D8*20260910~\nNM1*82*"),),
    )
    hit = one(result, "situational.predetermination-with-dates")
    assert hit.line is None
    assert "2300" in hit.message


# -- situational.service-date-missing ---------------------------------------------------------


def test_service_date_at_claim_or_line() -> None:
    assert (
        rule_hits(ok(run(Claim(lines=(Line("D1110"),)))), "situational.service-date-missing") == []
    )
    result = ok(run(Claim(lines=(Line("D1110", date="20260910"),), date=None)))
    assert rule_hits(result, "situational.service-date-missing") == []


def test_service_date_missing_on_one_line() -> None:
    result = ok(
        run(
            Claim(
                lines=(Line("D1110", date="20260910"), Line("D0120")),
                date=None,
                claim_id="SD1",
            )
        )
    )
    hit = one(result, "situational.service-date-missing", Severity.WARNING)
    assert hit.claim_id == "SD1"
    assert hit.line == 2
    assert hit.procedure == "D0120"
    assert hit.location.segment_id == "SV3"


def test_service_date_missing_everywhere() -> None:
    result = ok(run(Claim(lines=(Line("D1110"), Line("D0120")), date=None, claim_id="SD2")))
    hit = one(result, "situational.service-date-missing", Severity.WARNING)
    assert hit.claim_id == "SD2"
    assert hit.line is None
    assert "2 lines" in hit.message


# -- situational.future-service-date / service-after-transaction -----------------------------


def test_service_date_in_the_past() -> None:
    result = ok(run(Claim(lines=(Line("D1110"),), date="20261101"), created="20261101"))
    assert rule_hits(result, "situational.future-service-date") == []
    assert rule_hits(result, "situational.service-after-transaction") == []


def test_future_service_date() -> None:
    result = ok(
        run(
            Claim(
                lines=(Line("D1110"), Line("D2391", teeth=(("8", "M"),), date="20261210")),
                claim_id="FD1",
            )
        )
    )
    hit = one(result, "situational.future-service-date")
    assert hit.claim_id == "FD1"
    assert hit.line == 2
    assert hit.procedure == "D2391"
    assert hit.tooth == "8"
    assert hit.location.segment_id == "DTP"
    assert "20261210" in hit.message and "2026-11-20" in hit.message
    # reported once: the same date is after BHT04 too
    assert rule_hits(result, "situational.service-after-transaction") == []


def test_service_after_transaction() -> None:
    result = ok(
        run(Claim(lines=(Line("D1110", date="20261105"),), claim_id="AT1"), created="20261101")
    )
    hit = one(result, "situational.service-after-transaction")
    assert hit.claim_id == "AT1"
    assert hit.line == 1
    assert hit.procedure == "D1110"
    assert "BHT04 20261101" in hit.message


def test_future_claim_level_range_end() -> None:
    result = edited(
        Claim(lines=(Line("D1110"),)),
        replace=((b"DTP*472*D8*20260910", b"DTP*472*RD8*20261101-20261201"),),
    )
    hit = one(result, "situational.future-service-date")
    assert hit.line is None
    assert "claim's date of service" in hit.message


# -- situational.replacement-without-prior-date / prior-placement-not-before-service ----------


def _crown(prosthesis: str, *dates: tuple[str, str]) -> Line:
    return Line("D2740", charge="1100", teeth=(("30", ""),), prosthesis=prosthesis, dates=dates)


def test_replacement_with_prior_date() -> None:
    result = ok(run(Claim(lines=(_crown("R", ("441", "20150312")),))))
    assert rule_hits(result, "situational.replacement-without-prior-date") == []
    assert rule_hits(result, "situational.prior-placement-not-before-service") == []
    result = ok(run(Claim(lines=(_crown("R", ("139", "20150101")),))))
    assert rule_hits(result, "situational.replacement-without-prior-date") == []


def test_initial_placement_needs_no_prior_date() -> None:
    result = ok(run(Claim(lines=(_crown("I"),))))
    assert rule_hits(result, "situational.replacement-without-prior-date") == []


def test_replacement_without_prior_date() -> None:
    result = ok(run(Claim(lines=(Line("D1110"), _crown("R")), claim_id="RP1")))
    hit = one(result, "situational.replacement-without-prior-date")
    assert hit.claim_id == "RP1"
    assert hit.line == 2
    assert hit.procedure == "D2740"
    assert hit.tooth == "30"
    assert hit.element == "SV305"
    assert hit.location.segment_id == "SV3"


def test_prior_placement_same_day() -> None:
    result = ok(run(Claim(lines=(_crown("R", ("441", "20260910")),), claim_id="RP2")))
    hit = one(result, "situational.prior-placement-not-before-service")
    assert hit.claim_id == "RP2"
    assert hit.line == 1
    assert hit.procedure == "D2740"
    assert hit.location.segment_id == "DTP"
    assert "same day" in hit.message


def test_prior_placement_after_service() -> None:
    result = ok(run(Claim(lines=(_crown("R", ("441", "20261001")),))))
    hit = one(result, "situational.prior-placement-not-before-service")
    assert "after its date of service 20260910" in hit.message


# -- situational.accident-without-date ------------------------------------------------------


def test_accident_with_date() -> None:
    result = edited(
        Claim(lines=(Line("D7140"),), extra=("DTP*439*D8*20260901~",)),
        replace=((CLM, CLM[:-1] + b"**OA~"),),
    )
    assert rule_hits(result, "situational.accident-without-date") == []


def test_accident_without_date() -> None:
    result = edited(
        Claim(lines=(Line("D7140"),), claim_id="CLM001"),
        replace=((CLM, CLM[:-1] + b"**AA:::NY~"),),
    )
    hit = one(result, "situational.accident-without-date", Severity.WARNING)
    assert hit.claim_id == "CLM001"
    assert hit.line is None
    assert hit.element == "CLM11"
    assert "AA auto accident" in hit.message


# -- situational.diagnosis-pointer ----------------------------------------------------------

HI = ("HI*ABK:K029*ABF:K081~",)
SV3 = b"SV3*AD:D7140*100~"


def _pointers(pointers: bytes) -> tuple[bytes, bytes]:
    return SV3, SV3[:-1] + b"*********" + pointers + b"~"


def test_diagnosis_pointers_in_range() -> None:
    result = edited(Claim(lines=(Line("D7140"),), extra=HI), replace=(_pointers(b"1:2"),))
    assert rule_hits(result, "situational.diagnosis-pointer") == []


def test_diagnosis_pointer_past_hi() -> None:
    result = edited(
        Claim(lines=(Line("D7140"),), extra=HI, claim_id="DX1"), replace=(_pointers(b"1:3"),)
    )
    hit = one(result, "situational.diagnosis-pointer")
    assert hit.claim_id == "DX1"
    assert hit.line == 1
    assert hit.procedure == "D7140"
    assert hit.element == "SV311"
    assert "diagnosis 3" in hit.message and "only 2" in hit.message


def test_diagnosis_pointer_without_hi() -> None:
    result = edited(Claim(lines=(Line("D7140"),)), replace=(_pointers(b"1"),))
    hit = one(result, "situational.diagnosis-pointer")
    assert "no HI" in hit.message


# -- situational.rd8-range ------------------------------------------------------------------


def test_rd8_forward() -> None:
    result = edited(
        Claim(lines=(Line("D1110"),)),
        replace=((b"DTP*472*D8*20260910", b"DTP*472*RD8*20260901-20260915"),),
    )
    assert rule_hits(result, "situational.rd8-range") == []
    assert [f.rule for f in result.findings] == []


def test_rd8_backward() -> None:
    result = edited(
        Claim(lines=(Line("D1110"),), claim_id="RD1"),
        replace=((b"DTP*472*D8*20260910", b"DTP*472*RD8*20260915-20260901"),),
    )
    hit = one(result, "situational.rd8-range")
    assert hit.claim_id == "RD1"
    assert hit.line is None
    assert hit.location.segment_id == "DTP"
    assert "20260915-20260901" in hit.message


# -- the public corpus ---------------------------------------------------------------------


def test_claredi_missing_service_date(corpus: Path) -> None:
    """Claredi's H45159 on 4-bad (no DTP*472, no CLM19) is our warning; 4-good adds the date."""
    folder = corpus / "stupidedi-claredi/X224-HC837"
    for name, expected in (("4-bad.txt", 1), ("4-good.txt", 0)):
        data = (folder / name).read_bytes()
        result = check_bytes(data[data.index(b"ISA") :], name, Options(today=TODAY))
        hits = rule_hits(result, "situational.service-date-missing")
        assert len(hits) == expected
        assert all(h.severity is Severity.WARNING and h.procedure == "D8080" for h in hits)
