"""Desensitizing: D9910 (a medicament, once per visit) and D9911 (a resin sealant, per tooth). SNIP 6.

The two codes differ in three ways payers check: what was applied (a medicament painted
on, or a resin that polymerizes), how it is counted (one unit per visit, or one unit per
tooth with its surfaces) and why (D9911 seals dentin that is exposed for a
non-restorative reason). D9911 is also bundled into the procedures that expose dentin
when billed the same day. The code lists, narrative terms and thresholds are data
(`rules/desensitizing.toml`); the logic is here.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import attrs

from x12dental import model as m
from x12dental.codesets import SURFACES, expand_codes
from x12dental.engine import (
    BatchCheck,
    Hit,
    RuleContext,
    ServiceRecord,
    batch_rule,
    claim_codes,
    line_date,
    line_rule,
    line_teeth,
)
from x12dental.narrative import claim_narrative, find_affirmed_terms
from x12dental.ruledata import RuleDataError, builtin, builtin_path, code_specs, require
from x12dental.spool import SpillMap
from x12dental.valueclass import fast_constructor

D9910 = "D9910"
D9911 = "D9911"
DATA_FILE = "desensitizing.toml"

# -- rule data -------------------------------------------------------------------------------


@attrs.frozen
class NonResinGroup:
    """Medicament terms that point to one other code, and the advice that names it."""

    advice: str
    terms: tuple[str, ...]


@attrs.frozen
class DesensitizingData:
    """`rules/desensitizing.toml`, checked."""

    bundled: Mapping[str, str]  # code -> label of the procedure D9911 is bundled into
    restorations: frozenset[str]
    same_surface: Mapping[str, str]  # surface -> the surface it is compared as
    negations: tuple[str, ...]
    documented_by_attachment: frozenset[str]
    resin: tuple[str, ...]
    etiology: tuple[str, ...]
    non_resin: tuple[NonResinGroup, ...]
    recall_codes: frozenset[str]
    recall_min_visits: int
    recall_max_share: float


def _terms(table: Mapping[str, Any], key: str, path: str | Path, at: str) -> tuple[str, ...]:
    value = require(table, key, list, path, at)
    if not value:
        raise RuleDataError(path, f"{at}.{key}" if at else key, "must not be empty")
    for i, term in enumerate(value):
        if not isinstance(term, str) or not term.strip():
            raise RuleDataError(path, f"{at}.{key}[{i}]", "must be a non-empty string")
    return tuple(value)


def _tables(doc: Mapping[str, Any], key: str, path: str | Path, at: str) -> list[dict[str, Any]]:
    where = f"{at}.{key}" if at else key
    value: list[Any] = require(doc, key, list, path, at)
    if not value or not all(isinstance(t, dict) for t in value):
        raise RuleDataError(path, where, f"must be an array of tables ([[{where}]])")
    return [dict(t) for t in value]


def _parse_surface_classes(value: Any, path: str | Path, at: str) -> dict[str, str]:
    out: dict[str, str] = {}
    if not isinstance(value, list):
        raise RuleDataError(path, at, "must be a list of surface lists, e.g. [['B', 'F']]")
    for i, group in enumerate(value):
        if (
            not isinstance(group, list)
            or len(group) < 2
            or not all(isinstance(s, str) and s in SURFACES for s in group)
        ):
            raise RuleDataError(
                path,
                f"{at}[{i}]",
                f"must list two or more surface codes ({''.join(sorted(SURFACES))})",
            )
        for surface in group:
            out[surface] = group[0]
    return out


def parse_data(doc: Mapping[str, Any], path: str | Path) -> DesensitizingData:
    """Check the data file; a mistake raises RuleDataError naming the file and the key."""
    bundled: dict[str, str] = {}
    for i, group in enumerate(_tables(doc, "bundled_same_day", path, "")):
        at = f"bundled_same_day[{i}]"
        label = require(group, "label", str, path, at)
        specs = code_specs(require(group, "codes", list, path, at), path, f"{at}.codes")
        for code in expand_codes(specs):
            bundled.setdefault(code, label)

    rest = require(doc, "restorations", dict, path, "")
    restorations = expand_codes(
        code_specs(require(rest, "codes", list, path, "restorations"), path, "restorations.codes")
    )
    same_surface = _parse_surface_classes(
        rest.get("equivalent_surfaces", []), path, "restorations.equivalent_surfaces"
    )

    nar = require(doc, "narrative", dict, path, "")
    non_resin = []
    for i, group in enumerate(_tables(nar, "non_resin", path, "narrative")):
        at = f"narrative.non_resin[{i}]"
        non_resin.append(
            NonResinGroup(
                advice=require(group, "advice", str, path, at),
                terms=_terms(group, "terms", path, at),
            )
        )

    recall = require(doc, "recall_pattern", dict, path, "")
    recall_codes = expand_codes(
        code_specs(
            require(recall, "recall_codes", list, path, "recall_pattern"),
            path,
            "recall_pattern.recall_codes",
        )
    )
    min_visits = require(recall, "min_visits", int, path, "recall_pattern")
    if min_visits < 1:
        raise RuleDataError(path, "recall_pattern.min_visits", "must be 1 or more")
    max_share = require(recall, "max_share", float, path, "recall_pattern")
    if not 0 <= max_share < 1:
        raise RuleDataError(path, "recall_pattern.max_share", "must be a share from 0 to below 1")

    return DesensitizingData(
        bundled=bundled,
        restorations=restorations,
        same_surface=same_surface,
        negations=_terms(nar, "negations", path, "narrative"),
        documented_by_attachment=frozenset(
            _terms(nar, "documented_by_attachment", path, "narrative")
        ),
        resin=_terms(nar, "resin", path, "narrative"),
        etiology=_terms(nar, "etiology", path, "narrative"),
        non_resin=tuple(non_resin),
        recall_codes=recall_codes,
        recall_min_visits=min_visits,
        recall_max_share=max_share,
    )


# Loaded when the rules are registered: a broken data file stops the run with its file and
# key, instead of silently turning every desensitizing rule into a crashed rule.
DATA = parse_data(builtin(DATA_FILE), builtin_path(DATA_FILE))


# -- small helpers ---------------------------------------------------------------------------


def _teeth_words(teeth: Sequence[str]) -> str:
    return ", ".join(f"#{t}" for t in teeth)


def _plural(n: int | Decimal, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _teeth_count(n: int) -> str:
    return "1 tooth" if n == 1 else f"{n} teeth"


def _distinct_teeth(line: m.ServiceLine) -> list[str]:
    return list(dict.fromkeys(line_teeth(line)))


def _first_d9911(claim: m.Claim) -> m.ServiceLine | None:
    return next((ln for ln in claim.lines if ln.procedure == D9911), None)


@functools.lru_cache(maxsize=64)
def _phrases_pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    """One pattern for many phrases, matched like `find_terms` (whole words, any spacing)."""
    alternatives = [
        r"[\s\-/]*".join(re.escape(w) for w in p.upper().split())
        for p in sorted(phrases, key=len, reverse=True)
    ]
    return re.compile(r"(?<![A-Z0-9])(?:" + "|".join(alternatives) + r")(?![A-Z0-9])")


def _blank(text: str, phrases: Sequence[str]) -> str:
    """`text` with every occurrence of `phrases` replaced by spaces."""
    if not phrases:
        return text
    return _phrases_pattern(tuple(phrases)).sub(lambda mt: " " * len(mt.group()), text)


def _named(text: str, terms: Sequence[str]) -> list[str]:
    """The terms the narrative names, not counting negated mentions ("no resin", "non-resin")."""
    return find_affirmed_terms(text, terms, negations=DATA.negations, window=0)


def _attachment_carries_note(claim: m.Claim) -> bool:
    return any(
        a.report_type in DATA.documented_by_attachment and a.transmission != "AA"
        for a in claim.attachments
    )


def _narrative_where(claim: m.Claim) -> m.Where | None:
    return claim.notes[0].where if claim.notes else None


# -- per-line rules on D9911 -----------------------------------------------------------------


@line_rule(
    "desensitizing.d9911-no-tooth",
    snip=6,
    severity="error",
    codes={D9911},
    summary="D9911 is billed without tooth numbers",
    fix="Send one TOO segment per tooth treated, with its surfaces (TOO*JP*22*F).",
)
def d9911_no_tooth(line: m.ServiceLine, claim: m.Claim, ctx: RuleContext) -> Iterator[Hit]:
    """D9911 is paid per tooth, so the payer needs to know which teeth were sealed.

    A D9911 line without TOO segments, or one that names an area ("lower anteriors",
    an arch or a quadrant in SV304) instead of teeth, is denied for insufficient detail:
    the payer cannot count units, apply its per-tooth lifetime limits, or tell which
    dentin was exposed.

    Triggers: `SV3*AD:D9911*180****4~` with no TOO, or with `SV304` = `02` (lower arch).

    Send one `TOO*JP*<tooth>*<surfaces>` per tooth treated, e.g. `TOO*JP*22*F` through
    `TOO*JP*27*F` for six lower anterior teeth, and set SV306 to the number of teeth.
    """
    if line_teeth(line):
        return
    area = f" (it names the area {'/'.join(line.areas)} instead)" if line.areas else ""
    yield Hit(
        f"D9911 on line {line.number} has no tooth numbers{area}: it is billed per tooth, "
        "and payers deny it without the teeth treated",
        line=line,
        element="TOO02",
    )


@line_rule(
    "desensitizing.d9911-units-teeth-mismatch",
    snip=6,
    severity="error",
    codes={D9911},
    summary="D9911 units (SV306) differ from the number of teeth listed",
    fix="Set SV306 to the number of teeth in the TOO segments, one unit per tooth.",
)
def d9911_units_teeth_mismatch(
    line: m.ServiceLine, claim: m.Claim, ctx: RuleContext
) -> Iterator[Hit]:
    """D9911 is one unit per tooth: the unit count and the teeth listed must agree.

    The billing guide calls a line with "1 unit" and six teeth the most common
    self-inflicted D9911 denial; the reverse (six units and one tooth) is returned just
    the same. The payer cannot tell whether to pay one tooth or six, so it kicks the
    line back.

    Triggers: `SV3*AD:D9911*45****1~` followed by `TOO*JP*22*F` ... `TOO*JP*27*F`
    (six teeth, one unit). SV306 absent counts as one unit.

    Send `SV306` = the number of teeth listed (`SV3*AD:D9911*270****6~`), or one line per
    tooth with one unit each. A tooth listed twice counts once.
    """
    teeth = _distinct_teeth(line)
    if not teeth or line.units is None or line.units == len(teeth):
        return
    if line.units_raw:
        units = f"SV306 says {_plural(line.units, 'unit')}"
    else:
        units = "SV306 is absent, which means 1 unit"
    yield Hit(
        f"D9911 on line {line.number} lists {_teeth_count(len(teeth))} "
        f"({_teeth_words(teeth)}) but {units}: D9911 is one unit per tooth",
        line=line,
        element="SV306",
    )


@line_rule(
    "desensitizing.d9911-no-surface",
    snip=6,
    severity="warning",
    codes={D9911},
    summary="a D9911 tooth is listed without the surface treated",
    fix="Add the surfaces sealed to each TOO segment (TOO*JP*8*F for the facial cervical area).",
)
def d9911_no_surface(line: m.ServiceLine, claim: m.Claim, ctx: RuleContext) -> Iterator[Hit]:
    """Per-tooth D9911 should say which surface of each tooth was sealed.

    Reviewers rebuild the visit from the claim: which teeth, which exposed surfaces,
    what material. Surfaces per tooth (facial, lingual...) back up the per-tooth units,
    separate the sealant from a restoration of the same tooth, and are what payers
    look for when they audit D9911; a bare tooth number is a weak claim.

    Triggers: `TOO*JP*24~` on a D9911 line (no TOO03).

    Send the surfaces treated: `TOO*JP*24*F` (facial), `TOO*JP*24*F:L` (facial and lingual).
    """
    for tooth in line.teeth:
        if tooth.number and not tooth.surfaces:
            yield Hit(
                f"D9911 on line {line.number}: tooth #{tooth.number} has no surface (TOO03); "
                "name the surface sealed so the payer can tie the unit to exposed dentin",
                line=line,
                tooth=tooth.number,
                where=tooth.where,
                element="TOO03",
            )


# -- D9911 and other procedures of the same day (any claim of the batch, in any order) --------


@attrs.frozen
class _Partner:
    """A service of the same patient and date as a D9911 line, and where it was billed."""

    code: str
    tooth: str | None
    surfaces: tuple[str, ...]
    claim_id: str
    line: int | None
    source: str  # "this claim", "batch" or "history"

    def describe(self) -> str:
        at = f"line {self.line}" if self.line is not None else "a line"
        if self.source == "this claim":
            return f"{self.code} on {at} of this claim"
        if self.source == "history":
            return f"{self.code} on claim {self.claim_id} of an earlier batch"
        return f"{self.code} on claim {self.claim_id} {at}"


@attrs.define
class _D9911Entry:
    claim: m.Claim  # a stub (see _stub_claim): held until the end of the run, maybe on disk
    line: m.ServiceLine  # a stub too
    day: dt.date
    # No defaults: a class-body default (attrs.field) is a typed class attribute to the
    # compiled build (mypyc), which rejects it as not a list. The one maker passes them.
    partners: list[_Partner]
    reported: set[str]


# The stubs of the claim in hand (claim, its stub, line id -> (line, its stub)): the batch
# states holding D9911 lines share them rather than each making its own (and each spilling
# its own copy). The originals are held, so their ids cannot be reused meanwhile.
_STUBS: list[Any] = [None, None, {}]


def _stub_claim(claim: m.Claim) -> m.Claim:
    """What a finding placed on the claim reads (id, envelope, position), nothing more.

    Batch state lives as long as the run: whole claims (lines, parties, notes) would make
    it grow several KB per claim."""
    held = _STUBS
    if held[0] is not claim:
        held[0], held[1], held[2] = claim, _make_stub_claim(claim), {}
    stub: m.Claim = held[1]
    return stub


# Stubs are made through fast constructors (the mapper's): attrs.evolve reads every field
# through the generic machinery, and was most of what a D9911 claim cost these rules.
_new_claim = fast_constructor(m.Claim)
_new_line = fast_constructor(m.ServiceLine)


def _make_stub_claim(claim: m.Claim) -> m.Claim:
    """attrs.evolve(claim, dates=(), references=(), notes=(), attachments=(), diagnoses=(),
    tooth_status=(), other_payers=(), lines=(), rendering=None, service_facility=None,
    billing_provider=None, subscriber=None, patient=None, payer=None)."""
    return _new_claim(
        claim_id=claim.claim_id,
        total_charge=claim.total_charge,
        total_charge_raw=claim.total_charge_raw,
        place_of_service=claim.place_of_service,
        claim_form=claim.claim_form,
        frequency=claim.frequency,
        provider_signature=claim.provider_signature,
        assignment=claim.assignment,
        benefits_assignment=claim.benefits_assignment,
        release_of_information=claim.release_of_information,
        related_causes=claim.related_causes,
        special_program=claim.special_program,
        predetermination=claim.predetermination,
        delay_reason=claim.delay_reason,
        dates=(),
        references=(),
        notes=(),
        attachments=(),
        diagnoses=(),
        tooth_status=(),
        ortho_months=claim.ortho_months,
        patient_paid=claim.patient_paid,
        rendering=None,
        service_facility=None,
        other_payers=(),
        lines=(),
        billing_provider=None,
        subscriber=None,
        patient=None,
        payer=None,
        envelope=claim.envelope,
        transaction_date=claim.transaction_date,
        where=claim.where,
        end_position=claim.end_position,
    )


def _make_stub_line(line: m.ServiceLine) -> m.ServiceLine:
    """attrs.evolve(line, dates=(), references=(), adjudications=(), rendering=None)."""
    return _new_line(
        number=line.number,
        procedure_qualifier=line.procedure_qualifier,
        procedure=line.procedure,
        modifiers=line.modifiers,
        charge=line.charge,
        charge_raw=line.charge_raw,
        place_of_service=line.place_of_service,
        areas=line.areas,
        prosthesis=line.prosthesis,
        units=line.units,
        units_raw=line.units_raw,
        diagnosis_pointers=line.diagnosis_pointers,
        teeth=line.teeth,
        dates=(),
        references=(),
        adjudications=(),
        rendering=None,
        where=line.where,
        service_where=line.service_where,
    )


def _stub_line(line: m.ServiceLine, claim: m.Claim) -> m.ServiceLine:
    """What a finding placed on the line and the D9911 rules read (number, code, teeth, where)."""
    _stub_claim(claim)  # the stubs held are this claim's
    lines: dict[int, tuple[m.ServiceLine, m.ServiceLine]] = _STUBS[2]
    hit = lines.get(id(line))
    if hit is not None and hit[0] is line:
        return hit[1]
    stub = _make_stub_line(line)
    lines[id(line)] = (line, stub)
    return stub


def _partners_of(line: m.ServiceLine, claim: m.Claim, source: str) -> Iterator[_Partner]:
    teeth = line.teeth or ()
    if not teeth:
        yield _Partner(line.procedure, None, (), claim.claim_id, line.line_number, source)
    for tooth in teeth:
        yield _Partner(
            line.procedure,
            tooth.number or None,
            tooth.surfaces,
            claim.claim_id,
            line.line_number,
            source,
        )


def _from_record(rec: ServiceRecord) -> _Partner:
    source = "history" if rec.source == "history" else "batch"
    return _Partner(rec.code, rec.tooth, rec.surfaces, rec.claim_id, rec.line, source)


class _SameDay:
    """Pairs every D9911 line with the same patient's same-date services of `codes`.

    A service billed earlier (this claim, an earlier claim of the batch, history) is
    found when the D9911 line is seen; one billed later in the file is added to the
    D9911 lines still held when its claim is seen. So the pairing does not depend on
    the order the office exported the claims in.
    """

    def __init__(self, codes: frozenset[str]) -> None:
        self.codes = codes
        # patient -> D9911 entries; one patient's list is read per claim, written back
        # (when changed) before another patient's is read.
        # An entry is about 1.5 KB (stubs, partners): weighted, so it goes to disk sooner.
        self.entries: SpillMap[list[_D9911Entry]] = SpillMap(weight=8)
        self._patient: str | None = None
        self._mine: list[_D9911Entry] = []
        self._dirty = False
        # The patients holding entries (few: those with a dated D9911): the others' claims
        # are passed over without a read, which past the memory budget is a query.
        self._holders: set[str] = set()

    def _load(self, patient: str) -> list[_D9911Entry]:
        if patient != self._patient:
            self._save()
            self._mine = self.entries.get(patient) or []
            self._patient = patient
        return self._mine

    def _save(self) -> None:
        """Write the patient in hand back (callers mutate `reported` after observe)."""
        if self._dirty and self._patient is not None:
            self.entries.put(self._patient, self._mine)
        self._dirty = False

    def observe(self, claim: m.Claim, ctx: RuleContext) -> list[_D9911Entry]:
        """The D9911 entries that gained partners with this claim."""
        changed: list[_D9911Entry] = []
        in_claim = claim_codes(claim)
        with_d9911 = D9911 in in_claim
        if not with_d9911 and (in_claim.isdisjoint(self.codes) or ctx.patient not in self._holders):
            return changed  # no D9911 to pair, and no partner or none held for this patient
        mine = [(line_date(ln, claim), ln) for ln in claim.lines if ln.procedure in self.codes]
        held = self._load(ctx.patient) if mine or with_d9911 else ()
        for entry in held:
            new = [
                p for day, ln in mine if day == entry.day for p in _partners_of(ln, claim, "batch")
            ]
            if new:
                entry.partners.extend(new)
                changed.append(entry)
        entries = []
        stub: m.Claim | None = None
        for ln in claim.lines if with_d9911 else ():
            if ln.procedure != D9911:
                continue
            day = line_date(ln, claim)
            if day is None:
                continue
            if stub is None:
                stub = _stub_claim(claim)
            entry = _D9911Entry(stub, _stub_line(ln, claim), day, [], set())
            entry.partners.extend(
                p
                for other_day, other in mine
                if other_day == day and other is not ln
                for p in _partners_of(other, claim, "this claim")
            )
            entry.partners.extend(
                _from_record(rec)
                for rec in ctx.earlier_services(codes=self.codes)
                if rec.date == day and not rec.rejected
            )
            entries.append(entry)
            if entry.partners:
                changed.append(entry)
        if entries:
            self._mine.extend(entries)
            self._holders.add(ctx.patient)
        if entries or changed:
            self._dirty = True
        return changed

    def all_entries(self) -> Iterator[_D9911Entry]:
        self._save()
        for entries in self.entries.values():
            yield from entries


class _BundledSameDay:
    split_by: ClassVar[str] = "patient"  # engine.BatchCheck: same-day visits are one patient's

    def __init__(self) -> None:
        self.same_day = _SameDay(frozenset(DATA.bundled))

    def observe(self, claim: m.Claim, ctx: RuleContext) -> Iterable[Hit]:
        changed = self.same_day.observe(claim, ctx)
        return self._hits(changed) if changed else ()

    def _hits(self, changed: list[_D9911Entry]) -> Iterator[Hit]:
        for entry in changed:
            if entry.reported or not entry.partners:
                continue
            entry.reported.add("")
            first = entry.partners[0]
            label = DATA.bundled.get(first.code, "an originating procedure")
            also = len({(p.claim_id, p.line, p.source) for p in entry.partners}) - 1
            more = f" (and {_plural(also, 'other line')})" if also > 0 else ""
            yield Hit(
                f"D9911 on line {entry.line.number} is dated {entry.day.isoformat()}, the same day "
                f"as {label} for this patient ({first.describe()}{more}): payers bundle it into "
                "that procedure and pay D9911 at zero; apply and bill it at the next visit",
                line=entry.line,
                claim=entry.claim,
            )

    def finish(self, ctx: RuleContext) -> Iterable[Hit]:
        return ()


@batch_rule(
    "desensitizing.d9911-bundled-same-day",
    snip=6,
    severity="warning",
    summary="D9911 is billed on the same date as SRP, perio maintenance, bleaching or a crown prep",
    fix="Apply the desensitizing resin at a follow-up visit (e.g. 2-3 weeks after SRP) and bill it then.",
)
def d9911_bundled_same_day() -> BatchCheck:
    """D9911 on the day of the procedure that exposed the dentin is paid at zero.

    Scaling and root planing (D4341/D4342), periodontal maintenance (D4910), in-office
    bleaching (D9972-D9974) and crown preparations expose or irritate dentin
    themselves; payers treat desensitizing done at the same visit as part of that
    procedure and bundle D9911 into it. The check looks at the whole batch and the
    claim history: the same patient and date on any claim counts, whichever claim comes
    first in the file.

    Triggers: D4342 in quadrant 20 and D9911 on #10, #11, #12 for the same patient,
    both dated 2026-09-10.

    Instead: finish the originating procedure, see the patient at a follow-up (2-3 weeks
    after SRP), and apply D9911 to the teeth still sensitive then. The later visit is
    paid, and its chart note shows why the sealant was needed.
    """
    return _BundledSameDay()


def _surface_classes(surfaces: Iterable[str]) -> set[str]:
    return {DATA.same_surface.get(s, s) for s in surfaces}


def _same_tooth(entry: _D9911Entry, tooth: m.ToothInfo) -> list[_Partner]:
    return [p for p in entry.partners if p.tooth == tooth.number]


def _overlap(tooth: m.ToothInfo, partner: _Partner) -> list[str]:
    shared = _surface_classes(tooth.surfaces) & _surface_classes(partner.surfaces)
    return sorted(s for s in tooth.surfaces if DATA.same_surface.get(s, s) in shared)


class _SameSurface:
    split_by: ClassVar[str] = "patient"  # engine.BatchCheck: same-day visits are one patient's

    def __init__(self) -> None:
        self.same_day = _SameDay(DATA.restorations)

    def observe(self, claim: m.Claim, ctx: RuleContext) -> Iterable[Hit]:
        changed = self.same_day.observe(claim, ctx)
        return self._hits(changed) if changed else ()

    def _hits(self, changed: list[_D9911Entry]) -> Iterator[Hit]:
        for entry in changed:
            for tooth in entry.line.teeth:
                if not tooth.number or tooth.number in entry.reported:
                    continue
                for partner in _same_tooth(entry, tooth):
                    shared = _overlap(tooth, partner)
                    if shared:
                        entry.reported.add(tooth.number)
                        yield Hit(
                            f"D9911 on line {entry.line.number} seals surface "
                            f"{''.join(shared)} of tooth #{tooth.number} and "
                            f"{partner.describe()} restores the same surface on the same date "
                            f"({entry.day.isoformat()}): payers deny one of them as a duplicate "
                            "procedure; sealing a restored surface is part of the restoration",
                            line=entry.line,
                            claim=entry.claim,
                            tooth=tooth.number,
                            where=tooth.where,
                        )
                        break

    def finish(self, ctx: RuleContext) -> Iterable[Hit]:
        return ()


@batch_rule(
    "desensitizing.d9911-same-surface-as-restoration",
    snip=6,
    severity="error",
    summary="D9911 and a direct restoration on the same tooth and surface on the same date",
    fix="Drop D9911 for a surface that was restored; bill only the restoration.",
)
def d9911_same_surface_as_restoration() -> BatchCheck:
    """A surface that was restored that day cannot also be sealed with D9911.

    When a cervical lesion is cavitated, carious or has lost contour, it is restored
    (an amalgam or resin-based composite, D2140-D2161, D2330-D2394), and bonding that
    surface is part of the restoration. D9911 on the same tooth and surface on the same
    date is denied as a duplicate procedure; coding a cervical composite as D9911 is a
    known fraud pattern, so payers look for the pair. Facial and buccal (F/B) count as
    one surface, and so do occlusal and incisal (O/I).

    Triggers: D2330 on #8 surface F and D9911 on #8 surface F, both 2026-09-10 (same
    claim or another claim of the batch for this patient).

    Bill the restoration alone. If other teeth with exposed, unrestored dentin were
    sealed, keep D9911 for those teeth only.
    """
    return _SameSurface()


class _SameTooth:
    split_by: ClassVar[str] = "patient"  # engine.BatchCheck: same-day visits are one patient's

    def __init__(self) -> None:
        self.same_day = _SameDay(DATA.restorations)

    def observe(self, claim: m.Claim, ctx: RuleContext) -> Iterable[Hit]:
        self.same_day.observe(claim, ctx)
        return ()

    def finish(self, ctx: RuleContext) -> Iterator[Hit]:
        # Decided at the end: a restoration of the same surface, even later in the file,
        # makes it the error rule's finding instead.
        for entry in self.same_day.all_entries():
            for tooth in entry.line.teeth:
                partners = _same_tooth(entry, tooth)
                if not partners or any(_overlap(tooth, p) for p in partners):
                    continue
                surfaces = "".join(tooth.surfaces) or "no surface"
                yield Hit(
                    f"D9911 on line {entry.line.number} seals tooth #{tooth.number} ({surfaces}) "
                    f"on {entry.day.isoformat()}, the date {partners[0].describe()} restores "
                    "that tooth: payers often bundle the two; the narrative should show the "
                    "sealed surface is not the restored one",
                    line=entry.line,
                    claim=entry.claim,
                    tooth=tooth.number,
                    where=tooth.where,
                )


@batch_rule(
    "desensitizing.d9911-same-tooth-as-restoration",
    snip=6,
    severity="warning",
    summary="D9911 on a tooth that gets a direct restoration on the same date (other surfaces)",
    fix="Check the surfaces: sealed and restored surfaces must differ; say so in the narrative.",
)
def d9911_same_tooth_as_restoration() -> BatchCheck:
    """D9911 and a restoration on one tooth the same day invite a bundling review.

    Sealing exposed root dentin on one surface while restoring another surface of the
    same tooth can be legitimate, but payers often bundle the sealant into the
    restoration, and a missing or different surface code is how a cervical composite
    coded as D9911 looks. When the surfaces overlap, the error rule
    `desensitizing.d9911-same-surface-as-restoration` reports it instead.

    Triggers: D2391 on #12 surface O and D9911 on #12 surface F, both 2026-09-10; or
    D9911 on #12 with no surface next to any restoration of #12 that day.

    Send the surfaces for both procedures and a narrative naming the exposed dentin the
    sealant was applied to; if the lesion was restored, bill the restoration alone.
    """
    return _SameTooth()


# -- narrative rules (once per claim, on its first D9911 line) --------------------------------


@line_rule(
    "desensitizing.d9911-non-resin-material",
    snip=6,
    severity="warning",
    codes={D9911},
    summary="the D9911 narrative names a medicament (fluoride varnish, potassium nitrate...), no resin",
    fix="Bill fluoride varnish as D1206 and other medicaments as D9910 (one unit per visit).",
)
def d9911_non_resin_material(
    line: m.ServiceLine, claim: m.Claim, ctx: RuleContext
) -> Iterator[Hit]:
    """D9911 is a resin that polymerizes; a painted-on medicament is D9910 or a fluoride code.

    What separates D9911 from D9910 is the chemistry: D9911 seals exposed dentin with a
    resin (HEMA/UDMA, methacrylate, glutaraldehyde with HEMA such as Gluma) that is
    light- or self-cured, while potassium nitrate, a glutaraldehyde rinse, calcium
    phosphate pastes, oxalates, arginine, silver diamine fluoride and fluorides are
    medicaments. A narrative naming only a medicament on a D9911 claim is downgraded to
    D9910 or denied, and fluoride varnish billed as D9911 is a documented audit and
    recoupment trigger. Negated mentions ("no resin", "non-resin") do not count as resin.

    Triggers: D9911 on #22-#27 with the narrative "FLUORIDE VARNISH APPLIED #22-27
    SENSITIVITY".

    Bill what was applied: fluoride varnish as D1206; a medicament as D9910, once per
    visit. Keep D9911 for a resin sealant, and name it in the narrative.
    """
    if _first_d9911(claim) is not line:
        return
    text = claim_narrative(claim)
    if not text or _named(text, DATA.resin):
        return
    found: list[str] = []
    advice: list[str] = []
    for group in DATA.non_resin:
        terms = _named(text, group.terms)
        if terms:
            found.extend(terms)
            advice.append(group.advice)
            # a longer term of an earlier group ("sodium fluoride varnish") is not
            # reported again by a shorter one of a later group ("sodium fluoride")
            text = _blank(text, terms)
    if found:
        yield Hit(
            f"the narrative of this D9911 claim (line {line.number}) names "
            f"{', '.join(t.lower() for t in found)} and no polymerizing resin: payers downgrade "
            f"such a D9911 to D9910 or deny it; {'; '.join(advice)}",
            line=line,
            where=_narrative_where(claim),
        )


@line_rule(
    "desensitizing.d9911-no-material",
    snip=6,
    severity="warning",
    codes={D9911},
    summary="the D9911 narrative does not name the resin material applied",
    fix="Name the resin by brand and chemistry in the NTE (e.g. 'Seal & Protect HEMA/UDMA resin').",
)
def d9911_no_material(line: m.ServiceLine, claim: m.Claim, ctx: RuleContext) -> Iterator[Hit]:
    """Payers pay D9911 when the claim says what resin was applied.

    A generic "desensitizer applied" is the leading cause of D9911 being downgraded to
    D9910 or denied: the reviewer cannot tell a polymerizing resin sealant from a
    medicament. Naming the product and its chemistry (Seal & Protect, Gluma, Hurriseal,
    Vivasens; HEMA/UDMA, methacrylate resin) settles it. When a support-data attachment
    (PWK OZ) carries the chart note, this rule stays silent; when the narrative names a
    medicament instead, `desensitizing.d9911-non-resin-material` reports it.

    Triggers: D9911 with the narrative "DESENSITIZER APPLIED #8 #9", or no narrative.

    Send an NTE such as "SEAL & PROTECT HEMA/UDMA RESIN, LIGHT CURED 20S, #8 #9 F;
    RECESSION 2MM".
    """
    if _first_d9911(claim) is not line or _attachment_carries_note(claim):
        return
    text = claim_narrative(claim)
    if _named(text, DATA.resin):
        return
    if any(_named(text, group.terms) for group in DATA.non_resin):
        return  # the non-resin rule says what is wrong
    what = "names no resin material" if text else "has no narrative (NTE) naming the resin"
    yield Hit(
        f"this D9911 claim (line {line.number}) {what}: payers downgrade D9911 to D9910 or "
        "deny it when the note only says a desensitizer was applied",
        line=line,
        where=_narrative_where(claim),
    )


@line_rule(
    "desensitizing.d9911-no-etiology",
    snip=6,
    severity="warning",
    codes={D9911},
    summary="the D9911 narrative does not say why the dentin is exposed",
    fix="Name the exposed dentin and its cause in the NTE (e.g. 'recession 2mm, exposed root #22').",
)
def d9911_no_etiology(line: m.ServiceLine, claim: m.Claim, ctx: RuleContext) -> Iterator[Hit]:
    """D9911 seals dentin that is exposed for a non-restorative reason; the claim should say which.

    Payers deny D9911 for insufficient documentation when the note only says the
    patient is sensitive: nothing shows the resin was clinically needed. They look for
    the reason the dentin is exposed: gingival recession (with millimetres, the strongest
    audit defence), exposed root or cervical dentin, an abrasion, abfraction or erosion
    lesion, exposure after scaling and root planing or periodontal surgery, or
    sensitivity after whitening or a crown preparation. When a support-data attachment
    (PWK OZ) carries the chart note, this rule stays silent.

    Triggers: D9911 with the narrative "GLUMA APPLIED #8 #9, PT SENSITIVE TO COLD".

    Add the etiology: "GLUMA #8 #9 F; RECESSION 2MM, EXPOSED CERVICAL DENTIN".
    """
    if _first_d9911(claim) is not line or _attachment_carries_note(claim):
        return
    text = claim_narrative(claim)
    if _named(text, DATA.etiology):
        return
    what = "does not say why the dentin is exposed" if text else "has no narrative (NTE)"
    yield Hit(
        f"this D9911 claim (line {line.number}) {what}: payers want the exposed-dentin "
        "etiology (recession, exposed root, abrasion/abfraction/erosion, post-SRP...) before "
        "they pay a per-tooth sealant",
        line=line,
        where=_narrative_where(claim),
    )


# -- D9910 -----------------------------------------------------------------------------------


@line_rule(
    "desensitizing.d9910-per-tooth",
    snip=6,
    severity="error",
    codes={D9910},
    summary="D9910 is billed per tooth or more than once a visit; it is one unit per visit",
    fix="Send one D9910 line per visit, 1 unit, no TOO; use D9911 for a per-tooth resin sealant.",
)
def d9910_per_tooth(line: m.ServiceLine, claim: m.Claim, ctx: RuleContext) -> Iterator[Hit]:
    """D9910 is one unit per visit, however many teeth were treated.

    A desensitizing medicament is billed once per appointment; more than one unit, tooth
    numbers on the line, or a second D9910 for the same patient and date (on this claim
    or another claim of the batch) read as per-tooth billing. The payer pays one unit
    and denies the rest, and billing per tooth is what offices that use D9911 as a
    substitute for D9910 (or the reverse) look like in an audit.

    Triggers: `SV3*AD:D9910*165****3~` with `TOO*JP*8`, `TOO*JP*9`, `TOO*JP*10`; or two
    D9910 lines dated 2026-09-10 for the same patient.

    Send one `SV3*AD:D9910*55~` per visit without TOO. If a resin sealant was applied
    tooth by tooth, bill D9911 per tooth instead.
    """
    problems = []
    teeth = _distinct_teeth(line)
    if teeth:
        problems.append(f"lists {_teeth_count(len(teeth))} ({_teeth_words(teeth)})")
    if line.units is not None and line.units > 1:
        problems.append(f"has {_plural(line.units, 'unit')} in SV306")
    if problems:
        yield Hit(
            f"D9910 on line {line.number} {' and '.join(problems)}: D9910 is billed once per "
            "visit, one unit, without tooth numbers",
            line=line,
            element="SV306" if not teeth else "TOO02",
        )
    day = line_date(line, claim)
    if day is None:
        return
    same_day: list[str] = []
    for other in claim.lines:
        if other is line:
            break
        if other.procedure == D9910 and line_date(other, claim) == day:
            same_day.append(f"line {other.number} of this claim")
    seen: set[tuple[str, int | None, str]] = set()
    for rec in ctx.earlier_services(codes=frozenset({D9910})):
        key = (rec.claim_id, rec.line, rec.source)
        if rec.date == day and not rec.rejected and key not in seen:
            seen.add(key)
            same_day.append(_from_record(rec).describe().removeprefix("D9910 on "))
    if same_day:
        yield Hit(
            f"D9910 on line {line.number} is another D9910 for this patient on {day.isoformat()} "
            f"(also on {', '.join(same_day)}): D9910 is billed once per visit",
            line=line,
        )


# -- recall pattern (whole batch) -------------------------------------------------------------


_RECALL_OR_D9911 = DATA.recall_codes | {D9911}


class _RecallPattern:
    """Per visit (patient and date): a recall code seen, and the first claim with D9911.

    Visits are as many as claims: kept in a SpillMap (on disk past its memory budget),
    each with only what finish() reads."""

    # engine.BatchCheck: the share of recall visits is the file's
    split_by: ClassVar[str] = "summary"

    def __init__(self) -> None:
        # "patient|date" -> (recall code seen, (claim order, stub of the first D9911 claim))
        self.visits: SpillMap[tuple[bool, tuple[int, m.Claim] | None]] = SpillMap()
        self.recalls = 0
        self.claims = 0

    def summary(self) -> object:
        """What finish() reads of one part: the recall visits, the claims, the visits with
        both a recall code and D9911."""
        both = [(k, v) for k, v in self.visits.items() if v[0] and v[1] is not None]
        return (self.recalls, self.claims, both)

    def absorb(self, summaries: Sequence[Any]) -> None:
        """The parts' summaries, in file order, into this fresh state.

        Visits are keyed by patient, so no two parts share one; a claim's order number in
        a later part moves up by the claims of the parts before it."""
        offset = 0
        for recalls, claims, both in summaries:
            self.recalls += recalls
            for key, (recall, (order, claim)) in both:
                self.visits.put(key, (recall, (order + offset, claim)))
            offset += claims
        self.claims = offset

    def observe(self, claim: m.Claim, ctx: RuleContext) -> Iterable[Hit]:
        self.claims += 1
        if claim_codes(claim).isdisjoint(_RECALL_OR_D9911):
            return ()
        recall_codes = DATA.recall_codes
        stub: m.Claim | None = None
        for ln in claim.lines:
            code = ln.procedure
            if code != D9911 and code not in recall_codes:
                continue
            day = line_date(ln, claim)
            if day is None:
                continue
            key = f"{ctx.patient}|{day.isoformat()}"
            recall, first = self.visits.get(key) or (False, None)
            if code in recall_codes:
                if recall:
                    continue
                self.recalls += 1
                recall = True
            elif first is None:
                stub = stub or _stub_claim(claim)
                first = (self.claims, stub)
            else:
                continue
            self.visits.put(key, (recall, first))
        return ()

    def finish(self, ctx: RuleContext) -> Iterator[Hit]:
        visits = self.recalls
        if visits < DATA.recall_min_visits:
            return
        both = 0
        first: tuple[int, m.Claim] | None = None
        for recall, d9911 in self.visits.values():
            if recall and d9911 is not None:
                both += 1
                if first is None or d9911[0] < first[0]:
                    first = d9911
        if first is None or both / visits <= DATA.recall_max_share:
            return
        claim = first[1]
        yield Hit(
            f"D9911 is billed at {both} of the {visits} recall visits in this batch "
            f"({both / visits:.0%}; the first is this claim): D9911 on most recall patients "
            "is an audit flag for payers and Medicaid plans unless each patient's chart documents "
            "symptoms and exposed dentin",
            claim=claim,
            where=claim.where,
        )


@batch_rule(
    "desensitizing.d9911-recall-pattern",
    snip=6,
    severity="warning",
    summary="D9911 rides along with most recall visits of the batch",
    fix="Bill D9911 only for patients with documented sensitivity and exposed dentin.",
)
def d9911_recall_pattern() -> BatchCheck:
    """D9911 on nearly every recall patient is a pattern payers audit.

    Desensitizing resin treats a symptom (sensitive teeth with exposed dentin) in the
    patients who have it. When it shows up with most periodic exams and prophylaxis
    visits (D0120, D1110) of a batch, carriers and Medicaid managed-care plans read it
    as routine add-on billing and audit the office; without per-patient symptom and
    exposure documentation the payments are recouped.

    Triggers: a batch with at least 5 recall visits (one patient on one date) where more
    than half also carry D9911; the thresholds are in `rules/desensitizing.toml`. The
    finding is placed on the first claim where D9911 accompanies a recall visit.

    Review the practice's fee-slip or software set-up (D9911 attached to the recall
    template?) and bill D9911 only where the chart documents the sensitivity, the exposed
    dentin and the resin applied.
    """
    return _RecallPattern()
