"""x12dental: validate HIPAA X12 837 Dental (005010X224A2) claim files."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from x12dental.api import validate
    from x12dental.report import Report

__all__ = ["Report", "__version__", "validate"]


def __getattr__(name: str) -> Any:
    """`validate` and `Report` are imported on first use, not with the package.

    Every submodule import (`x12dental.cli`, `x12dental.tokenizer`, a rule plugin's
    `x12dental.engine`) imports this package first; loading the whole checking
    pipeline there would make each of them pay for all of it, and leave the command
    line no say in how its imports run (see `x12dental.cli`).
    """
    if name == "validate":
        from x12dental.api import validate

        return validate
    if name == "Report":
        from x12dental.report import Report

        return Report
    raise AttributeError(f"module 'x12dental' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
