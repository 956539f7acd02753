"""Three-valued evaluation of compiled rules against one case.

Values are True, False or Unknown (facts missing, or the condition failed). Kleene
logic combines them: any_of is true if one alternative is true even when others are
unknown; all_of is false if one part is false even when others are unknown. Every leaf
condition evaluated is recorded as a Step in the trace, in evaluation order.
"""
from __future__ import annotations

from typing import Any, Mapping

from .expr import Unknown, evaluate
from .model import Rule, Test
from .verdict import (ERROR, EXEMPT, FAILED, FIRED, NOT_APPLICABLE, NOT_FIRED, PASSED, UNKNOWN, Finding, Step)


class Run:
    """The state of one decision over one case: its CEL context and its trace."""

    __slots__ = ("context", "present", "as_of", "trace", "errors")

    def __init__(self, context, present: Mapping[str, Any], as_of: str):
        self.context = context
        self.as_of = as_of
        self.present = present
        self.trace: list[Step] = []
        self.errors: list[str] = []

    def value(self, test: Test, rule: str, part: str) -> Any:
        if test.op == "leaf":
            cond = test.condition
            v = evaluate(cond, self.context, self.present)
            if not isinstance(v, (bool, Unknown)):
                v = Unknown((), f"the condition gave {v!r}, not true or false")
            if isinstance(v, Unknown) and v.error:
                self.errors.append(f"{rule} ({part}): {v.error}")
            self.trace.append(Step(rule, part, cond.source, v))
            return v
        key = "any_of" if test.op == "any" else "all_of"
        values = [self.value(child, rule, f"{part}.{key}[{i}]") for i, child in enumerate(test.children)]
        return any_of(values) if test.op == "any" else all_of(values)

    def expression(self, cond, rule: str, part: str) -> Any:
        v = evaluate(cond, self.context, self.present)
        if isinstance(v, Unknown) and v.error:
            self.errors.append(f"{rule} ({part}): {v.error}")
        self.trace.append(Step(rule, part, cond.source, v))
        return v


def any_of(values: list) -> Any:
    if any(v is True for v in values):
        return True
    unknown = [v for v in values if isinstance(v, Unknown)]
    return _merge(unknown) if unknown else False


def all_of(values: list) -> Any:
    if any(v is False for v in values):
        return False
    unknown = [v for v in values if isinstance(v, Unknown)]
    return _merge(unknown) if unknown else True


def _merge(unknowns: list[Unknown]) -> Unknown:
    missing = sorted({m for u in unknowns for m in u.missing})
    errors = [u.error for u in unknowns if u.error]
    return Unknown(tuple(missing), errors[0] if errors and not missing else None)


def judge(rule: Rule, run: Run, kind: str) -> Finding:
    """Evaluate one rule. kind "criterion": it must hold; kind "trigger": it fires when it holds.

    Exceptions (unless): an `exempt` exception that holds sets the rule aside; a
    `may_exempt` exception that holds leaves the rule failed or fired but marks that the
    body may relax it. An exception that is unknown keeps an adverse result unknown.
    """
    rid = rule.id
    if rule.applies_when is not None:
        applies = run.value(rule.applies_when, rid, "applies_when")
        if applies is False:
            return _finding(rule, NOT_APPLICABLE, run)
        if isinstance(applies, Unknown):
            return _finding(rule, _unknown_result(applies), run, missing=applies.missing, error=applies.error)
    held = run.value(rule.test, rid, "require" if kind == "criterion" else "when")
    adverse = (held is False) if kind == "criterion" else (held is True)
    if not adverse and not isinstance(held, Unknown):
        return _finding(rule, PASSED if kind == "criterion" else NOT_FIRED, run)
    exempt_unknown: list[Unknown] = []
    may = None
    for j, u in enumerate(rule.unless):
        uv = run.value(u.test, rid, f"unless[{j}]")
        if uv is True and u.effect == "exempt":
            return _finding(rule, EXEMPT, run, exception=(u.effect, u.cite.label, u.quote), note=u.note)
        if uv is True and may is None:
            may = u
        elif isinstance(uv, Unknown):
            exempt_unknown.append(uv)
    if isinstance(held, Unknown):
        merged = _merge([held] + exempt_unknown) if exempt_unknown else held
        return _finding(rule, _unknown_result(merged), run, missing=merged.missing, error=merged.error)
    if exempt_unknown and may is None:
        merged = _merge(exempt_unknown)
        return _finding(rule, _unknown_result(merged), run, missing=merged.missing, error=merged.error)
    result = FAILED if kind == "criterion" else FIRED
    if may is not None:
        return _finding(rule, result, run, exception=(may.effect, may.cite.label, may.quote), note=may.note)
    return _finding(rule, result, run)


def _unknown_result(u: Unknown) -> str:
    return UNKNOWN if u.missing else ERROR


def _finding(rule: Rule, result: str, run: Run, missing=(), error=None, exception=None, note=None) -> Finding:
    values = []
    for name, cond in rule.show:
        v = run.expression(cond, rule.id, f"show.{name}")
        if not isinstance(v, Unknown):
            values.append((name, v))
    return Finding(
        rule=rule.id, result=result, strength=rule.strength, cite=rule.cite.label, quote=rule.quote,
        title=rule.title, values=tuple(values), missing_facts=tuple(missing), exception=exception,
        note=note or rule.note, error=error,
    )


UNSETTLED = (UNKNOWN, ERROR)


def decisive(finding: Finding) -> bool:
    """A mandatory rule failed or fired with no may_exempt exception holding: it decides the outcome."""
    return finding.strength == "mandatory" and not (finding.exception and finding.exception[0] == "may_exempt")
