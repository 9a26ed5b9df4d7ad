"""Findings: the one shape every check reports in, from the tokenizer to the dental rules.

A finding is a plain frozen value so that writers (JSON, text, HTML, 999,
277CA) can be written and tested without knowing which check produced it.
"""

from __future__ import annotations

import enum

import attrs


class Severity(enum.Enum):
    """How bad a finding is; ordered so that `--fail-on` can compare."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


@attrs.frozen(slots=True)
class Location:
    """Where a segment sits: the acknowledgments need the position from ST, people need the line."""

    segment_id: str | None = None
    segment_position: int | None = None
    file_line: int | None = None
    interchange_control: str | None = None
    group_control: str | None = None
    transaction_control: str | None = None


@attrs.frozen(slots=True)
class AckCode:
    """The X12 error code a 999/TA1 writer needs, kept apart from the human message.

    level is one of "isa" (TA1), "gs" (AK9), "st" (IK5), "seg" (IK3), "ele" (IK4).
    """

    level: str
    code: str
    element_position: int | None = None
    component_position: int | None = None
    repeat_position: int | None = None
    data_element: str | None = None
    bad_value: str | None = None
    loop_id: str | None = None  # IK303: the TR3 loop of the segment in error, when in a loop


@attrs.frozen(slots=True)
class Finding:
    """One thing wrong (or worth a look) in a file, located as precisely as we can."""

    rule: str
    severity: Severity
    snip: int
    message: str
    hint: str = ""
    location: Location = attrs.field(factory=Location)
    element: str | None = None
    claim_id: str | None = None
    line: int | None = None
    procedure: str | None = None
    tooth: str | None = None
    ack: AckCode | None = None

    def to_json(self) -> dict[str, object]:
        """The `x12dental.report/1` finding object: every field present, null when it does not apply."""
        loc = self.location
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "snip": self.snip,
            "message": self.message,
            "hint": self.hint,
            "claim_id": self.claim_id,
            "line": self.line,
            "procedure": self.procedure,
            "tooth": self.tooth,
            "segment_id": loc.segment_id,
            "segment_position": loc.segment_position,
            "element": self.element,
            "file_line": loc.file_line,
            "interchange_control": loc.interchange_control,
            "group_control": loc.group_control,
            "transaction_control": loc.transaction_control,
        }


@attrs.frozen(slots=True)
class ClaimContext:
    """What the model builder knows at a segment: structural findings inside a claim carry it.

    Kept here, not in `structure`, so the compiled structural checker holds no attrs class.
    """

    claim_id: str | None = None
    line: str | None = None
    procedure: str | None = None
