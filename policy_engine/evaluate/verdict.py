"""Verdicts: frozen, deterministic, JSON-ready. Rendering for people lives in render.py."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..policy.expr import Unknown

# Finding results
PASSED, FAILED, FIRED, NOT_FIRED = "passed", "failed", "fired", "not_fired"
UNKNOWN, EXEMPT, NOT_APPLICABLE, ERROR = "unknown", "exempt", "not_applicable", "error"
LAPSED, RUNNING = "lapsed", "running"
APPLIES, NOT_AVAILABLE = "applies", "not_available"  # measures and provisions
ASSIGNED, NONE = "assigned", "none"  # a person's responsibility
SCORED = "scored"  # an item, group, total or grade of an evaluation
MEMBER, NOT_MEMBER = "member", "not_member"  # a category of a classification


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    result: str
    strength: str
    cite: str
    quote: str
    title: str | None = None
    values: tuple[tuple[str, Any], ...] = ()
    missing_facts: tuple[str, ...] = ()
    exception: tuple[str, str, str] | None = None  # (effect, cite, quote) of the unless that applied
    note: str | None = None
    error: str | None = None

    def to_json(self) -> dict:
        out: dict[str, Any] = {"rule": self.rule, "result": self.result, "strength": self.strength,
                               "cite": self.cite, "quote": self.quote}
        if self.title:
            out["title"] = self.title
        if self.values:
            out["values"] = {k: v for k, v in self.values}
        if self.missing_facts:
            out["missing_facts"] = list(self.missing_facts)
        if self.exception:
            out["exception"] = {"effect": self.exception[0], "cite": self.exception[1], "quote": self.exception[2]}
        if self.note:
            out["note"] = self.note
        if self.error:
            out["error"] = self.error
        return out


@dataclass(frozen=True, slots=True)
class Step:
    """One condition evaluated: which rule, which part, the expression, and its value."""

    rule: str
    part: str  # require / when / unless[0] / applies_when / ends / show.age
    expression: str
    value: Any

    def to_json(self) -> dict:
        value = self.value
        if isinstance(value, Unknown):
            value = ({"unknown": list(value.missing)} if value.missing else {"error": value.error})
        return {"rule": self.rule, "part": self.part, "expression": self.expression, "value": value}


@dataclass(frozen=True, slots=True)
class Verdict:
    policy: tuple[str, str, str]  # id, version, sha256
    decision: str
    as_of: str
    outcome: str
    findings: tuple[Finding, ...]
    missing_facts: tuple[str, ...]
    trace: tuple[Step, ...]
    errors: tuple[str, ...] = ()

    def to_json(self) -> dict:
        out = {
            "policy": {"id": self.policy[0], "version": self.policy[1], "sha256": self.policy[2]},
            "decision": self.decision,
            "as_of": self.as_of,
            "outcome": self.outcome,
            "findings": [f.to_json() for f in self.findings],
            "missing_facts": list(self.missing_facts),
        }
        if self.errors:
            out["errors"] = list(self.errors)
        out["trace"] = [s.to_json() for s in self.trace]
        return out

    def dumps(self, compact: bool = False) -> str:
        """The verdict as JSON text: same inputs, same bytes. compact: one line, about 3x faster."""
        return dumps(self.to_json(), compact)


def dumps(data: Any, compact: bool = False) -> str:
    if compact:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=_default) + "\n"
    return json.dumps(data, ensure_ascii=False, indent=2, default=_default) + "\n"


def _default(value: Any) -> Any:
    if isinstance(value, Unknown):
        return {"unknown": list(value.missing)} if value.missing else {"error": value.error}
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
