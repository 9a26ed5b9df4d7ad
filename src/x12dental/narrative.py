"""Read claim narratives (2300 NTE) the way a claims reviewer skims them.

Narratives are free text typed by office staff: "D6010 PLACED #8 ON 3/14/26",
"Tooth 8 implant placed 2026-03-14", "TH 8". Rules ask simple questions of them
(is a material named? is a date and a tooth named?), so the parsing lives here,
once, and is tested on its own.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from typing import TypeVar

from x12dental import model as m
from x12dental.codesets import ALL_TEETH, PERMANENT_TEETH

K = TypeVar("K")


def claim_narrative(claim: m.Claim) -> str:
    """All NTE texts of a claim joined, upper-cased: payers read them as one note."""
    return " ".join(n.text for n in claim.notes).upper()


def _term_pattern(term: str) -> re.Pattern[str]:
    words = [re.escape(w) for w in term.upper().split()]
    return re.compile(r"(?<![A-Z0-9])" + r"[\s\-/]*".join(words) + r"(?![A-Z0-9])")


_PATTERNS: dict[str, re.Pattern[str]] = {}
# terms -> (each term's words, the distinct words of them all)
_TERM_WORDS: dict[tuple[str, ...], tuple[tuple[tuple[str, ...], ...], tuple[str, ...]]] = {}


def _candidates(upper: str, terms: tuple[str, ...]) -> tuple[str, ...]:
    """The terms, in order, whose every word is in `upper` as a substring: a cheap necessary
    condition for a term's pattern to match. Most narratives name none of the many terms
    a rule asks about; this rules them out without running their regexes, testing each
    distinct word of the list once (rules ask about lists that share words)."""
    held = _TERM_WORDS.get(terms)
    if held is None:
        each = tuple(tuple(term.upper().split()) for term in terms)
        distinct = tuple(dict.fromkeys(word for words in each for word in words))
        if len(_TERM_WORDS) >= _MEMO_LIMIT:
            _TERM_WORDS.clear()
        held = _TERM_WORDS[terms] = (each, distinct)
    each, distinct = held
    present = {word for word in distinct if word in upper}
    return tuple(
        term
        for term, words in zip(terms, each, strict=True)
        if all(word in present for word in words)
    )


def find_terms(text: str, terms: Iterable[str]) -> list[str]:
    """The terms (case-insensitive, whole words, any spacing/hyphenation) that occur in `text`."""
    upper = text.upper()
    found = []
    for term in _candidates(upper, tuple(terms)):
        pattern = _PATTERNS.get(term)
        if pattern is None:
            pattern = _PATTERNS[term] = _term_pattern(term)
        if pattern.search(upper):
            found.append(term)
    return found


# -- dates ---------------------------------------------------------------------------------
#
# Staff type dates every way a keyboard allows. Numeric dates are read in US order only
# (month first): the 837 is a US transaction and "03/04/2026" is March 4 on every dental claim
# form, so a day-first reading would invent dates the office never meant. A candidate that is
# not a real calendar day (02/30/2026, 13/01/2026) is not a date. Two-digit years follow the
# POSIX pivot: 00-68 are 2000-2068, 69-99 are 1969-1999. Four-digit years must be 1900-2099, so
# claim numbers and authorization numbers ("PA 12345678") are not read as dates.

_MONTHS: dict[str, int] = {
    "JANUARY": 1,
    "JAN": 1,
    "FEBRUARY": 2,
    "FEB": 2,
    "MARCH": 3,
    "MAR": 3,
    "APRIL": 4,
    "APR": 4,
    "MAY": 5,
    "JUNE": 6,
    "JUN": 6,
    "JULY": 7,
    "JUL": 7,
    "AUGUST": 8,
    "AUG": 8,
    "SEPTEMBER": 9,
    "SEPT": 9,
    "SEP": 9,
    "OCTOBER": 10,
    "OCT": 10,
    "NOVEMBER": 11,
    "NOV": 11,
    "DECEMBER": 12,
    "DEC": 12,
}
_MONTH = "(?P<mon>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_YEAR4 = r"(?P<y>(?:19|20)\d\d)"
# Not glued to a longer run of digits or to another date-like piece ("1203/14/2026").
_NUM_START = r"(?<![0-9])(?<![0-9][/.\-])"
_NUM_END = r"(?![0-9])(?![/.\-][0-9])"
_ORDINAL = r"(?:ST|ND|RD|TH)?"

_DATE_PATTERNS: tuple[re.Pattern[str], ...] = (
    # 03/14/2026, 3/14/26, 03-14-2026 (one separator throughout)
    re.compile(
        _NUM_START
        + r"(?P<m>\d{1,2})(?P<sep>[/\-])(?P<d>\d{1,2})(?P=sep)(?P<y>\d{4}|\d{2})"
        + _NUM_END,
        re.ASCII,
    ),
    # 03.14.2026: four-digit year only, so "4.1.10" (a size, a version) is not a date
    re.compile(_NUM_START + r"(?P<m>\d{1,2})\.(?P<d>\d{1,2})\.(?P<y>\d{4})" + _NUM_END, re.ASCII),
    # 2026-03-14, 2026/03/14
    re.compile(
        _NUM_START + _YEAR4 + r"(?P<sep>[/.\-])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})" + _NUM_END,
        re.ASCII,
    ),
    # 20260314 (the X12 D8 format), as a word of its own
    re.compile(r"(?<![0-9A-Z])" + _YEAR4 + r"(?P<m>\d\d)(?P<d>\d\d)(?![0-9A-Z])", re.ASCII),
    # MARCH 14, 2026 / MAR 14 2026 / MAR. 14TH, 2026 / MAR-14-2026
    re.compile(
        r"(?<![A-Z])"
        + _MONTH
        + r"[\s\-]*(?P<d>\d{1,2})"
        + _ORDINAL
        + r"(?:\s*,\s*|[\s\-]+)"
        + _YEAR4
        + r"(?![0-9])",
        re.ASCII,
    ),
    # 14 MAR 2026 / 14-MAR-2026 / 14 MARCH, 2026 / 14MAR2026
    re.compile(
        r"(?<![0-9A-Z])(?P<d>\d{1,2})"
        + _ORDINAL
        + r"[\s\-]*"
        + _MONTH
        + r"(?:\s*,\s*|[\s\-]*)"
        + _YEAR4
        + r"(?![0-9])",
        re.ASCII,
    ),
)


def _year(raw: str) -> int:
    value = int(raw)
    if len(raw) == 2:
        return 2000 + value if value < 69 else 1900 + value
    return value


def _date_of(match: re.Match[str]) -> dt.date | None:
    parts = match.groupdict()
    month = _MONTHS[parts["mon"]] if parts.get("mon") else int(parts["m"])
    year = _year(parts["y"])
    if not 1900 <= year <= 2099:
        return None
    try:
        return dt.date(year, month, int(parts["d"]))
    except ValueError:
        return None


def _remembered(memo: dict[str, K], text: str, parse: Callable[[], K]) -> K:
    """The parse of `text`, from `memo` when it was parsed before (bounded: cleared when full)."""
    known = memo.get(text)
    if known is None:
        known = parse()
        if len(memo) >= _MEMO_LIMIT:
            memo.clear()
        memo[text] = known
    return known


def find_date_spans(text: str) -> list[tuple[int, int, dt.date]]:
    """Every date in `text` as (start, end, date), in text order; overlaps go to the leftmost.

    Positions index `text.upper()` (the same as `text` unless it holds the rare characters
    whose upper case is longer, such as "ß").
    """
    spans: tuple[tuple[int, int, dt.date], ...] = _remembered(
        _SPANS, text, lambda: tuple(_date_spans(text))
    )
    return list(spans)


# Several rules read the dates and teeth of the same narrative: each text is parsed once.
_SPANS: dict[str, tuple[tuple[int, int, dt.date], ...]] = {}
_TEETH: dict[str, frozenset[str]] = {}


def _date_spans(text: str) -> list[tuple[int, int, dt.date]]:
    upper = text.upper()
    candidates: list[tuple[int, int, dt.date]] = []
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(upper):
            day = _date_of(match)
            if day is not None:
                candidates.append((match.start(), match.end(), day))
    candidates.sort(key=lambda c: (c[0], -c[1]))
    spans: list[tuple[int, int, dt.date]] = []
    for start, end, day in candidates:
        if spans and start < spans[-1][1]:
            continue
        spans.append((start, end, day))
    return spans


def find_dates(text: str) -> list[dt.date]:
    """The calendar dates a narrative names, in the order written, each once."""
    out: list[dt.date] = []
    for _start, _end, day in find_date_spans(text):
        if day not in out:
            out.append(day)
    return out


# -- teeth ---------------------------------------------------------------------------------
#
# A tooth is read only behind a marker, never from a bare number ("3 months", "2 implants"):
#   "#8", "# 8", "#08", "#A", "#51", "#AS"                       hash: every JP value
#   "TOOTH 8", "TOOTH #8", "TOOTH NO. 8", "TH 8", "TH#8", "SITE 8"  keyword: numbers and single
#        letters A-T; "AS".."TS" only with "#", since "TOOTH IS LOOSE" / "SITE AS PLANNED" are
#        English, not supernumerary teeth
#   "TEETH 8, 9 AND 10", "SITES 19 & 20"                          plural keyword: a list of
#        numbers joined by , & + / AND; after "#8" a bare ", 9" is not read ("#20, 3 MONTHS")
#   "T8"                                                          permanent teeth 1-32 only
# Ranges are not expanded ("#8-10" names #8 only; write "#8-#10"). Dates are removed before
# teeth are read, so "#3/14/26" is a date and not tooth 3. Only valid JP values are returned,
# without leading zeros.

_HASH_TOOTH = re.compile(r"#\s*(?P<t>\d{1,2}|[A-T]S?)(?![A-Z0-9])", re.ASCII)
# Digits may follow the keyword directly ("TH8"); a letter needs a space, "." or "#" first, or
# "THE" and "SITES" would read as teeth E and S.
_KEYWORD_TOOTH = re.compile(
    r"(?<![A-Z0-9])(?:TOOTH|TH|SITE)"
    r"(?:\.?\s*(?:(?:NO|NUM|NUMBER|NR)\.?\s*)?(?:#\s*)?(?P<t>\d{1,2})"
    r"|[.\s#][.\s]*(?:(?:NO|NUM|NUMBER|NR)\.?\s*)?(?:#\s*)?(?P<l>[A-T]))(?![A-Z0-9])",
    re.ASCII,
)
_LIST_ITEM = r"(?:#\s*)?(?:\d{1,2}|[A-T])(?![A-Z0-9])"
_PLURAL_TEETH = re.compile(
    r"(?<![A-Z0-9])(?:TEETH|SITES)\.?\s*(?:(?:NOS|NO|NUMBERS)\.?\s*)?(?P<list>"
    + _LIST_ITEM
    + r"(?:\s*(?:,|&|\+|/|\bAND\b)\s*"
    + r"(?:#\s*)?\d{1,2}(?![A-Z0-9]))*)",
    re.ASCII,
)
_LIST_TOKEN = re.compile(r"\d{1,2}|(?<![A-Z])[A-T](?![A-Z0-9])", re.ASCII)
_T_TOOTH = re.compile(r"(?<![A-Z0-9#])T(?P<t>\d{1,2})(?![A-Z0-9])", re.ASCII)


def _jp(token: str) -> str | None:
    """A typed token as a JP tooth value ("08" -> "8"), or None when it is not one."""
    value = str(int(token)) if token.isdigit() else token
    return value if value in ALL_TEETH else None


def _mask_dates(upper: str) -> str:
    chars = list(upper)
    for start, end, _day in find_date_spans(upper):
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def find_teeth(text: str) -> set[str]:
    """The JP tooth numbers a narrative names (see the forms above)."""
    teeth: frozenset[str] = _remembered(_TEETH, text, lambda: frozenset(_teeth(text)))
    return set(teeth)


def _teeth(text: str) -> set[str]:
    upper = _mask_dates(text.upper())
    found: set[str] = set()
    for pattern in (_HASH_TOOTH, _KEYWORD_TOOTH):
        for match in pattern.finditer(upper):
            tooth = _jp(match.group("t") or match.group("l"))
            if tooth is not None:
                found.add(tooth)
    for match in _PLURAL_TEETH.finditer(upper):
        for token in _LIST_TOKEN.findall(match.group("list")):
            tooth = _jp(token)
            if tooth is not None:
                found.add(tooth)
    for match in _T_TOOTH.finditer(upper):
        tooth = _jp(match.group("t"))
        if tooth is not None and tooth in PERMANENT_TEETH:
            found.add(tooth)
    return found


# -- procedure codes -----------------------------------------------------------------------

_CODE_MENTION = re.compile(r"(?<![A-Z0-9])D[ \-]?(?P<n>\d{4})(?![0-9])", re.ASCII)


def find_codes(text: str) -> list[str]:
    """CDT codes named in a narrative ("D6010", "D 6010", "d-6010"), normalized, each once."""
    out: list[str] = []
    for match in _CODE_MENTION.finditer(text.upper()):
        code = "D" + match.group("n")
        if code not in out:
            out.append(code)
    return out


def mentions_code(text: str, code: str) -> bool:
    """Whether a narrative names `code` (any of the spellings `find_codes` reads)."""
    return code.upper() in find_codes(text)


# -- phrases, with simple negation -------------------------------------------------------------
#
# "Two-stage, not single-stage" must not read as "single-stage". The handling is deliberately
# simple and predictable: an occurrence of a term is negated when a negation cue ("NOT", "NO",
# "NEVER", "WITHOUT", "RATHER THAN", "VS", a "...N'T" word...) stands among the last `window`
# words before it in the same clause. Clauses end at . , ; : ! ? ( ) [ ] and at "BUT", so
# "no pain, single-stage" still says single-stage. An occurrence directly after one of the
# `not_after` words is skipped too ("STAGE ONE/STAGE TWO" does not say "one stage"). Not
# handled: negation after the term ("single-stage: no"), double negation, and sentences that
# deny the term from further away than `window` words.

NEGATIONS: tuple[str, ...] = (
    "not",
    "no",
    "never",
    "without",
    "rather than",
    "instead of",
    "vs",
    "versus",
    "neither",
    "nor",
    "ruled out",
    "cannot",
)
_CONTRACTIONS = frozenset(
    {"ISNT", "WASNT", "WERENT", "ARENT", "DIDNT", "DOESNT", "DONT", "HASNT", "HADNT", "CANT"}
)
_CLAUSE_END = re.compile(r"[.,;:!?()\[\]]|(?<![A-Z0-9])BUT(?![A-Z0-9])", re.ASCII)
_WORD = re.compile(r"[A-Z0-9']+", re.ASCII)


def _clause_words(before: str) -> list[str]:
    """The words of the clause that ends where a term starts."""
    return _WORD.findall(_CLAUSE_END.split(before)[-1])


def _negated(words: list[str], cues: tuple[tuple[str, ...], ...], window: int) -> bool:
    """A cue ends at most `window` words before the term ("NOT A SINGLE-STAGE": 1 word)."""
    for i, word in enumerate(words):
        if len(words) - (i + 1) > window:
            continue
        if word.endswith("N'T") or word in _CONTRACTIONS:
            return True
    for cue in cues:
        for i in range(max(0, len(words) - window - len(cue)), len(words) - len(cue) + 1):
            if tuple(words[i : i + len(cue)]) == cue:
                return True
    return False


def find_affirmed_terms(
    text: str,
    terms: Iterable[str],
    *,
    negations: Iterable[str] = NEGATIONS,
    window: int = 3,
    not_after: Iterable[str] = (),
) -> list[str]:
    """The terms (as `find_terms` reads them) that occur at least once without being negated.

    `window` is how many words may stand between a negation cue and the term.
    """
    upper = text.upper()
    terms = _candidates(upper, tuple(terms))
    if not terms:
        return []  # the usual narrative: none of the terms, and nothing more to read
    negations = tuple(negations)
    not_after = tuple(not_after)
    # Several rules read the same narrative for the same terms: each answer is computed once.
    key = (upper, terms, negations, window, not_after)
    known = _AFFIRMED.get(key)
    if known is None:
        known = tuple(_affirmed_terms(upper, terms, negations, window, not_after))
        if len(_AFFIRMED) >= _MEMO_LIMIT:
            _AFFIRMED.clear()
        _AFFIRMED[key] = known
    return list(known)


_MEMO_LIMIT = 4096
_AFFIRMED: dict[
    tuple[str, tuple[str, ...], tuple[str, ...], int, tuple[str, ...]], tuple[str, ...]
] = {}
_CUES: dict[tuple[str, ...], tuple[tuple[str, ...], ...]] = {}


def _affirmed_terms(
    upper: str,
    terms: tuple[str, ...],
    negations: tuple[str, ...],
    window: int,
    not_after: tuple[str, ...],
) -> list[str]:
    """find_affirmed_terms for `terms` that passed _candidates, in an upper-cased text."""
    cues = _CUES.get(negations)
    if cues is None:
        cues = tuple(tuple(c.upper().split()) for c in negations if c.split())
        if len(_CUES) >= _MEMO_LIMIT:
            _CUES.clear()
        _CUES[negations] = cues
    skip_after = {w.upper() for w in not_after}
    found = []
    for term in terms:
        pattern = _PATTERNS.get(term)
        if pattern is None:
            pattern = _PATTERNS[term] = _term_pattern(term)
        for match in pattern.finditer(upper):
            words = _clause_words(upper[: match.start()])
            if words and words[-1] in skip_after:
                continue
            if not _negated(words, cues, window):
                found.append(term)
                break
    return found
