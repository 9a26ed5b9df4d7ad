"""Seeded generator of clean 837D (005010X224A2) interchanges, and single-fault mutations of them.

The public 837D samples are few and tiny (one claim each), and real claim files carry PHI, so the
property tests and the throughput benchmark need files we can make ourselves: as many claims as
asked, every byte reproducible from a seed, and clean at every level a validator checks (X12
syntax, the TR3 structure, balancing, and the dental rules: tooth types, surface counts, units
per tooth, bundling on one date, implant sequencing). A finding on a generated file is then a
bug in the validator, never noise from the data. `mutate` then breaks exactly one thing, and says
where, so a test can ask whether the validator reported that and only that.

Files of 200k claims must not be held in memory: `write_interchange` streams segments to a text
handle and keeps only counters (per-claim details only when `GenOptions.keep_claims` asks).

All people, practices, payers and identifiers are invented. Procedure codes appear as numbers
only: CDT descriptors are ADA copyright and must not be reproduced.
"""

from __future__ import annotations

import datetime as dt
import io
import random
import string
from collections.abc import Callable, Sequence
from typing import Final, Literal, NamedTuple, TextIO

import attrs

__all__ = [
    "DEFAULT_VERSION",
    "MUTATION_KINDS",
    "ClaimInfo",
    "Delimiters",
    "GenOptions",
    "Generated",
    "Mutation",
    "MutationKind",
    "Summary",
    "applicable_kinds",
    "generate",
    "make_npi",
    "mutate",
    "write_interchange",
]

DEFAULT_VERSION: Final = "005010X224A2"

# Characters that generated data values may contain. A delimiter drawn from this set would split
# a value, so `Delimiters` refuses them (the generator never escapes; X12 has no escape).
_DATA_CHARS: Final = frozenset(string.ascii_letters + string.digits + " .#/-,;")
_LINE_BREAKS: Final = ("", "\n", "\r\n")


def _check_delimiter(_inst: object, attribute: attrs.Attribute[str], value: str) -> None:
    if len(value) != 1 or value in _DATA_CHARS or not value.isprintable():
        raise ValueError(
            f"{attribute.name} delimiter {value!r} must be one printable character that never "
            "occurs in data (no letters, digits, space or . # / - , ;)"
        )


@attrs.frozen
class Delimiters:
    """The four X12 separators; ISA fixes their positions, so any distinct choice is legal X12."""

    element: str = attrs.field(default="*", validator=_check_delimiter)
    component: str = attrs.field(default=":", validator=_check_delimiter)
    repetition: str = attrs.field(default="^", validator=_check_delimiter)
    segment: str = attrs.field(default="~", validator=_check_delimiter)

    def __attrs_post_init__(self) -> None:
        chars = (self.element, self.component, self.repetition, self.segment)
        if len(set(chars)) != 4:
            raise ValueError(f"delimiters must be distinct, got {chars!r}")


def _positive(_inst: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ValueError(f"{attribute.name} must be >= 1, got {value}")


def _optional_positive(
    _inst: object, attribute: attrs.Attribute[int | None], value: int | None
) -> None:
    if value is not None and value < 1:
        raise ValueError(f"{attribute.name} must be >= 1 or None, got {value}")


def _share(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be within [0, 1], got {value}")


def _one_of(*allowed: str) -> Callable[[object, attrs.Attribute[str], str], None]:
    def check(_inst: object, attribute: attrs.Attribute[str], value: str) -> None:
        if value not in allowed:
            raise ValueError(f"{attribute.name} must be one of {allowed!r}, got {value!r}")

    return check


def _version(_inst: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not 1 <= len(value) <= 12 or any(ch in value for ch in " *:^~|"):
        raise ValueError(f"{attribute.name} must be a GS08 value of 1-12 characters, got {value!r}")


@attrs.frozen(kw_only=True)
class GenOptions:
    """What to generate. Defaults give a small, clean, one-segment-per-line file.

    `claims` is the total over the whole file, spread evenly over interchanges x groups x
    transactions; 0 gives transactions with a billing provider and a subscriber but no claim
    (structurally valid X12, a business error). Billing providers per transaction are `providers`
    when set, else one per `claims_per_provider` claims. Switching off `notes`, `prior_auth` or
    `attachments` also drops the procedures whose payers expect them (implants, D9911), so the
    output stays clean for the dental rules.
    """

    claims: int = attrs.field(default=10)
    providers: int | None = attrs.field(default=None, validator=_optional_positive)
    claims_per_provider: int = attrs.field(default=20, validator=_positive)
    dependent_share: float = attrs.field(default=0.3, validator=_share)
    max_lines: int = attrs.field(default=8)
    delimiters: Delimiters = attrs.field(factory=Delimiters)
    line_break: str = attrs.field(default="\n", validator=_one_of(*_LINE_BREAKS))
    interchanges: int = attrs.field(default=1, validator=_positive)
    groups: int = attrs.field(default=1, validator=_positive)
    transactions: int = attrs.field(default=1, validator=_positive)
    version: str = attrs.field(default=DEFAULT_VERSION, validator=_version)
    isa14: str = attrs.field(default="0", validator=_one_of("0", "1"))
    usage: str = attrs.field(default="T", validator=_one_of("T", "P"))
    control_number: int | None = attrs.field(default=None)
    created: dt.datetime = attrs.field(factory=lambda: dt.datetime(2026, 11, 2, 9, 30))
    notes: bool = True
    prior_auth: bool = True
    attachments: bool = True
    claim_dates: bool = True
    line_dates: bool = True
    line_control: bool = True
    implants: bool = True
    keep_claims: bool = False

    @claims.validator
    def _check_claims(self, _attribute: attrs.Attribute[int], value: int) -> None:
        sets = self.interchanges * self.groups * self.transactions
        if value != 0 and value < sets:
            raise ValueError(
                f"claims={value} cannot fill {sets} transaction sets; use 0 or at least {sets}"
            )
        if value < 0:
            raise ValueError("claims must be >= 0")

    @max_lines.validator
    def _check_max_lines(self, _attribute: attrs.Attribute[int], value: int) -> None:
        if not 1 <= value <= 50:
            raise ValueError(f"max_lines must be within 1..50 (2400 repeats 50), got {value}")

    @control_number.validator
    def _check_control(self, _attribute: attrs.Attribute[int | None], value: int | None) -> None:
        if value is not None and not 1 <= value <= 999_999_999 - self.interchanges:
            raise ValueError(f"control_number must fit ISA13 (9 digits), got {value}")


@attrs.frozen
class ClaimInfo:
    """Where one generated claim sits, so a test can match findings against it."""

    claim_id: str
    st02: str
    position: int  # segment position of CLM from ST (ST = 1)
    lines: int
    charge: str  # CLM02 exactly as written
    codes: tuple[str, ...]
    dependent: bool


@attrs.frozen
class Summary:
    """Counts of what was written; per-claim data only when `GenOptions.keep_claims` is set."""

    interchanges: int
    groups: int
    transactions: int
    claims: int
    service_lines: int
    segments: int  # all segments in the file, envelope included
    characters: int
    claim_details: tuple[ClaimInfo, ...] = ()

    @property
    def claim_ids(self) -> tuple[str, ...]:
        """CLM01 values in file order; empty unless `keep_claims` was set."""
        return tuple(c.claim_id for c in self.claim_details)

    @property
    def line_counts(self) -> tuple[int, ...]:
        return tuple(c.lines for c in self.claim_details)


@attrs.frozen
class Generated:
    """A generated file kept with the options that made it, so a failing test can show both."""

    text: str
    summary: Summary
    options: GenOptions


# --------------------------------------------------------------------------------------------
# Invented reference data
# --------------------------------------------------------------------------------------------

# fmt: off
_LAST: Final = (
    "ABERNATHY", "BALDWIN", "CASTILLO", "DALTON", "ELLISON", "FARRELL", "GALLAGHER", "HOLLOWAY",
    "IBARRA", "JENSEN", "KOWALSKI", "LINDQVIST", "MARSHALL", "NAKAMURA", "OKAFOR", "PRESCOTT",
    "QUINTERO", "ROWLAND", "SANTIAGO", "THORNTON", "UNDERWOOD", "VASQUEZ", "WHITAKER", "YOUNGBLOOD",
    "ZIMMERMAN", "ASHFORD", "BRENNAN", "CALLOWAY", "DESMOND", "FAIRBANKS", "GRIMALDI", "HARTLEY",
)
_FIRST_F: Final = (
    "ALICE", "BEATRICE", "CLARA", "DELIA", "EMMA", "FIONA", "GRACE", "HANNAH", "IRENE", "JUNE",
    "KAREN", "LUCIA", "MAYA", "NORA", "OLIVIA", "PRIYA", "ROSA", "SOFIA", "TESSA", "VERA",
)
_FIRST_M: Final = (
    "AARON", "BENJAMIN", "CARLOS", "DANIEL", "ELIAS", "FELIX", "GEORGE", "HENRY", "ISAAC", "JONAH",
    "KEVIN", "LEON", "MARCUS", "NATHAN", "OSCAR", "PETER", "RAFAEL", "SAMUEL", "THOMAS", "VICTOR",
)
_STREETS: Final = (
    "MAPLE AVE", "OAK ST", "CEDAR LN", "ELM DR", "BIRCH RD", "WILLOW WAY", "HARBOR BLVD",
    "MILL RD", "RIVERSIDE DR", "SUMMIT AVE", "LAKEVIEW TER", "ORCHARD CT", "PINE ST", "GROVE ST",
)
# (city, state, first three ZIP digits): real prefixes for the state, invented addresses.
_PLACES: Final = (
    ("SPRINGFIELD", "IL", "627"), ("MADISON", "WI", "537"), ("COLUMBUS", "OH", "432"),
    ("AUSTIN", "TX", "787"), ("RALEIGH", "NC", "276"), ("BOISE", "ID", "837"),
    ("SALEM", "OR", "973"), ("ALBANY", "NY", "122"), ("TAMPA", "FL", "336"),
    ("DENVER", "CO", "802"), ("RICHMOND", "VA", "232"), ("OMAHA", "NE", "681"),
)
_PRACTICE_WORDS: Final = (
    ("BRIGHT", "SUMMIT", "HARBOR", "MEADOW", "RIVERBEND", "CEDAR", "NORTHGATE", "LAKESIDE"),
    ("SMILE", "FAMILY", "COMMUNITY", "ORAL HEALTH", "GENTLE"),
    ("DENTISTRY", "DENTAL GROUP", "DENTAL CARE", "DENTAL ASSOCIATES", "DENTAL STUDIO"),
)
_PAYERS: Final = (
    ("ACME DENTAL PLAN", "AD101"), ("NORTHSTAR DENTAL INSURANCE", "NS202"),
    ("BLUE HARBOR DENTAL", "BH303"), ("EVERGREEN BENEFITS DENTAL", "EG404"),
)
_EIN_PREFIXES: Final = (
    "20", "21", "22", "23", "24", "25", "26", "27", "30", "31", "32", "33", "34", "35", "36", "37",
    "38", "39", "41", "42", "43", "44", "45", "46", "47", "48", "52", "53", "54", "55", "56", "57",
    "58", "59", "61", "62", "63", "64", "65", "66", "67", "68", "71", "72", "73", "74", "75", "76",
    "77", "81", "82", "83", "84", "85", "86", "87", "88",
)
_TAXONOMY_GENERAL: Final = "1223G0001X"
_FILING: Final = ("CI", "CI", "CI", "12", "17")

# Base fees in cents; each practice scales them once, so a code costs the same on every claim
# of one billing provider, as a fee schedule would.
_FEES: Final[dict[str, int]] = {
    "D0120": 5500, "D0150": 9500, "D0210": 14500, "D0274": 7500, "D1110": 10500, "D1120": 7500,
    "D2140": 13000, "D2150": 16500, "D2160": 19500, "D2161": 23500,
    "D2330": 15000, "D2331": 18500, "D2332": 22500, "D2335": 28000,
    "D2391": 16500, "D2392": 21500, "D2393": 26500, "D2394": 31000,
    "D2740": 125000, "D2750": 115000, "D3310": 85000, "D3320": 97500, "D3330": 115000,
    "D4341": 27500, "D4342": 19500, "D4910": 14500, "D6010": 210000, "D6011": 55000,
    "D7140": 18500, "D7210": 32500, "D9910": 5500, "D9911": 4500,
}

# Tooth groups (dental-code-sets.md §1.2), permanent dentition only: children get no
# tooth-specific procedures here, so primary teeth never appear.
_ANTERIOR: Final = (6, 7, 8, 9, 10, 11, 22, 23, 24, 25, 26, 27)
_PREMOLAR: Final = (4, 5, 12, 13, 20, 21, 28, 29)
_MOLAR: Final = (2, 3, 14, 15, 18, 19, 30, 31)
_THIRD_MOLAR: Final = (1, 16, 17, 32)
_POSTERIOR: Final = _PREMOLAR + _MOLAR
_RESTORABLE: Final = _ANTERIOR + _POSTERIOR
_IMPLANT_SITES: Final = (3, 4, 5, 7, 8, 9, 10, 12, 13, 14, 19, 20, 29, 30)
# Teeth where cervical dentin is commonly exposed (recession), by quadrant (SV304 code), so a
# post-SRP D9911 can stay inside the quadrants that were scaled.
_D9911_SITES: Final[dict[str, tuple[int, ...]]] = {
    "10": (4, 5, 6, 7, 8), "20": (9, 10, 11, 12, 13),
    "30": (20, 21, 22, 23, 24), "40": (25, 26, 27, 28, 29),
}

# Surface sets by count; anterior teeth take F/I, posterior B/O (dental-code-sets.md §2).
_SURF_POSTERIOR: Final[dict[int, tuple[tuple[str, ...], ...]]] = {
    1: (("O",), ("B",), ("O",), ("L",)),
    2: (("M", "O"), ("D", "O"), ("O", "B"), ("O", "L")),
    3: (("M", "O", "D"), ("M", "O", "B"), ("D", "O", "L"), ("M", "O", "L")),
    4: (("M", "O", "D", "B"), ("M", "O", "D", "L"), ("M", "O", "D", "B", "L")),
}
_SURF_ANTERIOR: Final[dict[int, tuple[tuple[str, ...], ...]]] = {
    1: (("F",), ("L",), ("M",), ("D",)),
    2: (("M", "F"), ("D", "F"), ("M", "L"), ("D", "L")),
    3: (("M", "F", "L"), ("D", "F", "L"), ("M", "I", "F")),
    4: (("M", "I", "F", "L"), ("D", "I", "F", "L"), ("M", "D", "F", "L")),
}
_AMALGAM: Final = {1: "D2140", 2: "D2150", 3: "D2160", 4: "D2161"}
_RESIN_ANTERIOR: Final = {1: "D2330", 2: "D2331", 3: "D2332", 4: "D2335"}
_RESIN_POSTERIOR: Final = {1: "D2391", 2: "D2392", 3: "D2393", 4: "D2394"}

_D9911_MATERIALS: Final = (
    "Gluma Self-Etch resin", "Seal and Protect resin", "Vivasens resin", "Hurriseal resin",
    "HEMA/UDMA resin sealant",
)
# Etiologies for a D9911 visit on its own; "after SRP" is kept for the follow-up visit that the
# same file shows the SRP for.
_D9911_ETIOLOGY: Final = (
    "root exposed by gingival recession", "cervical dentin exposed by abrasion",
    "exposed dentin from abfraction",
)
# fmt: on


class _Line(NamedTuple):
    code: str
    teeth: tuple[tuple[str, tuple[str, ...]], ...] = ()
    area: str = ""
    prosthesis: str = ""
    units: int = 1


class _Visit(NamedTuple):
    date: dt.date
    lines: list[_Line]
    notes: list[str]
    attachments: list[str]  # PWK01 report types, sent electronically with a control number
    prior_auth: bool


class _Person(NamedTuple):
    last: str
    first: str
    gender: str
    birth: dt.date
    street: str
    city: str
    state: str
    zip: str


class _Dentist(NamedTuple):
    last: str
    first: str
    npi: str


class _Practice(NamedTuple):
    name: str
    npi: str
    ein: str
    street: str
    city: str
    state: str
    zip: str
    phone: str
    dentists: tuple[_Dentist, ...]
    fees: dict[str, str]  # code -> formatted unit charge
    fee_cents: dict[str, int]


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def make_npi(rng: random.Random) -> str:
    """A random NPI that passes the Luhn check with the 80840 prefix (dental-code-sets.md §12)."""
    first9 = str(rng.randrange(100_000_000, 300_000_000))
    if first9[0] not in "12":
        first9 = "1" + first9[1:]
    total = 24
    for i, ch in enumerate(reversed(first9)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return first9 + str((10 - total % 10) % 10)


def _amount(cents: int) -> str:
    """X12 R format without trailing zeros: 12500 -> '125', 12550 -> '125.5'."""
    whole, frac = divmod(cents, 100)
    if frac == 0:
        return str(whole)
    if frac % 10 == 0:
        return f"{whole}.{frac // 10}"
    return f"{whole}.{frac:02d}"


def _d8(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


def _digits(rng: random.Random, n: int) -> str:
    return str(rng.randrange(10 ** (n - 1), 10**n))


def _zip(rng: random.Random, prefix: str, plus4: bool) -> str:
    base = prefix + f"{rng.randrange(100):02d}"
    return base + f"{rng.randrange(1, 10000):04d}" if plus4 else base


def _birth(rng: random.Random, on: dt.date, min_age: int, max_age: int) -> dt.date:
    """A birth date making the person min_age..max_age+1 years old on `on` (never Feb 29)."""
    age = rng.randint(min_age, max_age)
    start = dt.date(on.year - age - 1, 1, 1)
    return start + dt.timedelta(days=rng.randrange(365))


def _person(
    rng: random.Random, created: dt.date, *, child: bool, family: _Person | None = None
) -> _Person:
    gender = rng.choice("FM")
    first = rng.choice(_FIRST_F if gender == "F" else _FIRST_M)
    # Children stay 4..12 on every service date (D1120, no permanent-tooth work); adults >= 18.
    birth = _birth(rng, created, 5, 10) if child else _birth(rng, created, 19, 78)
    if family is not None:  # a dependent shares the subscriber's name and home
        return family._replace(first=first, gender=gender, birth=birth)
    city, state, prefix = rng.choice(_PLACES)
    street = f"{rng.randrange(10, 9900)} {rng.choice(_STREETS)}"
    return _Person(
        rng.choice(_LAST),
        first,
        gender,
        birth,
        street,
        city,
        state,
        _zip(rng, prefix, rng.random() < 0.5),
    )


def _practice(rng: random.Random) -> _Practice:
    w1, w2, w3 = (rng.choice(words) for words in _PRACTICE_WORDS)
    city, state, prefix = rng.choice(_PLACES)
    dentists = tuple(
        _Dentist(rng.choice(_LAST), rng.choice(_FIRST_F + _FIRST_M), make_npi(rng))
        for _ in range(rng.randint(1, 3))
    )
    scale = rng.uniform(0.85, 1.25)
    # Some practices price to the cent: exercises R values like 123.45 and 99.5.
    granularity = rng.choice((100, 100, 50, 10, 1))
    fee_cents = {
        code: max(granularity, round(base * scale / granularity) * granularity)
        for code, base in _FEES.items()
    }
    return _Practice(
        name=f"{w1} {w2} {w3}",
        npi=make_npi(rng),
        ein=rng.choice(_EIN_PREFIXES) + _digits(rng, 7),
        street=f"{rng.randrange(100, 9900)} {rng.choice(_STREETS)}",
        city=city,
        state=state,
        zip=_zip(rng, prefix, True),
        phone=f"{rng.randrange(201, 990)}555{rng.randrange(10000):04d}",
        dentists=dentists,
        fees={code: _amount(c) for code, c in fee_cents.items()},
        fee_cents=fee_cents,
    )


# --------------------------------------------------------------------------------------------
# Clinical content: one visit = one claim = one date of service
# --------------------------------------------------------------------------------------------


def _restoration(rng: random.Random, tooth: int, many: bool = False) -> _Line:
    anterior = tooth in _ANTERIOR
    n = rng.choice((1, 2, 2, 3, 3, 4)) if not many else rng.randint(1, 4)
    table = _SURF_ANTERIOR if anterior else _SURF_POSTERIOR
    surfaces = rng.choice(table[n])
    if anterior:
        code = _RESIN_ANTERIOR[n]
    elif rng.random() < 0.35:
        code = _AMALGAM[n]
    else:
        code = _RESIN_POSTERIOR[n]
    return _Line(code, ((str(tooth), surfaces),))


def _endo_code(tooth: int) -> str:
    if tooth in _ANTERIOR:
        return "D3310"
    if tooth in _PREMOLAR:
        return "D3320"
    return "D3330"


class _Clinic:
    """Chooses visits that a payer's dental edits would accept as sent."""

    def __init__(self, rng: random.Random, opts: GenOptions) -> None:
        self.rng = rng
        self.opts = opts
        self.today = opts.created.date()
        self.narratives = opts.notes
        self.implants = opts.implants and opts.notes and opts.prior_auth and opts.attachments

    def _recent(self) -> dt.date:
        return self.today - dt.timedelta(days=self.rng.randint(1, 60))

    def _pwk(self, *kinds: str) -> list[str]:
        return list(kinds) if self.opts.attachments else []

    def child_visit(self) -> _Visit:
        rng = self.rng
        if rng.random() < 0.3:
            lines = [_Line("D0150"), _Line("D1120")]
        else:
            lines = [_Line("D0120"), _Line("D1120")]
        return _Visit(self._recent(), lines, [], [], False)

    def adult_episode(self, room: int) -> list[_Visit]:
        """One patient's visits in this file: one claim, or two when `room` allows a pair."""
        rng = self.rng
        r = rng.random()
        if room >= 2 and self.implants and r < 0.06:
            return self._implant_pair()
        if room >= 2 and self.narratives and r < 0.12:
            return self._srp_then_desensitize()
        kind = rng.choices(
            (
                "recall",
                "new",
                "restore",
                "crown",
                "endo",
                "extract",
                "srp",
                "maint",
                "d9911",
                "d9910",
            ),
            weights=(24, 10, 24, 7, 5, 6, 6, 7, 5 if self.narratives else 0, 4),
        )[0]
        day = self._recent()
        if kind == "recall":
            lines = [_Line("D0120"), _Line("D1110")]
            if rng.random() < 0.5:
                lines.append(_Line("D0274"))
            return [_Visit(day, lines, [], [], False)]
        if kind == "new":
            lines = [_Line("D0150"), _Line("D0210")]
            if rng.random() < 0.6:
                lines.append(_Line("D1110"))
            return [_Visit(day, lines, [], [], False)]
        if kind == "restore":
            return [_Visit(day, self._restorations(), [], [], False)]
        if kind == "crown":
            tooth = rng.choice(_RESTORABLE)
            code = "D2740" if tooth in _ANTERIOR or rng.random() < 0.5 else "D2750"
            line = _Line(code, ((str(tooth), ()),), prosthesis="I")
            return [_Visit(day, [line], [], self._pwk("RB"), False)]
        if kind == "endo":
            tooth = rng.choice(_RESTORABLE)
            line = _Line(_endo_code(tooth), ((str(tooth), ()),))
            return [_Visit(day, [line], [], self._pwk("RB"), False)]
        if kind == "extract":
            teeth = rng.sample(_THIRD_MOLAR + _POSTERIOR, rng.choice((1, 1, 1, 2, 4)))
            lines = [
                _Line(
                    "D7210" if t in _THIRD_MOLAR or rng.random() < 0.3 else "D7140",
                    ((str(t), ()),),
                )
                for t in sorted(teeth)
            ]
            return [_Visit(day, lines, [], self._pwk("RB"), False)]
        if kind == "srp":
            return [_Visit(day, self._srp_lines(), [], self._pwk("P6", "RB"), False)]
        if kind == "maint":
            lines = [_Line("D0120"), _Line("D4910")]
            return [_Visit(day, lines, [], [], False)]
        if kind == "d9911":
            return [self._desensitize(day, rng.choice(_D9911_ETIOLOGY))]
        # D9910 is per visit: one unit, no tooth, and never with D9911 on the same date.
        return [_Visit(day, [_Line("D0120"), _Line("D9910")], [], [], False)]

    def _restorations(self) -> list[_Line]:
        rng = self.rng
        cap = self.opts.max_lines
        if cap > 4 and rng.random() < 0.05:
            count = rng.randint(4, min(cap, len(_RESTORABLE)))  # a long restorative session
        else:
            count = rng.choice((1, 1, 2, 2, 3))
        teeth = sorted(rng.sample(_RESTORABLE, count))
        return [_restoration(rng, t, many=count > 3) for t in teeth]

    def _srp_lines(self) -> list[_Line]:
        quads = sorted(self.rng.sample(("10", "20", "30", "40"), self.rng.randint(1, 4)))
        return [_Line("D4341" if self.rng.random() < 0.7 else "D4342", area=q) for q in quads]

    def _desensitize(self, day: dt.date, etiology: str, quadrants: Sequence[str] = ()) -> _Visit:
        rng = self.rng
        site = _D9911_SITES[rng.choice(quadrants or tuple(_D9911_SITES))]
        count = rng.randint(1, 4)
        first = rng.randrange(len(site) - count + 1)
        teeth = site[first : first + count]
        too = tuple((str(t), ("F",) if t in _ANTERIOR else ("B",)) for t in teeth)
        listed = " ".join(f"#{t}" for t in teeth)
        note = f"{rng.choice(_D9911_MATERIALS)} on {listed}; {etiology}"
        # One line, one TOO per tooth, units = teeth listed (billing guide for D9911).
        return _Visit(day, [_Line("D9911", too, units=len(teeth))], [note[:80]], [], False)

    def _srp_then_desensitize(self) -> list[_Visit]:
        # SRP and D9911 on one date bundle; the guide's clean path is a follow-up 2-3 weeks later.
        rng = self.rng
        first = self.today - dt.timedelta(days=rng.randint(22, 60))
        second = first + dt.timedelta(days=rng.randint(14, 21))
        srp = _Visit(first, self._srp_lines(), [], self._pwk("P6", "RB"), False)
        scaled = [ln.area for ln in srp.lines[: self.opts.max_lines]]
        return [srp, self._desensitize(second, "root exposure after SRP", scaled)]

    def _implant_pair(self) -> list[_Visit]:
        # Two-stage implant: D6010 places and buries it, D6011 uncovers it months later, and the
        # D6011 claim names the placement (date and tooth), carries the pre-auth and a radiograph.
        rng = self.rng
        tooth = rng.choice(_IMPLANT_SITES)
        # Osseointegration takes about three months; keep the placement under six months old so
        # neither claim trips a timely-filing edit.
        placed = self.today - dt.timedelta(days=rng.randint(100, 170))
        uncovered = placed + dt.timedelta(days=rng.randint(90, 99))
        teeth = ((str(tooth), ()),)
        stage1 = _Visit(
            placed,
            [_Line("D6010", teeth)],
            [f"Submerged two-stage implant #{tooth}; cover screw placed"],
            ["RB"],
            True,
        )
        stage2 = _Visit(
            uncovered,
            [_Line("D6011", teeth)],
            [f"D6010 placed #{tooth} on {placed:%m/%d/%Y}; healing abutment placed"],
            ["RB"],
            True,
        )
        return [stage1, stage2]


# --------------------------------------------------------------------------------------------
# Writer
# --------------------------------------------------------------------------------------------


class _Writer:
    """Streams segments to `fp` in chunks and counts what it wrote."""

    _FLUSH_AT: Final = 2048

    def __init__(self, fp: TextIO, rng: random.Random, opts: GenOptions) -> None:
        self.fp = fp
        self.rng = rng
        self.opts = opts
        d = opts.delimiters
        self.e = d.element
        self.c = d.component
        self.term = d.segment + opts.line_break
        self.buf: list[str] = []
        # Appending to the buffer is the whole cost of a segment: counts come from list lengths.
        self.seg: Callable[[str], object] = self.buf.append
        self.chars = 0
        self.flushed = 0  # segments already written to fp
        self.st_index = 0  # file index (0-based) of the current ST
        self.st02 = ""
        self.claims = 0
        self.lines = 0
        self.details: list[ClaimInfo] = []
        self.clinic = _Clinic(rng, opts)
        self.claim_prefix = "".join(rng.choice(string.ascii_uppercase) for _ in range(3))
        self.pwk_seq = 0

    @property
    def next_position(self) -> int:
        """Position from ST (ST = 1) that the next segment will get."""
        return self.flushed + len(self.buf) - self.st_index + 1

    def flush(self) -> None:
        if self.buf:
            term = self.term
            chunk = term.join(self.buf) + term
            self.fp.write(chunk)
            self.chars += len(chunk)
            self.flushed += len(self.buf)
            self.buf.clear()

    # -- envelope ---------------------------------------------------------------------------

    def run(self) -> Summary:
        opts, rng, e = self.opts, self.rng, self.e
        created = opts.created
        sets = opts.interchanges * opts.groups * opts.transactions
        per_set, extra = divmod(opts.claims, sets)
        isa13 = opts.control_number
        if isa13 is None:
            isa13 = rng.randrange(1, 900_000_000)
        gs06 = rng.randrange(1, 900_000)
        st_seq = 0
        sender = "X12DENTALSYN" + _digits(rng, 3)
        receiver = rng.choice(_PAYERS)[1] + "RCV"
        set_index = 0
        for i in range(opts.interchanges):
            ctl = f"{isa13 + i:09d}"
            d = opts.delimiters
            self.seg(
                e.join(
                    (
                        "ISA",
                        "00",
                        " " * 10,
                        "00",
                        " " * 10,
                        "ZZ",
                        sender.ljust(15),
                        "ZZ",
                        receiver.ljust(15),
                        created.strftime("%y%m%d"),
                        created.strftime("%H%M"),
                        d.repetition,
                        "00501",
                        ctl,
                        opts.isa14,
                        opts.usage,
                        d.component,
                    )
                )
            )
            for _g in range(opts.groups):
                self.seg(
                    e.join(
                        (
                            "GS",
                            "HC",
                            sender,
                            receiver,
                            created.strftime("%Y%m%d"),
                            created.strftime("%H%M"),
                            str(gs06),
                            "X",
                            opts.version,
                        )
                    )
                )
                for _t in range(opts.transactions):
                    st_seq += 1
                    n_claims = per_set + (1 if set_index < extra else 0)
                    set_index += 1
                    self.transaction(f"{st_seq:04d}", n_claims)
                self.seg(f"GE{e}{opts.transactions}{e}{gs06}")
                gs06 += 1
            self.seg(f"IEA{e}{opts.groups}{e}{ctl}")
        self.flush()
        return Summary(
            interchanges=opts.interchanges,
            groups=opts.interchanges * opts.groups,
            transactions=sets,
            claims=self.claims,
            service_lines=self.lines,
            segments=self.flushed,
            characters=self.chars,
            claim_details=tuple(self.details),
        )

    def transaction(self, st02: str, n_claims: int) -> None:
        opts, rng, e = self.opts, self.rng, self.e
        created = opts.created
        self.st_index = self.flushed + len(self.buf)
        self.st02 = st02
        self.seg(f"ST{e}837{e}{st02}{e}{opts.version}")
        self.seg(
            e.join(
                (
                    "BHT",
                    "0019",
                    "00",
                    f"B{st02}{_digits(rng, 6)}",
                    created.strftime("%Y%m%d"),
                    created.strftime("%H%M"),
                    "CH",
                )
            )
        )
        submitter = "SYNTHETIC DENTAL CLEARINGHOUSE"
        self.seg(f"NM1{e}41{e}2{e}{submitter}{e}{e}{e}{e}{e}46{e}SYN{_digits(rng, 6)}")
        self.seg(f"PER{e}IC{e}EDI SUPPORT{e}TE{e}800555{rng.randrange(10000):04d}")
        payer = rng.choice(_PAYERS)
        self.seg(f"NM1{e}40{e}2{e}{payer[0]}{e}{e}{e}{e}{e}46{e}{payer[1]}")
        if opts.providers is not None:
            n_prov = max(1, min(opts.providers, n_claims))
        else:
            n_prov = max(1, -(-n_claims // opts.claims_per_provider))
        base, extra = divmod(n_claims, n_prov)
        hl = 0
        for p in range(n_prov):
            hl = self.provider(hl, base + (1 if p < extra else 0), payer)
        self.seg(f"SE{e}{self.next_position}{e}{st02}")

    # -- loops ------------------------------------------------------------------------------

    def provider(self, hl: int, n_claims: int, payer: tuple[str, str]) -> int:
        rng, e = self.rng, self.e
        prac = _practice(rng)
        hl += 1
        parent = hl
        self.seg(f"HL{e}{hl}{e}{e}20{e}1")
        self.seg(f"PRV{e}BI{e}PXC{e}{_TAXONOMY_GENERAL}")
        self.seg(f"NM1{e}85{e}2{e}{prac.name}{e}{e}{e}{e}{e}XX{e}{prac.npi}")
        self.seg(f"N3{e}{prac.street}")
        self.seg(f"N4{e}{prac.city}{e}{prac.state}{e}{prac.zip}")
        self.seg(f"REF{e}EI{e}{prac.ein}")
        self.seg(f"PER{e}IC{e}BILLING OFFICE{e}TE{e}{prac.phone}")
        created = self.opts.created.date()
        if n_claims == 0:
            sub = _person(rng, created, child=False)
            hl += 1
            self.subscriber(hl, parent, sub, self_patient=True, has_children=False, payer=payer)
            return hl
        left = n_claims
        while left > 0:
            dependent = rng.random() < self.opts.dependent_share
            sub = _person(rng, created, child=False)
            hl += 1
            sub_hl = hl
            if not dependent:
                visits = self.clinic.adult_episode(left)
                self.subscriber(
                    sub_hl, parent, sub, self_patient=True, has_children=False, payer=payer
                )
                self.claims_for(prac, visits, dependent=False)
                left -= len(visits)
                continue
            self.subscriber(sub_hl, parent, sub, self_patient=False, has_children=True, payer=payer)
            # One or two dependents under this subscriber: children, or an adult spouse/partner.
            for k in range(2 if left >= 2 and rng.random() < 0.25 else 1):
                if left <= 0:
                    break
                child = k > 0 or rng.random() < 0.7
                pat = _person(rng, created, child=child, family=sub)
                visits = [self.clinic.child_visit()] if child else self.clinic.adult_episode(left)
                hl += 1
                self.seg(f"HL{e}{hl}{e}{sub_hl}{e}23{e}0")
                self.seg(f"PAT{e}{'19' if child else rng.choice(('01', '53'))}")
                self.seg(f"NM1{e}QC{e}1{e}{pat.last}{e}{pat.first}")
                self.seg(f"N3{e}{pat.street}")
                self.seg(f"N4{e}{pat.city}{e}{pat.state}{e}{pat.zip}")
                self.seg(f"DMG{e}D8{e}{_d8(pat.birth)}{e}{pat.gender}")
                self.claims_for(prac, visits, dependent=True)
                left -= len(visits)
        return hl

    def subscriber(
        self,
        hl: int,
        parent: int,
        sub: _Person,
        *,
        self_patient: bool,
        has_children: bool,
        payer: tuple[str, str],
    ) -> None:
        rng, e = self.rng, self.e
        self.seg(f"HL{e}{hl}{e}{parent}{e}22{e}{'1' if has_children else '0'}")
        rel = "18" if self_patient else ""
        self.seg(f"SBR{e}P{e}{rel}{e}G{_digits(rng, 6)}{e}{e}{e}{e}{e}{e}{rng.choice(_FILING)}")
        member = f"{rng.choice('WXYZ')}{_digits(rng, 9)}"
        self.seg(f"NM1{e}IL{e}1{e}{sub.last}{e}{sub.first}{e}{e}{e}{e}MI{e}{member}")
        self.seg(f"N3{e}{sub.street}")
        self.seg(f"N4{e}{sub.city}{e}{sub.state}{e}{sub.zip}")
        self.seg(f"DMG{e}D8{e}{_d8(sub.birth)}{e}{sub.gender}")
        self.seg(f"NM1{e}PR{e}2{e}{payer[0]}{e}{e}{e}{e}{e}PI{e}{payer[1]}")

    def claims_for(self, prac: _Practice, visits: Sequence[_Visit], *, dependent: bool) -> None:
        rng = self.rng
        dentist = rng.choice(prac.dentists)
        prior_auth = f"PA{_digits(rng, 8)}" if any(v.prior_auth for v in visits) else ""
        for visit in visits:
            self.claim(prac, dentist, visit, prior_auth, dependent)

    def claim(
        self, prac: _Practice, dentist: _Dentist, visit: _Visit, prior_auth: str, dependent: bool
    ) -> None:
        opts, e, c = self.opts, self.e, self.c
        lines = visit.lines[: opts.max_lines]
        self.claims += 1
        claim_id = f"{self.claim_prefix}{self.claims:07d}"
        cents = prac.fee_cents
        total = sum(cents[ln.code] * ln.units for ln in lines)
        charge = _amount(total)
        position = self.next_position
        self.seg(f"CLM{e}{claim_id}{e}{charge}{e}{e}{e}11{c}B{c}1{e}Y{e}A{e}Y{e}Y")
        day = _d8(visit.date)
        if opts.claim_dates:
            self.seg(f"DTP{e}472{e}D8{e}{day}")
        if opts.attachments:
            for report in visit.attachments:
                self.pwk_seq += 1
                self.seg(f"PWK{e}{report}{e}EL{e}{e}{e}AC{e}ATT{self.claims:07d}{self.pwk_seq:06d}")
        if opts.prior_auth and prior_auth and visit.prior_auth:
            self.seg(f"REF{e}G1{e}{prior_auth}")
        if opts.notes:
            for note in visit.notes:
                self.seg(f"NTE{e}ADD{e}{note}")
        self.seg(f"NM1{e}82{e}1{e}{dentist.last}{e}{dentist.first}{e}{e}{e}{e}XX{e}{dentist.npi}")
        self.seg(f"PRV{e}PE{e}PXC{e}{_TAXONOMY_GENERAL}")
        fees = prac.fees
        for n, ln in enumerate(lines, 1):
            self.seg(f"LX{e}{n}")
            amount = fees[ln.code] if ln.units == 1 else _amount(cents[ln.code] * ln.units)
            self.seg(
                f"SV3{e}AD{c}{ln.code}{e}{amount}{e}{e}{ln.area}{e}{ln.prosthesis}{e}{ln.units}"
            )
            for tooth, surfaces in ln.teeth:
                if surfaces:
                    self.seg(f"TOO{e}JP{e}{tooth}{e}{c.join(surfaces)}")
                else:
                    self.seg(f"TOO{e}JP{e}{tooth}")
            if opts.line_dates:
                self.seg(f"DTP{e}472{e}D8{e}{day}")
            if opts.line_control:
                self.seg(f"REF{e}6R{e}{claim_id}-{n}")
        self.lines += len(lines)
        if len(self.buf) >= self._FLUSH_AT:
            self.flush()
        if opts.keep_claims:
            self.details.append(
                ClaimInfo(
                    claim_id=claim_id,
                    st02=self.st02,
                    position=position,
                    lines=len(lines),
                    charge=charge,
                    codes=tuple(ln.code for ln in lines),
                    dependent=dependent,
                )
            )


def _rng(seed_or_rng: int | random.Random) -> random.Random:
    return seed_or_rng if isinstance(seed_or_rng, random.Random) else random.Random(seed_or_rng)


def write_interchange(fp: TextIO, rng: random.Random, options: GenOptions | None = None) -> Summary:
    """Stream a generated file to `fp`; memory stays flat whatever `options.claims` is."""
    return _Writer(fp, rng, options or GenOptions()).run()


def generate(seed_or_rng: int | random.Random, options: GenOptions | None = None) -> Generated:
    """The same bytes `write_interchange` would stream, as one string (for tests)."""
    opts = options or GenOptions()
    buf = io.StringIO()
    summary = write_interchange(buf, _rng(seed_or_rng), opts)
    return Generated(text=buf.getvalue(), summary=summary, options=opts)


# --------------------------------------------------------------------------------------------
# Mutations
# --------------------------------------------------------------------------------------------

MutationKind = Literal[
    "missing-n3",
    "missing-sv3",
    "missing-clm",
    "bad-code-clm05",
    "bad-code-sv301",
    "bad-code-too01",
    "too-long-clm01",
    "bad-amount-sv302",
    "se-count",
    "control-mismatch",
]
MUTATION_KINDS: Final[tuple[MutationKind, ...]] = (
    "missing-n3",
    "missing-sv3",
    "missing-clm",
    "bad-code-clm05",
    "bad-code-sv301",
    "bad-code-too01",
    "too-long-clm01",
    "bad-amount-sv302",
    "se-count",
    "control-mismatch",
)


@attrs.frozen
class Mutation:
    """One structural fault put into a clean file, and where a validator should report it.

    `position` counts segments from ST (ST = 1), as IK302 does; for a deleted segment it is the
    position the segment had, which is where its absence is noticed (the next segment now holds
    that number). Deletions only pick targets followed by a segment of the same loop, so no
    loop closes in between and that number is the only sensible place to report. It is None for
    faults outside a transaction set (IEA). `element` names the element as in the TR3
    (`CLM05`), `component` the 1-based component inside a composite.

    A bad SV301-1 or TOO01 is a bad qualifier in element 01, which is how pyx12 recognises the
    segment: it reports an unexpected segment (and, for SV3, a missing one) at `position`
    rather than an invalid code in `element`. Both readings point at the same segment.
    """

    text: str
    kind: MutationKind
    segment_id: str
    position: int | None
    st02: str | None
    element: str | None = None
    component: int | None = None
    value: str | None = None  # the bad value written, when one was


class _Seg(NamedTuple):
    at: int  # 0-based among all segments in the file
    sid: str
    position: int | None  # from ST, None outside ST..SE
    st02: str | None
    loop: str  # "2010AA" for the billing provider name loop, else ""


class _Parsed(NamedTuple):
    segments: list[str]
    element: str
    component: str
    terminator: str
    line_break: str
    segs: list[_Seg]


def _parse(text: str) -> _Parsed:
    if not text.startswith("ISA") or len(text) < 106:
        raise ValueError("mutate works on generated text, which starts with a 106-character ISA")
    element, component, terminator = text[3], text[104], text[105]
    rest = text[106:]
    line_break = rest[: len(rest) - len(rest.lstrip("\r\n"))]
    raw = text.split(terminator)
    if raw[-1].strip("\r\n"):
        raise ValueError("text does not end with a segment terminator")
    segments = [s.lstrip("\r\n") for s in raw[:-1]]
    index: list[_Seg] = []
    position: int | None = None
    st02: str | None = None
    loop = ""
    for i, seg in enumerate(segments):
        sid = seg.split(element, 1)[0]
        if sid == "ST":
            position = 0
            st02 = seg.split(element)[2]
        if position is not None:
            position += 1
        if sid == "NM1":
            loop = "2010AA" if seg.split(element)[1] == "85" else ""
        elif sid in ("HL", "LX", "CLM", "SE"):
            loop = ""
        index.append(_Seg(i, sid, position, st02, loop))
        if sid == "SE":
            position = None
            st02 = None
    return _Parsed(segments, element, component, terminator, line_break, index)


def _join(p: _Parsed, segments: Sequence[str]) -> str:
    tail = p.terminator + p.line_break
    return "".join(s + tail for s in segments)


def _candidates(p: _Parsed, kind: MutationKind) -> list[_Seg]:
    idx = p.segs
    if kind == "missing-n3":
        return [s for s in idx if s.sid == "N3" and s.loop == "2010AA"]
    if kind == "missing-sv3":
        # Only an SV3 followed by more of its own 2400 loop: then the absence is noticed at the
        # very next segment, so the reported position is unambiguous. (A 2400 loop that closes
        # right after SV3 leaves validators free to blame LX or the next loop; pyx12 says
        # nothing at all when the next segment is another LX.)
        return [s for s in idx if s.sid == "SV3" and idx[s.at + 1].sid in ("TOO", "DTP", "REF")]
    if kind in ("bad-code-sv301", "bad-amount-sv302"):
        return [s for s in idx if s.sid == "SV3"]
    if kind == "missing-clm":
        # Only a claim that does not follow another claim's service line: after a line, a
        # claim's segments without its CLM can read as more of that line (the claim's
        # DTP*472 as the line's date of service), and the absence shows only further on.
        return [s for s in idx if s.sid == "CLM" and not _after_line(idx, s.at)]
    if kind in ("bad-code-clm05", "too-long-clm01"):
        return [s for s in idx if s.sid == "CLM"]
    if kind == "bad-code-too01":
        return [s for s in idx if s.sid == "TOO"]
    if kind == "se-count":
        return [s for s in idx if s.sid == "SE"]
    return [s for s in idx if s.sid == "IEA"]


def _after_line(idx: list[_Seg], at: int) -> bool:
    """Whether segment `at` follows a 2400 loop (an LX since the last HL, CLM or ST)."""
    for seg in reversed(idx[:at]):
        if seg.sid == "LX":
            return True
        if seg.sid in ("HL", "CLM", "ST"):
            return False
    return False


def applicable_kinds(text: str) -> tuple[MutationKind, ...]:
    """The mutation kinds that `text` has a target for (a file of exams has no TOO)."""
    p = _parse(text)
    return tuple(k for k in MUTATION_KINDS if _candidates(p, k))


def _fix_se(p: _Parsed, segments: list[str], st02: str | None) -> None:
    """Recount SE01 of transaction `st02` so a deletion is the only fault in the file."""
    e = p.element
    start = None
    for i, seg in enumerate(segments):
        fields = seg.split(e)
        if fields[0] == "ST" and fields[2] == st02:
            start = i
        elif fields[0] == "SE" and start is not None and fields[2] == st02:
            segments[i] = e.join(("SE", str(i - start + 1), st02))
            return


def _safe(values: Sequence[str], p: _Parsed) -> list[str]:
    bad = {p.element, p.component, p.terminator}
    return [v for v in values if not bad & set(v)]


def mutate(text: str, rng: random.Random, kind: MutationKind) -> Mutation:
    """Put one fault of `kind` into generated `text`, at a target chosen by `rng`.

    Raises ValueError when the text has no target for `kind` (see `applicable_kinds`).
    """
    p = _parse(text)
    targets = _candidates(p, kind)
    if not targets:
        raise ValueError(f"no target for mutation {kind!r} in this text")
    target = rng.choice(targets)
    segments = list(p.segments)
    e, c = p.element, p.component
    fields = segments[target.at].split(e)

    def done(
        element: str | None = None, component: int | None = None, value: str | None = None
    ) -> Mutation:
        return Mutation(
            text=_join(p, segments),
            kind=kind,
            segment_id=target.sid,
            position=target.position,
            st02=target.st02,
            element=element,
            component=component,
            value=value,
        )

    if kind.startswith("missing-"):
        del segments[target.at]
        _fix_se(p, segments, target.st02)
        return done()
    if kind == "bad-code-clm05":
        comps = fields[5].split(c)
        comps[1] = rng.choice(("A", "C", "Z", "BB"))
        fields[5] = c.join(comps)
        segments[target.at] = e.join(fields)
        return done("CLM05", 2, comps[1])
    if kind == "bad-code-sv301":
        comps = fields[1].split(c)
        comps[0] = rng.choice(("HC", "ER", "IV", "N4"))
        fields[1] = c.join(comps)
        segments[target.at] = e.join(fields)
        return done("SV301", 1, comps[0])
    if kind == "bad-code-too01":
        fields[1] = rng.choice(("JO", "JQ", "XX"))
        segments[target.at] = e.join(fields)
        return done("TOO01", None, fields[1])
    if kind == "too-long-clm01":
        fields[1] = (fields[1] + "X" * 40)[: rng.randint(39, 45)]
        segments[target.at] = e.join(fields)
        return done("CLM01", None, fields[1])
    if kind == "bad-amount-sv302":
        fields[2] = rng.choice(_safe(("12O.50", "ABC", "1,200", "$85", "7.5.0", "N/A"), p))
        segments[target.at] = e.join(fields)
        return done("SV302", None, fields[2])
    if kind == "se-count":
        count = int(fields[1])
        wrong = max(1, count + rng.choice((-3, -2, -1, 1, 2, 5)))
        if wrong == count:
            wrong = count + 1
        fields[1] = str(wrong)
        segments[target.at] = e.join(fields)
        return done("SE01", None, fields[1])
    # control-mismatch: IEA02 no longer echoes ISA13
    old = int(fields[2])
    fields[2] = f"{(old + rng.randint(1, 999)) % 1_000_000_000:09d}"
    segments[target.at] = e.join(fields)
    return done("IEA02", None, fields[2])
