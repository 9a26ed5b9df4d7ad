"""Check one large file on several processes, split by transaction set (ST..SE).

Why this works: a transaction set is checked almost on its own. What crosses set
boundaries is (1) the envelope (ISA/GS/GE/IEA control numbers and counts, duplicate
ST02s), (2) the cross-claim rules, which compare a claim with the same patient's
earlier claims, and (3) the batch rules' end-of-run findings.

How: every part reads the whole file, so segment numbers and file lines are exactly
those of a one-process run, but each part *owns* a contiguous range of sets: it maps
and checks only those; of the other sets it reads just ST and SE (group membership,
GE01 and control-number counts, the map walk in and out of the set's loop), keeping no
finding of theirs. The tokenizer passes over what lies between (Tokenizer.skip: lines
and segments counted, nothing split), so a part's cost is mostly its own sets. Segments outside any set
(ISA, GS, GE, IEA) are checked by every part and their findings kept by part 0 only.
Each kept finding is tagged with the index of the segment that was being read when it
was found, so merging the parts by that index gives the one-process order.

A split result is used only when it is provably the one-process result; otherwise the
file is checked again in one process (`check_split` falls back):
- the envelope is clean: ISA (GS (ST..SE)+ GE)+ IEA with nothing stray, no reading
  problem (text before ISA, truncation), every group one we check;
- no patient has claims in two parts (all built-in cross-claim logic is per patient,
  see engine.patient_key), so every claim sees the same earlier claims;
- every enabled batch rule's state says how parts combine (`split_by`, see
  engine.BatchCheck); a batch rule that does not (a plugin's, say) disables splitting;
- no history store is in use (its reads and writes depend on the order of all files).
"""

from __future__ import annotations

import array
import bisect
import contextlib
import heapq
import io
import multiprocessing
import re
import signal
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

import attrs

from x12dental.engine import RuleRunner, Settings
from x12dental.findings import Finding
from x12dental.spool import Spool, Stored
from x12dental.tokenloop import Part

if TYPE_CHECKING:
    from x12dental.parallel import Job, OnBytes, Plan
    from x12dental.pipeline import FileResult, Options

# Splitting costs every part a scan of the whole file plus a process start: only worth
# it for files of a few MB and up (the 10k-claim benchmark file is 5 MB).
SPLIT_MIN_BYTES = 2_000_000

T = TypeVar("T")
_NO_TAG = sys.maxsize  # a finding found after the last segment


@attrs.frozen
class PartSpec:
    """Part `index` owns the transaction sets numbered first..end-1 (0-based, file order)."""

    index: int
    first: int
    end: int | None  # None: to the end of the file


# ---- finding which sets go to which part ------------------------------------------------------


def _delimiters(head: bytes) -> tuple[bytes, bytes] | None:
    at = head.find(b"ISA")
    if at < 0 or len(head) < at + 106:
        return None
    return head[at + 3 : at + 4], head[at + 105 : at + 106]


def set_offsets(data: bytes) -> list[int]:
    """Byte offsets where transaction sets start (a fast scan, not a parse).

    Only used to balance the parts: the parts number sets by their own tokens, so a
    wrong count here makes the split uneven, never wrong.
    """
    return _scan_offsets(io.BytesIO(data))


_SCAN_CHUNK = 1 << 20
_SCAN_OVERLAP = 64  # a set start cut by a chunk boundary is found in the next chunk


def _scan_offsets(fh: BinaryIO) -> list[int]:
    """set_offsets, read in chunks: a file mapped or read whole would count in this
    process's memory, and a large file is what gets split."""
    head = fh.read(max(_SCAN_CHUNK, 4096))
    found = _delimiters(head[:4096])
    if found is None:
        return []
    sep, term = found
    # What is looked for is term, whitespace, "ST", sep; searched by its rare tail (a
    # literal search in C) and checked backwards: a pattern starting with the terminator
    # was tried at every segment, ~10 ms of the parent's time before the parts start.
    pattern = re.compile(rb"ST" + re.escape(sep))
    offsets: list[int] = []
    base = 0  # file offset of chunk[0]
    chunk = head
    while True:
        for m in pattern.finditer(chunk):
            start = _set_start(chunk, m.start(), term)
            at = base + start
            if start >= 0 and (not offsets or at > offsets[-1]):
                offsets.append(at)
        more = fh.read(_SCAN_CHUNK)
        if not more:
            return offsets
        keep = chunk[-_SCAN_OVERLAP:]
        base += len(chunk) - len(keep)
        chunk = keep + more


_SPACE = frozenset(b" \t\n\r\x0b\x0c")  # what \s matches in a bytes pattern


def _set_start(chunk: bytes, st: int, term: bytes) -> int:
    """Where the match of term, whitespace, ST (ST at `st`) begins in chunk, or -1."""
    j = st
    while j > 0 and chunk[j - 1] in _SPACE:
        j -= 1
    if term[0] in _SPACE:  # a whitespace terminator: the first one of the run starts it
        return chunk.find(term, j, st)
    return j - 1 if j > 0 and chunk[j - 1] == term[0] else -1


def plan_parts(offsets: Sequence[int], size: int, parts: int) -> list[PartSpec]:
    """At most `parts` contiguous, non-empty ranges of sets of about equal bytes."""
    n = min(parts, len(offsets))
    if n < 2:
        return [PartSpec(0, 0, None)]
    ends = [*offsets[1:], size]
    total = ends[-1] - offsets[0]
    bounds = [0]
    for part in range(1, n):
        target = offsets[0] + total * part // n
        # cut before or after the set that crosses the target, whichever is nearer to it
        at = bisect.bisect_left(ends, target)
        before = ends[at - 1] if at > 0 else offsets[0]
        after = ends[min(at, len(ends) - 1)]
        cut = at if target - before <= after - target else at + 1
        cut = max(cut, bounds[-1] + 1)  # every part gets a set...
        cut = min(cut, len(offsets) - (n - part))  # ...and leaves one for each part after it
        bounds.append(cut)
    specs = [PartSpec(k, bounds[k], bounds[k + 1]) for k in range(n - 1)]
    specs.append(PartSpec(n - 1, bounds[-1], None))
    return specs


# ---- one part, inside check_stream -------------------------------------------------------------


class _Tagged(Spool[Finding]):
    """The findings of a part: keeps only its own, each with its segment index."""

    def __init__(self, part: Part) -> None:
        self._part = part
        self.tags = array.array("q")  # 8 bytes a finding, not an int object each
        super().__init__()

    def append(self, finding: Finding) -> None:
        part = self._part
        if not part.feeding:
            # a reading problem or an unclosed envelope: a one-process run decides
            part.anomaly = part.anomaly or "finding outside the segment loop"
            tag = _NO_TAG
        elif not part.keep:
            return
        else:
            tag = part.index
        super().append(finding)
        self.tags.append(tag)

    def extend(self, findings: Iterable[Finding]) -> None:
        for f in findings:
            self.append(f)


# ---- what a part sends back ------------------------------------------------------------------


@attrs.frozen
class PartResult:
    spec: PartSpec
    anomaly: str | None
    findings: Sequence[tuple[int, Finding]]  # (segment index, finding) in found order
    finish: tuple[
        tuple[str, object], ...
    ]  # per enabled batch rule: ("findings", [...]) / ("state", s)
    patients: array.array[int]  # the part's patient hashes, sorted, each once
    checked: int
    result: FileResult


def _split_by(state: object) -> str | None:
    """How a batch state combines across parts (engine.BatchCheck.split_by), or None."""
    how = getattr(type(state), "split_by", None)
    return how if how in ("patient", "summary") else None


def _batch_states(runner: RuleRunner) -> list[tuple[Any, Any]]:
    return list(runner._batch)


def rules_allow_split(settings: Settings) -> bool:
    """Every enabled batch rule is one whose results can be combined across parts."""
    runner = RuleRunner(settings)
    return all(_split_by(state) is not None for _rule, state in _batch_states(runner))


def check_part(
    job: Job, options: Options, spec: PartSpec, on_bytes: OnBytes | None = None
) -> PartResult:
    """Check one part of a file, in this process."""
    from x12dental.parallel import check_job

    part = Part(spec.index, spec.first, spec.end)
    part.findings = tagged = _Tagged(part)
    result = check_job(job, attrs.evolve(options, part=part), on_bytes)
    anomaly = part.anomaly
    if result.status == "unreadable":
        anomaly = anomaly or "unreadable"
    finish: list[tuple[str, object]] = []
    runner = part.runner
    if runner is not None and anomaly is None:
        for rule, state in _batch_states(runner):
            how = _split_by(state)
            if how == "summary":
                finish.append(("state", state.summary()))
            elif how == "patient":
                out: list[Finding] = []
                runner._run(out, rule, None, state.finish, runner.ctx)
                finish.append(("findings", out))
            else:
                anomaly = f"batch rule {rule.id} cannot be split"
    # The part's own findings (graded, in a Spool) are not needed: the tagged ones are.
    if isinstance(result.findings, Spool) and result.findings is not tagged:
        result.findings.close()
    result = attrs.evolve(result, findings=())
    if anomaly is not None:
        # nothing else is needed: the file is checked again in one process
        tagged.close()
        result.close()
        return PartResult(
            spec, anomaly, (), (), array.array("Q"), 0, attrs.evolve(result, claim_results=())
        )
    findings = Spool(zip(tagged.tags, tagged, strict=True))
    tagged.close()
    return PartResult(
        spec, None, findings, tuple(finish), _sorted_once(part.patients), part.checked, result
    )


def _sorted_once(hashes: array.array[int]) -> array.array[int]:
    out = array.array("Q")
    last = None
    for h in sorted(hashes):
        if h != last:
            out.append(h)
            last = h
    return out


def _shared(sorted_hashes: Iterable[array.array[int]]) -> bool:
    """Whether any hash is in two of these (each sorted, each hash once)."""
    last = None
    for h in heapq.merge(*sorted_hashes):
        if h == last:
            return True
        last = h
    return False


# ---- merging ----------------------------------------------------------------------------------


def merge(parts: Sequence[PartResult], options: Options) -> FileResult | None:
    """The one-process FileResult from the parts' results, or None when it cannot be had."""
    from x12dental.pipeline import FileResult, _status

    if any(p.anomaly is not None for p in parts):
        return None
    if _shared(p.patients for p in parts):
        return None  # a patient in two parts: the cross-claim rules need one process
    raw: Spool[Finding] = Spool(
        f for _tag, f in heapq.merge(*(p.findings for p in parts), key=_tag)
    )
    if options.rules and parts[0].finish:
        raw.extend(_finish(parts, options))
    settings = options.settings
    findings = raw
    if settings.severities:
        findings = Spool(f for f in (settings.apply(f) for f in raw) if f is not None)
        raw.close()
    head = parts[0].result
    transactions: list[Any] = []
    for p in parts:
        transactions.extend(p.result.transaction_list)
    return FileResult(
        path=head.path,
        status=_status(findings),
        interchanges=head.interchanges,
        transactions=head.transactions,
        claims=sum(p.result.claims for p in parts),
        service_lines=sum(p.result.service_lines for p in parts),
        findings=findings,
        claim_results=Joined([p.result.claim_results for p in parts]),
        interchange_list=tuple(head.interchange_list),
        groups=tuple(head.groups),
        transaction_list=tuple(transactions),
    )


class Joined(Stored[T]):
    """Sequences one after the other, not copied: the parts' claim results as the file's.

    The parts' Spools (on disk past their memory part) are read where they are; they
    delete their files when this goes (garbage collection), or on close()."""

    def __init__(self, parts: Sequence[Sequence[T]]) -> None:
        self._parts = list(parts)
        self._starts = [0]
        for seq in self._parts:
            self._starts.append(self._starts[-1] + len(seq))

    def __len__(self) -> int:
        return self._starts[-1]

    def __iter__(self) -> Iterator[T]:
        for seq in self._parts:
            yield from seq

    def _item(self, index: int) -> T:
        k = bisect.bisect_right(self._starts, index) - 1
        return self._parts[k][index - self._starts[k]]

    def close(self) -> None:
        for seq in self._parts:
            if isinstance(seq, Spool):
                seq.close()


def _tag(item: tuple[int, Finding]) -> int:
    return item[0]


def _finish(parts: Sequence[PartResult], options: Options) -> Iterator[Finding]:
    """The batch rules' end-of-run findings, rule by rule as RuleRunner.finish gives them."""
    runner: RuleRunner | None = None
    for i, (kind, _value) in enumerate(parts[0].finish):
        if kind == "findings":
            for p in parts:
                yield from p.finish[i][1]  # type: ignore[misc]
            continue
        if runner is None:
            runner = RuleRunner(options.settings, today=options.today)
        rule, state = _batch_states(runner)[i]
        state.absorb([p.finish[i][1] for p in parts])
        out: list[Finding] = []
        runner._run(out, rule, None, state.finish, runner.ctx)
        yield from out


# ---- running the parts -----------------------------------------------------------------------


def _read_offsets(job: Job) -> tuple[list[int], int]:
    if isinstance(job, tuple):
        return set_offsets(job[1]), len(job[1])
    try:
        with job.open("rb") as fh:
            offsets = _scan_offsets(fh)
            return offsets, fh.tell()
    except (OSError, ValueError):
        return [], 0


def split_plan(job: Job, options: Options, workers: int) -> list[PartSpec] | None:
    """The parts to check `job` in, or None when one process is the better (or only) way."""
    if workers < 2 or options.history is not None or options.part is not None:
        return None
    if isinstance(job, Path):
        try:
            if not job.is_file() or job.stat().st_size < SPLIT_MIN_BYTES:
                return None
        except OSError:
            return None
    elif len(job[1]) < SPLIT_MIN_BYTES:
        return None
    offsets, size = _read_offsets(job)
    specs = plan_parts(offsets, size, workers)
    if len(specs) < 2:
        return None
    if options.rules and not rules_allow_split(options.settings):
        return None
    return specs


def _part_work(job: Job, plan: Plan, spec: PartSpec) -> PartResult:
    """In a worker: check the part; its spools go to the parent by file, not by value."""
    done = check_part(job, plan.options(), spec)
    done.result.handover()
    if isinstance(done.findings, Spool):
        done.findings.handover()
    return done


def _context() -> multiprocessing.context.BaseContext:
    """fork where it is safe (Linux, one thread): the part starts with the rules loaded."""
    if sys.platform.startswith("linux") and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _child_part(send: Connection, job: Job, plan: Plan, spec: PartSpec) -> None:
    """A forked part's whole life: check it, send back the result or what went wrong."""
    try:
        payload: tuple[bool, object] = (True, _part_work(job, plan, spec))
    except BaseException as exc:  # raised again in the parent
        payload = (False, exc)
    try:
        send.send(payload)
    except Exception as exc:  # an exception that does not pickle, or the parent is gone
        with contextlib.suppress(Exception):
            send.send((False, RuntimeError(f"a part could not send its result: {exc!r}")))
    finally:
        send.close()


def _run_forked(
    job: Job,
    plan: Plan,
    options: Options,
    specs: list[PartSpec],
    on_bytes: OnBytes | None,
    ctx: multiprocessing.context.BaseContext,
) -> list[PartResult]:
    """Parts 1.. in forked processes, part 0 here; the results in part order.

    A process and a pipe per part rather than a pool: a pool's start (its threads and
    queues) delayed the other parts by ~20 ms, and the slowest part sets the run's time."""
    children: list[tuple[Any, Connection]] = []
    parts: list[PartResult] = []
    try:
        for spec in specs[1:]:
            recv, send = ctx.Pipe(duplex=False)
            proc = ctx.Process(  # type: ignore[attr-defined]
                target=_child_part, args=(send, job, plan, spec), daemon=True
            )
            proc.start()
            send.close()
            children.append((proc, recv))
        parts.append(check_part(job, options, specs[0], on_bytes))
        for proc, recv in children:
            parts.append(_received(proc, recv))
        return parts
    except BaseException:
        _stop(children)
        for p in parts:  # what was received is not used: its spooled files go now
            _close_part(p)
        raise
    finally:
        for proc, recv in children:
            proc.join()
            recv.close()


def _received(proc: Any, recv: Connection) -> PartResult:
    try:
        ok, value = recv.recv()
    except EOFError:
        proc.join()
        from concurrent.futures.process import BrokenProcessPool

        raise BrokenProcessPool(
            f"a process checking part of the file ended unexpectedly (exit code {proc.exitcode})"
        ) from None
    if not ok:
        assert isinstance(value, BaseException)
        raise value
    assert isinstance(value, PartResult)
    return value


def _stop(children: list[tuple[Any, Connection]]) -> None:
    """This process is giving up (an error, SIGTERM): end the parts still running.

    With this process's own SIGTERM handler (the CLI's, which unwinds the run and deletes
    its spooled files), a forked part has it too: SIGTERM ends it cleanly. Without one,
    SIGTERM would end it at once and leave its files behind: let it finish instead, and
    delete what it sends."""
    handled = signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, signal.SIG_IGN, None)
    for proc, recv in children:
        if handled and proc.is_alive():
            proc.terminate()
        with contextlib.suppress(Exception):
            if recv.poll(None if not handled else 0):
                ok, value = recv.recv()
                if ok and isinstance(value, PartResult):
                    _close_part(value)


def _close_part(part: PartResult) -> None:
    with contextlib.suppress(Exception):
        if isinstance(part.findings, Spool):
            part.findings.close()
        part.result.close()


def check_split(
    job: Job,
    plan: Plan,
    workers: int,
    *,
    options: Options | None = None,
    on_bytes: OnBytes | None = None,
    specs: list[PartSpec] | None = None,
) -> FileResult | None:
    """Check one file in parts on `workers` processes (this one included).

    None when the file is not worth splitting (the caller checks it as usual); a result
    equal to a one-process run's otherwise, checking it again in one process when the
    parts cannot give that.
    """
    from x12dental.parallel import check_job

    options = options or plan.options()
    specs = specs or split_plan(job, options, workers)
    if specs is None:
        return None
    ctx = _context()
    if ctx.get_start_method() == "fork":
        # The maps are not loaded before the fork: each part loads its own, at the same
        # time. A part forked with this process's maps ran ~2% slower over the 10k-claim
        # benchmark file: its first touches of the map tables copied their pages.
        parts = _run_forked(job, plan, options, specs, on_bytes, ctx)
    else:
        import concurrent.futures as cf  # spawn only: its import is start-up time for a fork

        with cf.ProcessPoolExecutor(max_workers=len(specs) - 1, mp_context=ctx) as pool:
            futures = [pool.submit(_part_work, job, plan, spec) for spec in specs[1:]]
            try:
                head = check_part(job, options, specs[0], on_bytes)
                parts = [head, *(f.result() for f in futures)]
            finally:
                for f in futures:
                    f.cancel()
    merged = None
    try:
        merged = merge(parts, options)
    finally:
        for p in parts:  # the parts' findings (claim data) go now; their claim results
            if isinstance(p.findings, Spool):  # are the merged result's (Joined)
                p.findings.close()
            if merged is None:
                p.result.close()
    if merged is not None:
        return merged
    return check_job(job, options)
