"""Check many inputs on several processes; results come back in input order.

`check_many(jobs, plan, workers)` yields one FileResult per job, in the order of `jobs`,
as soon as it and every job before it are done, so a report can be written file by
file while later files are still being checked. Only a bounded window of jobs is in
flight (a few per worker), so memory stays flat however many files there are.

Workers are separate processes (`ProcessPoolExecutor`): forked on Linux when this
process runs one thread and no history store is in use, so they start with the rules
already loaded (each loads the maps itself); spawned otherwise (macOS, Windows, a store),
which costs each worker the ~0.3 s start-up of a fresh interpreter. Each one calls
`x12dental.pipeline.check_path` exactly as a single-process run would, and sends the
FileResult back pickled (FileResult and all it holds are frozen attrs values). With one
worker or one job, no pool is started at all; by default (no worker count asked for) an
input smaller than POOL_MIN_BYTES in total is checked in this process too, since starting
workers would cost more than they save.

History: an open store cannot cross a process boundary, so a Plan carries the store's
path and each worker opens the store itself once (the store serialises concurrent
writers: one short BEGIN IMMEDIATE transaction per file). Files checked at the same time
by two workers do not see each other's claims in the cross-batch rules; files checked
one after the other do, as in a single-process run.

One file and several workers: a file of a few MB or more with several transaction sets
is split by set across the workers (x12dental.split), with this process checking the
first part; the result is the single-process one, finding for finding. Several files:
each file goes to one worker.
"""

from __future__ import annotations

import collections
import datetime as dt
import io
import json
import os
from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

import attrs

from x12dental import jsontext
from x12dental.engine import History, Settings
from x12dental.pipeline import FileResult, Options, check_path, check_stream

if TYPE_CHECKING:
    import concurrent.futures as cf

# A job is a path on disk, or (name, bytes) for data read already (standard input).
Job = Path | tuple[str, bytes]

OnDone = Callable[[int, FileResult], None]
OnBytes = Callable[[int], None]


class TextIOLike(Protocol):
    def write(self, text: str, /) -> int: ...


@attrs.frozen
class Plan:
    """What every worker needs to build its Options; plain values only, so it pickles."""

    settings: Settings = attrs.field(factory=Settings)
    history: str | None = None  # path of the history store, opened by each worker
    today: dt.date | None = None
    rules: bool = True
    record: bool = True

    def options(self, history: History | None = None) -> Options:
        return Options(
            settings=self.settings,
            history=history,
            today=self.today,
            rules=self.rules,
            record=self.record,
        )


# Starting a worker process (interpreter, imports, rules, map) costs about a second, so
# the default (all cores) checks a small input in this process; asked-for workers are used.
POOL_MIN_BYTES = 4_000_000


def default_workers() -> int:
    return os.cpu_count() or 1


def choose_workers(requested: int | None, total_bytes: int) -> int:
    """`requested` workers when given (>= 1); else all cores, or 1 for a small input."""
    if requested is not None and requested >= 1:
        return requested
    return default_workers() if total_bytes >= POOL_MIN_BYTES else 1


def job_size(job: Job) -> int:
    """Bytes in a job (0 when it cannot be read), for progress estimates."""
    if isinstance(job, tuple):
        return len(job[1])
    try:
        return job.stat().st_size if job.is_file() else 0
    except OSError:
        return 0


class _Counting(io.RawIOBase):
    """A read-only stream that reports how many bytes were read, for in-file progress."""

    def __init__(self, inner: BinaryIO, on_bytes: OnBytes) -> None:
        super().__init__()
        self._inner = inner
        self._on_bytes = on_bytes

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        data = self._inner.read(-1 if size is None else size)
        if data:
            self._on_bytes(len(data))
        return data

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def check_job(job: Job, options: Options, on_bytes: OnBytes | None = None) -> FileResult:
    """One job, in this process; `on_bytes` (optional) hears of each chunk read."""
    if isinstance(job, tuple):
        name, data = job
        stream: BinaryIO = io.BytesIO(data)
        if on_bytes is not None:
            stream = _Counting(stream, on_bytes)  # type: ignore[assignment]
        return check_stream(stream, name, options)
    if on_bytes is None:
        return check_path(job, options)
    try:
        fh = job.open("rb")
    except OSError:
        return check_path(job, options)  # the same "unreadable" result as ever
    with fh:
        return check_stream(_Counting(fh, on_bytes), str(job), options)  # type: ignore[arg-type]


def check_file(job: Job, plan: Plan) -> FileResult:
    """One job with a Plan, history store opened and closed around it.

    A plain top-level function of picklable arguments, for schedulers other than ours
    (Dask, Spark, a job queue): `client.map(check_file, paths, plan=plan)`.
    """
    if plan.history is None:
        return check_job(job, plan.options())
    from x12dental.history import open_history

    store = open_history(plan.history)
    try:
        return check_job(job, plan.options(store))
    finally:
        store.close()


# ---- worker process side --------------------------------------------------------------------

_WORKER_OPTIONS: Options | None = None


def _init_worker(plan: Plan) -> None:
    global _WORKER_OPTIONS
    store = None
    if plan.history is not None:
        from multiprocessing.util import Finalize

        from x12dental.history import open_history

        store = open_history(plan.history)
        Finalize(store, store.close, exitpriority=10)
    _WORKER_OPTIONS = plan.options(store)


def _work(job: Job) -> FileResult:
    assert _WORKER_OPTIONS is not None, "worker not initialised"
    # Spooled findings and claim results travel by file path: the parent takes the files over.
    return check_job(job, _WORKER_OPTIONS).handover()


# ---- the caller's side ----------------------------------------------------------------------


def check_many(
    jobs: Sequence[Job],
    plan: Plan,
    workers: int | None = None,
    *,
    history: History | None = None,
    on_done: OnDone | None = None,
    on_bytes: OnBytes | None = None,
    window: int | None = None,
) -> Generator[FileResult, None, None]:
    """Yield one FileResult per job, in input order.

    `workers` None or < 1 means all cores. `history` is the store this process uses when
    it checks the jobs itself (one worker or one job); workers open `plan.history`.
    `on_done(index, result)` is called as each job finishes (in completion order, from this
    thread); `on_bytes(n)` as bytes are read, only when checking in this process.
    """
    n = workers if workers is not None and workers >= 1 else default_workers()
    if n > 1 and len(jobs) == 1:
        # One file and several workers: split it by transaction set when it pays.
        from x12dental.split import check_split

        options = plan.options(history)
        result = check_split(jobs[0], plan, n, options=options, on_bytes=on_bytes)
        if result is not None:
            if on_done is not None:
                on_done(0, result)
            yield result
            return
    n = min(n, len(jobs))
    if n <= 1:
        options = plan.options(history)
        for i, job in enumerate(jobs):
            result = check_job(job, options, on_bytes)
            if on_done is not None:
                on_done(i, result)
            yield result
        return
    yield from _pooled(jobs, plan, n, on_done, window or 4 * n)


def _pooled(
    jobs: Sequence[Job], plan: Plan, n: int, on_done: OnDone | None, window: int
) -> Iterator[FileResult]:
    # Forked workers start with the rules this process has loaded (a spawned one takes
    # ~0.3 s to start), and load the maps themselves, at the same time (see check_split);
    # a history store is never carried across a fork (SQLite forbids it): spawn then.
    # (Imported here, not at the top: a run in one process, the usual one, has no use for
    # a pool, and importing one is start-up time paid before any work.)
    import concurrent.futures as cf
    import multiprocessing

    from x12dental.split import _context

    ctx = _context() if plan.history is None else multiprocessing.get_context("spawn")
    if ctx.get_start_method() == "fork":
        from x12dental.engine import default_registry

        default_registry()
    with cf.ProcessPoolExecutor(
        max_workers=n, mp_context=ctx, initializer=_init_worker, initargs=(plan,)
    ) as pool:
        todo = iter(enumerate(jobs))
        queue: collections.deque[tuple[int, cf.Future[FileResult]]] = collections.deque()
        pending: dict[cf.Future[FileResult], int] = {}

        def fill() -> None:
            while len(queue) < window:
                try:
                    i, job = next(todo)
                except StopIteration:
                    return
                fut = pool.submit(_work, job)
                queue.append((i, fut))
                pending[fut] = i

        def settle(futs: set[cf.Future[FileResult]]) -> None:
            for fut in futs:
                i = pending.pop(fut, -1)
                if i >= 0 and on_done is not None and fut.exception() is None:
                    on_done(i, fut.result())

        try:
            fill()
            while queue:
                head = queue[0][1]
                if not head.done():
                    done, _ = cf.wait(set(pending), timeout=0.2, return_when=cf.FIRST_COMPLETED)
                    settle(done)
                    continue
                settle({head})
                queue.popleft()
                result = head.result()  # a worker's crash is raised here, not swallowed
                fill()
                yield result
        finally:
            for _, fut in queue:
                fut.cancel()


# ---- writing the JSON report file by file ----------------------------------------------------


class JsonReportWriter:
    """Write the `x12dental.report/1` document one file, and one finding, at a time.

    The output is byte for byte what `Report(files, settings).to_json()` returns for the
    same files in the same order, but only one FileResult is held at a time and its
    findings are read once, as they are written (a spooled file's findings stay on disk):
    the summary is added up as they go by and written at the end.
    """

    def __init__(self, out: TextIOLike, settings: Settings | None = None) -> None:
        from x12dental.report import SCHEMA, Report

        self._out = out
        self._settings = settings or Settings()
        self._count = 0
        self.summary: dict[str, int] = Report((), self._settings).summary()
        out.write("{\n  " + json.dumps("schema") + ": " + json.dumps(SCHEMA, ensure_ascii=False))
        out.write(",\n  " + json.dumps("files") + ": [")

    def add(self, result: FileResult) -> None:
        from x12dental.findings import Severity

        write = self._out.write
        head = jsontext.dumps(result.json_fields(), "    ")
        # `head` ends with "\n    }": the findings list goes in before that brace.
        write(("," if self._count else "") + "\n    " + head[:-6])
        write(",\n      " + json.dumps("findings") + ": ")
        counts = dict.fromkeys(Severity, 0)
        pad = "\n        "
        level = pad[1:]
        opened = False
        for finding in result.findings:
            counts[finding.severity] += 1
            write(("," if opened else "[") + pad + jsontext.dumps(finding.to_json(), level))
            opened = True
        write("\n      ]" if opened else "[]")
        write("\n    }")
        self._count += 1
        summary = self.summary
        summary["files"] += 1
        summary["claims"] += result.claims
        summary["errors"] += counts[Severity.ERROR]
        summary["warnings"] += counts[Severity.WARNING]
        summary["infos"] += counts[Severity.INFO]

    def close(self) -> None:
        self._out.write("\n  ]" if self._count else "]")
        text = jsontext.dumps(self.summary, "  ")
        self._out.write(",\n  " + json.dumps("summary") + ": " + text + "\n}\n")
