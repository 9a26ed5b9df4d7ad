"""`x12dental history`: look after the claim-history store (stats, retention, export).

The store holds hashes, codes and dates only; these commands never print more than that.
They never create a store: a mistyped path is an error (exit 2), not a new empty file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import TYPE_CHECKING, TextIO, TypeVar

if TYPE_CHECKING:  # the store's module (sqlite3 and the rest) loads when a command runs
    from x12dental.history import HistoryStore, StoreStats

EXPORT_SCHEMA = "x12dental.history-export/1"
P = TypeVar("P", bound=argparse.ArgumentParser)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: use YYYY-MM-DD") from None


def add_history_parser(subparsers: argparse._SubParsersAction[P]) -> P:
    """Add `history stats|forget|export DB` to the top-level parser's subcommands."""
    h = subparsers.add_parser("history", help="inspect and prune the claim-history store")
    sub = h.add_subparsers(dest="history_command", required=True, metavar="COMMAND")
    s = sub.add_parser("stats", help="what the store holds (counts, dates, size)")
    s.add_argument("store", metavar="DB")
    s.add_argument("--format", choices=("text", "json"), default="text")
    f = sub.add_parser("forget", help="delete the files recorded before a date (retention)")
    f.add_argument("store", metavar="DB")
    f.add_argument("--before", required=True, type=_date, metavar="YYYY-MM-DD")
    e = sub.add_parser("export", help="every recorded claim as JSON lines (hashes only)")
    e.add_argument("store", metavar="DB")
    e.add_argument("-o", "--output", metavar="FILE")
    return h


def _size(n: int) -> str:
    value = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} bytes"


def format_stats(stats: StoreStats) -> str:
    seen = (
        f" (first recorded {stats.first_seen}, last {stats.last_seen})"
        if stats.first_seen is not None
        else ""
    )
    return (
        f"history store {stats.path}: schema {stats.schema_version}, created {stats.created}\n"
        f"  files     {stats.files}{seen}\n"
        f"  claims    {stats.claims} ({stats.rejected_claims} rejected, "
        f"{stats.superseded_claims} replaced or voided)\n"
        f"  services  {stats.services}\n"
        f"  patients  {stats.patients}\n"
        f"  size      {_size(stats.size_bytes)}\n"
    )


def _export(store: HistoryStore, out: TextIO) -> int:
    header = {"type": "store", "schema": EXPORT_SCHEMA, "store_schema": store.schema_version}
    out.write(json.dumps(header, separators=(",", ":")) + "\n")
    count = 0
    for claim in store.export():
        out.write(json.dumps(claim, separators=(",", ":")) + "\n")
        count += 1
    return count


def main_history(args: argparse.Namespace) -> int:
    """Run one `history` subcommand; 0 on success, 2 when the store cannot be used."""
    from x12dental.history import HistoryError, open_history

    try:
        with open_history(args.store, create=False) as store:
            if args.history_command == "stats":
                stats = store.stats()
                if args.format == "json":
                    sys.stdout.write(json.dumps(stats.to_json(), indent=2) + "\n")
                else:
                    sys.stdout.write(format_stats(stats))
                return 0
            if args.history_command == "forget":
                result = store.forget(args.before)
                sys.stdout.write(
                    f"forgot {result.files} files ({result.claims} claims, {result.services} "
                    f"services) recorded before {args.before}\n"
                )
                return 0
            if args.output:
                try:
                    with open(args.output, "w", encoding="utf-8") as fh:
                        count = _export(store, fh)
                except OSError as exc:
                    sys.stderr.write(
                        f"x12dental: error: cannot write {args.output}: {exc.strerror}\n"
                    )
                    return 2
                sys.stderr.write(f"exported {count} claims to {args.output}\n")
            else:
                _export(store, sys.stdout)
            return 0
    except HistoryError as exc:
        sys.stderr.write(f"x12dental: error: {exc}\n")
        return 2
