"""What each CDT code needs on its service line (SNIP 5-6), from `rules/cdt.toml`.

Whether a code takes a tooth, surfaces (and how many), a quadrant or an arch, which
kind of tooth, which dentition, what age, a prosthesis indicator, a narrative, and
whether it is counted per visit: these are facts about codes, so they live in a data
file that a biller can look up and a payer pack author can follow. This module loads
that file once into a table indexed by code (a line then costs one dict lookup) and
keeps the comparisons between a line and its code's facts.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import attrs

from x12dental import codesets, parsecache, ruledata
from x12dental import model as m
from x12dental.codesets import (
    ALL_TEETH,
    ARCHES,
    PERMANENT_TEETH,
    QUADRANTS,
    SUPERNUMERARY_PERMANENT,
    expand_codes,
    is_primary,
    tooth_kind,
)
from x12dental.engine import Hit, Prefilter, RuleContext, Settings, line_date, line_rule
from x12dental.mapfolder import map_folder
from x12dental.ruledata import RuleDataError, builtin_path, code_specs, load_toml, require

DATA_FILE: Final = "cdt.toml"

TOOTH_REQUIRED: Final = "procedure.tooth-required"
TOOTH_NOT_EXPECTED: Final = "procedure.tooth-not-expected"
SURFACE_REQUIRED: Final = "procedure.surface-required"
SURFACE_COUNT: Final = "procedure.surface-count"
AREA_REQUIRED: Final = "procedure.area-required"
TOOTH_KIND: Final = "procedure.tooth-kind"
DENTITION: Final = "procedure.dentition"
AGE: Final = "procedure.age"
PROSTHESIS_MISSING: Final = "procedure.prosthesis-missing"
BY_REPORT_NARRATIVE: Final = "procedure.by-report-narrative"
PER_VISIT_UNITS: Final = "procedure.per-visit-units"
RULE_IDS: Final = frozenset(
    {
        TOOTH_REQUIRED,
        TOOTH_NOT_EXPECTED,
        SURFACE_REQUIRED,
        SURFACE_COUNT,
        AREA_REQUIRED,
        TOOTH_KIND,
        DENTITION,
        AGE,
        PROSTHESIS_MISSING,
        BY_REPORT_NARRATIVE,
        PER_VISIT_UNITS,
    }
)

# -- the data: facts per code -------------------------------------------------------------

_LEVELS: Final = ("required", "optional", "none")
_CHOICES: Final[dict[str, tuple[str, ...]]] = {
    "tooth": _LEVELS,
    "surfaces": _LEVELS,
    "area": ("quadrant", "arch", "optional", "none"),
    "arch": ("maxillary", "mandibular"),
    "dentition": ("permanent", "primary"),
    "units": ("per-tooth", "per-visit", "per-quadrant", "per-arch"),
    "prosthesis": ("required", "optional"),
    "narrative": ("required", "optional"),
}
_KINDS: Final[dict[str, frozenset[str]]] = {
    "anterior": frozenset({"anterior"}),
    "premolar": frozenset({"premolar"}),
    "molar": frozenset({"molar"}),
    "posterior": frozenset({"premolar", "molar"}),
}
_FACT_KEYS: Final = (*_CHOICES, "surface_count", "tooth_kind", "age")
_OPEN_COUNT = re.compile(r"^([1-4])\+$")


@attrs.frozen(slots=True)
class CodeFacts:
    """Everything `rules/cdt.toml` says about one code, after precedence (see the file)."""

    tooth: str = "optional"
    surfaces: str = "optional"
    surface_count: int | None = None
    surfaces_or_more: bool = False  # surface_count is a minimum ("3+", or 4)
    area: str = "optional"
    arch: str | None = None  # the arch the code itself names
    tooth_kinds: frozenset[str] = frozenset()  # empty: any kind
    dentition: str | None = None
    units: str | None = None
    age_min: int | None = None
    age_max: int | None = None
    prosthesis: str = "optional"
    narrative: str = "optional"
    # procedure.* rules that stay silent for this code: another family reports the same
    # requirement with a message of its own ([[reported_elsewhere]] in the file).
    silent: frozenset[str] = frozenset()


@attrs.frozen(slots=True)
class Deferral:
    """One [[reported_elsewhere]] table: `rule` is silent for `codes`, which `by` reports."""

    rule: str
    codes: tuple[str, ...]
    by: str


@attrs.frozen
class CodeTable:
    """The facts of every code some entry covers; codes no entry covers have none."""

    path: str
    by_code: Mapping[str, CodeFacts]
    deferrals: tuple[Deferral, ...] = ()

    def get(self, code: str) -> CodeFacts | None:
        return self.by_code.get(code)


def _choice(value: Any, key: str, path: Path, at: str) -> str:
    allowed = _CHOICES[key]
    if not isinstance(value, str) or value not in allowed:
        raise RuleDataError(
            path, f"{at}.{key}", f"must be one of {', '.join(allowed)}, not {value!r}"
        )
    return value


def _surface_count(value: Any, path: Path, at: str) -> tuple[int, bool]:
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 4:
        return value, value == 4
    if isinstance(value, str):
        match = _OPEN_COUNT.match(value)
        if match:
            return int(match.group(1)), True
    raise RuleDataError(
        path,
        f"{at}.surface_count",
        f"must be 1, 2, 3 or 4 (four or more), or 'N+' for N or more, not {value!r}",
    )


def _tooth_kinds(value: Any, path: Path, at: str) -> frozenset[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise RuleDataError(path, f"{at}.tooth_kind", "must be a tooth kind or a list of them")
    kinds: set[str] = set()
    for item in items:
        if not isinstance(item, str) or item not in _KINDS:
            raise RuleDataError(
                path,
                f"{at}.tooth_kind",
                f"must be one of {', '.join(_KINDS)}, not {item!r}",
            )
        kinds |= _KINDS[item]
    return frozenset(kinds)


def _age(value: Any, path: Path, at: str) -> tuple[int | None, int | None]:
    if not isinstance(value, dict) or not value:
        raise RuleDataError(path, f"{at}.age", "must be a table such as { min = 14 }")
    bounds: dict[str, int] = {}
    for key, years in value.items():
        if key not in ("min", "max"):
            raise RuleDataError(path, f"{at}.age.{key}", "unknown key; use min and/or max")
        if not isinstance(years, int) or isinstance(years, bool) or not 0 <= years <= 130:
            raise RuleDataError(path, f"{at}.age.{key}", f"must be whole years, not {years!r}")
        bounds[key] = years
    low, high = bounds.get("min"), bounds.get("max")
    if low is not None and high is not None and low > high:
        raise RuleDataError(path, f"{at}.age", f"min ({low}) is above max ({high})")
    return low, high


def _parse_entry(entry: Mapping[str, Any], path: Path, at: str) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for key, value in entry.items():
        if key == "codes":
            continue
        if key in _CHOICES:
            facts[key] = _choice(value, key, path, at)
        elif key == "surface_count":
            facts[key] = _surface_count(value, path, at)
        elif key == "tooth_kind":
            facts[key] = _tooth_kinds(value, path, at)
        elif key == "age":
            facts[key] = _age(value, path, at)
        else:
            raise RuleDataError(
                path, f"{at}.{key}", f"unknown key; expected codes, {', '.join(_FACT_KEYS)}"
            )
    if not facts:
        raise RuleDataError(path, at, "gives no facts about its codes")
    if "surface_count" in facts and facts.get("surfaces") == "none":
        raise RuleDataError(path, f"{at}.surface_count", "is given although surfaces = 'none'")
    if facts.get("tooth") == "none":
        for key in ("tooth_kind", "dentition", "surface_count"):
            if key in facts:
                raise RuleDataError(path, f"{at}.{key}", "is given although tooth = 'none'")
    return facts


def _spec_codes(spec: str, path: Path, at: str) -> frozenset[str]:
    if "-" in spec:
        low, _, high = spec.partition("-")
        if low > high:
            raise RuleDataError(path, at, f"range {spec!r} runs backwards")
    return expand_codes([spec])


def _show(value: Any) -> str:
    if isinstance(value, frozenset):
        return "/".join(sorted(value))
    return repr(value)


def load_table(path: str | Path) -> CodeTable:
    """Read and check a cdt.toml: any mistake raises RuleDataError naming the file and key."""
    path = Path(path)
    data = load_toml(path)
    for key in data:
        if key not in ("entry", "reported_elsewhere"):
            raise RuleDataError(
                path, key, "unknown key; the file holds [[entry]] and [[reported_elsewhere]]"
            )
    entries = data.get("entry")
    if not isinstance(entries, list) or not entries:
        raise RuleDataError(path, "entry", "must be a non-empty array of tables ([[entry]])")
    # code -> fact key -> (width of the spec that gave it, entry index, value)
    chosen: dict[str, dict[str, tuple[int, int, Any]]] = {}
    for i, entry in enumerate(entries):
        at = f"entry[{i}]"
        if not isinstance(entry, dict):
            raise RuleDataError(path, at, "must be a table")
        facts = _parse_entry(entry, path, at)
        specs = code_specs(entry.get("codes"), path, f"{at}.codes")
        for j, spec in enumerate(specs):
            codes = _spec_codes(spec, path, f"{at}.codes[{j}]")
            width = len(codes)
            for code in codes:
                slot = chosen.setdefault(code, {})
                for key, value in facts.items():
                    old = slot.get(key)
                    if old is None or width < old[0]:
                        slot[key] = (width, i, value)
                    elif width == old[0] and old[2] != value:
                        raise RuleDataError(
                            path,
                            f"{at}.{key}",
                            f"gives {code} {_show(value)}, but entry[{old[1]}] gives it "
                            f"{_show(old[2])} with an equally narrow code spec; make one narrower",
                        )
    deferrals = _deferrals(data.get("reported_elsewhere", []), path)
    silent: dict[str, set[str]] = {}
    for deferral in deferrals:
        for code in expand_codes(deferral.codes):
            silent.setdefault(code, set()).add(deferral.rule)
    shared: dict[tuple[tuple[str, Any], ...], CodeFacts] = {}
    by_code: dict[str, CodeFacts] = {}
    for code, slot in chosen.items():
        values = [(key, v[2]) for key, v in slot.items()]
        if code in silent:
            values.append(("silent", frozenset(silent[code])))
        frozen = tuple(sorted(values))
        facts_obj = shared.get(frozen)
        if facts_obj is None:
            facts_obj = shared[frozen] = CodeFacts(**dict(_fields(frozen)))
        by_code[code] = facts_obj
    return CodeTable(str(path), by_code, deferrals)


def _deferrals(value: Any, path: Path) -> tuple[Deferral, ...]:
    if not isinstance(value, list):
        raise RuleDataError(path, "reported_elsewhere", "must be an array of tables")
    out = []
    for i, table in enumerate(value):
        at = f"reported_elsewhere[{i}]"
        if not isinstance(table, dict):
            raise RuleDataError(path, at, "must be a table")
        for key in table:
            if key not in ("rule", "codes", "by"):
                raise RuleDataError(path, f"{at}.{key}", "unknown key; expected rule, codes, by")
        rule = require(table, "rule", str, path, at)
        if rule not in RULE_IDS:
            raise RuleDataError(path, f"{at}.rule", f"{rule!r} is not one of the procedure.* rules")
        by = require(table, "by", str, path, at)
        if not by or by.startswith("procedure."):
            raise RuleDataError(path, f"{at}.by", "must name the rule of another family")
        codes = code_specs(table.get("codes"), path, f"{at}.codes")
        for j, spec in enumerate(codes):
            _spec_codes(spec, path, f"{at}.codes[{j}]")
        out.append(Deferral(rule, codes, by))
    return tuple(out)


def _fields(values: tuple[tuple[str, Any], ...]) -> Iterator[tuple[str, Any]]:
    """The data file's keys as CodeFacts fields."""
    for key, value in values:
        if key == "surface_count":
            yield "surface_count", value[0]
            yield "surfaces_or_more", value[1]
        elif key == "tooth_kind":
            yield "tooth_kinds", value
        elif key == "age":
            yield "age_min", value[0]
            yield "age_max", value[1]
        else:
            yield key, value


@functools.cache
def builtin_table() -> CodeTable:
    """The shipped `rules/cdt.toml`, loaded once per process (parsed once per version of the file)."""
    path = builtin_path(DATA_FILE)
    # The table is what this code makes of the file: a change to either parses it afresh.
    makers = (Path(__file__), Path(ruledata.__file__), Path(codesets.__file__))
    source = b"\0".join(
        [Path(path).read_bytes(), str(path).encode()] + [f.read_bytes() for f in makers]
    )
    name = f"cdt-table-{parsecache.source_key(source)}"
    table: CodeTable = parsecache.load_cached(str(map_folder()), name, lambda: load_table(path))
    return table


def facts_for(code: str) -> CodeFacts | None:
    """The built-in facts for one code (None when no entry covers it)."""
    return builtin_table().get(code)


# builtin_table().by_code, held once read: _facts is asked for several rules per line.
_BY_CODE: list[Mapping[str, CodeFacts]] = []


def _facts(line: m.ServiceLine, rule: str) -> CodeFacts | None:
    """The facts a rule checks this line against, or None when it has nothing to say."""
    if not _BY_CODE:
        _BY_CODE.append(builtin_table().by_code)
    facts = _BY_CODE[0].get(line.procedure)
    if facts is None or rule in facts.silent:
        return None
    return facts


def _when(rule: str, test: Callable[[CodeFacts], bool]) -> Prefilter:
    """The engine's prefilter for a procedure rule: can `rule` say anything about `code`?

    The same first test the rule makes on the line's facts, asked once per code.
    """

    def applies(code: str, settings: Settings) -> bool:
        facts = builtin_table().get(code)
        return facts is not None and rule not in facts.silent and test(facts)

    return applies


# -- wording ------------------------------------------------------------------------------

_NUMBER_WORDS: Final = {1: "one", 2: "two", 3: "three", 4: "four"}
_KIND_PLURAL: Final = {"anterior": "anterior teeth", "premolar": "premolars", "molar": "molars"}
_KIND_SINGLE: Final = {
    "anterior": "an anterior tooth",
    "premolar": "a premolar",
    "molar": "a molar",
}
_AREA_NAMES: Final = {
    "00": "whole mouth",
    "01": "maxillary arch",
    "02": "mandibular arch",
    "09": "other area",
    "10": "upper right quadrant",
    "20": "upper left quadrant",
    "30": "lower left quadrant",
    "40": "lower right quadrant",
    "L": "left side",
    "R": "right side",
    **{code: "sextant" for code in ("03", "04", "05", "06", "07", "08")},
}
_ARCH_CODE: Final = {"maxillary": "01", "mandibular": "02"}


def _at(line: m.ServiceLine) -> str:
    return f"{line.procedure} on line {line.number}"


def _teeth(line: m.ServiceLine) -> list[m.ToothInfo]:
    return [t for t in line.teeth if t.number]


def _surface_words(facts: CodeFacts) -> str:
    count = facts.surface_count or 0
    word = _NUMBER_WORDS.get(count, str(count))
    return f"{word}-or-more-surface" if facts.surfaces_or_more else f"{word}-surface"


def _kinds_words(kinds: frozenset[str]) -> str:
    return " and ".join(_KIND_PLURAL[k] for k in ("anterior", "premolar", "molar") if k in kinds)


def _area_words(code: str) -> str:
    name = _AREA_NAMES.get(code)
    return f"{code} ({name})" if name else code


def _birth_date(claim: m.Claim) -> dt.date | None:
    """The patient's DMG birth date: 2010CA when the patient is a dependent, else 2010BA."""
    if claim.patient is not None:
        birth = claim.patient.birth_date
    else:
        birth = claim.subscriber.birth_date if claim.subscriber else None
    return birth.start if birth is not None else None


def _years(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


# -- rules --------------------------------------------------------------------------------


@line_rule(
    TOOTH_REQUIRED,
    prefilter=_when(TOOTH_REQUIRED, lambda f: f.tooth == "required"),
    snip=6,
    severity="error",
    summary="a tooth-specific procedure is billed without a tooth number",
    fix="Add a TOO segment with the tooth number (TOO*JP*30); one TOO per tooth treated.",
)
def tooth_required(line: m.ServiceLine, claim: m.Claim, ctx: RuleContext) -> Iterator[Hit]:
    """Restorations, endodontics, extractions, crowns, pontics, implant work and the
    per-tooth codes of the other categories are done on a specific tooth, and payers
    price, limit and check history per tooth.

    A line for such a code without a TOO segment is denied or returned for the tooth
    number: the payer cannot tell which tooth was treated, apply per-tooth frequency
    limits or check it against missing-tooth history. `rules/cdt.toml` lists the codes
    (`tooth = "required"`).

    Triggers: `SV3*AD:D3330*1150~` with no TOO after it.
    Send instead: `SV3*AD:D3330*1150~` then `TOO*JP*30~`.
    """
    facts = _facts(line, TOOTH_REQUIRED)
    if facts is None or facts.tooth != "required" or _teeth(line):
        return
    yield Hit(
        f"{_at(line)} has no tooth number (TOO); the code is reported for a specific tooth",
        line=line,
        element="TOO02",
    )


@line_rule(
    TOOTH_NOT_EXPECTED,
    prefilter=_when(TOOTH_NOT_EXPECTED, lambda f: f.tooth == "none"),
    snip=6,
    severity="warning",
    summary="a tooth number is sent on a procedure that is not tooth-specific",
    fix="Leave out the TOO segment for whole-mouth, per-visit and arch procedures.",
)
def tooth_not_expected(line: m.ServiceLine, claim: m.Claim, ctx: RuleContext) -> Iterable[Hit]:
    """Evaluations, cleanings, full-mouth images, fluoride, orthodontic treatment,
    complete dentures and per-visit services are about the patient, the visit or an
    arch, not about a tooth (ADA claim-form guidance: report a tooth only when the
    procedure is performed on that tooth).

    A tooth on such a line is usually a software template error. Some payers reject
    the line, others read the tooth as the site of a per-tooth service and apply the
    wrong frequency limits. `rules/cdt.toml` lists these codes (`tooth = "none"`).

    Triggers: `SV3*AD:D0120*55~` followed by `TOO*JP*8~`.
    Send instead: the D0120 line without TOO.
    """
    if not line.teeth:
        return ()
    return _tooth_not_expected_hits(line)


def _tooth_not_expected_hits(line: m.ServiceLine) -> Iterator[Hit]:
    facts = _facts(line, TOOTH_NOT_EXPECTED)
    if facts is None or facts.tooth != "none":
        return
    teeth = _teeth(line)
    if not teeth:
        return
    listed = ", ".join(f"#{t.number}" for t in teeth)
    yield Hit(
        f"{_at(line)} lists tooth {listed}, but the code is not reported for a specific tooth",
        line=line,
        where=teeth[0].where,
        tooth=teeth[0].number if len(teeth) == 1 else None,
        element="TOO02",
    )


@line_rule(
    SURFACE_REQUIRED,
    prefilter=_when(SURFACE_REQUIRED, lambda f: f.surfaces == "required"),
    snip=6,
    severity="error",
    summary="a restoration priced by surfaces is billed without its surfaces",
    fix="List the restored surfaces in TOO03, one per component (TOO*JP*30*M:O:D).",
)
def surface_required(line: m.ServiceLine, claim: m.Claim, ctx: RuleContext) -> Iterator[Hit]:
    """Fillings (amalgam, resin, gold foil) and inlays/onlays are coded by the number
    of surfaces restored, so the payer needs the surfaces to check the code, and to
    apply its replacement limits to the same surfaces later.

    A tooth without TOO03 on such a line is returned unprocessed by most payers.
    (A line with no TOO at all is reported by `procedure.tooth-required` instead.)

    Triggers: `SV3*AD:D2150*165~` and `TOO*JP*30~` (no surfaces).
    Send instead: `TOO*JP*30*M:O~` for the two surfaces restored.
    """
    facts = _facts(line, SURFACE_REQUIRED)
    if facts is None or facts.surfaces != "required":
        return
    teeth = _teeth(line)
    if not teeth:
        if facts.tooth != "required":
            yield Hit(
                f"{_at(line)} has no tooth and no surfaces (TOO); the code is priced by the "
                "surfaces restored",
                line=line,
                element="TOO03",
            )
        return
    for tooth in teeth:
        if not tooth.surfaces:
            yield Hit(
                f"{_at(line)}: tooth #{tooth.number} has no surfaces (TOO03); the code is "
                "priced by the surfaces restored",
                line=line,
                tooth=tooth.number,
                where=tooth.where,
                element="TOO03",
            )


@line_rule(
    SURFACE_COUNT,
    prefilter=_when(SURFACE_COUNT, lambda f: f.surface_count is not None),
    snip=6,
    severity="error",
    summary="the number of surfaces does not match the surface count of the code",
    fix="Bill the code of the same family that matches the surfaces restored, or correct TOO03.",
)
def surface_count(line: m.ServiceLine, claim: m.Claim, ctx: RuleContext) -> Iterator[Hit]:
    """Surface-counted codes come in families (one, two, three, four or more surfaces;
    inlays stop at three or more, onlays start at two). The distinct surfaces listed
    for the tooth must match the code billed: payers re-code the line to the count
    they see, or deny it as inconsistent.

    Duplicates count once (M:O:M is two surfaces). Four-or-more codes accept four or
    five surfaces. `rules/cdt.toml` gives each code's count (`surface_count`).

    Triggers: `SV3*AD:D2150*165~` (a two-surface code) with `TOO*JP*30*M:O:D~`.
    Send instead: the three-surface code of the family with M:O:D, or D2150 with `M:O`.
    """
    facts = _facts(line, SURFACE_COUNT)
    if facts is None or facts.surface_count is None:
        return
    want = facts.surface_count
    for tooth in _teeth(line):
        if not tooth.surfaces:
            continue
        distinct = list(dict.fromkeys(tooth.surfaces))
        count = len(distinct)
        if count == want or (facts.surfaces_or_more and count > want):
            continue
        yield Hit(
            f"{_at(line)} is a {_surface_words(facts)} code, but tooth #{tooth.number} lists "
            f"{count} surface{'s' if count != 1 else ''} ({', '.join(distinct)})",
            line=line,
            tooth=tooth.number,
            where=tooth.where,
            element="TOO03",
        )


@line_rule(
    AREA_REQUIRED,
    prefilter=_when(AREA_REQUIRED, lambda f: f.area in ("quadrant", "arch") or f.arch is not None),
    snip=6,
    severity="error",
    summary="a quadrant or arch procedure lacks the right area of the oral cavity (SV304)",
    fix="Send SV304 with the quadrant (10, 20, 30, 40) or arch (01, 02) the procedure was done in.",
)
def area_required(line: m.ServiceLine, claim: m.Claim, ctx: RuleContext) -> Iterator[Hit]:
    """Quadrant procedures (scaling and root planing, osseous surgery, gingivectomy,
    alveoloplasty, unilateral space maintainers) are paid per quadrant, and per-arch
    procedures per arch: without SV304 the payer cannot tell which quadrant or arch
    was treated, nor apply its per-quadrant frequency limits, and returns the line.

    The area must also be of the right kind: an arch code (01/02) on a quadrant
    procedure, or a quadrant on an arch procedure, is rejected the same way. Codes
    that name their arch (a maxillary denture) need no SV304, but one that names the
    other arch contradicts the code. `rules/cdt.toml` says which codes are which
    (`area`, `arch`).

    Triggers: `SV3*AD:D4341*275~` with no SV304, or `SV3*AD:D4341*275**01~`.
    Send instead: `SV3*AD:D4341*275**10~` (one quadrant per line, or several areas
    with matching units).
    """
    facts = _facts(line, AREA_REQUIRED)
    if facts is None:
        return
    areas = line.areas
    if facts.area in ("quadrant", "arch"):
        kind = facts.area
        allowed = QUADRANTS if kind == "quadrant" else ARCHES
        codes = "10, 20, 30, 40" if kind == "quadrant" else "01, 02"
        if not areas:
            yield Hit(
                f"{_at(line)} has no area of the oral cavity (SV304); the code is reported "
                f"per {kind} ({codes})",
                line=line,
                element="SV304",
            )
            return
        wrong = [a for a in areas if a not in allowed]
        if wrong:
            yield Hit(
                f"{_at(line)} gives SV304 {', '.join(_area_words(a) for a in wrong)}; the code "
                f"is reported per {kind} ({codes})",
                line=line,
                element="SV304",
            )
            return
    if facts.arch is not None and areas:
        expected = _ARCH_CODE[facts.arch]
        wrong = [a for a in areas if a != expected]
        if wrong:
            yield Hit(
                f"{_at(line)} gives SV304 {', '.join(_area_words(a) for a in wrong)}, but the "
                f"code is for the {facts.arch} arch ({expected})",
                line=line,
                element="SV304",
            )


@line_rule(
    TOOTH_KIND,
    prefilter=_when(TOOTH_KIND, lambda f: bool(f.tooth_kinds)),
    snip=5,
    severity="error",
    summary="the tooth is of the wrong kind for the code (anterior, premolar, molar)",
    fix="Bill the code for the kind of tooth treated, or correct the tooth number.",
)
def tooth_kind_rule(line: m.ServiceLine, claim: m.Claim, ctx: RuleContext) -> Iterator[Hit]:
    """Root canal therapy, retreatment, apicoectomy, resin fillings and primary pulpal
    therapy have separate codes for front and back teeth (and endodontics separates
    premolars from molars), priced differently. A code for one kind of tooth on
    another kind is either a wrong code or a wrong tooth number, and payers deny it.

    Tooth kinds follow the Universal numbering (dental-code-sets.md §1.2); a
    supernumerary tooth takes the kind of its neighbour. `rules/cdt.toml` gives each
    code's kinds (`tooth_kind`).

    Triggers: `SV3*AD:D3330*1150~` (molar endodontics) with `TOO*JP*8~` (a central incisor).
    Send instead: the anterior code D3310 for tooth 8, or the molar's own number.
    """
    facts = _facts(line, TOOTH_KIND)
    if facts is None or not facts.tooth_kinds:
        return
    for tooth in _teeth(line):
        kind = tooth_kind(tooth.number) if tooth.number in ALL_TEETH else None
        if kind is None or kind in facts.tooth_kinds:
            continue
        yield Hit(
            f"{_at(line)} is coded for {_kinds_words(facts.tooth_kinds)}, but tooth "
            f"#{tooth.number} is {_KIND_SINGLE[kind]}",
            line=line,
            tooth=tooth.number,
            where=tooth.where,
            element="TOO02",
        )


@line_rule(
    DENTITION,
    prefilter=_when(DENTITION, lambda f: f.dentition is not None),
    snip=5,
    severity="error",
    summary="a permanent-tooth code is billed on a primary tooth, or the reverse",
    fix="Bill the code made for that dentition, or correct the tooth number (1-32 vs A-T).",
)
def dentition(line: m.ServiceLine, claim: m.Claim, ctx: RuleContext) -> Iterator[Hit]:
    """Some codes exist once for primary teeth and once for permanent teeth
    (prefabricated crowns, pulpal therapy versus root canal therapy), and laboratory
    crowns are made for permanent teeth. A letter tooth (A-T, primary) on a
    permanent-tooth code, or a number (1-32) on a primary-tooth code, means the code
    or the tooth is wrong, and payers deny the line.

    `rules/cdt.toml` gives the codes that are limited to one dentition (`dentition`).

    Triggers: `SV3*AD:D2930*210~` (primary-tooth crown) with `TOO*JP*30~`.
    Send instead: the permanent-tooth crown code for tooth 30, or the primary tooth's letter.
    """
    facts = _facts(line, DENTITION)
    if facts is None or facts.dentition is None:
        return
    for tooth in _teeth(line):
        number = tooth.number
        if number not in ALL_TEETH:
            continue
        primary = is_primary(number)
        if facts.dentition == "permanent" and primary:
            problem = f"tooth #{number} is a primary tooth"
        elif facts.dentition == "primary" and (
            number in PERMANENT_TEETH or number in SUPERNUMERARY_PERMANENT
        ):
            problem = f"tooth #{number} is a permanent tooth"
        else:
            continue
        yield Hit(
            f"{_at(line)} is a code for {facts.dentition} teeth, but {problem}",
            line=line,
            tooth=number,
            where=tooth.where,
            element="TOO02",
        )


@line_rule(
    AGE,
    prefilter=_when(AGE, lambda f: f.age_min is not None or f.age_max is not None),
    snip=6,
    severity="warning",
    summary="a child code is billed for an adult, or an adult code for a child",
    fix="Check the birth date (DMG02) and bill the child or adult code that fits the age.",
)
def age(line: m.ServiceLine, claim: m.Claim, ctx: RuleContext) -> Iterator[Hit]:
    """A few codes are split between children and adults (cleanings) or meant for very
    young children (the evaluation for a patient under three). Payers check the
    patient's age on the date of service and deny or re-code a line for the wrong age
    group.

    The age comes from the patient's DMG birth date (2010CA when the patient is a
    dependent, else the subscriber's 2010BA) on the line's date of service. The
    thresholds are in `rules/cdt.toml` (`age`); the adult/child split at 14 is the
    common payer convention, not a CDT rule, so this is a warning: a payer that
    splits at another age can change the data or silence the rule in its pack.

    Triggers: D1110 for a patient who is 9 on the date of service.
    Send instead: D1120 for that patient.
    """
    facts = _facts(line, AGE)
    if facts is None or (facts.age_min is None and facts.age_max is None):
        return
    birth = _birth_date(claim)
    day = line_date(line, claim)
    if birth is None or day is None or birth > day:
        return
    years = _years(birth, day)
    if facts.age_min is not None and years < facts.age_min:
        meant = f"patients aged {facts.age_min} and older"
    elif facts.age_max is not None and years > facts.age_max:
        meant = f"patients aged {facts.age_max} and younger"
    else:
        return
    yield Hit(
        f"{_at(line)} is meant for {meant}, but the patient is {years} on "
        f"{day.isoformat()} (date of service)",
        line=line,
    )


@line_rule(
    PROSTHESIS_MISSING,
    prefilter=_when(PROSTHESIS_MISSING, lambda f: f.prosthesis == "required"),
    snip=6,
    severity="warning",
    summary="a crown, inlay/onlay, bridge, denture or implant prosthesis has no SV305 (I/R)",
    fix="Send SV305 = I for an initial placement or R for a replacement (with DTP*441).",
)
def prosthesis_missing(line: m.ServiceLine, claim: m.Claim, ctx: RuleContext) -> Iterator[Hit]:
    """Payers limit how often a prosthesis is replaced (often once in five or more
    years), so for crowns, inlays/onlays, bridge pontics and retainers, dentures and
    implant-supported prostheses the claim says whether this is the first placement
    (SV305 = I) or a replacement (R, with the prior placement date in DTP*441).
    Without it the payer pends the line or asks for the history.

    `rules/cdt.toml` lists the codes (`prosthesis = "required"`); interim crowns and
    prostheses are not included.

    Triggers: `SV3*AD:D2740*1250~` with SV305 empty.
    Send instead: `SV3*AD:D2740*1250***I~`.
    """
    facts = _facts(line, PROSTHESIS_MISSING)
    if facts is None or facts.prosthesis != "required" or line.prosthesis:
        return
    yield Hit(
        f"{_at(line)} has no prosthesis indicator (SV305): say whether it is an initial "
        "placement (I) or a replacement (R)",
        line=line,
        element="SV305",
    )


@line_rule(
    BY_REPORT_NARRATIVE,
    prefilter=_when(BY_REPORT_NARRATIVE, lambda f: f.narrative == "required"),
    snip=6,
    severity="warning",
    summary="an unspecified 'by report' procedure has no narrative or attachment",
    fix="Describe the procedure in an NTE*ADD narrative, or send the report and a PWK segment.",
)
def by_report_narrative(line: m.ServiceLine, claim: m.Claim, ctx: RuleContext) -> Iterator[Hit]:
    """Each category ends with an unspecified procedure code (D0999, D2999 ... D9999,
    and D5899 and D6199 where the category ends early) used when no other code fits.
    It has no fee of its own: the payer prices it from a description, so it must come
    with a narrative (2300 NTE) or an attachment (PWK), or it is denied for missing
    information.

    `rules/cdt.toml` lists the codes (`narrative = "required"`).

    Triggers: a claim with a D9999 line and neither NTE nor PWK.
    Send instead: `NTE*ADD*<what was done, on which tooth or area, and why>~`.
    """
    facts = _facts(line, BY_REPORT_NARRATIVE)
    if facts is None or facts.narrative != "required":
        return
    if any(n.text.strip() for n in claim.notes) or claim.attachments:
        return
    yield Hit(
        f"{_at(line)} is an unspecified procedure reported by report, and the claim has no "
        "narrative (NTE) or attachment (PWK) describing it",
        line=line,
    )


@line_rule(
    PER_VISIT_UNITS,
    prefilter=_when(PER_VISIT_UNITS, lambda f: f.units == "per-visit"),
    snip=6,
    severity="error",
    summary="a code reported once per visit is billed with more than one unit",
    fix="Bill one unit; use the each-additional code where one exists for further work.",
)
def per_visit_units(line: m.ServiceLine, claim: m.Claim, ctx: RuleContext) -> Iterable[Hit]:
    """Evaluations, cleanings, full-mouth and bitewing image sets, fluoride, the first
    periapical image, the first sedation increment, palliative care, desensitizing
    medicament and appointment codes are reported once per visit, whatever the number
    of teeth or images. More than one unit (SV306) is a billing error: payers cut the
    line to one unit or deny it, and an audit reads it as overbilling.

    `rules/cdt.toml` lists the codes (`units = "per-visit"`).

    Triggers: `SV3*AD:D9910*55*****3~` (three teeth treated with a per-visit medicament).
    Send instead: `SV3*AD:D9910*55*****1~`, or the per-tooth code if that is what was done.
    """
    units = line.units
    if units is None or units <= 1:
        return ()
    return _per_visit_units_hits(line)


def _per_visit_units_hits(line: m.ServiceLine) -> Iterator[Hit]:
    facts = _facts(line, PER_VISIT_UNITS)
    if facts is None or facts.units != "per-visit":
        return
    units = line.units
    if units is None or units <= 1:
        return
    shown = line.units_raw or str(units)
    yield Hit(
        f"{_at(line)} is billed with {shown} units (SV306), but the code is reported once "
        "per visit",
        line=line,
        element="SV306",
    )
