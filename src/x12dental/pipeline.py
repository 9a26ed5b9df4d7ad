"""Check one input end to end: bytes -> tokens -> (structure check, model) -> findings.

One pass over the file feeds each segment to the structural checker and the
model builder side by side; claims are handed to the claim checks as soon as
they are complete. Nothing here prints: results come back as a FileResult.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import attrs

from x12dental import model as m
from x12dental.engine import History, RuleRunner, Settings, line_date
from x12dental.faststructure import FastStructuralChecker
from x12dental.findings import Finding, Location, Severity
from x12dental.mapper import ModelBuilder
from x12dental.structure import ClaimContext
from x12dental.tokenizer import Tokenizer, UnreadableInput

STATUSES = ("accepted", "accepted_with_errors", "rejected", "unreadable")


@attrs.frozen(slots=True)
class LineItem:
    """A service line as the 277CA echoes it."""

    number: str
    procedure: str
    charge: str
    units: str
    control: str | None  # REF*6R line item control number
    date: str | None  # CCYYMMDD


@attrs.frozen(slots=True)
class PartyName:
    last_or_org: str
    first: str
    id_qualifier: str
    id: str
    entity_type: str = ""  # NM102: 1 person, 2 organization


def _name(party: m.Party | None) -> PartyName | None:
    if party is None:
        return None
    return PartyName(
        party.last_or_org, party.first, party.id_qualifier, party.id, party.entity_type
    )


@attrs.frozen(slots=True)
class ClaimResult:
    """What the acknowledgments (277CA) need of each claim after the run.

    Kept compact (no segments, no narratives) so a large batch stays small; names and
    ids are here because the 277CA must echo them to the submitter, never to a log.
    """

    claim_id: str
    envelope: m.Envelope
    where: m.Where
    total_charge: str
    service_lines: int
    date_from: str | None = None
    date_to: str | None = None
    billing_provider: PartyName | None = None
    subscriber: PartyName | None = None
    patient: PartyName | None = None
    payer: PartyName | None = None
    trace: str | None = None  # 2300 REF*D9, echoed in the 277CA
    frequency: str = ""
    predetermination: bool = False
    lines: tuple[LineItem, ...] = ()


def claim_result(claim: m.Claim) -> ClaimResult:
    days = [line_date(ln, claim) for ln in claim.lines]
    span = claim.date("472")
    if span is not None:
        days += [span.start, span.end]
    known = sorted(d for d in days if d is not None)
    items = tuple(
        LineItem(
            ln.number,
            ln.procedure,
            ln.charge_raw,
            ln.units_raw or "1",
            next((r.value for r in ln.references if r.qualifier == "6R"), None),
            (line_date(ln, claim) or known[0]).strftime("%Y%m%d") if known else None,
        )
        for ln in claim.lines
    )
    trace = next((r.value for r in claim.references if r.qualifier == "D9"), None)
    return ClaimResult(
        claim.claim_id,
        claim.envelope,
        claim.where,
        claim.total_charge_raw,
        len(claim.lines),
        known[0].strftime("%Y%m%d") if known else None,
        known[-1].strftime("%Y%m%d") if known else None,
        _name(claim.billing_provider.party if claim.billing_provider else None),
        _name(claim.subscriber.party if claim.subscriber else None),
        _name(claim.patient.party if claim.patient else None),
        _name(claim.payer.party if claim.payer else None),
        trace,
        claim.frequency,
        claim.predetermination,
        items,
    )


@attrs.frozen(slots=True)
class FileResult:
    """The verdict on one input: counts, findings in file order, and a status."""

    path: str
    status: str
    interchanges: int
    transactions: int
    claims: int
    service_lines: int
    findings: tuple[Finding, ...]
    claim_results: tuple[ClaimResult, ...] = ()
    interchange_list: tuple[m.Interchange, ...] = ()
    groups: tuple[m.FunctionalGroup, ...] = ()
    transaction_list: tuple[m.Transaction, ...] = ()

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity is severity)

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "status": self.status,
            "interchanges": self.interchanges,
            "transactions": self.transactions,
            "claims": self.claims,
            "service_lines": self.service_lines,
            "findings": [f.to_json() for f in self.findings],
        }


def _status(findings: Sequence[Finding]) -> str:
    """Rejected when the 999 would reject (SNIP 1-2 error); with errors when claims would be."""
    errors = [f for f in findings if f.severity is Severity.ERROR]
    if any(f.snip <= 2 for f in errors):
        return "rejected"
    if errors:
        return "accepted_with_errors"
    return "accepted"


def unreadable(path: str, message: str, file_line: int | None = None) -> FileResult:
    finding = Finding(
        rule="x12.input.unreadable",
        severity=Severity.ERROR,
        snip=1,
        message=message,
        hint="Check that this is the 837D file you meant to send, complete and as plain text.",
        location=Location(file_line=file_line),
    )
    return FileResult(path, "unreadable", 0, 0, 0, 0, (finding,))


@attrs.frozen
class Options:
    """How to check: rule-pack settings, the history store, and 'today' (fixed in tests)."""

    settings: Settings = attrs.field(factory=Settings)
    history: History | None = None
    today: dt.date | None = None
    rules: bool = True
    record: bool = True  # record each checked file into `history` when it can (begin_file)


def check_stream(stream: BinaryIO, path: str, options: Options | None = None) -> FileResult:
    """Validate one input stream; never raises for bad input."""
    options = options or Options()
    settings = options.settings
    runner = (
        RuleRunner(settings, history=options.history, today=options.today)
        if options.rules
        else None
    )
    raw: list[Finding] = []
    findings = raw
    begin_file = getattr(options.history, "begin_file", None)
    recorder = (
        begin_file(path, seen=options.today)
        if runner is not None and options.record and begin_file is not None
        else None
    )
    claims: list[ClaimResult] = []
    interchanges: list[m.Interchange] = []
    groups: list[m.FunctionalGroup] = []
    transactions: list[m.Transaction] = []

    def on_claim(claim: m.Claim) -> None:
        if not structure.checking:
            return  # a claim in a group we do not check (4010, 837P...): counted, not judged
        claims.append(claim_result(claim))
        if runner is not None:
            findings.extend(runner.check_claim(claim))
            if recorder is not None:
                recorder.add(claim, runner.ctx.patient)

    def on_transaction(tx: m.Transaction) -> None:
        transactions.append(tx)
        if tx.claims == 0 and tx.set_id == "837":
            findings.append(
                Finding(
                    rule="x12.transaction.no-claims",
                    severity=Severity.WARNING,
                    snip=2,
                    message=(
                        f"transaction set {tx.control} carries no claims (no CLM segment): "
                        "there is nothing for the payer to process"
                    ),
                    hint="Check that the practice software exported the claims of this batch.",
                    location=Location(
                        segment_id="ST",
                        segment_position=1,
                        file_line=tx.where.file_line,
                        interchange_control=tx.envelope.interchange_control,
                        group_control=tx.envelope.group_control,
                        transaction_control=tx.control,
                    ),
                )
            )

    builder = ModelBuilder(on_claim, on_transaction, groups.append, interchanges.append)

    def context() -> ClaimContext:
        return ClaimContext(builder.claim_id, builder.line_number, builder.procedure)

    structure = FastStructuralChecker(
        findings.append, context, tuple(settings.param("accepted_versions", ()))
    )

    def on_reading_problem(finding: Finding) -> None:
        """The tokenizer knows lines, not positions: place a cut-off segment in its transaction."""
        if finding.rule == "x12.envelope.truncated" and builder.position is not None:
            env = builder.envelope
            finding = attrs.evolve(
                finding,
                location=attrs.evolve(
                    finding.location,
                    segment_position=builder.position + 1,
                    interchange_control=env.interchange_control,
                    group_control=env.group_control,
                    transaction_control=env.transaction_control,
                ),
                claim_id=builder.claim_id,
            )
        findings.append(finding)

    tokenizer = Tokenizer(stream, on_reading_problem)
    try:
        for token in tokenizer:
            builder.feed(token)
            structure.feed(token)
    except UnreadableInput as exc:
        if not builder.interchanges:
            return unreadable(path, exc.message, exc.file_line)
        findings.append(
            Finding(
                rule="x12.input.unreadable",
                severity=Severity.ERROR,
                snip=1,
                message=exc.message,
                location=Location(file_line=exc.file_line),
            )
        )
    builder.finish()
    structure.finish()
    if not builder.interchanges:
        return unreadable(path, "no interchange could be read from the file")
    if runner is not None:
        findings.extend(runner.finish())
    if settings.severities:
        findings = [f for f in (settings.apply(f) for f in raw) if f is not None]
    if recorder is not None:
        recorder.commit(findings)  # one transaction: the whole file, with final statuses
    return FileResult(
        path=path,
        status=_status(findings),
        interchanges=builder.interchanges,
        transactions=builder.transactions,
        claims=builder.claims,
        service_lines=builder.service_lines,
        findings=tuple(findings),
        claim_results=tuple(claims),
        interchange_list=tuple(interchanges),
        groups=tuple(groups),
        transaction_list=tuple(transactions),
    )


def check_path(path: Path, options: Options | None = None, name: str | None = None) -> FileResult:
    """Validate a file on disk; a file that cannot be opened is reported, not raised."""
    shown = name or str(path)
    try:
        with path.open("rb") as fh:
            return check_stream(fh, shown, options)
    except FileNotFoundError:
        return unreadable(shown, "file not found")
    except IsADirectoryError:
        return unreadable(shown, "this is a directory, not a file")
    except PermissionError:
        return unreadable(shown, "permission denied: the file cannot be read")
    except OSError as exc:
        return unreadable(shown, f"the file cannot be read ({exc.strerror or exc})")


def check_bytes(data: bytes, name: str = "<bytes>", options: Options | None = None) -> FileResult:
    return check_stream(io.BytesIO(data), name, options)
