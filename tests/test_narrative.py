"""Narrative reading: dates, teeth, code mentions and negation-aware phrases, as staff type them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from x12dental.codesets import ALL_TEETH
from x12dental.narrative import (
    find_affirmed_terms,
    find_codes,
    find_date_spans,
    find_dates,
    find_teeth,
    find_terms,
    mentions_code,
)

MARCH_14 = dt.date(2026, 3, 14)

# -- dates ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "03/14/2026",
        "3/14/2026",
        "3/14/26",
        "03-14-2026",
        "3-14-26",
        "03.14.2026",
        "2026-03-14",
        "2026/3/14",
        "20260314",
        "MARCH 14, 2026",
        "March 14 2026",
        "MAR 14 2026",
        "Mar. 14th, 2026",
        "mar-14-2026",
        "14 MAR 2026",
        "14 March, 2026",
        "14-Mar-2026",
        "14MAR2026",
        "placed #8 on 3/14/26.",
        "(DOS 2026-03-14)",
        "D6010 PLACED #8 ON 03/14/2026; HEALING ABUTMENT",
    ],
)
def test_date_formats_are_found(text: str) -> None:
    assert find_dates(text) == [MARCH_14]


@pytest.mark.parametrize(
    "text",
    [
        "02/30/2026",  # no such day
        "13/01/2026",  # no 13th month (numeric dates are month first)
        "14/03/2026",  # day-first is not read
        "2026-02-29",  # 2026 is not a leap year
        "00/10/2026",
        "3/0/26",
        "20261301",
        "FEB 30, 2026",
        "31 APR 2026",
        "12/25/1850",  # year out of range
        "PA 12345678",  # an authorization number, not a D8 date
        "CLM20260314",  # glued to letters: an identifier
        "1203/14/2026",  # glued to more digits
        "03/14/2026/5",
        "03/14-2026",  # mixed separators
        "3.14.26",  # a dotted date needs a four-digit year ("4.1.10" is a size)
        "maybe 5 2026",
        "MAR 2026",  # no day
        "",
    ],
)
def test_impossible_or_partial_dates_are_not_found(text: str) -> None:
    assert find_dates(text) == []


def test_several_dates_in_order_each_once() -> None:
    text = "placed 05/28/2026, uncovered 2026-08-30; seen again 5/28/26"
    assert find_dates(text) == [dt.date(2026, 5, 28), dt.date(2026, 8, 30)]


def test_two_digit_years_pivot() -> None:
    assert find_dates("1/2/68") == [dt.date(2068, 1, 2)]
    assert find_dates("1/2/69") == [dt.date(1969, 1, 2)]


def test_date_spans_locate_the_text() -> None:
    text = "on 3/14/26 ok"
    ((start, end, day),) = find_date_spans(text)
    assert text[start:end] == "3/14/26" and day == MARCH_14


FORMATS: dict[str, Callable[[dt.date], str]] = {
    "mm/dd/yyyy": lambda d: f"{d:%m/%d/%Y}",
    "m/d/yy": lambda d: f"{d.month}/{d.day}/{d:%y}",
    "yyyy-mm-dd": lambda d: d.isoformat(),
    "yyyymmdd": lambda d: f"{d:%Y%m%d}",
    "mm-dd-yyyy": lambda d: f"{d:%m-%d-%Y}",
    "mm.dd.yyyy": lambda d: f"{d:%m.%d.%Y}",
    "MONTH d, yyyy": lambda d: f"{d:%B} {d.day}, {d.year}",
    "d MON yyyy": lambda d: f"{d.day} {d:%b} {d.year}",
    "MON d yyyy": lambda d: f"{d:%b} {d.day} {d.year}",
    "dd-MON-yyyy": lambda d: f"{d:%d-%b-%Y}",
}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@given(
    day=st.dates(min_value=dt.date(1969, 1, 1), max_value=dt.date(2068, 12, 31)),
    before=st.sampled_from(["", "placed ", "D6010 #8 on ", "(", "DOS: "]),
    after=st.sampled_from(["", ".", "; healing abutment placed", ")", " #8"]),
)
def test_any_date_in_each_format_is_found_back(
    fmt: str, day: dt.date, before: str, after: str
) -> None:
    text = before + FORMATS[fmt](day) + after
    assert find_dates(text) == [day]
    assert find_dates(text.lower()) == [day]


# -- teeth ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "teeth"),
    [
        ("#8", {"8"}),
        ("# 8", {"8"}),
        ("#08", {"8"}),
        ("TOOTH 8", {"8"}),
        ("tooth #8", {"8"}),
        ("Tooth No. 8", {"8"}),
        ("TOOTH NUMBER 8", {"8"}),
        ("TH 8", {"8"}),
        ("TH#8", {"8"}),
        ("th. 8", {"8"}),
        ("SITE 8", {"8"}),
        ("implant site #8", {"8"}),
        ("T8", {"8"}),
        ("#A", {"A"}),
        ("TOOTH K", {"K"}),
        ("tooth #k", {"K"}),
        ("#51", {"51"}),
        ("#82", {"82"}),
        ("#AS", {"AS"}),
        ("#ts", {"TS"}),
        ("TEETH 8, 9 AND 10", {"8", "9", "10"}),
        ("sites 19 & 20", {"19", "20"}),
        ("teeth #8 & #9", {"8", "9"}),
        ("#8-#10", {"8", "10"}),
        ("#8-10", {"8"}),  # ranges are not expanded
        ("D6010 placed #20 on 05/28/2026; healing abutment placed", {"20"}),
        ("#20, 3 months later", {"20"}),
    ],
)
def test_tooth_references_are_found(text: str, teeth: set[str]) -> None:
    assert find_teeth(text) == teeth


@pytest.mark.parametrize(
    "text",
    [
        "8",  # a bare number is never a tooth
        "3 months after placement, 2 implants",
        "#0",
        "#33",
        "#83",
        "#100",
        "T33",
        "T8X",
        "AT8",
        "#US",
        "TOOTH IS LOOSE",  # "IS" is English here, not supernumerary I
        "SITE AS PLANNED",
        "THE implant",  # not "TH E"
        "the 8 implants",
        "SITES",
        "toothache 8",
        "month 3",
        "with 8",
        "4TH 8",
        "PA#90552703",
        "#3/14/26",  # a date, not tooth 3
        "D6010",
    ],
)
def test_non_references_are_not_teeth(text: str) -> None:
    assert find_teeth(text) == set()


# -- codes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["D6010", "d6010", "D 6010", "D-6010", "(D6010)", "CDT D6010;"])
def test_code_mentions(text: str) -> None:
    assert mentions_code(text, "D6010")
    assert find_codes(text) == ["D6010"]


@pytest.mark.parametrize("text", ["6010", "D60100", "XD6010", "D601", "D6011", "D  6010"])
def test_not_code_mentions(text: str) -> None:
    assert not mentions_code(text, "D6010")


def test_codes_in_order_each_once() -> None:
    assert find_codes("D6010 then D6011, D 6010 again") == ["D6010", "D6011"]


# -- phrases and negation -----------------------------------------------------------------

TERMS = ["single stage", "one stage", "1 stage", "not submerged", "transmucosal"]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("single-stage implant", ["single stage"]),
        ("SINGLE STAGE", ["single stage"]),
        ("implant was not submerged", ["not submerged"]),
        ("no pain, single-stage", ["single stage"]),  # the negation is in another clause
        ("not two-stage but single-stage", ["single stage"]),  # BUT ends the clause
        ("two-stage planned; single stage done", ["single stage"]),
        ("was NOT done as a single-stage; one-stage anyway", ["one stage"]),
    ],
)
def test_affirmed_terms(text: str, found: list[str]) -> None:
    assert find_affirmed_terms(text, TERMS, not_after=["stage"]) == found


@pytest.mark.parametrize(
    "text",
    [
        "two-stage, not single-stage",
        "not a single stage implant",
        "never a one-stage case",
        "wasn't single stage",
        "WASNT SINGLE STAGE",
        "two stage rather than single stage",
        "two stage vs one stage",
        "two-stage (not transmucosal)",
        "stage one/stage two",
        "Stage 1 / stage 2",
        "two-stage",
    ],
)
def test_negated_or_absent_terms(text: str) -> None:
    assert find_affirmed_terms(text, TERMS, not_after=["stage"]) == []


def test_negation_window() -> None:
    text = "not placed here as a single stage"  # four words between the cue and the term
    assert find_affirmed_terms(text, TERMS) == ["single stage"]
    assert find_affirmed_terms(text, TERMS, window=4) == []


def test_find_terms_unchanged() -> None:
    assert find_terms("Two-stage, not single-stage", ["single stage"]) == ["single stage"]


# -- robustness ----------------------------------------------------------------------------


@given(st.text(max_size=200))
def test_arbitrary_text_never_raises(text: str) -> None:
    for day in find_dates(text):
        assert 1900 <= day.year <= 2099
    assert find_teeth(text) <= ALL_TEETH
    for code in find_codes(text):
        assert len(code) == 5 and code[1:].isdigit()
    find_affirmed_terms(text, TERMS, not_after=["stage"])


@given(
    st.text(
        alphabet=st.sampled_from(list("0123456789/-.#, ADEHKMNORSTU")),
        max_size=60,
    )
)
def test_date_and_tooth_soup_never_raises(text: str) -> None:
    assert find_teeth(text) <= ALL_TEETH
    find_dates(text)
