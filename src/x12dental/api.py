"""The Python API: `validate(source)` returns the same Report the command line prints."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, TextIO

from x12dental.pipeline import ClaimCheck, FileResult, check_path, check_stream
from x12dental.report import Report

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


def check_source(source: Source, claim_checks: Sequence[ClaimCheck] = ()) -> list[FileResult]:
    if isinstance(source, bytes):
        return [check_stream(io.BytesIO(source), "<bytes>", claim_checks)]
    if isinstance(source, (str, os.PathLike)):
        return [check_path(p, claim_checks) for p in iter_paths(Path(source))]
    if isinstance(source, io.TextIOBase) or hasattr(source, "encoding"):
        text = source.read()
        data = text.encode("latin-1", "replace") if isinstance(text, str) else text
        name = str(getattr(source, "name", "<stream>"))
        return [check_stream(io.BytesIO(data), name, claim_checks)]
    name = str(getattr(source, "name", "<stream>"))
    return [check_stream(source, name, claim_checks)]


def validate(
    source: Source,
    *,
    rules: Sequence[str] = (),
    history: str | os.PathLike[str] | None = None,
) -> Report:
    """Validate a path (file or folder), bytes, or a binary/text stream.

    `rules` names rule packs and `history` a claim-history store; both are
    accepted now so callers can be written against the final signature.
    """
    del rules, history
    return Report(tuple(check_source(source)))
