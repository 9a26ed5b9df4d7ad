"""The 277CA writer: one status per claim, valid against pyx12's own X214 map, deterministic."""

from __future__ import annotations

import datetime as dt
import io
import logging
import random
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
from lxml import etree

from x12dental import ack277
from x12dental import model as m
from x12dental.ack277 import RULE_STATUS, Status, claim_verdicts, statuses_for, write_277ca
from x12dental.findings import Finding, Severity
from x12dental.packs import settings_from_packs
from x12dental.pipeline import FileResult, Options, check_bytes, check_path
from x12dental.synthetic import Delimiters, GenOptions, applicable_kinds, generate, mutate

from .builders import Claim, Line, run
from .conftest import CORPUS, SAMPLES

DENTAL_CORPUS = [
    "edifabric/DentalClaim.txt",
    *(f"stupidedi-claredi/X224-HC837/{n}-{k}.txt" for n in ("1", "2a", "2b", "3", "4") for k in ("good", "bad")),
    "stupidedi/claim-from-billing-provider-to-payer-a.edi",
    "stupidedi/claim-from-billing-provider-to-payer-b.edi",
    "stupidedi/claim-multi-quantity-single-line.edi",
    "stupidedi/commercial-health-insurance.edi",
    "stupidedi/multiple-tooth-numbers.edi",
    "stupidedi/orthodontic-treatment-plan.edi",
    "stupidedi/predetermination-of-benefits.edi",
    "stupidedi/sales-tax.edi",
]  # fmt: skip


# --------------------------------------------------------------------------------------------
# Helpers: pyx12 as the judge, and a small reader for what we wrote
# --------------------------------------------------------------------------------------------


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def pyx12_check(text: str, tmp_path: Path) -> tuple[bool, list[str]]:
    """pyx12 with its default maps (277.5010.X214.xml); errors are read from its logger."""
    import pyx12.params
    import pyx12.x12n_document

    path = tmp_path / "ack.277"
    path.write_text(text)
    handler = _Collect()
    logger = logging.getLogger("pyx12")
    saved = (logger.level, logging.root.manager.disable)
    logger.setLevel(logging.ERROR)
    logging.disable(logging.NOTSET)
    logger.addHandler(handler)
    try:
        valid = pyx12.x12n_document.x12n_document(
            pyx12.params.params(),
            str(path),
            fd_997=None,
            fd_html=None,
            fd_json=io.StringIO(),
        )
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logging.disable(saved[1])
    return bool(valid), handler.messages


def assert_valid(text: str | None, tmp_path: Path) -> str:
    assert text is not None
    valid, errors = pyx12_check(text, tmp_path)
    assert valid and errors == [], errors[:10]
    return text


def segments(text: str) -> list[list[str]]:
    """Segments as element lists, components always joined with ':' whatever ISA16 says."""
    element, component, terminator = text[3], text[104], text[105]
    return [
        [e.replace(component, ":") for e in s.strip().split(element)]
        for s in text.split(terminator)
        if s.strip()
    ]


@attrs.define
class Entry:
    """One 2200D as written: the claim's TRN02, its STCs, REFs, DTP and 2220D lines."""

    claim_id: str
    patient: list[str]
    provider: list[str]
    stcs: list[list[str]] = attrs.field(factory=list)
    refs: dict[str, str] = attrs.field(factory=dict)
    dtp: list[str] = attrs.field(factory=list)
    lines: list[dict[str, list[str]]] = attrs.field(factory=list)


def entries(text: str) -> list[Entry]:
    out: list[Entry] = []
    level, patient, provider = "", [""], [""]
    for seg in segments(text):
        tag = seg[0]
        if tag == "HL":
            level = seg[3]
        elif tag == "NM1" and seg[1] == "QC":
            patient = seg
        elif tag == "NM1" and seg[1] == "85":
            provider = seg
        elif tag == "TRN" and level == "PT":
            out.append(Entry(seg[2], patient, provider))
        elif not out or level != "PT":
            continue
        elif tag == "SVC":
            out[-1].lines.append({"SVC": seg})
        elif out[-1].lines:
            out[-1].lines[-1][tag if tag != "REF" else "REF*" + seg[1]] = seg
        elif tag == "STC":
            out[-1].stcs.append(seg)
        elif tag == "REF":
            out[-1].refs[seg[1]] = seg[2]
        elif tag == "DTP":
            out[-1].dtp = seg
    return out


def category(stc: list[str]) -> str:
    return stc[1].split(":")[0]


def check_claims_answered(result: FileResult, text: str) -> list[Entry]:
    """Every claim once, in a 2200D with its CLM01, CLM02 as STC04 and its dates."""
    got = entries(text)
    assert sorted(e.claim_id for e in got) == sorted(c.claim_id for c in result.claim_results)
    by_id = {c.claim_id: c for c in result.claim_results}
    for e in got:
        claim = by_id[e.claim_id]
        assert e.stcs, e.claim_id
        assert {stc[4] for stc in e.stcs} == {claim.total_charge}
        accepted = [stc for stc in e.stcs if stc[3] == "WQ"]
        if accepted:
            assert len(e.stcs) == 1 and e.stcs[0][1] == "A2:20"
            assert e.refs.get("1K")
        else:
            assert all(category(stc) in {"A3", "A6", "A7", "A8"} for stc in e.stcs)
            assert all(stc[3] == "U" for stc in e.stcs)
            assert all(len(stc) == 13 and "x12dental rule" in stc[12] for stc in e.stcs)
            assert "1K" not in e.refs
        if claim.trace:
            assert e.refs["D9"] == claim.trace
        if claim.date_from and claim.date_to and claim.date_from != claim.date_to:
            assert e.dtp == ["DTP", "472", "RD8", f"{claim.date_from}-{claim.date_to}"]
        elif claim.date_from:
            assert e.dtp == ["DTP", "472", "D8", claim.date_from]
    return got


def check_batch_totals(text: str) -> None:
    """2200B/2200C counts and amounts add up to the claims under them."""
    segs = segments(text)
    starts = [i for i, s in enumerate(segs) if s[0] == "ST"]
    for start in starts:
        end = next(i for i in range(start, len(segs)) if segs[i][0] == "SE")
        body = text_of(segs[start : end + 1])
        claims = entries(body)
        qty = {s[1]: int(s[2]) for s in segs[start:end] if s[0] == "QTY"}
        accepted = [e for e in claims if e.stcs[0][3] == "WQ"]
        assert qty.get("90", 0) == len(accepted)
        assert qty.get("AA", 0) == len(claims) - len(accepted)
        batch_stc = next(s for s in segs[start:end] if s[0] == "STC")
        total = sum((Decimal(e.stcs[0][4]) for e in claims), Decimal(0))
        assert Decimal(batch_stc[4]) == total


def text_of(segs: list[list[str]]) -> str:
    """Re-join parsed segments with the default delimiters, behind a dummy 106-char ISA."""
    isa = "ISA" + "*" + "x" * 100 + ":~"
    return isa + "".join("*".join(s) + "~" for s in segs)


# --------------------------------------------------------------------------------------------
# The done-when
# --------------------------------------------------------------------------------------------


def _batch_with_one_bad_claim() -> FileResult:
    return run(
        Claim(lines=(Line("D2391", teeth=(("3", "O"),)),), claim_id="GOOD1"),
        Claim(
            lines=(Line("D0120"), Line("D6011", refs=(("6R", "LN0002"),), date="20260910")),
            claim_id="BAD1",
            refs=(("D9", "TRACE77"),),
            member_id="M555",
            patient=("ROE", "RICHARD"),
        ),
        Claim(
            lines=(Line("D1120"),),
            claim_id="GOOD2",
            dependent=True,
            patient=("DOE", "KID"),
            birth_date="20150101",
        ),
    )


def test_one_bad_claim_is_rejected_and_the_good_ones_accepted(tmp_path: Path) -> None:
    result = _batch_with_one_bad_claim()
    text = assert_valid(write_277ca(result), tmp_path)
    got = {e.claim_id: e for e in check_claims_answered(result, text)}
    assert [stc[1:4] for stc in got["GOOD1"].stcs] == [["A2:20", "20261101", "WQ"]]
    assert [stc[1:4] for stc in got["GOOD2"].stcs] == [["A2:20", "20261101", "WQ"]]
    (bad,) = got["BAD1"].stcs
    assert bad[1:5] == ["A6:244", "20261101", "U", "200"]  # tooth number missing
    assert bad[12] == "x12dental rule implant.d6011-no-tooth (line 2)"
    assert got["BAD1"].refs == {"D9": "TRACE77"}
    # the rejected line gets its own 2220D: procedure, status, line item control number, date
    (line,) = got["BAD1"].lines
    assert line["SVC"][1:3] == ["AD:D6011", "100"]
    assert line["STC"][1:4] == ["A6:244", "20261101", "U"]
    assert line["REF*FJ"] == ["REF", "FJ", "LN0002"]
    assert line["DTP"] == ["DTP", "472", "D8", "20260910"]
    check_batch_totals(text)


def test_warnings_alone_do_not_reject(tmp_path: Path) -> None:
    result = _batch_with_one_bad_claim()
    warned = {f.claim_id for f in result.findings if f.severity is Severity.WARNING}
    assert "BAD1" in warned  # the D6011 warnings ride along with the error
    clean = run(Claim(lines=(Line("D6011", teeth=(("8", ""),)),), claim_id="WARNED"))
    assert {f.severity for f in clean.findings} == {Severity.WARNING}
    (entry,) = entries(assert_valid(write_277ca(clean), tmp_path))
    assert entry.stcs[0][1:4] == ["A2:20", "20261101", "WQ"]


def test_clean_batch(tmp_path: Path) -> None:
    result = check_path(SAMPLES / "clean-batch.837")
    text = assert_valid(write_277ca(result), tmp_path)
    got = check_claims_answered(result, text)
    assert len(got) == 9 and all(e.stcs[0][1] == "A2:20" for e in got)
    segs = segments(text)
    assert [s[0] for s in segs[:4]] == ["ISA", "GS", "ST", "BHT"]
    assert segs[1][1] == "HN" and segs[1][8] == "005010X214"
    assert segs[2] == ["ST", "277", "0001", "005010X214"]
    assert segs[3][1:3] == ["0085", "08"] and segs[3][6] == "TH"
    # two billing providers (2000C), each with its own claims
    assert len([s for s in segs if s[0] == "HL" and s[3] == "19"]) == 2
    check_batch_totals(text)


def test_no_claims_no_277ca() -> None:
    for name in ("bad/no-claims.837", "bad/empty.837", "bad/binary.837", "bad/version-4010.837"):
        assert write_277ca(check_path(SAMPLES / name)) is None, name


def test_same_input_same_bytes() -> None:
    data = (SAMPLES / "clean-batch.837").read_bytes()
    first = write_277ca(check_bytes(data, "a.837"))
    second = write_277ca(check_bytes(data, "b.837", Options(today=dt.date(2031, 1, 1))))
    assert first is not None and first == second
    # nothing from the clock: today's date is not in it (unless the input has it)
    today = dt.date.today()
    for stamp in (today.strftime("%Y%m%d"), today.strftime("%y%m%d")):
        assert stamp in data.decode() or stamp not in first


def test_control_numbers_differ_between_inputs() -> None:
    a = write_277ca(check_path(SAMPLES / "bad/clm02-not-balanced.837"))
    b = write_277ca(check_path(SAMPLES / "bad/invalid-code-value.837"))
    assert a is not None and b is not None
    isa_a, isa_b = segments(a)[0], segments(b)[0]
    assert isa_a[13] != isa_b[13]
    # and the envelope answers the submitter: parties swapped from the input
    source = check_path(SAMPLES / "bad/clm02-not-balanced.837").interchange_list[0]
    assert isa_a[6].strip() == source.receiver and isa_a[8].strip() == source.sender


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_generated_files(seed: int, tmp_path: Path) -> None:
    options = GenOptions(
        claims=24, providers=2, dependent_share=0.5, interchanges=2, groups=2, transactions=2
    )
    data = generate(seed, options).text.encode()
    result = check_bytes(data, "gen.837")
    text = assert_valid(write_277ca(result), tmp_path)
    check_claims_answered(result, text)
    check_batch_totals(text)
    segs = segments(text)
    assert sum(1 for s in segs if s[0] == "ISA") == 2
    assert sum(1 for s in segs if s[0] == "GS") == 4
    assert sum(1 for s in segs if s[0] == "ST") == 8  # one 277 per 837 transaction set
    assert text == write_277ca(check_bytes(data, "again.837"))


def test_input_delimiters_are_kept(tmp_path: Path) -> None:
    options = GenOptions(claims=6, delimiters=Delimiters("|", ">", "!", "~"))
    result = check_bytes(generate(7, options).text.encode(), "pipes.837")
    text = assert_valid(write_277ca(result), tmp_path)
    assert text.startswith("ISA|") and text[104] == ">"
    check_claims_answered(result, text)


def test_predetermination_still_has_a_service_date(tmp_path: Path) -> None:
    result = run(
        Claim(lines=(Line("D2391", teeth=(("3", "O"),)),), predetermination=True, date=None)
    )
    (entry,) = entries(assert_valid(write_277ca(result), tmp_path))
    assert entry.dtp == ["DTP", "472", "D8", "20261101"]  # the 837's BHT04


# --------------------------------------------------------------------------------------------
# Rejections by the 999 and TA1
# --------------------------------------------------------------------------------------------


def test_syntax_error_inside_a_claim_rejects_its_transaction_set(tmp_path: Path) -> None:
    """The 999 rejects the whole set (IK5 R) for it, so no claim of the set is accepted."""
    result = check_path(SAMPLES / "bad/invalid-code-value.837")
    got = check_claims_answered(result, assert_valid(write_277ca(result), tmp_path))
    first, second = got
    assert [stc[1] for stc in first.stcs] == ["A3:481"]
    assert first.stcs[0][12] == "x12dental rule x12.element.invalid-code"
    assert [stc[1] for stc in second.stcs] == ["A3:481"]
    assert second.stcs[0][12] == (
        "transaction set 0001 rejected in the 999 (x12dental rule x12.element.invalid-code)"
    )


def test_syntax_error_in_a_set_the_999_accepts_is_code_684() -> None:
    finding = Finding("x12.element.invalid-code", Severity.ERROR, 2, "m")
    assert statuses_for(finding) == (Status("A3", "481"),)
    assert statuses_for(finding, envelope_rejected=False) == (Status("A3", "684"),)


def test_rule_errors_in_the_999_reject_the_whole_set(tmp_path: Path) -> None:
    """With a pack's snip_3_7_in_999 the 999 rejects the set, and so does the 277CA."""
    result = _batch_with_one_bad_claim()
    text = assert_valid(write_277ca(result, include_snip_3_7=True), tmp_path)
    got = {e.claim_id: e for e in check_claims_answered(result, text)}
    assert [stc[1] for stc in got["BAD1"].stcs] == ["A6:244"]
    for good in ("GOOD1", "GOOD2"):
        (stc,) = got[good].stcs
        assert stc[1] == "A3:481"
        assert stc[12] == (
            "transaction set 0001 rejected in the 999 (x12dental rule implant.d6011-no-tooth)"
        )


def _verdicts_of_999_and_ta1(result: FileResult, include: bool) -> tuple[set[str], set[str]]:
    """(rejected ST02s per the 999, rejected ISA13s per the TA1), for one-group files."""
    ack999 = pytest.importorskip("x12dental.ack999")
    ta1 = pytest.importorskip("x12dental.ta1")
    sets: set[str] = set()
    for seg in segments(ack999.write_999(result, include_snip_3_7=include) or "ISA" + "*" * 103):
        if seg[0] == "AK2":
            current = seg[2]
        elif seg[0] == "IK5" and seg[1] == "R":
            sets.add(current)
    interchanges = {
        seg[1]
        for seg in segments(ta1.write_ta1(result) or "ISA" + "*" * 103)
        if seg[0] == "TA1" and seg[4] == "R"
    }
    return sets, interchanges


def _mutated(seed: int) -> bytes:
    text = generate(seed, GenOptions(claims=6, transactions=2)).text
    kinds = applicable_kinds(text)
    rng = random.Random(seed)
    return mutate(text, rng, kinds[seed % len(kinds)]).text.encode()


@pytest.mark.parametrize("include", [False, True])
def test_277ca_agrees_with_the_999_and_ta1(include: bool) -> None:
    """A claim is accepted exactly when its set and interchange are and it has no error."""
    settings = settings_from_packs(("example-strict",))
    inputs = [
        *(check_path(p) for p in sorted((SAMPLES / "bad").glob("*.837"))),
        *(check_bytes(_mutated(seed), "mutated.837") for seed in range(12)),
        check_path(SAMPLES / "clean-batch.837", Options(settings=settings)),
    ]
    for result in inputs:
        if not result.claim_results:
            continue
        sets, interchanges = _verdicts_of_999_and_ta1(result, include)
        for v in claim_verdicts(result, include_snip_3_7=include):
            env = v.claim.envelope
            own = any(
                f.claim_id == v.claim.claim_id
                and f.severity is Severity.ERROR
                and f.location.transaction_control in (env.transaction_control, None)
                for f in result.findings
            )
            expected = (
                env.transaction_control not in sets
                and env.interchange_control not in interchanges
                and not own
            )
            assert v.accepted == expected, (result.path, v.claim.claim_id, v.reasons)


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("bad/se-count-wrong.837", "x12.transaction.segment-count"),
        ("bad/missing-required-segment.837", "x12.segment.missing"),
    ],
)
def test_transaction_set_rejected_by_999_rejects_every_claim(
    name: str, rule: str, tmp_path: Path
) -> None:
    result = check_path(SAMPLES / name)
    got = check_claims_answered(result, assert_valid(write_277ca(result), tmp_path))
    assert len(got) == 2
    for e in got:
        (stc,) = e.stcs
        assert stc[1] == "A3:481"
        assert stc[12] == f"transaction set 0001 rejected in the 999 (x12dental rule {rule})"


def test_broken_envelope_rejects_its_claims(tmp_path: Path) -> None:
    result = check_path(SAMPLES / "bad/truncated.837")
    got = check_claims_answered(result, assert_valid(write_277ca(result), tmp_path))
    assert all(e.stcs[0][1] == "A3:481" for e in got)
    assert got[0].stcs[0][12].startswith("interchange 000000305 rejected")


def test_version_the_payer_does_not_accept(tmp_path: Path) -> None:
    result = check_path(
        SAMPLES / "bad/version-a1.837", Options(settings=settings_from_packs(("example-strict",)))
    )
    got = check_claims_answered(result, assert_valid(write_277ca(result), tmp_path))
    assert all(e.stcs[0][1] == "A3:493" for e in got)
    assert "payer.version-not-accepted" in got[0].stcs[0][12]


def test_rules_of_a_payer_pack(tmp_path: Path) -> None:
    """SNIP 7 errors reject with their own codes, a second code where the first needs one."""
    result = run(
        Claim(lines=(Line("D2740", teeth=(("3", ""),), prosthesis="I"),), claim_id="CROWN"),
        Claim(lines=(Line("D9972", area="01"),), claim_id="BLEACH"),
        Claim(lines=(Line("D0120"),), claim_id="EXAM"),
        packs=("example-strict",),
    )
    text = assert_valid(write_277ca(result), tmp_path)
    got = {e.claim_id: e for e in check_claims_answered(result, text)}
    crown = [(stc[1], stc[10], stc[12]) for stc in got["CROWN"].stcs]
    assert crown == [
        ("A6:294", "A6:489", "x12dental rule payer.attachment-required (line 1)"),
        ("A6:252:PR", "", "x12dental rule payer.prior-auth-required (line 1)"),
    ]
    (line,) = got["CROWN"].lines
    assert line["STC"][1] == "A6:294" and line["STC"][10:12] == ["A6:489", "A6:252"]
    assert got["BLEACH"].stcs[0][1] == "A7:454"
    assert got["EXAM"].stcs[0][1] == "A2:20"
    check_batch_totals(text)


# --------------------------------------------------------------------------------------------
# PHI: names and ids only where the TR3 puts them
# --------------------------------------------------------------------------------------------


def test_names_and_ids_only_in_their_nm1(tmp_path: Path) -> None:
    result = _batch_with_one_bad_claim()
    text = assert_valid(write_277ca(result), tmp_path)
    segs = segments(text)
    for claim in result.claim_results:
        person = claim.patient or claim.subscriber
        assert person is not None and claim.subscriber is not None
        private = {person.last_or_org, person.first, claim.subscriber.id}
        for seg in segs:
            for value in private & set(seg):
                assert seg[:2] == ["NM1", "QC"], (value, seg)
            free_text = seg[12] if seg[0] == "STC" and len(seg) > 12 else ""
            assert not any(v in free_text for v in private)
        if claim.patient is not None:  # a dependent: the subscriber's name is not sent
            assert claim.subscriber.last_or_org + "*" + claim.subscriber.first not in text
        provider = claim.billing_provider
        assert provider is not None
        for seg in segs:
            if provider.id in seg:
                assert seg[:2] == ["NM1", "85"]
            if claim.claim_id in seg:
                assert seg[:2] == ["TRN", "2"]
    for birth in ("19800115", "20150101", "19750101"):  # DMG02 of the input
        assert birth not in text


def test_dependent_is_named_with_the_subscribers_member_id(tmp_path: Path) -> None:
    result = _batch_with_one_bad_claim()
    got = {e.claim_id: e for e in entries(assert_valid(write_277ca(result), tmp_path))}
    assert got["GOOD2"].patient[1:10] == ["QC", "1", "DOE", "KID", "", "", "", "MI", "M123456789"]


@attrs.frozen
class _HeaderTransaction:
    """A Transaction that also carries the 837 header parties (1000A, 1000B) and BHT03."""

    control: str
    envelope: m.Envelope
    creation_date: dt.date | None
    submitter: m.Party
    receiver: m.Party
    reference: str


def test_submitter_and_receiver_from_the_837_header(tmp_path: Path) -> None:
    """Once the model carries 1000A/1000B and BHT03, the 277CA names them (and NM102 = 1)."""
    result = _batch_with_one_bad_claim()
    tx = result.transaction_list[0]
    where = m.Where("NM1", 3, None)
    submitter = m.Party("41", "1", "KEYES", "ANNA", "46", "TST01", where)
    receiver = m.Party("40", "2", "ACME DENTAL PLAN", "", "46", "AD101", where)
    stand_in = _HeaderTransaction(
        tx.control, tx.envelope, tx.creation_date, submitter, receiver, "BATCH0042"
    )
    provider = result.claim_results[0].billing_provider
    assert provider is not None
    person = _PersonProvider(provider.last_or_org, "", provider.id_qualifier, provider.id, "1")
    claims = tuple(attrs.evolve(c, billing_provider=person) for c in result.claim_results)
    changed = attrs.evolve(result, transaction_list=(stand_in,), claim_results=claims)
    segs = segments(assert_valid(write_277ca(changed), tmp_path))
    nm1 = {s[1]: s for s in segs if s[0] == "NM1"}
    assert nm1["PR"] == ["NM1", "PR", "2", "ACME DENTAL PLAN", "", "", "", "", "PI", "AD101"]
    assert nm1["41"] == ["NM1", "41", "1", "KEYES", "ANNA", "", "", "", "46", "TST01"]
    assert nm1["85"][:3] == ["NM1", "85", "1"]
    assert ["TRN", "2", "BATCH0042"] in segs


@attrs.frozen
class _PersonProvider:
    """A PartyName that carries NM102 (entity_type), as the report asks for."""

    last_or_org: str
    first: str
    id_qualifier: str
    id: str
    entity_type: str


# --------------------------------------------------------------------------------------------
# Status codes
# --------------------------------------------------------------------------------------------


def _pyx12_code_sets() -> dict[str, set[str]]:
    import pyx12

    tree = etree.parse(str(Path(pyx12.__file__).parent / "map" / "codes.xml"))
    return {
        str(cs.findtext("id")): {str(c.text) for c in cs.iter("code")}
        for cs in tree.iter("codeset")
    }


def test_status_table_uses_codes_pyx12_knows() -> None:
    sets = _pyx12_code_sets()
    statuses = [s for row in RULE_STATUS.values() for s in row] + [
        ack277.SYNTAX_IN_CLAIM,
        ack277.ENVELOPE_REJECTED,
        ack277.ACCEPTED_STATUS,
        Status("A7", ack277.MISSING_OR_INVALID),
        Status("A7", ack277.LINE_INFORMATION),
    ]
    for s in statuses:
        assert s.category in sets["claim_status_cat"], s
        assert s.code in sets["claim_status"], s


def test_every_builtin_rule_has_a_status() -> None:
    from x12dental.catalog import all_rules

    sets = _pyx12_code_sets()
    for rule in all_rules():
        finding = Finding(rule.id, Severity.ERROR, rule.snip, "m", line=1)
        for s in statuses_for(finding):
            assert s.code in sets["claim_status"], (rule.id, s)
        if rule.snip >= 3 and rule.id != "x12dental.rule-crashed":
            assert rule.id in RULE_STATUS, rule.id


def test_entity_follows_the_loop_the_finding_names() -> None:
    def npi(message: str) -> Status:
        return statuses_for(Finding("codes.npi-check-digit", Severity.ERROR, 5, message))[0]

    assert npi("the billing provider (2010AA) NPI 1 (NM109) is short") == Status("A7", "562", "85")
    assert npi("the rendering provider (2310B) NPI 1 (NM109) is short").entity == "82"
    assert npi("the rendering provider of line 2 (2420A) NPI 1").entity == "82"
    assert npi("no loop named").entity == "85"


def test_unknown_rules_get_a_family_status() -> None:
    plugin = Finding("acme.tooth-required", Severity.ERROR, 7, "m", line=3)
    assert statuses_for(plugin) == (Status("A6", "21"), Status("A6", "247"))
    assert statuses_for(Finding("acme.odd", Severity.ERROR, 7, "m")) == (Status("A7", "21"),)


def test_verdicts_follow_file_order() -> None:
    result = _batch_with_one_bad_claim()
    verdicts = claim_verdicts(result)
    assert [v.claim.claim_id for v in verdicts] == ["GOOD1", "BAD1", "GOOD2"]
    assert [v.accepted for v in verdicts] == [True, False, True]


# --------------------------------------------------------------------------------------------
# The public corpus
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rel", DENTAL_CORPUS)
def test_corpus_files(rel: str, tmp_path: Path) -> None:
    if not CORPUS.is_dir():
        pytest.skip("public corpus ../shared/corpus/public is not present")
    result = check_path(CORPUS / rel, name=rel)
    assert result.claim_results
    text = assert_valid(write_277ca(result), tmp_path)
    check_claims_answered(result, text)
    check_batch_totals(text)
