"""Fact vocabularies: the typed names a case may use, and checking a case against them.

A fact has a dotted name (`expert.birth_date`); the part before the first dot is its
namespace (`expert`, `matter`). A case is a nested mapping (`{expert: {birth_date: ...}}`)
or uses the dotted names directly; either way it is flattened to one value per fact.

Types: date (YYYY-MM-DD), integer, boolean, enum (one of `values`), string, list (of
strings), events (a list of dated records, each of a declared `kind` with typed fields).
Events are sorted by date (stable) when a case is read, so "consecutive" means
consecutive in time whatever order the case lists them in.
"""
from __future__ import annotations

import datetime as _dt
import difflib
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from .errors import CaseError, Problem, problem

FACT_NAME = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*(?:\.[a-z][a-z0-9]*(?:_[a-z0-9]+)*)+$")
SCALAR_TYPES = ("date", "integer", "boolean", "enum", "string")
TYPES = SCALAR_TYPES + ("list", "events")
RESERVED_EVENT_FIELDS = ("kind", "date")


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: str  # one of SCALAR_TYPES
    values: tuple[str, ...] = ()
    required: bool = False
    description: str = ""


@dataclass(frozen=True, slots=True)
class EventKind:
    name: str
    fields: Mapping[str, Field]
    description: str = ""


@dataclass(frozen=True, slots=True)
class Fact:
    name: str
    type: str
    description: str = ""
    values: tuple[str, ...] = ()  # enum
    items: str | None = None  # list item type (string)
    kinds: Mapping[str, EventKind] = field(default_factory=lambda: MappingProxyType({}))
    attested: bool = False  # a judgement the pool office attests (political stance, ethics ...)
    origin: str = ""  # file that declared it

    @property
    def namespace(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def variable(self) -> str:
        """The flat CEL identifier this fact is bound to."""
        return self.name.replace(".", "__")

    def enum_values(self) -> frozenset[str]:
        """Every literal a condition may compare this fact (or its events' fields) with."""
        out = set(self.values)
        for kind in self.kinds.values():
            out.add(kind.name)
            for f in kind.fields.values():
                out.update(f.values)
        return frozenset(out)


def _field_from(name: str, raw: Mapping) -> Field:
    return Field(name, raw["type"], tuple(raw.get("values", ())), bool(raw.get("required", False)),
                 raw.get("description", ""))


def fact_from(name: str, raw: Mapping, origin: str) -> Fact:
    kinds = {}
    for kind_name, kind_raw in (raw.get("kinds") or {}).items():
        fields = {f: _field_from(f, fr) for f, fr in (kind_raw.get("fields") or {}).items()}
        kinds[kind_name] = EventKind(kind_name, MappingProxyType(fields), kind_raw.get("description", ""))
    return Fact(
        name=name, type=raw["type"], description=raw.get("description", ""),
        values=tuple(raw.get("values", ())), items=raw.get("items"),
        kinds=MappingProxyType(kinds), attested=bool(raw.get("attested", False)), origin=origin,
    )


@dataclass(frozen=True, slots=True)
class Vocabulary:
    facts: Mapping[str, Fact]
    namespaces: frozenset[str]
    prefixes: frozenset[str]  # every proper dotted prefix of a fact name (groups of facts)

    @classmethod
    def of(cls, facts: Mapping[str, Fact]) -> "Vocabulary":
        ordered = dict(sorted(facts.items()))
        prefixes = {name.rsplit(".", k)[0] for name in ordered for k in range(1, name.count(".") + 1)}
        return cls(MappingProxyType(ordered), frozenset(f.namespace for f in ordered.values()), frozenset(prefixes))

    def closest(self, name: str, n: int = 3) -> list[str]:
        return difflib.get_close_matches(name, list(self.facts), n=n, cutoff=0.6)

    def group(self, prefix: str) -> list[str]:
        return [f for f in self.facts if f.startswith(prefix + ".")]


# ---------------------------------------------------------------------------------------
# Cases


def _is_date(value: Any) -> bool:
    if not isinstance(value, str) or len(value) != 10:
        return False
    try:
        _dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _type_problem(value: Any, type_: str, values: tuple[str, ...], where: str) -> Problem | None:
    if type_ == "date":
        if isinstance(value, (_dt.date, _dt.datetime)):
            return None  # normalised by the caller
        if not _is_date(value):
            return problem("case_invalid", f"expected a date written YYYY-MM-DD, got {value!r}", path=where,
                           hint="write the date as 2026-11-23")
    elif type_ == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return problem("case_invalid", f"expected a whole number, got {value!r}", path=where)
    elif type_ == "boolean":
        if not isinstance(value, bool):
            return problem("case_invalid", f"expected true or false, got {value!r}", path=where)
    elif type_ == "enum":
        if not isinstance(value, str) or value not in values:
            close = difflib.get_close_matches(str(value), values, n=1)
            return problem("case_invalid", f"{value!r} is not one of {', '.join(values)}", path=where,
                           hint=f"did you mean '{close[0]}'?" if close else None)
    elif type_ == "string":
        if not isinstance(value, str):
            return problem("case_invalid", f"expected text, got {value!r}", path=where)
    return None


def _norm_date(value: Any) -> Any:
    if isinstance(value, _dt.datetime):
        return value.date().isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    return value


def _flatten(data: Mapping, vocabulary: Vocabulary, prefix: str, out: dict, problems: list) -> None:
    for key, value in data.items():
        if not isinstance(key, str):
            problems.append(problem("case_invalid", f"key {key!r} is not text", path=prefix or "(case)"))
            continue
        name = f"{prefix}.{key}" if prefix else key
        if name in vocabulary.facts:
            if name in out:
                problems.append(problem("case_invalid", "fact given twice (nested and dotted)", path=name))
            out[name] = value
        elif name in vocabulary.prefixes and isinstance(value, Mapping):
            _flatten(value, vocabulary, name, out, problems)
        elif "." in key and not prefix:
            # dotted names at the top level: {"expert.birth_date": ...}
            if key in vocabulary.facts:
                out[key] = value
            else:
                problems.append(_unknown(key, vocabulary))
        else:
            problems.append(_unknown(name, vocabulary))


def _unknown(name: str, vocabulary: Vocabulary) -> Problem:
    close = vocabulary.closest(name)
    if name in vocabulary.prefixes:
        return problem("case_invalid", f"'{name}' is a group of facts, not a value", path=name,
                       hint="give it as a mapping of: " + ", ".join(f.split(".")[-1] for f in vocabulary.group(name)[:8]))
    return problem("case_invalid", f"'{name}' is not a fact this policy knows", path=name,
                   hint=(f"did you mean '{close[0]}'?" if close else
                         "see `policy-engine facts --policy ID` for the vocabulary"))


def check_case(data: Any, vocabulary: Vocabulary, file: str | None = None) -> dict[str, Any]:
    """Validate a case and return {fact name: value}, events sorted by date.

    Absent facts are simply absent (unknown). `null` is the same as absent.
    Raises CaseError listing every problem, each with the path of the bad value.
    """
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise CaseError([problem("case_invalid", "a case must be a mapping of facts, e.g. {expert: {birth_date: 1960-05-01}}",
                                 file=file, path="(case)")])
    flat: dict[str, Any] = {}
    problems: list[Problem] = []
    _flatten(data, vocabulary, "", flat, problems)
    out: dict[str, Any] = {}
    for name, value in flat.items():
        if value is None:
            continue
        fact = vocabulary.facts[name]
        checked = _check_value(fact, value, name, problems)
        if checked is not _BAD:
            out[name] = checked
    if problems:
        raise CaseError([_with_file(p, file) for p in problems])
    return out


_BAD = object()


def _check_value(fact: Fact, value: Any, where: str, problems: list) -> Any:
    if fact.type in SCALAR_TYPES:
        found = _type_problem(value, fact.type, fact.values, where)
        if found:
            problems.append(found)
            return _BAD
        return _norm_date(value) if fact.type == "date" else value
    if fact.type == "list":
        if not isinstance(value, list):
            problems.append(problem("case_invalid", f"expected a list, got {value!r}", path=where))
            return _BAD
        bad = False
        for i, item in enumerate(value):
            found = _type_problem(item, fact.items or "string", (), f"{where}[{i}]")
            if found:
                problems.append(found)
                bad = True
        return _BAD if bad else list(value)
    # events
    if not isinstance(value, list):
        problems.append(problem("case_invalid", f"expected a list of events, got {value!r}", path=where))
        return _BAD
    events = []
    before = len(problems)
    for i, event in enumerate(value):
        at = f"{where}[{i}]"
        if not isinstance(event, Mapping):
            problems.append(problem("case_invalid", "an event must be a mapping with kind and date", path=at))
            continue
        kind = fact.kinds.get(event.get("kind"))
        if kind is None:
            problems.append(problem("case_invalid", f"kind {event.get('kind')!r} is not one of {', '.join(fact.kinds)}",
                                    path=f"{at}.kind"))
            continue
        if not _is_date(_norm_date(event.get("date"))):
            problems.append(problem("case_invalid", f"expected a date written YYYY-MM-DD, got {event.get('date')!r}",
                                    path=f"{at}.date"))
            continue
        clean = {"kind": kind.name, "date": _norm_date(event["date"])}
        for fname, fvalue in event.items():
            if fname in RESERVED_EVENT_FIELDS or fvalue is None:
                continue
            spec = kind.fields.get(fname)
            if spec is None:
                close = difflib.get_close_matches(str(fname), list(kind.fields), n=1)
                problems.append(problem("case_invalid", f"a {kind.name} event has no field '{fname}'", path=f"{at}.{fname}",
                                        hint=f"did you mean '{close[0]}'?" if close else
                                        f"fields: {', '.join(kind.fields) or '(none)'}"))
                continue
            found = _type_problem(fvalue, spec.type, spec.values, f"{at}.{fname}")
            if found:
                problems.append(found)
                continue
            clean[fname] = _norm_date(fvalue) if spec.type == "date" else fvalue
        for spec in kind.fields.values():
            if spec.required and spec.name not in clean:
                problems.append(problem("case_invalid", f"a {kind.name} event needs '{spec.name}'", path=f"{at}.{spec.name}"))
        events.append(clean)
    if len(problems) > before:
        return _BAD
    events.sort(key=lambda e: e["date"])  # stable: same-day events keep the case's order
    return events


def _with_file(p: Problem, file: str | None) -> Problem:
    if file is None or p.file:
        return p
    return Problem(p.code, p.message, file, p.line, p.column, p.path, p.hint)


def sample_value(fact: Fact) -> Any:
    """A well-typed value, used to try every condition once at load time."""
    return {
        "date": "2020-06-01", "integer": 0, "boolean": False, "string": "",
        "enum": fact.values[0] if fact.values else "", "list": [], "events": [],
    }[fact.type]
