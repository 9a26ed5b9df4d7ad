"""Built-in rules (SNIP 3-7). Importing this package registers them all in the engine registry.

One module per family of rules, named after its job.
"""

from __future__ import annotations

from x12dental.checks import (  # noqa: F401
    balancing,
    codes,
    desensitizing,
    history_rules,
    implant,
    payer,
    procedure,
    situational,
)


def preflight() -> None:
    """Load every family's rule data now, so a broken data file is one located error
    (RuleDataError: file and key) at start-up rather than a crashed rule on every claim."""
    codes.policy()
    implant.implant_data()
    procedure.builtin_table()
