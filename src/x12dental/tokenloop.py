"""The token loops of a check: a whole file's, and one part's of a split file.

Every segment of a file passes through one of these loops, ~21 per claim. Interpreted,
the loop itself (the calls into the compiled model builder and structural checker,
their argument parsing, a part's bookkeeping per segment) cost 1.4% of a compiled
one-process run's instructions and 3.1% of a split part's. In a module of their own the compiled build compiles them
(buildinfo.HOT_MODULES), and those calls become direct ones.

Part lives here rather than in x12dental.split for the same reason: its loop reads and
writes its fields for every segment, and split (process start-up, merging) is never
compiled.
"""

from __future__ import annotations

import array
import hashlib
import sys
from collections.abc import Iterable
from typing import Any

from x12dental.engine import RuleRunner
from x12dental.faststructure import FastStructuralChecker
from x12dental.findings import Finding
from x12dental.mapper import ModelBuilder
from x12dental.spool import Spool
from x12dental.tokenizer import Token, Tokenizer

_OUTSIDE = frozenset({"ISA", "GS", "GE", "IEA"})
_ENVELOPE = _OUTSIDE | {"ST", "SE"}


def feed_all(
    tokens: Iterable[Token], builder: ModelBuilder, structure: FastStructuralChecker
) -> None:
    """The token loop of a one-process check (pipeline.check_stream)."""
    for token in tokens:
        builder.feed(token)
        structure.feed(token)


def patient_hash(patient: str) -> int:
    """64 bits of the patient key: what a part keeps per claim to find patients in two
    parts (8 bytes, not a string, so memory stays small on large files). Two patients
    with the same hash look like one: the file is then checked in one process, which is
    slower, never wrong."""
    digest = hashlib.blake2b(patient.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


class Part:
    """What `pipeline.check_stream` needs to check one part (Options.part), and what it found.

    Part `part_index` owns the transaction sets numbered first..end-1 (0-based, file
    order; end None: to the end of the file), as in split.PartSpec.
    """

    # Where the checker's findings go while the part is checked, given by split before
    # the check: a list that keeps only the part's own (split._Tagged), reading
    # `feeding`, `keep` and `index` below as each finding comes.
    findings: Spool[Finding]

    def __init__(self, part_index: int, first: int, end: int | None) -> None:
        self.part_index = part_index
        self.first = first
        self.end = end if end is not None else sys.maxsize  # one past its last set
        self.feeding = False
        self.keep = False  # findings of the segment being read are ours
        self.index = 0  # that segment's index in the file
        self.anomaly: str | None = None
        self.patients = array.array("Q")  # patient_hash of each claim's patient
        self.checked = 0  # claims handed to the rules
        self.runner: RuleRunner | None = None

    def claim_checked(self, patient: str) -> None:
        self.patients.append(patient_hash(patient))
        self.checked += 1

    def run(
        self,
        tokens: Iterable[Token],
        builder: ModelBuilder,
        structure: FastStructuralChecker,
        runner: RuleRunner | None,
    ) -> None:
        """The token loop of check_stream for this part (see x12dental.split)."""
        self.runner = runner
        first = self.first
        end = self.end
        mine_outside = self.part_index == 0
        reader: Any = structure._reader  # pyx12's X12Reader: its LX count crosses sets
        tokenizer = tokens if isinstance(tokens, Tokenizer) else None
        if tokenizer is not None:
            # The segments inside other parts' sets are passed over unread where the
            # tokenizer can (it still gives their ST and SE, numbered as in the file).
            tokenizer.skip = self._not_mine
        lx = 0
        sets = -1
        in_set = owned = False
        last = ""
        for tok in tokens:
            seg = last = tok.seg_id
            self.index = tok.index
            if in_set:
                if seg == "SE":
                    in_set = False
                elif seg in _ENVELOPE:
                    self.anomaly = self.anomaly or f"{seg} inside a transaction set"
                if owned:
                    self.feeding = True
                    builder.feed(tok)
                    structure.feed(tok)
                    self.feeding = False
                elif seg == "CLM":
                    lx = 0
                elif seg == "LX":
                    lx += 1
                elif seg == "SE":
                    # pyx12 numbers LX from the last CLM, even one in an earlier set
                    passed = tokenizer.skipped if tokenizer is not None else None
                    if passed is not None and passed.next_index == tok.index:
                        lx = passed.lx_after_clm + (0 if passed.saw_clm else lx)
                    reader.lx_count = lx
                    self._skip(tok, builder, structure)
                continue
            if seg == "ST":
                sets += 1
                in_set = True
                owned = first <= sets < end
                if not structure.checking:
                    self.anomaly = self.anomaly or "a group that is not checked"
                if not owned:
                    self._skip(tok, builder, structure)
                    lx = reader.lx_count
                    continue
                self.keep = True
            else:
                if seg not in _OUTSIDE:
                    self.anomaly = self.anomaly or f"{seg} outside a transaction set"
                self.keep = mine_outside
            self.feeding = True
            builder.feed(tok)
            structure.feed(tok)
            self.feeding = False
        if in_set or last != "IEA":
            self.anomaly = self.anomaly or "the file does not end with IEA after SE/GE"
        self.keep = mine_outside

    def _not_mine(self, k: int) -> bool:
        return k < self.first or k >= self.end

    def _skip(self, tok: Token, builder: ModelBuilder, structure: FastStructuralChecker) -> None:
        """ST or SE of a set another part owns: read as usual, but keep no finding.

        The model builder lists the set in its group; the structural checker counts it
        (GE01, duplicate ST02) and walks the map into and out of the set's loop, so the
        walk after SE (GE, or the next ST) starts where a one-process run's does. Walking
        SE right after ST finds the whole set missing: those findings are the owner's
        business, and are dropped here.
        """
        self.keep = False
        self.feeding = True
        builder.feed(tok)
        structure.feed(tok)
        self.feeding = False
