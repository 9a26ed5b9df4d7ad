"""Load rule data (TOML) with errors that name the file and the key, never a traceback.

Rules are data where they can be: code lists, bundling pairs, narrative terms and
payer requirements live in `rules/*.toml`, which a biller can read and a payer
pack can extend. A mistake in such a file must say exactly where it is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from x12dental.resources import data_dir

_CODE_SPEC = re.compile(r"^D\d{4}(-D\d{4})?$|^D\d{0,3}\*$")


class RuleDataError(Exception):
    """A rule data file or rule pack is malformed: file, key and what is wrong."""

    def __init__(self, path: str | Path, key: str, message: str) -> None:
        self.path = str(path)
        self.key = key
        self.message = message
        where = f"{self.path}: {key}" if key else self.path
        super().__init__(f"{where}: {message}")


def load_toml(path: Path) -> dict[str, Any]:
    return parse_toml(path, read_source(path))


def read_source(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise RuleDataError(path, "", "file not found") from None
    except OSError as exc:
        raise RuleDataError(path, "", f"cannot be read ({exc.strerror})") from None


def parse_toml(path: Path, data: bytes) -> dict[str, Any]:
    """`data`, the bytes of `path`, parsed; tomllib is imported only when a file is parsed
    (most runs unpickle the built-in files, and its import costs ~2 ms)."""
    import tomllib

    try:
        return tomllib.loads(data.decode())
    except tomllib.TOMLDecodeError as exc:
        raise RuleDataError(path, "", f"not valid TOML ({exc})") from None


_CACHE: dict[str, dict[str, Any]] = {}


def builtin(name: str) -> dict[str, Any]:
    """A built-in data file from `rules/`, parsed once per process.

    Parsed once for good, in fact: the parsed tables are kept (pickled) next to the parsed
    maps, named after a hash of the file's bytes, so an edited file is parsed again and a
    damaged or missing pickle only costs the parse."""
    if name not in _CACHE:
        path = data_dir("rules") / name
        data = read_source(path)
        _CACHE[name] = _cached_parse(path, data)
    return _CACHE[name]


def _cached_parse(path: Path, data: bytes) -> dict[str, Any]:
    from x12dental import parsecache
    from x12dental.mapfolder import map_folder

    try:
        folder = str(map_folder())
    except OSError:
        return parse_toml(path, data)
    name = f"rules-{path.stem}-{parsecache.source_key(data)}"
    parsed: dict[str, Any] = parsecache.load_cached(folder, name, lambda: parse_toml(path, data))
    return parsed


def builtin_path(name: str) -> Path:
    return data_dir("rules") / name


def require(table: Mapping[str, Any], key: str, kind: type, path: str | Path, at: str) -> Any:
    """table[key], checked for type: the error names `at.key` in `path`."""
    if key not in table:
        raise RuleDataError(path, f"{at}.{key}" if at else key, "is required")
    value = table[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise RuleDataError(
            path,
            f"{at}.{key}" if at else key,
            f"must be {kind.__name__}, not {type(value).__name__}",
        )
    return value


def code_specs(value: Any, path: str | Path, at: str) -> tuple[str, ...]:
    """A list of CDT code specs: 'D6010', 'D6000-D6199' or a prefix 'D2*'."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise RuleDataError(path, at, "must be a non-empty list of CDT codes or ranges")
    for i, spec in enumerate(value):
        if not isinstance(spec, str) or not _CODE_SPEC.match(spec):
            raise RuleDataError(
                path,
                f"{at}[{i}]",
                f"{spec!r} is not a CDT code (D1234), range (D1000-D1999) or prefix (D2*)",
            )
        low, _, high = spec.partition("-")
        if high and high < low:
            raise RuleDataError(path, f"{at}[{i}]", f"{spec!r} runs backwards: write {high}-{low}")
    return tuple(value)
