"""(rules to come)."""

from __future__ import annotations
