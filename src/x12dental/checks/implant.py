"""Implant rules: first-stage placement (D6010) and second-stage uncovering (D6011), SNIP 6.

A two-stage implant is two surgeries months apart: D6010 puts the implant body in the bone
and buries it under the gum; after it has integrated, D6011 opens the tissue over it and
attaches the healing abutment. Payers review D6011 against that story: a placement on an
earlier date for the same site, a pre-authorization backed by radiographs, and an implant
that really was buried. These rules check what the claim can show of it. Code lists, the
radiograph report types and the narrative words live in `rules/implant.toml`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from x12dental import model as m
from x12dental.codesets import PRIMARY_TEETH, SUPERNUMERARY, expand_codes
from x12dental.engine import (
    Hit,
    RuleContext,
    line_date,
    line_rule,
    line_teeth,
)
from x12dental.narrative import claim_narrative, find_affirmed_terms, find_dates, find_teeth
from x12dental.ruledata import RuleDataError, builtin, builtin_path, code_specs, require

UNCOVERING = "D6011"
IMPLANT_CODES = expand_codes(["D6000-D6199"])
DATA_FILE = "implant.toml"


# -- rule data -----------------------------------------------------------------------------


@attrs.frozen
class ImplantData:
    """rules/implant.toml, checked and expanded."""

    placement: frozenset[str]
    custom_abutment: frozenset[str]
    site: frozenset[str]
    prior_auth_qualifiers: frozenset[str]
    radiograph_types: frozenset[str]
    not_sent: frozenset[str]
    single_stage_terms: tuple[str, ...]
    single_stage_together: tuple[tuple[str, ...], ...]
    negations: tuple[str, ...]
    window: int
    not_after: tuple[str, ...]


def _table(doc: Mapping[str, Any], key: str, path: str | Path) -> Mapping[str, Any]:
    value: Mapping[str, Any] = require(doc, key, dict, path, "")
    return value


def _implant_codes(table: Mapping[str, Any], key: str, path: str | Path, at: str) -> frozenset[str]:
    specs = code_specs(require(table, key, list, path, at), path, f"{at}.{key}")
    codes = expand_codes(specs)
    outside = sorted(codes - IMPLANT_CODES)
    if outside:
        raise RuleDataError(
            path,
            f"{at}.{key}",
            f"{outside[0]} is outside the implant codes D6000-D6199, which the implant rules "
            "look at",
        )
    return codes


def _strings(
    table: Mapping[str, Any], key: str, path: str | Path, at: str, *, pattern: str | None = None
) -> tuple[str, ...]:
    values = require(table, key, list, path, at)
    if not values:
        raise RuleDataError(path, f"{at}.{key}", "must not be empty")
    for i, value in enumerate(values):
        if not isinstance(value, str) or not value.strip():
            raise RuleDataError(path, f"{at}.{key}[{i}]", "must be a non-empty string")
        if pattern is not None and not re.fullmatch(pattern, value):
            raise RuleDataError(path, f"{at}.{key}[{i}]", f"{value!r} is not a valid code here")
    return tuple(values)


def load_data(doc: Mapping[str, Any], path: str | Path) -> ImplantData:
    """Check a parsed implant.toml; a mistake raises RuleDataError naming the file and key."""
    codes = _table(doc, "codes", path)
    prior_auth = _table(doc, "prior_auth", path)
    radiograph = _table(doc, "radiograph", path)
    single = _table(doc, "single_stage", path)
    together_raw = require(single, "together", list, path, "single_stage")
    together: list[tuple[str, ...]] = []
    for i, group in enumerate(together_raw):
        at = f"single_stage.together[{i}]"
        if (
            not isinstance(group, list)
            or len(group) < 2
            or not all(isinstance(t, str) and t.strip() for t in group)
        ):
            raise RuleDataError(path, at, "must be a list of at least two non-empty terms")
        together.append(tuple(group))
    window = require(single, "window", int, path, "single_stage")
    if window < 0:
        raise RuleDataError(path, "single_stage.window", "must be 0 or more")
    return ImplantData(
        placement=_implant_codes(codes, "placement", path, "codes"),
        custom_abutment=_implant_codes(codes, "custom_abutment", path, "codes"),
        site=_implant_codes(codes, "site", path, "codes"),
        prior_auth_qualifiers=frozenset(
            _strings(prior_auth, "qualifiers", path, "prior_auth", pattern="[A-Z0-9]{2,3}")
        ),
        radiograph_types=frozenset(
            _strings(radiograph, "report_types", path, "radiograph", pattern="[A-Z0-9]{2}")
        ),
        not_sent=frozenset(
            _strings(radiograph, "not_sent", path, "radiograph", pattern="[A-Z0-9]{2}")
        ),
        single_stage_terms=_strings(single, "terms", path, "single_stage"),
        single_stage_together=tuple(together),
        negations=_strings(single, "negations", path, "single_stage"),
        window=window,
        not_after=_strings(single, "not_after", path, "single_stage"),
    )


_DATA: ImplantData | None = None


def implant_data() -> ImplantData:
    """The built-in rules/implant.toml, loaded and checked once."""
    global _DATA
    if _DATA is None:
        _DATA = load_data(builtin(DATA_FILE), builtin_path(DATA_FILE))
    return _DATA


# -- helpers -------------------------------------------------------------------------------


def _us(day: dt.date) -> str:
    """A date as the office typed it on the claim form."""
    return f"{day:%m/%d/%Y}"


def _teeth(teeth: Iterable[str]) -> str:
    return ", ".join(f"#{t}" for t in teeth)


def _sort_teeth(teeth: Iterable[str]) -> list[str]:
    return sorted(teeth, key=lambda t: (not t.isdigit(), int(t) if t.isdigit() else 0, t))


def _count(count: int | Decimal, one: str, many: str) -> str:
    if isinstance(count, Decimal):
        text = str(int(count)) if count == count.to_integral_value() else str(count)
    else:
        text = str(count)
    return f"{text} {one if count == 1 else many}"


def _is_void(claim: m.Claim) -> bool:
    """A void (CLM05-3 = 8) cancels an earlier claim: nothing on it is adjudicated again."""
    return claim.frequency == "8"


def _same_day_partners(
    line: m.ServiceLine, claim: m.Claim, ctx: RuleContext, partners: frozenset[str]
) -> Iterator[tuple[str, str, dt.date]]:
    """(tooth, where, date) for each tooth of `line` that an EARLIER line or claim also carries with a
    partner code on the same date of service. Only the later of the two is reported, so a pair
    is found once whichever comes first in the file."""
    day = line_date(line, claim)
    if day is None or not partners:
        return
    for tooth in dict.fromkeys(line_teeth(line)):
        found: str | None = None
        for other in claim.lines:
            if other is line:
                break
            if (
                other.procedure in partners
                and tooth in line_teeth(other)
                and line_date(other, claim) == day
            ):
                found = f"{other.procedure} on #{tooth} on line {other.number} of this claim"
                break
        if found is None:
            for rec in ctx.earlier_services(codes=partners, tooth=tooth):
                if rec.date == day and not rec.rejected:
                    batch = (
                        "of an earlier batch" if rec.source == "history" else "earlier in this file"
                    )
                    at = f" (line {rec.line})" if rec.line is not None else ""
                    found = f"{rec.code} on #{tooth} in claim {rec.claim_id}{at} {batch}"
                    break
        if found is not None:
            yield tooth, found, day


# -- rules ---------------------------------------------------------------------------------


@line_rule(
    "implant.d6011-no-tooth",
    snip=6,
    severity="error",
    codes={UNCOVERING},
    summary="D6011 is billed without a tooth number",
    fix="Add a TOO segment with the implant site's tooth number (TOO*JP*8), the same site as "
    "the D6010 placement.",
)
def d6011_no_tooth(line: m.ServiceLine, claim: m.Claim, ctx: RuleContext) -> Iterator[Hit]:
    """D6011 (second-stage access to an implant) must name the implant site.

    Why: the payer matches the uncovering to the earlier D6010 placement by tooth number. A
    D6011 with no site cannot be matched, cannot be told apart from a duplicate, and is denied
    or sent back for information. An area of the oral cavity (SV304) is not enough: each
    implant is its own site.

    Example: `SV3*AD:D6011*550.00****1~` followed by no `TOO` segment.

    Instead: send the tooth number of the implant site, `TOO*JP*20~`, the same number the
    D6010 line carried.
    """
    if line_teeth(line):
        return
    area = f" (only the area {'/'.join(line.areas)} in SV304)" if line.areas else ""
    yield Hit(
        f"D6011 on line {line.number} has no tooth number{area}: the payer cannot match the "
        "uncovering to the implant placed at that site",
        line=line,
    )


@line_rule(
    "implant.placement-and-uncovering-same-day",
    snip=6,
    severity="error",
    codes=IMPLANT_CODES,
    summary="implant placement (D6010) and uncovering (D6011) on the same tooth on the same day",
    fix="Bill D6010 on the placement date and D6011 on the later uncovering date; if the "
    "implant was never buried, bill the placement only.",
)
def placement_and_uncovering_same_day(
    line: m.ServiceLine, claim: m.Claim, ctx: RuleContext
) -> Iterator[Hit]:
    """D6010 and D6011 for one implant are two procedures on two dates.

    Why: D6010 places the implant and buries it; D6011 uncovers it weeks or months later,
    once it has integrated with the bone. The same implant cannot be placed and uncovered on
    one day; payers treat both codes on one tooth and one date as a coding error (often a
    single-stage implant billed as two stages) and deny the D6011.

    The check looks at the claim itself and at earlier claims of the same patient in the
    batch, and reports the later of the two lines in the file, whichever code comes first.

    Example: a claim with `SV3*AD:D6010*2100~ TOO*JP*8~` and `SV3*AD:D6011*550~ TOO*JP*8~`,
    both dated `DTP*472*D8*20260910~`.

    Instead: bill D6011 on its own claim with the uncovering date, and name the placement
    date and tooth in the narrative (`NTE*ADD*D6010 PLACED #8 ON 06/02/2026~`).
    """
    data = implant_data()
    if line.procedure == UNCOVERING:
        partners = data.placement
    elif line.procedure in data.placement:
        partners = frozenset({UNCOVERING})
    else:
        return
    for tooth, where, day in _same_day_partners(line, claim, ctx, partners):
        yield Hit(
            f"{line.procedure} on line {line.number} (#{tooth}) is dated {_us(day)}, the same "
            f"day as {where}: an implant is placed and uncovered on separate dates",
            line=line,
            tooth=tooth,
        )


@attrs.frozen
class _PlacementReference:
    """What the claim narrative says about the earlier placement, for one D6011 line."""

    service_date: dt.date
    earlier_dates: tuple[dt.date, ...]
    named: frozenset[str]
    line_teeth: frozenset[str]
    other_lines_teeth: frozenset[str]

    @property
    def complete(self) -> bool:
        if not self.earlier_dates:
            return False
        if self.line_teeth:
            return bool(self.named & self.line_teeth)
        return bool(self.named)

    @property
    def other_teeth(self) -> frozenset[str]:
        """Teeth the narrative names that are neither this line's nor another line's."""
        if not self.line_teeth or self.named & self.line_teeth:
            return frozenset()
        return self.named - self.other_lines_teeth


def _placement_reference(
    line: m.ServiceLine, claim: m.Claim, ctx: RuleContext
) -> _PlacementReference:
    text = claim_narrative(claim)
    service = line_date(line, claim) or ctx.today
    others = {t for other in claim.lines if other is not line for t in line_teeth(other)}
    return _PlacementReference(
        service_date=service,
        earlier_dates=tuple(d for d in find_dates(text) if d < service),
        named=frozenset(find_teeth(text)),
        line_teeth=frozenset(line_teeth(line)),
        other_lines_teeth=frozenset(others),
    )


@line_rule(
    "implant.d6011-no-placement-reference",
    snip=6,
    severity="warning",
    codes={UNCOVERING},
    summary="the D6011 claim's narrative does not name the date and tooth of the D6010 placement",
    fix="Add a narrative naming the placement date and site, e.g. "
    "NTE*ADD*D6010 PLACED #20 ON 05/28/2026.",
)
def d6011_no_placement_reference(
    line: m.ServiceLine, claim: m.Claim, ctx: RuleContext
) -> Iterator[Hit]:
    """The D6011 claim should say when and where the implant was placed.

    Why: D6011 is only legitimate as the second stage of an implant placed earlier. The
    reviewer looks for the date and the tooth or site of the original placement; without them
    the uncovering cannot be confirmed and the claim is pended or denied for documentation.

    What counts: the claim narrative (NTE) names a date before the D6011 date of service and
    the tooth of the D6011 line. Dates are read in the usual typed forms (05/28/2026, 5/28/26,
    2026-05-28, 20260528, MAY 28, 2026, 28 MAY 2026); teeth as #20, TOOTH 20, TH 20 or SITE 20.

    Example: D6011 on #20 dated 08/30/2026 with `NTE*ADD*UNCOVERED IMPLANT, HEALING ABUTMENT~`.

    Instead: `NTE*ADD*D6010 PLACED #20 ON 05/28/2026; HEALING ABUTMENT PLACED~`.
    """
    if _is_void(claim):
        return
    ref = _placement_reference(line, claim, ctx)
    if ref.complete or (ref.earlier_dates and ref.other_teeth):
        return  # complete, or implant.d6011-narrative-other-tooth says what is wrong
    missing = []
    if not ref.earlier_dates:
        missing.append(
            f"no placement date before {_us(ref.service_date)} (the D6011 date of service)"
        )
    if ref.line_teeth and not ref.named & ref.line_teeth:
        missing.append(f"not tooth {_teeth(_sort_teeth(ref.line_teeth))}")
    elif not ref.line_teeth and not ref.named:
        missing.append("no tooth or site")
    if not claim.notes:
        what = "has no narrative (NTE) naming the D6010 placement date and tooth"
    else:
        what = "narrative names " + " and ".join(missing)
    yield Hit(
        f"D6011 on line {line.number}: the claim {what}; the payer cannot confirm a "
        "second stage without them",
        line=line,
    )


@line_rule(
    "implant.d6011-narrative-other-tooth",
    snip=6,
    severity="warning",
    codes={UNCOVERING},
    summary="the D6011 narrative's placement reference names a different tooth than the line",
    fix="Make the narrative and the TOO segment name the same implant site.",
)
def d6011_narrative_other_tooth(
    line: m.ServiceLine, claim: m.Claim, ctx: RuleContext
) -> Iterator[Hit]:
    """The narrative names the placement of a different implant than the one uncovered.

    Why: the payer matches D6011 to the earlier D6010 by site. When the narrative says the
    implant was placed at #19 but the D6011 line is on #20, either the tooth number or the
    narrative is wrong, and the claim is denied as not matching any placement (or as a
    duplicate of the other site's uncovering).

    What counts: the narrative names a date before the D6011 date of service and one or more
    teeth, none of which is the line's tooth (teeth of the claim's other lines are ignored).

    Example: `TOO*JP*20~` with `NTE*ADD*D6010 PLACED #19 ON 05/28/2026~`.

    Instead: correct whichever is wrong so both name #20.
    """
    if _is_void(claim):
        return
    ref = _placement_reference(line, claim, ctx)
    if ref.complete or not ref.earlier_dates or not ref.other_teeth:
        return
    yield Hit(
        f"D6011 on line {line.number} is on {_teeth(_sort_teeth(ref.line_teeth))} but the "
        f"narrative's placement reference names {_teeth(_sort_teeth(ref.other_teeth))}",
        line=line,
    )


@line_rule(
    "implant.d6011-no-prior-auth",
    snip=6,
    severity="warning",
    codes={UNCOVERING},
    summary="D6011 is billed without a prior authorization number (REF*G1)",
    fix="Send the payer's authorization number in REF*G1 at the claim (2300) or line (2400).",
)
def d6011_no_prior_auth(line: m.ServiceLine, claim: m.Claim, ctx: RuleContext) -> Iterator[Hit]:
    """D6011 usually needs an approved pre-authorization, and its number belongs on the claim.

    Why: implant surgery is a procedure most plans authorize in advance (many exclude implants
    altogether). A D6011 submitted after the fact without an authorization is denied or paid
    less. The office should submit the pre-authorization with radiographs and the surgical
    plan, wait for the answer, and put the authorization number on the claim.

    Default severity is warning, because not every plan requires it; a payer pack that does
    makes it an error with `[severity] "implant.d6011-no-prior-auth" = "error"`. Not checked on
    predeterminations (CLM19 = PB), which are themselves the request, nor on voids.

    Example: a D6011 claim with no `REF*G1` in 2300 or in the D6011 line's 2400.

    Instead: `REF*G1*PA90552703~` in the claim (or on the line).
    """
    if claim.predetermination or _is_void(claim):
        return
    qualifiers = implant_data().prior_auth_qualifiers
    refs = (*claim.references, *line.references)
    if any(r.qualifier in qualifiers and r.value.strip() for r in refs):
        return
    yield Hit(
        f"D6011 on line {line.number} has no prior authorization number "
        f"({'/'.join(f'REF*{q}' for q in sorted(qualifiers))}) on the claim or the line",
        line=line,
    )


@line_rule(
    "implant.d6011-no-radiograph",
    snip=6,
    severity="warning",
    codes={UNCOVERING},
    summary="D6011 is billed without a radiograph attachment (PWK RB/RR)",
    fix="Attach the periapical or panoramic image showing the integrated implant "
    "(PWK*RB*EL***AC*<attachment id>).",
)
def d6011_no_radiograph(line: m.ServiceLine, claim: m.Claim, ctx: RuleContext) -> Iterator[Hit]:
    """A D6011 claim should carry the image that shows the implant is ready to uncover.

    Why: a periapical or panoramic radiograph of the integrated implant documents that
    osseointegration has happened, which is what makes a second stage due. Reviewers ask for
    it with the pre-authorization and with the claim; without it they pend or deny D6011.

    What counts: a 2300 PWK whose report type (PWK01) is a radiology type (RB films, RR
    reports; the list is in rules/implant.toml) and that is actually sent: PWK02 = AA
    ("available on request") sends nothing, so it does not count.

    Example: a D6011 claim with no PWK, or only `PWK*RB*AA~`.

    Instead: `PWK*RB*EL***AC*ATT0000003000003~` with the image sent under that control number.
    """
    if _is_void(claim):
        return
    data = implant_data()
    images = [a for a in claim.attachments if a.report_type in data.radiograph_types]
    if any(a.transmission not in data.not_sent for a in images):
        return
    if images:
        kinds = "/".join(sorted({f"PWK*{a.report_type}*{a.transmission}" for a in images}))
        message = (
            f"D6011 on line {line.number}: the radiograph is only announced ({kinds}, available "
            "on request), not sent with the claim"
        )
    else:
        types = "/".join(sorted(data.radiograph_types))
        message = (
            f"D6011 on line {line.number}: the claim has no radiograph attachment (PWK {types}) "
            "showing the integrated implant"
        )
    yield Hit(message, line=line, where=images[0].where if images else None)


@line_rule(
    "implant.d6011-single-stage",
    snip=6,
    severity="error",
    codes={UNCOVERING},
    summary="the narrative says the implant was single-stage, so there is no second stage to bill",
    fix="Do not bill D6011 for an implant that was never buried; if the narrative is wrong, "
    "correct it.",
)
def d6011_single_stage(line: m.ServiceLine, claim: m.Claim, ctx: RuleContext) -> Iterator[Hit]:
    """D6011 exists only for implants that were buried (two-stage protocol).

    Why: in a single-stage protocol the implant is never covered by the gum: a healing
    abutment goes on at the placement surgery and the implant heals through the tissue. There
    is nothing to uncover later, so D6011 on such an implant is a coding error and is denied.

    What counts: the claim narrative says single-stage, one-stage, non-submerged, never (or
    not) submerged, transmucosal, a one-piece implant, a healing abutment placed at implant
    placement, or a tissue-level implant with a healing abutment placed at surgery (terms in
    rules/implant.toml). A negation just before the words cancels them ("two-stage, not
    single-stage" is fine); negations after them are not read.

    Example: D6011 with `NTE*ADD*SINGLE-STAGE TISSUE LEVEL IMPLANT #8 PLACED 03/14/2026~`.

    Instead: leave D6011 off the claim for a single-stage implant, or correct the narrative if
    the implant was in fact submerged.
    """
    if _is_void(claim):
        return
    data = implant_data()
    text = claim_narrative(claim)
    if not text:
        return

    def affirmed(terms: Sequence[str]) -> list[str]:
        return find_affirmed_terms(
            text, terms, negations=data.negations, window=data.window, not_after=data.not_after
        )

    said = affirmed(data.single_stage_terms)
    for group in data.single_stage_together:
        if len(affirmed(group)) == len(group):
            said.append(" + ".join(group))
    if not said:
        return
    quoted = ", ".join(f'"{t}"' for t in said)
    yield Hit(
        f"D6011 on line {line.number}: the narrative says {quoted}; a single-stage implant "
        "is never buried, so there is no second-stage uncovering to bill",
        line=line,
    )


@line_rule(
    "implant.d6011-with-custom-abutment",
    snip=6,
    severity="warning",
    codes=IMPLANT_CODES,
    summary="D6011 and an abutment code (D6056/D6057) on the same tooth on the same day",
    fix="Bill the abutment for the final restoration on the date it is placed; the healing "
    "abutment is part of D6011.",
)
def d6011_with_custom_abutment(
    line: m.ServiceLine, claim: m.Claim, ctx: RuleContext
) -> Iterator[Hit]:
    """The healing abutment placed at uncovering is part of D6011, not a separate abutment.

    Why: D6011 includes attaching the healing abutment (healing cap, gingival former). The
    abutments made for the final restoration (prefabricated or custom) have their own codes
    and are placed later, when the tissue has healed and the restoration is built. D6056 or
    D6057 on the day of uncovering usually means the healing abutment was billed twice, and
    payers deny the abutment line as included in D6011.

    The check looks at the claim and at the patient's earlier claims in the batch and reports
    the later line of the pair, whichever code comes first.

    Example: `SV3*AD:D6011*550~ TOO*JP*20~` and `SV3*AD:D6057*900~ TOO*JP*20~` on one date.

    Instead: bill D6011 alone at the uncovering, and D6056/D6057 on the date the restorative
    abutment is placed.
    """
    data = implant_data()
    if line.procedure == UNCOVERING:
        partners = data.custom_abutment
    elif line.procedure in data.custom_abutment:
        partners = frozenset({UNCOVERING})
    else:
        return
    for tooth, where, day in _same_day_partners(line, claim, ctx, partners):
        yield Hit(
            f"{line.procedure} on line {line.number} (#{tooth}) is dated {_us(day)}, the same "
            f"day as {where}: the healing abutment is part of D6011, and a "
            "restorative abutment has its own later date",
            line=line,
            tooth=tooth,
        )


@line_rule(
    "implant.primary-tooth",
    snip=6,
    severity="error",
    codes=IMPLANT_CODES,
    summary="a tooth-specific implant code is billed on a primary tooth (A-T)",
    fix="Report the implant site with the permanent tooth number it replaces (1-32).",
)
def primary_tooth(line: m.ServiceLine, claim: m.Claim, ctx: RuleContext) -> Iterator[Hit]:
    """Implants are placed in the sites of permanent teeth, never of primary teeth.

    Why: an implant replaces a missing permanent tooth and is reported with that tooth's
    number (1-32), even when a retained primary tooth stood in the site. A primary letter
    (A-T) on an implant code is a keying error (often K for 19 or L for 20 picked from the
    wrong chart) and the payer rejects the line as an invalid tooth for the procedure.

    Applies to the implant codes reported per site (rules/implant.toml `codes.site`: implant
    bodies, abutments, implant and abutment-supported crowns and retainers, per-implant
    repairs), not to arch-based implant services.

    Example: `SV3*AD:D6010*2100~ TOO*JP*K~`.

    Instead: `TOO*JP*19~`, the permanent tooth of the site.
    """
    if line.procedure not in implant_data().site:
        return
    for tooth in dict.fromkeys(line_teeth(line)):
        if tooth in PRIMARY_TEETH:
            yield Hit(
                f"{line.procedure} on line {line.number} is on primary tooth {tooth}: implant "
                "sites are reported with the permanent tooth number (1-32)",
                line=line,
                tooth=tooth,
            )


@line_rule(
    "implant.supernumerary-tooth",
    snip=6,
    severity="warning",
    codes=IMPLANT_CODES,
    summary="a tooth-specific implant code is billed on a supernumerary position (51-82, AS-TS)",
    fix="Report the implant site with the tooth number of the missing tooth it replaces; keep "
    "a supernumerary number only if that is truly the site, with a narrative.",
)
def supernumerary_tooth(line: m.ServiceLine, claim: m.Claim, ctx: RuleContext) -> Iterator[Hit]:
    """An implant on a supernumerary tooth position is rare enough to be checked.

    Why: supernumerary numbers (51-82 permanent, AS-TS primary) denote extra teeth. An implant
    replaces a missing tooth of the normal series, so its site is normally 1-32; a
    supernumerary number is usually a typo (#58 for #8) and the payer will question the site
    or reject it as not matching the patient's history.

    Applies to the per-site implant codes of rules/implant.toml (`codes.site`).

    Example: `SV3*AD:D6010*2100~ TOO*JP*58~`.

    Instead: `TOO*JP*8~`; if the implant really replaces a supernumerary tooth, say so in the
    narrative.
    """
    if line.procedure not in implant_data().site:
        return
    for tooth in dict.fromkeys(line_teeth(line)):
        if tooth in SUPERNUMERARY:
            yield Hit(
                f"{line.procedure} on line {line.number} is on supernumerary position #{tooth}: "
                "implants are normally reported on the permanent tooth number they replace",
                line=line,
                tooth=tooth,
            )


@line_rule(
    "implant.units-exceed-teeth",
    snip=6,
    severity="error",
    codes=IMPLANT_CODES,
    summary="an implant line's units (SV306) exceed the number of teeth it lists",
    fix="Bill one unit per implant site: one line per tooth, or as many units as TOO segments.",
)
def units_exceed_teeth(line: m.ServiceLine, claim: m.Claim, ctx: RuleContext) -> Iterator[Hit]:
    """One implant (abutment, crown...) per site: the units cannot exceed the sites listed.

    Why: per-site implant codes are paid per tooth. Two units on one tooth would be two
    implants in one site, which is impossible, so the payer rejects the line or pays one
    unit. It usually means a second site was left off (a missing TOO) or the quantity was
    typed for the whole visit.

    Applies to the per-site implant codes of rules/implant.toml (`codes.site`) when the line
    lists at least one tooth (a missing tooth number is reported by other rules).

    Example: `SV3*AD:D6010*4200****2~ TOO*JP*19~`.

    Instead: `TOO*JP*19~ TOO*JP*20~` for two sites, or `SV306 = 1` for one.
    """
    if line.procedure not in implant_data().site:
        return
    teeth = list(dict.fromkeys(line_teeth(line)))
    if not teeth or line.units is None or line.units <= len(teeth):
        return
    yield Hit(
        f"{line.procedure} on line {line.number} lists {_count(len(teeth), 'tooth', 'teeth')} "
        f"({_teeth(teeth)}) but SV306 says {_count(line.units, 'unit', 'units')}: one implant "
        "per site",
        line=line,
        element="SV306",
    )
