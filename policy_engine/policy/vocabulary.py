"""Fact vocabularies: the typed names a case may use, and checking a case against them.

A fact has a dotted name (`expert.birth_date`); the part before the first dot is its
namespace (`expert`, `matter`). A case is a nested mapping (`{expert: {birth_date: ...}}`)
or uses the dotted names directly; either way it is flattened to one value per fact.

Types: date (YYYY-MM-DD), datetime (YYYY-MM-DDTHH:MM[:SS], local time without a zone:
dates.parse_datetime; kept as YYYY-MM-DDTHH:MM:SS), integer, boolean, enum (one of `values`), string, list (of
strings), events (a list of dated records, each of a declared `kind` with typed fields).
Events are sorted by date (stable) when a case is read, so "consecutive" means
consecutive in time whatever order the case lists them in.

Impossible values are refused, not judged: every integer lies in the signed 64-bit range
(and true/false is not a number); a fact or field may declare `min` and `max` (integers),
and a date fact, an events fact (its events' dates) or a date field may declare
`not_after: as_of` when the meaning makes a later day impossible (a birth date, a degree
obtained, a record of what happened). Dates are read by dates.parse_date only and kept
as `YYYY-MM-DD` text.
"""
from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from ..dates import DATETIME_FORM, DateError, canonical, canonical_datetime
from ..errors import CaseError, Problem, problem

FACT_NAME = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*(?:\.[a-z][a-z0-9]*(?:_[a-z0-9]+)*)+$")
SCALAR_TYPES = ("date", "datetime", "integer", "boolean", "enum", "string")
TYPES = SCALAR_TYPES + ("list", "events")
RESERVED_EVENT_FIELDS = ("kind", "date")
INT_MIN, INT_MAX = -(2 ** 63), 2 ** 63 - 1  # every integer a case states fits in 64 bits
NOT_AFTER = ("as_of",)  # the days a `not_after` bound may name
_SURROGATE = re.compile("[\ud800-\udfff]")  # JSON's "\ud800" decodes to one; it is not a character


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: str  # one of SCALAR_TYPES
    values: tuple[str, ...] = ()
    required: bool = False
    description: str = ""
    minimum: int | None = None  # integer: smallest allowed value
    maximum: int | None = None  # integer: largest allowed value
    not_after: str | None = None  # date: "as_of" when a later day is impossible
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # enum value -> words


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
    origin: str | None = ""  # file that declared it
    minimum: int | None = None  # integer: smallest allowed value
    maximum: int | None = None  # integer: largest allowed value
    not_after: str | None = None  # date, or events (their dates): "as_of" when a later day is impossible
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # enum value -> words

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
                 raw.get("description", ""), raw.get("min"), raw.get("max"), raw.get("not_after"),
                 MappingProxyType(dict(raw.get("labels") or {})))


def fact_from(name: str, raw: Mapping, origin: str | None) -> Fact:
    kinds = {}
    for kind_name, kind_raw in (raw.get("kinds") or {}).items():
        fields = {f: _field_from(f, fr) for f, fr in (kind_raw.get("fields") or {}).items()}
        kinds[kind_name] = EventKind(kind_name, MappingProxyType(fields), kind_raw.get("description", ""))
    return Fact(
        name=name, type=raw["type"], description=raw.get("description", ""),
        values=tuple(raw.get("values", ())), items=raw.get("items"),
        kinds=MappingProxyType(kinds), attested=bool(raw.get("attested", False)), origin=origin,
        minimum=raw.get("min"), maximum=raw.get("max"), not_after=raw.get("not_after"),
        labels=MappingProxyType(dict(raw.get("labels") or {})),
    )


def bound_problems(fact: Fact) -> list[str]:
    """What is inconsistent in the bounds a fact (or its events' fields) declares; [] if nothing.

    The vocabulary's JSON Schema already ties each keyword to its type; this checks what a
    schema cannot say: min above max, a label for a value the enum does not have.
    """
    out = []
    specs: list[tuple[str, Fact | Field]] = [(fact.name, fact)]
    specs += [(f"{fact.name} ({kind.name}.{f.name})", f) for kind in fact.kinds.values() for f in kind.fields.values()]
    for label, spec in specs:
        if spec.minimum is not None and spec.maximum is not None and spec.minimum > spec.maximum:
            out.append(f"{label}: min {spec.minimum} is above max {spec.maximum}")
        stray = [v for v in spec.labels if v not in spec.values]
        if stray:
            out.append(f"{label}: labels name {', '.join(stray)}, which {'is' if len(stray) == 1 else 'are'} not "
                       f"among its values ({', '.join(spec.values) or 'none'})")
    return out


def value_labels(vocabulary: "Vocabulary") -> dict[str, str]:
    """The words the vocabulary gives enum values (`labels:`), for text output.

    A value two facts label differently is left out (its id is printed): text never guesses
    which fact a value came from.
    """
    out: dict[str, str] = {}
    clash: set[str] = set()
    for fact in vocabulary.facts.values():
        specs: list[Fact | Field] = [fact, *(f for kind in fact.kinds.values() for f in kind.fields.values())]
        for spec in specs:
            for value, words in spec.labels.items():
                if out.get(value, words) != words:
                    clash.add(value)
                out[value] = words
    return {k: v for k, v in out.items() if k not in clash}


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
    try:
        canonical(value)
    except DateError:
        return False
    return True


def _type_problem(value: Any, spec: "Fact | Field", where: str, as_of: str | None,
                  type_: str | None = None) -> Problem | None:
    """Why `value` cannot be `spec`'s value (type, 64-bit range, min/max, not_after), or None."""
    type_ = type_ or spec.type
    if type_ == "date":
        try:
            day = canonical(value)
        except DateError as exc:
            return problem("case_invalid", f"expected a date written YYYY-MM-DD, got {_show(value)}", path=where,
                           hint=f"write the date as 2026-11-23 ({exc})")
        if getattr(spec, "not_after", None) == "as_of" and as_of is not None and day > as_of:
            return problem("case_invalid", f"{day} is after the date of the question ({as_of}); "
                                           f"{_meaning(spec)} cannot be later", path=where,
                           hint="check the year; this date cannot lie in the future")
    elif type_ == "datetime":
        try:
            time = canonical_datetime(value)
        except DateError as exc:
            return problem("case_invalid", f"expected a time written {DATETIME_FORM}, got {_show(value)}", path=where,
                           hint=f"write the local time without a zone, e.g. 2026-11-23T09:30 ({exc})")
        if getattr(spec, "not_after", None) == "as_of" and as_of is not None and time[:10] > as_of:
            return problem("case_invalid", f"{time} is after the date of the question ({as_of}); "
                                           f"{_meaning(spec)} cannot be later", path=where,
                           hint="check the year; this time cannot lie in the future")
    elif type_ == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return problem("case_invalid", f"expected a whole number, got {_show(value)}", path=where)
        if not INT_MIN <= value <= INT_MAX:
            return problem("case_invalid", f"{_show(value)} is outside the range of a whole number "
                                           f"({INT_MIN} to {INT_MAX})", path=where)
        low, high = getattr(spec, "minimum", None), getattr(spec, "maximum", None)
        if (low is not None and value < low) or (high is not None and value > high):
            return problem("case_invalid", f"{value} is not possible here: {_meaning(spec)} is "
                                           + _range(low, high), path=where)
    elif type_ == "boolean":
        if not isinstance(value, bool):
            return problem("case_invalid", f"expected true or false, got {_show(value)}", path=where)
    elif type_ == "enum":
        values = spec.values
        if not isinstance(value, str) or value not in values:
            close = difflib.get_close_matches(str(value), values, n=1)
            return problem("case_invalid", f"{_show(value)} is not one of {', '.join(values)}", path=where,
                           hint=f"did you mean '{close[0]}'?" if close else None)
    elif type_ == "string":
        if not isinstance(value, str):
            return problem("case_invalid", f"expected text, got {_show(value)}", path=where)
        if _SURROGATE.search(value):
            return problem("case_invalid", f"{_show(value)} holds a lone UTF-16 surrogate, which is not a character",
                           path=where, hint="a \\ud800-style escape must be one half of a pair; write the character itself")
    return None


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _meaning(spec: "Fact | Field") -> str:
    return spec.description or spec.name


def _range(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f"between {low} and {high}"
    return f"at least {low}" if low is not None else f"at most {high}"


def _flatten(data: Mapping, vocabulary: Vocabulary, prefix: str, out: dict, problems: list) -> None:
    for key, value in data.items():
        if not isinstance(key, str) or _SURROGATE.search(key):
            problems.append(problem("case_invalid", f"key {key!r} is not text", path=prefix or "(case)",
                                    hint="a key is a fact's name (lower_snake_case)"))
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


def check_case(data: Any, vocabulary: Vocabulary, file: str | None = None, as_of: str | None = None) -> dict[str, Any]:
    """Validate a case and return {fact name: value}, dates as YYYY-MM-DD, events sorted by date.

    Absent facts are simply absent (unknown). `null` is the same as absent.
    `as_of` (YYYY-MM-DD) is the date of the question, for `not_after: as_of` bounds; without
    it those bounds are not checked (a pool read before any draw date is known).
    Raises CaseError listing every problem, each with the path of the bad value.
    """
    if as_of is not None:
        as_of = canonical(as_of, "as_of")
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
        checked = _check_value(fact, value, name, problems, as_of)
        if checked is not _BAD:
            out[name] = checked
    if problems:
        raise CaseError([_with_file(p, file) for p in problems])
    return out


_BAD = object()


def _canonical(value: Any, type_: str) -> Any:
    """A checked value in the form conditions compare: dates YYYY-MM-DD, times YYYY-MM-DDTHH:MM:SS."""
    if type_ == "date":
        return canonical(value)
    if type_ == "datetime":
        return canonical_datetime(value)
    return value


def _check_value(fact: Fact, value: Any, where: str, problems: list, as_of: str | None) -> Any:
    if fact.type in SCALAR_TYPES:
        found = _type_problem(value, fact, where, as_of)
        if found:
            problems.append(found)
            return _BAD
        return _canonical(value, fact.type)
    if fact.type == "list":
        if not isinstance(value, list):
            problems.append(problem("case_invalid", f"expected a list, got {_show(value)}", path=where))
            return _BAD
        bad = False
        item_type = fact.items or "string"
        for i, item in enumerate(value):
            found = _type_problem(item, fact, f"{where}[{i}]", as_of, item_type)
            if found:
                problems.append(found)
                bad = True
        return _BAD if bad else [_canonical(v, item_type) for v in value]
    # events
    if not isinstance(value, list):
        problems.append(problem("case_invalid", f"expected a list of events, got {_show(value)}", path=where))
        return _BAD
    events = []
    before = len(problems)
    for i, event in enumerate(value):
        at = f"{where}[{i}]"
        if not isinstance(event, Mapping) or not all(isinstance(k, str) and not _SURROGATE.search(k) for k in event):
            problems.append(problem("case_invalid", "an event must be a mapping with kind and date (and fields named "
                                                    "by text)", path=at))
            continue
        kind_name = event.get("kind")
        kind = fact.kinds.get(kind_name) if isinstance(kind_name, str) else None
        if kind is None:
            problems.append(problem("case_invalid", f"kind {_show(kind_name)} is not one of {', '.join(fact.kinds)}",
                                    path=f"{at}.kind"))
            continue
        found = _type_problem(event.get("date"), fact, f"{at}.date", as_of, "date")
        if found:
            problems.append(found)
            continue
        clean = {"kind": kind.name, "date": canonical(event["date"])}
        for fname, fvalue in event.items():
            if fname in RESERVED_EVENT_FIELDS or fvalue is None:
                continue
            spec = kind.fields.get(fname) if isinstance(fname, str) else None
            if spec is None:
                close = difflib.get_close_matches(str(fname), list(kind.fields), n=1)
                problems.append(problem("case_invalid", f"a {kind.name} event has no field '{fname}'", path=f"{at}.{fname}",
                                        hint=f"did you mean '{close[0]}'?" if close else
                                        f"fields: {', '.join(kind.fields) or '(none)'}"))
                continue
            found = _type_problem(fvalue, spec, f"{at}.{fname}", as_of)
            if found:
                problems.append(found)
                continue
            clean[fname] = _canonical(fvalue, spec.type)
        for spec in kind.fields.values():
            if spec.required and spec.name not in clean:
                problems.append(problem("case_invalid", f"a {kind.name} event needs '{spec.name}'", path=f"{at}.{spec.name}"))
        events.append(clean)
    if len(problems) > before:
        return _BAD
    events.sort(key=lambda e: e["date"])  # stable: same-day events keep the case's order
    return events


def bounded_by_as_of(vocabulary: Vocabulary) -> list[Fact]:
    """The facts with a `not_after: as_of` bound (on the fact, or on one of its events' fields)."""
    return [f for f in vocabulary.facts.values()
            if f.not_after == "as_of" or any(fl.not_after == "as_of" for k in f.kinds.values() for fl in k.fields.values())]


def later_dates(facts: Mapping[str, Any], bounded: list[Fact], as_of: str) -> list[Problem]:
    """The `not_after: as_of` bounds broken by already checked facts (a pool row read before the
    date of a draw was known): one problem per date after `as_of`, with its path. Checked facts
    hold dates as YYYY-MM-DD text, so a comparison of text finds them; a pool of 100,000 rows
    is checked in milliseconds."""
    out: list[Problem | None] = []
    for fact in bounded:
        value = facts.get(fact.name)
        if not value:
            continue
        if fact.type in ("date", "datetime"):
            if fact.not_after and value[:10] > as_of:
                out.append(_type_problem(value, fact, fact.name, as_of))
        elif fact.type == "list":
            if fact.not_after:
                out.extend(_type_problem(v, fact, f"{fact.name}[{i}]", as_of, fact.items or "date")
                           for i, v in enumerate(value) if v[:10] > as_of)
        elif fact.type == "events":
            for i, event in enumerate(value):
                if fact.not_after and event["date"] > as_of:
                    out.append(_type_problem(event["date"], fact, f"{fact.name}[{i}].date", as_of, "date"))
                for name, spec in fact.kinds[event["kind"]].fields.items():
                    v = event.get(name)
                    if spec.not_after and v is not None and v[:10] > as_of:
                        out.append(_type_problem(v, spec, f"{fact.name}[{i}].{name}", as_of))
    return [p for p in out if p is not None]


def _with_file(p: Problem, file: str | None) -> Problem:
    if file is None or p.file:
        return p
    return Problem(p.code, p.message, file, p.line, p.column, p.path, p.hint)


def sample_value(fact: Fact) -> Any:
    """A well-typed value, used to try every condition once at load time."""
    return {
        "date": "2020-06-01", "datetime": "2020-06-01T00:00:00", "integer": 0, "boolean": False, "string": "",
        "enum": fact.values[0] if fact.values else "", "list": [], "events": [],
    }[fact.type]


# ---------------------------------------------------------------------------------------
# Growth: a policy extends an imported fact; the canonical form of what a policy reads

EXTENSION_KEYS = ("type", "description", "values", "kinds")  # what `facts: extend:` may say of a fact
_FIELD_SETTINGS = ("required", "description", "min", "max", "not_after")  # of a field, besides type and values


@dataclass(frozen=True, slots=True)
class Conflict:
    """Why an extension cannot apply: where in the extension (keys below the fact's name), what, and the fix."""

    at: tuple
    message: str
    hint: str
    key: bool = False  # point at the key written at `at` (something is missing there), not at its value


_NEW_NAME = ("to mean something else, declare a new fact under another name in `facts: declare:`; "
             "an extension only adds (enum values, event kinds, fields of an event kind)")


def extend_fact(fact: Fact, raw: Mapping) -> tuple[Fact, list[Conflict]]:
    """`fact` (imported) with what a policy's `facts: extend:` entry adds, and every conflict.

    An extension adds and never takes away, so every case valid under the shared vocabulary
    stays valid under the extending policy: new values of an enum (or of an enum field), new
    kinds of an events fact, new fields of an existing kind (never required: cases written for
    the shared vocabulary do not give them). A value or field the fact already has, given
    again the same, is no conflict (the shared vocabulary may later adopt what a policy
    added). Changing a type, a field's settings or a kind's description is a conflict.
    The extension's `description` is appended to the fact's, after "；".
    """
    out: list[Conflict] = []
    if "type" in raw and raw["type"] != fact.type:
        out.append(Conflict(("type",), f"extend cannot change the type of '{fact.name}' from {fact.type} to {raw['type']} "
                                       f"(declared in {fact.origin})", _NEW_NAME))
    values = fact.values
    if "values" in raw:
        if fact.type != "enum":
            out.append(Conflict(("values",), f"'{fact.name}' is {fact.type}, not enum: it has no values to extend",
                                "values: extends an enum fact; remove it" + (", or extend a kind's field under kinds:"
                                                                             if fact.type == "events" else "")))
        else:
            values = values + tuple(v for v in raw["values"] if v not in fact.values)
    kinds = dict(fact.kinds)
    if "kinds" in raw:
        if fact.type != "events":
            out.append(Conflict(("kinds",), f"'{fact.name}' is {fact.type}, not events: it has no kinds to extend",
                                "kinds: extends an events fact; remove it"))
        else:
            for kind_name, kind_raw in (raw["kinds"] or {}).items():
                kinds[kind_name] = _extend_kind(fact, kinds.get(kind_name), kind_name, kind_raw or {}, out)
    description = fact.description
    added = str(raw.get("description", "")).strip()
    if added and added not in description:
        description = f"{description}；{added}" if description else added
    extended = Fact(fact.name, fact.type, description, values, fact.items, MappingProxyType(kinds), fact.attested,
                    fact.origin, fact.minimum, fact.maximum, fact.not_after)
    out.extend(Conflict((), message, "min is at most max") for message in bound_problems(extended)
               if message not in bound_problems(fact))
    return extended, out


def _extend_kind(fact: Fact, kind: EventKind | None, name: str, raw: Mapping, out: list[Conflict]) -> EventKind:
    at = ("kinds", name)
    if kind is None:  # a new kind: declared whole, as in a vocabulary
        if not raw.get("description"):
            out.append(Conflict(at, f"the new kind '{name}' of '{fact.name}' has no description",
                                "say what this kind of event records, in the regulation's words: description: ...", True))
        fields = {}
        for fname, fraw in (raw.get("fields") or {}).items():
            if "type" not in fraw:
                out.append(Conflict(at + ("fields", fname), f"the field '{fname}' of the new kind '{name}' has no type",
                                    "give it type: date, integer, boolean, enum or string", True))
                continue
            fields[fname] = _field_from(fname, fraw)
        return EventKind(name, MappingProxyType(fields), raw.get("description", ""))
    if "description" in raw and raw["description"] != kind.description:
        out.append(Conflict(at + ("description",), f"extend cannot replace the description of the kind '{name}' of "
                                                   f"'{fact.name}' (declared in {fact.origin})",
                            "remove it; describe what you add in the new fields' descriptions"))
    fields = dict(kind.fields)
    for fname, fraw in (raw.get("fields") or {}).items():
        f_at = at + ("fields", fname)
        old = fields.get(fname)
        if old is None:
            if "type" not in fraw:
                out.append(Conflict(f_at, f"the new field '{fname}' of '{fact.name}' ({name}) has no type",
                                    "give it type: date, integer, boolean, enum or string", True))
                continue
            if fraw.get("required"):
                out.append(Conflict(f_at + ("required",), f"a field added to the imported kind '{name}' cannot be "
                                                          "required: cases written for the shared vocabulary do not give it",
                                    "remove required: true (a missing field is unknown, never false)"))
            if not fraw.get("description"):
                out.append(Conflict(f_at, f"the new field '{fname}' of '{fact.name}' ({name}) has no description",
                                    "say what it means, in the regulation's words: description: ...", True))
            fields[fname] = _field_from(fname, fraw)
            continue
        fields[fname] = _extend_field(fact, name, old, fraw, f_at, out)
    return EventKind(name, MappingProxyType(fields), kind.description)


def _extend_field(fact: Fact, kind: str, old: Field, raw: Mapping, at: tuple, out: list[Conflict]) -> Field:
    where = f"the field '{old.name}' of '{fact.name}' ({kind}, declared in {fact.origin})"
    if "type" in raw and raw["type"] != old.type:
        out.append(Conflict(at + ("type",), f"extend cannot change the type of {where} from {old.type} to {raw['type']}",
                            _NEW_NAME))
    current = {"required": old.required, "description": old.description, "min": old.minimum, "max": old.maximum,
               "not_after": old.not_after}
    for key in _FIELD_SETTINGS:
        if key in raw and raw[key] != current[key]:
            out.append(Conflict(at + (key,), f"extend cannot change {key} of {where} ({current[key]!r} there)",
                                "remove it: an extension adds enum values or new fields only"))
    values = old.values
    if "values" in raw:
        if old.type != "enum":
            out.append(Conflict(at + ("values",), f"{where} is {old.type}, not enum: it has no values to extend",
                                "remove values:"))
        else:
            values = values + tuple(v for v in raw["values"] if v not in old.values)
    return Field(old.name, old.type, values, old.required, old.description, old.minimum, old.maximum, old.not_after)


def redeclared(imported: Fact, raw: Mapping) -> str:
    """What a local `declare:` of an imported fact would change, in words (for the problem's message)."""
    if raw.get("type") != imported.type:
        return f"it changes the type from {imported.type} to {raw.get('type')}"
    lost = [v for v in imported.values if v not in (raw.get("values") or ())]
    if lost:
        return "it removes the value(s) " + ", ".join(lost)
    gone = [k for k in imported.kinds if k not in (raw.get("kinds") or {})]
    if gone:
        return "it removes the kind(s) " + ", ".join(gone)
    return "a fact is declared once"


def canonical_fact(fact: Fact) -> dict[str, Any]:
    """A fact's meaning as data: everything that can change how a condition reads it or which
    values a case may give it (type, values in order, items, kinds and fields, bounds, attested,
    description). Not where it is declared: moving a fact between files changes no verdict.
    Defaults are left out, so a setting added later with its default changes nothing."""
    out: dict[str, Any] = {"type": fact.type, "description": fact.description}
    if fact.values:
        out["values"] = list(fact.values)
    if fact.items:
        out["items"] = fact.items
    if fact.attested:
        out["attested"] = True
    for key, value in (("min", fact.minimum), ("max", fact.maximum), ("not_after", fact.not_after)):
        if value is not None:
            out[key] = value
    if fact.kinds:
        out["kinds"] = {k.name: {"description": k.description,
                                 "fields": {f.name: _canonical_field(f) for f in k.fields.values()}}
                        for k in fact.kinds.values()}
    return out


def _canonical_field(spec: Field) -> dict[str, Any]:
    out: dict[str, Any] = {"type": spec.type, "description": spec.description}
    if spec.values:
        out["values"] = list(spec.values)
    if spec.required:
        out["required"] = True
    for key, value in (("min", spec.minimum), ("max", spec.maximum), ("not_after", spec.not_after)):
        if value is not None:
            out[key] = value
    return out


def canonical_facts(vocabulary: Vocabulary, names) -> bytes:
    """The canonical form of the named facts (those a policy reads): UTF-8 JSON, keys sorted,
    no spaces; the same bytes on every machine. Names not in the vocabulary are left out."""
    chosen = {name: canonical_fact(vocabulary.facts[name]) for name in sorted(set(names)) if name in vocabulary.facts}
    return json.dumps(chosen, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
