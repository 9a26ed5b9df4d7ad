"""Throughput benchmark: x12dental against pyx12's x12n_document on the same generated files.

    python bench/run.py [--sizes 1000,10000,100000] [--pyx12-max 10000] [--workers 1,2]
                        [--file-workers 1,2] [--batch-files 8,32] [--batch-claims 1000]
                        [--repeat N] [--compiled PYTHON] [--data DIR] [--out FILE]

1. Generates seeded 837D files with `x12dental.synthetic.write_interchange` (codes, teeth,
   notes, attachments, dependents; one transaction set per 5,000 claims, as the guide
   recommends) into a cache folder (bench/.data/ by default), reused while the generator
   is unchanged.
2. Byte-compiles x12dental and pyx12 (compileall), as installing a wheel does, so that an
   editable install under PYTHONDONTWRITEBYTECODE does not recompile x12dental's sources in
   every measured process while pyx12 runs from its installed bytecode.
3. Runs each measurement in a fresh Python process, so each peak RSS is that run's alone:
   - x12dental: `python -m x12dental.cli check --format json -o /dev/null --quiet FILE`
     (every rule on), run in-process by the child, which then ends as that command does
     (x12dental.cli.exit_now: no interpreter teardown);
   - pyx12: `x12n_document(params(), FILE, fd_997=None, fd_html=None, map_path=<our map>)`
     with pyx12's logging silenced, only for files of at most --pyx12-max claims.
   With --file-workers 1,2 each file is also checked with `--workers 2` (one file split by
   transaction set across two processes, x12dental.split): tool `x12dental/w2`.
   With --compiled PYTHON, each x12dental run is repeated under that interpreter, which
   must have the compiled build installed (README, "Compiled build"): tools
   `x12dental+mypyc` and `x12dental+mypyc/w2`. The build each interpreter runs is printed.
4. Batch mode: a folder of --batch-files files of --batch-claims claims each, checked with
   `--workers W` for each W of --workers; the speed-up is against the first W. Printed
   with it: what as many copies of a pure-Python loop get done at once, against one (the
   machine's own ceiling for that speed-up at the time of the run). Several file counts
   (--batch-files 8,32) give a table each: a run's start-up (interpreter, imports, rules,
   maps) is paid once whatever the worker count, so the speed-up grows with the batch.

Seconds are wall-clock for the whole child process (interpreter start and imports
included, as a user sees them), the fastest of --repeat runs (runs compared with each
other, such as 1 and 2 workers, are taken in turns); CPU s is the user+system
time of that run's processes (its worker processes included), steadier than wall-clock
on a shared machine; claims/s = claims / seconds; `ratio` on x12dental rows is
x12dental claims/s divided by pyx12 claims/s on the same file (how many times faster);
peak RSS is `resource.getrusage` ru_maxrss in the child (its largest worker process
included in batch mode). --out FILE also writes every row as JSON.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SEED = 837
CLAIMS_PER_TRANSACTION = 5000
COLUMNS = ("size", "tool", "seconds", "CPU s", "claims/s", "ratio", "peak RSS MB")
BATCH_COLUMNS = (
    "files",
    "claims",
    "workers",
    "seconds",
    "CPU s",
    "claims/s",
    "speed-up",
    "peak RSS MB",
)


# ---- the measured child -----------------------------------------------------------------------


def _peak_rss_mb() -> float:
    import resource

    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) * scale / 1e6


def child(tool: str, target: str, workers: str) -> int:
    """Run one measurement in this (fresh) process; print its figures as the last line."""
    start = time.perf_counter()
    ok: bool
    if tool == "pyx12":
        import logging

        logging.disable(logging.CRITICAL)
        import pyx12.params
        import pyx12.x12n_document

        from x12dental.mapfolder import map_folder

        ok = bool(
            pyx12.x12n_document.x12n_document(
                pyx12.params.params(),
                target,
                fd_997=None,
                fd_html=None,
                map_path=str(map_folder()),
            )
        )
        code = 0 if ok else 1
    else:
        from x12dental.cli import exit_now, main

        argv = ["check", "--format", "json", "-o", os.devnull, "--quiet", target]
        code = main([*argv, "--workers", workers])
    elapsed = time.perf_counter() - start
    print("BENCH " + json.dumps({"exit": code, "inner": elapsed, "rss_mb": _peak_rss_mb()}))
    if tool != "pyx12":
        exit_now(0)  # as the `x12dental` command ends (x12dental.cli.run)
    return 0


def _children_cpu() -> float:
    import resource

    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


REPEAT = 1  # runs per measurement (--repeat); the fastest is kept
COMPILED = "x12dental+mypyc"  # tool name of runs under --compiled
COMPILED_PYTHON = sys.executable  # the interpreter given with --compiled


def _python_for(tool: str) -> str:
    return COMPILED_PYTHON if tool.startswith(COMPILED) else sys.executable


def build_of(python: str) -> str:
    """What the interpreter's x12dental runs, from x12dental.buildinfo ('pure Python', ...)."""
    code = "from x12dental import buildinfo; print(buildinfo.describe())"
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"bench: {python} cannot import x12dental:\n{proc.stderr}")
    return proc.stdout.strip()


def measure_each(runs: list[tuple[str, Path, int]]) -> list[dict[str, float]]:
    """For each (tool, file, workers): wall seconds, CPU seconds of the run's processes
    and peak RSS of the fastest of REPEAT runs, taken in turns (a, b, a, b...): a shared
    machine's speed drifts, and turns give each run the same drift."""
    best: list[dict[str, float] | None] = [None] * len(runs)
    for _ in range(REPEAT):
        for i, (tool, target, workers) in enumerate(runs):
            got = _measure_once(tool, target, workers)
            kept = best[i]
            if kept is None or got["seconds"] < kept["seconds"]:
                best[i] = got
    return [b for b in best if b is not None]


def _measure_once(tool: str, target: Path, workers: int) -> dict[str, float]:
    cmd = [_python_for(tool), str(Path(__file__).resolve()), "--child", tool, str(target)]
    cmd += ["--child-workers", str(workers)]
    cpu = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    cpu = _children_cpu() - cpu  # the child and its worker processes
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH ")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"bench: {tool} failed on {target}:\n{proc.stdout}\n{proc.stderr}")
    figures = json.loads(lines[-1][len("BENCH ") :])
    return {"seconds": seconds, "cpu": cpu, "rss_mb": figures["rss_mb"], "exit": figures["exit"]}


# ---- data -------------------------------------------------------------------------------------


def _generator_key() -> str:
    import x12dental
    import x12dental.synthetic as synthetic

    text = Path(synthetic.__file__).read_bytes()
    return f"{x12dental.__version__}-{hashlib.sha256(text).hexdigest()[:12]}"


def ensure_file(folder: Path, claims: int, seed: int = SEED) -> tuple[Path, int]:
    """A generated file of `claims` claims (cached); returns (path, claims in it)."""
    from x12dental.synthetic import GenOptions, write_interchange

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"837d-{claims}-s{seed}.837"
    meta_path = path.with_suffix(".json")
    key = _generator_key()
    if path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("generator") == key:
            return path, int(meta["claims"])
    import random

    transactions = max(1, -(-claims // CLAIMS_PER_TRANSACTION))
    options = GenOptions(claims=claims, transactions=min(transactions, max(claims, 1)))
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="latin-1", newline="") as fp:
        summary = write_interchange(fp, random.Random(seed), options)
    tmp.replace(path)
    meta = {"generator": key, "claims": summary.claims, "segments": summary.segments}
    meta_path.write_text(json.dumps(meta))
    return path, summary.claims


def ensure_batch(folder: Path, files: int, claims: int) -> Path:
    batch = folder / f"batch-{files}x{claims}"
    batch.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        path, _ = ensure_file(folder / "batch-cache", claims, seed=SEED + 1 + i)
        link = batch / f"{i:03d}.837"
        if not link.exists() or link.stat().st_size != path.stat().st_size:
            link.write_bytes(path.read_bytes())
    return batch


# ---- the report -------------------------------------------------------------------------------


def table(columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [
        max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(columns)
    ]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


_SPIN = (
    "import time\n"
    "t = time.perf_counter()\n"
    "x = 0\n"
    "for i in range(8_000_000):\n"
    "    x += i\n"
    "print(time.perf_counter() - t)\n"
)


def parallel_capacity(copies: int) -> float:
    """How many times one process's work `copies` CPU-bound processes get done at once.

    The ceiling of any speed-up with that many workers on this machine right now: on a
    shared or virtual machine two "cores" are often less than twice one (a speed-up
    figure needs that context)."""

    def spin(n: int) -> float:
        procs = [
            subprocess.Popen([sys.executable, "-c", _SPIN], stdout=subprocess.PIPE, text=True)
            for _ in range(n)
        ]
        return max(float(p.communicate()[0]) for p in procs)

    alone = together = float("inf")
    for _ in range(3):  # in turns, the fastest of each
        alone = min(alone, spin(1))
        together = min(together, spin(copies))
    return copies * alone / together


def _compile_sources() -> None:
    """Bytecode for both tools, as an installed package has it (see the module docstring)."""
    import compileall

    import pyx12

    import x12dental

    for package in (x12dental, pyx12):
        compileall.compile_dir(os.path.dirname(str(package.__file__)), quiet=1)


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="1000,10000,100000", help="claims per file, comma-separated")
    p.add_argument("--pyx12-max", type=int, default=10000, help="run pyx12 up to this many claims")
    p.add_argument("--workers", default="1,2", help="batch mode: worker counts to compare")
    p.add_argument(
        "--file-workers",
        default="1",
        help="single files: worker counts to check each file with (>1 splits the file)",
    )
    p.add_argument(
        "--batch-files",
        default="8",
        help="batch mode: files, comma-separated for several batches (0: no batch)",
    )
    p.add_argument(
        "--batch-claims",
        type=int,
        default=0,
        help="claims per batch file (default: 1000, or the smallest --sizes if smaller)",
    )
    p.add_argument(
        "--repeat", type=int, default=1, help="runs per measurement; the fastest is kept"
    )
    p.add_argument(
        "--compiled",
        metavar="PYTHON",
        help="also run x12dental under this interpreter (with the compiled build installed)",
    )
    p.add_argument("--data", type=Path, default=HERE / ".data", help="cache of generated files")
    p.add_argument("--out", type=Path, help="also write every row as JSON here")
    p.add_argument("--child", nargs=2, metavar=("TOOL", "FILE"), help=argparse.SUPPRESS)
    p.add_argument("--child-workers", default="1", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child(args.child[0], args.child[1], args.child_workers)

    global REPEAT, COMPILED_PYTHON
    REPEAT = max(1, args.repeat)
    _compile_sources()
    tools = ["x12dental"]
    print(f"x12dental: {build_of(sys.executable)} ({sys.executable})")
    if args.compiled:
        COMPILED_PYTHON = args.compiled
        build = build_of(args.compiled)
        if not build.startswith("mypyc"):
            raise SystemExit(
                f"bench: --compiled {args.compiled} runs {build}, not the compiled build"
            )
        print(f"{COMPILED}: {build} ({args.compiled})")
        tools.append(COMPILED)
    sizes = _ints(args.sizes)
    rows: list[tuple[str, ...]] = []
    records: list[dict[str, Any]] = []
    for size in sizes:
        path, claims = ensure_file(args.data, size)
        file_counts = _ints(args.file_workers)
        variants = [(t, w) for t in tools for w in file_counts]
        runs = [(t, path, w) for t, w in variants]
        if claims <= args.pyx12_max:
            runs.insert(0, ("pyx12", path, 1))
        measured = measure_each(runs)  # in turns: the ratio compares like with like
        theirs = measured.pop(0) if claims <= args.pyx12_max else None
        if theirs is not None:
            theirs_rate = claims / theirs["seconds"]
            rows.append(
                (
                    f"{claims:,}",
                    "pyx12",
                    f"{theirs['seconds']:.2f}",
                    f"{theirs['cpu']:.2f}",
                    f"{theirs_rate:,.0f}",
                    "-",
                    f"{theirs['rss_mb']:.0f}",
                )
            )
            records.append({"mode": "file", "claims": claims, "tool": "pyx12", **theirs})
        for (name, workers), ours in zip(variants, measured, strict=True):
            ours_rate = claims / ours["seconds"]
            ratio = f"{ours_rate / theirs_rate:.1f}x" if theirs is not None else "-"
            tool = name if workers == 1 else f"{name}/w{workers}"
            rows.append(
                (
                    f"{claims:,}",
                    tool,
                    f"{ours['seconds']:.2f}",
                    f"{ours['cpu']:.2f}",
                    f"{ours_rate:,.0f}",
                    ratio,
                    f"{ours['rss_mb']:.0f}",
                )
            )
            records.append(
                {"mode": "file", "claims": claims, "tool": tool, "workers": workers, **ours}
            )
        print(f"  measured {claims:,} claims", file=sys.stderr, flush=True)
    print(table(COLUMNS, rows))

    for files in [n for n in _ints(args.batch_files) if n > 0]:
        per_file = args.batch_claims or min([1000, *sizes])
        batch = ensure_batch(args.data, files, per_file)
        total = per_file * files
        brows: list[tuple[str, ...]] = []
        base: float | None = None
        capacity = parallel_capacity(max(_ints(args.workers)))
        records.append({"mode": "capacity", "workers": max(_ints(args.workers)), "x": capacity})
        counts = _ints(args.workers)
        measured = measure_each([("x12dental", batch, w) for w in counts])
        for workers, r in zip(counts, measured, strict=True):
            base = base or r["seconds"]
            brows.append(
                (
                    str(files),
                    f"{total:,}",
                    str(workers),
                    f"{r['seconds']:.2f}",
                    f"{r['cpu']:.2f}",
                    f"{total / r['seconds']:,.0f}",
                    f"{base / r['seconds']:.2f}x",
                    f"{r['rss_mb']:.0f}",
                )
            )
            records.append(
                {
                    "mode": "batch",
                    "files": files,
                    "claims": total,
                    "workers": workers,
                    "tool": "x12dental",
                    **r,
                }
            )
        print()
        print(
            f"batch: {files} files x {per_file:,} claims ({os.cpu_count()} cores; "
            f"{max(_ints(args.workers))} copies of a pure-Python loop at once did "
            f"{capacity:.2f}x the work of one in the same time)"
        )
        print(table(BATCH_COLUMNS, brows))
    if args.out:
        args.out.write_text(json.dumps({"rows": records}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
