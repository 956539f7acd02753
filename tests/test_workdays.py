"""Working days under the State Council schedule: make-up days, holidays, and the edge of the data."""
import datetime as dt

import pytest

from policy_engine import PolicyError
from policy_engine.policy.functions import add_working_days, is_workday, working_days_between
from policy_engine.policy.workdays import CalendarGap, check_file, default, load

D = dt.date


@pytest.mark.parametrize("start,n,due", [
    ("2025-09-30", 7, "2025-10-16"),   # across National Day 2025 (DESIGN.md, checked)
    ("2026-09-30", 7, "2026-10-15"),   # 2026-10-10 is a make-up Saturday and counts
    ("2026-02-13", 2, "2026-02-24"),   # Spring Festival 2026: 02-14 (Sat) is worked, then 02-15..02-23 off
    ("2025-10-10", 0, "2025-10-10"),   # zero days: the day itself
])
def test_add_working_days(start, n, due):
    assert add_working_days(start, n) == due


def test_counting_both_ends_across_a_make_up_sunday():
    assert working_days_between("2025-09-28", "2025-10-10") == 5  # 09-28 (make-up Sunday), 09-29, 09-30, 10-09, 10-10
    assert working_days_between("2025-10-10", "2025-09-28") == -5


def test_make_up_days_and_holidays():
    assert is_workday("2026-10-10") is True      # Saturday worked
    assert is_workday("2026-10-01") is False     # National Day
    assert is_workday("2026-10-12") is True      # an ordinary Monday


def test_a_year_no_calendar_covers_is_an_error_naming_the_file():
    with pytest.raises(CalendarGap) as info:
        default().is_workday(D(2027, 1, 4))
    assert "2027" in str(info.value) and "cn-workdays.calendar.yaml" in str(info.value)
    with pytest.raises(CalendarGap):
        add_working_days("2026-12-30", 3)  # runs into 2027
    with pytest.raises(CalendarGap):
        is_workday("2003-12-31")  # before the package's data


def test_a_year_in_the_file_extends_the_package(tmp_path):
    f = tmp_path / "x.calendar.yaml"
    f.write_text("id: test\ntitle: t\nyears:\n  2027:\n    source: 国办发明电〔2026〕N号（测试）\n"
                 "    holidays: ['2027-01-01']\n    workdays: ['2027-01-09']\n", encoding="utf-8")
    cal = load(f)
    assert cal.is_workday(D(2027, 1, 1)) is False       # a listed holiday (a Friday)
    assert cal.is_workday(D(2027, 1, 9)) is True        # a listed make-up Saturday
    assert cal.is_workday(D(2027, 1, 10)) is False      # an ordinary Sunday
    assert cal.add_working_days(D(2026, 12, 31), 1) == D(2027, 1, 4)


@pytest.mark.parametrize("body,words", [
    ("    holidays: ['2027-01-02']\n    workdays: []\n", "falls on a weekend"),
    ("    holidays: []\n    workdays: ['2027-01-04']\n", "is a weekday"),
    ("    holidays: ['2026-01-01']\n    workdays: []\n", "is not in 2027"),
    ("    holidays: ['2027-13-01']\n    workdays: []\n", "not a date"),
    ("    workdays: []\n", "'holidays' is required"),
])
def test_a_bad_calendar_file_is_located(tmp_path, body, words):
    f = tmp_path / "x.calendar.yaml"
    f.write_text("id: test\ntitle: t\nyears:\n  2027:\n    source: n\n" + body, encoding="utf-8")
    problems = check_file(f)
    assert problems and any(words in p.render() for p in problems), [p.render() for p in problems]
    assert all(p.line for p in problems)
    with pytest.raises(PolicyError):
        load(f)


def test_the_shipped_calendar_file_is_valid():
    from policy_engine.policy.workdays import CALENDAR_FILE
    assert check_file(CALENDAR_FILE) == []


def test_2027_statutory_holidays_are_known_and_nothing_else():
    cal = default()
    for day in ("2027-01-01", "2027-02-05", "2027-02-06", "2027-02-08", "2027-04-05", "2027-06-09", "2027-09-15",
                "2027-10-01", "2027-10-03"):
        assert cal.is_workday(D.fromisoformat(day)) is False, day
    for day in ("2027-02-09", "2027-01-30", "2027-07-01"):  # a weekday, a weekend day, an ordinary day: 调休 unknown
        with pytest.raises(CalendarGap) as info:
            cal.is_workday(D.fromisoformat(day))
        assert "only the statutory holidays of 2027" in str(info.value) and "cn-workdays.calendar.yaml" in str(info.value)
    with pytest.raises(CalendarGap) as info:
        cal.is_workday(D(2028, 3, 1))
    assert "no holiday schedule for 2028" in str(info.value)


def test_a_statutory_only_year_lists_no_workdays(tmp_path):
    f = tmp_path / "x.calendar.yaml"
    f.write_text("id: test\ntitle: t\nyears:\n  2028:\n    status: statutory_only\n    source: 放假办法\n"
                 "    holidays: ['2028-01-01']\n    workdays: ['2028-01-08']\n", encoding="utf-8")
    problems = check_file(f)
    assert any("no make-up workdays" in p.message for p in problems)
    f.write_text("id: test\ntitle: t\nyears:\n  2028:\n    status: statutory_only\n    source: 放假办法\n"
                 "    holidays: ['2028-01-01']\n    workdays: []\n", encoding="utf-8")
    assert check_file(f) == []  # a statutory holiday on a Saturday is allowed here
    assert load(f).is_workday(D(2028, 1, 1)) is False


# -- the per-year tables against the schedule asked day by day ---------------------------------

def _walk(cal, start, end):
    """working_days_between as the schedule answers it, day by day (the reference)."""
    count, day = 0, start
    while day <= end:
        count += cal._day(day)
        day += dt.timedelta(days=1)
    return count


def _outcome(fn):
    try:
        return fn()
    except (CalendarGap, ValueError) as exc:
        return (type(exc).__name__, str(exc))


def test_tables_answer_as_the_schedule_does_day_by_day():
    """Every day from 2003 to 2028 (before the package, the package's years, 2027 known only by its
    statutory holidays, 2028 not at all), and spans across them: the same counts, and the same
    error naming the same first unknown day."""
    import random
    cal = load()
    day = dt.date(2003, 1, 1)
    while day <= dt.date(2028, 12, 31):
        assert _outcome(lambda: cal.is_workday(day)) == _outcome(lambda: cal._day(day)), day
        day += dt.timedelta(days=1)
    rng = random.Random(7)
    for _ in range(150):
        a = dt.date(2003, 6, 1) + dt.timedelta(days=rng.randrange(0, 365 * 25))
        b = a + dt.timedelta(days=rng.choice([0, 1, 6, 30, 400, 3000, 3700]))
        assert _outcome(lambda: cal.working_days_between(a, b)) == _outcome(
            lambda: _walk(cal, a, b) if (b - a).days <= 3660 else cal.working_days_between(a, b)), (a, b)
        forward = _outcome(lambda: cal.working_days_between(a, b))
        if b > a:
            assert _outcome(lambda: cal.working_days_between(b, a)) == (
                -forward if isinstance(forward, int) else forward)


def test_a_span_is_counted_without_asking_about_each_day(monkeypatch):
    """Once a year's table is made, a count over it asks the schedule nothing."""
    cal = load()
    cal.working_days_between(dt.date(2020, 1, 1), dt.date(2024, 12, 31))
    asked = []
    monkeypatch.setattr(type(cal), "_day", lambda self, day: asked.append(day) or True)
    assert cal.working_days_between(dt.date(2020, 3, 1), dt.date(2024, 10, 31)) > 1000
    assert asked == []


def _add_walking(cal, start, n):
    """add_working_days as the schedule answers it, day by day (the reference)."""
    day, left = start, n
    while left:
        day += dt.timedelta(days=1)
        if (day - start).days > 3660:
            raise ValueError("working days are counted over at most ten years")
        left -= cal._day(day)
    return day


def test_adding_working_days_by_the_tables_is_walking_day_by_day():
    import random
    cal = load()
    rng = random.Random(11)
    starts = [dt.date(2003, 12, 25), dt.date(2026, 12, 24), dt.date(2026, 9, 30), dt.date(2027, 1, 29),
              dt.date(2027, 12, 30), dt.date(2016, 2, 5)]
    starts += [dt.date(2003, 6, 1) + dt.timedelta(days=rng.randrange(0, 365 * 25)) for _ in range(100)]
    for k, start in enumerate(starts):
        for n in (0, 1, 2, 5, 7, 15, 30, 250) + ((2600,) if k < 6 else ()):
            assert _outcome(lambda: cal.add_working_days(start, n)) == _outcome(lambda: _add_walking(cal, start, n)), (start, n)
