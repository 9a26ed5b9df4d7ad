"""The record check_stream keeps of each checked claim: plain tuples, made fast.

A file's report and acknowledgments need, per claim, what a 277CA echoes (ids, envelope,
parties, totals, dates, lines: pipeline.ClaimResult). Kept as ClaimResult objects, 10,000
claims would be some 200,000 of them; as nested tuples and shared strings they are cheap
to hold, to pickle (a split part hands them over) and to spool to disk, and are decoded
into a ClaimResult only when a report asks (pipeline.claim_result_of). A module of its
own because it runs once per claim: the compiled build compiles it (buildinfo.HOT_MODULES).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from x12dental import model as m
from x12dental.engine import line_date

PartyRecord = tuple[str, str, str, str, str]  # a PartyName's fields, in order

# The billing provider, payer and subscriber parties are shared by the claims of one loop:
# their record is made once, and shared again in memory and in the spool's pickles.
_NAMES: dict[int, tuple[m.Party, PartyRecord]] = {}


def _party_record(party: m.Party | None) -> PartyRecord | None:
    if party is None:
        return None
    hit = _NAMES.get(id(party))
    if hit is not None and hit[0] is party:
        return hit[1]
    record = (party.last_or_org, party.first, party.id_qualifier, party.id, party.entity_type)
    if len(_NAMES) > 64:
        _NAMES.clear()
    _NAMES[id(party)] = (party, record)
    return record


def claim_record(claim: m.Claim) -> tuple[Any, ...]:
    """claim_result(claim) as plain tuples (what check_stream keeps: cheap to make and to
    pickle, and no objects per line). Made after the rules, whose line dates it reuses."""
    lines = claim.lines
    days = [line_date(ln, claim) for ln in lines]
    low: dt.date | None = None
    high: dt.date | None = None
    span = claim.date("472")
    for day in days if span is None else [*days, span.start, span.end]:
        if day is not None:
            if low is None or day < low:
                low = day
            if high is None or day > high:
                high = day
    first = _ymd(low) if low is not None else None
    last = _ymd(high) if high is not None else None
    items = []
    for ln, day in zip(lines, days, strict=True):
        control = None
        for ref in ln.references:
            if ref.qualifier == "6R":
                control = ref.value
                break
        items.append(
            (
                ln.number,
                ln.procedure,
                ln.charge_raw,
                ln.units_raw or "1",
                control,
                _ymd(day) if day is not None else first,
            )
        )
    trace = None
    for ref in claim.references:
        if ref.qualifier == "D9":
            trace = ref.value
            break
    provider = claim.billing_provider
    subscriber = claim.subscriber
    patient = claim.patient
    payer = claim.payer
    where = claim.where
    return (
        claim.claim_id,
        _envelope_record(claim.envelope),
        (where.segment_id, where.position, where.file_line),
        claim.total_charge_raw,
        len(lines),
        first,
        last,
        _party_record(provider.party) if provider else None,
        _party_record(subscriber.party) if subscriber else None,
        _party_record(patient.party) if patient else None,
        _party_record(payer.party) if payer else None,
        trace,
        claim.frequency,
        claim.predetermination,
        tuple(items),
    )


# A file's dates of service are few and repeat on every line: each is formatted once.
_YMD_TEXT: dict[dt.date, str] = {}


def _ymd(day: dt.date) -> str:
    text = _YMD_TEXT.get(day)
    if text is None:
        if len(_YMD_TEXT) >= 4096:
            _YMD_TEXT.clear()
        text = _YMD_TEXT[day] = day.strftime("%Y%m%d")
    return text


# A transaction's claims share its Envelope object: its record is made once, looked up by
# identity (hashing the attrs value per claim cost more than the lookup saves).
_ENVELOPES: dict[int, tuple[m.Envelope, tuple[str | None, str | None, str | None]]] = {}


def _envelope_record(env: m.Envelope) -> tuple[str | None, str | None, str | None]:
    hit = _ENVELOPES.get(id(env))
    if hit is not None and hit[0] is env:
        return hit[1]
    if len(_ENVELOPES) > 64:
        _ENVELOPES.clear()
    record = (env.interchange_control, env.group_control, env.transaction_control)
    _ENVELOPES[id(env)] = (env, record)
    return record
