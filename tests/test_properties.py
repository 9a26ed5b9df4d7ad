"""Property tests: generated 837D files check clean; one injected fault is found where it is."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from x12dental.findings import Severity
from x12dental.pipeline import check_bytes
from x12dental.synthetic import MUTATION_KINDS, GenOptions, applicable_kinds, generate, mutate

from .strategies import gen_options

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(options=gen_options(max_claims=12), seed=st.integers(0, 2**32))
def test_generated_file_has_no_structural_finding(options: GenOptions, seed: int) -> None:
    gen = generate(seed, options)
    result = check_bytes(gen.text.encode(), "gen.837")
    structural = [f for f in result.findings if f.snip <= 2]
    assert structural == []
    assert result.status == "accepted"
    assert result.claims == gen.summary.claims
    assert result.service_lines == gen.summary.service_lines
    assert result.transactions == gen.summary.transactions
    assert result.interchanges == gen.summary.interchanges
    assert [c.claim_id for c in result.claim_results] == list(gen.summary.claim_ids)


@SETTINGS
@given(
    options=gen_options(max_claims=6, max_sets=1),
    seed=st.integers(0, 2**32),
    kind=st.sampled_from(MUTATION_KINDS),
)
def test_mutation_is_found_at_its_segment(options: GenOptions, seed: int, kind: str) -> None:
    gen = generate(seed, options)
    if kind not in applicable_kinds(gen.text):
        return
    mut = mutate(gen.text, random.Random(seed), kind)  # type: ignore[arg-type]
    result = check_bytes(mut.text.encode(), "mutated.837")
    errors = [f for f in result.findings if f.severity is Severity.ERROR]
    assert errors, f"{kind} not found"
    assert result.status == "rejected"
    if mut.position is not None:
        at = [f for f in errors if f.location.segment_position == mut.position]
        assert at, (kind, mut.position, [(f.rule, f.location) for f in errors])
        assert all(f.location.transaction_control == mut.st02 for f in at)
    if mut.element is not None and mut.position is not None:
        # A broken qualifier (SV301-1, TOO01) makes pyx12 unable to place the segment at all:
        # then the segment itself is reported, at the same position.
        at = [f for f in errors if f.location.segment_position == mut.position]
        assert any(
            (f.element or "").startswith(mut.element)
            or (f.element is None and f.location.segment_id == mut.segment_id)
            for f in at
        ), (kind, [(f.rule, f.element) for f in errors])


def test_every_claim_found_in_a_large_batch() -> None:
    gen = generate(11, GenOptions(claims=300, transactions=3, keep_claims=True))
    result = check_bytes(gen.text.encode(), "big.837")
    assert result.claims == 300
    assert result.service_lines == gen.summary.service_lines
    assert len({c.claim_id for c in result.claim_results}) == 300
    assert result.findings == ()
