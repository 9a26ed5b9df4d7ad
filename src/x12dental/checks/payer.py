"""Payer (trading-partner) requirements from rule packs: SNIP 7.

These rules do nothing until a pack asks for something: which codes need a prior
authorization or an attachment, which are not covered, how often a code may be
paid per tooth or per patient. The requirements are data (see `x12dental.packs`);
the logic of matching codes, payers and periods lives here once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

from x12dental import model as m
from x12dental.codesets import code_in
from x12dental.engine import (
    Hit,
    Prefilter,
    RuleContext,
    ServiceRecord,
    Settings,
    claim_rule,
    line_date,
    line_rule,
)
from x12dental.packs import Requirement


def _applies(req: Requirement, code: str, claim: m.Claim) -> bool:
    if req.payers:
        payer = claim.payer.party.id if claim.payer else ""
        if payer not in req.payers:
            return False
    return any(code_in(code, spec) for spec in req.codes)


def _requirements(ctx: RuleContext, key: str, code: str, claim: m.Claim) -> list[Requirement]:
    return [r for r in ctx.settings.param(key, ()) if _applies(r, code, claim)]


def _wanted(key: str) -> Prefilter:
    """The engine's prefilter: does any requirement of the packs under `key` name the code?"""

    def applies(code: str, settings: Settings) -> bool:
        return any(code_in(code, spec) for req in settings.param(key, ()) for spec in req.codes)

    return applies


def _in_period(day: dt.date | None, ref: dt.date | None, period: str) -> bool:
    if period == "lifetime":
        return True
    if day is None or ref is None:
        return False
    if period == "benefit-year":
        return day.year == ref.year
    days = int(period[:-1])
    return dt.timedelta(0) <= ref - day < dt.timedelta(days=days) or day == ref


def _period_words(period: str) -> str:
    if period == "lifetime":
        return "per lifetime"
    if period == "benefit-year":
        return "per benefit year"
    return f"within {period[:-1]} days"


@line_rule(
    "payer.prior-auth-required",
    prefilter=_wanted("prior_auth"),
    snip=7,
    severity="error",
    summary="the payer requires a prior authorization number (REF*G1) for this code",
    fix="Get the authorization before treatment and send its number in REF*G1 (claim or line).",
)
def prior_auth_required(line: m.ServiceLine, claim: m.Claim, ctx: RuleContext) -> Iterator[Hit]:
    """A payer pack lists codes that need prior authorization.

    Payers deny services that needed an authorization when the claim carries none:
    the number must travel on the claim (2300 REF*G1) or the line (2400 REF*G1).

    Triggers: a pack has `[[prior_auth]] codes = ["D6010-D6199"]` and a D6011 claim
    has no REF*G1. Send `REF*G1*<authorization number>`.
    """
    reqs = _requirements(ctx, "prior_auth", line.procedure, claim)
    if not reqs:
        return
    has = any(r.qualifier == "G1" and r.value for r in (*claim.references, *line.references))
    if not has:
        yield Hit(
            f"{line.procedure} on line {line.number} needs a prior authorization for this payer "
            f"(pack {reqs[0].pack}), and the claim has no REF*G1",
            line=line,
        )


@line_rule(
    "payer.attachment-required",
    prefilter=_wanted("attachment"),
    snip=7,
    severity="error",
    summary="the payer requires an attachment (PWK) of a given report type for this code",
    fix="Send the attachment and a PWK segment with its report type and control number.",
)
def attachment_required(line: m.ServiceLine, claim: m.Claim, ctx: RuleContext) -> Iterator[Hit]:
    """A payer pack lists codes that need supporting documents, by PWK report type.

    Periodontal charts (P6) for scaling and root planing, radiographs (RB) for crowns:
    without the attachment reference the payer pends or denies the claim.

    Triggers: `[[attachment]] codes = ["D4341"] report_types = ["P6"]` and a D4341 claim
    without `PWK*P6`. Send `PWK*P6*EL***AC*<attachment id>`.
    """
    for req in _requirements(ctx, "attachment", line.procedure, claim):
        wanted = req.values.get("report_types", ())
        if not any(a.report_type in wanted for a in claim.attachments):
            yield Hit(
                f"{line.procedure} on line {line.number} needs an attachment of type "
                f"{'/'.join(wanted)} for this payer (pack {req.pack}); the claim has none",
                line=line,
            )


@line_rule(
    "payer.non-covered",
    prefilter=_wanted("non_covered"),
    snip=7,
    severity="error",
    summary="the payer does not cover this procedure code",
    fix="Verify benefits; bill the patient as agreed, or send the claim only for a denial of record.",
)
def non_covered(line: m.ServiceLine, claim: m.Claim, ctx: RuleContext) -> Iterator[Hit]:
    """A payer pack lists codes the plan excludes (implants, desensitizing...).

    The claim line will be denied as a non-covered service whatever the documentation,
    so the office should know before sending, and tell the patient.

    Triggers: `[[non_covered]] codes = ["D9911"]` and a D9911 line.
    """
    reqs = _requirements(ctx, "non_covered", line.procedure, claim)
    if reqs:
        yield Hit(
            f"{line.procedure} on line {line.number} is not covered by this payer (pack {reqs[0].pack})",
            line=line,
        )


def _earlier(
    ctx: RuleContext, codes: tuple[str, ...], tooth: str | None
) -> Iterable[ServiceRecord]:
    for rec in ctx.earlier_services(tooth=tooth):
        if not rec.rejected and any(code_in(rec.code, spec) for spec in codes):
            yield rec


@line_rule(
    "payer.frequency-limit",
    prefilter=_wanted("frequency"),
    snip=7,
    severity="error",
    summary="the code is billed more often per tooth or per patient than the payer allows",
    fix="Check the patient's history with the payer; bill the patient if the limit is reached.",
)
def frequency_limit(line: m.ServiceLine, claim: m.Claim, ctx: RuleContext) -> Iterator[Hit]:
    """A payer pack caps how often a code is paid: N per tooth or per patient, per period.

    Periods are a lifetime, a benefit year (the calendar year of the service) or a
    number of days. Earlier claims of this batch count, and so does the claim history
    when a store is used; claims recorded as rejected do not.

    Triggers: `[[frequency]] codes = ["D9911"] per = "tooth" max = 1 period = "lifetime"`
    and a second D9911 on tooth 8.
    """
    day = line_date(line, claim)
    for req in _requirements(ctx, "frequency", line.procedure, claim):
        limit, per, period = req.values["max"], req.values["per"], req.values["period"]
        own_lines = []
        for ln in claim.lines:
            own_lines.append(ln)
            if ln is line:
                break
        own = [
            ln
            for ln in own_lines
            if any(code_in(ln.procedure, s) for s in req.codes)
            and _in_period(line_date(ln, claim), day, period)
        ]
        if per == "patient":
            before = {
                (r.claim_id, r.line)
                for r in _earlier(ctx, req.codes, None)
                if _in_period(r.date, day, period)
            }
            count = len(before) + len(own)
            if count > limit:
                yield Hit(
                    f"{line.procedure} on line {line.number} is service {count} for this patient "
                    f"{_period_words(period)}; the payer allows {limit} (pack {req.pack})",
                    line=line,
                )
            continue
        for tooth in line.teeth:
            before = {
                (r.claim_id, r.line)
                for r in _earlier(ctx, req.codes, tooth.number)
                if _in_period(r.date, day, period)
            }
            same = sum(1 for ln in own for t in ln.teeth if t.number == tooth.number)
            count = len(before) + same
            if count > limit:
                yield Hit(
                    f"{line.procedure} on tooth {tooth.number} (line {line.number}) is service "
                    f"{count} on that tooth {_period_words(period)}; the payer allows {limit} "
                    f"(pack {req.pack})",
                    line=line,
                    tooth=tooth.number,
                    where=tooth.where,
                )


@line_rule(
    "payer.teeth-per-period",
    prefilter=_wanted("teeth_per_period"),
    snip=7,
    severity="error",
    summary="more different teeth are treated with the code in a period than the payer pays for",
    fix="Verify the patient's remaining allowance before treating more teeth; bill the rest to the patient.",
)
def teeth_per_period(line: m.ServiceLine, claim: m.Claim, ctx: RuleContext) -> Iterator[Hit]:
    """A payer pack caps the number of different teeth per period (D9911: often 4-8 a year).

    Counts the distinct teeth treated with the listed codes in the period, over
    earlier claims of the batch, history and this claim up to this line.

    Triggers: `[[teeth_per_period]] codes = ["D9911"] max_teeth = 4` and D9911 on a
    fifth tooth in the same benefit year.
    """
    day = line_date(line, claim)
    for req in _requirements(ctx, "teeth_per_period", line.procedure, claim):
        limit, period = req.values["max_teeth"], req.values["period"]
        teeth = {
            r.tooth
            for r in _earlier(ctx, req.codes, None)
            if r.tooth and _in_period(r.date, day, period)
        }
        for ln in claim.lines:
            if any(code_in(ln.procedure, s) for s in req.codes) and _in_period(
                line_date(ln, claim), day, period
            ):
                new = [t.number for t in ln.teeth if t.number and t.number not in teeth]
                teeth.update(new)
                if ln is line and len(teeth) > limit:
                    yield Hit(
                        f"{line.procedure} on line {line.number} brings the teeth treated "
                        f"{_period_words(period)} to {len(teeth)}; the payer pays for {limit} "
                        f"(pack {req.pack})",
                        line=line,
                    )
            if ln is line:
                break


@claim_rule(
    "payer.too-many-lines",
    snip=7,
    severity="error",
    summary="the claim has more service lines than the payer accepts",
    fix="Split the claim so each has no more lines than the payer's limit.",
)
def too_many_lines(claim: m.Claim, ctx: RuleContext) -> Iterable[Hit]:
    """Some payers (paper crosswalks) accept fewer than the 50 lines the TR3 allows.

    Triggers: `[limits] max_lines_per_claim = 15` and a claim with 16 lines.
    """
    limit = ctx.settings.param("max_lines_per_claim")
    if limit is None or len(claim.lines) <= limit:
        return ()
    return (Hit(f"the claim has {len(claim.lines)} service lines; this payer accepts {limit}"),)
