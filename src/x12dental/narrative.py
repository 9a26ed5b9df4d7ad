"""Read claim narratives (2300 NTE) the way a claims reviewer skims them.

Narratives are free text typed by office staff: "D6010 PLACED #8 ON 3/14/26",
"Tooth 8 implant placed 2026-03-14", "TH 8". Rules ask simple questions of them
(is a material named? is a date and a tooth named?), so the parsing lives here,
once, and is tested on its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from x12dental import model as m


def claim_narrative(claim: m.Claim) -> str:
    """All NTE texts of a claim joined, upper-cased: payers read them as one note."""
    return " ".join(n.text for n in claim.notes).upper()


def _term_pattern(term: str) -> re.Pattern[str]:
    words = [re.escape(w) for w in term.upper().split()]
    return re.compile(r"(?<![A-Z0-9])" + r"[\s\-/]*".join(words) + r"(?![A-Z0-9])")


_PATTERNS: dict[str, re.Pattern[str]] = {}


def find_terms(text: str, terms: Iterable[str]) -> list[str]:
    """The terms (case-insensitive, whole words, any spacing/hyphenation) that occur in `text`."""
    upper = text.upper()
    found = []
    for term in terms:
        pattern = _PATTERNS.get(term)
        if pattern is None:
            pattern = _PATTERNS[term] = _term_pattern(term)
        if pattern.search(upper):
            found.append(term)
    return found
