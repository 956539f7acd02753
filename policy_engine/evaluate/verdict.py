"""Verdicts: frozen, deterministic, JSON-ready. Rendering for people lives in render.py."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

from ..policy.expr import Unknown
from ..version import ENGINE

# Finding results
PASSED, FAILED, FIRED, NOT_FIRED = "passed", "failed", "fired", "not_fired"
UNKNOWN, EXEMPT, NOT_APPLICABLE, ERROR = "unknown", "exempt", "not_applicable", "error"
LAPSED, RUNNING = "lapsed", "running"
APPLIES, NOT_AVAILABLE = "applies", "not_available"  # measures and provisions
ASSIGNED, NONE = "assigned", "none"  # a person's responsibility
SCORED = "scored"  # an item, group, total or grade of an evaluation
MEMBER, NOT_MEMBER = "member", "not_member"  # a category of a classification
UPHELD, WAIVED = "upheld", "waived"  # the office's ruling on a hedged rule (Ruling.ruling)
RULINGS = (UPHELD, WAIVED)


@dataclass(frozen=True, slots=True)
class Ruling:
    """The office's ruling on one hedged rule (一般/原则上, 可以, or a 可…放宽 exception), from the case.

    upheld: the office holds the rule against this case (不予放宽; 决定解除/回避): a failed
    criterion or fired trigger then decides like a mandatory one. waived: the office sets the
    rule aside for this case (经审核认定放宽; 决定不解除): the rule no longer counts against it.
    `effect` is "decides" where the ruling closed the hedge, "none" where the rule was not
    open to a ruling on these facts (it passed, did not apply, or failed as a mandatory rule).
    """

    rule: str
    ruling: str  # upheld | waived
    date: str
    body: str
    reference: str | None = None
    effect: str = "decides"

    def to_json(self) -> dict:
        out = {"ruling": self.ruling, "date": self.date, "body": self.body}
        if self.reference:
            out["reference"] = self.reference
        out["effect"] = self.effect
        return out


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
    ruling: Ruling | None = None  # the office's ruling on this rule, where the case records one

    def __post_init__(self) -> None:
        # A rule that does not apply shows nothing of the case: its `show` values describe a
        # case it is not about. Dropped here, where every finding is built (and rebuilt by
        # dataclasses.replace), so no decision has to remember it.
        if self.result == NOT_APPLICABLE and self.values:
            object.__setattr__(self, "values", ())

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
        if self.ruling is not None:
            out["ruling"] = self.ruling.to_json()
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
class VersionChoice:
    """Which version of the policy governed a question, and why (Registry.governing chooses it).

    selected_by: the fact whose date chose the version (the date of the act), or "as_of";
    date: that date; rule: "in_force" (the version in force on that date) or "lighter"
    (从旧兼从轻: the version in force on that date unless a later one treats the case more
    lightly); cite/quote: the article of the policy that says so; considered: the versions
    evaluated; governing: "encoded" when a considered version governs, "earlier_law" when the
    date precedes every encoded version (the law then in force is not encoded: the verdict
    cannot be final, see engine.decide_governing); note: what the engine did, in words.
    """

    selected_by: str
    date: str
    rule: str
    cite: str
    quote: str
    version: str
    considered: tuple[str, ...]
    governing: str = "encoded"
    ceiling: str | None = None  # earlier_law: the outcome under the encoded version, the most that can apply
    note: str | None = None

    def to_json(self) -> dict:
        out: dict[str, Any] = {"selected_by": self.selected_by, "date": self.date, "rule": self.rule,
                               "cite": self.cite, "quote": self.quote, "version": self.version,
                               "considered": list(self.considered), "governing": self.governing}
        if self.ceiling is not None:
            out["ceiling"] = self.ceiling
        if self.note:
            out["note"] = self.note
        return out


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
    version: "VersionChoice | None" = None  # why this version governs, where the policy declares how it is chosen
    adjusted: Mapping[str, Any] | None = None  # sanction: the result after 从轻/减轻/从重/免予 (decisions/sanction.py)

    def to_json(self) -> dict:
        out = self.to_json_head()
        out["findings"] = [f.to_json() for f in self.findings]
        out["missing_facts"] = list(self.missing_facts)
        if self.version is not None:
            out["version"] = self.version.to_json()
        if self.errors:
            out["errors"] = list(self.errors)
        out["trace"] = [s.to_json() for s in self.trace]
        return out

    def dumps(self, compact: bool = False) -> str:
        """The verdict as JSON text: same inputs, same bytes as `dumps(self.to_json(), compact)`.

        Built from fragments: each finding and step is written once and its text kept (see
        `_fragment`), since decisions share their Finding and Step objects across cases; the
        rest is written per verdict. tests/test_verdict_text.py compares the two.
        """
        head = _HEADS.get((self.policy, self.decision, self.as_of, self.outcome, compact))
        if head is None or self.adjusted is not None:
            data = self.to_json_head()
            head = _compact(data)[:-1] if compact else _indented(data)[:-2]
            if self.adjusted is None:
                if len(_HEADS) >= FRAGMENTS_LIMIT:
                    _HEADS.clear()
                _HEADS[(self.policy, self.decision, self.as_of, self.outcome, compact)] = head
        tail: dict[str, Any] = {"missing_facts": list(self.missing_facts)}
        if self.version is not None:
            tail["version"] = self.version.to_json()
        if self.errors:
            tail["errors"] = list(self.errors)
        at = 1 if compact else 2
        kept = _FRAGMENTS
        findings: list[str] = []
        trace: list[str] = []
        for items, out in ((self.findings, findings), (self.trace, trace)):
            for item in items:
                k = kept.get(id(item))
                if k is None or k[0] is not item:
                    k = _fragment(item)
                text = k[at]
                if text is None:
                    text = _fill(k, at)
                out.append(text)
        if compact:
            return (head + ',"findings":[' + ",".join(findings) + "]," + _compact(tail)[1:-1]
                    + ',"trace":[' + ",".join(trace) + "]}\n")
        return (head + ',\n  "findings": ' + ("[\n" + ",\n".join(findings) + "\n  ]" if findings else "[]")
                + ",\n" + _indented(tail)[2:-2] + ',\n  "trace": ' + ("[\n" + ",\n".join(trace) + "\n  ]" if trace else "[]")
                + "\n}\n")

    def to_json_head(self) -> dict:
        """The verdict's fields before its findings, as to_json writes them."""
        out: dict[str, Any] = {
            "policy": {"id": self.policy[0], "version": self.policy[1], "sha256": self.policy[2]},
            "engine": dict(ENGINE),
            "decision": self.decision,
            "as_of": self.as_of,
            "outcome": self.outcome,
        }
        if self.adjusted is not None:  # beside the outcome it adjusts
            out["adjusted"] = dict(self.adjusted)
        return out


def dumps(data: Any, compact: bool = False) -> str:
    if compact:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=_default) + "\n"
    return json.dumps(data, ensure_ascii=False, indent=2, default=_default) + "\n"


def _default(value: Any) -> Any:
    if isinstance(value, Unknown):
        return {"unknown": list(value.missing)} if value.missing else {"error": value.error}
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _compact(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=_default)


def _indented(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, default=_default)


# The JSON text of findings and steps, by object: (the object, compact text, text indented as an
# element of a list in the verdict). Keyed by id() and checked by identity, so a key reused by a
# later object is never mistaken for it; emptied when full (bounded memory). _HEADS: a verdict's
# text before its findings, by what it holds (a verdict with `adjusted` is written afresh).
_FRAGMENTS: dict[int, list] = {}
_HEADS: dict[tuple, str] = {}
FRAGMENTS_LIMIT = 65_536


def _fragment(item: "Finding | Step") -> list:
    """A new entry for `item`: [item, compact text, indented text], each text written when first asked for."""
    kept = [item, None, None]
    if len(_FRAGMENTS) >= FRAGMENTS_LIMIT:
        _FRAGMENTS.clear()
    _FRAGMENTS[id(item)] = kept
    return kept


def _fill(kept: list, at: int) -> str:
    data = kept[0].to_json()
    if at == 1:
        kept[1] = text = _compact(data)
    else:
        kept[2] = text = "    " + _indented(data).replace("\n", "\n    ")  # JSON text holds no raw line break
    return text
