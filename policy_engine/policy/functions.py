"""Functions policy conditions may call, registered once by name.

Dates travel through CEL as ISO strings `YYYY-MM-DD` (the case validator guarantees the
form), so they compare correctly with `<`, `<=`, `==` as strings, and each function here
parses what it needs. Every function is pure: none reads the clock; `as_of` is a variable.

Ages and anniversaries follow 《民法典》: a period counted in years ends on the
corresponding day of the last year (第二百零二条); where that month has no corresponding
day (29 February in a common year), the month's last day is the corresponding day. So a
person born on 29 February 2000 is 18 on 28 February 2018. An age is reached on the
birthday itself (年满70周岁 holds on the 70th birthday). Months count the same way
(add_months, months_between: dates.add_months).

Times of day travel as `YYYY-MM-DDTHH:MM:SS` text, local time without a zone
(dates.parse_datetime, the one strict reader of times); a time given where a date is
read, or a date where a time is read, is an error, never converted.
"""
from __future__ import annotations

import calendar
import datetime as _dt
from dataclasses import dataclass
from typing import Callable

from .. import dates as _dates
from ..dates import parse_date, parse_datetime


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    call: Callable
    signature: str
    doc: str


def _date(value, what: str = "date") -> _dt.date:
    """The one strict reader (dates.parse_date): YYYY-MM-DD in ASCII digits, a real day."""
    return parse_date(value, what)


def completed_years(start, end) -> int:
    """Whole years from `start` to `end`; the count goes up on each anniversary."""
    a, b = _date(start), _date(end)
    if b < a:
        return -completed_years(b, a)
    years = b.year - a.year
    if _dates.add_years(a, years) > b:  # the corresponding day (29 February -> 28 February)
        years -= 1
    return years


def age_at(birth_date, on) -> int:
    if isinstance(birth_date, str) and isinstance(on, str) and len(birth_date) == len(on) == 10:
        # fast path for ISO text: compare (month, day) with the anniversary rule of completed_years
        b, d = _date(birth_date), _date(on)
        years = d.year - b.year
        if (d.month, d.day) < (b.month, min(b.day, calendar.monthrange(d.year, b.month)[1])):
            years -= 1
        return years if d >= b else completed_years(b, d)
    return completed_years(birth_date, on)


def _whole(n, what: str) -> int:
    """A count of units: a whole number, never true/false (a boolean fact is not a length)."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise ValueError(f"{what} must be a whole number, got {n!r}")
    return n


def _out_of_range(start, n: int, unit: str) -> ValueError:
    return ValueError(f"{start} plus {n} {unit} is out of range of the calendar (years 1 to 9999)")


def _months_on(date, months: int, n: int, unit: str) -> str:
    """The corresponding day `months` months after `date` (民法典第二百零二条); `n unit` names it in errors."""
    day = _date(date)
    try:
        return _dates.add_months(day, months).isoformat()
    except ValueError:
        raise _out_of_range(day.isoformat(), n, unit) from None


def add_years(date, years) -> str:
    n = _whole(years, "the number of years")
    return _months_on(date, 12 * n, n, "years")


def add_months(date, months) -> str:
    n = _whole(months, "the number of months")
    return _months_on(date, n, n, "months")


def months_between(start, end) -> int:
    return _dates.months_between(_date(start), _date(end))


def add_days(date, days) -> str:
    return (_date(date) + _dt.timedelta(days=int(days))).isoformat()


def days_between(start, end) -> int:
    return (_date(end) - _date(start)).days


def _time(value, what: str = "time") -> _dt.datetime:
    """The one strict reader of times (dates.parse_datetime): YYYY-MM-DDTHH:MM[:SS], no zone."""
    return parse_datetime(value, what)


def minutes_between(start, end) -> int:
    return _dates.minutes_between(_time(start), _time(end))


def hours_between(start, end) -> int:
    minutes = _dates.minutes_between(_time(start), _time(end))
    return minutes // 60 if minutes >= 0 else -((-minutes) // 60)


def _shift(time, minutes: int) -> str:
    start = _time(time)
    try:
        moved = start + _dt.timedelta(minutes=minutes)
    except OverflowError:
        raise _out_of_range(start.isoformat(), minutes, "minutes") from None
    return moved.isoformat(timespec="seconds")


def add_minutes(time, n) -> str:
    return _shift(time, _whole(n, "the number of minutes"))


def add_hours(time, n) -> str:
    return _shift(time, 60 * _whole(n, "the number of hours"))


def date_of(time) -> str:
    return _time(time).date().isoformat()


def date_in(date, first, last) -> bool:
    """True when first <= date <= last (both ends included)."""
    d = _date(date)
    return _date(first) <= d <= _date(last)


# The working-day functions use the calendar of the policy being evaluated (workdays.active()).
def working_days_between(start, end) -> int:
    from .workdays import active
    return active().working_days_between(_date(start), _date(end))


def add_working_days(date, n) -> str:
    from .workdays import active
    return active().add_working_days(_date(date), int(n)).isoformat()


def is_workday(date) -> bool:
    from .workdays import active
    return active().is_workday(_date(date))


def workday_on_or_after(date) -> str:
    """`date` if it is a working day, else the next working day (民法典第二百零三条: a period whose
    last day is a statutory holiday or rest day ends on the day after it)."""
    from .workdays import active
    day = _date(date)
    cal = active()
    return (day if cal.is_workday(day) else cal.add_working_days(day, 1)).isoformat()


def max_run(flags) -> int:
    """Length of the longest run of consecutive true values in a list."""
    best = run = 0
    for flag in flags:
        if flag is True:
            run += 1
            if run > best:
                best = run
        elif flag is False:
            run = 0
        else:
            raise ValueError("max_run expects a list of true/false values")
    return best


# -- aggregates over a list ---------------------------------------------------------------------
#
# `sum`, `min` and `max` take a list, usually built by the single-pass `map` / `filter` of a
# fact (expr.linear), so an aggregate costs one pass over the list, bounded by
# limits.MAX_LIST_ITEMS. The CEL standard library has none of them; cel-go's math extension
# has `math.greatest` / `math.least` (of several values or of a list, an empty list an error)
# and no sum. Policies call them `sum`, `min`, `max`: short global names the condition checker
# already knows (no dotted function names), with cel-go's semantics where it has them:
# `max(a, b, ...)` is the greatest of its arguments, `max(list)` the greatest element, and an
# empty list has no greatest element.
#
# An empty list: `sum` gives 0 (the sum of nothing); `min` and `max` have no value, and are an
# error finding naming the empty list, never a silent 0, unless the author gives what an empty
# list means: `max(list, default)` (Python's `default`: returned only when the list is empty).
# An element that is not there (an event without the field mapped) makes the whole aggregate
# unknown, the field named in missing_facts, as any condition reading it (expr.evaluate).

INT64 = (-(2 ** 63), 2 ** 63 - 1)


class EmptyAggregate(ValueError):
    """min or max of an empty list with no default: the condition has no value for this case."""


def _elements(values, name: str) -> list:
    """The list's values, checked to be all numbers or all texts (dates are ISO texts)."""
    if not isinstance(values, (list, tuple)):
        raise ValueError(f"{name}() expects a list, got {type(values).__name__}")
    numbers = texts = 0
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float, str)):
            what = "events" if isinstance(v, dict) else type(v).__name__
            raise ValueError(f"{name}() expects numbers or dates, got {what}; map the list to one field first, "
                             f"e.g. {name}(events.map(e, e.points))")
        if isinstance(v, str):
            texts += 1
        else:
            numbers += 1
    if numbers and texts:
        raise ValueError(f"{name}() got numbers and texts in one list")
    return list(values)


def _in_range(total):
    if isinstance(total, int) and not INT64[0] <= total <= INT64[1]:
        raise ValueError("the sum exceeds the range of integers")
    return total


def sum_of(values):
    """The sum of a list of numbers; 0 for an empty list."""
    items = _elements(values, "sum")
    if any(isinstance(v, str) for v in items):
        raise ValueError("sum() expects numbers, got texts")
    if all(isinstance(v, int) for v in items):
        return _in_range(sum(items))
    return float(sum(items))


def _extreme(name: str, pick, args: tuple):
    if not args:
        raise ValueError(f"{name}() expects a list")
    if isinstance(args[0], (list, tuple)):
        if len(args) > 2:
            raise ValueError(f"{name}(list, default) takes at most a default after the list")
        items = _elements(args[0], name)
        if not items:
            if len(args) == 2:
                return args[1]
            raise EmptyAggregate(f"{name}() of an empty list has no value; write {name}(list, default) "
                                 f"to say what an empty list gives")
        if len(args) == 2:
            _elements([items[0], args[1]], name)  # the default has the elements' type
    else:
        items = _elements(list(args), name)  # max(a, b, ...): as cel-go's math.greatest / math.least
    return pick(items)


def max_of(*args):
    """The greatest element of a list (max(list), max(list, default)), or of its arguments (max(a, b))."""
    return _extreme("max", max, args)


def min_of(*args):
    """The least element of a list (min(list), min(list, default)), or of its arguments (min(a, b))."""
    return _extreme("min", min, args)


FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in (
        Function("age_at", age_at, "age_at(birth_date, date) -> int",
                 "Age in whole years on `date`; the age goes up on the birthday itself "
                 "(29 February birthdays: on 28 February in common years)."),
        Function("years_between", completed_years, "years_between(start, end) -> int",
                 "Whole years from `start` to `end`, counted as ages are."),
        Function("add_years", add_years, "add_years(date, n) -> date",
                 "The corresponding day n years later (民法典第二百零二条; 29 February -> 28 February)."),
        Function("add_months", add_months, "add_months(date, n) -> date",
                 "The corresponding day n months later (民法典第二百零二条); the month's last day where it has "
                 "no such day (2026-01-31 + 1 -> 2026-02-28). n may be negative."),
        Function("months_between", months_between, "months_between(start, end) -> int",
                 "Whole months from `start` to `end`; the count goes up on each corresponding day "
                 "(2026-01-31 to 2026-02-28 is 1)."),
        Function("add_days", add_days, "add_days(date, n) -> date", "The date n calendar days later (n may be negative)."),
        Function("days_between", days_between, "days_between(start, end) -> int",
                 "Calendar days from `start` to `end` (end - start)."),
        Function("date_in", date_in, "date_in(date, first, last) -> bool", "first <= date <= last, both ends included."),
        Function("working_days_between", working_days_between, "working_days_between(start, end) -> int",
                 "Working days from start to end, both included, under the State Council schedule (调休 included); "
                 "a year no calendar covers is an error, never a guess."),
        Function("add_working_days", add_working_days, "add_working_days(date, n) -> date",
                 "The n-th working day after `date` (the day itself is not counted: 民法典第二百零一条)."),
        Function("is_workday", is_workday, "is_workday(date) -> bool", "Whether `date` is a working day (调休 included)."),
        Function("workday_on_or_after", workday_on_or_after, "workday_on_or_after(date) -> date",
                 "`date` if it is a working day, else the next one: a last day on a holiday or rest day moves to "
                 "the day after it (民法典第二百零三条)."),
        Function("minutes_between", minutes_between, "minutes_between(start, end) -> int",
                 "Whole minutes from time `start` to time `end` (YYYY-MM-DDTHH:MM[:SS], no zone)."),
        Function("hours_between", hours_between, "hours_between(start, end) -> int",
                 "Whole hours from time `start` to time `end` (2 h 59 min is 2)."),
        Function("add_minutes", add_minutes, "add_minutes(time, n) -> time", "The time n minutes later (n may be negative)."),
        Function("add_hours", add_hours, "add_hours(time, n) -> time", "The time n hours later (n may be negative)."),
        Function("date_of", date_of, "date_of(time) -> date", "The day of a time, to compare it with dates."),
        Function("max_run", max_run, "max_run(list<bool>) -> int",
                 "Longest run of consecutive true values; with events sorted by date, "
                 "`max_run(events.map(e, <condition>))` counts 连续N次."),
        Function("sum", sum_of, "sum(list<int|double>) -> int|double",
                 "The sum of a list of numbers, 0 for an empty list; with map/filter, one pass: "
                 "`sum(official.events.filter(e, e.kind == 'points' && date_in(e.date, add_years(as_of, -1), as_of))"
                 ".map(e, e.points))`."),
        Function("max", max_of, "max(list) / max(list, default) / max(a, b, ...) -> value",
                 "The greatest number or latest date of a list; an empty list is an error unless a default is "
                 "given (returned only for an empty list). max(a, b, ...) is the greatest of its arguments."),
        Function("min", min_of, "min(list) / min(list, default) / min(a, b, ...) -> value",
                 "The least number or earliest date of a list; an empty list is an error unless a default is "
                 "given (returned only for an empty list). min(a, b, ...) is the least of its arguments."),
    )
}

CALLABLES: dict[str, Callable] = {name: f.call for name, f in FUNCTIONS.items()}

# CEL's own global functions and the member functions / macros policies may use.
CEL_GLOBALS = frozenset({
    "size", "int", "uint", "double", "string", "bool", "bytes", "dyn", "type", "has",
    "matches", "timestamp", "duration",
})
CEL_MEMBERS = frozenset({
    "size", "contains", "startsWith", "endsWith", "matches", "exists", "all", "exists_one",
    "map", "filter", "lowerAscii", "upperAscii", "trim", "split", "join",
})
