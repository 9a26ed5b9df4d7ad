"""`x12dental` on the command line: check, rules, explain, maps-path.

Exit statuses are part of the contract (0 clean, 1 findings at --fail-on, 2
usage error or unreadable input) because scripts and CI pipelines branch on them.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from x12dental import __version__

# A run makes and drops millions of small containers (tokens' element lists, findings,
# per-claim records) that are never in a cycle; at CPython's default 700 allocations a
# youngest-generation collection ran every few segments, ~4% of a run. What a pass
# does find is the run's own lasting state (claim records waiting for the spool,
# duplicate keys, rule indexes): ~12 ms of walking per 50,000 such objects, and no
# garbage, since nothing a run does makes cycles (the JSON report neither: jsontext).
# Collections still come, every 200,000 allocations: cyclic garbage, if any, stays
# bounded, and a 10,000-claim file (~100,000 lasting objects) is checked without one.
_RUN_THRESHOLDS = (200_000, 20, 10)


@contextlib.contextmanager
def _loading() -> Iterator[None]:
    """Load modules and rules without the cyclic collector walking them as they pile up.

    Start-up makes some hundred thousand objects (classes, rule tables, pyx12's map
    code) that live as long as the process and are never garbage; the collector used
    to walk them over and over while they were made, some 7% of the start-up.
    Here it waits, then sets what was made aside for good (`gc.freeze`), so neither
    this nor any later collection walks it. The command line owns its process; the
    library (`x12dental.validate`) leaves the collector alone.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.set_threshold(*_RUN_THRESHOLDS)
        if collecting:
            gc.enable()


with _loading():
    from x12dental.api import iter_paths, make_settings
    from x12dental.history_cli import add_history_parser, main_history
    from x12dental.parallel import (
        Job,
        JsonReportWriter,
        Plan,
        check_many,
        choose_workers,
        job_size,
    )
    from x12dental.pipeline import FileResult, Options
    from x12dental.progress import Progress
    from x12dental.report import Report
    from x12dental.ruledata import RuleDataError


class _VersionAction(argparse.Action):
    """`--version` names the build too: figures from a compiled and a pure run differ."""

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        from x12dental import buildinfo

        sys.stdout.write(f"x12dental {__version__} ({buildinfo.describe()})\n")
        parser.exit()


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on usage errors already; keep its message short and located."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"x12dental: error: {message}\n")
        raise SystemExit(2)


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 (one per core) or more")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="x12dental", description="Validate HIPAA X12 837 Dental (5010) claim files.")
    p.add_argument("--version", action=_VersionAction, nargs=0)
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    c = sub.add_parser("check", help="validate 837D files")
    c.add_argument("paths", nargs="+", metavar="PATH", help="file, directory, or - for stdin")
    c.add_argument("--format", choices=("text", "json", "html"), default="text")
    c.add_argument("-o", "--output", metavar="FILE")
    c.add_argument("--ack-dir", metavar="DIR")
    c.add_argument("--rules", action="append", default=[], metavar="PACK")
    c.add_argument("--history", metavar="DB")
    c.add_argument(
        "--workers",
        type=_workers,
        default=0,
        metavar="N",
        help="processes checking files side by side (default 0: one per core for large inputs)",
    )
    c.add_argument("--fail-on", choices=("error", "warning", "never"), default="error")
    c.add_argument("--redact", action="store_true")
    c.add_argument(
        "--quiet", action="store_true", help="no progress line on stderr (shown on a terminal)"
    )

    sub.add_parser("rules", help="list every rule")
    e = sub.add_parser("explain", help="explain one rule")
    e.add_argument("rule")
    sub.add_parser("maps-path", help="print the pyx12 map folder that includes the 837D map")
    add_history_parser(sub)
    return p


def _render(args: argparse.Namespace, report: Report, sources: dict[str, bytes | Path]) -> str:
    """The report in the asked format; --redact masks PHI in every format (never in acks)."""
    if args.format == "json":
        from x12dental.redact import redact_report

        return (redact_report(report, sources) if args.redact else report).to_json()
    if args.format == "html":
        from x12dental.html_report import render_html

        return render_html(report, sources, redact=args.redact)
    from x12dental.text_report import render_text

    colour = args.output is None and sys.stdout.isatty()
    return render_text(report, colour, sources, redact=args.redact)


def _check(args: argparse.Namespace) -> int:
    try:
        settings = make_settings(args.rules)
    except RuleDataError as exc:
        sys.stderr.write(f"x12dental: error: rule pack {exc}\n")
        return 2
    if not args.history:
        return _check_files(args, Options(settings=settings))
    # Only a run with a store needs its module (and sqlite3): imported here, not at start-up.
    from x12dental.history import HistoryError, HistoryStore, open_history

    store: HistoryStore | None = None
    try:
        store = open_history(args.history)  # opened here too: a bad store fails early
        return _check_files(args, Options(settings=settings, history=store))
    except HistoryError as exc:
        sys.stderr.write(f"x12dental: error: {exc}\n")
        return 2
    finally:
        if store is not None:
            store.close()


def _jobs(args: argparse.Namespace) -> tuple[list[Job], dict[str, bytes | Path]]:
    """Every input in order (standard input read at its place), and the sources to show."""
    jobs: list[Job] = []
    sources: dict[str, bytes | Path] = {}
    for raw in args.paths:
        if raw == "-":
            data = sys.stdin.buffer.read()
            jobs.append(("-", data))
            sources["-"] = data
            continue
        path = Path(raw)
        if not path.exists():
            jobs.append(path)
            continue
        for p in iter_paths(path):
            jobs.append(p)
            sources[str(p)] = p
    return jobs, sources


def _check_files(args: argparse.Namespace, options: Options) -> int:
    jobs, sources = _jobs(args)
    sizes = [job_size(j) for j in jobs]
    progress = Progress(sys.stderr, len(jobs), sum(sizes), quiet=args.quiet)

    def on_done(index: int, result: FileResult) -> None:
        progress.file_done(result.claims, sizes[index])

    plan = Plan(settings=options.settings, history=args.history, today=options.today)
    results = check_many(
        jobs,
        plan,
        choose_workers(args.workers or None, sum(sizes)),
        history=options.history,
        on_done=on_done,
        on_bytes=progress.read if progress.enabled else None,
    )
    try:
        if args.format == "json":
            return _stream_json(args, results, sources, options)
        return _whole_report(args, list(results), sources, options)
    finally:
        results.close()  # stops the workers at once if writing failed half-way
        progress.finish()


def _ack_error(args: argparse.Namespace, exc: OSError) -> int:
    sys.stderr.write(
        f"x12dental: error: cannot write acknowledgments to {args.ack_dir}: {exc.strerror}\n"
    )
    return 2


def _stream_json(
    args: argparse.Namespace,
    results: Iterator[FileResult],
    sources: dict[str, bytes | Path],
    options: Options,
) -> int:
    """JSON is written file by file: only one FileResult is held at a time."""
    ack_dir = Path(args.ack_dir) if args.ack_dir else None
    if ack_dir is not None:
        from x12dental.acks import ack_stem, write_acks  # 999/277CA/TA1 code: only when asked

        try:
            ack_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return _ack_error(args, exc)
    out: TextIO
    if args.output:
        try:
            out = open(args.output, "w", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            sys.stderr.write(f"x12dental: error: cannot write {args.output}: {exc.strerror}\n")
            return 2
    else:
        out = sys.stdout
        if hasattr(out, "reconfigure"):
            out.reconfigure(errors="replace")
    status = 0
    taken: set[str] = set()
    try:
        writer = JsonReportWriter(out, options.settings)
        for result in results:
            if ack_dir is not None:
                stem = ack_stem(result.path, taken)
                try:
                    write_acks(result, ack_dir, stem, options.settings)
                except OSError as exc:
                    return _ack_error(args, exc)
            status = max(status, Report((result,)).exit_status(args.fail_on))
            if args.redact:
                from x12dental.redact import redact_report

                result = redact_report(Report((result,)), sources).files[0]
            writer.add(result)
        writer.close()
        out.flush()
    except OSError as exc:
        if not args.output:
            raise
        sys.stderr.write(f"x12dental: error: cannot write {args.output}: {exc.strerror}\n")
        return 2
    finally:
        if args.output:
            out.close()
    return status


def _whole_report(
    args: argparse.Namespace,
    results: list[FileResult],
    sources: dict[str, bytes | Path],
    options: Options,
) -> int:
    """Text and HTML are rendered from the whole report (HTML has a summary at the top)."""
    report = Report(tuple(results), options.settings)
    if args.ack_dir:
        from x12dental.acks import write_ack_dir

        try:
            write_ack_dir(list(results), Path(args.ack_dir), options.settings)
        except OSError as exc:
            return _ack_error(args, exc)
    text = _render(args, report, sources)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            sys.stderr.write(f"x12dental: error: cannot write {args.output}: {exc.strerror}\n")
            return 2
    else:
        out = sys.stdout
        if hasattr(out, "reconfigure"):
            out.reconfigure(errors="replace")
        out.write(text)
    return report.exit_status(args.fail_on)


def _rules() -> int:
    from x12dental.catalog import all_rules

    for rule in all_rules():
        print(f"{rule.id:<42} SNIP {rule.snip}  {rule.severity:<7}  {rule.summary}")
    return 0


def _explain(rule_id: str) -> int:
    from x12dental.catalog import find_rule

    rule = find_rule(rule_id)
    if rule is None:
        sys.stderr.write(f"x12dental: error: no rule {rule_id!r}; `x12dental rules` lists them\n")
        return 2
    print(rule.explain())
    return 0


def _plugin_warnings() -> None:
    """Load the rules (built-in data and plugins) up front; say what failed to load."""
    from x12dental.engine import default_registry
    from x12dental.plugins import PLUGIN_ERRORS

    with _loading():
        default_registry()
    for message in PLUGIN_ERRORS:
        sys.stderr.write(f"x12dental: warning: {message}\n")


class _Terminated(BaseException):
    """SIGTERM, turned into an exception so the run unwinds and deletes its temporary files.

    A BaseException, like KeyboardInterrupt, so no `except Exception` on the way (a rule
    that crashes becomes a warning) can swallow it."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated


def _handle_sigterm() -> bool:
    """Spooled findings and claim summaries (PHI) sit in temporary files while a check runs;
    a plain SIGTERM would end the process without deleting them. Only when nobody else
    (an embedding program) has claimed the signal, and only in the main thread."""
    if (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    ):
        signal.signal(signal.SIGTERM, _on_sigterm)
        return True
    return False


def run(argv: Sequence[str] | None = None) -> NoReturn:
    """The `x12dental` command's process: main(), then an exit without Python's teardown."""
    exit_now(main(argv))


def exit_now(code: int) -> NoReturn:
    """End this process with `code` once what must happen at exit has happened.

    Why: at exit, Python frees every object one by one: the maps, the rules and the run's
    state, some hundred thousand objects. That is ~25 ms of a 10,000-claim run on two
    processes (~3%), spent on memory the operating system takes back at once anyway.
    What must still happen does: the atexit handlers run (they delete spooled files and
    run multiprocessing's finalizers), and both standard streams are flushed; then
    `os._exit`. Only for a process the command line owns: `main()` stays a plain function
    that returns its status.
    """
    import atexit
    import os

    run_exit_functions = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_functions is None:  # not CPython: leave it to the usual exit
        raise SystemExit(code)
    for thread in threading.enumerate():  # what Python's exit waits for, first
        if not thread.daemon and thread is not threading.current_thread():
            thread.join()
    run_exit_functions()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can be said
            pass
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handled = _handle_sigterm()
    try:
        return _main(args)
    finally:
        if handled:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _main(args: argparse.Namespace) -> int:
    try:
        if args.command in ("check", "rules", "explain"):
            try:
                _plugin_warnings()
            except RuleDataError as exc:
                sys.stderr.write(f"x12dental: error: rule data {exc}\n")
                return 2
        if args.command == "check":
            return _check(args)
        if args.command == "rules":
            return _rules()
        if args.command == "explain":
            return _explain(args.rule)
        if args.command == "history":
            return main_history(args)
        from x12dental.mapfolder import map_folder

        print(map_folder())
        return 0
    except KeyboardInterrupt:
        sys.stderr.write("x12dental: interrupted\n")
        return 130
    except _Terminated:
        sys.stderr.write("x12dental: terminated\n")
        return 143
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    run()
