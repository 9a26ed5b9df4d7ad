"""Balancing: amounts that must add up across segments (SNIP 3).

A payer's adjudication system re-adds every total it is sent. When the claim
total, a line's adjudication or another payer's payment does not balance, the
claim is rejected before anyone looks at the dentistry, so these are errors.
Amounts are compared as exact decimals: 100 and 100.00 are equal, 99.999 and
100 are not.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal

from x12dental import model as m
from x12dental.engine import Hit, RuleContext, claim_rule, line_rule


def money(value: Decimal) -> str:
    """An amount as a biller reads it: two decimals, more only when the file sent more."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        return str(value)
    return f"{value:.2f}"


def _difference(found: Decimal, expected: Decimal) -> str:
    diff = found - expected
    return f"{money(abs(diff))} too {'high' if diff > 0 else 'low'}"


def cas_total(adjustments: Iterable[m.Adjustment]) -> Decimal | None:
    """Sum of every CAS amount (CAS03/06/09/12/15/18); None when one cannot be read."""
    total = Decimal(0)
    for adj in adjustments:
        for amount in adj.amounts:
            if amount is None:
                return None
            total += amount
    return total


def _payer_lines(claim: m.Claim, payer_id: str) -> list[tuple[m.ServiceLine, m.LineAdjudication]]:
    return [
        (line, adj)
        for line in claim.lines
        for adj in line.adjudications
        if payer_id and adj.payer_id == payer_id
    ]


_ZERO = Decimal(0)  # immutable: made once, not per claim


@claim_rule(
    "balancing.claim-total",
    snip=3,
    severity="error",
    summary="CLM02 (total claim charge) does not equal the sum of the line charges (SV302)",
    fix="Make CLM02 the exact sum of the SV302 charges of the claim's lines.",
)
def claim_total(claim: m.Claim, ctx: RuleContext) -> Iterable[Hit]:
    """The total claim charge must be the sum of the service line charges.

    Why it matters: payers re-add the lines and reject (277CA) a claim whose
    total disagrees, because they cannot tell which figure the office meant.
    It usually means a line was deleted or repriced after the total was
    computed, or a charge was rounded on one side only.

    Example: `CLM*A1*250***11:B:1...` with two lines `SV3*AD:D2391*120` and
    `SV3*AD:D1110*120` (sum 240.00).

    Instead: send `CLM*A1*240...`, or correct the line charges, so that CLM02
    equals the sum of SV302 to the cent.
    """
    expected = claim.total_charge
    lines = claim.lines
    if expected is None or not lines:
        return ()
    # A plain loop (no comprehension frame, no cast call): this runs for every claim. Every
    # charge is looked at before any is added (an unreadable one ends the check).
    charges: list[Decimal] = []
    for line in lines:
        charge = line.charge
        if charge is None:
            return ()  # an unreadable SV302 is a syntax error reported on its own
        charges.append(charge)
    total = sum(charges, _ZERO)
    if expected == total:
        return ()
    count = len(lines)
    return (
        Hit(
            f"CLM02 total charge is {money(expected)} but the {count} service "
            f"line{'s' if count != 1 else ''} (SV302) add up to {money(total)}: CLM02 is "
            f"{_difference(expected, total)}",
            element="CLM02",
        ),
    )


@line_rule(
    "balancing.line-adjudication",
    snip=3,
    severity="error",
    summary="a 2430 line adjudication does not balance: SV302 minus the CAS amounts differs from SVD02",
    fix="Copy the other payer's line payment (SVD02) and every line adjustment (CAS) from its 835.",
    needs="adjudications",
)
def line_adjudication(line: m.ServiceLine, claim: m.Claim, ctx: RuleContext) -> Iterable[Hit]:
    """For each other payer that adjudicated a line (2430), the line must balance.

    The line charge (SV302) minus the adjustments that payer made to it (2430
    CAS amounts) must equal what it paid for the line (SVD02). A secondary
    payer computes its own share from these figures; when they do not add up it
    rejects the claim rather than guess.

    Example: `SV3*AD:D2392*150` with `SVD*PAYERA*90*AD:D2392**1` and
    `CAS*CO*45*50` (150 - 50 = 100, not 90).

    Instead: report every adjustment of the primary payer's 835 for that line
    (here a missing `CAS*PR*1*10`), so that charge - adjustments = paid.
    """
    if line.charge is None or not line.adjudications:
        return ()
    return _line_adjudication_hits(line, line.charge)


def _line_adjudication_hits(line: m.ServiceLine, charge: Decimal) -> Iterator[Hit]:
    for adj in line.adjudications:
        adjusted = cas_total(adj.adjustments)
        if adj.paid_amount is None or adjusted is None:
            continue
        expected = charge - adjusted
        if adj.paid_amount != expected:
            yield Hit(
                f"line {line.number} ({line.procedure}): other payer {adj.payer_id} paid "
                f"{money(adj.paid_amount)} (SVD02), but the line charge {money(charge)} "
                f"minus its adjustments (CAS) {money(adjusted)} leaves {money(expected)}: "
                f"SVD02 is {_difference(adj.paid_amount, expected)}",
                line=line,
                where=adj.where,
                element="SVD02",
            )


@claim_rule(
    "balancing.cob-payer-paid",
    snip=3,
    severity="error",
    summary="another payer's line payments minus its claim adjustments do not equal its AMT*D",
    fix="Report the other payer's paid amount (2320 AMT*D) and line payments (SVD02) from the same 835.",
)
def cob_payer_paid(claim: m.Claim, ctx: RuleContext) -> Iterable[Hit]:
    """When another payer's line adjudications (2430) are sent, they must agree with its total.

    For each other payer (2320) with a paid amount (AMT*D) and 2430 lines whose
    SVD01 is that payer's id (2330B NM109): the sum of its line payments (SVD02)
    minus its claim-level adjustments (2320 CAS) must equal AMT*D. Secondary
    payers reject coordination-of-benefits claims that do not balance, since
    they cannot tell what the primary payer really paid.

    Example: `AMT*D*150` with lines paid `SVD*PAYERA*100` and `SVD*PAYERA*80`
    and no claim-level CAS (100 + 80 = 180, not 150).

    Instead: take AMT*D, the claim-level CAS and every SVD02 from the same
    remittance (835) of that payer.
    """
    if not claim.other_payers:
        return ()
    return _cob_payer_paid_hits(claim)


def _cob_payer_paid_hits(claim: m.Claim) -> Iterator[Hit]:
    for other in claim.other_payers:
        payer_id = other.payer.id if other.payer else ""
        lines = _payer_lines(claim, payer_id)
        if other.paid_amount is None or not lines:
            continue
        paid = [adj.paid_amount for _, adj in lines]
        claim_adjusted = cas_total(other.adjustments)
        if claim_adjusted is None or any(p is None for p in paid):
            continue
        line_paid = sum((p for p in paid if p is not None), Decimal(0))
        expected = line_paid - claim_adjusted
        if other.paid_amount != expected:
            yield Hit(
                f"other payer {payer_id} paid {money(other.paid_amount)} (2320 AMT*D), but its "
                f"{len(lines)} line payment{'s' if len(lines) != 1 else ''} (SVD02) total "
                f"{money(line_paid)} and its claim adjustments (2320 CAS) {money(claim_adjusted)}, "
                f"which leaves {money(expected)}: AMT*D is "
                f"{_difference(other.paid_amount, expected)}",
                where=other.where,
            )


@claim_rule(
    "balancing.cob-claim-balance",
    snip=3,
    severity="error",
    summary="another payer's paid amount plus all its adjustments does not equal CLM02",
    fix="Report every claim and line adjustment (CAS) of the other payer's 835, and its paid amount.",
)
def cob_claim_balance(claim: m.Claim, ctx: RuleContext) -> Iterable[Hit]:
    """What another payer paid plus what it adjusted must account for the whole charge.

    For each other payer (2320) with a paid amount (AMT*D): AMT*D plus its
    claim-level adjustments (2320 CAS) plus its line-level adjustments (2430 CAS
    on the lines whose SVD01 is that payer) must equal the total charge (CLM02).
    Every dollar billed is either paid or adjusted (contractual, patient
    responsibility...); a secondary payer rejects a claim where dollars are
    unaccounted for, because its own liability is computed from them.

    Example: `CLM*A1*200` with `CAS*PR*1*30` and `AMT*D*150` (150 + 30 = 180,
    not 200).

    Instead: copy all of the primary payer's adjustments (here the missing 20.00,
    e.g. `CAS*CO*45*20`) so that paid + adjusted = charged.
    """
    if not claim.other_payers:
        return ()
    return _cob_claim_balance_hits(claim)


def _cob_claim_balance_hits(claim: m.Claim) -> Iterator[Hit]:
    if claim.total_charge is None:
        return
    for other in claim.other_payers:
        if other.paid_amount is None:
            continue
        payer_id = other.payer.id if other.payer else ""
        claim_adjusted = cas_total(other.adjustments)
        line_adjusted = cas_total(
            a for _, adj in _payer_lines(claim, payer_id) for a in adj.adjustments
        )
        if claim_adjusted is None or line_adjusted is None:
            continue
        accounted = other.paid_amount + claim_adjusted + line_adjusted
        if accounted != claim.total_charge:
            detail = f"claim adjustments (2320 CAS) {money(claim_adjusted)}"
            if line_adjusted:
                detail += f" and line adjustments (2430 CAS) {money(line_adjusted)}"
            yield Hit(
                f"other payer {payer_id or '(no 2330B id)'} paid {money(other.paid_amount)} "
                f"(AMT*D) with {detail}, which accounts for {money(accounted)} of the "
                f"{money(claim.total_charge)} charged (CLM02): "
                f"{money(abs(claim.total_charge - accounted))} "
                f"{'unaccounted for' if accounted < claim.total_charge else 'too much'}",
                where=other.where,
            )
