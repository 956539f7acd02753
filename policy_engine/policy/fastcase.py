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
from typing import Any

from ..dates import DateError, parse_date
from .limits import MAX_CASE_DEPTH, MAX_LIST_ITEMS, check_case_size
from .vocabulary import _SURROGATE, Fact, Vocabulary, _check_value

_NO = object()  # not recognised here: the slow path decides
_INT_MIN, _INT_MAX = -(2 ** 63), 2 ** 63 - 1


def _date_text(value: Any) -> Any:
    """The canonical text of a date given as text or a date object; _NO for anything else."""
    if type(value) is str:
        try:
            parse_date(value)  # the one reader of dates (it keeps what it has read)
        except DateError:
            return _NO
        return value  # text it accepts is written YYYY-MM-DD already: its canonical form
    if type(value) is _dt.date:
        return value.isoformat()
    return _NO


# What a table entry is: a group of facts, or a fact checked inline by type (booleans, enums,
# whole numbers in bounds, text) or by a function (dates, and check_case's own for the rest).
_GROUP, _BOOL, _ENUM, _INT, _TEXT, _CALL, _OWN = range(7)


def _entry(fact: Fact) -> tuple:
    """(code, fact name, variable, what the check needs)."""
    t = fact.type
    if t == "boolean":
        return (_BOOL, fact.name, fact.variable, None)
    if t == "enum":
        return (_ENUM, fact.name, fact.variable, frozenset(fact.values))
    if t == "integer":
        low = _INT_MIN if fact.minimum is None else max(_INT_MIN, fact.minimum)
        high = _INT_MAX if fact.maximum is None else min(_INT_MAX, fact.maximum)
        return (_INT, fact.name, fact.variable, (low, high))
    if t == "string":
        return (_TEXT, fact.name, fact.variable, None)
    if t == "date":
        if fact.not_after == "as_of":
            def bounded(v: Any, as_of: str) -> Any:
                day = _date_text(v)
                return day if day is _NO or day <= as_of else _NO
            return (_CALL, fact.name, fact.variable, bounded)
        return (_CALL, fact.name, fact.variable, lambda v, as_of: _date_text(v))

    def own(v: Any, as_of: str) -> Any:  # datetime, list, events: check_case's own check
        problems: list = []
        out = _check_value(fact, v, fact.name, problems, as_of)
        return _NO if problems else out
    return (_OWN, fact.name, fact.variable, own)


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
                    entry = level[part] = (_GROUP, {})
                elif entry[0] != _GROUP:  # a fact that is also a group: left to check_case
                    clash = True
                    break
                level = entry[1]
            else:
                if parts[-1] in level:
                    clash = True
                level[parts[-1]] = _entry(fact)
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
            entry = table.get(key)  # keys are text: anything else (or text with a surrogate) is in no table
            if entry is None:
                return False
            code = entry[0]
            if code == _GROUP:
                if type(value) is not dict or not self._walk(value, entry[1], case, as_of, facts, variables, sized):
                    return False
                continue
            if value is None:
                continue
            if code == _BOOL:
                if value is not True and value is not False:
                    return False
            elif code == _ENUM:
                if type(value) is not str or value not in entry[3]:
                    return False
            elif code == _INT:
                if type(value) is not int or not entry[3][0] <= value <= entry[3][1]:
                    return False
            elif code == _TEXT:
                if type(value) is not str or not (value.isascii() or _SURROGATE.search(value) is None):
                    return False
            else:
                if code == _OWN and not sized[0]:
                    try:
                        check_case_size(case)
                    except Exception:  # noqa: BLE001 - the slow path raises it again, worded
                        return False
                    sized[0] = True
                value = entry[3](value, as_of)
                if value is _NO:
                    return False
            facts[entry[1]] = value
            variables[entry[2]] = value
        return True
