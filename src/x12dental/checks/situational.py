"""Situational rules: "required when ...", "not used when ..." across segments (SNIP 4).

The 837D TR3 makes many segments depend on others: a replacement claim needs
the original's claim number, a predetermination must not carry dates of
service, a replacement crown needs the prior placement date. Payers run these
edits before adjudication and reject the claim (277CA) when one fails. The
dates checked here are the ones that say when the dentistry happened, so they
must also be possible: not in the future, not after the file was created.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

from x12dental import model as m
from x12dental.engine import Hit, RuleContext, claim_rule, line_date, line_rule

SERVICE = "472"
PRIOR_PLACEMENT = ("441", "139")
ACCIDENT = "439"
ACCIDENT_CAUSES = {"AA": "auto accident", "EM": "employment", "OA": "other accident"}


def _service_dates(claim: m.Claim) -> Iterator[tuple[m.DateValue, m.ServiceLine | None]]:
    """Every DTP*472 of the claim, with its line (None at claim level)."""
    claim_date = claim.date(SERVICE)
    if claim_date is not None:
        yield claim_date, None
    for line in claim.lines:
        own = line.date(SERVICE)
        if own is not None:
            yield own, line


def _last_day(date: m.DateValue) -> dt.date | None:
    return date.end or date.start


# The claim last asked about and its latest date of service: two rules ask per claim, and
# nearly every claim is dated in the past, so that one answer lets both stop at once.
_LATEST: list[tuple[m.Claim | None, dt.date | None]] = [(None, None)]


def _latest_service_day(claim: m.Claim) -> dt.date | None:
    """The last day of the claim's latest DTP*472 (claim or line), None when none is dated."""
    held, latest = _LATEST[0]
    if held is claim:
        return latest
    claim_date = claim.date(SERVICE)
    latest = _last_day(claim_date) if claim_date is not None else None
    for line in claim.lines:  # as _service_dates, without a generator step per date
        own = line.date(SERVICE)
        if own is not None:
            day = own.end or own.start
            if day is not None and (latest is None or day > latest):
                latest = day
    _LATEST[0] = (claim, latest)
    return latest


def _at(line: m.ServiceLine | None) -> str:
    if line is None:
        return "the claim's date of service (2300 DTP*472)"
    return f"the date of service of line {line.number} ({line.procedure})"


def _prior_placement(line: m.ServiceLine) -> m.DateValue | None:
    """The line's first DTP*441, else its first DTP*139 (PRIOR_PLACEMENT's order), in one
    pass over its dates."""
    later: m.DateValue | None = None
    for date in line.dates:
        qualifier = date.qualifier
        if qualifier == _PLACEMENT_FIRST:
            return date
        if qualifier == _PLACEMENT_THEN and later is None:
            later = date
    return later


_PLACEMENT_FIRST, _PLACEMENT_THEN = PRIOR_PLACEMENT


@claim_rule(
    "situational.patient-loop",
    snip=4,
    severity="error",
    summary="the 2000C patient loop does not match SBR02 (patient is, or is not, the subscriber)",
    fix="Send SBR02 = 18 and no 2000C when the patient is the subscriber; otherwise leave SBR02 "
    "empty and send the patient in 2000C with PAT01 giving the relationship.",
)
def patient_loop(claim: m.Claim, ctx: RuleContext) -> Iterable[Hit]:
    """A 2000C patient loop is sent exactly when the patient is not the subscriber.

    SBR02 = 18 says the patient is the subscriber: the claim then hangs directly
    under the subscriber (2000B) and no 2000C is sent. For a dependent, SBR02 is
    left empty and the patient comes in 2000C, with PAT01 saying how the patient
    is related to the subscriber (19 child, 01 spouse...), never 18. When the
    two disagree the payer cannot tell whose coverage and whose history the
    claim belongs to, and rejects it.

    Examples: `SBR*P*18***...` followed by `HL*3*2*23*0` and `PAT*19`; or
    `SBR*P****...` with no 2000C (the claim reads as the subscriber's own, but
    SBR02 says it is not); or `PAT*18`.

    Instead: match SBR02 to the loops: `SBR*P*18` alone, or `SBR*P*` plus a
    2000C with `PAT*19` (or the true relationship).
    """
    sub = claim.subscriber
    if sub is None:
        return ()
    pat = claim.patient
    if pat is None:
        if sub.relationship == "18":
            return ()
    elif sub.relationship != "18" and pat.relationship != "18":
        return ()
    return _patient_loop_hits(claim)


def _patient_loop_hits(claim: m.Claim) -> Iterator[Hit]:
    sub = claim.subscriber
    if sub is None:
        return
    pat = claim.patient
    if pat is not None and sub.relationship == "18":
        yield Hit(
            "SBR02 says the patient is the subscriber (18), but the claim is under a 2000C "
            "patient loop: a dependent's claim leaves SBR02 empty",
            where=sub.where,
            element="SBR02",
        )
    elif pat is None and sub.relationship != "18":
        said = f"is {sub.relationship!r}" if sub.relationship else "is empty"
        yield Hit(
            f"SBR02 {said}, so the patient is not the subscriber, but the claim has no 2000C "
            "patient loop: send SBR02 = 18 if the subscriber is the patient, else add the patient",
            where=sub.where,
            element="SBR02",
        )
    if pat is not None and pat.relationship == "18":
        yield Hit(
            "PAT01 is 18 (self) in the 2000C patient loop: a patient who is the subscriber has "
            "no 2000C loop; give the dependent's relationship (19 child, 01 spouse...)",
            where=pat.where,
            element="PAT01",
        )


@claim_rule(
    "situational.replacement-without-f8",
    snip=4,
    severity="error",
    summary="a replacement (7) or void (8) claim has no payer claim control number (REF*F8)",
    fix="Add REF*F8 with the payer's claim control number of the claim being replaced or voided.",
)
def replacement_without_f8(claim: m.Claim, ctx: RuleContext) -> Iterable[Hit]:
    """A replacement or void claim must say which claim it replaces.

    CLM05-3 = 7 (replacement of a prior claim) or 8 (void/cancel of a prior
    claim) acts on a claim the payer already has; the payer finds it by its own
    claim control number, sent in 2300 REF*F8. Without it the payer rejects the
    replacement, or worse, processes it as a new claim and pays twice.

    Example: `CLM*A1*240***11:B:7*...` with no `REF*F8`.

    Instead: add `REF*F8*<payer claim control number from the 835 or 277CA>`,
    or send CLM05-3 = 1 if this is really a new claim.
    """
    if claim.frequency not in ("7", "8"):
        return ()
    return _replacement_without_f8_hits(claim)


def _replacement_without_f8_hits(claim: m.Claim) -> Iterator[Hit]:
    if claim.frequency not in ("7", "8"):
        return
    if any(ref.value for ref in claim.references_of("F8")):
        return
    kind = "replacement" if claim.frequency == "7" else "void"
    yield Hit(
        f"CLM05-3 is {claim.frequency} ({kind} of a prior claim) but the claim has no REF*F8 "
        "with the payer's claim control number of the original claim",
        element="CLM05-3",
    )


@claim_rule(
    "situational.predetermination-with-dates",
    snip=4,
    severity="error",
    summary="a predetermination (CLM19 = PB) carries a date of service (DTP*472)",
    fix="Remove DTP*472 from a predetermination, or drop CLM19 = PB if the services were performed.",
)
def predetermination_with_dates(claim: m.Claim, ctx: RuleContext) -> Iterable[Hit]:
    """A predetermination describes planned treatment, so it has no date of service.

    CLM19 = PB asks the payer for an estimate before treatment. A DTP*472 (date
    of service) at claim or line level says the treatment was done: the payer
    cannot tell whether to estimate or to pay, and rejects the request.

    Example: `CLM*A1*1200***11:B:1*Y*A*Y*Y**********PB` followed by
    `DTP*472*D8*20260910`.

    Instead: send the predetermination without DTP*472; once treatment is done,
    send a claim (no CLM19) with the dates and the predetermination number in
    REF*G3.
    """
    if not claim.predetermination:
        return ()
    return _predetermination_with_dates_hits(claim)


def _predetermination_with_dates_hits(claim: m.Claim) -> Iterator[Hit]:
    if not claim.predetermination:
        return
    for date, line in _service_dates(claim):
        where = "2300" if line is None else f"line {line.number} ({line.procedure})"
        yield Hit(
            f"the claim is a predetermination (CLM19 = PB) but {where} has a date of service "
            f"(DTP*472 {date.raw})",
            line=line,
            where=date.where,
        )


@claim_rule(
    "situational.service-date-missing",
    snip=4,
    severity="warning",
    summary="a claim (not a predetermination) has a line without a date of service",
    fix="Send the date of service in 2300 DTP*472, or in 2400 DTP*472 on each line.",
)
def service_date_missing(claim: m.Claim, ctx: RuleContext) -> Iterable[Hit]:
    """A claim for performed services should say when each one was done.

    Unless the claim is a predetermination (CLM19 = PB), every line needs a date
    of service: its own 2400 DTP*472 or the claim's 2300 DTP*472. Payers check
    eligibility, frequency limits and the CDT version by that date, and most
    reject claims without it. It is a warning here, not an error, because three
    official X12 837D example files leave it out.

    Example: `CLM*A1*240***11:B:1*Y*A*Y*Y` with no DTP*472 at claim level, and
    a line `SV3*AD:D1110*120` without a line-level DTP*472.

    Instead: add `DTP*472*D8*20260910` at claim level (one date for all lines)
    or on each line.
    """
    if claim.predetermination or claim.date(SERVICE) is not None:
        return ()
    return _service_date_missing_hits(claim)


def _service_date_missing_hits(claim: m.Claim) -> Iterator[Hit]:
    if claim.predetermination or claim.date(SERVICE) is not None:
        return
    missing = [line for line in claim.lines if line.date(SERVICE) is None]
    if not missing:
        return
    if len(missing) == len(claim.lines) and len(missing) > 1:
        yield Hit(
            f"the claim has no date of service: no DTP*472 at claim level or on any of its "
            f"{len(missing)} lines, and it is not a predetermination (no CLM19 = PB)",
        )
        return
    for line in missing:
        yield Hit(
            f"line {line.number} ({line.procedure}) has no date of service: no DTP*472 on "
            "the line or the claim, and the claim is not a predetermination",
            line=line,
        )


@claim_rule(
    "situational.future-service-date",
    snip=4,
    severity="error",
    summary="a date of service is in the future",
    fix="Send the claim after the treatment; use a predetermination (CLM19 = PB) for planned work.",
)
def future_service_date(claim: m.Claim, ctx: RuleContext) -> Iterable[Hit]:
    """A claim can only be paid for treatment already performed.

    A date of service (DTP*472, claim or line; the end of an RD8 range) after
    today means the claim was sent before the work was done, or the date was
    mistyped (a wrong year is typical). Payers reject future-dated services.

    Example: today is 2026-11-20 and the claim has `DTP*472*D8*20261210`.

    Instead: correct the date, or for treatment still to come send a
    predetermination (CLM19 = PB, no DTP*472).
    """
    if claim.predetermination:
        return ()
    latest = _latest_service_day(claim)
    if latest is None or latest <= ctx.today:
        return ()
    return _future_service_date_hits(claim, ctx)


def _future_service_date_hits(claim: m.Claim, ctx: RuleContext) -> Iterator[Hit]:
    if claim.predetermination:
        return  # its dates are wrong in themselves: situational.predetermination-with-dates
    latest = _latest_service_day(claim)
    if latest is None or latest <= ctx.today:
        return
    for date, line in _service_dates(claim):
        day = _last_day(date)
        if day is not None and day > ctx.today:
            yield Hit(
                f"{_at(line)} {date.raw} is in the future (today is {ctx.today.isoformat()})",
                line=line,
                where=date.where,
            )


@claim_rule(
    "situational.service-after-transaction",
    snip=4,
    severity="error",
    summary="a date of service is after the date the file was created (BHT04)",
    fix="Correct the date of service or the file creation date (BHT04).",
)
def service_after_transaction(claim: m.Claim, ctx: RuleContext) -> Iterable[Hit]:
    """A claim cannot report treatment done after the claim file was created.

    BHT04 is the date the practice software built the transaction. A date of
    service after it is impossible: either the date of service is mistyped or
    the software's clock is wrong. Payers reject such claims. (A date that is
    also after today is reported once, by situational.future-service-date.)

    Example: `BHT*0019*00*B1*20261101*1200*CH` and a line with
    `DTP*472*D8*20261105`.

    Instead: correct the date of service, or regenerate the file so BHT04 is
    the real creation date.
    """
    created = claim.transaction_date
    if created is None or claim.predetermination:
        return ()
    latest = _latest_service_day(claim)
    if latest is None or latest <= created:
        return ()
    return _service_after_transaction_hits(claim, ctx)


def _service_after_transaction_hits(claim: m.Claim, ctx: RuleContext) -> Iterator[Hit]:
    created = claim.transaction_date
    if created is None or claim.predetermination:
        return
    latest = _latest_service_day(claim)
    if latest is None or latest <= created:
        return
    for date, line in _service_dates(claim):
        day = _last_day(date)
        if day is not None and created < day <= ctx.today:
            yield Hit(
                f"{_at(line)} {date.raw} is after the date the file was created "
                f"(BHT04 {created.strftime('%Y%m%d')})",
                line=line,
                where=date.where,
            )


@line_rule(
    "situational.replacement-without-prior-date",
    snip=4,
    severity="error",
    summary="a replacement prosthesis (SV305 = R) has no prior placement date (DTP*441)",
    fix="Add 2400 DTP*441 with the date the prosthesis being replaced was placed.",
    needs="prosthesis",
)
def replacement_without_prior_date(
    line: m.ServiceLine, claim: m.Claim, ctx: RuleContext
) -> Iterable[Hit]:
    """A replacement crown, bridge or denture needs the date of the one it replaces.

    SV305 = R says the prosthesis replaces an existing one. Plans pay a
    replacement only when the old one is older than their replacement limit
    (often 5 to 10 years), which they check with the prior placement date sent
    in 2400 DTP*441 (DTP*139 when the date is estimated). Without it the line is
    denied or pended for information.

    Example: `SV3*AD:D2740*1100***R` with `TOO*JP*30` and no DTP*441.

    Instead: add `DTP*441*D8*<date the old crown was placed>`, or send SV305 = I
    if this is the first prosthesis on that site.
    """
    if line.prosthesis != "R":
        return ()
    return _replacement_without_prior_date_hits(line)


def _replacement_without_prior_date_hits(line: m.ServiceLine) -> Iterator[Hit]:
    if line.prosthesis == "R" and _prior_placement(line) is None:
        yield Hit(
            f"{line.procedure} on line {line.number} is a replacement (SV305 = R) but the line "
            "has no prior placement date (DTP*441)",
            line=line,
            element="SV305",
        )


@line_rule(
    "situational.prior-placement-not-before-service",
    snip=4,
    severity="error",
    summary="the prior placement date (DTP*441/139) is not before the line's date of service",
    fix="Correct DTP*441: it is the date the old prosthesis was placed, before this service.",
    needs="dates",
)
def prior_placement_not_before_service(
    line: m.ServiceLine, claim: m.Claim, ctx: RuleContext
) -> Iterable[Hit]:
    """The prosthesis being replaced must have been placed before its replacement.

    The prior placement date (2400 DTP*441, or DTP*139 when estimated) is when
    the old crown, bridge or denture was placed; the payer measures the
    replacement interval from it. A date on or after the line's date of service
    is impossible (often today's date or the service date typed by mistake) and
    the payer rejects or denies the line.

    Example: `DTP*472*D8*20260910` and `DTP*441*D8*20260910` on a line with
    `SV305 = R`.

    Instead: send the real (or estimated, with DTP*139) placement date of the
    prosthesis being replaced.
    """
    prior = _prior_placement(line)
    if prior is None or prior.start is None:
        return ()  # the usual line: no prior placement date, nothing to compare
    return _prior_placement_not_before_service_hits(line, claim)


def _prior_placement_not_before_service_hits(line: m.ServiceLine, claim: m.Claim) -> Iterator[Hit]:
    prior = _prior_placement(line)
    if prior is None or prior.start is None:
        return  # the usual line: no prior placement date, nothing to compare
    service = line_date(line, claim)
    if service is None:
        return
    if prior.start >= service:
        same = "the same day as" if prior.start == service else "after"
        yield Hit(
            f"the prior placement date (DTP*{prior.qualifier} {prior.raw}) of {line.procedure} "
            f"on line {line.number} is {same} its date of service {service.strftime('%Y%m%d')}",
            line=line,
            where=prior.where,
        )


@claim_rule(
    "situational.accident-without-date",
    snip=4,
    severity="warning",
    summary="the claim reports an accident (CLM11) but no accident date (DTP*439)",
    fix="Add 2300 DTP*439 with the accident date, or remove CLM11 if there was no accident.",
)
def accident_without_date(claim: m.Claim, ctx: RuleContext) -> Iterable[Hit]:
    """An accident-related claim should give the date of the accident.

    CLM11 (related causes: AA auto accident, EM employment, OA other accident)
    tells the payer another party may be liable (auto or liability insurance,
    workers' compensation). The payer needs the accident date (2300 DTP*439) to
    pursue that and usually pends or denies the claim until it has it.

    Example: `CLM*A1*240***11:B:1*Y*A*Y*Y**OA` with no DTP*439.

    Instead: add `DTP*439*D8*<accident date>`, or drop CLM11 if the treatment is
    not accident-related.
    """
    if not claim.related_causes:
        return ()
    return _accident_without_date_hits(claim)


def _accident_without_date_hits(claim: m.Claim) -> Iterator[Hit]:
    if not claim.related_causes or claim.date(ACCIDENT) is not None:
        return
    causes = [c for c in claim.related_causes if c in ACCIDENT_CAUSES]
    named = ", ".join(f"{c} {ACCIDENT_CAUSES[c]}" for c in causes) or "a related cause"
    yield Hit(
        f"CLM11 reports {named} but the claim has no accident date (DTP*439)",
        element="CLM11",
    )


@line_rule(
    "situational.diagnosis-pointer",
    snip=4,
    severity="error",
    summary="a diagnosis pointer (SV311) points past the diagnosis codes sent in HI",
    fix="Point SV311 only at diagnosis codes present in the claim's HI segment (1 = HI01...).",
    needs="diagnosis_pointers",
)
def diagnosis_pointer(line: m.ServiceLine, claim: m.Claim, ctx: RuleContext) -> Iterable[Hit]:
    """Each diagnosis pointer on a line must name a diagnosis the claim sends.

    SV311 lists, for the line, the positions (1 to 4) of the diagnosis codes in
    the claim's HI segment that justify it. A pointer to a position with no
    code leaves the line without its diagnosis; payers that need diagnoses
    (oral surgery, medical crossover) reject the claim.

    Example: `HI*ABK:K029*ABF:K081` (two codes) and a line with
    `SV3*AD:D7140*200*****3`.

    Instead: add the missing diagnosis to HI, or point at 1 or 2.
    """
    if not line.diagnosis_pointers:
        return ()
    return _diagnosis_pointer_hits(line, claim)


def _diagnosis_pointer_hits(line: m.ServiceLine, claim: m.Claim) -> Iterator[Hit]:
    count = len(claim.diagnoses)
    for pointer in line.diagnosis_pointers:
        if not pointer.isdigit():
            continue  # not a number: a syntax error reported on its own
        n = int(pointer)
        if 1 <= n <= count:
            continue
        have = f"only {count} diagnosis code{'s' if count != 1 else ''}" if count else "no HI"
        yield Hit(
            f"line {line.number} ({line.procedure}) points at diagnosis {pointer} (SV311), "
            f"but the claim has {have}",
            line=line,
            element="SV311",
        )


@claim_rule(
    "situational.rd8-range",
    snip=4,
    severity="error",
    summary="an RD8 date range starts after it ends",
    fix="Send the range as CCYYMMDD-CCYYMMDD with the earlier date first.",
)
def rd8_range(claim: m.Claim, ctx: RuleContext) -> Iterable[Hit]:
    """A date range (RD8) must run forward in time.

    An RD8 date is `first-last`; a first date after the last one is usually the
    two dates swapped or a mistyped year. Payers reject the claim because they
    cannot tell when the services were performed.

    Example: `DTP*472*RD8*20260915-20260901`.

    Instead: send `DTP*472*RD8*20260901-20260915`.
    """
    for date in claim.dates:
        if date.format == "RD8":
            break
    else:
        for line in claim.lines:
            for date in line.dates:
                if date.format == "RD8":
                    return _rd8_range_hits(claim)
        return ()
    return _rd8_range_hits(claim)


def _rd8_range_hits(claim: m.Claim) -> Iterator[Hit]:
    dated: list[tuple[m.DateValue, m.ServiceLine | None]] = [
        (d, None) for d in claim.dates if d.format == "RD8"
    ]
    dated += [(d, line) for line in claim.lines for d in line.dates if d.format == "RD8"]
    for date, line in dated:
        if date.start is None or date.end is None:
            continue
        if date.start > date.end:
            at = "the claim" if line is None else f"line {line.number} ({line.procedure})"
            yield Hit(
                f"the date range DTP*{date.qualifier} {date.raw} on {at} starts after it ends",
                line=line,
                where=date.where,
            )
