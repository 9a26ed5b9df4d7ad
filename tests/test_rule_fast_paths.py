"""The per-claim shortcuts of the rule engine change no finding and no stored value.

Most rules now answer "nothing here" before building anything: the public rule function
checks a cheap necessary condition and otherwise hands over to the original check (kept as
`_<name>_hits`). The claim content hash, the patient key, the batch index and the claim
summaries are written out by hand for speed and compared here with the general code they
replaced. Performance itself is measured with the benchmark, not here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import inspect
import io
import json
import random
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from x12dental import claimidentity, engine, pipeline
from x12dental import model as m
from x12dental.engine import BatchIndex, RuleContext, RuleRunner, line_date, services_of
from x12dental.mapper import ModelBuilder
from x12dental.synthetic import GenOptions, applicable_kinds, generate, mutate
from x12dental.tokenizer import Tokenizer

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
TODAY = dt.date(2026, 11, 23)


def _claims(data: bytes) -> list[m.Claim]:
    claims: list[m.Claim] = []
    builder = ModelBuilder(claims.append)
    try:
        for tok in Tokenizer(io.BytesIO(data), lambda f: None):
            builder.feed(tok)
    except Exception:  # unreadable samples: no claims
        return claims
    builder.finish()
    return claims


_CODES = [
    "D0120",
    "D1110",
    "D2391",
    "D2335",
    "D2740",
    "D2750",
    "D3310",
    "D3330",
    "D4341",
    "D4342",
    "D4910",
    "D6010",
    "D6011",
    "D6057",
    "D7140",
    "D9910",
    "D9911",
    "D9972",
    "D0999",
    "D999",
    "X1234",
]
_TEETH = [str(n) for n in range(1, 33)] + list("ABCKT") + ["51", "99", "08", "#8", "a", ""]


def _scramble(text: str, rng: random.Random) -> str:
    """A generated file with values changed where the dental rules look: codes, teeth,
    surfaces, areas, units, dates, NPIs, ZIP and state codes, birth dates, totals,
    frequencies, relationships, pointers and prior placement dates."""
    segments = text.split("~")
    out = []
    for seg in segments:
        e = seg.split("*")
        tag = e[0].strip()
        r = rng.random()
        if tag == "SV3" and len(e) > 2:
            if r < 0.3 and ":" in e[1]:
                e[1] = e[1].split(":")[0] + ":" + rng.choice(_CODES)
            if rng.random() < 0.1:
                e[2] = str(round(float(e[2] or 0) + 1, 2))
            while len(e) < 12:
                e.append("")
            if rng.random() < 0.15:
                e[4] = rng.choice(["10", "20", "30", "40", "01", "03", "UR", "00", "L"])
            if rng.random() < 0.1:
                e[5] = rng.choice(["I", "R"])
            if rng.random() < 0.1:
                e[6] = rng.choice(["2", "3", "0.5"])
            if rng.random() < 0.1:
                e[11] = rng.choice(["1", "2", "5", "A"])
            seg = "*".join(e).rstrip("*")
        elif tag == "TOO" and len(e) > 2 and r < 0.4:
            e[2] = rng.choice(_TEETH)
            if rng.random() < 0.6:
                surfaces = [rng.choice("MODBLIF") for _ in range(rng.randint(0, 5))]
                e[3:] = [":".join(surfaces)] if surfaces else []
            seg = "*".join(e)
        elif tag == "DTP" and len(e) > 3 and r < 0.2:
            year = rng.choice([2020, 2025, 2026, 2027])
            day = f"{year}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
            if rng.random() < 0.3:
                e[1] = rng.choice(["441", "139", "439"])
            if rng.random() < 0.2:
                e[2], e[3] = "RD8", f"{day}-{year - 1}0101"
            else:
                e[3] = day
            seg = "*".join(e)
        elif tag == "NM1" and len(e) > 9 and e[8] == "XX" and r < 0.2:
            e[9] = e[9][:-1] + str((int(e[9][-1]) + 1) % 10) if e[9][-1:].isdigit() else "1"
            seg = "*".join(e)
        elif tag == "N4" and len(e) > 3 and r < 0.2:
            e[3] = rng.choice(["1234", "123456", "43215-1234", "", "99999", "432151234"])
            e[2] = rng.choice([e[2], "ON", "PQ", "", "OH"])
            if rng.random() < 0.2:
                e[4:] = [rng.choice(["CA", "US", "MX"])]
            seg = "*".join(e)
        elif tag == "DMG" and len(e) > 2 and r < 0.2:
            e[2] = rng.choice(["20281010", "19000101", "20261001", "20200101"])
            seg = "*".join(e)
        elif tag == "CLM" and len(e) > 5:
            if r < 0.15:
                e[2] = str(round(float(e[2] or 0) + 5, 2))
            if rng.random() < 0.15 and e[5].count(":") == 2:
                e[5] = e[5].rsplit(":", 1)[0] + ":" + rng.choice(["7", "8"])
            seg = "*".join(e)
        elif tag == "SBR" and len(e) > 2 and r < 0.15:
            e[2] = rng.choice(["18", "", "19"])
            seg = "*".join(e)
        out.append(seg)
    return "~".join(out)


def _corpus() -> Iterator[m.Claim]:
    rng = random.Random(20261123)
    for path in sorted(SAMPLES.rglob("*.837")):
        yield from _claims(path.read_bytes())
    for seed in range(10):
        text = generate(seed, GenOptions(claims=30)).text
        yield from _claims(text.encode())
        for kind in applicable_kinds(text)[:3]:
            yield from _claims(mutate(text, rng, kind).text.encode())
        for _ in range(3):
            yield from _claims(_scramble(text, rng).encode())


def _split_rules() -> list[tuple[engine.Rule, Any]]:
    """Every built-in rule whose function gives way to an `_<name>_hits` generator."""
    out = []
    for rule in engine.default_registry():
        module = inspect.getmodule(rule.check)
        full = getattr(module, f"_{rule.check.__name__}_hits", None)
        if full is not None:
            out.append((rule, full))
    return out


def _call(full: Any, line: m.ServiceLine | None, claim: m.Claim, ctx: RuleContext) -> list[Any]:
    given_args = {"line": line, "claim": claim, "ctx": ctx}
    if "charge" in inspect.signature(full).parameters:  # balancing.line-adjudication
        if line is None or line.charge is None:
            return []
        given_args["charge"] = line.charge
    names = inspect.signature(full).parameters
    return list(full(**{k: v for k, v in given_args.items() if k in names}))


def test_fast_paths_agree_with_full_checks() -> None:
    """The public rule says exactly what its full check says, on claims that trip it."""
    pairs = _split_rules()
    assert len(pairs) >= 25
    runner = RuleRunner(today=TODAY)
    ctx = runner.ctx
    hits: dict[str, int] = {}
    claims = 0
    for claim in _corpus():
        claims += 1
        engine._LINE_DATES.clear()
        ctx.patient = engine.patient_key(claim)
        ctx.claim = claim
        for rule, full in pairs:
            if rule.scope == "claim":
                calls = [(None, list(rule.check(claim, ctx)))]
            else:
                calls = [(ln, list(rule.check(ln, claim, ctx))) for ln in claim.lines]
            for line, fast in calls:
                slow = _call(full, line, claim, ctx)
                assert fast == slow, (rule.id, claim.claim_id)
                if slow:
                    hits[rule.id] = hits.get(rule.id, 0) + len(slow)
    assert claims > 500
    # the corpus reaches the full checks: a shortcut that dropped hits would show
    assert len(hits) >= 20, sorted(hits)


def test_claim_total_sums_the_lines_as_before() -> None:
    from x12dental.checks.balancing import claim_total

    def reference(claim: m.Claim) -> bool:
        """The old check: does the claim total differ from the sum of readable charges?"""
        if claim.total_charge is None or not claim.lines:
            return False
        charges = [line.charge for line in claim.lines]
        if any(c is None for c in charges):
            return False
        return claim.total_charge != sum((c for c in charges if c is not None), Decimal(0))

    ctx = RuleRunner(today=TODAY).ctx
    flagged = 0
    for claim in _corpus():
        found = list(claim_total(claim, ctx))
        assert bool(found) == reference(claim)
        flagged += bool(found)
    assert flagged > 10


# -- the claim content hash -----------------------------------------------------------------


def _reference_text(claim: m.Claim, key: str) -> bytes:
    """The hashed text as the general JSON encoder writes it (the stored values' definition)."""
    rows = []
    for line in claim.lines:
        day = line_date(line, claim)
        rows.append(
            [
                line.procedure,
                claimidentity._units(line.units),
                "/".join(sorted(line.areas)) if line.areas else "",
                ",".join(sorted(t.number + ":" + "".join(sorted(t.surfaces)) for t in line.teeth))
                if line.teeth
                else "",
                day.isoformat() if day is not None else "",
            ]
        )
    rows.sort()
    payload = ["x12dental.claim/1", key, claim.frequency, claim.predetermination, rows]
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode()


_BASE = _claims((SAMPLES / "clean-batch.837").read_bytes())[0]
_WHERE = m.Where("TOO", 1, 1)
_ANY_TEXT = st.text(max_size=6)
_CODE_TEXT = st.sampled_from(["D2391", "D4341", "", 'a"b', "x\\y", "é", "\x00", "\x7f"]) | _ANY_TEXT


@st.composite
def _lines(draw: st.DrawFn) -> m.ServiceLine:
    teeth = tuple(
        m.ToothInfo("JP", draw(_CODE_TEXT), tuple(draw(st.lists(_CODE_TEXT, max_size=4))), _WHERE)
        for _ in range(draw(st.integers(0, 3)))
    )
    day = draw(st.none() | st.dates(dt.date(1990, 1, 1), dt.date(2030, 12, 31)))
    dates = () if day is None else (m.DateValue("472", "D8", "", day, day, _WHERE),)
    units = draw(st.none() | st.decimals(-5, 99, places=2))
    return attrs.evolve(
        _BASE.lines[0],
        procedure=draw(_CODE_TEXT),
        areas=tuple(draw(st.lists(_CODE_TEXT, max_size=3))),
        teeth=teeth,
        dates=dates,
        units=units,
    )


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(_lines(), max_size=5),
    frequency=_CODE_TEXT,
    predetermination=st.booleans(),
    key=st.sampled_from(["feaf5fc6ebebaa7ad1ad2ccc5dd341ee", 'k"ey', "ü"]),
)
def test_content_hash_is_the_json_encoders(
    lines: list[m.ServiceLine], frequency: str, predetermination: bool, key: str
) -> None:
    claim = attrs.evolve(
        _BASE, lines=tuple(lines), frequency=frequency, predetermination=predetermination
    )
    engine._LINE_DATES.clear()
    expected = _reference_text(claim, key)
    assert claimidentity._content_bytes(claim, key) == expected
    assert claimidentity.claim_content_hash(claim, key) == hashlib.sha256(expected).hexdigest()
    assert (
        claimidentity.claim_content_hash(claim, key) == hashlib.sha256(expected).hexdigest()
    )  # held


def test_content_hash_of_real_claims() -> None:
    compared = 0
    for claim in _corpus():
        engine._LINE_DATES.clear()
        key = engine.patient_key(claim)
        expected = hashlib.sha256(_reference_text(claim, key)).hexdigest()
        assert claimidentity.claim_content_hash(claim, key) == expected
        assert claimidentity.claim_content_hash(claim) == expected
        compared += 1
    assert compared > 500


# -- patient key ----------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(st.text(max_size=8), min_size=5, max_size=5), dependent=st.booleans())
def test_patient_key_upper_cases_each_part(parts: list[str], dependent: bool) -> None:
    payer, member, last, first, birth = parts
    sub = _BASE.subscriber
    assert sub is not None and sub.party is not None and _BASE.payer is not None
    born = m.DateValue("", "D8", birth, None, None, _WHERE)
    person = attrs.evolve(sub.party, last_or_org=last, first=first, id=member)
    claim = attrs.evolve(
        _BASE,
        payer=m.Payer(attrs.evolve(_BASE.payer.party, id=payer)),
        subscriber=attrs.evolve(sub, party=person, birth_date=born),
        patient=m.Patient("3", "19", person, born, "F", _WHERE) if dependent else None,
    )
    text = "|".join(p.strip().upper() for p in (payer, member, last, first, birth))
    assert engine.patient_key(claim) == hashlib.sha256(text.encode()).hexdigest()[:32]


# -- batch index ----------------------------------------------------------------------------


@pytest.mark.parametrize("memory", [None, 3])
def test_batch_index_gives_what_services_of_gives(memory: int | None) -> None:
    index = BatchIndex(memory)
    expected: dict[str, list[engine.ServiceRecord]] = {}
    for claim in _corpus():
        patient = engine.patient_key(claim)
        expected.setdefault(patient, []).extend(services_of(claim, patient))
        index.add(claim, patient)
    assert len(expected) > 100
    some_code = frozenset({"D2391", "D4341", "D9911"})
    for patient, records in expected.items():
        assert list(index.services(patient)) == records
        assert list(index.services(patient, codes=some_code)) == [
            r for r in records if r.code in some_code
        ]
        for tooth in {r.tooth for r in records if r.tooth}:
            assert list(index.services(patient, tooth=tooth)) == [
                r for r in records if r.tooth == tooth
            ]
    index.close()


# -- claim summaries --------------------------------------------------------------------------


def _reference_record(claim: m.Claim) -> tuple[Any, ...]:
    """claim_record as it was written before (min/max of dates, strftime per line)."""
    days = [line_date(ln, claim) for ln in claim.lines]
    span = claim.date("472")
    known = [d for d in days if d is not None]
    if span is not None:
        known += [d for d in (span.start, span.end) if d is not None]
    first = min(known).strftime("%Y%m%d") if known else None
    last = max(known).strftime("%Y%m%d") if known else None
    items = tuple(
        (
            ln.number,
            ln.procedure,
            ln.charge_raw,
            ln.units_raw or "1",
            next((r.value for r in ln.references if r.qualifier == "6R"), None),
            day.strftime("%Y%m%d") if day is not None else first,
        )
        for ln, day in zip(claim.lines, days, strict=True)
    )

    def party(p: m.Party | None) -> tuple[str, ...] | None:
        return None if p is None else (p.last_or_org, p.first, p.id_qualifier, p.id, p.entity_type)

    env, where = claim.envelope, claim.where
    return (
        claim.claim_id,
        (env.interchange_control, env.group_control, env.transaction_control),
        (where.segment_id, where.position, where.file_line),
        claim.total_charge_raw,
        len(claim.lines),
        first,
        last,
        party(claim.billing_provider.party) if claim.billing_provider else None,
        party(claim.subscriber.party) if claim.subscriber else None,
        party(claim.patient.party) if claim.patient else None,
        party(claim.payer.party) if claim.payer else None,
        next((r.value for r in claim.references if r.qualifier == "D9"), None),
        claim.frequency,
        claim.predetermination,
        items,
    )


def test_claim_record_as_before() -> None:
    compared = 0
    for claim in _corpus():
        assert pipeline.claim_record(claim) == _reference_record(claim)
        compared += 1
    assert compared > 500


# -- line rules skipped for lines without the field they need ---------------------------------


def _ungated() -> RuleRunner:
    """Every line rule on every line its code and prefilter allow, whatever the line holds:
    the same rules, none needing a field (copies: the runner may be compiled, no subclass)."""
    registry = engine.Registry()
    for rule in engine.default_registry():
        registry.add(attrs.evolve(rule, needs=None))
    return RuleRunner(registry=registry, today=TODAY)


def test_needs_skip_only_rules_with_nothing_to_say() -> None:
    gated = [r for r in engine.default_registry() if r.needs is not None]
    assert len(gated) >= 8
    ctx = RuleRunner(today=TODAY).ctx
    empty = {"teeth": (), "areas": (), "diagnosis_pointers": (), "adjudications": (), "dates": ()}
    checked = 0
    for claim in _corpus():
        ctx.patient = engine.patient_key(claim)
        ctx.claim = claim
        for line in claim.lines:
            for rule in gated:
                assert rule.needs is not None
                bare = attrs.evolve(line, **{rule.needs: empty.get(rule.needs, "")})
                assert list(rule.check(bare, claim, ctx)) == [], (rule.id, claim.claim_id)
                checked += 1
    assert checked > 5000


def test_needs_change_no_finding() -> None:
    claims = list(_corpus())
    out = []
    for runner in (RuleRunner(today=TODAY), _ungated()):
        found = [f for claim in claims for f in runner.check_claim(claim)]
        out.append(found + runner.finish())
    assert out[0] == out[1]
    assert len(out[0]) > 500


def test_needs_must_name_a_line_field() -> None:
    registry = engine.Registry()

    def rule(line: m.ServiceLine, claim: m.Claim, ctx: RuleContext) -> list[Any]:
        """A rule."""
        return []

    engine.line_rule(
        "t.ok", snip=5, severity="error", summary="s", fix="f", needs="teeth", registry=registry
    )(rule)
    with pytest.raises(engine.RuleError, match="not a service line field"):
        engine.line_rule(
            "t.bad",
            snip=5,
            severity="error",
            summary="s",
            fix="f",
            needs="tooth",
            registry=registry,
        )(rule)
    assert [r.id for r in registry] == ["t.ok"]
