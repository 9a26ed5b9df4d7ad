"""faststructure.ccyymmdd_valid vouches for a date only where pyx12 accepts it."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st
from pyx12 import validation

from x12dental.faststructure import ccyymmdd_valid

_DIGITS = st.text(st.sampled_from("0123456789"), min_size=8, max_size=8)
_NEAR_DATES = st.builds(
    lambda y, m, d: f"{y:04d}{m:02d}{d:02d}",
    st.integers(1700, 2500),
    st.integers(0, 13),
    st.integers(0, 32),
)


@given(value=st.one_of(_DIGITS, _NEAR_DATES))
@example("20240229")  # leap day
@example("19000229")  # not a leap year (divisible by 100)
@example("20000229")  # a leap year (divisible by 400)
@example("17991231")  # before pyx12's 1800
def test_the_quick_date_check_agrees_with_pyx12(value: str) -> None:
    for dtype in ("D8", "DT"):
        assert ccyymmdd_valid(value) == validation.IsValidDataType(value, dtype, "E", "00501")


@given(value=st.text(max_size=12))
def test_it_never_vouches_for_what_pyx12_rejects(value: str) -> None:
    if ccyymmdd_valid(value):
        assert validation.IsValidDataType(value, "D8", "E", "00501")
        assert validation.IsValidDataType(value, "DT", "E", "00501")


def test_non_ascii_digits_are_left_to_pyx12() -> None:
    assert not ccyymmdd_valid("２０２４０１０１")
    assert not ccyymmdd_valid("2024010")
