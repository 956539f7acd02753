"""Three-valued evaluation of compiled rules against one case.

Values are True, False or Unknown (facts missing, or the condition failed). Kleene
logic combines them: any_of is true if one alternative is true even when others are
unknown; all_of is false if one part is false even when others are unknown. Every leaf
condition evaluated is recorded as a Step in the trace, in evaluation order.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping

from ..policy.compile import CelError
from ..policy.expr import Bound, Condition, Unknown, _LazyProgram, evaluate, evaluate_compiled
from ..policy.model import Rule, Test
from ..policy.model import conditions_of as conditions_of  # the decisions import it from here
from .verdict import (ERROR, EXEMPT, FAILED, FIRED, NOT_APPLICABLE, NOT_FIRED, PASSED, UNKNOWN, UPHELD, Finding,
                      Ruling, Step)


# Which evaluator answers: the compiled conditions (policy/compile.py; the default), or the CEL
# core alone, the reference the differential test compares them with (tests/test_compiled.py).
_REFERENCE: ContextVar[bool] = ContextVar("policy_engine_cel_core_only", default=False)


def reference_only() -> bool:
    """Whether `cel_core_only` is in effect."""
    return _REFERENCE.get()


@contextmanager
def cel_core_only() -> Iterator[None]:
    """Within the block, decisions take the reference path: every case checked by check_case
    (not recognised by the case table, policy/fastcase.py), every condition evaluated by the CEL
    core, every rule judged afresh (no cached rule results, RuleKey).

    The verdicts are the same bytes either way; the switch exists to compare the two paths.
    """
    token = _REFERENCE.set(True)
    try:
        yield
    finally:
        _REFERENCE.reset(token)


@dataclass(frozen=True, slots=True)
class Plan:
    """Every condition one decision can touch, compiled once more as a single CEL list.

    Evaluating the list costs one call into the CEL core instead of one per condition.
    When it succeeds (no fact missing, nothing failing), the decision reads each
    condition's value from it; otherwise each condition is evaluated on its own, which
    gives the same values plus the three-valued treatment of what is missing. Either
    way the verdict is the same. `memo` shares immutable Findings and Steps across
    cases (keys are ids of objects the plan's policy keeps alive).
    """

    program: Any
    slots: Mapping[int, int]
    memo: dict
    keys: dict = field(default_factory=dict)  # id(rule) -> its RuleKey, which holds judge's cache of its results


def plan(conditions: Iterable[Condition]) -> Plan:
    unique: dict[int, Condition] = {}
    for c in conditions:
        unique.setdefault(id(c), c)
    slots = {key: i for i, key in enumerate(unique)}
    # compiled by the CEL core when a case first needs it (cel_core_only): the compiled path never does
    program = _LazyProgram("[" + ", ".join(f"({c.compiled})" for c in unique.values()) + "]") if unique else None
    return Plan(program, slots, {})


_NOT_KNOWN = object()


class Run:
    """The state of one decision over one case: its bound facts and its trace.

    Conditions are evaluated by their compiled functions (expr.evaluate_compiled) unless
    `cel_core_only` is in effect, or `context` is a CEL context rather than a Bound.
    """

    __slots__ = ("context", "present", "as_of", "trace", "errors", "values", "plan", "rulings", "compiled", "known",
                 "keys")

    def __init__(self, context, present: Mapping[str, Any], as_of: str, plan: Plan | None = None,
                 rulings: Mapping[str, Ruling] | None = None):
        self.context = context
        self.compiled = isinstance(context, Bound) and not _REFERENCE.get()
        self.rulings: Mapping[str, Ruling] = rulings or {}  # rule id -> the office's ruling the case records
        self.as_of = as_of
        self.present = present
        self.trace: list[Step] = []
        self.errors: list[str] = []
        self.plan = plan
        self.values = None
        self.known: dict | None = None  # id(condition) -> its value, computed already (judge, RuleKey)
        # id(rule) -> RuleKey: judge's cache, on the compiled path only
        self.keys: dict | None = plan.keys if plan is not None and self.compiled else None
        if plan is not None and plan.program is not None and not self.compiled:
            try:
                self.values = plan.program.execute(context.context if isinstance(context, Bound) else context)
            except Exception:  # noqa: BLE001 - a missing fact or a failing condition: go one by one
                self.values = None

    def part(self, context, present: Mapping[str, Any]) -> "Run":
        """A run over another binding within this decision (one act of several, one record): its
        own trace, this run's rulings, and, on the compiled path, this run's plan (so its rules'
        results are cached with the decision's; the reference path evaluates it condition by condition)."""
        return Run(context, present, self.as_of, self.plan if self.compiled else None, rulings=self.rulings)

    def derived(self, what: str, source: Any, detail: Any, make: Any) -> Any:
        """`make()`, an immutable object derived from `source` (a Finding or Step, often shared
        across cases) and `detail` alone, kept in the plan's memo on the compiled path so that
        later cases share it too (and its JSON text, verdict._fragment). Checked by identity of
        `source` (kept alive by the entry); the memo is emptied when it grows past a bound."""
        plan = self.plan
        if plan is None or not self.compiled:
            return make()
        key = (what, id(source), detail)
        memo = plan.memo
        hit = memo.get(key)
        if hit is not None and hit[0] is source:
            return hit[1]
        made = make()
        if len(memo) >= 4 * MEMO_LIMIT:
            memo.clear()
        memo[key] = (source, made)
        return made

    def _eval(self, cond: Condition) -> Any:
        if self.values is not None and self.plan is not None:  # values come only from a plan's program
            return self.values[self.plan.slots[id(cond)]]
        if self.known is not None:
            v = self.known.get(id(cond), _NOT_KNOWN)
            if v is not _NOT_KNOWN:
                return v
        if self.compiled:
            return evaluate_compiled(cond, self.context, self.present)
        return evaluate(cond, self.context, self.present)

    def _step(self, rule: str, part: str, cond: Condition, v: Any) -> Step:
        if (v is True or v is False) and self.plan is not None:
            key = (id(cond), rule, part, v)
            step = self.plan.memo.get(key)
            if step is None:
                step = self.plan.memo[key] = Step(rule, part, cond.source, v)
            return step
        return Step(rule, part, cond.source, v)

    def value(self, test: Test, rule: str, part: str) -> Any:
        if test.op == "leaf":
            cond = test.condition
            assert cond is not None  # a leaf holds its condition (loader: Test("leaf", c) only for a compiled c)
            v = self._eval(cond)
            if not isinstance(v, (bool, Unknown)):
                v = Unknown((), f"the condition gave {v!r}, not true or false")
            if isinstance(v, Unknown) and v.error:
                self.errors.append(f"{rule} ({part}): {v.error}")
            self.trace.append(self._step(rule, part, cond, v))
            return v
        key = "any_of" if test.op == "any" else "all_of"
        values = [self.value(child, rule, f"{part}.{key}[{i}]") for i, child in enumerate(test.children)]
        return any_of(values) if test.op == "any" else all_of(values)

    def expression(self, cond, rule: str, part: str) -> Any:
        v = self._eval(cond)
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


# Rule results cached per rule and decision, at most this many under each of the two keys;
# a rule's cache is emptied when full (bounded memory, whatever the cases).
MEMO_LIMIT = 8_192


class RuleKey:
    """What a rule's finding depends on, at two levels, and the rule's cache under each.

    A rule's finding, the steps it adds to the trace and the errors it records are a pure
    function of the values its conditions take (applies_when, the test, each unless, each
    shown value), and those of the variables the conditions' compiled functions read (the
    policy's functions are pure, and a policy's working-day calendar is its own). `judge`
    therefore caches them:

    - under the values of the variables read (`reads`, cache `by_facts`): the cheapest key,
      one look-up, which recurs where a rule reads a few facts of few values (a boolean, an enum);
    - under the values of the conditions (`__call__`, cache `by_values`), computed by the
      compiled functions: it recurs where the facts do not (ages from birth dates, counts
      from event histories).

    A value the key cannot stand for exactly (a list, a map, a double, a failure whose message
    the CEL core would have to word, a condition that is not compiled) gives no key, and the
    rule is judged as without the cache. Condition values are tagged with their type (1 and
    true, 1 and 1.0 are different keys); an unknown one is tagged with the facts it lacks.
    A variable holds values of one type (the case is checked), absent is None. One RuleKey
    serves one kind of judging (criterion or trigger), `kind`.
    """

    __slots__ = ("leaves", "reads", "kind", "by_facts", "by_values")

    def __init__(self, rule: Rule, kind: str) -> None:
        self.kind = kind
        self.by_facts: dict = {}
        self.by_values: dict = {}
        self.leaves: tuple | None = None
        self.reads: tuple[str, ...] = ()
        leaves: list[tuple] = []
        reads: set[str] = set()
        for cond in conditions_of((rule,)):
            fast = cond.fast.function() and cond.fast.compiled if cond.fast is not None else None
            if fast is None:  # a condition left to the CEL core: no key
                return
            leaves.append((cond, fast.call, cond.facts))
            reads.update(fast.reads)
        self.leaves = tuple(leaves)
        self.reads = tuple(sorted(reads))

    def __call__(self, variables: dict, present: Mapping[str, Any], known: dict | None = None) -> tuple | None:
        """The conditions' values as a key, or None; into `known` (id(condition) -> value, as
        Run._eval gives it), each value computed, so that a rule judged on a miss does not
        compute them again."""
        key: list[Any] = []
        add = key.append
        assert self.leaves is not None  # checked by the caller
        for cond, call, facts in self.leaves:
            try:
                v = call(variables)
            except CelError:
                missing = tuple(sorted(f for f in facts if f not in present))
                if not missing:
                    return None  # the CEL core words this failure
                add(("?", missing))
                if known is not None:
                    known[id(cond)] = Unknown(missing)
                continue
            except Exception:  # noqa: BLE001 - Unsure and the like: the CEL core decides
                return None
            if known is not None:
                known[id(cond)] = v
            t = type(v)
            if t is bool:
                add(v)
            elif t is int or t is str:
                add((t, v))
            else:
                return None
        return tuple(key)

    def store(self, cache: dict, key: Any, hit: tuple) -> None:
        if len(cache) >= MEMO_LIMIT:
            cache.clear()
        cache[key] = hit


def judge(rule: Rule, run: Run, kind: str) -> Finding:
    """`judge_rule`, cached: a rule met again with the same values of the facts it reads, or of its
    conditions, gives the same finding, steps and errors (RuleKey), without being judged again.
    Only on the compiled path (the CEL core alone, the reference, judges every rule afresh), and
    not for a rule the case records a ruling on."""
    keys = run.keys
    if keys is None or (run.rulings and rule.id in run.rulings):
        return judge_rule(rule, run, kind)
    keyer = keys.get(id(rule))
    if keyer is None:
        keyer = keys[id(rule)] = RuleKey(rule, kind)
    if keyer.leaves is None or keyer.kind != kind:
        return judge_rule(rule, run, kind)
    variables = run.context.variables
    try:
        hit = keyer.by_facts.get(by_facts := tuple(map(variables.get, keyer.reads)))
    except TypeError:  # a list or a map among the facts: the conditions' values decide
        hit, by_facts = None, None
    if hit is None:
        known: dict = {}
        key = keyer(variables, run.present, known)
        if key is None:
            return judge_rule(rule, run, kind)
        hit = keyer.by_values.get(key)
        if hit is None:
            first_step, first_error = len(run.trace), len(run.errors)
            run.known = known  # the values just computed: judged without computing them again
            try:
                finding = judge_rule(rule, run, kind)
            finally:
                run.known = None
            hit = (finding, tuple(run.trace[first_step:]), tuple(run.errors[first_error:]))
            keyer.store(keyer.by_values, key, hit)
            if by_facts is not None:
                keyer.store(keyer.by_facts, by_facts, hit)
            return finding  # judged just now: its steps and errors are in the run already
        if by_facts is not None:
            keyer.store(keyer.by_facts, by_facts, hit)
    run.trace.extend(hit[1])
    if hit[2]:
        run.errors.extend(hit[2])
    return hit[0]


def judge_rule(rule: Rule, run: Run, kind: str) -> Finding:
    """Evaluate one rule. kind "criterion": it must hold; kind "trigger": it fires when it holds.

    Exceptions (unless): an `exempt` exception that holds sets the rule aside; a
    `may_exempt` exception that holds leaves the rule failed or fired but marks that the
    body may relax it. An exception that is unknown keeps an adverse result unknown, unless
    every value it could take gives the same result: a rule that is not mandatory, whose
    unknown exceptions are all `may_exempt`, is failed or fired and not decisive whether the
    body may relax it or not (`decisive`), so it is failed or fired, and its unknown
    exceptions stay in the trace.
    """
    rid = rule.id
    if rule.applies_when is not None:
        applies = run.value(rule.applies_when, rid, "applies_when")
        if applies is False:
            return _finding(rule, NOT_APPLICABLE, run, values=False)
        if isinstance(applies, Unknown):
            return _finding(rule, _unknown_result(applies), run, missing=applies.missing, error=applies.error)
    held = run.value(rule.test, rid, "require" if kind == "criterion" else "when")
    adverse = (held is False) if kind == "criterion" else (held is True)
    if not adverse and not isinstance(held, Unknown):
        return _finding(rule, PASSED if kind == "criterion" else NOT_FIRED, run)
    exempt_unknown: list[Unknown] = []
    exempt_unknown_effects: list[str] = []
    may = None
    for j, u in enumerate(rule.unless):
        uv = run.value(u.test, rid, f"unless[{j}]")
        if uv is True and u.effect == "exempt":
            return _finding(rule, EXEMPT, run, exception=(u.effect, u.cite.label, u.quote), note=u.note)
        if uv is True and may is None:
            may = u
        elif isinstance(uv, Unknown):
            exempt_unknown.append(uv)
            exempt_unknown_effects.append(u.effect)
    if isinstance(held, Unknown):
        merged = _merge([held] + exempt_unknown) if exempt_unknown else held
        return _finding(rule, _unknown_result(merged), run, missing=merged.missing, error=merged.error)
    if exempt_unknown and may is None and not _settled_anyway(rule, exempt_unknown, exempt_unknown_effects):
        merged = _merge(exempt_unknown)
        return _finding(rule, _unknown_result(merged), run, missing=merged.missing, error=merged.error)
    result = FAILED if kind == "criterion" else FIRED
    if may is not None:
        return _finding(rule, result, run, exception=(may.effect, may.cite.label, may.quote), note=may.note)
    return _finding(rule, result, run)


def _settled_anyway(rule: Rule, unknowns: list[Unknown], effects: list[str]) -> bool:
    """Whether an adverse rule's result is the same whatever its unknown exceptions turn out to be.

    An `exempt` exception would set the rule aside: not the same. A `may_exempt` one only
    marks the adverse result relaxable, which changes nothing where the rule is not
    mandatory (a 一般 or 可以 rule is never decisive: see `decisive`). An exception that
    failed (an error, not a missing fact) is never settled: its author must see it.
    """
    return (rule.strength != "mandatory" and all(e == "may_exempt" for e in effects)
            and all(u.missing for u in unknowns))


def _unknown_result(u: Unknown) -> str:
    return UNKNOWN if u.missing else ERROR


def _finding(rule: Rule, result: str, run: Run, missing=(), error=None, exception=None, note=None,
             values: bool = True) -> Finding:
    """A rule's finding; `values=False` skips the shown values (meaningless where the rule does not apply)."""
    if rule.id in run.rulings:
        return _ruled(_finding_(rule, result, run, missing, error, exception, note, values), run.rulings[rule.id])
    return _finding_(rule, result, run, missing, error, exception, note, values)


def _ruled(found: Finding, ruling: Ruling) -> Finding:
    """The finding as the office's ruling on a hedged rule leaves it.

    A ruling decides only a hedge that is open on the facts: a criterion failed or a
    trigger fired that is generally/discretionary, or whose may_exempt exception holds.
    upheld keeps the result and makes it decisive (see `decisive`); waived sets the rule
    aside (result exempt). Anywhere else (passed, not applicable, a mandatory failure with
    no relaxation holding, or unknown: a ruling does not supply missing facts) the ruling
    is shown with effect "none" and changes nothing.
    """
    import dataclasses
    open_ = found.result in (FAILED, FIRED) and (
        found.strength != "mandatory" or bool(found.exception and found.exception[0] == "may_exempt"))
    if not open_:
        return dataclasses.replace(found, ruling=dataclasses.replace(ruling, effect="none"))
    result = found.result if ruling.ruling == UPHELD else EXEMPT
    return dataclasses.replace(found, result=result, ruling=dataclasses.replace(ruling, effect="decides"))


def _finding_(rule: Rule, result: str, run: Run, missing=(), error=None, exception=None, note=None,
              values: bool = True) -> Finding:
    if (not rule.show or not values) and not missing and error is None and exception is None and note is None and run.plan is not None:
        key = (id(rule), result)
        found = run.plan.memo.get(key)
        if found is None:
            found = run.plan.memo[key] = Finding(
                rule=rule.id, result=result, strength=rule.strength, cite=rule.cite.label, quote=rule.quote,
                title=rule.title, note=rule.note)
        return found
    shown = []
    for name, cond in rule.show if values else ():
        v = run.expression(cond, rule.id, f"show.{name}")
        if not isinstance(v, Unknown):
            shown.append((name, v))
    return Finding(
        rule=rule.id, result=result, strength=rule.strength, cite=rule.cite.label, quote=rule.quote,
        title=rule.title, values=tuple(shown), missing_facts=tuple(missing), exception=exception,
        note=note or rule.note, error=error,
    )


UNSETTLED = (UNKNOWN, ERROR)


def combine(findings, adverse: str | tuple[str, ...], decided: str, review: str, clear: str) -> str:
    """The combining table entry and recusal share (exit adds the term to it):

      | an adverse finding that is decisive (mandatory, not relaxable) | decided      |
      | a finding unknown or errored                                   | undetermined |
      | an adverse finding that is not decisive                        | review       |
      | otherwise                                                      | clear        |

    `adverse` is the result that counts against the case: failed (criteria) or fired
    (triggers, grounds), or a tuple of both where a decision judges both kinds.
    """
    against = (adverse,) if isinstance(adverse, str) else adverse
    if any(f.result in against and decisive(f) for f in findings):
        return decided
    if any(f.result in UNSETTLED for f in findings):
        return "undetermined"
    if any(f.result in against for f in findings):
        return review
    return clear


def decisive(finding: Finding) -> bool:
    """A mandatory rule failed or fired with no may_exempt exception holding, or a hedged rule
    the office's ruling upheld: it decides the outcome."""
    if finding.ruling is not None and finding.ruling.effect == "decides":
        return finding.ruling.ruling == UPHELD
    return finding.strength == "mandatory" and not (finding.exception and finding.exception[0] == "may_exempt")
