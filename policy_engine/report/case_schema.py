"""The JSON Schema of a case, generated from a fact vocabulary, for the systems that send cases.

A case nests facts by the parts of their names ({accountability: {subject: staff}}); the
schema says the same in JSON Schema (Draft 2020-12): one object per group, a typed property
per fact, events as arrays of records told apart by `kind`. The engine itself validates
cases against the vocabulary (vocabulary.check_case), which also accepts dotted names and
null for an absent fact; the schema describes the nested form only.
"""
from __future__ import annotations

from typing import Any, Mapping

from ..dates import DATETIME_PATTERN, PATTERN
from ..policy.vocabulary import INT_MAX, INT_MIN, Fact, Field

DRAFT = "https://json-schema.org/draft/2020-12/schema"
_SCALAR = {"integer": {"type": "integer"}, "boolean": {"type": "boolean"}, "string": {"type": "string"},
           "date": {"type": "string", "format": "date", "pattern": PATTERN},
           # local time without a zone: not JSON Schema's `date-time`, which requires one (RFC 3339)
           "datetime": {"type": "string", "pattern": DATETIME_PATTERN}}
_LOCAL_TIME = " Local time YYYY-MM-DDTHH:MM or YYYY-MM-DDTHH:MM:SS (00:00 to 23:59:59), without a time zone."
_NOT_AFTER = " Not after the date of the question (as_of): a later date is refused."


def _scalar(type_: str, spec: "Fact | Field", description: str) -> dict:
    """One value's schema, with the bounds the engine enforces (dates: the strict form; integers: 64 bits, min/max)."""
    out: dict[str, Any] = {"enum": list(spec.values)} if type_ == "enum" else dict(_SCALAR[type_])
    if type_ == "integer":
        low = getattr(spec, "minimum", None)
        high = getattr(spec, "maximum", None)
        out["minimum"] = INT_MIN if low is None else max(low, INT_MIN)
        out["maximum"] = INT_MAX if high is None else min(high, INT_MAX)
    out["description"] = (description or type_) + (
        _NOT_AFTER if type_ in ("date", "datetime") and getattr(spec, "not_after", None) == "as_of" else "")
    if type_ == "datetime":
        out["description"] += _LOCAL_TIME
    return out


def _field(f: Field) -> dict:
    return _scalar(f.type, f, f.description)


def _fact(fact: Fact) -> dict:
    if fact.type == "list":
        return {"type": "array", "items": _scalar(fact.items or "string", fact, "an item"),
                "description": fact.description}
    if fact.type != "events":
        return _scalar(fact.type, fact, fact.description)
    kinds = []
    for kind in fact.kinds.values():
        properties = {"kind": {"const": kind.name, "description": kind.description or kind.name},
                      "date": _scalar("date", fact, "The event's date.")}
        properties.update({name: _field(f) for name, f in kind.fields.items()})
        kinds.append({"type": "object", "additionalProperties": False, "description": kind.description or kind.name,
                      "required": ["kind", "date", *(n for n, f in kind.fields.items() if f.required)],
                      "properties": properties})
    return {"type": "array", "description": fact.description,
            "items": kinds[0] if len(kinds) == 1 else {"oneOf": kinds, "description": "One event, by its kind."}}


def case_schema(facts: Mapping[str, Fact], schema_id: str, title: str) -> dict[str, Any]:
    """A JSON Schema for cases stating the given facts (by dotted name)."""
    root: dict[str, Any] = {"$schema": DRAFT, "$id": schema_id, "title": title,
                            "description": "A case: facts nested by the parts of their names. An absent fact is unknown.",
                            "type": "object", "additionalProperties": False, "properties": {}}
    for name, fact in sorted(facts.items()):
        parts = name.split(".")
        node = root
        for depth, part in enumerate(parts[:-1], 1):
            group = ".".join(parts[:depth])
            node = node["properties"].setdefault(part, {
                "type": "object", "additionalProperties": False, "description": f"The facts named {group}.*",
                "properties": {}})
        node["properties"][parts[-1]] = _fact(fact)
    root["properties"]["rulings"] = RULINGS
    return root


def request_facts_schema(policy) -> dict[str, Any]:
    """The schema of `facts:` in a draw or panel request under `policy` (the other facts of the case,
    nested by namespace as in a case), naming the facts the policy's draw and panel rules read."""
    from ..selection.selection import request_facts, selection_reads

    schema = case_schema(request_facts(policy), f"urn:policy-engine:request-facts:policy:{policy.id}",
                         f"facts: in a draw or panel request for {policy.id} {policy.version}")
    del schema["$schema"], schema["properties"]["rulings"]  # a part of a request; rulings stand at its top level
    read = selection_reads(policy)
    schema["description"] = ("The other facts of the case, stated under facts: in a draw or panel request (matter.*, "
                             "panel.* and relation.* go in their own places; expert.* come from the pool). "
                             + ("Read by this policy's draw and panel rules: " + ", ".join(read) + "."
                                if read else "This policy's draw and panel rules read none of them."))
    return schema


RULINGS = {
    "type": "array",
    "description": "The office's rulings on hedged rules (一般/原则上, 可以, or a 可…放宽 relaxation), one per rule: "
                   "with a ruling the verdict follows it instead of asking for review.",
    "items": {
        "type": "object", "additionalProperties": False, "required": ["rule", "ruling", "date", "body"],
        "description": "One ruling.",
        "properties": {
            "rule": {"type": "string", "description": "The id of the rule ruled on: a generally or discretionary rule, "
                                                      "or one whose unless has effect may_exempt."},
            "ruling": {"enum": ["upheld", "waived"],
                       "description": "upheld: the rule holds against the case (不予放宽, 决定解除); "
                                      "waived: the rule is set aside for this case (经审核认定放宽, 决定不予解除)."},
            "date": {"type": "string", "format": "date", "pattern": PATTERN,
                     "description": "The date of the ruling." + _NOT_AFTER},
            "body": {"type": "string", "minLength": 1, "description": "The body that ruled."},
            "reference": {"type": "string", "description": "The ruling's document number."},
        },
    },
}


def vocabulary_case_schema(file) -> dict[str, Any]:
    """The case schema of one shared vocabulary file (schemas/<id>.case.schema.json)."""
    from pathlib import Path

    from ..errors import PolicyError
    from ..policy.loader import _load_vocabulary
    from ..yamlio import read

    path = Path(file)
    facts, _, problems = _load_vocabulary(path)
    if problems or facts is None:  # facts is None exactly when the file has problems
        raise PolicyError(problems)
    vid = read(path).data["id"]
    return case_schema(facts, f"urn:policy-engine:case-schema:vocabulary:{vid}",
                       f"policy-engine case: the facts of the {vid} vocabulary")


if __name__ == "__main__":  # python3 -m policy_engine.report.case_schema VOCAB > schemas/<id>.case.schema.json
    import sys

    from ..evaluate.verdict import dumps

    sys.stdout.write(dumps(vocabulary_case_schema(sys.argv[1])))
