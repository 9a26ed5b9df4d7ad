"""The run's result across files, and the `x12dental.report/1` JSON view of it."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import attrs

from x12dental.engine import Settings
from x12dental.findings import Finding, Severity
from x12dental.pipeline import FileResult

SCHEMA = "x12dental.report/1"


@attrs.frozen(slots=True)
class Report:
    """All files of one run, in input order, and the rule-pack settings they were checked with."""

    files: tuple[FileResult, ...]
    settings: Settings = attrs.field(factory=Settings)

    def acknowledgments(self) -> list[dict[str, str]]:
        """Per file, in order: {"999": ..., "ta1": ..., "277ca": ...} (only those due)."""
        from x12dental.acks import acknowledgments

        return [acknowledgments(f, self.settings) for f in self.files]

    def _ack(self, kind: str) -> str:
        return "".join(a.get(kind, "") for a in self.acknowledgments())

    def to_999(self) -> str:
        return self._ack("999")

    def to_ta1(self) -> str:
        return self._ack("ta1")

    def to_277ca(self) -> str:
        return self._ack("277ca")

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

    def to_text(
        self,
        colour: bool = False,
        sources: Mapping[str, bytes | Path] | None = None,
        *,
        redact: bool = False,
    ) -> str:
        from x12dental.text_report import render_text

        return render_text(self, colour, sources, redact=redact)

    def to_html(
        self, sources: Mapping[str, bytes | Path] | None = None, *, redact: bool = False
    ) -> str:
        """One self-contained page; `sources` lets it show stdin or bytes input segment by segment."""
        from x12dental.html_report import render_html

        return render_html(self, sources, redact=redact)

    def redacted(self, sources: Mapping[str, bytes | Path] | None = None) -> Report:
        """A copy with patient and subscriber names, member ids and birth dates masked."""
        from x12dental.redact import redact_report

        return redact_report(self, sources)


def merge(reports: Sequence[Report]) -> Report:
    return Report(tuple(f for r in reports for f in r.files))
