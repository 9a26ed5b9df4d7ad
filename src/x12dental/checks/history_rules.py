"""Rules that look back across batches: duplicates and implant sequencing against the history.

They read the claim-history store through `ctx.history` (`x12dental check --history DB`).
The duplicate rule also compares the claims of one file with each other, so it works
without a store; the D6011 rule needs a store, because "no placement on file" means
nothing when no file is kept. Identity of a claim is `history.claim_content_hash`, the
same function the recorder stores, so what is flagged and what is stored agree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import ClassVar

from x12dental import model as m
from x12dental import spool
from x12dental.checks.implant import implant_data
from x12dental.claimidentity import (
    ContentKey,
    claim_content_hash,
    claim_content_key,
    content_key_hash,
)
from x12dental.engine import (
    BatchCheck,
    Hit,
    NullHistory,
    RuleContext,
    Settings,
    batch_rule,
    line_date,
    line_rule,
    line_teeth,
)
from x12dental.narrative import claim_narrative, find_codes, find_dates
from x12dental.spool import SpillMap

UNCOVERING = "D6011"
WINDOW_PARAM = "duplicate_window_days"  # rule pack parameter: days an identical claim counts
DEFAULT_WINDOW = 30


def duplicate_window(ctx: RuleContext) -> int | None:
    """The pack's duplicate window in days (default 30); None when a pack turns it off (< 0)."""
    value = ctx.settings.param(WINDOW_PARAM, DEFAULT_WINDOW)
    days = int(value) if value is not None else DEFAULT_WINDOW
    return days if days >= 0 else None


def _where(line: int | None) -> str:
    return f" (CLM at line {line})" if line is not None else ""


class _Duplicates:
    """Content hashes of this file's claims, then the history's, for one run."""

    # engine.BatchCheck: a duplicate is the same patient's claim
    split_by: ClassVar[str] = "patient"

    def __init__(self) -> None:
        # Only what a finding quotes (CLM01, CLM file line): claims are not kept alive.
        # One entry per claim: on disk past the SpillMap's memory budget.
        self.seen: SpillMap[tuple[str, int | None]] = SpillMap()
        # Without a store the claims are only compared with each other: while they fit in
        # memory they are kept by content key (equal keys, equal hashes), which spares
        # writing and hashing each claim's content; None once they are kept by hash in
        # `seen` (a store to ask, or more claims than memory holds).
        self._keys: dict[ContentKey, tuple[str, int | None]] | None = {}
        self._memory = spool.MEMORY_KEYS  # (read now: tests lower it)
        # The window (days, None: off) and the first day it covers, for the run's settings
        # and today: worked out once rather than per claim.
        self._for: tuple[Settings, dt.date] | None = None
        self._window: tuple[int, dt.date] | None = None

    def observe(self, claim: m.Claim, ctx: RuleContext) -> Iterable[Hit]:
        if not claim.lines:
            return ()
        keys = self._keys
        digest: str | None = None
        if keys is not None and type(ctx.history) is NullHistory:
            content = claim_content_key(claim, ctx.patient)
            if content is not None:
                first = keys.get(content)
                if first is not None:
                    return self._repeated(claim, first)
                if len(keys) < self._memory:
                    keys[content] = (claim.claim_id, claim.where.file_line)
                    return self._window_of(ctx)
                digest = content_key_hash(content)
            self._by_hash()
        elif keys is not None:
            self._by_hash()
        if digest is None:
            digest = claim_content_hash(claim, ctx.patient)
        first = self.seen.get(digest)
        if first is not None:
            return self._repeated(claim, first)
        self.seen.put(digest, (claim.claim_id, claim.where.file_line))
        self._window_of(ctx)
        if self._window is None or type(ctx.history) is NullHistory:
            return ()  # off, or no store: NullHistory has seen nothing
        window, since = self._window
        if not ctx.history.claim_seen(digest, since):
            return ()
        return (
            Hit(
                f"claim {claim.claim_id} is identical to a claim already sent in the last "
                f"{window} days (claim history): the same patient, procedures, teeth, surfaces "
                "and dates of service; the payer will deny it as a duplicate"
            ),
        )

    def _by_hash(self) -> None:
        """From now on claims are kept by hash: the ones kept by key move to `seen`, in order."""
        keys = self._keys
        self._keys = None
        for content, first in (keys or {}).items():
            self.seen.put(content_key_hash(content), first)

    def _window_of(self, ctx: RuleContext) -> tuple[()]:
        """Work out the duplicate window for the run's settings and today (once): a pack
        value that is no number fails here, for every claim that is no repeat, as always."""
        held = self._for
        if held is None or held[0] is not ctx.settings or held[1] != ctx.today:
            days = duplicate_window(ctx)
            self._window = (days, ctx.today - dt.timedelta(days=days)) if days is not None else None
            self._for = (ctx.settings, ctx.today)
        return ()

    @staticmethod
    def _repeated(claim: m.Claim, first: tuple[str, int | None]) -> tuple[Hit]:
        first_id, first_line = first
        which = (
            "an earlier claim with the same claim id"
            if first_id == claim.claim_id
            else f"claim {first_id}"
        )
        return (
            Hit(
                f"claim {claim.claim_id} repeats {which} in this file{_where(first_line)}: "
                "the same patient, procedures, teeth, surfaces and dates of service; the "
                "payer pays one and denies the other as a duplicate"
            ),
        )

    def finish(self, ctx: RuleContext) -> Iterator[Hit]:
        return iter(())


@batch_rule(
    "history.duplicate-claim",
    snip=7,
    severity="warning",
    summary="the claim repeats one earlier in the file, or one sent within the duplicate window "
    "(30 days by default)",
    fix="Do not resend a claim the payer has; to change one, send a replacement (CLM05-3 = 7) "
    "or a void (8) with the payer's claim number in REF*F8.",
)
def duplicate_claim() -> BatchCheck:
    """A claim identical to one already sent is denied as a duplicate.

    Why: payers pay a service once. A second claim for the same patient, procedures, teeth,
    surfaces and dates of service is denied as a duplicate (CARC 18), and repeated
    duplicates look like a billing-system problem to the payer. It happens when a batch is
    uploaded twice, when a practice system resends a claim it thinks failed, or when the
    same visit is entered twice.

    What counts as identical: `x12dental.history.claim_content_hash`, the patient and the
    services (procedure, units, areas, teeth and surfaces, date of service) plus the claim's
    frequency code and predetermination flag. CLM01 and charges are left out: a resent claim
    with a new claim number or a changed fee is still the same service. Compared with the
    earlier claims of the same file, and, with a claim-history store
    (`check --history DB`), with the claims recorded in the last N days (rule pack
    parameter `duplicate_window_days`, 30 by default) that were not rejected, replaced or
    voided.

    Example: the batch sent yesterday is sent again today; every claim of it is flagged the
    second time.

    Instead: check the payer's status (277CA, remittance) before resending. To correct a
    claim, send a replacement (`CLM*...*11:B:7`) with the payer's claim number in
    `REF*F8`; to withdraw one, a void (`11:B:8`).
    """
    return _Duplicates()


@line_rule(
    "history.d6011-no-earlier-placement",
    snip=6,
    severity="warning",
    codes={UNCOVERING},
    summary="D6011 on a tooth with no D6010 placement in the claim history, and no placement "
    "named in the narrative",
    fix="Name the placement in the narrative (NTE*ADD*D6010 PLACED #8 ON 03/14/2026, or placed "
    "by another office), or check that the tooth number is the implant's site.",
)
def d6011_no_earlier_placement(
    line: m.ServiceLine, claim: m.Claim, ctx: RuleContext
) -> Iterator[Hit]:
    """D6011 uncovers an implant placed earlier: the history should show the placement.

    Why: second-stage access is only payable after a first-stage placement (D6010) on the
    same site. A payer compares the D6011 with its own claim history for the patient; when
    no placement is on file (placed by another office, before the plan covered the patient,
    or the tooth number on one of the claims is wrong) the claim is pended or denied unless
    the narrative explains where and when the implant was placed.

    Only with a claim-history store (`check --history DB`): without one, an absent
    placement proves nothing. What counts as a placement: a D6010 (rules/implant.toml
    `codes.placement`) on the same tooth for the same patient, on or before the D6011 date,
    in the history (claims not rejected), earlier in this file or on this claim. What
    counts as naming it: the narrative gives a date before the D6011 date of service, or a
    placement code. Same-day placement and uncovering is an error of its own
    (implant.placement-and-uncovering-same-day).

    Example: D6011 on #8 dated 09/10/2026 for a patient whose history has no D6010 on #8,
    and `NTE*ADD*HEALING ABUTMENT PLACED~`.

    Instead: `NTE*ADD*D6010 PLACED #8 ON 03/14/2026 BY DR LEE (OTHER OFFICE)~`, or correct
    the tooth number if the implant is on another site.
    """
    if isinstance(ctx.history, NullHistory) or claim.frequency == "8":
        return
    teeth = list(dict.fromkeys(line_teeth(line)))
    if not teeth:
        return  # implant.d6011-no-tooth
    placement = implant_data().placement
    day = line_date(line, claim)
    text = claim_narrative(claim)
    if any(code in placement for code in find_codes(text)):
        return
    if any(day is None or named < day for named in find_dates(text)):
        return

    def in_time(other: dt.date | None) -> bool:
        return other is None or day is None or other <= day

    for tooth in teeth:
        if any(
            other.procedure in placement
            and tooth in line_teeth(other)
            and in_time(line_date(other, claim))
            for other in claim.lines
        ):
            continue
        found = [
            rec for rec in ctx.earlier_services(codes=placement, tooth=tooth) if in_time(rec.date)
        ]
        if any(not rec.rejected for rec in found):
            continue
        rejected = (
            f" (a {found[0].code} on #{tooth} was recorded, but on a claim rejected by these "
            "checks)"
            if found
            else ""
        )
        yield Hit(
            f"D6011 on line {line.number} (#{tooth}): the claim history has no implant "
            f"placement on #{tooth} for this patient{rejected}, and the narrative does not "
            "say when or where the implant was placed",
            line=line,
            tooth=tooth,
        )
