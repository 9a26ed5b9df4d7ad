"""Balancing rules (SNIP 3): claim total, 2430 line adjudication, other payers' totals.

The test builder has no coordination of benefits, so the COB files are written
here by hand: a secondary claim with one other payer (2320/2330A/2330B) and
its line adjudications (2430).
"""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from x12dental.findings import Severity
from x12dental.pipeline import FileResult, Options, check_bytes

from .builders import TODAY, Claim, Line, rule_hits, run, structural

OTHER_PAYER = "FDP01"


@attrs.frozen
class CobLine:
    code: str
    charge: str
    paid: str | None = None  # SVD02; None: no 2430 for this line
    cas: tuple[str, ...] = ()  # 2430 CAS segments without the "CAS*" prefix, e.g. "CO*45*50"
    payer: str = OTHER_PAYER  # SVD01


def cob_file(
    lines: tuple[CobLine, ...],
    *,
    paid: str | None,
    claim_cas: tuple[str, ...] = (),
    total: str | None = None,
    claim_id: str = "COB001",
) -> bytes:
    """A valid 837D secondary claim: the primary payer's payment in 2320 and 2430."""
    if total is None:
        total = str(sum(float(ln.charge) for ln in lines)).removesuffix(".0")
    cob = ["SBR*P*18*GRP9******CI~", *(f"CAS*{c}~" for c in claim_cas)]
    if paid is not None:
        cob.append(f"AMT*D*{paid}~")
    cob += [
        "OI***Y***Y~",
        "NM1*IL*1*DOE*JANE****MI*OTHER123~",
        f"NM1*PR*2*FIRST DENTAL PLAN*****PI*{OTHER_PAYER}~",
        "DTP*573*D8*20261001~",
    ]
    body = [
        "BHT*0019*00*B1*20261101*1200*CH~",
        "NM1*41*2*TEST CLEARINGHOUSE*****46*TST01~",
        "PER*IC*EDI*TE*8005551212~",
        "NM1*40*2*SECOND DENTAL PLAN*****46*SD202~",
        "HL*1**20*1~",
        "PRV*BI*PXC*1223G0001X~",
        "NM1*85*2*BRIGHT SMILE DENTAL*****XX*1234567893~",
        "N3*100 MAIN ST~",
        "N4*COLUMBUS*OH*432151234~",
        "REF*EI*123456789~",
        "HL*2*1*22*0~",
        "SBR*S*18*GRP1******CI~",
        "NM1*IL*1*DOE*JANE****MI*M123456789~",
        "N3*1 ELM ST~",
        "N4*COLUMBUS*OH*43215~",
        "DMG*D8*19800115*F~",
        "NM1*PR*2*SECOND DENTAL PLAN*****PI*SD202~",
        f"CLM*{claim_id}*{total}***11:B:1*Y*A*Y*Y~",
        "DTP*472*D8*20260910~",
        "NM1*82*1*SMITH*ANNA****XX*1999999992~",
        "PRV*PE*PXC*1223G0001X~",
        *cob,
    ]
    for n, ln in enumerate(lines, 1):
        body += [f"LX*{n}~", f"SV3*AD:{ln.code}*{ln.charge}~"]
        if ln.paid is not None:
            body.append(f"SVD*{ln.payer}*{ln.paid}*AD:{ln.code}**1~")
            body += [f"CAS*{c}~" for c in ln.cas]
            body.append("DTP*573*D8*20261001~")
    st = ["ST*837*0001*005010X224A2~", *body]
    st.append(f"SE*{len(st) + 1}*0001~")
    isa = (
        "ISA*00*          *00*          *ZZ*SUBMITTER      *ZZ*RECEIVER       "
        "*261101*1200*^*00501*000000101*0*T*:~"
    )
    gs = "GS*HC*SUBMITTER*RECEIVER*20261101*1200*101*X*005010X224A2~"
    return "\n".join([isa, gs, *st, "GE*1*101~", "IEA*1*000000101~", ""]).encode()


def check(data: bytes) -> FileResult:
    result = check_bytes(data, "cob.837", Options(today=TODAY))
    assert structural(result) == []
    return result


def _balanced() -> bytes:
    # Primary: 150 - 50 contractual = 100 on line 1; 80 - 10 = 70 on line 2 (paid 170),
    # 20 patient responsibility at claim level: AMT*D = 170 - 20 = 150; 150 + 20 + 60 = 230.
    return cob_file(
        (
            CobLine("D2392", "150", paid="100", cas=("CO*45*50",)),
            CobLine("D1110", "80", paid="70", cas=("CO*45*10",)),
        ),
        paid="150",
        claim_cas=("PR*1*20",),
    )


# -- balancing.claim-total ----------------------------------------------------------------


def test_claim_total_balanced() -> None:
    result = run(Claim(lines=(Line("D2391", charge="120"), Line("D1110", charge="120.00"))))
    assert structural(result) == []
    assert rule_hits(result, "balancing.claim-total") == []


def test_claim_total_off() -> None:
    result = run(
        Claim(
            lines=(Line("D2391", charge="120"), Line("D1110", charge="120")),
            total="250",
            claim_id="TOT1",
        )
    )
    assert structural(result) == []
    [hit] = rule_hits(result, "balancing.claim-total")
    assert hit.severity is Severity.ERROR
    assert hit.snip == 3
    assert hit.claim_id == "TOT1"
    assert hit.line is None and hit.procedure is None
    assert hit.location.segment_id == "CLM"
    assert hit.element == "CLM02"
    assert "250.00" in hit.message and "240.00" in hit.message
    assert "10.00 too high" in hit.message


def test_claim_total_exact_decimals() -> None:
    result = run(Claim(lines=(Line("D1110", charge="99.999"),), total="100"))
    assert structural(result) == []
    [hit] = rule_hits(result, "balancing.claim-total")
    assert "99.999" in hit.message and "0.001 too high" in hit.message


# -- balancing.line-adjudication ----------------------------------------------------------


def test_line_adjudication_balanced() -> None:
    result = check(_balanced())
    assert rule_hits(result, "balancing.line-adjudication") == []


def test_line_adjudication_off() -> None:
    data = cob_file(
        (
            CobLine("D2392", "150", paid="90", cas=("CO*45*50",)),
            CobLine("D1110", "80", paid="80"),
        ),
        paid="170",
    )
    result = check(data)
    [hit] = rule_hits(result, "balancing.line-adjudication")
    assert hit.severity is Severity.ERROR
    assert hit.snip == 3
    assert hit.claim_id == "COB001"
    assert hit.line == 1
    assert hit.procedure == "D2392"
    assert hit.location.segment_id == "SVD"
    assert hit.element == "SVD02"
    assert "paid 90.00" in hit.message and "leaves 100.00" in hit.message
    assert "10.00 too low" in hit.message


def test_line_adjudication_several_cas_amounts() -> None:
    # one CAS with two reasons (CAS03 + CAS06) and a second CAS group: 150 - 30 - 10 - 10 = 100
    data = cob_file(
        (CobLine("D2392", "150", paid="100", cas=("CO*45*30**253*10", "PR*2*10")),),
        paid="100",
        claim_cas=(),
    )
    result = check(data)
    assert rule_hits(result, "balancing.line-adjudication") == []
    assert rule_hits(result, "balancing.cob-payer-paid") == []
    assert rule_hits(result, "balancing.cob-claim-balance") == []


# -- balancing.cob-payer-paid -------------------------------------------------------------


def test_cob_payer_paid_balanced() -> None:
    result = check(_balanced())
    assert rule_hits(result, "balancing.cob-payer-paid") == []
    assert rule_hits(result, "balancing.cob-claim-balance") == []


def test_cob_payer_paid_off() -> None:
    data = cob_file(
        (
            CobLine("D2392", "150", paid="100", cas=("CO*45*50",)),
            CobLine("D1110", "80", paid="80"),
        ),
        paid="150",
    )
    result = check(data)
    [hit] = rule_hits(result, "balancing.cob-payer-paid")
    assert hit.severity is Severity.ERROR
    assert hit.snip == 3
    assert hit.claim_id == "COB001"
    assert hit.line is None
    assert hit.location.segment_id == "SBR"
    assert OTHER_PAYER in hit.message
    assert "180.00" in hit.message and "30.00 too low" in hit.message
    assert rule_hits(result, "balancing.line-adjudication") == []


def test_cob_payer_paid_needs_that_payers_lines() -> None:
    # the 2430 loops belong to another payer id: nothing to compare AMT*D with
    data = cob_file((CobLine("D2392", "150", paid="10", payer="ZZZ99"),), paid="150")
    result = check(data)
    assert rule_hits(result, "balancing.cob-payer-paid") == []


def test_cob_without_line_adjudication() -> None:
    # like the X12 COB examples: AMT*D and a claim-level CAS, no 2430
    result = check(cob_file((CobLine("D3320", "200"),), paid="150", claim_cas=("PR*1*50",)))
    assert rule_hits(result, "balancing.cob-payer-paid") == []
    assert rule_hits(result, "balancing.cob-claim-balance") == []


# -- balancing.cob-claim-balance ----------------------------------------------------------


def test_cob_claim_balance_off() -> None:
    result = check(cob_file((CobLine("D3320", "200"),), paid="150", claim_cas=("PR*1*30",)))
    [hit] = rule_hits(result, "balancing.cob-claim-balance")
    assert hit.severity is Severity.ERROR
    assert hit.snip == 3
    assert hit.claim_id == "COB001"
    assert hit.line is None
    assert hit.location.segment_id == "SBR"
    assert "180.00 of the 200.00" in hit.message
    assert "20.00 unaccounted for" in hit.message


def test_cob_claim_balance_counts_line_adjustments() -> None:
    # 230 charged = 160 paid + 20 claim CAS + 50 line CAS: balanced
    lines = (
        CobLine("D2392", "150", paid="100", cas=("CO*45*50",)),
        CobLine("D1110", "80", paid="80"),
    )
    result = check(cob_file(lines, paid="160", claim_cas=("PR*1*20",)))
    assert rule_hits(result, "balancing.cob-claim-balance") == []
    assert rule_hits(result, "balancing.cob-payer-paid") == []


def test_cob_claim_balance_off_with_line_adjustments() -> None:
    # line 2 paid 70 with its 10.00 adjustment left out: 150 + 20 + 50 = 220 of 230
    lines = (
        CobLine("D2392", "150", paid="100", cas=("CO*45*50",)),
        CobLine("D1110", "80", paid="70"),
    )
    result = check(cob_file(lines, paid="150", claim_cas=("PR*1*20",)))
    [hit] = rule_hits(result, "balancing.cob-claim-balance")
    assert "line adjustments (2430 CAS) 50.00" in hit.message
    assert "220.00 of the 230.00" in hit.message
    assert "10.00 unaccounted for" in hit.message
    [line_hit] = rule_hits(result, "balancing.line-adjudication")
    assert line_hit.line == 2 and line_hit.procedure == "D1110"
    assert rule_hits(result, "balancing.cob-payer-paid") == []


def test_no_amt_d_no_cob_balancing() -> None:
    result = check(cob_file((CobLine("D3320", "200", paid="10"),), paid=None))
    assert rule_hits(result, "balancing.cob-payer-paid") == []
    assert rule_hits(result, "balancing.cob-claim-balance") == []


# -- the public corpus: its COB claims balance ---------------------------------------------


@pytest.mark.parametrize(
    "rel",
    [
        "stupidedi/claim-from-billing-provider-to-payer-b.edi",
        "stupidedi-claredi/X224-HC837/2b-good.txt",
        "stupidedi-claredi/X224-HC837/3-good.txt",
    ],
)
def test_corpus_cob_claims_balance(corpus: Path, rel: str) -> None:
    data = (corpus / rel).read_bytes()
    result = check_bytes(data[data.index(b"ISA") :], rel, Options(today=TODAY))
    assert result.claims == 1
    assert [f.rule for f in result.findings if f.rule.startswith("balancing.")] == []
