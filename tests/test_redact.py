"""`--redact`: names, member ids, addresses and birth dates never reach a redacted report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import attrs
import pytest

from tests.builders import TODAY, Claim, Line, build
from x12dental.findings import AckCode, Finding, Location, Severity
from x12dental.html_report import render_html
from x12dental.pipeline import FileResult, Options, check_bytes
from x12dental.redact import (
    MASK,
    Secrets,
    collect,
    iter_segments,
    redact_file,
    redact_finding,
    redact_report,
)
from x12dental.report import Report
from x12dental.text_report import render_text

MEMBER = "MZX9Q88123" * 9  # 90 characters: NM109 allows 80, so a finding quotes it
SSN = "987654321"
SUBSCRIBER_BIRTH = "19770412"
PATIENT_BIRTH = "20150412"
PHI = (
    "ZQUILLSON",
    "BARNABY",
    "PRIMROSE",
    "MZX9Q88123",
    SSN,
    SUBSCRIBER_BIRTH,
    PATIENT_BIRTH,
    "WYVERN",
    "GLIMMERTON",
    "43999",
)


def _recount(text: str) -> str:
    lines = text.split("\n")
    st = next(i for i, ln in enumerate(lines) if ln.startswith("ST*"))
    se = next(i for i, ln in enumerate(lines) if ln.startswith("SE*"))
    lines[se] = f"SE*{se - st + 1}*0001~"
    return "\n".join(lines)


def phi_file() -> bytes:
    """A dependent patient, her subscriber with a street, an SSN and an over-long member id."""
    text = build(
        Claim(
            lines=(Line("D2391", teeth=(("3", "O"),)),),
            dependent=True,
            patient=("ZQUILLSON", "PRIMROSE"),
            member_id=MEMBER,
            birth_date=PATIENT_BIRTH,
            notes=("PRIMROSE ZQUILLSON REPORTS SENSITIVITY",),
        )
    ).decode()
    text = text.replace("NM1*IL*1*DOE*JOHN****", "NM1*IL*1*ZQUILLSON*BARNABY*Q**III*")
    text = text.replace("N3*1 ELM ST~", "N3*77 WYVERN HOLLOW*APT 9~", 1)
    text = text.replace("N4*COLUMBUS*OH*43215~", "N4*GLIMMERTON*OH*43999~", 1)
    text = text.replace("DMG*D8*19750101*M~", f"DMG*D8*{SUBSCRIBER_BIRTH}*M~\nREF*SY*{SSN}~")
    return _recount(text).encode()


@pytest.fixture(scope="module")
def phi() -> tuple[bytes, FileResult]:
    data = phi_file()
    result = check_bytes(data, "phi.837", Options(today=TODAY))
    assert [f.rule for f in result.findings] == ["x12.element.too-long"]
    return data, result


def _leaks(text: str) -> list[str]:
    return [p for p in PHI if p in text]


def test_secrets_mask_whole_words_word_sequences_and_date_forms() -> None:
    s = Secrets()
    s.add("ZQUILLSON")
    s.add("1 ELM ST")
    s.add("Q")  # too short to hunt in text
    s.add("19770412")
    text = (
        "Zquillson's claim: 1 ELM ST, line 1, st 9; born 1977-04-12 (04/12/1977, 19770412); "
        "ZQUILLSONX stays"
    )
    assert s.mask(text) == (
        f"{MASK}'s claim: {MASK}, line 1, st 9; born {MASK} ({MASK}, {MASK}); ZQUILLSONX stays"
    )
    assert s.mask("Q stays") == "Q stays"
    assert Secrets().mask(text) == text


def test_segment_view_masks_person_loops_only(phi: tuple[bytes, FileResult]) -> None:
    data, _ = phi
    import io

    shown: dict[str, list[str]] = {}
    for seg in iter_segments(io.BytesIO(data)):
        shown.setdefault(seg.seg_id, []).append(seg.shown(Secrets()))
    nm1 = shown["NM1"]
    assert f"NM1*IL*1*{MASK}*{MASK}*{MASK}**{MASK}*MI*{MASK}" in nm1
    assert f"NM1*QC*1*{MASK}*{MASK}" in nm1
    # providers, payers, the submitter are not people to hide
    assert "NM1*85*2*BRIGHT SMILE DENTAL*****XX*1234567893" in nm1
    assert "NM1*82*1*SMITH*ANNA****XX*1999999992" in nm1
    assert "NM1*41*2*TEST CLEARINGHOUSE*****46*TST01" in nm1
    assert shown["N3"] == ["N3*100 MAIN ST", f"N3*{MASK}*{MASK}", f"N3*{MASK}"]
    assert shown["N4"] == ["N4*COLUMBUS*OH*432151234", *[f"N4*{MASK}*OH*{MASK}"] * 2]
    assert shown["DMG"] == [f"DMG*D8*{MASK}*M", f"DMG*D8*{MASK}*F"]
    assert shown["REF"] == ["REF*EI*123456789", f"REF*SY*{MASK}"]
    assert shown["PAT"] == ["PAT*19"]
    assert shown["CLM"] == ["CLM*CLM001*100***11:B:1*Y*A*Y*Y"]
    # free text: the names collected from the file are masked in the note
    known = collect(check_bytes(data, "phi.837"), data)
    note = next(s for s in iter_segments(io.BytesIO(data)) if s.seg_id == "NTE")
    assert note.shown(known.secrets) == f"NTE*ADD*{MASK} {MASK} REPORTS SENSITIVITY"


@pytest.mark.parametrize("fmt", ["json", "text", "html"])
def test_phi_absent_when_redacted_present_when_not(phi: tuple[bytes, FileResult], fmt: str) -> None:
    data, result = phi
    report = Report((result,))
    sources: dict[str, bytes | Path] = {"phi.837": data}

    def render(redact: bool) -> str:
        if fmt == "json":
            return (redact_report(report, sources) if redact else report).to_json()
        if fmt == "text":
            return render_text(report, sources=sources, redact=redact)
        return render_html(report, sources, redact=redact)

    plain, masked = render(False), render(True)
    assert _leaks(masked) == []
    assert MASK in masked
    if fmt == "json":
        assert _leaks(plain) == ["MZX9Q88123"]  # the too-long member id is quoted
        assert json.loads(masked)["files"][0]["findings"][0]["rule"] == "x12.element.too-long"
    elif fmt == "text":  # the segment of the finding: the subscriber's NM1
        assert _leaks(plain) == ["ZQUILLSON", "BARNABY", "MZX9Q88123"]
    else:
        assert _leaks(plain) == list(PHI)


def test_redacted_html_shows_initials_and_keeps_what_the_biller_needs(
    phi: tuple[bytes, FileResult],
) -> None:
    data, result = phi
    page = render_html(Report((result,)), {"phi.837": data}, redact=True)
    assert "P. Z." in page and "B. Z." in page
    for kept in ("CLM001", "BRIGHT SMILE DENTAL", "SMITH", "D2391", "20260910", "REPORTS"):
        assert kept in page
    assert "Redacted" in page


def test_redact_report_is_a_masked_copy(phi: tuple[bytes, FileResult]) -> None:
    data, result = phi
    report = Report((result,))
    redacted = redact_report(report, {"phi.837": data})
    (orig,), (red,) = report.findings, redacted.findings
    # the message quotes the value cut short: it is masked as a quoted value of a person segment
    assert MEMBER[:30] in orig.message and orig.ack is not None and orig.ack.bad_value == MEMBER
    assert "MZX9Q" not in red.message and f"found '{MASK}'" in red.message
    assert red.ack is not None and red.ack.bad_value == MASK
    assert attrs.evolve(red, message=orig.message, hint=orig.hint, ack=orig.ack) == orig
    assert redacted.summary() == report.summary()
    (claim,) = redacted.files[0].claim_results
    assert claim.subscriber is not None and claim.patient is not None
    assert (claim.subscriber.last_or_org, claim.subscriber.id) == (MASK, MASK)
    assert claim.subscriber.id_qualifier == "MI"
    assert claim.patient.first == MASK
    assert claim.claim_id == "CLM001" and claim.total_charge == "100"


def test_redact_report_reads_files_on_disk_by_default(
    phi: tuple[bytes, FileResult], tmp_path: Path
) -> None:
    data, _ = phi
    path = tmp_path / "phi.837"
    path.write_bytes(data)
    result = check_bytes(data, str(path), Options(today=TODAY))
    redacted = redact_report(Report((result,)))
    assert _leaks(redacted.to_json()) == []
    page = render_html(Report((result,)), redact=True)
    assert _leaks(page) == [] and "NM1*IL*1*" in page


def test_without_the_input_names_from_claims_and_person_segments_are_masked() -> None:
    claim = check_bytes(phi_file(), "phi.837", Options(today=TODAY))
    bare = attrs.evolve(claim, findings=())
    finding = Finding(
        rule="x.test",
        severity=Severity.ERROR,
        snip=1,
        message="NM103 found 'ZQUILLSONN' for PRIMROSE, born 2015-04-12",
        location=Location(segment_id="NM1", segment_position=14, transaction_control="0001"),
        ack=AckCode(level="ele", code="5", bad_value="ZQUILLSONN"),
    )
    known = collect(bare, None)
    out = redact_finding(finding, known, have_source=False)
    # names come from the claim results; the quoted value because NM1 may be a person's.
    # Without the file, the birth date is not known: only the DMG segment would mask it.
    assert out.message == f"NM103 found '{MASK}' for {MASK}, born 2015-04-12"
    assert out.ack is not None and out.ack.bad_value == MASK


def test_finding_on_a_provider_segment_keeps_its_quoted_value(
    phi: tuple[bytes, FileResult],
) -> None:
    data, result = phi
    finding = Finding(
        rule="x.test",
        severity=Severity.ERROR,
        snip=1,
        message="NM109 found '1234567893'",
        location=Location(
            segment_id="NM1",
            segment_position=8,
            interchange_control="000000101",
            group_control="101",
            transaction_control="0001",
        ),
        ack=AckCode(level="ele", code="7", bad_value="1234567893"),
    )
    file = attrs.evolve(result, findings=(finding,))
    redacted, _ = redact_file(file, data)
    assert redacted.findings[0].message == "NM109 found '1234567893'"


def test_mask_has_no_length_hint(phi: tuple[bytes, FileResult]) -> None:
    data, result = phi
    page = render_html(Report((result,)), {"phi.837": data}, redact=True)
    runs = {len(m) for m in re.findall(r"▒+", page)}
    assert runs == {len(MASK)}
