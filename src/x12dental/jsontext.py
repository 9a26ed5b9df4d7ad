"""JSON text exactly as `json.dumps(value, indent=2, ensure_ascii=False)` writes it.

Why not json.dumps itself: with an indent, the standard library encodes in Python
through a set of nested functions it builds anew on every call, and those functions
refer to one another: each call leaves ~30 objects in reference cycles that only the
cyclic collector frees. The JSON report encodes every finding on its own (it is
written as it is found), so an error-heavy file left millions of such objects, and the
collector's passes over them cost time and memory. Here the same text comes from plain
recursion, with the standard library's C string encoder for strings.

Differences from json.dumps, none of which our reports meet: a container that contains
itself is a RecursionError (json.dumps says "Circular reference detected"), and there is
no `default=` hook (a value json cannot encode is a TypeError, as in json.dumps).
"""

from __future__ import annotations

import json.encoder

_encode_str = json.encoder.encode_basestring  # the C encoder where there is one
_int_text = int.__repr__  # what json writes for an int, or an int subclass such as IntEnum
_float_text = float.__repr__


def _float(value: float) -> str:
    if value != value:
        return "NaN"
    if value == json.encoder.INFINITY:
        return "Infinity"
    if value == -json.encoder.INFINITY:
        return "-Infinity"
    return _float_text(value)


def _scalar(value: object) -> str | None:
    """The text json writes for a value that is not a str, list or dict; None otherwise."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return _int_text(value)
    if isinstance(value, float):
        return _float(value)
    return None


def _key(key: object) -> str:
    """A dict key as json writes it: str as is, numbers, booleans and None as their text."""
    if isinstance(key, str):
        return _encode_str(key)
    text = _scalar(key)
    if text is None:
        raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")
    return _encode_str(text)


def dumps(value: object, level: str = "") -> str:
    """`json.dumps(value, indent=2, ensure_ascii=False)`; nested lines start with `level`
    (spaces) as well, so a piece can be written inside a larger document as it stands."""
    if isinstance(value, str):
        return _encode_str(value)
    text = _scalar(value)
    if text is not None:
        return text
    inner = level + "  "
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        items = [inner + dumps(item, inner) for item in value]
        return "[\n" + ",\n".join(items) + "\n" + level + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        pairs = [inner + _key(k) + ": " + dumps(v, inner) for k, v in value.items()]
        return "{\n" + ",\n".join(pairs) + "\n" + level + "}"
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
