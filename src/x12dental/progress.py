"""A one-line progress display on stderr, for people watching a long `x12dental check`.

Shown only when the stream is a terminal and --quiet is not given: never in logs, pipes
or CI output. The line is redrawn in place with a carriage return at most `rate` times a
second and cleared at the end, so the report (on stdout or in a file) is never mixed with
it. Time left is estimated from bytes checked against the total size of the inputs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol


class _Stream(Protocol):
    def write(self, text: str, /) -> int: ...
    def flush(self) -> None: ...
    def isatty(self) -> bool: ...


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """Files done/total, claims done, claims/s and time left; a no-op when not enabled."""

    def __init__(
        self,
        stream: _Stream,
        total_files: int,
        total_bytes: int,
        *,
        quiet: bool = False,
        rate: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        try:
            tty = bool(stream.isatty())
        except (AttributeError, ValueError, OSError):
            tty = False
        self.enabled = tty and not quiet
        self._stream = stream
        self._total_files = total_files
        self._total_bytes = total_bytes
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._clock = clock
        self._start = clock()
        self._last_draw: float | None = None
        self._width = 0
        self.files = 0
        self.claims = 0
        self.bytes = 0  # bytes of finished files
        self._partial = 0  # bytes read of the file being checked (single process)

    def read(self, n: int) -> None:
        """Bytes read within the file being checked in this process."""
        self._partial += n
        self._maybe_draw()

    def file_done(self, claims: int, size: int) -> None:
        self.files += 1
        self.claims += claims
        self.bytes += size
        self._partial = 0
        self._maybe_draw()

    def line(self) -> str:
        elapsed = max(self._clock() - self._start, 1e-9)
        done = min(self.bytes + self._partial, self._total_bytes)
        rate = self.claims / elapsed
        parts = [
            f"{self.files}/{self._total_files} files",
            f"{self.claims:,} claims",
            f"{rate:,.0f} claims/s",
        ]
        if self._total_bytes > 0 and done > 0:
            left = elapsed * (self._total_bytes - done) / done
            parts.append(f"{_duration(left)} left")
        return "x12dental: " + ", ".join(parts)

    def _maybe_draw(self) -> None:
        if not self.enabled:
            return
        now = self._clock()
        if self._last_draw is not None and now - self._last_draw < self._interval:
            return
        self._last_draw = now
        text = self.line()
        pad = " " * max(0, self._width - len(text))
        self._width = len(text)
        self._stream.write("\r" + text + pad)
        self._stream.flush()

    def finish(self) -> None:
        """Clear the line (nothing is left behind on the terminal)."""
        if not self.enabled or self._last_draw is None:
            return
        self._stream.write("\r" + " " * self._width + "\r")
        self._stream.flush()
        self._last_draw = None
