"""The run's result across files, and the `x12dental.report/1` JSON view of it."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

import attrs

from x12dental.findings import Finding, Severity
from x12dental.pipeline import FileResult

SCHEMA = "x12dental.report/1"


@attrs.frozen(slots=True)
class Report:
    """All files of one run, in input order."""

    files: tuple[FileResult, ...]

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(f for file in self.files for f in file.findings)

    def iter_findings(self) -> Iterator[Finding]:
        for file in self.files:
            yield from file.findings

    def count(self, severity: Severity) -> int:
        return sum(file.count(severity) for file in self.files)

    def summary(self) -> dict[str, int]:
        return {
            "files": len(self.files),
            "claims": sum(f.claims for f in self.files),
            "errors": self.count(Severity.ERROR),
            "warnings": self.count(Severity.WARNING),
            "infos": self.count(Severity.INFO),
        }

    def to_dict(self) -> dict[str, object]:
        return {
            "schema": SCHEMA,
            "files": [f.to_json() for f in self.files],
            "summary": self.summary(),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False) + "\n"

    def exit_status(self, fail_on: str = "error") -> int:
        """0 clean, 1 a finding reaches `fail_on`, 2 an input could not be read at all."""
        if any(f.status == "unreadable" for f in self.files):
            return 2
        if fail_on == "never":
            return 0
        threshold = Severity.WARNING if fail_on == "warning" else Severity.ERROR
        worst = max((f.severity.rank for f in self.iter_findings()), default=-1)
        return 1 if worst >= threshold.rank else 0

    def to_text(self, colour: bool = False) -> str:
        from x12dental.text_report import render_text

        return render_text(self, colour=colour)


def merge(reports: Sequence[Report]) -> Report:
    return Report(tuple(f for r in reports for f in r.files))
