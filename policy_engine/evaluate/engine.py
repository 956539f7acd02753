"""decide(): one policy, one decision, one case, one date -> one Verdict. Pure."""
from __future__ import annotations

from typing import Any, Mapping

from ..dates import as_date  # re-exported: policy_engine.as_date
from .decisions import DECISIONS
from ..errors import LookupFailure, problem
from .evaluate import Run, plan
from . import rulings as _rulings
from ..policy.expr import bind
from ..policy.limits import check_case_size
from ..policy.model import Policy
from .verdict import Verdict
from ..policy.vocabulary import check_case
from ..policy.workdays import policy_calendar


@policy_calendar
def decide(policy: Policy, decision: str, case: Mapping[str, Any] | None, as_of: Any,
           *, case_file: str | None = None) -> Verdict:
    """Answer `decision` for `case` under `policy`, as the law stood on `as_of`.

    The policy must be in force on `as_of` (use Registry.in_force to pick the version);
    the case is validated against the policy's vocabulary first (CaseError on any bad
    value, with its path). Missing facts are not errors: they make rules unknown.
    """
    day = as_date(as_of)
    if not policy.in_force.covers(day):
        raise LookupFailure([problem(
            "not_in_force", f"{policy.id} version {policy.version} is in force {policy.in_force.describe()}, "
                            f"not on {day.isoformat()}",
            hint="use Registry.in_force(policy_id, date) to pick the version in force")])
    kind = DECISIONS.get(decision)
    if kind is None or not kind.available(policy):
        offered = ", ".join(policy.decisions()) or "none"
        known = "" if kind is not None else f"'{decision}' is not a decision kind; "
        raise LookupFailure([problem(
            "unsupported_decision", f"{known}{policy.id} {policy.version} has no {decision} rules (it answers: {offered})",
            hint="decisions: " + ", ".join(DECISIONS))])
    iso = day.isoformat()
    check_case_size(case, case_file)  # before anything walks it: a case's cost is bounded, whatever its origin
    case, raw_rulings = _rulings.split(case)
    facts = check_case(case, policy.vocabulary, case_file, as_of=iso)
    rulings = _rulings.read(raw_rulings, policy, iso, case_file)
    checker = getattr(kind, "check", None)
    if checker is not None:  # inputs a decision rejects beyond their types (a score above an item's maximum)
        checker(policy, facts, case_file)
    compiled = policy.plans.get(decision)
    if compiled is None:
        compiled = policy.plans.setdefault(decision, plan(kind.conditions(policy)))
    state = Run(bind(facts, policy.vocabulary.facts, iso), facts, iso, compiled, rulings)
    outcome, findings = kind.run(policy, state)
    if rulings:
        _rulings.check_judged(rulings, findings, decision, raw_rulings, case_file)
    missing = sorted({m for f in findings for m in f.missing_facts})
    return Verdict(
        policy=(policy.id, policy.version, policy.sha256), decision=decision, as_of=iso, outcome=outcome,
        findings=findings, missing_facts=tuple(missing), trace=tuple(state.trace), errors=tuple(state.errors),
    )
