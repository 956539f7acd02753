"""Working days under the State Council's holiday schedule (国务院办公厅节假日安排), 调休 included.

Years 2004-2026 come from the chinesecalendar package. Later years come from the calendar
file of the policies folder, `<policies>/_shared/cn-workdays.calendar.yaml`, which legal
staff extend when the State Council publishes the next year's schedule; a year listed
there overrides the package. A date in a year that neither covers is an error naming the year
and the file: never a guess, and never a fallback to Monday-Friday.

Before a year's notice is published, the file may list the year with `status:
statutory_only` and the statutory holidays of 《全国年节及纪念日放假办法》: those days are
known to be off; every other day of that year is unknown (a weekday may be bridged to a
holiday, a weekend day may be worked), so asking about it is the same error.

Counting conventions (民法典第二百零一条: a period starts the day after the event):
- `working_days_between(a, b)` counts the working days from a to b, both ends included.
- `add_working_days(d, n)` is the n-th working day after d (d itself is not counted).

Which calendar: a policy counts working days under the calendar of its own policies
folder (the folder holding `<id>/<version>.yaml`), read once by the loader and kept on
the policy; its bytes are part of the policy's digest. `decide`, draws and panel checks
evaluate under `with using(policy.calendar)` (see `policy_calendar`), so the functions
of functions.py use exactly the calendar that was checked and hashed. Outside any policy
(a library caller using the functions directly), the calendar shipped with the project
is used.
"""
from __future__ import annotations

import bisect
import contextlib
import contextvars
import datetime as _dt
import functools
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Iterator, Mapping

import chinese_calendar
from chinese_calendar.constants import holidays as _PACKAGE_HOLIDAYS, workdays as _PACKAGE_WORKDAYS

from .. import textio
from .. import resources as _resources
from ..errors import PolicyError, Problem, problem
from ..yamlio import MAX_BYTES, YamlProblem, parse

SHARED_FOLDER = "_shared"
CALENDAR_NAME = "cn-workdays.calendar.yaml"
# How verdicts name the calendar: relative to the policies folder, the same on every machine.
CALENDAR_REF = f"{SHARED_FOLDER}/{CALENDAR_NAME}"
CALENDAR_FILE = _resources.calendar_file()  # the shipped one
CALENDAR_LIMIT = MAX_BYTES  # a calendar is a YAML file like a policy: at most 2 MiB
PACKAGE_YEARS = (2004, 2026)  # what chinesecalendar 1.11 covers
MAX_SPAN_DAYS = 3660  # refuse to walk more than about ten years


class CalendarGap(ValueError):
    """A date in a year no calendar covers."""


@dataclass(frozen=True, slots=True)
class Year:
    year: int
    holidays: frozenset[_dt.date]  # weekdays off (法定节假日 and bridging days)
    workdays: frozenset[_dt.date]  # weekend days worked (调休上班)
    source: str  # the notice, e.g. 国办发明电〔2026〕N号
    complete: bool = True  # False: statutory holidays only, the year's 调休 not yet published


_WORK, _OFF, _UNKNOWN = 1, 0, 2  # a day's code in a year's table


class _Tables(dict):
    """A calendar's year tables: made again where it is unpickled (they are derived from the years)."""

    def __reduce__(self) -> tuple:
        return (_Tables, ())


@dataclass(frozen=True, slots=True)
class _YearTable:
    """One year's days as codes (work, off, unknown: the year is not entered, or only its statutory
    holidays are), with the running count of working days: a span of days is counted by two
    look-ups, not by asking the holiday schedule about each of its days."""

    first: int  # ordinal of 1 January
    codes: bytes  # one code per day of the year
    before: tuple[int, ...]  # before[i]: working days among the year's first i days


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    years: Mapping[int, Year]
    file: str  # how messages name it: _shared/cn-workdays.calendar.yaml for a policies folder's calendar
    # year -> _YearTable, made when a date of that year is first counted (the same answers as `_day`)
    tables: dict = field(default_factory=lambda: _Tables(), compare=False, repr=False)

    def covers(self, year: int) -> bool:
        return year in self.years or PACKAGE_YEARS[0] <= year <= PACKAGE_YEARS[1]

    def _day(self, day: _dt.date) -> bool:
        """Whether `day` is a working day, asked of the schedule itself; CalendarGap where it is unknown."""
        entry = self.years.get(day.year)
        if entry is not None:
            if day in entry.workdays:
                return True
            if day in entry.holidays:
                return False
            if not entry.complete:
                raise CalendarGap(
                    f"{day.isoformat()}: only the statutory holidays of {day.year} are known; the State Council's "
                    f"schedule for {day.year} (调休) is not entered yet; add it to {self.file} when it is published")
            return day.weekday() < 5
        if PACKAGE_YEARS[0] <= day.year <= PACKAGE_YEARS[1]:
            return chinese_calendar.is_workday(day)
        raise CalendarGap(
            f"no holiday schedule for {day.year}: working days in {day.year} are unknown until the State Council "
            f"publishes that year's 节假日安排; add it to {self.file}")

    def _table(self, year: int) -> _YearTable:
        table = self.tables.get(year)
        if table is None:
            first = _dt.date(year, 1, 1).toordinal()
            codes = bytearray()
            before, count = [0], 0
            # the package's own tables for its years (what chinese_calendar.is_workday reads, without
            # the bounds it recomputes on every call: tests/test_workdays.py compares the two every day)
            package = year not in self.years and PACKAGE_YEARS[0] <= year <= PACKAGE_YEARS[1]
            for i in range(_dt.date(year, 12, 31).toordinal() - first + 1):
                day = _dt.date.fromordinal(first + i)
                if package:
                    work = day in _PACKAGE_WORKDAYS or (day.weekday() <= 4 and day not in _PACKAGE_HOLIDAYS)
                else:
                    try:
                        work = self._day(day)
                    except CalendarGap:
                        codes.append(_UNKNOWN)
                        before.append(count)
                        continue
                codes.append(_WORK if work else _OFF)
                count += work
                before.append(count)
            table = self.tables.setdefault(year, _YearTable(first, bytes(codes), tuple(before)))
        return table

    def is_workday(self, day: _dt.date) -> bool:
        table = self._table(day.year)
        code = table.codes[day.toordinal() - table.first]
        if code == _UNKNOWN:
            return self._day(day)  # raises, with its words
        return code == _WORK

    def working_days_between(self, start: _dt.date, end: _dt.date) -> int:
        if end < start:
            return -self.working_days_between(end, start)
        if (end - start).days > MAX_SPAN_DAYS:
            raise ValueError("working days are counted over at most ten years")
        count = 0
        for year in range(start.year, end.year + 1):  # in order: the first unknown day is the one reported
            table = self._table(year)
            a = (start.toordinal() if year == start.year else table.first) - table.first
            b = (end.toordinal() if year == end.year else table.first + len(table.codes) - 1) - table.first
            gap = table.codes.find(_UNKNOWN, a, b + 1)
            if gap >= 0:
                self._day(_dt.date.fromordinal(table.first + gap))  # raises, with its words
            count += table.before[b + 1] - table.before[a]
        return count

    def add_working_days(self, start: _dt.date, n: int) -> _dt.date:
        """The n-th working day after `start`, found in the year tables by the running counts; as if
        walking day by day: an unknown day before it is the error (CalendarGap), and so is a walk
        of more than MAX_SPAN_DAYS (ValueError), whichever comes first."""
        if n < 0:
            raise ValueError("add_working_days counts forward; n must be 0 or more")
        if n == 0:
            return start
        left = n
        here = start.toordinal() + 1  # the first day counted
        limit = start.toordinal() + MAX_SPAN_DAYS  # the last day a walk may reach
        while True:
            if here > limit or here > _LAST_ORDINAL:
                raise ValueError("working days are counted over at most ten years")
            table = self._table(_dt.date.fromordinal(here).year)
            a = here - table.first
            b = min(len(table.codes) - 1, limit - table.first)
            found = table.before[b + 1] - table.before[a]
            if found >= left:  # the day the count reaches `left`: the first i with before[i + 1] - before[a] == left
                i = bisect.bisect_left(table.before, table.before[a] + left, a + 1, b + 2) - 1
                gap = table.codes.find(_UNKNOWN, a, i + 1)
                if gap >= 0:
                    self._day(_dt.date.fromordinal(table.first + gap))  # raises, with its words
                return _dt.date.fromordinal(table.first + i)
            gap = table.codes.find(_UNKNOWN, a, b + 1)
            if gap >= 0:
                self._day(_dt.date.fromordinal(table.first + gap))  # raises, with its words
            left -= found
            here = table.first + b + 1


_LAST_ORDINAL = _dt.date.max.toordinal()


def calendar_path(policy_file: str | os.PathLike) -> Path:
    """The calendar of a policy file's policies folder: <policies>/_shared/cn-workdays.calendar.yaml.

    Lexical: `policies/xj/2025-04-21.yaml` gives `policies/_shared/cn-workdays.calendar.yaml`,
    `2025-04-21.yaml` (run inside the policy's folder) gives `../_shared/...`.
    """
    return Path(os.path.normpath(os.path.join(os.fspath(policy_file), os.pardir, os.pardir, SHARED_FOLDER,
                                              CALENDAR_NAME)))


def load(path: Path = CALENDAR_FILE, name: str | None = None) -> WorkCalendar:
    """Read and check a calendar file; PolicyError with positions on any problem.

    `name` is how messages (and so verdicts) name the file; by default the path as given.
    """
    calendar, _, problems = read_calendar(path, name=name)
    if problems:
        raise PolicyError(problems)
    assert calendar is not None
    return calendar


def read_calendar(path: Path, display: str | None = None,
                  name: str | None = None) -> tuple[WorkCalendar | None, bytes, list[Problem]]:
    """The calendar, the bytes it was read from (for digests) and its problems; one read, bounded."""
    display = display or _display(path)
    try:
        data = textio.read_bytes(path, CALENDAR_LIMIT, what="calendar", regular_only=True)
        doc = parse(textio.decode(data, display, what="calendar"), display)
    except textio.ReadFailure as exc:
        return None, b"", [_located(exc.problem, display)]
    except YamlProblem as exc:
        return None, b"", [exc.problem]
    problems = _check(doc)
    if problems:
        return None, data, problems
    return _parse(doc.data, name or display), data, []


def check_file(path: Path) -> list[Problem]:
    return read_calendar(Path(path))[2]


def _located(found: Problem, display: str) -> Problem:
    return Problem(found.code, found.message, display, found.line, found.column, found.path, found.hint)


def _check(doc) -> list[Problem]:
    from . import schema as _schema
    found = _schema.check(doc, "calendar")
    if found:
        return found
    out = []
    for year, raw in (doc.data.get("years") or {}).items():
        holidays = {_dt.date.fromisoformat(d) for d in raw.get("holidays", ())}
        workdays = {_dt.date.fromisoformat(d) for d in raw.get("workdays", ())}
        partial = raw.get("status") == "statutory_only"
        if partial and workdays:
            out.append(problem("schema", f"{year} lists only statutory holidays (status: statutory_only), so it has "
                                         "no make-up workdays", **doc.where(("years", year, "workdays")),
                               hint="enter the whole notice and remove status: statutory_only when it is published"))
        for d in sorted(holidays | workdays):
            if d.year != int(year):
                out.append(problem("schema", f"{d.isoformat()} is not in {year}", **doc.where(("years", year))))
        for d in sorted(holidays & workdays):
            out.append(problem("schema", f"{d.isoformat()} is listed both as a holiday and as a working day",
                               **doc.where(("years", year))))
        for d in sorted(workdays):
            if d.weekday() < 5:
                out.append(problem("schema", f"{d.isoformat()} is a weekday; list only weekend days worked (调休上班)",
                                   **doc.where(("years", year, "workdays"))))
        for d in sorted(holidays) if not partial else ():
            if d.weekday() >= 5:
                out.append(problem("schema", f"{d.isoformat()} falls on a weekend; list only weekdays off",
                                   **doc.where(("years", year, "holidays"))))
    return out


def _parse(data: dict, display: str) -> WorkCalendar:
    years = {}
    for year, raw in (data.get("years") or {}).items():
        years[int(year)] = Year(int(year), frozenset(_dt.date.fromisoformat(d) for d in raw.get("holidays", ())),
                                frozenset(_dt.date.fromisoformat(d) for d in raw.get("workdays", ())), raw["source"],
                                raw.get("status", "published") == "published")
    return WorkCalendar(MappingProxyType(years), display)


def _display(path: Path) -> str:
    return os.path.normpath(os.fspath(path))


@lru_cache(maxsize=1)
def default() -> WorkCalendar:
    """The calendar shipped with the project, read once: for callers outside any policy."""
    return load(CALENDAR_FILE, name=f"policies/{CALENDAR_REF}")


# The calendar of the policy being evaluated. _OUTSIDE: no policy (use the shipped one);
# None: the policy counts no working days (so has no calendar).
_OUTSIDE = object()
_ACTIVE: contextvars.ContextVar = contextvars.ContextVar("policy_engine_calendar", default=_OUTSIDE)

# Conditions are tried once on sample facts (dated 2020) when they are compiled; the
# package's years answer them, so compiling reads no calendar file.
PACKAGE_ONLY = WorkCalendar(MappingProxyType({}), "(the chinesecalendar package)")


def active() -> WorkCalendar:
    """The calendar working-day functions use now."""
    calendar = _ACTIVE.get()
    if calendar is _OUTSIDE:
        return default()
    if calendar is None:
        raise CalendarGap("this policy counts no working days, so it has no working-day calendar")
    return calendar


@contextlib.contextmanager
def using(calendar: WorkCalendar | None) -> Iterator[None]:
    """Evaluate under `calendar` (None: a policy without one)."""
    token = _ACTIVE.set(calendar)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def policy_calendar(fn):
    """Decorate an entry point whose first argument is a Policy: evaluate under its calendar."""
    @functools.wraps(fn)
    def wrapper(policy, *args, **kwargs):
        with using(policy.calendar):
            return fn(policy, *args, **kwargs)
    return wrapper
