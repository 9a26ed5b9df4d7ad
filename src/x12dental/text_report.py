"""The terminal report: per file a verdict line, then findings grouped by claim.

Written for the biller fixing the batch: the claim and line first, then what is
wrong in words, then where (file line, segment) and how to fix it.
"""

from __future__ import annotations

from collections.abc import Iterable

from x12dental.findings import Finding, Severity
from x12dental.pipeline import FileResult
from x12dental.report import Report

_COLOURS = {Severity.ERROR: "\x1b[31m", Severity.WARNING: "\x1b[33m", Severity.INFO: "\x1b[36m"}
_RESET = "\x1b[0m"
_BOLD = "\x1b[1m"


def _where(f: Finding) -> str:
    loc = f.location
    parts = []
    if loc.file_line is not None:
        parts.append(f"line {loc.file_line}")
    if loc.segment_id:
        seg = loc.segment_id
        if loc.segment_position is not None:
            seg += f" #{loc.segment_position}"
        parts.append(f"segment {seg}")
    if f.element:
        parts.append(f.element)
    if loc.transaction_control:
        parts.append(f"ST {loc.transaction_control}")
    return ", ".join(parts)


def _finding_lines(f: Finding, colour: bool) -> list[str]:
    label = f.severity.value.upper()
    if colour:
        label = f"{_COLOURS[f.severity]}{label}{_RESET}"
    subject = []
    if f.line is not None:
        subject.append(f"line {f.line}")
    if f.procedure:
        subject.append(f.procedure)
    if f.tooth:
        subject.append(f"tooth {f.tooth}")
    head = f"  {label:<7} {f.message}"
    if subject:
        head = f"  {label:<7} [{' '.join(subject)}] {f.message}"
    out = [head]
    where = _where(f)
    out.append(f"          {f.rule} (SNIP {f.snip})" + (f" at {where}" if where else ""))
    if f.hint:
        out.append(f"          fix: {f.hint}")
    return out


def _group(findings: Iterable[Finding]) -> list[tuple[str | None, list[Finding]]]:
    groups: dict[str | None, list[Finding]] = {}
    for f in findings:
        groups.setdefault(f.claim_id, []).append(f)
    return list(groups.items())


def render_file(file: FileResult, colour: bool = False) -> str:
    errors, warnings = file.count(Severity.ERROR), file.count(Severity.WARNING)
    status = file.status.replace("_", " ")
    title = f"{file.path}: {status}"
    if colour:
        title = _BOLD + title + _RESET
    lines = [
        title,
        f"  {file.interchanges} interchange(s), {file.transactions} transaction set(s), "
        f"{file.claims} claim(s), {file.service_lines} service line(s); "
        f"{errors} error(s), {warnings} warning(s)",
    ]
    for claim_id, findings in _group(file.findings):
        lines.append("")
        lines.append(f" claim {claim_id}:" if claim_id is not None else " file and envelope:")
        for f in findings:
            lines.extend(_finding_lines(f, colour))
    return "\n".join(lines) + "\n"


def render_text(report: Report, colour: bool = False) -> str:
    parts = [render_file(f, colour) for f in report.files]
    s = report.summary()
    parts.append(
        f"{s['files']} file(s), {s['claims']} claim(s): {s['errors']} error(s), "
        f"{s['warnings']} warning(s), {s['infos']} info(s)\n"
    )
    return "\n".join(parts)
