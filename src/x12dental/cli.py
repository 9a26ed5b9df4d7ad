"""`x12dental` on the command line: check, rules, explain, maps-path.

Exit statuses are part of the contract (0 clean, 1 findings at --fail-on, 2
usage error or unreadable input) because scripts and CI pipelines branch on them.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Sequence
from pathlib import Path

from x12dental import __version__
from x12dental.api import iter_paths, make_settings
from x12dental.history import HistoryError, HistoryStore, open_history
from x12dental.history_cli import add_history_parser, main_history
from x12dental.pipeline import FileResult, Options, check_path, check_stream
from x12dental.report import Report
from x12dental.ruledata import RuleDataError


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on usage errors already; keep its message short and located."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"x12dental: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="x12dental", description="Validate HIPAA X12 837 Dental (5010) claim files.")
    p.add_argument("--version", action="version", version=f"x12dental {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    c = sub.add_parser("check", help="validate 837D files")
    c.add_argument("paths", nargs="+", metavar="PATH", help="file, directory, or - for stdin")
    c.add_argument("--format", choices=("text", "json", "html"), default="text")
    c.add_argument("-o", "--output", metavar="FILE")
    c.add_argument("--ack-dir", metavar="DIR")
    c.add_argument("--rules", action="append", default=[], metavar="PACK")
    c.add_argument("--history", metavar="DB")
    c.add_argument("--workers", type=int, default=0, metavar="N")
    c.add_argument("--fail-on", choices=("error", "warning", "never"), default="error")
    c.add_argument("--redact", action="store_true")
    c.add_argument("--quiet", action="store_true")

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
    store: HistoryStore | None = None
    try:
        if args.history:
            store = open_history(args.history)
        return _check_files(args, Options(settings=settings, history=store))
    except HistoryError as exc:
        sys.stderr.write(f"x12dental: error: {exc}\n")
        return 2
    finally:
        if store is not None:
            store.close()


def _check_files(args: argparse.Namespace, options: Options) -> int:
    results: list[FileResult] = []
    sources: dict[str, bytes | Path] = {}
    for raw in args.paths:
        if raw == "-":
            data = sys.stdin.buffer.read()
            results.append(check_stream(io.BytesIO(data), "-", options))
            sources["-"] = data
            continue
        path = Path(raw)
        if not path.exists():
            results.append(check_path(path, options))
            continue
        for p in iter_paths(path):
            results.append(check_path(p, options))
            sources[str(p)] = p
    report = Report(tuple(results), options.settings)
    if args.ack_dir:
        from x12dental.acks import write_ack_dir

        try:
            write_ack_dir(list(results), Path(args.ack_dir), options.settings)
        except OSError as exc:
            sys.stderr.write(
                f"x12dental: error: cannot write acknowledgments to {args.ack_dir}: {exc.strerror}\n"
            )
            return 2
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

    default_registry()
    for message in PLUGIN_ERRORS:
        sys.stderr.write(f"x12dental: warning: {message}\n")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
