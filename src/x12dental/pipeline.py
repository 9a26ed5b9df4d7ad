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
from typing import Any, BinaryIO

import attrs

from x12dental import model as m
from x12dental.claimrecord import claim_record
from x12dental.engine import History, RuleRunner, Settings
from x12dental.faststructure import FastStructuralChecker
from x12dental.findings import ClaimContext, Finding, Location, Severity
from x12dental.mapper import ModelBuilder
from x12dental.spool import Decoded, Spool
from x12dental.tokenizer import Tokenizer, UnreadableInput
from x12dental.tokenloop import Part, feed_all

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

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickled as plain tuples: spooling 200,000 of these must cost little (attrs'
        generic slotted-class state is several times slower both ways)."""
        env, where = self.envelope, self.where
        return (
            _claim_result_from,
            (
                self.claim_id,
                (env.interchange_control, env.group_control, env.transaction_control),
                (where.segment_id, where.position, where.file_line),
                self.total_charge,
                self.service_lines,
                self.date_from,
                self.date_to,
                _party_tuple(self.billing_provider),
                _party_tuple(self.subscriber),
                _party_tuple(self.patient),
                _party_tuple(self.payer),
                self.trace,
                self.frequency,
                self.predetermination,
                tuple(
                    (i.number, i.procedure, i.charge, i.units, i.control, i.date)
                    for i in self.lines
                ),
            ),
        )


def _party_tuple(party: PartyName | None) -> tuple[str, ...] | None:
    if party is None:
        return None
    return (party.last_or_org, party.first, party.id_qualifier, party.id, party.entity_type)


def _claim_result_from(
    claim_id: str,
    env: tuple[str | None, str | None, str | None],
    where: tuple[str, int | None, int | None],
    total_charge: str,
    service_lines: int,
    date_from: str | None,
    date_to: str | None,
    billing_provider: tuple[str, ...] | None,
    subscriber: tuple[str, ...] | None,
    patient: tuple[str, ...] | None,
    payer: tuple[str, ...] | None,
    trace: str | None,
    frequency: str,
    predetermination: bool,
    lines: tuple[tuple[Any, ...], ...],
) -> ClaimResult:
    return ClaimResult(
        claim_id,
        m.Envelope(*env),
        m.Where(*where),
        total_charge,
        service_lines,
        date_from,
        date_to,
        PartyName(*billing_provider) if billing_provider is not None else None,
        PartyName(*subscriber) if subscriber is not None else None,
        PartyName(*patient) if patient is not None else None,
        PartyName(*payer) if payer is not None else None,
        trace,
        frequency,
        predetermination,
        tuple(LineItem(*i) for i in lines),
    )


def claim_result(claim: m.Claim) -> ClaimResult:
    """The 277CA's view of a claim."""
    return claim_result_of(claim_record(claim))


def claim_result_of(record: tuple[Any, ...]) -> ClaimResult:
    """The ClaimResult a claim_record() stands for."""
    return _claim_result_from(*record)


@attrs.frozen(slots=True)
class FileResult:
    """The verdict on one input: counts, findings in file order, and a status.

    `findings` and `claim_results` grow with the file: check_stream gives Spools (a bounded
    part in memory, the rest in a private temporary file), any sequence will do.
    """

    path: str
    status: str
    interchanges: int
    transactions: int
    claims: int
    service_lines: int
    findings: Sequence[Finding]
    claim_results: Sequence[ClaimResult] = ()
    interchange_list: tuple[m.Interchange, ...] = ()
    groups: tuple[m.FunctionalGroup, ...] = ()
    transaction_list: tuple[m.Transaction, ...] = ()

    def handover(self) -> FileResult:
        """Let the next pickle carry spool files by path (ownership moves to the receiver).

        For a process pool on this machine: the parent reads the worker's temporary files
        instead of receiving (and holding) every finding and claim result at once.
        """
        for seq in (self.findings, self.claim_results):
            if isinstance(seq, (Spool, Decoded)):
                seq.handover()
        return self

    def close(self) -> None:
        """Delete the temporary files now (they also go when the result is collected)."""
        for seq in (self.findings, self.claim_results):
            if isinstance(seq, (Spool, Decoded)):
                seq.close()

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity is severity)

    def json_fields(self) -> dict[str, object]:
        """The report's fields for this file except `findings` (which come last, streamed)."""
        return {
            "path": self.path,
            "status": self.status,
            "interchanges": self.interchanges,
            "transactions": self.transactions,
            "claims": self.claims,
            "service_lines": self.service_lines,
        }

    def to_json(self) -> dict[str, object]:
        out = self.json_fields()
        out["findings"] = [f.to_json() for f in self.findings]
        return out


def _status(findings: Sequence[Finding]) -> str:
    """Rejected when the 999 would reject (SNIP 1-2 error); with errors when claims would be."""
    errors = False
    for f in findings:
        if f.severity is Severity.ERROR:
            if f.snip <= 2:
                return "rejected"
            errors = True
    return "accepted_with_errors" if errors else "accepted"


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
    # Check only one part of the file (x12dental.split); None: the whole file.
    part: Part | None = None


def check_stream(stream: BinaryIO, path: str, options: Options | None = None) -> FileResult:
    """Validate one input stream; never raises for bad input."""
    options = options or Options()
    settings = options.settings
    runner = (
        RuleRunner(settings, history=options.history, today=options.today)
        if options.rules
        else None
    )
    part = options.part
    raw: Spool[Finding] = part.findings if part is not None else Spool()
    findings = raw
    begin_file = getattr(options.history, "begin_file", None)
    recorder = (
        begin_file(path, seen=options.today)
        if runner is not None and options.record and begin_file is not None
        else None
    )
    records: Spool[tuple[Any, ...]] = Spool()
    claims = Decoded(records, claim_result_of)
    interchanges: list[m.Interchange] = []
    groups: list[m.FunctionalGroup] = []
    transactions: list[m.Transaction] = []

    def on_claim(claim: m.Claim) -> None:
        if not structure.checking:
            return  # a claim in a group we do not check (4010, 837P...): counted, not judged
        if runner is not None:
            found = runner.check_claim(claim)
            if found:
                findings.extend(found)
            if recorder is not None:
                recorder.add(claim, runner.ctx.patient)
            if part is not None:
                part.claim_checked(runner.ctx.patient)
        records.append(claim_record(claim))

    def on_transaction(tx: m.Transaction) -> None:
        if part is not None and not part.keep:
            return  # a set another part checks
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

    try:
        tokenizer = Tokenizer(stream, on_reading_problem)
        try:
            if part is not None:
                part.run(tokenizer, builder, structure, runner)
            else:
                feed_all(tokenizer, builder, structure)
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
        if runner is not None and part is None:  # a part's batch rules finish in split.merge
            findings.extend(runner.finish())
        if settings.severities:
            findings = Spool(f for f in (settings.apply(f) for f in raw) if f is not None)
            raw.close()
        if recorder is not None:
            recorder.commit(findings)  # one transaction: the whole file, with final statuses
        return FileResult(
            path=path,
            status=_status(findings),
            interchanges=builder.interchanges,
            transactions=builder.transactions,
            claims=builder.claims,
            service_lines=builder.service_lines,
            findings=findings,
            claim_results=claims,
            interchange_list=tuple(interchanges),
            groups=tuple(groups),
            transaction_list=tuple(transactions),
        )
    finally:
        # The closures above make a cycle through the builder (on_claim -> checker ->
        # context -> builder) holding the file's whole state: rule indexes, claim
        # records. Left to the collector, which the CLI runs rarely, a batch grew
        # ~10 MB a 5,000-claim file in one process.
        builder.release()


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
