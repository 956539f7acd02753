"""recusal: must this expert step aside from this matter?

Combining table (first row that matches wins):

  | a mandatory ground is present                          | must_recuse  |
  | a ground is unknown (facts missing) or errored         | undetermined |
  | a generally/discretionary ground is present            | may_recuse   |
  | otherwise                                              | none         |
"""
from __future__ import annotations

from ..evaluate import combine, conditions_of, judge
from ..verdict import FIRED

NAME = "recusal"
OUTCOMES = ("none", "must_recuse", "may_recuse", "undetermined")


def available(policy) -> bool:
    return bool(policy.grounds)


def conditions(policy):
    """Every condition this decision can evaluate, for the evaluation plan."""
    return conditions_of(policy.grounds)


def run(policy, state):
    findings = tuple(judge(rule, state, "trigger") for rule in policy.grounds)
    return combine(findings, FIRED, "must_recuse", "may_recuse", "none"), findings


_SEVERITY = {"none": 0, "may_recuse": 1, "must_recuse": 2}


def severity(policy, verdict) -> int | None:
    """The lighter-law hook (decisions/__init__.py): no ground < the body may recuse < must recuse."""
    return _SEVERITY.get(verdict.outcome)
