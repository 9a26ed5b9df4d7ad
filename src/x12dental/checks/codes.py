"""Code sets: values from lists kept outside X12 (SNIP 5).

NPIs, JP tooth numbers and surfaces, oral cavity areas, CDT code shape, birth
dates, ZIP codes and state codes. A value that is well formed X12 but not a
real code passes the syntax check and is rejected by the payer's code-set
edits instead, so these are checked here, with a hint at the likely fix.
Which area codes are accepted and which surfaces belong to which teeth is
policy, kept in `rules/codes.toml`.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from x12dental import model as m
from x12dental.codesets import (
    ALL_TEETH,
    CANADIAN_PROVINCES,
    CDT_CODE,
    QUADRANTS,
    SURFACES,
    US_STATES,
    ZIP_CODE,
    quadrant_of,
    tooth_kind,
)
from x12dental.engine import Hit, RuleContext, Settings, claim_rule, line_date, line_rule
from x12dental.ruledata import RuleDataError, builtin, builtin_path, require

DATA = "codes.toml"

# -- policy data -------------------------------------------------------------------------


@attrs.frozen
class CodePolicy:
    """What `rules/codes.toml` says: area codes accepted or unusual, surfaces per tooth kind."""

    areas_accepted: frozenset[str]
    areas_unusual: frozenset[str]
    posterior_only: frozenset[str]
    anterior_only: frozenset[str]


def _codes(table: Mapping[str, Any], key: str, path: str | Path, at: str) -> frozenset[str]:
    value = require(table, key, list, path, at)
    for i, code in enumerate(value):
        if not isinstance(code, str) or not 1 <= len(code) <= 3 or not code.isalnum():
            raise RuleDataError(
                path, f"{at}.{key}[{i}]", f"{code!r} is not a code (1-3 letters or digits)"
            )
    return frozenset(value)


def load_policy(data: Mapping[str, Any], path: str | Path) -> CodePolicy:
    """Check and read the policy tables; a mistake names the file and the key."""
    area = require(data, "area", dict, path, "")
    surfaces = require(data, "surfaces", dict, path, "")
    accepted = _codes(area, "accepted", path, "area")
    unusual = _codes(area, "unusual", path, "area")
    if accepted & unusual:
        both = ", ".join(sorted(accepted & unusual))
        raise RuleDataError(path, "area.unusual", f"{both} also listed in area.accepted")
    posterior = _codes(surfaces, "posterior_only", path, "surfaces")
    anterior = _codes(surfaces, "anterior_only", path, "surfaces")
    for key, values in (("posterior_only", posterior), ("anterior_only", anterior)):
        unknown = values - SURFACES
        if unknown:
            raise RuleDataError(
                path,
                f"surfaces.{key}",
                f"{', '.join(sorted(unknown))} not a TOO03 surface code (B D F I L M O)",
            )
    if posterior & anterior:
        raise RuleDataError(
            path, "surfaces.anterior_only", "a surface cannot be both posterior- and anterior-only"
        )
    return CodePolicy(accepted, unusual, posterior, anterior)


@functools.cache
def policy() -> CodePolicy:
    """The built-in policy, read once per process."""
    return load_policy(builtin(DATA), builtin_path(DATA))


# -- NPI ---------------------------------------------------------------------------------


def npi_check_digit(first9: str) -> int:
    """The Luhn check digit of an NPI, with the 80840 prefix counted in (constant 24)."""
    total = 24
    for i, ch in enumerate(reversed(first9)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return (10 - total % 10) % 10


_NPI_PROBLEMS: dict[str, str | None] = {}


def npi_problem(npi: str) -> str | None:
    """What is wrong with an NPI, in a biller's words; None when it is valid."""
    # The same few providers are on every claim of a file: each NPI is judged once.
    try:
        return _NPI_PROBLEMS[npi]
    except KeyError:
        pass
    problem = _npi_problem(npi)
    if len(_NPI_PROBLEMS) >= 4096:
        _NPI_PROBLEMS.clear()
    _NPI_PROBLEMS[npi] = problem
    return problem


_UNJUDGED = "not judged yet"


def _npi_in_doubt(party: m.Party | None) -> bool:
    """An XX identifier not known to be a valid NPI (bad, or not judged yet)."""
    if party is None or party.id_qualifier != "XX" or not party.id:
        return False
    return _NPI_PROBLEMS.get(party.id, _UNJUDGED) is not None


def _npis_in_doubt(claim: m.Claim) -> bool:
    """False when every NPI of the claim is one already judged valid: nothing to report."""
    billing = claim.billing_provider
    if billing is not None and _npi_in_doubt(billing.party):
        return True
    if _npi_in_doubt(claim.rendering) or _npi_in_doubt(claim.service_facility):
        return True
    for line in claim.lines:  # noqa: SIM110 - a plain loop: no generator per claim
        if line.rendering is not None and _npi_in_doubt(line.rendering):
            return True
    return False


def _npi_problem(npi: str) -> str | None:
    if len(npi) != 10 or not npi.isdigit():
        return "is not 10 digits"
    problems = []
    if npi[0] not in "12":
        problems.append("does not start with 1 or 2 (every NPI does)")
    expected = npi_check_digit(npi[:9])
    if int(npi[9]) != expected:
        problems.append(f"fails the NPI check digit (the last digit would be {expected})")
    return " and ".join(problems) or None


def _providers(
    claim: m.Claim,
) -> Iterator[tuple[str, m.Party, m.ServiceLine | None]]:
    """Every provider party the claim carries, with a label naming its role and loop."""
    billing = claim.billing_provider
    if billing is not None and billing.party is not None:
        yield "billing provider (2010AA)", billing.party, None
    if claim.rendering is not None:
        yield "rendering provider (2310B)", claim.rendering, None
    if claim.service_facility is not None:
        yield "service facility (2310C)", claim.service_facility, None
    for line in claim.lines:
        if line.rendering is not None:
            yield (
                f"rendering provider of line {line.number} (2420A)",
                line.rendering,
                line,
            )


@claim_rule(
    "codes.npi-check-digit",
    snip=5,
    severity="error",
    summary="an NPI (NM109 with NM108 = XX) is not a valid National Provider Identifier",
    fix="Send the provider's NPI exactly as issued (look it up in the NPPES registry).",
)
def npi_check(claim: m.Claim, ctx: RuleContext) -> Iterable[Hit]:
    """Every NPI must be 10 digits, start with 1 or 2 and pass the check digit.

    The last digit of an NPI is a Luhn check digit computed over the number
    with the prefix 80840 (health, USA) in front. A number that fails it was
    mistyped, or is a different identifier (tax id, license, payer provider
    number) sent as an NPI. Payers reject the claim: they match the billing,
    rendering and facility NPIs against their enrollment records.

    Example: `NM1*85*2*BRIGHT SMILE DENTAL*****XX*1234567890` (the check digit
    of 123456789 is 3).

    Instead: send the NPI from the provider's NPPES record,
    `NM1*85*2*BRIGHT SMILE DENTAL*****XX*1234567893`.
    """
    if not _npis_in_doubt(claim):
        return ()
    return _npi_check_hits(claim)


def _npi_check_hits(claim: m.Claim) -> Iterator[Hit]:
    seen: set[tuple[int | None, str]] = set()
    for label, party, line in _providers(claim):
        if party.id_qualifier != "XX" or not party.id:
            continue
        key = (party.where.position, party.id)
        if key in seen:
            continue
        seen.add(key)
        problem = npi_problem(party.id)
        if problem:
            yield Hit(
                f"the {label} NPI {party.id} (NM109) {problem}",
                line=line,
                where=party.where,
                element="NM109",
            )


# -- teeth and surfaces -----------------------------------------------------------------


def _tooth_hint(value: str) -> str | None:
    """The valid tooth a malformed one probably meant ('08' -> '8', 'a' -> 'A', '#8' -> '8')."""
    candidate = value.strip().lstrip("#").upper()
    if candidate[:1] == "0":
        candidate = candidate.lstrip("0")
    if candidate != value and candidate in ALL_TEETH:
        reasons = []
        if value.strip().startswith("#"):
            reasons.append("no '#'")
        if value.strip().lstrip("#")[:1] == "0":
            reasons.append("no leading zero")
        if value != value.upper():
            reasons.append("upper-case letters")
        how = ", ".join(reasons) or "no spaces"
        return f"Send {candidate} ({how}): JP tooth numbers are written as in the ADA chart."
    return None


_JP = "JP tooth numbers are 1-32, A-T, and 51-82 or AS-TS for supernumerary teeth"


def _teeth_in_doubt(claim: m.Claim) -> bool:
    """A tooth number (TOO02, DN201) that is not a JP tooth: tooth_number has work to do."""
    for line in claim.lines:
        for tooth in line.teeth:
            if tooth.number and tooth.number not in ALL_TEETH:
                return True
    for status in claim.tooth_status:  # noqa: SIM110 - a plain loop: no generator per claim
        if status.number and status.number not in ALL_TEETH:
            return True
    return False


@claim_rule(
    "codes.tooth-number",
    snip=5,
    severity="error",
    summary="a tooth number (TOO02 or DN201) is not in the ADA Universal (JP) system",
    fix="Send tooth numbers 1-32 or letters A-T (supernumerary 51-82, AS-TS), without leading zeros.",
)
def tooth_number(claim: m.Claim, ctx: RuleContext) -> Iterable[Hit]:
    """Tooth numbers must come from the ADA Universal/National system (qualifier JP).

    Valid values: 1-32 for permanent teeth, A-T for primary teeth, 51-82 and
    AS-TS for supernumerary teeth. Anything else, including `08` with a leading
    zero, lower-case `a` or `#8`, is not a JP tooth code: the payer cannot tell
    which tooth was treated and rejects the line (and a frequency or history
    edit cannot run). Missing or to-be-extracted teeth (DN201) follow the same
    system.

    Example: `TOO*JP*08*M:O:D` or `DN2*t*M***JP`.

    Instead: `TOO*JP*8*M:O:D`, `DN2*T*M***JP`.
    """
    if not _teeth_in_doubt(claim):
        return ()
    return _tooth_number_hits(claim)


def _tooth_number_hits(claim: m.Claim) -> Iterator[Hit]:
    for line in claim.lines:
        for tooth in line.teeth:
            if tooth.number and tooth.number not in ALL_TEETH:
                yield Hit(
                    f"tooth {tooth.number!r} on line {line.number} ({line.procedure}) is not a "
                    f"JP tooth number (TOO02)",
                    line=line,
                    tooth=tooth.number,
                    where=tooth.where,
                    element="TOO02",
                    hint=_tooth_hint(tooth.number),
                )
    for status in claim.tooth_status:
        if status.number and status.number not in ALL_TEETH:
            yield Hit(
                f"tooth {status.number!r} in the tooth status list (DN201) is not a JP tooth number",
                tooth=status.number,
                where=status.where,
                element="DN201",
                hint=_tooth_hint(status.number),
            )


@line_rule(
    "codes.surface-duplicate",
    snip=5,
    severity="error",
    summary="the same surface is listed twice for one tooth (TOO03)",
    fix="List each treated surface once per tooth (TOO*JP*30*M:O:D).",
    needs="teeth",
)
def surface_duplicate(line: m.ServiceLine, claim: m.Claim, ctx: RuleContext) -> Iterable[Hit]:
    """Each surface of a tooth is listed once.

    The surface count decides which restoration code applies (one, two, three,
    four or more surfaces). A surface listed twice makes the count disagree with
    the code, and payers reject or downcode the line.

    Example: `TOO*JP*30*M:O:O` on a two-surface restoration.

    Instead: `TOO*JP*30*M:O`, or the surfaces actually restored
    (`TOO*JP*30*M:O:D` with a three-surface code).
    """
    for tooth in line.teeth:
        surfaces = tooth.surfaces
        if len(surfaces) > 1 and len(set(surfaces)) < len(surfaces):
            break
    else:
        return ()
    return _surface_duplicate_hits(line)


def _surface_duplicate_hits(line: m.ServiceLine) -> Iterator[Hit]:
    for tooth in line.teeth:
        twice = sorted(s for s, n in Counter(tooth.surfaces).items() if n > 1)
        if twice:
            yield Hit(
                f"tooth #{tooth.number} on line {line.number} ({line.procedure}) lists surface"
                f"{'s' if len(twice) > 1 else ''} {', '.join(twice)} more than once "
                f"(TOO03 {':'.join(tooth.surfaces)})",
                line=line,
                tooth=tooth.number,
                where=tooth.where,
                element="TOO03",
            )


_SURFACE_NAMES = {
    "B": "buccal",
    "D": "distal",
    "F": "facial",
    "I": "incisal",
    "L": "lingual",
    "M": "mesial",
    "O": "occlusal",
}


@line_rule(
    "codes.surface-tooth-mismatch",
    snip=5,
    severity="warning",
    summary="a surface that does not exist on that kind of tooth (O/B on an anterior, I/F on a posterior)",
    fix="Use F (facial) and I (incisal) on incisors and canines, B (buccal) and O (occlusal) on "
    "premolars and molars.",
    needs="teeth",
)
def surface_tooth_mismatch(line: m.ServiceLine, claim: m.Claim, ctx: RuleContext) -> Iterable[Hit]:
    """Occlusal and buccal surfaces belong to back teeth, incisal and facial to front teeth.

    Incisors and canines have an incisal edge and a facial side; premolars and
    molars have an occlusal surface and a buccal side. A mismatch usually means
    a wrong tooth number or a surface picked from the wrong chart, and many
    payers deny the restoration (some Medicaid manuals state the pairing
    outright). It is a warning: a few offices chart B on anteriors for facial.

    Example: `TOO*JP*8*M:O` (8 is a central incisor).

    Instead: `TOO*JP*8*M:I` (or the right tooth number if the tooth was a molar).
    """
    for tooth in line.teeth:
        if tooth.surfaces and _mismatched(tooth.number, tooth.surfaces):
            break
    else:
        return ()
    return _surface_tooth_mismatch_hits(line)


# (tooth, surfaces) -> a surface of the other kind of tooth is listed: a file repeats a few
# dozen such pairs on every restoration line.
_MISMATCHED: dict[tuple[str, tuple[str, ...]], bool] = {}


def _mismatched(number: str, surfaces: tuple[str, ...]) -> bool:
    key = (number, surfaces)
    found = _MISMATCHED.get(key)
    if found is None:
        kind = tooth_kind(number)
        if kind is None:
            found = False
        else:
            pol = policy()
            wrong_set = pol.posterior_only if kind == "anterior" else pol.anterior_only
            found = not wrong_set.isdisjoint(surfaces)
        if len(_MISMATCHED) >= 4096:
            _MISMATCHED.clear()
        _MISMATCHED[key] = found
    return found


def _surface_tooth_mismatch_hits(line: m.ServiceLine) -> Iterator[Hit]:
    pol = policy()
    for tooth in line.teeth:
        kind = tooth_kind(tooth.number)
        if kind is None:
            continue
        wrong_set = pol.posterior_only if kind == "anterior" else pol.anterior_only
        wrong = [s for s in dict.fromkeys(tooth.surfaces) if s in wrong_set]
        if not wrong:
            continue
        names = ", ".join(f"{s} ({_SURFACE_NAMES.get(s, s)})" for s in wrong)
        other = "posterior" if kind == "anterior" else "anterior"
        yield Hit(
            f"tooth #{tooth.number} on line {line.number} ({line.procedure}) is "
            f"{'an anterior' if kind == 'anterior' else 'a posterior'} tooth, but TOO03 lists "
            f"{names}, found only on {other} teeth",
            line=line,
            tooth=tooth.number,
            where=tooth.where,
            element="TOO03",
        )


# -- areas -------------------------------------------------------------------------------

# Pre-HIPAA alphabetic area codes and what the ADA list calls them now.
_OLD_AREAS = {"UR": "10", "UL": "20", "LL": "30", "LR": "40", "UA": "01", "LA": "02", "FM": "00"}


@line_rule(
    "codes.area-unusual",
    snip=5,
    severity="warning",
    summary="an oral cavity code (SV304) outside the ADA claim form's list (03-09, L, R)",
    fix="Use the ADA form's area codes: 00 whole mouth, 01/02 arch, 10/20/30/40 quadrant.",
    needs="areas",
)
def area_unusual(line: m.ServiceLine, claim: m.Claim, ctx: RuleContext) -> Iterable[Hit]:
    """Sextant, 'other area', left and right codes are valid X12 but rarely accepted.

    SV304 takes area codes from an external list. The ADA claim form (and most
    payers' systems) know seven: 00 whole mouth, 01 maxillary arch, 02
    mandibular arch, 10/20/30/40 quadrants. The other X12 values (03-08
    sextants, 09 other area, L left, R right) are legal but many payers cannot
    map them and deny or pend the line.

    Example: `SV3*AD:D4341*220***03` (a sextant).

    Instead: report the quadrant or arch (`SV3*AD:D4341*220***10`), or check the
    payer's companion guide accepts sextants.
    """
    if not line.areas:
        return ()
    return _area_unusual_hits(line)


def _area_unusual_hits(line: m.ServiceLine) -> Iterator[Hit]:
    pol = policy()
    for area in line.areas:
        if area in pol.areas_unusual:
            yield Hit(
                f"line {line.number} ({line.procedure}) uses area code {area} (SV304), which is "
                f"not on the ADA claim form list ({', '.join(sorted(pol.areas_accepted))}); "
                "many payers do not accept it",
                line=line,
                element="SV304",
            )


@line_rule(
    "codes.area-invalid",
    snip=5,
    severity="error",
    summary="an oral cavity code (SV304) that is not an area code at all",
    fix="Use 00 whole mouth, 01 maxillary or 02 mandibular arch, 10/20/30/40 quadrant.",
    needs="areas",
)
def area_invalid(line: m.ServiceLine, claim: m.Claim, ctx: RuleContext) -> Iterable[Hit]:
    """SV304 must hold oral cavity designation codes.

    Accepted: 00 whole mouth, 01 maxillary arch, 02 mandibular arch, 10 upper
    right, 20 upper left, 30 lower left, 40 lower right quadrant (and, with a
    warning, the other X12 codes 03-09, L, R). Anything else, such as the old
    alphabetic `UR` or `LA` codes or a tooth number in the wrong place, is
    rejected by the payer's code-set edit.

    Example: `SV3*AD:D4341*220***UR`.

    Instead: `SV3*AD:D4341*220***10` (UR = 10, UL = 20, LL = 30, LR = 40,
    UA = 01, LA = 02, FM = 00).
    """
    if not line.areas:
        return ()
    return _area_invalid_hits(line)


def _area_invalid_hits(line: m.ServiceLine) -> Iterator[Hit]:
    pol = policy()
    for area in line.areas:
        if area in pol.areas_accepted or area in pol.areas_unusual:
            continue
        old = _OLD_AREAS.get(area.upper())
        yield Hit(
            f"line {line.number} ({line.procedure}) has area code {area!r} (SV304), which is "
            "not an oral cavity designation code",
            line=line,
            element="SV304",
            hint=f"Send {old}: the alphabetic {area.upper()} is a pre-HIPAA code." if old else None,
        )


_QUADRANT_NAMES = {"10": "upper right", "20": "upper left", "30": "lower left", "40": "lower right"}


@line_rule(
    "codes.area-tooth-quadrant",
    snip=5,
    severity="warning",
    summary="a tooth (TOO) on the line lies outside the quadrant named in SV304",
    fix="Correct the quadrant (SV304) or the tooth number so that they agree.",
    needs="areas",
)
def area_tooth_quadrant(line: m.ServiceLine, claim: m.Claim, ctx: RuleContext) -> Iterable[Hit]:
    """When a line names a quadrant and teeth, the teeth must be in that quadrant.

    A quadrant procedure reported with SV304 = 10, 20, 30 or 40 and tooth
    numbers that lie in another quadrant contradicts itself: one of the two is
    wrong, and the payer cannot tell which part of the mouth was treated.
    Teeth inside an arch also named on the line (01, 02) or with 00 (whole
    mouth) are accepted.

    Example: `SV3*AD:D4342*180***10` with `TOO*JP*30` (tooth 30 is lower right,
    quadrant 40).

    Instead: `SV3*AD:D4342*180***40` with `TOO*JP*30`.
    """
    if not line.areas or not line.teeth:
        return ()
    return _area_tooth_quadrant_hits(line)


def _area_tooth_quadrant_hits(line: m.ServiceLine) -> Iterator[Hit]:
    quadrants = {a for a in line.areas if a in QUADRANTS}
    if not quadrants or "00" in line.areas:
        return
    allowed = set(quadrants)
    if "01" in line.areas:
        allowed |= {"10", "20"}
    if "02" in line.areas:
        allowed |= {"30", "40"}
    named = " or ".join(f"{q} ({_QUADRANT_NAMES[q]})" for q in sorted(quadrants))
    for tooth in line.teeth:
        q = quadrant_of(tooth.number)
        if q is None or q in allowed:
            continue
        yield Hit(
            f"tooth #{tooth.number} on line {line.number} ({line.procedure}) is in quadrant "
            f"{q} ({_QUADRANT_NAMES[q]}), but SV304 names quadrant {named}",
            line=line,
            tooth=tooth.number,
            where=tooth.where,
            element="TOO02",
        )


# -- procedure codes --------------------------------------------------------------------


def _not_cdt_shaped(code: str, settings: Settings) -> bool:
    """The engine's prefilter: an empty or well-formed code gives `cdt_code` nothing to say
    (asked once per code, so the rule is not called for every line of every claim)."""
    return bool(code) and not CDT_CODE.match(code)


@line_rule(
    "codes.cdt-code",
    snip=5,
    severity="error",
    summary="the procedure code (SV301-2) is not shaped like a CDT code (D and four digits)",
    fix="Send the CDT code as D followed by four digits (SV3*AD:D2391).",
    prefilter=_not_cdt_shaped,
)
def cdt_code(line: m.ServiceLine, claim: m.Claim, ctx: RuleContext) -> Iterator[Hit]:
    """Dental procedures are reported with CDT codes: the letter D and four digits.

    SV301-1 = AD says SV301-2 is a CDT code. A value of another shape (a
    practice's internal code, a CPT code, lower-case `d2391`, a missing D) is
    not in the code set and the payer rejects the line.

    Example: `SV3*AD:2391*150` or `SV3*AD:d2391*150`.

    Instead: `SV3*AD:D2391*150`.
    """
    code = line.procedure
    if line.procedure_qualifier != "AD" or not code or CDT_CODE.match(code):
        return  # another qualifier or an empty code is a syntax error reported on its own
    fixed = code.strip().upper()
    if fixed.isdigit() and len(fixed) == 4:
        fixed = "D" + fixed
    hint = f"Send {fixed}." if fixed != code and CDT_CODE.match(fixed) else None
    yield Hit(
        f"procedure code {code!r} on line {line.number} (SV301-2) is not a CDT code "
        "(D followed by four digits)",
        line=line,
        element="SV301-2",
        hint=hint,
    )


# -- birth dates -------------------------------------------------------------------------


@claim_rule(
    "codes.birth-date",
    snip=5,
    severity="error",
    summary="a birth date (DMG02) is after a date of service or after today",
    fix="Correct the birth date (DMG02) or the date of service.",
)
def birth_date(claim: m.Claim, ctx: RuleContext) -> Iterable[Hit]:
    """Nobody is treated before being born, or born in the future.

    The patient's birth date (2010CA DMG02, or 2010BA when the patient is the
    subscriber) must not be after any date of service, and no birth date may be
    after today. Payers match patients on the birth date; a wrong one fails
    eligibility and the claim is rejected. (A typical cause is the service date
    typed in the birth date field.)

    Example: `DMG*D8*20261001*F` for the patient and `DTP*472*D8*20260910`.

    Instead: send the patient's real birth date.
    """
    if not _birth_in_doubt(claim, ctx.today):
        return ()
    return _birth_date_hits(claim, ctx)


def _birth_date_hits(claim: m.Claim, ctx: RuleContext) -> Iterator[Hit]:
    sub = claim.subscriber
    pat = claim.patient
    people: list[tuple[str, m.DateValue | None, bool]] = []
    if pat is not None:
        people.append(("patient's", pat.birth_date, True))
        people.append(("subscriber's", sub.birth_date if sub else None, False))
    elif sub is not None:
        people.append(("patient's (the subscriber's)", sub.birth_date, True))
    for who, born, treated in people:
        if born is None or born.start is None:
            continue
        if born.start > ctx.today:
            yield Hit(
                f"the {who} birth date (DMG02) is in the future (today is {ctx.today.isoformat()})",
                where=born.where,
                element="DMG02",
            )
            continue
        if not treated:
            continue
        before = _first_service_before(claim, born.start)
        if before is not None:
            day, line = before
            at = "the claim" if line is None else f"line {line.number} ({line.procedure})"
            yield Hit(
                f"the {who} birth date (DMG02) is after the date of service "
                f"{day.strftime('%Y%m%d')} of {at}",
                line=line,
                where=born.where,
                element="DMG02",
            )


def _birth_in_doubt(claim: m.Claim, today: dt.date) -> bool:
    """False when birth_date has nothing to say: no birth date after today, none after the
    claim's earliest date of service (the usual claim, decided without building a list)."""
    pat = claim.patient
    sub = claim.subscriber
    if pat is not None:
        treated = pat.birth_date
        other = sub.birth_date if sub else None
        if other is not None and other.start is not None and other.start > today:
            return True
    elif sub is not None:
        treated = sub.birth_date
    else:
        return False
    born = treated.start if treated is not None else None
    if born is None:
        return False
    if born > today:
        return True
    # The dates _first_service_before compares: a line's own DTP*472, else the claim's
    # (line_date gives the same set of days, already cached by the other rules).
    claim_date = claim.date("472")
    if claim_date is not None and claim_date.start is not None and claim_date.start < born:
        return True
    for line in claim.lines:
        day = line_date(line, claim)
        if day is not None and day < born:
            return True
    return False


def _first_service_before(
    claim: m.Claim, born: dt.date
) -> tuple[dt.date, m.ServiceLine | None] | None:
    """The earliest date of service before the birth date, and its line (None: claim level)."""
    found: list[tuple[dt.date, int, m.ServiceLine | None]] = []
    claim_date = claim.date("472")
    if claim_date is not None and claim_date.start is not None:
        found.append((claim_date.start, 0, None))
    for i, line in enumerate(claim.lines, 1):
        own = line.date("472")
        day = own.start if own is not None else None
        if day is not None:
            found.append((day, i, line))
    early = [f for f in found if f[0] < born]
    if not early:
        return None
    first = min(early, key=lambda f: (f[0], f[1]))
    return first[0], first[2]


# -- addresses ---------------------------------------------------------------------------


def _addresses(claim: m.Claim) -> Iterator[tuple[str, m.Address, bool]]:
    """(label, address, private): private addresses are people's, whose values stay out of messages."""
    billing = claim.billing_provider
    if billing is not None and billing.party is not None and billing.party.address:
        yield "billing provider (2010AA)", billing.party.address, False
    sub = claim.subscriber
    if sub is not None and sub.party is not None and sub.party.address:
        yield "subscriber (2010BA)", sub.party.address, True
    if claim.payer is not None and claim.payer.party.address:
        yield "payer (2010BB)", claim.payer.party.address, False
    pat = claim.patient
    if pat is not None and pat.party is not None and pat.party.address:
        yield "patient (2010CA)", pat.party.address, True
    if claim.service_facility is not None and claim.service_facility.address:
        yield "service facility (2310C)", claim.service_facility.address, False
    for other in claim.other_payers:
        if other.payer is not None and other.payer.address:
            yield f"other payer {other.payer.id} (2330B)", other.payer.address, False


# The claim last asked about and its addresses: the ZIP and state rules both read them.
_ADDRESSES: list[Any] = [None, []]


def _claim_addresses(claim: m.Claim) -> list[tuple[str, m.Address, bool]]:
    held = _ADDRESSES
    if held[0] is not claim:
        held[0], held[1] = claim, list(_addresses(claim))
    found: list[tuple[str, m.Address, bool]] = held[1]
    return found


_ZIP_OK: dict[str, bool] = {}  # the ZIP codes of a file repeat: each is matched once


def _zip_ok(zip_code: str) -> bool:
    ok = _ZIP_OK.get(zip_code)
    if ok is None:
        if len(_ZIP_OK) >= 4096:
            _ZIP_OK.clear()
        ok = _ZIP_OK[zip_code] = ZIP_CODE.match(zip_code) is not None
    return ok


def _in_us(address: m.Address) -> bool:
    return address.country in ("", "US")


@claim_rule(
    "codes.zip",
    snip=5,
    severity="error",
    summary="a US address has a ZIP code (N403) that is not 5 or 9 digits",
    fix="Send the ZIP code as 5 digits or ZIP+4 as 9 digits, without a hyphen or spaces.",
)
def zip_code(claim: m.Claim, ctx: RuleContext) -> Iterable[Hit]:
    """A US ZIP code is 5 digits, or 9 for ZIP+4, with no hyphen.

    N403 of a US address (N404 empty or US) must be present and be `43215` or
    `432151234`. `43215-1234`, a 4-digit ZIP whose leading zero was lost in a
    spreadsheet (`2115` for `02115`) or a missing ZIP fail the payer's address
    edit, and the claim is rejected.

    Example: `N4*BOSTON*MA*2115` or `N4*COLUMBUS*OH*43215-1234`.

    Instead: `N4*BOSTON*MA*02115`, `N4*COLUMBUS*OH*432151234`.
    """
    for _label, address, _private in _claim_addresses(claim):
        if not _zip_ok(address.zip) and _in_us(address):
            break
    else:
        return ()
    return _zip_code_hits(claim)


def _zip_code_hits(claim: m.Claim) -> Iterator[Hit]:
    for label, address, private in _claim_addresses(claim):
        if not _in_us(address) or _zip_ok(address.zip):
            continue
        if not address.zip:
            problem = "address has no ZIP code (N403), which a US address requires"
        else:
            shown = "" if private else f" {address.zip!r}"
            problem = f"ZIP code{shown} (N403) is not 5 or 9 digits"
        hint = None
        digits = address.zip.replace("-", "").replace(" ", "")
        if digits != address.zip and ZIP_CODE.match(digits):
            hint = "Remove the hyphen or space: ZIP+4 is sent as 9 digits in a row."
        elif address.zip.isdigit() and len(address.zip) in (4, 8):
            hint = "A leading zero was probably lost: ZIP codes in the northeast start with 0."
        yield Hit(
            f"the {label} {problem}",
            where=address.where,
            element="N403",
            hint=hint,
        )


@claim_rule(
    "codes.billing-zip-plus4",
    snip=5,
    severity="warning",
    summary="the billing provider's ZIP code is 5 digits; 5010 asks for ZIP+4 (9 digits)",
    fix="Send the billing provider's full 9-digit ZIP+4 in 2010AA N403.",
)
def billing_zip_plus4(claim: m.Claim, ctx: RuleContext) -> Iterator[Hit]:
    """The billing provider's address should carry the full ZIP+4.

    Under 5010 the billing provider's ZIP code in 2010AA must be 9 digits
    (ZIP+4); many clearinghouses and payers reject a 5-digit one (the Claredi
    validator does). It is a warning here because the official X12 837D
    examples themselves send 5 digits; a payer pack can make it an error.

    Example: `N4*COLUMBUS*OH*43215` in 2010AA.

    Instead: `N4*COLUMBUS*OH*432151234` (look the +4 up with the USPS).
    """
    billing = claim.billing_provider
    party = billing.party if billing else None
    address = party.address if party else None
    if address is None or not _in_us(address):
        return
    if len(address.zip) == 5 and address.zip.isdigit():
        yield Hit(
            f"the billing provider ZIP code {address.zip} (2010AA N403) has 5 digits; "
            "send the 9-digit ZIP+4",
            where=address.where,
            element="N403",
        )


# Canadian province codes replaced in the 1990s-2000s; still in some X12 code lists.
_OLD_PROVINCES = {"NF": "NL", "PQ": "QC"}


@claim_rule(
    "codes.state",
    snip=5,
    severity="error",
    summary="the state or province (N402) does not fit the address's country",
    fix="Send the USPS state code for US addresses, the Canadian province code when N404 = CA.",
)
def state_code(claim: m.Claim, ctx: RuleContext) -> Iterable[Hit]:
    """US addresses carry a USPS state code, Canadian ones a province code.

    N402 is required for US and Canadian addresses. A US address (N404 empty or
    US) needs a USPS state or territory code; a Canadian province code there
    (`ON`, `BC`...) means the country is missing or the state was mistyped, and
    the payer's address edit rejects it. Provinces are accepted when N404 = CA.
    Values that are no state or province code at all are already reported by
    the syntax check (x12.element.invalid-code) and not repeated here.

    Example: `N4*TORONTO*ON*M5V2T6` (no N404) or `N4*COLUMBUS*ON*43215`.

    Instead: `N4*TORONTO*ON*M5V2T6*CA` or `N4*COLUMBUS*OH*43215`.
    """
    for _label, address, _private in _claim_addresses(claim):
        if _in_us(address):
            state = address.state
            if not state or state in CANADIAN_PROVINCES or state in _OLD_PROVINCES:
                break
        elif address.country == "CA":
            break
    else:
        return ()
    return _state_code_hits(claim)


def _state_code_hits(claim: m.Claim) -> Iterator[Hit]:
    for label, address, _private in _claim_addresses(claim):
        state = address.state
        if _in_us(address):
            if not state:
                problem = "address has no state (N402), which a US address requires"
            elif state in CANADIAN_PROVINCES or state in _OLD_PROVINCES:
                problem = (
                    f"state {state} (N402) is a Canadian province code, but the address is in "
                    "the US (N404 is empty or US); add N404 = CA if it is in Canada"
                )
            else:
                continue
        elif address.country == "CA":
            if not state:
                problem = "address has no province (N402), which a Canadian address requires"
            elif state in _OLD_PROVINCES:
                problem = f"province {state} (N402) is an old code; use {_OLD_PROVINCES[state]}"
            elif state in US_STATES:
                problem = (
                    f"state {state} (N402) is a US code, but the address is in Canada (N404 = CA)"
                )
            else:
                continue
        else:
            continue
        yield Hit(f"the {label} {problem}", where=address.where, element="N402")
