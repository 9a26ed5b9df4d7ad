"""What makes two claims the same claim: the identity the duplicate rule and the history
store compare.

Kept apart from `history` (the SQLite store) because every check needs it, through the
duplicate rule, and the store's module brings sqlite3, secrets and the rest with it: a
check without --history imports none of that. Compiled in the compiled build (it runs
once per claim).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from decimal import Decimal
from operator import attrgetter
from typing import Any

from x12dental import model as m
from x12dental.engine import line_date, patient_key

_CONTENT_VERSION = "x12dental.claim/1"

# claim.predetermination as whatever it holds: compiled, reading a field declared bool
# checks its type, and a hand-built claim with another value (1, say) would raise instead
# of being hashed as its value.
_predetermination: Callable[[m.Claim], object] = attrgetter("predetermination")


def _units(value: Decimal | None) -> str:
    """SV306 as a number: "1", "1.0" and a missing SV306 (one unit) are the same."""
    if value is None:
        return "1"
    if not value or not value.is_finite():
        return format(value.normalize(), "f")  # 0 and -0 are equal keys but print apart
    known = _UNITS.get(value)
    if known is None:
        known = format(value.normalize(), "f")
        if len(_UNITS) >= 4096:
            _UNITS.clear()
        _UNITS[value] = known
    return known


# Equal non-zero Decimals normalize to the same digits: each units value is formatted once.
_UNITS: dict[Decimal, str] = {}
# What json.dumps(payload, separators=(",", ":"), ensure_ascii=True) builds on every call.
_CONTENT_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True)


_DAYS: dict[dt.date, str] = {}  # date -> isoformat: the dates of a file are few


def _day(value: dt.date | None) -> str:
    if value is None:
        return ""
    text = _DAYS.get(value)
    if text is None:
        if len(_DAYS) >= 4096:
            _DAYS.clear()
        text = _DAYS[value] = value.isoformat()
    return text


# What JSON (ensure_ascii) writes as itself: printable ASCII but the backslash. A text made
# of these and of the format's own quotes is the encoder's text, character for character.
_PLAIN = bytes(c for c in range(0x20, 0x7F) if c not in b'\\"')
_HEAD = '["' + _CONTENT_VERSION + '","'
_CELLS = '","'.join
_ROWS = '"],["'.join

# The last claim hashed: the duplicate rule and the history recorder both ask for it.
_LAST_HASH: list[Any] = [None, "", ""]  # claim, patient key, digest


def claim_content_hash(claim: m.Claim, patient: str | None = None) -> str:
    """The claim's identity as a payer's duplicate edit sees it: the same services again.

    Hashed: the patient key, the frequency code (CLM05-3) and the predetermination flag,
    and per service line the procedure, units, oral cavity areas, teeth with their surfaces
    and the line's date of service, lines in any order. Left out on purpose: CLM01 (a
    resubmission often gets a new claim number, and a resent batch keeps the old ones: both
    are the same services), charges (a fee changed on resubmission does not make the
    service new), providers, narratives, attachments and references. A replacement (7) or
    void (8) differs from the original by its frequency code, so it is not a duplicate of
    it, while the same replacement sent twice is. The duplicate rule and the recorder both
    use this function, so what is flagged and what is stored agree.
    """
    key = patient if patient is not None else patient_key(claim)
    last = _LAST_HASH
    if last[0] is claim and last[1] == key:
        return str(last[2])
    import hashlib  # here: a run that keeps its claims' keys (no store) never hashes

    digest = hashlib.sha256(_content_bytes(claim, key)).hexdigest()
    last[0], last[1], last[2] = claim, key, digest
    return digest


# What claim_content_hash hashes, before it is written out: (patient key, frequency,
# predetermination, rows). Two claims have the same key exactly when they have the same
# hash (the JSON text is a one-to-one writing of these values), so a run that keeps the
# identities of its own claims only (no store to compare with) can keep keys and skip
# writing and hashing the text of every claim.
ContentKey = tuple[str, str, bool, tuple[tuple[str, str, str, str, str], ...]]


def claim_content_key(claim: m.Claim, patient: str) -> ContentKey | None:
    """The claim's identity as claim_content_hash sees it, unhashed; None when the claim is
    not of the model's types (a predetermination flag that is no bool): hash it instead."""
    predetermination = _predetermination(claim)
    if predetermination is not True and predetermination is not False:
        return None
    return (patient, claim.frequency, predetermination is True, tuple(_content_rows(claim)))


def content_key_hash(key: ContentKey) -> str:
    """claim_content_hash of the claim `key` was made of."""
    import hashlib

    patient, frequency, predetermination, rows = key
    return hashlib.sha256(_encode_content(patient, frequency, predetermination, rows)).hexdigest()


def _content_rows(claim: m.Claim) -> list[tuple[str, str, str, str, str]]:
    """Per line: procedure, units, areas, teeth with surfaces, date of service; sorted."""
    rows = []
    for line in claim.lines:
        units, areas, teeth = line.units, line.areas, line.teeth
        day = line_date(line, claim)
        if not teeth:
            tooth_text = ""
        elif len(teeth) == 1:
            tooth = teeth[0]
            tooth_text = tooth.number + ":" + "".join(sorted(tooth.surfaces))
        else:
            tooth_text = ",".join(
                sorted([t.number + ":" + "".join(sorted(t.surfaces)) for t in teeth])
            )
        rows.append(
            (
                line.procedure,
                "1" if units is None else _units(units),
                ("/".join(sorted(areas)) if len(areas) > 1 else areas[0]) if areas else "",
                tooth_text,
                "" if day is None else _DAYS.get(day) or _day(day),
            )
        )
    rows.sort()  # tuples of str sort as the lists of str the JSON payload holds
    return rows


def _content_bytes(claim: m.Claim, key: str) -> bytes:
    """The JSON text claim_content_hash hashes (compact separators, ensure_ascii), encoded."""
    predetermination = _predetermination(claim)
    return _encode_content(key, claim.frequency, predetermination, _content_rows(claim))


def _encode_content(
    key: str,
    frequency: str,
    predetermination: object,
    rows: Sequence[tuple[str, str, str, str, str]],
) -> bytes:
    """The content payload as json.dumps writes it (compact separators, ensure_ascii).

    Written out by hand: the general encoder cost more than the rest of the hash. When a
    value would need an escape (a quote, a backslash, a control or non-ASCII character),
    the encoder writes it instead, so the text is always exactly the encoder's."""
    if predetermination is True or predetermination is False:
        flag = "true" if predetermination else "false"
        lines = f'[["{_ROWS(map(_CELLS, rows))}"]]' if rows else "[]"
        text = f'{_HEAD}{key}","{frequency}",{flag},{lines}]'
        if text.isascii():
            data = text.encode()
            # What is left once the plain characters go: exactly the format's own quotes?
            if len(data.translate(None, _PLAIN)) == 6 + 10 * len(rows):
                return data
    payload = [_CONTENT_VERSION, key, frequency, predetermination, [list(r) for r in rows]]
    return _CONTENT_ENCODER.encode(payload).encode()
