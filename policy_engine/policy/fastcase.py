"""Table-driven case validation: check_case's fast path, check_case kept for the message.

`CaseTable(vocabulary).check(case, as_of)` walks a case once, through a table made from the
vocabulary when first needed (each level of nesting a dict from key to fact or group), and
gives what `check_case_size` followed by `vocabulary.check_case` gives for a valid case: the
facts by name (dates canonical, events sorted), and with them the flat variables conditions
read (expr.bind). For anything else it gives None, and the caller runs those two, which accept
or refuse the case and word every problem with its path. So the table never decides a refusal
and never words one: it only recognises, quickly, the cases that are certainly valid.

What it recognises by itself: mappings of known facts and groups (plain dicts, string keys),
null values (absent), booleans, whole numbers within the fact's bounds, enum values, text
without lone surrogates, dates as `YYYY-MM-DD` text or date objects. A fact of another type
(datetime, list, events) is checked by check_case's own `_check_value`, after the whole case
has passed `check_case_size` (a list's length is bounded before it is walked); a problem found
there sends the case to the slow path, which finds it again and words it. A case without a list
holds at most one value per fact and group of the vocabulary, nested no deeper than its names:
within check_case_size's bounds by construction (the table is not used for a vocabulary where
that would not hold).

tests/test_fastcase.py compares the two paths on every golden case, on each case with each of
its values replaced by values of every type, and on generated cases.
"""
from __future__ import annotations

import datetime as _dt
from typing import Any, Callable

from ..dates import DateError, canonical
from .limits import MAX_CASE_DEPTH, MAX_LIST_ITEMS, check_case_size
from .vocabulary import _SURROGATE, Fact, Vocabulary, _check_value

_NO = object()  # not recognised here: the slow path decides
_INT_MIN, _INT_MAX = -(2 ** 63), 2 ** 63 - 1
_DATES: dict[str, str] = {}  # YYYY-MM-DD text already read -> its canonical form (the same text)
_DATES_LIMIT = 100_000


def _date_text(value: Any) -> Any:
    """The canonical text of a date given as text or a date object; _NO for anything else."""
    if type(value) is str:
        seen = _DATES.get(value)
        if seen is not None:
            return seen
        try:
            text = canonical(value)
        except DateError:
            return _NO
        if len(_DATES) >= _DATES_LIMIT:
            _DATES.clear()
        _DATES[value] = text
        return text
    if type(value) is _dt.date:
        return value.isoformat()
    return _NO


def _checker(fact: Fact) -> tuple[Callable[[Any, str], Any], bool]:
    """(function of (value, as_of) -> canonical value or _NO, whether it is check_case's own)."""
    t = fact.type
    if t == "boolean":
        return (lambda v, as_of: v if v is True or v is False else _NO), False
    if t == "integer":
        low = _INT_MIN if fact.minimum is None else max(_INT_MIN, fact.minimum)
        high = _INT_MAX if fact.maximum is None else min(_INT_MAX, fact.maximum)
        return (lambda v, as_of: v if type(v) is int and low <= v <= high else _NO), False
    if t == "enum":
        values = frozenset(fact.values)
        return (lambda v, as_of: v if type(v) is str and v in values else _NO), False
    if t == "string":
        search = _SURROGATE.search
        return (lambda v, as_of: v if type(v) is str and (v.isascii() or search(v) is None) else _NO), False
    if t == "date":
        if fact.not_after == "as_of":
            def bounded(v: Any, as_of: str) -> Any:
                day = _date_text(v)
                return day if day is _NO or day <= as_of else _NO
            return bounded, False
        return (lambda v, as_of: _date_text(v)), False

    def slow(v: Any, as_of: str) -> Any:  # datetime, list, events: check_case's own check
        problems: list = []
        out = _check_value(fact, v, fact.name, problems, as_of)
        return _NO if problems else out
    return slow, True


class CaseTable:
    """A vocabulary's case check as a table (see the module's text)."""

    __slots__ = ("root", "usable")

    def __init__(self, vocabulary: Vocabulary) -> None:
        root: dict[str, Any] = {}
        deepest = 0
        clash = False
        for name, fact in vocabulary.facts.items():
            parts = name.split(".")
            deepest = max(deepest, len(parts))
            level = root
            for part in parts[:-1]:
                entry = level.get(part)
                if entry is None:
                    entry = level[part] = ("group", {})
                elif entry[0] != "group":  # a fact that is also a group: left to check_case
                    clash = True
                    break
                level = entry[1]
            else:
                if parts[-1] in level:
                    clash = True
                check, own = _checker(fact)
                level[parts[-1]] = ("fact", name, fact.variable, check, own)
        self.root = root
        self.usable = not clash and deepest < MAX_CASE_DEPTH and len(vocabulary.facts) < MAX_LIST_ITEMS

    def check(self, case: Any, as_of: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """(facts by name, flat variables with as_of) of a case certainly valid; None otherwise.

        The facts come in check_case's order (the case's, depth first)."""
        if type(case) is not dict or not self.usable:
            return None
        facts: dict[str, Any] = {}
        variables: dict[str, Any] = {}
        if not self._walk(case, self.root, case, as_of, facts, variables, [False]):
            return None
        variables["as_of"] = as_of
        return facts, variables

    def _walk(self, data: dict, table: dict, case: dict, as_of: str, facts: dict, variables: dict,
              sized: list) -> bool:
        for key, value in data.items():
            entry = table.get(key) if type(key) is str else None
            if entry is None:
                return False
            if entry[0] == "group":
                if type(value) is not dict or not self._walk(value, entry[1], case, as_of, facts, variables, sized):
                    return False
                continue
            if value is None:
                continue
            _, name, variable, check, own = entry
            if own and not sized[0]:
                try:
                    check_case_size(case)
                except Exception:  # noqa: BLE001 - the slow path raises it again, worded
                    return False
                sized[0] = True
            checked = check(value, as_of)
            if checked is _NO:
                return False
            facts[name] = checked
            variables[variable] = checked
        return True
