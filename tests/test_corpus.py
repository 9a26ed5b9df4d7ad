"""Regression tests over the public corpus (../shared/corpus/public); skipped when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from x12dental.api import validate
from x12dental.findings import Severity
from x12dental.pipeline import FileResult, check_path

from .conftest import CORPUS

DENTAL_EXAMPLES = [
    "stupidedi/claim-from-billing-provider-to-payer-a.edi",
    "stupidedi/claim-from-billing-provider-to-payer-b.edi",
    "stupidedi/claim-multi-quantity-single-line.edi",
    "stupidedi/commercial-health-insurance.edi",
    "stupidedi/multiple-tooth-numbers.edi",
    "stupidedi/orthodontic-treatment-plan.edi",
    "stupidedi/predetermination-of-benefits.edi",
    "stupidedi/sales-tax.edi",
    "edifabric/DentalClaim.txt",
]
CLAREDI_GOOD = [f"stupidedi-claredi/X224-HC837/{n}-good.txt" for n in ("1", "2a", "2b", "3", "4")]
# Claim and service-line counts of every 837D file (SOURCES.md lists them).
LINES = {
    "stupidedi/claim-from-billing-provider-to-payer-a.edi": 1,
    "stupidedi/claim-from-billing-provider-to-payer-b.edi": 1,
    "stupidedi/claim-multi-quantity-single-line.edi": 1,
    "stupidedi/commercial-health-insurance.edi": 2,
    "stupidedi/multiple-tooth-numbers.edi": 1,
    "stupidedi/orthodontic-treatment-plan.edi": 1,
    "stupidedi/predetermination-of-benefits.edi": 1,
    "stupidedi/sales-tax.edi": 3,
    "edifabric/DentalClaim.txt": 2,
    "stupidedi-claredi/X224-HC837/1-good.txt": 2,
    "stupidedi-claredi/X224-HC837/1-bad.txt": 2,
}

# The SNIP 1-2 errors each Claredi header lists, as (segment id, element or None).
_SHARED = {("GS", "GS01"), ("ST", "ST03"), ("CLM", "CLM07")}
CLAREDI_BAD = {
    "1-bad.txt": _SHARED,
    "2a-bad.txt": _SHARED,
    "2b-bad.txt": _SHARED | {("DMG", None), ("DTP", None)},
    "3-bad.txt": _SHARED | {("DMG", None), ("DTP", None)},
    "4-bad.txt": _SHARED,
}


def _check(corpus: Path, rel: str) -> FileResult:
    return check_path(corpus / rel, name=rel)


@pytest.mark.parametrize("rel", DENTAL_EXAMPLES)
def test_x12_examples_have_no_structural_error(corpus: Path, rel: str) -> None:
    result = _check(corpus, rel)
    # Structurally clean; several official examples carry NPIs failing the check digit and
    # 5-digit billing ZIPs (SOURCES.md), which the SNIP 5 rules rightly report.
    assert result.status != "rejected", [f.message for f in result.findings]
    assert [f for f in result.findings if f.snip <= 2] == []
    assert result.claims == 1


@pytest.mark.parametrize("rel", CLAREDI_GOOD)
def test_claredi_good_files_only_warn(corpus: Path, rel: str) -> None:
    result = _check(corpus, rel)
    assert result.count(Severity.ERROR) == 0, [f.message for f in result.findings]
    assert {f.rule for f in result.findings} == {
        "x12.envelope.text-before-isa",
        "x12.envelope.version-not-preferred",
    }
    assert result.claims == 1


@pytest.mark.parametrize(("name", "expected"), sorted(CLAREDI_BAD.items()))
def test_claredi_bad_files_report_their_structural_errors(
    corpus: Path, name: str, expected: set[tuple[str, str | None]]
) -> None:
    result = _check(corpus, f"stupidedi-claredi/X224-HC837/{name}")
    errors = [f for f in result.findings if f.severity is Severity.ERROR]
    assert errors and result.status == "rejected"
    for segment_id, element in expected:
        assert any(
            f.location.segment_id == segment_id and (element is None or f.element == element)
            for f in errors
        ), (segment_id, element, [(f.rule, f.location.segment_id, f.element) for f in errors])
    assert result.claims == 1


@pytest.mark.parametrize("rel", sorted(LINES))
def test_claims_and_lines_found(corpus: Path, rel: str) -> None:
    result = _check(corpus, rel)
    assert (result.claims, result.service_lines) == (1, LINES[rel])


def test_4010_file_is_rejected_as_unsupported(corpus: Path) -> None:
    result = _check(corpus, "oopfactory-x12parser/Spec_4.1.3_PredeterminationOfBenefits.txt")
    assert result.status == "rejected"
    (finding,) = [f for f in result.findings if f.severity is Severity.ERROR]
    assert finding.rule == "x12.envelope.version-unsupported"
    assert "not supported" in finding.message and "4010" in finding.message


@pytest.mark.parametrize(
    "rel",
    [
        "stupidedi-claredi/X222-HC837/3b-good.txt",
        "stupidedi-claredi/X223-HC837/3-bad.txt",
        "imsweb-x12-parser/x12_segment_errors.txt",
        "imsweb-x12-parser/x12_999_rejected.txt",
        "stupidedi/response-to-functional-group-containing-3-837s.edi",
        "oopfactory-x12parser/DHS_Wisconsin_Sample.txt",
    ],
)
def test_non_dental_files_are_named_as_such(corpus: Path, rel: str) -> None:
    result = _check(corpus, rel)
    assert result.status == "rejected"
    assert any(f.rule == "x12.envelope.not-837d" for f in result.findings)


def test_whole_corpus_goes_through(corpus: Path) -> None:
    report = validate(corpus)
    files = [f for f in report.files if not f.path.endswith(".md")]
    assert len(files) >= 30
    assert all(f.status != "unreadable" for f in files)
    doc = report.to_dict()
    assert doc["schema"] == "x12dental.report/1"


def test_corpus_fixture_points_at_shared() -> None:
    assert CORPUS.name == "public" and CORPUS.parent.name == "corpus"
