"""The rule engine: one registry for built-in and plugin rules, and the runner that applies them.

A rule is a small function plus the facts a user looks up (`x12dental explain`):
a stable dotted id, its SNIP type, a default severity, a one-line summary, the
explanation (the function's docstring, so code and documentation cannot drift)
and how to fix the claim. Line rules are indexed by procedure code, so a claim
costs only the rules that apply to its codes. Severities are configuration:
rule packs re-grade or silence any rule, structural ones included.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Literal, Protocol

import attrs

from x12dental import buildinfo
from x12dental import model as m
from x12dental.findings import Finding, Location, Severity
from x12dental.ruledata import RuleDataError
from x12dental.spool import SpillMap

Scope = Literal["line", "claim", "batch"]
SCOPES: tuple[Scope, ...] = ("line", "claim", "batch")


@attrs.frozen(slots=True)
class Hit:
    """What a rule found: the engine turns it into a Finding with the rule's id and severity."""

    message: str
    where: m.Where | None = None
    line: m.ServiceLine | None = None
    tooth: str | None = None
    element: str | None = None
    hint: str | None = None
    claim: m.Claim | None = None


Prefilter = Callable[[str, "Settings"], bool]
LineCheck = Callable[[m.ServiceLine, m.Claim, "RuleContext"], Iterable[Hit]]
ClaimCheck = Callable[[m.Claim, "RuleContext"], Iterable[Hit]]


class BatchCheck(Protocol):
    """State for one run: sees every claim, may report on any, and once more at the end.

    A file split across workers (x12dental.split) runs one state per part. A state class
    says how parts combine with a class attribute `split_by` (none: the file is checked
    in one process):
    - "patient": what it finds depends only on each patient's claims, in order; with no
      patient in two parts, the file's end-of-run findings are the parts' one after the
      other;
    - "summary": it counts over the whole file; each part's state gives `summary()` (a
      picklable value) and a fresh state takes them all with `absorb(summaries)`, then
      finishes once.
    """

    def observe(self, claim: m.Claim, ctx: RuleContext) -> Iterable[Hit]: ...

    def finish(self, ctx: RuleContext) -> Iterable[Hit]: ...


@attrs.frozen(slots=True)
class Rule:
    id: str
    snip: int
    severity: Severity
    summary: str
    explanation: str
    fix: str
    scope: Scope
    check: Any
    codes: frozenset[str] | None = None
    origin: str = "x12dental"
    # Line rules: a cheap, necessary condition on the procedure code and the run's settings
    # (False = the rule can say nothing about a line with this code), asked once per code
    # and run; None = always run.
    prefilter: Prefilter | None = None
    # Line rules: a ServiceLine field (e.g. "teeth") the rule has nothing to say without; a
    # line where it is empty skips the rule. None = no such field.
    needs: str | None = None

    def explain(self) -> str:
        codes = compress_codes(self.codes) if self.codes else ""
        lines = [
            f"{self.id}",
            f"  SNIP type {self.snip}; default severity {self.severity.value}; "
            f"scope {self.scope}; from {self.origin}",
        ]
        if codes:
            lines.append(f"  applies to: {codes}")
        lines += ["", self.summary, "", self.explanation.strip(), "", f"How to fix: {self.fix}"]
        return "\n".join(lines) + "\n"


def compress_codes(codes: Iterable[str]) -> str:
    """D6010, D6011, D6012, D6020 -> 'D6010-D6012, D6020': readable in `explain`."""
    nums = sorted(int(c[1:]) for c in codes if len(c) == 5 and c[1:].isdigit())
    others = sorted(c for c in codes if not (len(c) == 5 and c[1:].isdigit()))
    parts: list[str] = []
    start = prev = None
    for n in nums:
        if prev is not None and n == prev + 1:
            prev = n
            continue
        if start is not None and prev is not None:
            parts.append(f"D{start:04d}" if start == prev else f"D{start:04d}-D{prev:04d}")
        start = prev = n
    if start is not None and prev is not None:
        parts.append(f"D{start:04d}" if start == prev else f"D{start:04d}-D{prev:04d}")
    return ", ".join(parts + others)


class StoreError(Exception):
    """A store the rules read (the claim history) cannot answer: the run stops with its
    message (exit 2) instead of every rule that asked reporting a crash."""


class RuleError(Exception):
    """A rule definition is wrong (duplicate id, bad SNIP type...): a programming error."""


class Registry:
    """Every rule by id; line rules also by procedure code."""

    def __init__(self) -> None:
        self._rules: dict[str, Rule] = {}
        self._by_code: dict[str, list[Rule]] | None = None

    def add(self, rule: Rule) -> Rule:
        if rule.id in self._rules:
            raise RuleError(f"rule id {rule.id!r} is registered twice")
        if not 1 <= rule.snip <= 7:
            raise RuleError(f"rule {rule.id!r}: SNIP type must be 1-7, not {rule.snip}")
        if rule.needs is not None and (
            rule.scope != "line" or rule.needs not in attrs.fields_dict(m.ServiceLine)
        ):
            raise RuleError(f"rule {rule.id!r}: needs={rule.needs!r} is not a service line field")
        self._rules[rule.id] = rule
        self._by_code = None
        return rule

    def __iter__(self) -> Iterator[Rule]:
        return iter(sorted(self._rules.values(), key=lambda r: r.id))

    def __len__(self) -> int:
        return len(self._rules)

    def get(self, rule_id: str) -> Rule | None:
        return self._rules.get(rule_id)

    def of_scope(self, scope: Scope) -> list[Rule]:
        return [r for r in self if r.scope == scope]

    def line_rules_for(self, code: str) -> list[Rule]:
        if self._by_code is None:
            index: dict[str, list[Rule]] = {"*": []}
            for rule in self.of_scope("line"):
                for key in rule.codes if rule.codes is not None else ("*",):
                    index.setdefault(key, []).append(rule)
            self._by_code = index
        return self._by_code.get(code, []) + self._by_code["*"]


REGISTRY = Registry()


def _doc(fn: Any) -> str:
    doc = inspect.getdoc(fn) or buildinfo.compiled_docstring(fn)
    if doc:
        return doc
    name = getattr(fn, "__name__", fn)
    if buildinfo.compiled_module_of(fn) is not None:
        # mypyc kept no docstring, and the build's table of them has none: a broken wheel
        raise RuleError(
            f"rule function {name!r}: this compiled build lacks its docstring table "
            f"({buildinfo.DOCSTRINGS}); reinstall x12dental"
        )
    raise RuleError(f"rule function {name!r} needs a docstring")


def _decorator(
    scope: Scope,
    id: str,
    *,
    snip: int,
    severity: str,
    summary: str,
    fix: str,
    codes: Iterable[str] | None,
    registry: Registry | None,
    origin: str,
    prefilter: Prefilter | None = None,
    needs: str | None = None,
) -> Callable[[Any], Any]:
    def wrap(fn: Any) -> Any:
        (registry if registry is not None else REGISTRY).add(
            Rule(
                id=id,
                snip=snip,
                severity=Severity(severity),
                summary=summary,
                explanation=_doc(fn),
                fix=fix,
                scope=scope,
                check=fn,
                codes=frozenset(codes) if codes is not None else None,
                origin=origin,
                prefilter=prefilter,
                needs=needs,
            )
        )
        return fn

    return wrap


def line_rule(
    id: str,
    *,
    snip: int,
    severity: str,
    summary: str,
    fix: str,
    codes: Iterable[str] | None = None,
    registry: Registry | None = None,
    origin: str = "x12dental",
    prefilter: Prefilter | None = None,
    needs: str | None = None,
) -> Callable[[LineCheck], LineCheck]:
    """Register `fn(line, claim, ctx) -> Iterable[Hit]`, run for lines whose code is in `codes`.

    `prefilter(code, settings)`, when given, is a cheap necessary condition: lines whose
    code it rejects skip the rule (asked once per code and run: it must not depend on the
    line or the claim). `needs`, when given, names a ServiceLine field the rule can say
    nothing without: lines where it is empty (no teeth, no areas...) skip the rule.
    """
    return _decorator(
        "line",
        id,
        snip=snip,
        severity=severity,
        summary=summary,
        fix=fix,
        codes=codes,
        registry=registry,
        origin=origin,
        prefilter=prefilter,
        needs=needs,
    )


def claim_rule(
    id: str,
    *,
    snip: int,
    severity: str,
    summary: str,
    fix: str,
    registry: Registry | None = None,
    origin: str = "x12dental",
) -> Callable[[ClaimCheck], ClaimCheck]:
    """Register `fn(claim, ctx) -> Iterable[Hit]`, run once per claim."""
    return _decorator(
        "claim",
        id,
        snip=snip,
        severity=severity,
        summary=summary,
        fix=fix,
        codes=None,
        registry=registry,
        origin=origin,
    )


def batch_rule(
    id: str,
    *,
    snip: int,
    severity: str,
    summary: str,
    fix: str,
    registry: Registry | None = None,
    origin: str = "x12dental",
) -> Callable[[Callable[[], BatchCheck]], Callable[[], BatchCheck]]:
    """Register a factory of BatchCheck objects: one fresh state per run (file or batch)."""
    return _decorator(
        "batch",
        id,
        snip=snip,
        severity=severity,
        summary=summary,
        fix=fix,
        codes=None,
        registry=registry,
        origin=origin,
    )


# -- services: the shape batch and history share ----------------------------------------


@attrs.frozen(slots=True)
class ServiceRecord:
    """One procedure on one tooth (or none) for one patient: what cross-claim rules compare."""

    patient: str
    code: str
    tooth: str | None
    surfaces: tuple[str, ...]
    date: dt.date | None
    claim_id: str
    line: int | None
    source: str = "batch"  # "batch" (this run) or "history" (an earlier batch)
    rejected: bool = False

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickled as a plain tuple (a batch index past its memory budget is on disk): several
        times quicker than attrs' generic slotted-class state."""
        return (
            ServiceRecord,
            (
                self.patient,
                self.code,
                self.tooth,
                self.surfaces,
                self.date,
                self.claim_id,
                self.line,
                self.source,
                self.rejected,
            ),
        )


class History(Protocol):
    """Claims of earlier batches. The SQLite store implements it; NullHistory knows nothing."""

    def services(
        self,
        patient: str,
        *,
        codes: frozenset[str] | None = None,
        tooth: str | None = None,
        exclude_claim: str | None = None,
    ) -> Iterable[ServiceRecord]: ...

    def claim_seen(self, content_hash: str, since: dt.date) -> bool: ...


class NullHistory:
    """No store: every cross-batch question answers 'nothing known'."""

    def services(
        self,
        patient: str,
        *,
        codes: frozenset[str] | None = None,
        tooth: str | None = None,
        exclude_claim: str | None = None,
    ) -> Iterable[ServiceRecord]:
        return ()

    def claim_seen(self, content_hash: str, since: dt.date) -> bool:
        return False


# line_date is asked for the same line by many rules: the answers for the claim in hand.
# Keyed by id(line); each entry keeps the line and claim themselves, so a reused id can
# never answer for another object.
_LINE_DATES: dict[int, tuple[m.ServiceLine, m.Claim, dt.date | None]] = {}


def line_date(line: m.ServiceLine, claim: m.Claim) -> dt.date | None:
    """A line's date of service: its own DTP*472, else the claim's (start of an RD8 range)."""
    hit = _LINE_DATES.get(id(line))
    if hit is not None and hit[0] is line and hit[1] is claim:
        return hit[2]
    day: dt.date | None = None
    for d in line.dates:
        if d.qualifier == "472":
            day = d.start
            break
    if day is None:
        claim_date = claim.date("472")
        day = claim_date.start if claim_date is not None else None
    if len(_LINE_DATES) > 4096:
        _LINE_DATES.clear()
    _LINE_DATES[id(line)] = (line, claim, day)
    return day


# The claim last asked about and its procedure codes: several batch states ask per claim.
# The claim itself is held, so its identity cannot be reused for another object.
_CODES: list[Any] = [None, frozenset()]


def claim_codes(claim: m.Claim) -> frozenset[str]:
    """The procedure codes of a claim's lines: lets a rule see at once that it has nothing
    to do with a claim."""
    held = _CODES
    if held[0] is claim:
        codes: frozenset[str] = held[1]
        return codes
    codes = frozenset([line.procedure for line in claim.lines])
    held[0], held[1] = claim, codes
    return codes


def line_teeth(line: m.ServiceLine) -> tuple[str, ...]:
    return tuple(t.number for t in line.teeth if t.number)


def patient_key(claim: m.Claim) -> str:
    """One patient across claims: payer, member id, patient name and birth date, hashed.

    Hashed so the key can be kept (history) without keeping who the patient is.
    """
    sub = claim.subscriber
    pat = claim.patient
    payer = claim.payer.party.id if claim.payer else ""
    member = sub.party.id if sub and sub.party else ""
    person = pat.party if pat and pat.party else (sub.party if sub else None)
    birth = pat.birth_date if pat else (sub.birth_date if sub else None)
    last = person.last_or_org if person else ""
    first = person.first if person else ""
    raw = birth.raw if birth else ""
    # Upper-cased once for the joined text: str.upper maps character by character, so this
    # is the same key as upper-casing each part (and '|' has no case).
    text = "|".join((payer.strip(), member.strip(), last.strip(), first.strip(), raw.strip()))
    return hashlib.sha256(text.upper().encode()).hexdigest()[:32]


def services_of(claim: m.Claim, patient: str) -> Iterator[ServiceRecord]:
    for line in claim.lines:
        day = line_date(line, claim)
        teeth = line.teeth or ()
        if not teeth:
            yield ServiceRecord(
                patient, line.procedure, None, (), day, claim.claim_id, line.line_number
            )
        for tooth in teeth:
            yield ServiceRecord(
                patient,
                line.procedure,
                tooth.number or None,
                tooth.surfaces,
                day,
                claim.claim_id,
                line.line_number,
            )


# A service as the batch index keeps it (the patient is the index's key): a plain tuple,
# so a claim costs a few tuples, not attrs objects, and spilled patients pickle small.
# (code, tooth, surfaces, date, claim id, LX01 as sent: made a number when asked for)
_Service = tuple[str, str | None, tuple[str, ...], dt.date | None, str, str]


class BatchIndex:
    """Services of the claims already seen in this run, per patient (for cross-claim rules).

    Kept in a SpillMap: in memory for a usual batch, in a private temporary SQLite file
    past MEMORY_KEYS patients, so a huge file does not hold every service in memory. The
    patient in hand is cached: one read per claim however many rules ask. Every claim is
    added but few are asked about, so ServiceRecords are made only for what `services`
    gives out.
    """

    def __init__(self, memory: int | None = None) -> None:
        self._by_patient: SpillMap[list[_Service]] = SpillMap(memory)
        self._patient: str | None = None
        self._records: list[_Service] = []

    def _of(self, patient: str) -> list[_Service]:
        if patient != self._patient:
            self._records = self._by_patient.get(patient) or []
            self._patient = patient
        return self._records

    def add(self, claim: m.Claim, patient: str) -> None:
        # The patient's list grows in place and is put back: every rule call of the claim
        # is over (no `services` iteration is pending) when the runner adds it.
        records = self._of(patient)
        append = records.append
        claim_id = claim.claim_id
        for line in claim.lines:
            day = line_date(line, claim)
            code = line.procedure
            number = line.number
            teeth = line.teeth
            if not teeth:
                append((code, None, (), day, claim_id, number))
            for tooth in teeth:
                append((code, tooth.number or None, tooth.surfaces, day, claim_id, number))
        self._by_patient.put(patient, records)

    def services(
        self,
        patient: str,
        *,
        codes: frozenset[str] | None = None,
        tooth: str | None = None,
    ) -> Iterator[ServiceRecord]:
        for code, number, surfaces, day, claim_id, line in self._of(patient):
            if codes is not None and code not in codes:
                continue
            if tooth is not None and number != tooth:
                continue
            # as ServiceLine.line_number
            at = int(line) if line.isdigit() else None
            yield ServiceRecord(patient, code, number, surfaces, day, claim_id, at)

    def close(self) -> None:
        self._by_patient.close()
        self._patient = None
        self._records = []


# -- settings (from rule packs) ----------------------------------------------------------


def _no_severities() -> Mapping[str, Severity | None]:
    return {}


def _no_params() -> Mapping[str, Any]:
    return {}


@attrs.frozen
class Settings:
    """What the rule packs say: severity per rule id (None = off) and pack parameters."""

    # Made by functions typed as Mapping: in the compiled build (mypyc) a class-body
    # `attrs.field(factory=dict)` is a dict-typed class attribute, and attrs' field
    # marker is not a dict.
    severities: Mapping[str, Severity | None] = attrs.field(factory=_no_severities)
    params: Mapping[str, Any] = attrs.field(factory=_no_params)
    packs: tuple[str, ...] = ()

    def severity_for(self, rule_id: str, default: Severity) -> Severity | None:
        return self.severities.get(rule_id, default)

    def apply(self, finding: Finding) -> Finding | None:
        """Re-grade (or drop) any finding, structural ones included, as the packs say."""
        if finding.rule not in self.severities:
            return finding
        severity = self.severities[finding.rule]
        if severity is None:
            return None
        return attrs.evolve(finding, severity=severity)

    def param(self, key: str, default: Any = None) -> Any:
        return self.params.get(key, default)


@attrs.define
class RuleContext:
    """What a rule may consult besides the claim: settings, this batch, history, today."""

    settings: Settings
    batch: BatchIndex
    history: History
    today: dt.date
    patient: str = ""
    claim: m.Claim | None = None  # the claim being checked

    def earlier_services(
        self, *, codes: frozenset[str] | None = None, tooth: str | None = None
    ) -> Iterator[ServiceRecord]:
        """This patient's services from earlier claims of the batch, then from history.

        A replacement (CLM05-3 = 7) or void (8) is not an earlier service of itself: the
        earlier versions of its CLM01 are left out."""
        claim = self.claim
        exclude = claim.claim_id if claim is not None and claim.frequency in ("7", "8") else None
        for rec in self.batch.services(self.patient, codes=codes, tooth=tooth):
            if exclude is None or rec.claim_id != exclude:
                yield rec
        if exclude is None:
            yield from self.history.services(self.patient, codes=codes, tooth=tooth)
        else:
            yield from self.history.services(
                self.patient, codes=codes, tooth=tooth, exclude_claim=exclude
            )


# What a rule that has nothing to say about a claim returns (the empty tuple, a singleton
# in CPython): the runner moves on without asking it for an iterator.
_NOTHING: tuple[()] = ()
# A prepared rule call: the rule, its check (or batch state's observe), the line field it
# needs (None: always called).
_Call = tuple["Rule", Callable[..., Iterable[Hit]], str | None]


class RuleRunner:
    """Apply the registry's rules to each claim of one run; collect findings."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        registry: Registry | None = None,
        history: History | None = None,
        today: dt.date | None = None,
    ) -> None:
        # `is not None`: an empty Registry is falsy (len 0) but is still the one asked for.
        self.registry = registry if registry is not None else default_registry()
        self.settings = settings or Settings()
        self.ctx = RuleContext(
            self.settings, BatchIndex(), history or NullHistory(), today or dt.date.today()
        )
        self._claim_rules = self._enabled(self.registry.of_scope("claim"))
        self._claim_calls: list[_Call] = [(rule, rule.check, None) for rule in self._claim_rules]
        self._batch = [(r, r.check()) for r in self._enabled(self.registry.of_scope("batch"))]
        self._observers: list[_Call] = [(rule, state.observe, None) for rule, state in self._batch]
        self._line_cache: dict[str, list[Rule]] = {}
        # code -> (rule, its check, the line field it needs)
        self._line_calls: dict[str, list[_Call]] = {}

    def _enabled(self, rules: list[Rule]) -> list[Rule]:
        return [r for r in rules if self.settings.severity_for(r.id, r.severity) is not None]

    def _line_rules(self, code: str) -> list[Rule]:
        rules = self._line_cache.get(code)
        if rules is None:
            rules = [
                r
                for r in self._enabled(self.registry.line_rules_for(code))
                if r.prefilter is None or r.prefilter(code, self.settings)
            ]
            self._line_cache[code] = rules
        return rules

    def check_claim(self, claim: m.Claim) -> list[Finding]:
        ctx = self.ctx
        _LINE_DATES.clear()
        ctx.patient = patient_key(claim)
        ctx.claim = claim
        out: list[Finding] = []
        # ~50 rule calls per claim, most finding nothing (the built-in rules then return
        # the empty tuple, skipped at once): the cost of each call was a good part of the
        # engine's, hence plain loops over prepared (rule, check, needs) lists. Same order
        # as ever: claim rules, line rules line by line, batch states.
        args = (claim, ctx)
        self._apply(out, claim, self._claim_calls, args, None)
        line_calls = self._line_calls
        for line in claim.lines:
            code = line.procedure
            calls = line_calls.get(code)
            if calls is None:
                calls = line_calls[code] = [(r, r.check, r.needs) for r in self._line_rules(code)]
            if calls:
                self._apply(out, claim, calls, (line, claim, ctx), line)
        self._apply(out, claim, self._observers, args, None)
        ctx.batch.add(claim, ctx.patient)
        return out

    def _apply(
        self,
        out: list[Finding],
        claim: m.Claim,
        calls: list[_Call],
        args: tuple[Any, ...],
        line: m.ServiceLine | None,
    ) -> None:
        """`_run` for a list of calls: hits in order, a crash becomes one warning, store
        errors stop the run; a line rule is skipped on a line without the field it needs."""
        finding = self._finding
        for rule, check, needs in calls:
            if needs is not None and not getattr(line, needs):
                continue  # (a rule with nothing to say about such a line)
            try:
                found = check(*args)
                if found is _NOTHING:
                    continue
                for hit in found:
                    out.append(finding(rule, claim, hit))
            except (RuleDataError, StoreError):
                raise
            except Exception as exc:
                out.append(self._crashed(rule, claim, exc))

    def finish(self) -> list[Finding]:
        out: list[Finding] = []
        for rule, state in self._batch:
            self._run(out, rule, None, state.finish, self.ctx)
        return out

    def _run(
        self,
        out: list[Finding],
        rule: Rule,
        claim: m.Claim | None,
        call: Callable[..., Iterable[Hit]],
        *args: Any,
    ) -> None:
        """Append the rule's findings to `out`; a crashing rule becomes one warning."""
        try:
            for hit in call(*args):
                out.append(self._finding(rule, claim, hit))
        except (RuleDataError, StoreError):
            raise  # configuration or the history store, not a claim problem: stop the run
        except Exception as exc:  # a broken rule (plugin) must not stop the run
            out.append(self._crashed(rule, claim, exc))

    def _crashed(self, rule: Rule, claim: m.Claim | None, exc: Exception) -> Finding:
        return Finding(
            rule="x12dental.rule-crashed",
            severity=Severity.WARNING,
            snip=rule.snip,
            message=(
                f"rule {rule.id} ({rule.origin}) failed with {type(exc).__name__} "
                "and was skipped for this claim; report this to the rule's author"
            ),
            claim_id=claim.claim_id if claim else None,
            location=_claim_location(claim, claim.where if claim else None),
        )

    def _finding(self, rule: Rule, claim: m.Claim | None, hit: Hit) -> Finding:
        severity = self.settings.severity_for(rule.id, rule.severity) or rule.severity
        claim = hit.claim or claim
        line = hit.line
        where = hit.where or (line.service_where or line.where if line else None)
        if where is None and claim is not None:
            where = claim.where
        tooth = hit.tooth
        if tooth is None and line is not None and len(line.teeth) == 1:
            tooth = line.teeth[0].number or None
        return Finding(
            rule=rule.id,
            severity=severity,
            snip=rule.snip,
            message=hit.message,
            hint=hit.hint or rule.fix,
            location=_claim_location(claim, where),
            element=hit.element,
            claim_id=claim.claim_id if claim else None,
            line=line.line_number if line else None,
            procedure=(line.procedure or None) if line else None,
            tooth=tooth,
        )


def _claim_location(claim: m.Claim | None, where: m.Where | None) -> Location:
    env = claim.envelope if claim else m.Envelope()
    return Location(
        segment_id=where.segment_id if where else None,
        segment_position=where.position if where else None,
        file_line=where.file_line if where else None,
        interchange_control=env.interchange_control,
        group_control=env.group_control,
        transaction_control=env.transaction_control,
    )


_LOADED = False


def default_registry() -> Registry:
    """The registry with every built-in rule and every installed plugin loaded (once)."""
    global _LOADED
    if not _LOADED:
        _LOADED = True
        import x12dental.checks  # (registers the built-in rules)
        from x12dental.plugins import load_plugins

        x12dental.checks.preflight()
        load_plugins(REGISTRY)
    return REGISTRY
