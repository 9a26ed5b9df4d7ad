"""Every rule x12dental can report, with its documentation, for `rules` and `explain`.

Like `ruff rule CODE`, the explanation lives next to the rule's id so the two
never drift apart. Structural rules come from the pyx12 code tables in
`messages`; the envelope and input rules are listed here.
"""

from __future__ import annotations

import attrs

from x12dental import messages
from x12dental.engine import Rule


@attrs.frozen(slots=True)
class RuleDoc:
    id: str
    snip: int
    severity: str
    summary: str
    fix: str
    scope: str = "file"
    rule: Rule | None = None

    def explain(self) -> str:
        if self.rule is not None:
            return self.rule.explain()
        return (
            f"{self.id}  (SNIP {self.snip}, default severity {self.severity}, scope {self.scope})\n\n"
            f"What it checks: {self.summary}.\n\n"
            f"How to fix the claim or file: {self.fix}\n"
        )


_OWN: tuple[RuleDoc, ...] = (
    RuleDoc(
        "x12.input.unreadable",
        1,
        "error",
        "the input could not be read as X12 at all (missing, empty, binary, no ISA, "
        "delimiters unreadable)",
        "Send the 837D file itself, complete, as plain text starting with ISA.",
    ),
    RuleDoc(
        "x12.envelope.text-before-isa",
        1,
        "warning",
        "text (a header, prose, a mail banner) stands before the ISA segment and was skipped",
        "Send the file starting with ISA.",
    ),
    RuleDoc(
        "x12.envelope.isa-length",
        1,
        "error",
        "the ISA segment is not exactly 106 characters (its elements must be padded to fixed width)",
        "Pad ISA02/ISA04 to 10, ISA06/ISA08 to 15 characters with spaces.",
    ),
    RuleDoc(
        "x12.envelope.truncated",
        1,
        "error",
        "the file ends in the middle of a segment",
        "Resend the complete file.",
    ),
    RuleDoc(
        "x12.envelope.version-unsupported",
        1,
        "error",
        "the interchange is not X12 5010 (ISA12 00501), e.g. a 4010 file",
        "Send 5010 837D claims (GS08 005010X224A2).",
    ),
    RuleDoc(
        "x12.envelope.not-837d",
        2,
        "error",
        "the functional group is not an 837 Dental group (GS01 HC, GS08 005010X224A1/A2/A3)",
        "Send dental claims in their own GS group with GS08 005010X224A2.",
        "group",
    ),
    RuleDoc(
        "x12.envelope.version-not-preferred",
        2,
        "warning",
        "GS08 is 005010X224A1 or A3 rather than 005010X224A2, the version payers take; "
        "the claims are still checked with the A2 guide",
        "Ask the practice-management vendor to send 005010X224A2.",
        "group",
    ),
    RuleDoc(
        "x12.envelope.version-mismatch",
        2,
        "error",
        "ST03 names a different guide version than GS08",
        "Make ST03 equal to GS08.",
        "transaction",
    ),
    RuleDoc(
        "x12.segment.wrong-delimiter",
        1,
        "error",
        "a segment is written with another element separator than the one the ISA declares",
        "Write every segment with the ISA's delimiters; the file was probably edited by hand "
        "or assembled from two sources.",
        "segment",
    ),
    RuleDoc(
        "payer.version-not-accepted",
        7,
        "error",
        "a rule pack lists the GS08 versions the payer accepts, and the group's version is not one",
        "Send the version the payer accepts (normally 005010X224A2).",
        "group",
    ),
    RuleDoc(
        "x12dental.rule-crashed",
        7,
        "warning",
        "a rule (usually a plugin) failed on a claim and was skipped for it",
        "Report it to the rule's author; the rest of the claim was still checked.",
        "claim",
    ),
    RuleDoc(
        "x12.transaction.no-claims",
        2,
        "warning",
        "a transaction set carries no claims (no CLM segment)",
        "Check that the practice software exported the batch's claims.",
        "transaction",
    ),
)


def _from_tables() -> list[RuleDoc]:
    docs: list[RuleDoc] = []
    seen: set[str] = set()
    tables = (
        [(t, "file") for t in messages._ENVELOPE.values()]
        + [(messages._SEGMENT[c], "segment") for c in messages.SEGMENT_CODES]
        + [(messages._ELEMENT[c], "element") for c in messages.ELEMENT_CODES]
    )
    for entry, scope in tables:
        if entry.rule in seen:
            continue
        seen.add(entry.rule)
        summary = (
            entry.text.replace("{ref}{name} ", "the element ")
            .replace("{seg}{name}", "a segment")
            .replace("{seg}", "a segment")
            .replace("{where}", "")
            .replace("{len}", "")
            .replace("{codes}", "has a code the guide does not allow")
            .replace("; found {value}", "")
            .replace("{loop}", "a loop")
        )
        docs.append(RuleDoc(entry.rule, entry.snip, "error", summary, entry.hint, scope))
    return docs


def _from_registry() -> list[RuleDoc]:
    from x12dental.engine import default_registry

    return [
        RuleDoc(r.id, r.snip, r.severity.value, r.summary, r.fix, r.scope, r)
        for r in default_registry()
    ]


def all_rules() -> list[RuleDoc]:
    """Structural rules and every registered rule (built-in and plugins), by id."""
    return sorted([*_OWN, *_from_tables(), *_from_registry()], key=lambda r: r.id)


def find_rule(rule_id: str) -> RuleDoc | None:
    return next((r for r in all_rules() if r.id == rule_id), None)
