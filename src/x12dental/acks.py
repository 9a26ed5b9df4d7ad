"""All the acknowledgments for one checked file, with the same settings for each.

The 999, TA1 and 277CA must agree (a claim the 999 rejected cannot be accepted by the
277CA), so they are always written together from one FileResult and one flag: whether
a rule pack asks for SNIP 3-7 errors in the 999.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from x12dental.ack277 import iter_277ca, write_277ca
from x12dental.ack999 import write_999
from x12dental.engine import Settings
from x12dental.pipeline import FileResult
from x12dental.ta1 import write_ta1


def acknowledgments(result: FileResult, settings: Settings | None = None) -> dict[str, str]:
    """{"999": ..., "ta1": ..., "277ca": ...}, each present only when one is due."""
    strict = bool((settings or Settings()).param("snip_3_7_in_999", False))
    out: dict[str, str] = {}
    for ext, text in (
        ("999", write_999(result, include_snip_3_7=strict)),
        ("ta1", write_ta1(result)),
        ("277ca", write_277ca(result, include_snip_3_7=strict)),
    ):
        if text is not None:
            out[ext] = text
    return out


def ack_stem(path: str, taken: set[str]) -> str:
    """NAME for NAME.999: the input's file name ('stdin' for -), made unique within one run."""
    stem = "stdin" if path in ("-", "<bytes>", "<stream>") else Path(path).name
    stem = stem or "input"
    candidate, n = stem, 1
    while candidate in taken:
        n += 1
        candidate = f"{stem}.{n}"
    taken.add(candidate)
    return candidate


def write_acks(
    result: FileResult, folder: Path, stem: str, settings: Settings | None = None
) -> list[Path]:
    """Write STEM.999 / STEM.ta1 / STEM.277ca for one input; return the paths written.

    The same files as `acknowledgments()` gives, but the 277CA (one entry per claim, the
    big one) goes to its file a transaction set at a time instead of whole in memory."""
    strict = bool((settings or Settings()).param("snip_3_7_in_999", False))
    written: list[Path] = []
    for ext, text in (
        ("999", write_999(result, include_snip_3_7=strict)),
        ("ta1", write_ta1(result)),
    ):
        if text is not None:
            path = folder / f"{stem}.{ext}"
            path.write_text(text, encoding="latin-1", errors="replace")
            written.append(path)
    chunks = iter_277ca(result, include_snip_3_7=strict)
    if chunks is not None:
        path = folder / f"{stem}.277ca"
        with path.open("w", encoding="latin-1", errors="replace") as fh:
            for chunk in chunks:
                fh.write(chunk)
        written.append(path)
    return written


def write_ack_dir(
    results: Iterable[FileResult], folder: Path, settings: Settings | None = None
) -> list[Path]:
    """Write NAME.999 / NAME.ta1 / NAME.277ca for each input; return the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    taken: set[str] = set()
    for result in results:
        written += write_acks(result, folder, ack_stem(result.path, taken), settings)
    return written
