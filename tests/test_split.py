"""Splitting one file by transaction set (x12dental.split) gives the one-process result.

The parts run in this process here (fast); one test goes through real worker processes.
"Same" means everything a report or acknowledgment reads: findings in order, counts,
status, claim results, envelope lists, the JSON and the 999/TA1/277CA.
"""

from __future__ import annotations

import array
import datetime as dt
import json
import random
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.builders import Claim, Line, build
from tests.strategies import gen_options
from x12dental import split as split_module
from x12dental.acks import acknowledgments
from x12dental.engine import NullHistory, Settings
from x12dental.parallel import Plan, check_many
from x12dental.pipeline import FileResult, Options, check_bytes
from x12dental.split import (
    Joined,
    PartSpec,
    check_part,
    check_split,
    merge,
    plan_parts,
    rules_allow_split,
    set_offsets,
    split_plan,
)
from x12dental.spool import Spool
from x12dental.synthetic import GenOptions, applicable_kinds, generate, mutate

from .conftest import ROOT

TODAY = dt.date(2026, 11, 20)
OPTIONS = Options(today=TODAY)


def _state(r: FileResult) -> dict[str, object]:
    return {
        "json": r.to_json(),
        "claims": list(r.claim_results),
        "interchanges": r.interchange_list,
        "groups": r.groups,
        "transactions": r.transaction_list,
        "acks": acknowledgments(r),
    }


def split_in_process(data: bytes, parts: int, options: Options = OPTIONS) -> FileResult | None:
    specs = plan_parts(set_offsets(data), len(data), parts)
    assert len(specs) >= 2, "the file must have several transaction sets"
    done = [check_part(("f.837", data), options, spec) for spec in specs]
    return merge(done, options)


def assert_split_same(data: bytes, parts: int, options: Options = OPTIONS) -> bool:
    """The merged parts equal one process; False when the parts (rightly) refused."""
    whole = check_bytes(data, "f.837", options)
    merged = split_in_process(data, parts, options)
    if merged is None:
        return False
    assert _state(merged) == _state(whole)
    return True


def sets(*transactions: list[Claim]) -> bytes:
    """One interchange, one group, one transaction set per claim list (tests.builders)."""
    bodies = []
    for k, claims in enumerate(transactions, 1):
        text = build(*claims).decode()
        body = text[text.index("ST*") : text.index("GE*")]
        bodies.append(body.replace("*0001", f"*{k:04d}"))
    head = build(Claim(lines=(Line("D0120"),))).decode()
    head = head[: head.index("ST*")]
    tail = f"GE*{len(bodies)}*101~\nIEA*1*000000101~\n"
    return (head + "".join(bodies) + tail).encode()


def who(i: int) -> dict[str, Any]:
    return {"member_id": f"M{i:08d}", "patient": ("PATIENT", f"P{i}")}


NOTE = "SENSITIVITY EXPOSED DENTIN CERVICAL ABRASION TOOTH 8 FACIAL"


# ---- generated files ------------------------------------------------------------------------


@st.composite
def multi_set_options(draw: st.DrawFn) -> GenOptions:
    """The strategies' knobs (delimiters, line breaks, dependents, implants...), 2-4 sets."""
    opts = draw(gen_options(max_claims=40, max_sets=3))
    transactions = draw(st.integers(2, 4))
    return attrs.evolve(
        opts,
        transactions=transactions,
        claims=max(opts.claims, opts.interchanges * opts.groups * transactions),
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(opts=multi_set_options(), seed=st.integers(0, 2**32 - 1), parts=st.sampled_from((2, 3)))
def test_generated_files_split_the_same(opts: GenOptions, seed: int, parts: int) -> None:
    data = generate(seed, opts).text.encode()
    assert assert_split_same(data, parts)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    opts=multi_set_options(),
    seed=st.integers(0, 2**32 - 1),
    pick=st.integers(0, 2**32 - 1),
    parts=st.sampled_from((2, 3)),
)
def test_mutated_files_split_the_same(opts: GenOptions, seed: int, pick: int, parts: int) -> None:
    text = generate(seed, opts).text
    rng = random.Random(pick)
    kind = rng.choice(applicable_kinds(text))
    data = mutate(text, rng, kind).text.encode()
    assert_split_same(data, parts)  # a refusal is fine here: the caller re-checks


def test_every_mutation_kind_splits_or_refuses_correctly() -> None:
    text = generate(5, GenOptions(transactions=3, claims=30)).text
    split = 0
    for kind in applicable_kinds(text):
        for pick in range(3):
            data = mutate(text, random.Random(pick), kind).text.encode()
            split += assert_split_same(data, 2)
            split += assert_split_same(data, 3)
    assert split > 0


def test_benchmark_shaped_file_splits_and_is_not_a_fallback() -> None:
    data = generate(837, GenOptions(transactions=3, claims=600)).text.encode()
    assert assert_split_same(data, 2)
    assert assert_split_same(data, 3)


# ---- what crosses transaction sets ---------------------------------------------------------


def test_a_patient_in_two_parts_refuses_the_split(merged: list[bool]) -> None:
    same = who(1)
    data = sets(
        [Claim(claim_id="A1", lines=(Line("D1110"),), **same)],
        [Claim(claim_id="A2", lines=(Line("D1110"),), **same)],
    )
    assert split_in_process(data, 2) is None
    # and check_split then gives the one-process result all the same
    r = check_split(
        ("f.837", data), Plan(today=TODAY), 2, specs=plan_parts(set_offsets(data), len(data), 2)
    )
    assert merged == [False]
    assert r is not None and _state(r) == _state(check_bytes(data, "f.837", OPTIONS))


def test_a_patient_in_two_sets_of_one_part_still_splits() -> None:
    same = who(1)
    data = sets(
        [Claim(claim_id="A1", lines=(Line("D1110"),), **same)],
        [Claim(claim_id="A2", lines=(Line("D1110"),), **same)],
        [Claim(claim_id="B1", lines=(Line("D1110"),), **who(2))],
    )
    specs = [PartSpec(0, 0, 2), PartSpec(1, 2, None)]
    done = [check_part(("f.837", data), OPTIONS, s) for s in specs]
    merged = merge(done, OPTIONS)
    assert merged is not None
    assert _state(merged) == _state(check_bytes(data, "f.837", OPTIONS))


def _recall(i: int, d9911: bool) -> Claim:
    lines = [Line("D0120"), Line("D1110")]
    if d9911:
        lines.append(Line("D9911", teeth=(("8", "F"),)))
    return Claim(claim_id=f"R{i}", lines=tuple(lines), notes=(NOTE,), **who(i))


@pytest.mark.parametrize("first_in", [0, 1, 2])
def test_recall_pattern_counts_the_whole_file(first_in: int) -> None:
    """A batch-wide rule: 4 of 6 recall visits with D9911, spread over three parts."""
    groups: list[list[Claim]] = [[], [], []]
    flags = [False] * 6
    for i in range(4):
        flags[(2 * first_in + i) % 6] = True
    for i in range(6):
        groups[i // 2].append(_recall(i, flags[i]))
    data = sets(*groups)
    whole = check_bytes(data, "f.837", OPTIONS)
    hits = [f for f in whole.findings if f.rule == "desensitizing.d9911-recall-pattern"]
    assert len(hits) == 1  # the test means something
    assert assert_split_same(data, 3)
    assert assert_split_same(data, 2)


def test_same_tooth_d9911_findings_at_the_end_in_file_order() -> None:
    def visit(i: int) -> Claim:
        return Claim(
            claim_id=f"T{i}",
            lines=(Line("D2391", teeth=(("8", "M"),)), Line("D9911", teeth=(("8", "F"),))),
            notes=(NOTE,),
            **who(i),
        )

    data = sets([visit(1), visit(2)], [visit(3)], [visit(4), visit(5)])
    whole = check_bytes(data, "f.837", OPTIONS)
    ends = [f for f in whole.findings if f.rule == "desensitizing.d9911-same-tooth-as-restoration"]
    assert len(ends) == 5
    assert assert_split_same(data, 3)
    assert assert_split_same(data, 2)


def test_duplicate_control_numbers_across_parts_are_found() -> None:
    data = (
        sets(
            [Claim(claim_id="A", lines=(Line("D1110"),), **who(1))],
            [Claim(claim_id="B", lines=(Line("D1110"),), **who(2))],
        )
        .replace(b"ST*837*0002", b"ST*837*0001")
        .replace(b"*0002~", b"*0001~")
    )
    whole = check_bytes(data, "f.837", OPTIONS)
    assert any(f.rule == "x12.transaction.duplicate-control" for f in whole.findings)
    assert assert_split_same(data, 2)


@pytest.mark.parametrize("graded", [False, True])
def test_spools_on_disk(monkeypatch: pytest.MonkeyPatch, graded: bool) -> None:
    """Findings and claim results past a Spool's memory part (on disk) survive the merge."""
    monkeypatch.setattr(Spool.__init__, "__kwdefaults__", {"memory": 3, "block": 2})
    data = generate(6, GenOptions(transactions=3, claims=40)).text.encode()
    severities = {"x12.transaction.no-claims": None} if graded else {}
    options = Options(settings=Settings(severities=severities), today=TODAY)
    assert Spool(range(10)).on_disk > 0
    assert len(check_bytes(data, "f.837", options).claim_results) == 40
    assert assert_split_same(data, 2, options)
    assert assert_split_same(data, 3, options)


def test_graded_rules_and_rules_off() -> None:
    data = generate(3, GenOptions(transactions=3, claims=40)).text.encode()
    graded = Options(settings=Settings(severities={"x12.transaction.no-claims": None}), today=TODAY)
    assert assert_split_same(data, 2, graded)
    assert assert_split_same(data, 3, Options(rules=False, today=TODAY))


@pytest.mark.parametrize(
    "damage",
    [
        lambda t: t[: len(t) - 40],  # truncated
        lambda t: "hello\n" + t,  # text before ISA
        lambda t: t.replace("GE*", "XX*1~\nGE*", 1),  # a stray segment between sets
        lambda t: re.sub(r"SE\*\d+\*0002~\n?", "", t),  # a set that never closes
    ],
)
def test_envelope_trouble_refuses_the_split(damage: Callable[[str], str]) -> None:
    text = generate(4, GenOptions(transactions=3, claims=30)).text
    data = damage(text).encode()
    assert split_in_process(data, 2) is None


# ---- through check_many and real processes --------------------------------------------------


@pytest.fixture
def merged(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Records, for each split.merge call in this process, whether the parts were used."""
    import x12dental.split as split

    seen: list[bool] = []
    real = split.merge

    def recording(parts: list[split.PartResult], options: Options) -> FileResult | None:
        result = real(parts, options)
        seen.append(result is not None)
        return result

    monkeypatch.setattr(split, "merge", recording)
    return seen


def test_split_through_worker_processes(tmp_path: Path, merged: list[bool]) -> None:
    data = generate(9, GenOptions(transactions=3, claims=240)).text.encode()
    path = tmp_path / "big.837"
    path.write_bytes(data)
    plan = Plan(today=TODAY)
    specs = plan_parts(set_offsets(data), len(data), 3)
    assert len(specs) == 3
    r = check_split(path, plan, 3, specs=specs)
    assert r is not None and merged == [True]
    assert _state(r) == _state(check_bytes(data, str(path), OPTIONS))


def test_check_many_splits_only_big_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import x12dental.split as split

    data = generate(9, GenOptions(transactions=2, claims=60)).text.encode()
    path = tmp_path / "f.837"
    path.write_bytes(data)
    assert split_plan(path, OPTIONS, 2) is None  # small: not worth two processes
    monkeypatch.setattr(split, "SPLIT_MIN_BYTES", 0)
    assert split_plan(path, OPTIONS, 2) is not None
    assert split_plan(path, OPTIONS, 1) is None
    assert split_plan(path, Options(history=NullHistory(), today=TODAY), 2) is None
    [r] = check_many([path], Plan(today=TODAY), 2)
    assert _state(r) == _state(check_bytes(data, str(path), OPTIONS))


def test_plan_parts_balances_bytes() -> None:
    assert plan_parts([10], 100, 2) == [PartSpec(0, 0, None)]
    assert plan_parts([0, 50], 100, 2) == [PartSpec(0, 0, 1), PartSpec(1, 1, None)]
    specs = plan_parts([0, 10, 20, 30, 40, 90], 100, 2)
    assert specs == [PartSpec(0, 0, 4), PartSpec(1, 4, None)]
    specs = plan_parts([0, 1, 2], 100, 3)
    assert [s.first for s in specs] == [0, 1, 2]


def test_bench_measures_one_file_with_two_workers(tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            *("--sizes", "50", "--pyx12-max", "0", "--batch-files", "0"),
            *("--file-workers", "1,2", "--data", str(tmp_path / "data")),
            *("--out", str(out)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("x12dental: ")  # the build measured comes first
    head = next(i for i, line in enumerate(lines) if line.split()[:2] == ["size", "tool"])
    tools = [line.split()[1] for line in lines[head + 2 : head + 4]]
    assert tools == ["x12dental", "x12dental/w2"]
    rows = json.loads(out.read_text())["rows"]
    assert [r["workers"] for r in rows] == [1, 2]


@pytest.mark.parametrize("fmt", ["json", "text", "html"])
def test_cli_reports_and_acks_same_with_a_split(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    merged: list[bool],
    fmt: str,
) -> None:
    import x12dental.split as split
    from x12dental.cli import main

    monkeypatch.setattr(split, "SPLIT_MIN_BYTES", 0)
    text = generate(12, GenOptions(transactions=3, claims=60)).text
    path = tmp_path / "f.837"
    path.write_text(text.replace("*11:B:1*", "*11:X:1*", 1))  # one error, for the 999
    outs = []
    for workers in ("1", "2"):
        acks = tmp_path / f"acks{workers}"
        code = main(
            ["check", "--format", fmt, "--workers", workers, "--ack-dir", str(acks), str(path)]
        )
        out, _err = capsys.readouterr()
        outs.append((code, out, {p.name: p.read_text() for p in sorted(acks.iterdir())}))
    assert merged == [True]  # the second run was split
    assert outs[0] == outs[1]
    assert outs[0][2]  # acknowledgments were written


def test_joined_reads_like_one_sequence() -> None:
    joined = Joined([Spool(range(3)), (), [3, 4], Spool(range(5, 9))])
    assert len(joined) == 9 and list(joined) == list(range(9)) == joined
    assert [joined[i] for i in range(-9, 9)] == [*range(9), *range(9)]
    assert joined[2:6] == [2, 3, 4, 5]
    with pytest.raises(IndexError):
        joined[9]


def test_split_with_spawned_workers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, merged: list[bool]
) -> None:
    """macOS and Windows (and any threaded caller) start parts with spawn: same result."""
    import multiprocessing

    import x12dental.split as split

    monkeypatch.setattr(split, "_context", lambda: multiprocessing.get_context("spawn"))
    data = generate(10, GenOptions(transactions=2, claims=80)).text.encode()
    specs = plan_parts(set_offsets(data), len(data), 2)
    r = check_split(("f.837", data), Plan(today=TODAY), 2, specs=specs)
    assert r is not None and merged == [True]
    assert _state(r) == _state(check_bytes(data, "f.837", OPTIONS))


def test_batch_states_say_how_parts_combine() -> None:
    """engine.BatchCheck.split_by: declared by every built-in batch rule; a state that
    declares nothing (a plugin's, say) or something unknown keeps the file in one process."""
    from x12dental.engine import RuleRunner
    from x12dental.split import _split_by

    runner = RuleRunner(Settings())
    states = [state for _rule, state in runner._batch]
    assert states and all(_split_by(s) in ("patient", "summary") for s in states)
    assert rules_allow_split(Settings())

    class Silent:
        pass

    class Odd:
        split_by = "transaction"

    assert _split_by(Silent()) is None
    assert _split_by(Odd()) is None


def test_patients_in_two_parts_are_found_by_hash() -> None:
    from x12dental.split import _shared, _sorted_once
    from x12dental.tokenloop import patient_hash

    a = _sorted_once(array.array("Q", [patient_hash(k) for k in ("P1", "P2", "P2", "P3")]))
    b = _sorted_once(array.array("Q", [patient_hash(k) for k in ("P4", "P5")]))
    c = _sorted_once(array.array("Q", [patient_hash("P3")]))
    assert len(a) == 3 and list(a) == sorted(a)
    assert not _shared([a, b])
    assert _shared([a, b, c])
    assert _shared([b, c, a])
    assert patient_hash("P1") != patient_hash("P2")


@pytest.mark.parametrize("chunk", [100, 333, 4096])
def test_set_offsets_read_in_chunks_find_every_set(
    monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    data = sets(*([Claim(lines=(Line("D1110"),), **who(i))] for i in range(12)))
    want = [m.start() for m in re.finditer(rb"~\s*ST\*", data)]
    assert len(want) == 12
    monkeypatch.setattr(split_module, "_SCAN_CHUNK", chunk)
    assert set_offsets(data) == want


def _offsets_by_regex(data: bytes) -> list[int]:
    """The scan as first written: one pattern from the terminator on (the reference)."""
    found = split_module._delimiters(data[:4096])
    if found is None:
        return []
    sep, term = found
    pattern = re.compile(re.escape(term) + rb"\s*ST" + re.escape(sep))
    return [m.start() for m in pattern.finditer(data)]


_PIECES = st.sampled_from(
    [b"ST*", b"~", b"\n", b"\r\n", b" ", b"ST", b"*", b"CLM*1", b"~ST*", b"\nST*", b"~\n ST*"]
)


@settings(max_examples=300, deadline=None)
@given(
    body=st.lists(_PIECES, max_size=60).map(b"".join),
    term=st.sampled_from([b"~", b"\n", b"!"]),
)
def test_the_set_scan_finds_what_the_reference_pattern_finds(body: bytes, term: bytes) -> None:
    isa = b"ISA*" + b"*".join([b"00"] * 15) + b"*:" + term
    isa = isa[:105].ljust(105, b"0") + term
    data = isa + body.replace(b"~", term) + term + b"ST*837" + term
    assert split_module.set_offsets(data) == _offsets_by_regex(data)


def _three_parts(tmp_path: Path) -> tuple[Path, list[split_module.PartSpec]]:
    data = generate(9, GenOptions(transactions=3, claims=240)).text.encode()
    path = tmp_path / "big.837"
    path.write_bytes(data)
    return path, plan_parts(set_offsets(data), len(data), 3)


def _no_spooled_files(tmp: Path) -> bool:
    return not any(tmp.glob("x12dental-spool-*"))


def _forking(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parts in forked processes (they see this process's monkeypatches), even when an
    earlier test left a thread running (split then spawns, to be safe)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("parts are forked on Linux only")
    import multiprocessing

    monkeypatch.setattr(split_module, "_context", lambda: multiprocessing.get_context("fork"))


def test_a_failing_part_fails_the_check_and_leaves_no_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _forking(monkeypatch)
    path, specs = _three_parts(tmp_path)
    spool_dir = tmp_path / "tmp"
    spool_dir.mkdir()
    monkeypatch.setenv("TMPDIR", str(spool_dir))
    monkeypatch.setattr("tempfile.tempdir", None)
    real = split_module._part_work

    def failing(job: Any, plan: Plan, spec: split_module.PartSpec) -> Any:
        if spec.index == 2:
            raise ValueError("part 2 broke")
        return real(job, plan, spec)

    monkeypatch.setattr(split_module, "_part_work", failing)  # the forked parts see it too
    with pytest.raises(ValueError, match="part 2 broke"):
        check_split(path, Plan(today=TODAY), 3, specs=specs)
    assert _no_spooled_files(spool_dir)


def test_a_part_process_that_dies_is_reported(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import os
    from concurrent.futures.process import BrokenProcessPool

    _forking(monkeypatch)
    path, specs = _three_parts(tmp_path)

    def dying(job: Any, plan: Plan, spec: split_module.PartSpec) -> Any:
        os._exit(3)

    monkeypatch.setattr(split_module, "_part_work", dying)
    with pytest.raises(BrokenProcessPool, match="exit code 3"):
        check_split(path, Plan(today=TODAY), 3, specs=specs)
