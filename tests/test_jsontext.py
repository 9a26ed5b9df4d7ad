"""jsontext.dumps writes what json.dumps(indent=2, ensure_ascii=False) writes, and leaves
no reference cycles behind (the reason it exists: see its module docstring)."""

from __future__ import annotations

import enum
import gc
import io
import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from x12dental import jsontext
from x12dental.parallel import JsonReportWriter
from x12dental.pipeline import check_bytes
from x12dental.synthetic import GenOptions, generate

_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
)
_keys = st.text() | st.integers() | st.floats() | st.booleans() | st.none()
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(_keys, inner, max_size=4)
    ),
    max_leaves=30,
)


@given(_values)
def test_same_text_as_json_dumps(value: object) -> None:
    assert jsontext.dumps(value) == json.dumps(value, indent=2, ensure_ascii=False)


@given(_values, st.integers(min_value=0, max_value=12))
def test_level_indents_every_nested_line(value: object, spaces: int) -> None:
    level = " " * spaces
    text = json.dumps(value, indent=2, ensure_ascii=False)
    assert jsontext.dumps(value, level) == text.replace("\n", "\n" + level)


class _Code(enum.IntEnum):
    ONE = 1


class _Word(str, enum.Enum):
    ERROR = "error"


def test_enum_values_and_keys_as_json_writes_them() -> None:
    value = {_Code.ONE: [_Code.ONE, _Word.ERROR], _Word.ERROR: {"nan": math.nan}}
    assert jsontext.dumps(value) == json.dumps(value, indent=2, ensure_ascii=False)


@pytest.mark.parametrize("value", [object(), {1j: 1}, {(1, 2): 1}, b"bytes", {1, 2}])
def test_what_json_cannot_encode_is_a_type_error(value: object) -> None:
    with pytest.raises(TypeError):
        json.dumps(value, indent=2)
    with pytest.raises(TypeError):
        jsontext.dumps(value)


def test_report_writer_leaves_no_cycles() -> None:
    # Every claim with an error: some hundreds of findings, each written on its own.
    text = generate(5, GenOptions(claims=60)).text.replace("*11:B:1*", "*11:X:1*")
    result = check_bytes(text.encode("latin-1"), "bad.837")
    assert len(result.findings) >= 60
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    try:
        out = io.StringIO()
        writer = JsonReportWriter(out)
        writer.add(result)
        writer.close()
        found = gc.collect()
    finally:
        if was:
            gc.enable()
    assert json.loads(out.getvalue())["summary"]["errors"] == len(result.findings)
    assert found < 20  # json.dumps(indent=2) per finding left ~30 objects each
