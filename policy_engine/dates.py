"""The one reader of dates: `YYYY-MM-DD`, ASCII digits, a real calendar day. Nothing else.

Python's `date.fromisoformat` (3.11) also takes ISO week dates (`2023-W36-5`), basic forms
(`20230905`) and, through `int()`, digits of other scripts (`２０２３`); conditions compare
dates as text, so every date the engine reads goes through `parse_date` and is kept in the
canonical form `canonical` returns, the same day always written the same way.
"""
from __future__ import annotations

import datetime as _dt
import re
from typing import Any

from .errors import CaseError, problem

FORM = "YYYY-MM-DD"
PATTERN = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"  # the same form, for JSON Schemas
_FORM = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


class DateError(ValueError):
    """The value is not a date written YYYY-MM-DD (or not a real calendar day)."""


def parse_date(value: Any, what: str = "date") -> _dt.date:
    """A `datetime.date` from a date object or `YYYY-MM-DD` text; DateError otherwise.

    A datetime is a date with a time of day, which no fact has: it is refused, not cut.
    """
    if type(value) is str:
        day = _READ.get(value)
        if day is not None:
            return day
    if isinstance(value, _dt.datetime):
        raise DateError(f"{what} must be a day written {FORM}, not a time ({value.isoformat()})")
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, str) and _FORM.fullmatch(value):
        try:
            day = _dt.date(int(value[:4]), int(value[5:7]), int(value[8:]))
        except ValueError as exc:  # 2023-02-30, month 13, year 0000
            raise DateError(f"{what} {value!r} is not a day of the calendar ({exc})") from None
        if type(value) is str:
            if len(_READ) >= _READ_LIMIT:
                _READ.clear()
            _READ[value] = day
        return day
    raise DateError(f"{what} must be a date written {FORM}, got {_show(value)}")


# Dates already read, by their text (dates are immutable): at most _READ_LIMIT, then emptied.
_READ: dict[str, _dt.date] = {}
_READ_LIMIT = 65_536


def canonical(value: Any, what: str = "date") -> str:
    """The date as `YYYY-MM-DD` text (the form conditions compare); DateError otherwise."""
    return parse_date(value, what).isoformat()


def is_date(value: Any) -> bool:
    """True for `YYYY-MM-DD` text naming a real calendar day (the JSON Schema `date` format)."""
    if not isinstance(value, str):
        return False
    try:
        parse_date(value)
    except DateError:
        return False
    return True


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def as_date(value: Any, what: str = "as_of", *, code: str = "case_invalid", **where) -> _dt.date:
    """A date from a date object (a datetime gives its day) or `YYYY-MM-DD` text; CaseError otherwise.

    Text goes through dates.parse_date, the one strict reader: no week dates, no basic
    form, no digits of other scripts, no empty text. `code` and `where` (file, line,
    column, path) locate the problem when the date comes from a file (a request's date).
    """
    if isinstance(value, _dt.datetime):
        return value.date()
    try:
        return parse_date(value, what)
    except DateError as exc:
        where.setdefault("path", what)
        raise CaseError([problem(code, str(exc), hint="write it as YYYY-MM-DD, e.g. 2026-11-23", **where)]) from None


# Periods in months and years, as 《民法典》 counts them. 第二百零一条: a period in months or
# years starts the day after the starting day; 第二百零二条: it ends on the day of the last month
# that corresponds to the starting day, and where that month has no such day, on its last day.
# So one month from 2026-01-31 ends on 2026-02-28, and from 2024-02-29 one year ends on
# 2025-02-28. (Moving a last day that falls on a holiday is 第二百零三条, a rule of the policy's
# calendar, not of these functions.)

def _month_end(year: int, month: int) -> int:
    import calendar
    return calendar.monthrange(year, month)[1]


def add_months(start: _dt.date, months: int) -> _dt.date:
    """The day `months` months after `start` that corresponds to it (民法典 第二百零二条).

    The month's last day where it has no corresponding day: 2026-01-31 + 1 month = 2026-02-28.
    Negative counts go back the same way. Refuses a result outside years 1-9999 (ValueError).
    """
    index = start.year * 12 + (start.month - 1) + int(months)
    year, month = divmod(index, 12)
    month += 1
    if not 1 <= year <= 9999:
        raise ValueError(f"{start.isoformat()} plus {months} months is outside the calendar")
    return _dt.date(year, month, min(start.day, _month_end(year, month)))


def add_years(start: _dt.date, years: int) -> _dt.date:
    """The corresponding day `years` years on (29 February goes to 28 February in a common year)."""
    return add_months(start, 12 * int(years))


def months_between(start: _dt.date, end: _dt.date) -> int:
    """Whole months from `start` to `end`: the count goes up on each corresponding day.

    months_between(2026-01-31, 2026-02-28) == 1 (28 February corresponds to the 31st there);
    negative when `end` is before `start`.
    """
    if end < start:
        return -months_between(end, start)
    months = (end.year - start.year) * 12 + (end.month - start.month)
    while months > 0 and add_months(start, months) > end:
        months -= 1
    return months


# Times of day, for texts that count hours or minutes (民法典 第二百零一条第一款: a period in
# hours runs from the moment the law or the parties set). A time is written
# `YYYY-MM-DDTHH:MM` or `YYYY-MM-DDTHH:MM:SS`, ASCII digits, capital T, 00:00 to 23:59:59,
# and has no time zone: it is the local time of the place where the regulation applies
# (北京时间 for the texts encoded so far, which has no daylight saving), the time the
# documents of the case state. A zone (`Z`, `+08:00`), fractions of a second, `24:00`, a
# space instead of T, or a bare date is refused, never converted: two times of one case
# are always compared as written. Times are kept as `YYYY-MM-DDTHH:MM:SS` text, so they
# compare correctly as text, and the day of a time is its first ten characters.

DATETIME_FORM = "YYYY-MM-DDTHH:MM[:SS]"
DATETIME_PATTERN = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2})?$"  # for JSON Schemas
_DATETIME = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})T([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?", re.ASCII)
_ZONE = re.compile(r".*T.*(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)$", re.ASCII)


def parse_datetime(value: Any, what: str = "time") -> _dt.datetime:
    """A naive `datetime.datetime` from one or `YYYY-MM-DDTHH:MM[:SS]` text; DateError otherwise."""
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None:
            raise DateError(f"{what} must be a local time without a time zone, got {value.isoformat()}")
        if value.microsecond:
            raise DateError(f"{what} must be written to the second at most, got {value.isoformat()}")
        return value
    if isinstance(value, _dt.date):
        raise DateError(f"{what} must be a time written {DATETIME_FORM}, not a day ({value.isoformat()})")
    if isinstance(value, str):
        match = _DATETIME.fullmatch(value)
        if match:
            day = parse_date(match.group(1), what)
            hour, minute, second = int(match.group(2)), int(match.group(3)), int(match.group(4) or 0)
            if hour > 23 or minute > 59 or second > 59:
                raise DateError(f"{what} {value!r} is not a time of day (00:00 to 23:59:59)")
            return _dt.datetime(day.year, day.month, day.day, hour, minute, second)
        if _ZONE.fullmatch(value):
            raise DateError(f"{what} {value!r} carries a time zone; times are local time without a zone")
        if _FORM.fullmatch(value):
            raise DateError(f"{what} must be a time written {DATETIME_FORM}, not a day ({value})")
    raise DateError(f"{what} must be written {DATETIME_FORM} (local time, no zone), got {_show(value)}")


def canonical_datetime(value: Any, what: str = "time") -> str:
    """The time as `YYYY-MM-DDTHH:MM:SS` text (the form conditions compare); DateError otherwise."""
    return parse_datetime(value, what).isoformat(timespec="seconds")


def minutes_between(start: _dt.datetime, end: _dt.datetime) -> int:
    """Whole minutes from `start` to `end` (seconds left over are not a minute); negative when `end` is earlier."""
    if end < start:
        return -minutes_between(end, start)
    return int((end - start).total_seconds()) // 60
