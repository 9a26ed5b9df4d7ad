"""Hypothesis strategies that draw clean generated 837D files and single-fault mutations of them.

Built on `x12dental.synthetic` so that every property test starts from a file known to be clean:
any finding on `generated_files()` is a validator bug, and on `mutated_files()` the validator
should report the one fault the `Mutation` describes.
"""

from __future__ import annotations

import random

import attrs
from hypothesis import assume
from hypothesis import strategies as st

from x12dental.synthetic import (
    DEFAULT_VERSION,
    Delimiters,
    Generated,
    GenOptions,
    Mutation,
    MutationKind,
    applicable_kinds,
    generate,
    mutate,
)

# Separator sets seen in real traffic (`*:^~`, `*>^~`, `|^...`) plus unusual but legal ones, so
# nothing downstream hard-codes `*` and `~`.
DELIMITER_SETS: tuple[Delimiters, ...] = (
    Delimiters("*", ":", "^", "~"),
    Delimiters("*", ">", "^", "~"),
    Delimiters("|", ">", "^", "~"),
    Delimiters("*", ":", "`", "'"),
    Delimiters("+", ":", "^", "!"),
    Delimiters("|", "<", "{", "}"),
)
LINE_BREAKS: tuple[str, ...] = ("", "\n", "\r\n")


@st.composite
def gen_options(
    draw: st.DrawFn,
    *,
    max_claims: int = 24,
    max_sets: int = 2,
    version: str = DEFAULT_VERSION,
) -> GenOptions:
    """Options for small files (fast enough for many examples), with every knob varied."""
    interchanges = draw(st.integers(1, max_sets))
    groups = draw(st.integers(1, max_sets))
    transactions = draw(st.integers(1, max_sets))
    sets = interchanges * groups * transactions
    claims = draw(st.integers(sets, max(sets, max_claims)))
    return GenOptions(
        claims=claims,
        providers=draw(st.none() | st.integers(1, 4)),
        claims_per_provider=draw(st.integers(1, 30)),
        dependent_share=draw(st.sampled_from((0.0, 0.3, 0.5, 1.0))),
        max_lines=draw(st.integers(1, 50)),
        delimiters=draw(st.sampled_from(DELIMITER_SETS)),
        line_break=draw(st.sampled_from(LINE_BREAKS)),
        interchanges=interchanges,
        groups=groups,
        transactions=transactions,
        version=version,
        isa14=draw(st.sampled_from(("0", "1"))),
        usage=draw(st.sampled_from(("T", "P"))),
        control_number=draw(st.none() | st.integers(1, 999_999_000)),
        notes=draw(st.booleans()),
        prior_auth=draw(st.booleans()),
        attachments=draw(st.booleans()),
        claim_dates=draw(st.booleans()),
        line_dates=draw(st.booleans()),
        line_control=draw(st.booleans()),
        implants=draw(st.booleans()),
        keep_claims=True,
    )


@st.composite
def generated_files(
    draw: st.DrawFn, options: st.SearchStrategy[GenOptions] | None = None
) -> Generated:
    """A clean generated file; the seed is drawn so shrinking finds small failing inputs."""
    opts = draw(options if options is not None else gen_options())
    seed = draw(st.integers(0, 2**32 - 1))
    return generate(seed, opts)


@attrs.frozen
class MutatedFile:
    original: Generated
    mutation: Mutation


@st.composite
def mutated_files(
    draw: st.DrawFn,
    kinds: tuple[MutationKind, ...] | None = None,
    options: st.SearchStrategy[GenOptions] | None = None,
) -> MutatedFile:
    """A generated file with exactly one structural fault, of one of `kinds` (default: any)."""
    original = draw(generated_files(options))
    possible = [k for k in applicable_kinds(original.text) if kinds is None or k in kinds]
    # Every file has CLM, SV3, N3, SE and IEA; only a TOO-only request can come up empty.
    assume(possible)
    kind = draw(st.sampled_from(possible))
    seed = draw(st.integers(0, 2**32 - 1))
    return MutatedFile(original, mutate(original.text, random.Random(seed), kind))
