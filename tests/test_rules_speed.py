"""The second round of per-claim shortcuts in the rules gives the answers of the code it replaced.

The in-file duplicate check keeps unhashed content keys when no history store is used, the
claim total is added up without a comprehension, and the D9911 batch states make their
stubs through fast constructors. Each is compared here with the general code (the content
hash, sum() over a list, attrs.evolve), on the shared corpus of real and scrambled claims
and on generated values. Speed itself is measured with the benchmark, not here.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_rule_fast_paths import _BASE, _corpus, _lines
from x12dental import claimidentity, engine, spool
from x12dental import model as m
from x12dental.checks import desensitizing
from x12dental.checks.balancing import claim_total
from x12dental.checks.history_rules import _Duplicates
from x12dental.engine import BatchIndex, NullHistory, RuleContext, Settings

TODAY = dt.date(2026, 11, 23)

# -- the content key: equal keys exactly when equal hashes -----------------------------------


def _key_and_hash(claim: m.Claim, patient: str) -> tuple[claimidentity.ContentKey, str]:
    engine._LINE_DATES.clear()
    key = claimidentity.claim_content_key(claim, patient)
    assert key is not None
    engine._LINE_DATES.clear()
    return key, claimidentity.claim_content_hash(claim, patient)


_FEW = st.sampled_from(["D2391", "D4341", "", "8"])


@st.composite
def _small_claims(draw: st.DrawFn) -> m.Claim:
    """Claims from few values, so that two drawn claims are often the same services."""
    lines = []
    for _ in range(draw(st.integers(0, 3))):
        line = _BASE.lines[0]
        teeth = tuple(
            m.ToothInfo(
                "JP",
                draw(_FEW),
                tuple(draw(st.lists(st.sampled_from("MOD"), max_size=2))),
                line.where,
            )
            for _ in range(draw(st.integers(0, 2)))
        )
        day = draw(st.sampled_from([None, dt.date(2026, 1, 2), dt.date(2026, 1, 3)]))
        dates = () if day is None else (m.DateValue("472", "D8", "", day, day, line.where),)
        lines.append(
            attrs.evolve(
                line,
                procedure=draw(_FEW),
                teeth=teeth,
                dates=dates,
                units=draw(st.sampled_from([None, Decimal("1"), Decimal("1.0"), Decimal("2")])),
                areas=tuple(draw(st.lists(st.sampled_from(["10", "20"]), max_size=2))),
            )
        )
    return attrs.evolve(
        _BASE,
        lines=tuple(lines),
        dates=(),
        frequency=draw(st.sampled_from(["1", "7"])),
        predetermination=draw(st.booleans()),
    )


@settings(max_examples=400, deadline=None)
@given(a=_small_claims(), b=_small_claims(), same_patient=st.booleans())
def test_content_keys_are_equal_exactly_when_hashes_are(
    a: m.Claim, b: m.Claim, same_patient: bool
) -> None:
    key_a, hash_a = _key_and_hash(a, "p1")
    key_b, hash_b = _key_and_hash(b, "p1" if same_patient else "p2")
    assert (key_a == key_b) == (hash_a == hash_b)
    assert claimidentity.content_key_hash(key_a) == hash_a
    assert claimidentity.content_key_hash(key_b) == hash_b


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(_lines(), max_size=4), predetermination=st.booleans())
def test_content_key_hashes_as_the_claim(
    lines: list[m.ServiceLine], predetermination: bool
) -> None:
    claim = attrs.evolve(_BASE, lines=tuple(lines), predetermination=predetermination)
    key, digest = _key_and_hash(claim, "k")
    assert claimidentity.content_key_hash(key) == digest


def test_content_key_of_real_claims() -> None:
    compared = 0
    for claim in _corpus():
        patient = engine.patient_key(claim)
        key, digest = _key_and_hash(claim, patient)
        assert claimidentity.content_key_hash(key) == digest
        compared += 1
    assert compared > 500


def test_no_content_key_for_a_flag_that_is_no_bool() -> None:
    claim = attrs.evolve(_BASE, predetermination=1)
    assert claimidentity.claim_content_key(claim, "k") is None


# -- the duplicate rule: by key (no store) and by hash find the same repeats ----------------


class _Store:
    """A store that has seen nothing: the rule keeps hashes, as with a real store. (Not a
    NullHistory, which the rule asks for by exact type, nor a subclass: it may be compiled.)"""

    def __init__(self) -> None:
        self._nothing = NullHistory()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._nothing, name)


def _duplicate_hits(claims: list[m.Claim], history_: engine.History, memory: int) -> list[str]:
    ctx = RuleContext(Settings(), BatchIndex(), history_, TODAY)
    state = _Duplicates()
    state._memory = memory
    out = []
    for i, claim in enumerate(claims):
        engine._LINE_DATES.clear()
        ctx.patient = engine.patient_key(claim)
        ctx.claim = claim
        out.extend(f"{i}: {hit.message}" for hit in state.observe(claim, ctx))
    return out


def _with_repeats(claims: list[m.Claim], picks: list[int]) -> list[m.Claim]:
    """The claims with some of them sent again (same services, sometimes a new CLM01)."""
    out = list(claims)
    for n, pick in enumerate(picks):
        again = claims[pick % len(claims)]
        out.append(attrs.evolve(again, claim_id=again.claim_id + ("X" if n % 2 else "")))
    return out


@pytest.mark.parametrize("memory", [0, 3, 10**9])
def test_duplicates_by_key_are_those_by_hash(memory: int) -> None:
    claims = list(_corpus())[:400]
    claims = _with_repeats(claims, list(range(0, 400, 7)))
    by_hash = _duplicate_hits(claims, _Store(), 10**9)
    assert len(by_hash) >= 50
    assert _duplicate_hits(claims, NullHistory(), memory) == by_hash


@settings(max_examples=150, deadline=None)
@given(claims=st.lists(_small_claims(), min_size=1, max_size=8), memory=st.integers(0, 4))
def test_duplicates_by_key_are_those_by_hash_on_generated_claims(
    claims: list[m.Claim], memory: int
) -> None:
    assert _duplicate_hits(claims, NullHistory(), memory) == _duplicate_hits(
        claims, _Store(), 10**9
    )


def test_the_duplicate_budget_is_read_when_the_state_is_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(spool, "MEMORY_KEYS", 7)
    assert _Duplicates()._memory == 7


# -- the claim total -----------------------------------------------------------------------


def _total_differs(claim: m.Claim) -> bool:
    """The check as it was: a list of the charges, then sum() from Decimal(0)."""
    if claim.total_charge is None or not claim.lines:
        return False
    charges = [line.charge for line in claim.lines]
    if None in charges:
        return False
    return claim.total_charge != sum((c for c in charges if c is not None), Decimal(0))


_AMOUNTS = (
    st.none()
    | st.decimals(-1000, 1000, places=2)
    | st.sampled_from(
        [
            Decimal("1E+30"),
            Decimal("123456789012345678901234567890.5"),
            Decimal("-0"),
            Decimal("0.001"),
        ]
    )
)


@settings(max_examples=300, deadline=None)
@given(total=_AMOUNTS, charges=st.lists(_AMOUNTS, max_size=4))
def test_claim_total_as_before(total: Decimal | None, charges: list[Decimal | None]) -> None:
    line = _BASE.lines[0]
    claim = attrs.evolve(
        _BASE, total_charge=total, lines=tuple(attrs.evolve(line, charge=c) for c in charges)
    )
    ctx = engine.RuleRunner(today=TODAY).ctx
    found = list(claim_total(claim, ctx))
    assert bool(found) == _total_differs(claim)


# -- D9911 stubs -----------------------------------------------------------------------------


def test_stubs_name_every_model_field(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stub makers list the fields by hand (a fast constructor, not attrs.evolve): a
    field added to the model with a default would otherwise be left at its default in
    every stub, silently, unless a corpus claim happened to set it."""
    claim = next(iter(_corpus()))
    for maker, cls, arg, name in (
        (desensitizing._make_stub_claim, m.Claim, claim, "_new_claim"),
        (desensitizing._make_stub_line, m.ServiceLine, claim.lines[0], "_new_line"),
    ):
        passed: list[str] = []
        monkeypatch.setattr(desensitizing, name, lambda *, _into=passed, **kw: _into.extend(kw))
        maker(arg)
        assert sorted(passed) == sorted(attrs.fields_dict(cls)), cls.__name__


def test_stubs_are_what_attrs_evolve_made() -> None:
    compared = 0
    for claim in _corpus():
        stub = desensitizing._make_stub_claim(claim)
        assert type(stub) is m.Claim
        assert stub == attrs.evolve(
            claim,
            dates=(),
            references=(),
            notes=(),
            attachments=(),
            diagnoses=(),
            tooth_status=(),
            other_payers=(),
            lines=(),
            rendering=None,
            service_facility=None,
            billing_provider=None,
            subscriber=None,
            patient=None,
            payer=None,
        )
        for line in claim.lines:
            stub_line = desensitizing._make_stub_line(line)
            assert type(stub_line) is m.ServiceLine
            assert stub_line == attrs.evolve(
                line, dates=(), references=(), adjudications=(), rendering=None
            )
            compared += 1
    assert compared > 500
