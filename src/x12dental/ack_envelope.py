"""What every acknowledgment we write shares: its envelope, control numbers and delimiters.

Acknowledgments go back to the submitter, so sender and receiver are swapped from
the input's envelope. They must be byte-identical for the same input (a clearinghouse
re-running a file must not produce a "new" 999), so control numbers and dates are
derived from the input's own control numbers and dates, never from a clock or a counter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol, TypeVar

import attrs

from x12dental import model as m


def derived_control(*parts: str, digits: int = 9) -> str:
    """A control number from the input's identifiers: stable, and distinct per kind of ack."""
    digest = hashlib.sha256("|".join(parts).encode()).hexdigest()
    value = int(digest[:15], 16) % (10**digits - 1) + 1
    return str(value).zfill(digits)


def century_date(yymmdd: str) -> str:
    """ISA09 (YYMMDD) as CCYYMMDD for GS04; X12 5010 files are 20xx."""
    return ("20" + yymmdd) if len(yymmdd) == 6 and yymmdd.isdigit() else yymmdd


class _Placed(Protocol):
    @property
    def where(self) -> m.Where: ...


_P = TypeVar("_P", bound=_Placed)


def owner(candidates: Sequence[_P], file_line: int | None) -> _P | None:
    """Which of several envelopes with the same control number a thing at `file_line` is in.

    Control numbers can repeat in a bad file (ISA13 or GS06 used twice), so a control number
    alone does not say which interchange or group a finding or a transaction belongs to.
    Envelopes come in file order: the owner is the last one starting at or before the line;
    without line numbers (a one-line file) the first one is the best we can say.
    """
    if not candidates:
        return None
    if len(candidates) == 1 or file_line is None:
        return candidates[0]
    best = candidates[0]
    for candidate in candidates:
        start = candidate.where.file_line
        if start is not None and start <= file_line:
            best = candidate
    return best


@attrs.define
class SegmentWriter:
    """Writes segments with the input's delimiters, dropping trailing empty elements."""

    element: str = "*"
    component: str = ":"
    repetition: str = "^"
    terminator: str = "~"
    line_break: str = "\n"
    segments: list[str] = attrs.field(factory=list)

    @classmethod
    def like(cls, interchange: m.Interchange | None) -> SegmentWriter:
        if interchange is None:
            return cls()
        return cls(
            interchange.element_separator,
            interchange.component_separator,
            interchange.repetition_separator or "^",
            interchange.segment_terminator if interchange.segment_terminator != "\n" else "~",
        )

    def composite(self, *parts: str) -> str:
        items = list(parts)
        while items and items[-1] == "":
            items.pop()
        return self.component.join(items)

    def seg(self, *elements: str) -> None:
        items = list(elements)
        while len(items) > 1 and items[-1] == "":
            items.pop()
        self.segments.append(self.element.join(items))

    def mark(self) -> int:
        """Index to count segments from (for SE01: call at ST, count at SE)."""
        return len(self.segments)

    def count_since(self, mark: int) -> int:
        return len(self.segments) - mark + 1  # + the SE itself

    def text(self) -> str:
        return "".join(s + self.terminator + self.line_break for s in self.segments)


@attrs.frozen
class ReplyEnvelope:
    """The ISA/GS of an acknowledgment answering `inbound`, with swapped parties."""

    kind: str  # "999", "TA1", "277CA": part of every derived control number
    inbound: m.Interchange

    @property
    def control(self) -> str:
        return derived_control(self.kind, "ISA", self.inbound.control, self.inbound.sender)

    def group_control(self, inbound_group: str = "") -> str:
        return (
            derived_control(self.kind, "GS", self.inbound.control, inbound_group).lstrip("0")[:9]
            or "1"
        )

    def isa(self, w: SegmentWriter, ack_requested: str = "0") -> None:
        i = self.inbound
        w.seg(
            "ISA",
            "00",
            " " * 10,
            "00",
            " " * 10,
            (i.receiver_qualifier or "ZZ").ljust(2)[:2],
            (i.receiver or "").ljust(15)[:15],
            (i.sender_qualifier or "ZZ").ljust(2)[:2],
            (i.sender or "").ljust(15)[:15],
            i.date if len(i.date) == 6 and i.date.isdigit() else "000101",
            i.time if len(i.time) == 4 and i.time.isdigit() else "0000",
            w.repetition,
            "00501",
            self.control,
            ack_requested,
            i.usage if i.usage in ("P", "T") else "P",
            w.component,
        )

    def iea(self, w: SegmentWriter, groups: int) -> None:
        w.seg("IEA", str(groups), self.control)
