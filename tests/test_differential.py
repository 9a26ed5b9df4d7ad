"""The fast structural checker against pyx12 (StructuralChecker) on the same token streams.

Generated files with varied options, each with every synthetic mutation and some of our own
(deleted, duplicated, swapped segments; blanked or junk elements), plus every sample and the
public corpus: both checkers must report the same findings at the same places.
"""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from x12dental import faststructure, synthetic
from x12dental.faststructure import FastStructuralChecker
from x12dental.findings import ClaimContext, Finding
from x12dental.mapper import ModelBuilder
from x12dental.structure import StructuralChecker
from x12dental.tokenizer import Tokenizer, UnreadableInput

from .conftest import CORPUS

ROOT = Path(__file__).resolve().parent.parent
BASE_FILES = 100  # x (1 clean + 10 synthetic mutations + 5 of ours) = 1,600 files
JUNK = ("", "X", "9999999999999999999999999999999999999999", "ÄÖ", "-1.5", "20261399", "ZZ")

Key = tuple[object, ...]


def _key(f: Finding) -> Key:
    ack = f.ack
    return (
        f.rule,
        f.severity,
        f.location.segment_id,
        f.location.segment_position,
        f.element,
        f.location.transaction_control,
        ack.level if ack else None,
        ack.code if ack else None,
    )


def findings(checker: type[StructuralChecker], data: bytes) -> list[Key]:
    """Run one checker the way pipeline.check_stream does; tokenizer findings are left out."""
    out: list[Finding] = []
    builder = ModelBuilder(lambda c: None, lambda t: None, lambda g: None, lambda i: None)

    def context() -> ClaimContext:
        return ClaimContext(builder.claim_id, builder.line_number, builder.procedure)

    chk = checker(out.append, context)
    crash: list[Key] = []
    try:
        for tok in Tokenizer(io.BytesIO(data), lambda f: None):
            builder.feed(tok)
            chk.feed(tok)
        builder.finish()
        chk.finish()
    except UnreadableInput:
        pass
    return [_key(f) for f in out] + crash


def _options(rng: random.Random) -> synthetic.GenOptions:
    seps = rng.choice(
        [
            synthetic.Delimiters(),
            synthetic.Delimiters(element="|", component=">", repetition="^", segment="~"),
            synthetic.Delimiters(element="^", component=":", repetition="!", segment="~"),
            synthetic.Delimiters(element="*", component="<", repetition="{", segment="'"),
        ]
    )
    line_break = rng.choice(["\n", "", "\r\n"])
    interchanges, groups, transactions = (
        rng.choice([1, 1, 1, 2]),
        rng.choice([1, 1, 2]),
        rng.choice([1, 1, 2]),
    )
    return synthetic.GenOptions(
        claims=rng.randint(interchanges * groups * transactions, 8),
        max_lines=rng.randint(1, 8),
        delimiters=seps,
        line_break=line_break,
        dependent_share=rng.choice([0.0, 0.3, 1.0]),
        interchanges=interchanges,
        groups=groups,
        transactions=transactions,
        notes=rng.random() < 0.7,
        prior_auth=rng.random() < 0.7,
        attachments=rng.random() < 0.7,
        implants=rng.random() < 0.7,
    )


def _segments(text: str) -> tuple[list[str], str, str]:
    """Split a generated file into its segments (with their line breaks)."""
    element, seg_term = text[3], text[105]
    parts = text.split(seg_term)
    return [p + seg_term for p in parts[:-1]] + [parts[-1]], element, seg_term


def _own_mutation(text: str, rng: random.Random, kind: str) -> str:
    segs, element, seg_term = _segments(text)
    body = [i for i in range(1, len(segs)) if segs[i].strip()]
    at = rng.choice(body[:-1])
    if kind == "delete":
        del segs[at]
    elif kind == "duplicate":
        segs.insert(at, segs[at])
    elif kind == "swap":
        segs[at], segs[at + 1] = segs[at + 1], segs[at]
    else:
        core, end = segs[at].split(seg_term)[0], seg_term + segs[at].split(seg_term, 1)[1]
        lead = core[: len(core) - len(core.lstrip())]
        fields = core.lstrip().split(element)
        if len(fields) > 1:
            i = rng.randrange(1, len(fields))
            fields[i] = "" if kind == "blank" else rng.choice(JUNK)
        segs[at] = lead + element.join(fields) + end
    return "".join(segs)


OWN_KINDS = ("delete", "duplicate", "swap", "blank", "junk")


def generated_cases() -> Iterator[tuple[str, str]]:
    for seed in range(BASE_FILES):
        rng = random.Random(seed)
        text = synthetic.generate(seed, _options(rng)).text
        yield f"gen{seed}", text
        for kind in synthetic.MUTATION_KINDS:
            try:
                yield f"gen{seed}-{kind}", synthetic.mutate(text, random.Random(seed), kind).text
            except (ValueError, LookupError):
                continue  # nothing to mutate of that kind in this file
        for kind in OWN_KINDS:
            yield f"gen{seed}-{kind}", _own_mutation(text, random.Random(seed * 31 + 7), kind)


def file_cases() -> list[Path]:
    paths = [p for p in sorted((ROOT / "samples").rglob("*")) if p.is_file()]
    if CORPUS.is_dir():
        paths += [p for p in sorted(CORPUS.rglob("*")) if p.is_file()]
    return [p for p in paths if p.suffix.lower() != ".md"]


def _compare(name: str, data: bytes, failures: list[str]) -> None:
    slow = findings(StructuralChecker, data)
    fast = findings(FastStructuralChecker, data)
    if slow != fast:
        failures.append(
            f"{name}: pyx12 only {[k for k in slow if k not in fast]}; "
            f"fast only {[k for k in fast if k not in slow]}; "
            f"order differs: {sorted(map(repr, slow)) == sorted(map(repr, fast))}"
        )


def _check_all(cases: Iterator[tuple[str, bytes]], minimum: int) -> None:
    failures: list[str] = []
    count = 0
    for name, data in cases:
        _compare(name, data, failures)
        count += 1
    assert count >= minimum
    assert not failures, f"{len(failures)} of {count} files differ:\n" + "\n".join(failures[:20])


def test_generated_and_mutated_files_agree() -> None:
    """At least 1,000 generated and mutated files: same findings from both checkers."""
    _check_all(((n, t.encode()) for n, t in generated_cases()), 1000)


def test_samples_and_corpus_agree() -> None:
    _check_all(((str(p), p.read_bytes()) for p in file_cases()), 3)


def test_own_mutations_change_the_file() -> None:
    text = synthetic.generate(1).text
    for kind in OWN_KINDS:
        assert _own_mutation(text, random.Random(3), kind) != text or kind in ("blank", "junk")


@pytest.mark.parametrize("seed", [0, 1])
def test_fast_checker_finds_what_pyx12_finds_with_accepted_versions(seed: int) -> None:
    text = synthetic.generate(seed).text.encode()
    out: dict[str, list[Key]] = {}
    for cls in (StructuralChecker, FastStructuralChecker):
        got: list[Finding] = []
        chk: Any = cls(got.append, ClaimContext, ("005010X224A1",))
        for tok in Tokenizer(io.BytesIO(text), got.append):
            chk.feed(tok)
        chk.finish()
        out[cls.__name__] = [_key(f) for f in got]
        assert chk.versions_seen
    assert out["StructuralChecker"] == out["FastStructuralChecker"]
    assert out["StructuralChecker"]  # the payer-version finding is there


def test_memos_dropped_where_values_do_not_repeat_change_nothing() -> None:
    """The fast checker stops remembering values of elements where nearly every value is
    new (claim ids, names) and keeps remembering codes and qualifiers. Checked on a file
    long enough for that to happen, with faults put in late, in both kinds of element,
    after the memos were dropped or filled."""
    tables = FastStructuralChecker(lambda f: None, ClaimContext)._tables  # this process's
    for node in tables.by_py.values():  # memos start afresh (they are only caches)
        for memo in (node, *node.elems, *(s for e in node.elems for s in e.subs or ())):
            memo.seen, memo.asked = {}, 0
    text = synthetic.generate(5, synthetic.GenOptions(claims=700, max_lines=2)).text
    segs, element, seg_term = _segments(text)
    faulty = 0
    for at in range(len(segs) * 3 // 4, len(segs)):
        fields = segs[at].split(seg_term)[0].split(element)
        if fields[0].strip() == "CLM" and faulty % 2 == 0:
            fields[1] = "ÄÖ" + fields[1]  # a unique value with a bad character
        elif fields[0].strip() == "NM1" and fields[1] == "QC" and faulty % 2 == 1:
            fields[1] = "ZZ"  # not a code of NM101
        else:
            continue
        faulty += 1
        segs[at] = element.join(fields) + seg_term + segs[at].split(seg_term, 1)[1]
    assert faulty > 20
    data = "".join(segs).encode()
    slow = findings(StructuralChecker, data)
    assert slow == findings(FastStructuralChecker, data)
    assert len(slow) >= faulty

    clm = max((n for n in tables.by_py.values() if n.xid == "CLM"), key=lambda n: n.asked)
    assert clm.seen is None  # every CLM segment is new (subscribers' claims here)
    if faststructure._BY_ELEMENT:  # (from source, a segment pattern checks most elements)
        assert clm.elems[0].seen is None  # and so is every claim id
        nm1 = [e.seen for n in tables.by_py.values() if n.xid == "NM1" for e in n.elems]
        assert any(isinstance(seen, dict) and seen for seen in nm1)  # entity codes
