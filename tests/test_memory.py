"""Memory stays flat with file size: what a run keeps per claim goes to disk past a budget.

No timing here: tracemalloc counts the bytes Python allocates. The budgets (spool items,
spill-map keys, the tokenizer's read size) are lowered so that a small file already runs
past them; the production values only move where the flat part begins.
"""

from __future__ import annotations

import datetime as dt
import gc
import io
import tracemalloc

import pytest

import x12dental.spool as spool
import x12dental.tokenizer as tokenizer
from x12dental.engine import default_registry
from x12dental.parallel import JsonReportWriter
from x12dental.pipeline import FileResult, Options, check_bytes
from x12dental.spool import Decoded
from x12dental.synthetic import GenOptions, generate

SMALL = 250


def _file(claims: int) -> bytes:
    options = GenOptions(claims=claims, transactions=max(1, claims // SMALL))
    return generate(7, options).text.encode("latin-1")


def _peak(data: bytes) -> tuple[int, FileResult]:
    gc.collect()
    tracemalloc.start()
    try:
        result = check_bytes(data, "gen.837", Options())
        return tracemalloc.get_traced_memory()[1], result
    finally:
        tracemalloc.stop()


@pytest.fixture
def small_budgets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spool, "MEMORY_ITEMS", 50)
    monkeypatch.setattr(spool, "BLOCK_ITEMS", 32)
    monkeypatch.setattr(spool, "MEMORY_KEYS", 50)
    monkeypatch.setattr(tokenizer, "CHUNK", 1 << 14)


@pytest.mark.usefixtures("small_budgets")
def test_four_times_the_claims_keeps_the_peak_about_flat() -> None:
    default_registry()
    small, big = _file(SMALL), _file(4 * SMALL)
    check_bytes(big)  # fills the structural checker's bounded caches first
    small_peak, small_result = _peak(small)
    big_peak, big_result = _peak(big)
    assert big_result.claims == 4 * small_result.claims == 4 * SMALL
    assert isinstance(big_result.claim_results, Decoded)
    assert big_result.claim_results.on_disk >= 3 * SMALL  # beyond the budget: on disk
    assert len(big_result.claim_results) == 4 * SMALL
    # Held in memory, 1,000 claim results alone would add well over 1 MB.
    assert big_peak < 1.5 * small_peak + 200_000, (small_peak, big_peak)


@pytest.mark.usefixtures("small_budgets")
def test_results_past_the_budgets_are_those_of_an_all_in_memory_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Spilling (claim results, findings, cross-claim state) changes no byte of the verdict."""
    from x12dental.acks import acknowledgments
    from x12dental.report import Report

    data = generate(11, GenOptions(claims=300, transactions=2)).text.encode("latin-1")
    # Checked "in 2001", every date of service is in the future: findings on every claim.
    past = Options(today=dt.date(2001, 1, 1))
    spilled = check_bytes(data, "gen.837", past)
    monkeypatch.setattr(spool, "MEMORY_ITEMS", 10**9)
    monkeypatch.setattr(spool, "MEMORY_KEYS", 10**9)
    held = check_bytes(data, "gen.837", past)
    assert held.claim_results.on_disk == 0  # type: ignore[attr-defined]
    assert len(spilled.findings) > 300
    assert spilled.findings.on_disk > 0  # type: ignore[attr-defined]
    assert list(spilled.findings) == list(held.findings)
    assert list(spilled.claim_results) == list(held.claim_results)
    assert Report((spilled,)).to_json() == Report((held,)).to_json()
    assert Report((spilled,)).to_text() == Report((held,)).to_text()
    assert acknowledgments(spilled) == acknowledgments(held)
    streamed = io.StringIO()
    writer = JsonReportWriter(streamed)
    writer.add(spilled)
    writer.close()
    assert streamed.getvalue() == Report((held,)).to_json()


def test_a_checked_file_leaves_no_cycle_holding_its_state() -> None:
    """Once its result is dropped, a file's rule state goes at once (reference counts),
    not at the next full collection: a batch in one process must not grow file by file."""
    from x12dental.engine import BatchIndex, RuleRunner

    data = generate(3, GenOptions(claims=200)).text.encode()
    check_bytes(data, "warm.837")  # maps loaded first: loading them freezes what exists
    gc.collect()
    gc.disable()
    try:
        result = check_bytes(data, "a.837", Options(today=dt.date(2026, 11, 20)))
        assert result.claims == 200
        result.close()
        del result
        alive = [o for o in gc.get_objects() if isinstance(o, (RuleRunner, BatchIndex))]
        assert alive == []
    finally:
        gc.enable()
