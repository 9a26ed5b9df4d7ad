"""The Python API: `validate(source)` returns the same Report the command line prints."""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TextIO

from x12dental.engine import History, Settings, default_registry
from x12dental.packs import settings_from_packs
from x12dental.pipeline import FileResult, Options, check_path, check_stream
from x12dental.report import Report

if TYPE_CHECKING:
    from x12dental.history import HistoryStore

Source = str | os.PathLike[str] | bytes | BinaryIO | TextIO


def iter_paths(path: Path) -> Iterator[Path]:
    """A directory is checked file by file, recursively, in a stable order; dot-folders skipped."""
    if not path.is_dir():
        yield path
        return
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            yield Path(root) / name


def check_source(source: Source, options: Options | None = None) -> list[FileResult]:
    if isinstance(source, bytes):
        return [check_stream(io.BytesIO(source), "<bytes>", options)]
    if isinstance(source, (str, os.PathLike)):
        return [check_path(p, options) for p in iter_paths(Path(source))]
    name = str(getattr(source, "name", "<stream>"))
    if isinstance(source, io.TextIOBase) or hasattr(source, "encoding"):
        text = source.read()
        data = text.encode("latin-1", "replace") if isinstance(text, str) else text
        return [check_stream(io.BytesIO(data), name, options)]
    return [check_stream(source, name, options)]


def make_settings(rules: Sequence[str] = ()) -> Settings:
    """Settings from rule packs (names or TOML paths); raises RuleDataError, located."""
    if not rules:
        return Settings()
    known = {r.id for r in default_registry()}
    from x12dental.catalog import all_rules

    known |= {r.id for r in all_rules()}
    return settings_from_packs(tuple(rules), known)


def validate(
    source: Source,
    *,
    rules: Sequence[str] = (),
    history: History | str | os.PathLike[str] | None = None,
    today: dt.date | None = None,
) -> Report:
    """Validate a path (file or folder), bytes, or a binary/text stream.

    `rules` names rule packs (installed names or TOML files). `history` is a History
    object, or the path of a claim-history store (created when missing), which the
    cross-batch rules read and each checked file is recorded into.
    """
    settings = make_settings(rules)
    opened: HistoryStore | None = None
    store: History | None
    if history is None:
        store = None
    elif isinstance(history, (str, os.PathLike)):
        from x12dental.history import open_history  # sqlite3 and all: only with a store

        store = opened = open_history(history)
    else:
        store = history
    try:
        options = Options(settings=settings, history=store, today=today)
        return Report(tuple(check_source(source, options)), settings)
    finally:
        if opened is not None:
            opened.close()
