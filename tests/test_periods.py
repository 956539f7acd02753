"""Periods in months and years as 《民法典》 第二百零一、二百零二条 count them (dates.add_months)."""
import datetime as dt

import pytest
from hypothesis import given, strategies as st

from policy_engine.dates import add_months, add_years, months_between

D = dt.date


@pytest.mark.parametrize("start, months, end", [
    (D(2026, 1, 31), 1, D(2026, 2, 28)),      # no 31 February: the month's last day
    (D(2024, 1, 31), 1, D(2024, 2, 29)),      # leap year
    (D(2026, 1, 30), 1, D(2026, 2, 28)),
    (D(2026, 3, 31), 1, D(2026, 4, 30)),
    (D(2026, 3, 31), -1, D(2026, 2, 28)),
    (D(2026, 12, 15), 1, D(2027, 1, 15)),     # across the year
    (D(2020, 7, 1), 6, D(2021, 1, 1)),        # 警告 六个月 from 2020-07-01
    (D(2020, 7, 1), 48, D(2024, 7, 1)),       # 最长不得超过四十八个月
    (D(2026, 5, 31), 0, D(2026, 5, 31)),
])
def test_add_months_ends_on_the_corresponding_day_or_the_months_last(start, months, end):
    assert add_months(start, months) == end


def test_add_years_from_29_february():
    assert add_years(D(2024, 2, 29), 1) == D(2025, 2, 28)
    assert add_years(D(2024, 2, 29), 4) == D(2028, 2, 29)


@pytest.mark.parametrize("start, end, months", [
    (D(2026, 1, 31), D(2026, 2, 27), 0),
    (D(2026, 1, 31), D(2026, 2, 28), 1),      # 28 February corresponds to the 31st
    (D(2020, 1, 15), D(2021, 1, 14), 11),
    (D(2020, 1, 15), D(2021, 1, 15), 12),
    (D(2026, 5, 1), D(2026, 5, 1), 0),
])
def test_months_between_counts_whole_months(start, end, months):
    assert months_between(start, end) == months
    assert months_between(end, start) == -months


def test_add_months_outside_the_calendar_is_refused():
    with pytest.raises(ValueError):
        add_months(D(9999, 12, 1), 1)


@given(st.dates(min_value=D(1900, 1, 1), max_value=D(2200, 12, 31)), st.integers(0, 600))
def test_months_between_inverts_add_months(start, months):
    end = add_months(start, months)
    assert months_between(start, end) == months
    last = ((end.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)).day
    assert end.day == min(start.day, last)
    # the day before the corresponding day is one month short (when a month was added)
    if months:
        assert months_between(start, end - dt.timedelta(days=1)) == months - 1
