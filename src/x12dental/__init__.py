"""x12dental: validate HIPAA X12 837 Dental (005010X224A2) claim files."""

from __future__ import annotations

__version__ = "0.1.0"

from x12dental.api import validate
from x12dental.report import Report

__all__ = ["Report", "__version__", "validate"]
