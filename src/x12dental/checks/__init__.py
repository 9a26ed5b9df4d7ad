"""Built-in rules (SNIP 3-7). Importing this package registers them all in the engine registry.

One module per family of rules, named after its job.
"""

from __future__ import annotations

from x12dental.checks import (  # noqa: F401
    balancing,
    codes,
    desensitizing,
    implant,
    payer,
    procedure,
    situational,
)
