"""The 277CA (005010X214): one claim-level status per claim received, so a submitter's
system can post each claim as accepted or rejected, and see which rule rejected it.

Layout (one 277 per received 837 transaction set, because the TR3 gives each 277 one
information source (2000A) and one information receiver (2000B) whose 2200B TRN02 names
one claim batch; the 837 transaction set is that batch):

    ST*277 / BHT*0085*08*<ref>*<date>*<time>*TH
    2000A  HL*1**20*1   NM1*PR|AY (the 837's receiver)  TRN*1  DTP*050  DTP*009
    2000B  HL*2*1*21*1  NM1*41 (the 837's submitter)    TRN*2*<batch>  STC A1:19  QTY/AMT
    2000C  HL*n*2*19*1  NM1*85 (billing provider)       TRN*1*0  STC A1:19  QTY/AMT
    2000D  HL*n*c*PT    NM1*QC (patient, member id)
    2200D    TRN*2*<CLM01>  STC (A2:20, or A3/A6/A7/A8 with the rule in STC12)
             REF*1K (accepted)  REF*D9 (echo)  DTP*472
    2220D    SVC / STC / REF*FJ / DTP*472, only for service lines a rule rejected

Claims whose transaction set, group or interchange the 999/TA1 rejects are still listed,
rejected with A3:481 and the envelope rule in STC12, so that every claim received gets
exactly one answer. Everything (control numbers, BHT03, dates, REF*1K) is derived from
the input, never from a clock: the same input gives byte-identical output.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal, InvalidOperation

import attrs

from x12dental import model as m
from x12dental.ack_envelope import ReplyEnvelope, SegmentWriter, century_date, derived_control
from x12dental.findings import Finding, Severity
from x12dental.pipeline import ClaimResult, FileResult, LineItem, PartyName

KIND = "277CA"
VERSION = "005010X214"
ACCEPTED = "WQ"  # STC03: into the work queue
REJECTED = "U"  # STC03: returned / rejected


# --------------------------------------------------------------------------------------------
# Statuses: which STC composite tells the submitter what a rule found
# --------------------------------------------------------------------------------------------


@attrs.frozen(slots=True)
class Status:
    """One STC01/STC10/STC11 composite: category (507), claim status code (508), entity (98)."""

    category: str
    code: str
    entity: str = ""


def _s(category: str, code: str, entity: str = "") -> tuple[Status, ...]:
    return (Status(category, code, entity),)


# The claim status code names the data in error; the category says how: A6 missing,
# A7 invalid, A8 in conflict with another field (relational). Codes from external code
# source 508, e.g. 244 "Tooth number or letter", 240 "Tooth surface(s) involved",
# 245 "Dental quadrant/arch", 454 "Procedure code for services rendered", 476 "Missing or
# invalid units of service", 669 "Dental service narrative needed", 187 "Date(s) of service".
# Codes whose usage requires an entity carry the entity of the data (overridden from the
# finding when its message names the loop, e.g. a rendering provider's NPI).
RULE_STATUS: dict[str, tuple[Status, ...]] = {
    "balancing.claim-total": _s("A7", "400"),  # Claim is out of balance
    "balancing.cob-claim-balance": _s("A7", "672"),  # Other payer's payment out of balance
    "balancing.cob-payer-paid": _s("A7", "672"),
    "balancing.line-adjudication": _s("A7", "672"),
    "codes.area-invalid": _s("A7", "245"),
    "codes.area-tooth-quadrant": _s("A8", "245"),
    "codes.area-unusual": _s("A7", "245"),
    "codes.billing-zip-plus4": _s("A7", "500", "85"),  # Entity's Postal/Zip Code
    "codes.birth-date": _s("A7", "158", "QC"),  # Entity's date of birth
    "codes.cdt-code": _s("A7", "454"),
    "codes.npi-check-digit": _s("A7", "562", "85"),  # Entity's NPI
    "codes.state": _s("A7", "501", "85"),  # Entity's State/Province
    "codes.surface-duplicate": _s("A7", "240"),
    "codes.surface-tooth-mismatch": _s("A8", "240"),
    "codes.tooth-number": _s("A7", "244"),
    "codes.zip": _s("A7", "500", "85"),
    "desensitizing.d9910-per-tooth": _s("A7", "476"),
    "desensitizing.d9911-bundled-same-day": _s("A8", "454"),
    "desensitizing.d9911-no-etiology": _s("A6", "669"),
    "desensitizing.d9911-no-material": _s("A6", "669"),
    "desensitizing.d9911-no-surface": _s("A6", "240"),
    "desensitizing.d9911-no-tooth": _s("A6", "244"),
    "desensitizing.d9911-non-resin-material": _s("A7", "669"),
    "desensitizing.d9911-recall-pattern": _s("A8", "454"),
    "desensitizing.d9911-same-surface-as-restoration": _s("A8", "240"),
    "desensitizing.d9911-same-tooth-as-restoration": _s("A8", "244"),
    "desensitizing.d9911-units-teeth-mismatch": _s("A8", "476"),
    # 54 Duplicate of a previously processed claim/line; 736 A related or qualifying
    # service/claim has not been received/adjudicated (the D6010 placement).
    "history.duplicate-claim": _s("A3", "54"),
    "history.d6011-no-earlier-placement": _s("A8", "736"),
    "implant.d6011-narrative-other-tooth": _s("A8", "244"),
    "implant.d6011-no-placement-reference": _s("A6", "669"),
    "implant.d6011-no-prior-auth": _s("A6", "252", "PR"),  # prior authorization number
    "implant.d6011-no-radiograph": _s("A6", "318"),  # X-rays/radiology films
    "implant.d6011-no-tooth": _s("A6", "244"),
    "implant.d6011-single-stage": _s("A8", "454"),
    "implant.d6011-with-custom-abutment": _s("A8", "454"),
    "implant.placement-and-uncovering-same-day": _s("A8", "454"),
    "implant.primary-tooth": _s("A8", "244"),
    "implant.supernumerary-tooth": _s("A8", "244"),
    "implant.units-exceed-teeth": _s("A8", "476"),
    # 294 Supporting documentation needs a second code: 489 Attachment Control Number.
    "payer.attachment-required": (Status("A6", "294"), Status("A6", "489")),
    "payer.frequency-limit": _s("A7", "259"),  # Frequency of service
    "payer.non-covered": _s("A7", "454"),
    "payer.prior-auth-required": _s("A6", "252", "PR"),
    "payer.teeth-per-period": _s("A7", "259"),
    "payer.too-many-lines": _s("A7", "121"),  # line number greater than maximum for payer
    "payer.version-not-accepted": _s("A3", "493"),  # Version/Release/Industry ID not supported
    "procedure.age": _s("A8", "475"),  # Procedure code not valid for patient age
    "procedure.area-required": _s("A6", "245"),
    "procedure.by-report-narrative": _s("A6", "306"),  # Detailed description of service
    "procedure.dentition": _s("A8", "244"),
    "procedure.per-visit-units": _s("A7", "476"),
    "procedure.prosthesis-missing": _s("A6", "384"),  # initial placement or a replacement?
    "procedure.surface-count": _s("A8", "240"),
    "procedure.surface-required": _s("A6", "240"),
    "procedure.tooth-kind": _s("A8", "244"),
    "procedure.tooth-not-expected": _s("A7", "244"),
    "procedure.tooth-required": _s("A6", "244"),
    "situational.accident-without-date": _s("A6", "727"),  # Accident date
    "situational.diagnosis-pointer": _s("A7", "477"),  # Diagnosis code pointer
    # 510 Future date needs a second code naming the element: 187 Date(s) of service.
    "situational.future-service-date": (Status("A7", "510"), Status("A7", "187")),
    "situational.patient-loop": _s("A8", "156"),  # Patient relationship to subscriber
    "situational.predetermination-with-dates": _s("A8", "187"),
    "situational.prior-placement-not-before-service": _s("A8", "201"),  # prior placement date
    "situational.rd8-range": _s("A7", "187"),
    "situational.replacement-without-f8": _s("A6", "464"),  # Payer Assigned Claim Control No.
    "situational.replacement-without-prior-date": _s("A6", "201"),
    "situational.service-after-transaction": _s("A8", "187"),
    "situational.service-date-missing": _s("A6", "187"),
}

# 684: "Rejected. Syntax error noted for this claim... See Functional or Implementation
# Acknowledgement for details" -- a SNIP 1-2 error inside the claim, listed in the 999.
SYNTAX_IN_CLAIM = Status("A3", "684")
# 481: "Claim/submission format is invalid" -- the 999 (or TA1) rejected the claim's envelope.
ENVELOPE_REJECTED = Status("A3", "481")
ACCEPTED_STATUS = Status("A2", "20")  # Acceptance into adjudication / Accepted for processing
LINE_INFORMATION = "247"  # Line information
MISSING_OR_INVALID = "21"  # Missing or invalid information

# Loops as rule messages name them ("the rendering provider (2310B) NPI ...") -> entity (98).
_LOOP_ENTITY = {
    "2010AA": "85",
    "2010AB": "87",
    "2010BA": "IL",
    "2010BB": "PR",
    "2010CA": "QC",
    "2310A": "DN",
    "2310B": "82",
    "2310C": "77",
    "2330B": "PR",
    "2420A": "82",
    "2420C": "77",
}
_LOOP_IN_TEXT = re.compile(r"\((2010A[AB]|2010B[AB]|2010CA|2310[ABC]|2330B|2420[AC])\b")
_RELATIONAL_FAMILIES = ("procedure.", "implant.", "desensitizing.")


def statuses_for(finding: Finding, *, envelope_rejected: bool = True) -> tuple[Status, ...]:
    """The STC composites for a claim's error finding (1 or 2 of them).

    A syntax (SNIP 1-2) error is named by the acknowledgment that reports it: A3:481 when
    the 999 rejected the transaction set for it, A3:684 ("see the 999") when it did not.
    """
    if finding.snip <= 2 and (finding.rule.startswith("x12.") or finding.rule not in RULE_STATUS):
        return (ENVELOPE_REJECTED if envelope_rejected else SYNTAX_IN_CLAIM,)
    known = RULE_STATUS.get(finding.rule)
    if known is None:
        return _family_status(finding)
    match = _LOOP_IN_TEXT.search(finding.message)
    if match is None or not known[0].entity:
        return known
    return (attrs.evolve(known[0], entity=_LOOP_ENTITY[match.group(1)]), *known[1:])


def _family_status(finding: Finding) -> tuple[Status, ...]:
    """A rule we have no row for (a plugin's, a new one): category from its id, code 21."""
    rule = finding.rule
    if any(word in rule for word in ("-no-", ".no-", "missing", "required")):
        category = "A6"
    elif rule.startswith(_RELATIONAL_FAMILIES):
        category = "A8"
    else:
        category = "A7"
    if finding.line is not None:  # 21 needs a second code: 247 Line information
        return (Status(category, MISSING_OR_INVALID), Status(category, LINE_INFORMATION))
    return (Status(category, MISSING_OR_INVALID),)


# --------------------------------------------------------------------------------------------
# Verdicts: accepted or rejected, and why
# --------------------------------------------------------------------------------------------


@attrs.frozen(slots=True)
class Reason:
    """One rule that rejected a claim: the STC it becomes and the STC12 text naming it."""

    rule: str
    statuses: tuple[Status, ...]
    text: str


@attrs.frozen(slots=True)
class LineVerdict:
    """A service line a rule rejected: it gets its own 2220D with up to three statuses."""

    item: LineItem
    statuses: tuple[Status, ...]


@attrs.frozen(slots=True)
class ClaimVerdict:
    """What the 277CA says of one claim: accepted (no reasons) or rejected, and why."""

    claim: ClaimResult
    reasons: tuple[Reason, ...] = ()
    lines: tuple[LineVerdict, ...] = ()

    @property
    def accepted(self) -> bool:
        return not self.reasons


Scope = tuple[str | None, str | None, str | None]  # interchange, group, transaction control


def rejects_envelope(finding: Finding, include_snip_3_7: bool = False) -> bool:
    """Whether the 999 (or the TA1) rejects the envelope the finding sits in.

    The same policy as the 999 and TA1 writers: any error with an acknowledgment code or
    of SNIP 1-2 rejects its transaction set (IK5 R; we never accept "with errors"), its
    group (AK9) or its interchange (TA1 R); SNIP 3-7 errors too when a rule pack puts them
    in the 999. Every claim in a rejected envelope is rejected in the 277CA.
    """
    if finding.severity is not Severity.ERROR:
        return False
    return finding.ack is not None or finding.snip <= 2 or include_snip_3_7


def _scope(finding: Finding, claim_env: m.Envelope | None) -> Scope:
    """The envelope a finding rejects: transaction set, group, interchange or the file."""
    loc, ack = finding.location, finding.ack
    i, g, t = loc.interchange_control, loc.group_control, loc.transaction_control
    if t is None and ack is None and claim_env is not None:  # a rule finding placed by claim
        i, g, t = (
            claim_env.interchange_control,
            claim_env.group_control,
            claim_env.transaction_control,
        )
    if i is None:
        return (None, None, None)
    if g is None or (ack is not None and ack.level == "isa"):
        return (i, None, None)
    if t is None or (ack is not None and ack.level == "gs") or loc.segment_id in ("GS", "GE"):
        return (i, g, None)
    return (i, g, t)


def _claim_scopes(env: m.Envelope) -> tuple[Scope, ...]:
    i, g, t = env.interchange_control, env.group_control, env.transaction_control
    return ((None, None, None), (i, None, None), (i, g, None), (i, g, t))


def _scope_text(scope: Scope, rules: Sequence[str]) -> str:
    i, g, t = scope
    if t is not None:
        where = f"transaction set {t} rejected in the 999"
    elif g is not None:
        where = f"functional group {g} rejected in the 999"
    elif i is not None:
        where = f"interchange {i} rejected in the TA1"
    else:
        where = "interchange envelope rejected in the TA1"
    return f"{where} (x12dental rule{'s' if len(rules) > 1 else ''} {', '.join(rules)})"


def _claim_text(rule: str, lines: Sequence[str]) -> str:
    text = f"x12dental rule {rule}"
    if lines:
        text += f" (line {', '.join(lines)})" if len(lines) == 1 else f" (lines {', '.join(lines)})"
    return text


def claim_verdicts(
    result: FileResult, *, include_snip_3_7: bool = False
) -> tuple[ClaimVerdict, ...]:
    """Each claim of the file, in file order, with the reasons it is rejected (none: accepted).

    A claim is rejected by an error finding with its CLM01 in its own transaction set
    (warnings and infos never reject), and when the 999 or TA1 rejects its envelope: then
    it also names the rules behind that rejection that are not its own.
    """
    judge = _Judge(result, include_snip_3_7)
    return tuple(judge.verdict(claim) for claim in result.claim_results)


class _Judge:
    """What the findings say of each claim, read once from the findings; claims judged one
    at a time (a file's claims need not all be in memory at once)."""

    def __init__(self, result: FileResult, include_snip_3_7: bool) -> None:
        # The first envelope of each CLM01 that findings name (only those are asked for).
        named = {f.claim_id for f in result.findings if f.claim_id is not None}
        first_env: dict[str, m.Envelope] = {}
        if named:
            for c in result.claim_results:
                if c.claim_id in named:
                    first_env.setdefault(c.claim_id, c.envelope)
        # per rejected envelope: its rules, each with how many findings fired it
        by_scope: dict[Scope, dict[str, int]] = {}
        by_claim: dict[tuple[Scope, str], list[tuple[Finding, Scope | None]]] = {}
        for f in result.findings:
            claim_env = first_env.get(f.claim_id) if f.claim_id is not None else None
            scope = _scope(f, claim_env) if rejects_envelope(f, include_snip_3_7) else None
            if scope is not None:
                counts = by_scope.setdefault(scope, {})
                counts[f.rule] = counts.get(f.rule, 0) + 1
            if f.severity is Severity.ERROR and claim_env is not None and f.claim_id is not None:
                loc = f.location
                env = claim_env if loc.transaction_control is None else loc
                key = (env.interchange_control, env.group_control, env.transaction_control)
                by_claim.setdefault((key, f.claim_id), []).append((f, scope))
        self.by_scope = by_scope
        self.by_claim = by_claim

    def verdict(self, claim: ClaimResult) -> ClaimVerdict:
        by_scope = self.by_scope
        env = claim.envelope
        key = (env.interchange_control, env.group_control, env.transaction_control)
        own = self.by_claim.get((key, claim.claim_id), [])
        mine: dict[tuple[Scope, str], int] = {}
        for f, scope in own:
            if scope is not None:
                mine[(scope, f.rule)] = mine.get((scope, f.rule), 0) + 1
        scopes = [s for s in _claim_scopes(env) if s in by_scope]
        others = {s: [r for r, n in by_scope[s].items() if n > mine.get((s, r), 0)] for s in scopes}
        outer = next((s for s in scopes if others[s]), None)
        reasons: list[Reason] = []
        if outer is not None:  # one STC for the envelope, named at its outermost rejected level
            named = list(dict.fromkeys(r for s in scopes for r in others[s]))
            status = (
                RULE_STATUS["payer.version-not-accepted"]
                if "payer.version-not-accepted" in named
                else (ENVELOPE_REJECTED,)
            )
            reasons.append(Reason(named[0], status, _scope_text(outer, named)))
        findings = [f for f, _ in own]
        rejected = bool(scopes)
        reasons.extend(_claim_reasons(findings, rejected))
        return ClaimVerdict(claim, tuple(reasons), _line_verdicts(claim, findings, rejected))


def _claim_reasons(findings: Sequence[Finding], envelope_rejected: bool) -> list[Reason]:
    """One reason per rule, in the order the rules first fired, naming the lines it hit."""
    rules: dict[str, list[Finding]] = {}
    for f in findings:
        rules.setdefault(f.rule, []).append(f)
    reasons = []
    for rule, hits in rules.items():
        lines = sorted({str(f.line) for f in hits if f.line is not None}, key=_number_order)
        statuses = statuses_for(hits[0], envelope_rejected=envelope_rejected)
        reasons.append(Reason(rule, statuses, _claim_text(rule, lines)))
    return reasons


def _line_verdicts(
    claim: ClaimResult, findings: Sequence[Finding], envelope_rejected: bool
) -> tuple[LineVerdict, ...]:
    statuses: dict[str, list[Status]] = {}
    for f in findings:
        if f.line is not None:
            bucket = statuses.setdefault(str(f.line), [])
            for s in statuses_for(f, envelope_rejected=envelope_rejected):
                if s not in bucket:
                    bucket.append(s)
    return tuple(
        LineVerdict(item, tuple(statuses[item.number][:3]))
        for item in claim.lines
        if item.number in statuses and item.procedure
    )


def _number_order(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (1 << 30, value)


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _amount(value: str) -> Decimal | None:
    try:
        number = Decimal(value.strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _money(total: Decimal) -> str:
    """An X12 R value: no exponent, no needless trailing zeros."""
    if total == total.to_integral_value():
        return str(int(total))
    return format(total.normalize(), "f")


def _number(raw: str) -> str | None:
    """An amount or quantity echoed as sent when X12 reads it as R; normalised when only
    Python does ("1e2"); None when it is no number at all (already an error finding)."""
    text = raw.strip()
    if re.fullmatch(r"-?(\d+(\.\d+)?|\.\d+)", text):
        return text
    number = _amount(text)
    return _money(number) if number is not None else None


def _charge(raw: str) -> str:
    """CLM02/SV302 for STC04/SVC02, both required: 0 when the 837 sent no number."""
    return _number(raw) or "0"


def _valid_date(value: str | None) -> str | None:
    if value is None or not re.fullmatch(r"\d{8}", value):
        return None
    try:
        dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return None
    return value


def _valid_time(value: str | None) -> str | None:
    if value is None or not re.fullmatch(r"\d{4}(\d{2}(\d{1,2})?)?", value):
        return None
    return value if int(value[:2]) < 24 and int(value[2:4]) < 60 else None


@attrs.frozen
class _Text:
    """Cleans values echoed from the input: only X12 5010 extended characters, none of the
    output's delimiters, bounded length (a name the 999 flags must not break the 277CA)."""

    writer: SegmentWriter

    def __call__(self, value: str | None, limit: int, fallback: str = "") -> str:
        w = self.writer
        text = _NOT_X12.sub(" ", value or "")
        for ch in {w.element, w.component, w.repetition, w.terminator}:
            text = text.replace(ch, " ")
        text = " ".join(text.split())[:limit].strip()
        return text or fallback


# Characters outside the X12 5010 extended character set (what pyx12 checks AN against).
_NOT_X12 = re.compile(r"""[^A-Z0-9!"&'()*+,\-./:;?= a-z%~@\[\]_{}\\|<>^`#$]""")


def _composite(w: SegmentWriter, status: Status, secondary: bool = False) -> str:
    """STC01 (or STC10/STC11 when secondary).

    STC10-03/STC11-03 are checked against pyx12's external entity list, which lacks PR
    (STC01-03 has its own list, with PR): a secondary status names no payer entity.
    """
    entity = "" if secondary and status.entity == "PR" else status.entity
    return w.composite(status.category, status.code, entity)


def _header_party(tx: m.Transaction | None, name: str) -> m.Party | None:
    """The 837's 1000A submitter / 1000B receiver, when the model carries them.

    Read by name so the writer works before and after Transaction grows `submitter`,
    `receiver` and `reference` (the 837 BHT03); without them ISA06/ISA08 stand in.
    """
    value = getattr(tx, name, None)
    return value if isinstance(value, m.Party) else None


def _header_text(tx: m.Transaction | None, name: str) -> str:
    value = getattr(tx, name, None)
    return value if isinstance(value, str) else ""


@attrs.frozen
class _Batch:
    """The claims of one received 837 transaction set: one 277 answers it."""

    envelope: m.Envelope
    transaction: m.Transaction | None
    verdicts: tuple[ClaimVerdict, ...]


@attrs.frozen
class _Run:
    """The claims [start, stop) of the file's claim results that one 277 answers."""

    envelope: m.Envelope
    transaction: m.Transaction | None
    start: int
    stop: int


def _runs(result: FileResult) -> list[_Run]:
    """Claims split by transaction set, in file order (a new ST restarts positions at 1)."""
    bounds: list[tuple[m.Envelope, int, int]] = []
    prev: ClaimResult | None = None
    start = 0
    for i, claim in enumerate(result.claim_results):
        if (
            prev is not None
            and prev.envelope == claim.envelope
            and (claim.where.position or 0) > (prev.where.position or 0)
        ):
            prev = claim
            continue
        if prev is not None:
            bounds.append((prev.envelope, start, i))
        prev, start = claim, i
    if prev is not None:
        bounds.append((prev.envelope, start, len(result.claim_results)))
    transactions: dict[m.Envelope, list[m.Transaction]] = {}
    for tx in result.transaction_list:
        transactions.setdefault(tx.envelope, []).append(tx)
    seen: dict[m.Envelope, int] = {}
    out = []
    for env, first, stop in bounds:
        matching = transactions.get(env, [])
        index = seen.get(env, 0)
        seen[env] = index + 1
        found = matching[min(index, len(matching) - 1)] if matching else None
        out.append(_Run(env, found, first, stop))
    return out


def _placeholder_interchange(control: str | None) -> m.Interchange:
    return m.Interchange(
        control or "000000000", "ZZ", "UNKNOWN", "ZZ", "UNKNOWN", "", "", "00501", "0", "P",
        m.Where("ISA", None, None),
    )  # fmt: skip


def write_277ca(result: FileResult, *, include_snip_3_7: bool = False) -> str | None:
    """The 277CA answering a checked file; None when it holds no claim to answer.

    `include_snip_3_7` must be what the 999 was written with (a rule pack's
    `snip_3_7_in_999`): then a rule error rejects the claim's whole transaction set here too.
    """
    chunks = iter_277ca(result, include_snip_3_7=include_snip_3_7)
    return None if chunks is None else "".join(chunks)


def iter_277ca(result: FileResult, *, include_snip_3_7: bool = False) -> Iterator[str] | None:
    """write_277ca's text in pieces (a transaction set at a time), for writing to a file:
    a 200,000-claim file's 277CA need not be in memory at once. None: no 277CA is due."""
    if not result.claim_results:
        return None
    return _chunks(result, include_snip_3_7)


def _chunks(result: FileResult, include_snip_3_7: bool) -> Iterator[str]:
    judge = _Judge(result, include_snip_3_7)
    interchanges: dict[str | None, dict[str | None, list[_Run]]] = {}
    for run in _runs(result):
        env = run.envelope
        groups = interchanges.setdefault(env.interchange_control, {})
        groups.setdefault(env.group_control, []).append(run)
    inbound: dict[str | None, m.Interchange] = {}
    for i in result.interchange_list:
        inbound.setdefault(i.control, i)
    known: dict[tuple[str | None, str], m.FunctionalGroup] = {}
    for g in result.groups:
        known.setdefault((g.interchange_control, g.control), g)
    claims = result.claim_results

    def batch(run: _Run) -> _Batch:
        verdicts = tuple(judge.verdict(claims[i]) for i in range(run.start, run.stop))
        return _Batch(run.envelope, run.transaction, verdicts)

    for control, groups in interchanges.items():
        yield from _write_interchange(
            inbound.get(control) or _placeholder_interchange(control), groups, known, batch
        )


def _write_interchange(
    inbound: m.Interchange,
    groups: dict[str | None, list[_Run]],
    known: dict[tuple[str | None, str], m.FunctionalGroup],
    batch_of: Callable[[_Run], _Batch],
) -> Iterator[str]:
    envelope = ReplyEnvelope(KIND, inbound)
    w = SegmentWriter.like(inbound)
    clean = _Text(w)
    envelope.isa(w)
    for group_control, runs in groups.items():
        group = known.get((inbound.control, group_control or ""))
        day = (
            _valid_date(group.date if group else None)
            or _valid_date(century_date(inbound.date))
            or "20000101"
        )
        clock = _valid_time(group.time if group else None) or _valid_time(inbound.time) or "0000"
        gs_control = envelope.group_control(group_control or "")
        w.seg(
            "GS",
            "HN",
            clean(group.receiver if group else "", 15) or clean(inbound.receiver, 15, "UNKNOWN"),
            clean(group.sender if group else "", 15) or clean(inbound.sender, 15, "UNKNOWN"),
            day,
            clock,
            gs_control,
            "X",
            VERSION,
        )
        for number, run in enumerate(runs, 1):
            _Transaction277(w, clean, inbound, batch_of(run), f"{number:04d}", day, clock).write()
            yield w.text()  # a transaction set at a time (no segment count spans two)
            w.segments.clear()
        w.seg("GE", str(len(runs)), gs_control)
    envelope.iea(w, len(groups))
    yield w.text()


@attrs.define
class _Totals:
    accepted: int = 0
    rejected: int = 0
    accepted_amount: Decimal = Decimal(0)
    rejected_amount: Decimal = Decimal(0)

    def add(self, verdict: ClaimVerdict) -> None:
        amount = _amount(verdict.claim.total_charge) or Decimal(0)
        if verdict.accepted:
            self.accepted += 1
            self.accepted_amount += amount
        else:
            self.rejected += 1
            self.rejected_amount += amount

    @classmethod
    def of(cls, verdicts: Iterable[ClaimVerdict]) -> _Totals:
        totals = cls()
        for v in verdicts:
            totals.add(v)
        return totals

    @property
    def action(self) -> str:
        return ACCEPTED if self.accepted else REJECTED

    @property
    def total(self) -> str:
        return _money(self.accepted_amount + self.rejected_amount)


def _party_key(party: PartyName | None) -> tuple[str, str, str, str]:
    if party is None:
        return ("", "", "", "")
    return (party.last_or_org, party.first, party.id_qualifier, party.id)


def _patient(claim: ClaimResult) -> tuple[str, str, str, str]:
    """(last, first, NM108, NM109): the patient's name; the subscriber's member id.

    A dependent has no member id of its own in the 837D (2010CA has no NM109), so the
    TR3's patient identifier is the subscriber's, as on the ID card.
    """
    person = claim.patient or claim.subscriber
    last, first = (person.last_or_org, person.first) if person else ("", "")
    holder = claim.patient if claim.patient is not None and claim.patient.id else claim.subscriber
    qualifier, ident = (holder.id_qualifier, holder.id) if holder else ("", "")
    return (last, first, qualifier if qualifier in ("MI", "II") else "MI", ident)


@attrs.define
class _Transaction277:
    """Writes one 277 (ST..SE) for one received 837 transaction set."""

    w: SegmentWriter
    clean: _Text
    inbound: m.Interchange
    batch: _Batch
    control: str
    day: str
    clock: str
    hl: int = 0

    def write(self) -> None:
        w, env = self.w, self.batch.envelope
        ids = (self.inbound.control, env.group_control or "", env.transaction_control or "")
        mark = w.mark()
        w.seg("ST", "277", self.control, VERSION)
        w.seg("BHT", "0085", "08", derived_control(KIND, "BHT", *ids), self.day, self.clock, "TH")
        source_entity = self._source(derived_control(KIND, "TRN", *ids, digits=12))
        self._receiver(source_entity)
        providers: dict[tuple[str, str, str, str], list[ClaimVerdict]] = {}
        for v in self.batch.verdicts:
            providers.setdefault(_party_key(v.claim.billing_provider), []).append(v)
        for verdicts in providers.values():
            self._provider(verdicts, source_entity)
        w.seg("SE", str(w.count_since(mark)), self.control)

    def _next_hl(self) -> str:
        self.hl += 1
        return str(self.hl)

    def _source(self, trace: str) -> str:
        """2000A: the 837's receiver (1000B), as payer (PR) when it is the claims' payer."""
        w, clean, tx = self.w, self.clean, self.batch.transaction
        receiver = _header_party(tx, "receiver")
        ident = clean(receiver.id if receiver else self.inbound.receiver, 80)
        payers = {v.claim.payer.id: v.claim.payer for v in self.batch.verdicts if v.claim.payer}
        payer = payers.get(ident) if ident else None
        name = receiver.last_or_org if receiver else (payer.last_or_org if payer else ident)
        entity, qualifier = ("PR", "PI") if payer is not None else ("AY", "46")
        w.seg("HL", self._next_hl(), "", "20", "1")
        w.seg(
            "NM1", entity, "2", clean(name, 60, "UNKNOWN"), "", "", "", "",
            qualifier, ident or "UNKNOWN",
        )  # fmt: skip
        w.seg("TRN", "1", trace)
        w.seg("DTP", "050", "D8", self.day)
        w.seg("DTP", "009", "D8", self.day)
        return entity

    def _receiver(self, source_entity: str) -> None:
        """2000B: the 837's submitter (1000A), and the batch's totals."""
        w, clean, tx = self.w, self.clean, self.batch.transaction
        submitter = _header_party(tx, "submitter")
        if submitter is not None:
            person = submitter.entity_type == "1"
            name = clean(submitter.last_or_org, 60, "UNKNOWN")
            first = clean(submitter.first, 35) if person else ""
            ident = clean(submitter.id, 80, "UNKNOWN")
        else:
            person, first = False, ""
            name = ident = clean(self.inbound.sender, 60, "UNKNOWN")
        w.seg("HL", self._next_hl(), "1", "21", "1")
        w.seg("NM1", "41", "1" if person else "2", name, first, "", "", "", "46", ident)
        batch_id = _header_text(tx, "reference") or (self.batch.envelope.transaction_control or "")
        w.seg("TRN", "2", clean(batch_id, 50, "0"))
        totals = _Totals.of(self.batch.verdicts)
        received = Status("A1", "19", source_entity)  # Entity acknowledges receipt
        w.seg("STC", _composite(w, received), self.day, totals.action, totals.total)
        self._counts(totals, ("90", "AA"))

    def _counts(self, totals: _Totals, qualifiers: tuple[str, str]) -> None:
        if totals.accepted:
            self.w.seg("QTY", qualifiers[0], str(totals.accepted))
        if totals.rejected:
            self.w.seg("QTY", qualifiers[1], str(totals.rejected))
        if totals.accepted:
            self.w.seg("AMT", "YU", _money(totals.accepted_amount))
        if totals.rejected:
            self.w.seg("AMT", "YY", _money(totals.rejected_amount))

    def _provider(self, verdicts: list[ClaimVerdict], source_entity: str) -> None:
        """2000C: one billing provider, its totals, and its patients' claims."""
        w, clean = self.w, self.clean
        provider = verdicts[0].claim.billing_provider
        parent = self._next_hl()
        w.seg("HL", parent, "2", "19", "1")
        last = provider.last_or_org if provider else ""
        first = provider.first if provider else ""
        kind = getattr(provider, "entity_type", "")  # NM102 once PartyName carries it
        person = kind == "1" if kind in ("1", "2") else bool(first)
        qualifier = provider.id_qualifier if provider else ""
        w.seg(
            "NM1", "85", "1" if person else "2", clean(last, 60, "UNKNOWN"),
            clean(first, 35) if person else "", "", "", "",
            qualifier if qualifier in ("XX", "FI", "SV") else "XX",
            clean(provider.id if provider else "", 80, "UNKNOWN"),
        )  # fmt: skip
        w.seg("TRN", "1", "0")  # no provider trace number of ours: the TR3's "0"
        totals = _Totals.of(verdicts)
        received = Status("A1", "19", source_entity)
        w.seg("STC", _composite(w, received), "", totals.action, totals.total)
        self._counts(totals, ("QA", "QC"))
        patients: dict[tuple[str, str, str, str], list[ClaimVerdict]] = {}
        for v in verdicts:
            patients.setdefault(_patient(v.claim), []).append(v)
        for (last_name, first_name, id_qualifier, member), claims in patients.items():
            w.seg("HL", self._next_hl(), parent, "PT")
            w.seg(
                "NM1", "QC", "1", clean(last_name, 60, "UNKNOWN"), clean(first_name, 35),
                "", "", "", id_qualifier, clean(member, 80, "UNKNOWN"),
            )  # fmt: skip
            for v in claims:
                self._claim(v)

    def _claim(self, v: ClaimVerdict) -> None:
        """2200D (and 2220D for rejected lines): the claim's status."""
        w, clean, claim = self.w, self.clean, v.claim
        w.seg("TRN", "2", clean(claim.claim_id, 50, "0"))
        charge = _charge(claim.total_charge)
        if v.accepted:
            w.seg("STC", _composite(w, ACCEPTED_STATUS), self.day, ACCEPTED, charge)
        for reason in v.reasons:
            w.seg(
                "STC",
                _composite(w, reason.statuses[0]),
                self.day,
                REJECTED,
                charge,
                "", "", "", "", "",
                *(_composite(w, s, secondary=True) for s in reason.statuses[1:3]),
                *([""] * (3 - len(reason.statuses[:3]))),
                clean(reason.text, 264),
            )  # fmt: skip
        if v.accepted:
            w.seg("REF", "1K", self._payer_claim_number(claim))
        if claim.trace:
            w.seg("REF", "D9", clean(claim.trace, 50, "0"))
        self._service_date(claim)
        for line in v.lines:
            self._line(line)

    def _payer_claim_number(self, claim: ClaimResult) -> str:
        env = claim.envelope
        return derived_control(
            KIND, "1K", self.inbound.control, env.group_control or "",
            env.transaction_control or "", str(claim.where.position), claim.claim_id, digits=14,
        )  # fmt: skip

    def _service_date(self, claim: ClaimResult) -> None:
        """DTP*472: the claim's dates of service; a predetermination has none, and the map
        requires the segment, so it carries the date the 837 was created (BHT04)."""
        start, end = _valid_date(claim.date_from), _valid_date(claim.date_to)
        if start is None:
            created = self.batch.transaction.creation_date if self.batch.transaction else None
            start = created.strftime("%Y%m%d") if created else self.day
        if end is not None and end != start:
            self.w.seg("DTP", "472", "RD8", f"{start}-{end}")
        else:
            self.w.seg("DTP", "472", "D8", start)

    def _line(self, line: LineVerdict) -> None:
        w, clean, item = self.w, self.clean, line.item
        units = _number(item.units) or ""
        w.seg(
            "SVC", w.composite("AD", clean(item.procedure, 48)), _charge(item.charge),
            "", "", "", "", units,
        )  # fmt: skip
        w.seg(
            "STC", _composite(w, line.statuses[0]), self.day, REJECTED,
            "", "", "", "", "", "",
            *(_composite(w, s, secondary=True) for s in line.statuses[1:3]),
        )  # fmt: skip
        if item.control:
            w.seg("REF", "FJ", clean(item.control, 50))
        day = _valid_date(item.date)
        if day:
            w.seg("DTP", "472", "D8", day)
