"""gate: may this matter go on to its next step (legality review, collective deliberation, implementation)?

Each requirement is a criterion (gates.rules) that binds where its applies_when holds (the
argumentation mode, the next step). Combining table (first row that matches wins):

  | a mandatory requirement is not met             | blocked      |
  | a requirement is unknown (facts missing)        | undetermined |
  | a generally/discretionary requirement is not met | needs_review |
  | otherwise (met, exempt or not applicable)       | may_proceed  |

A blocked verdict lists every unmet requirement with its article, not only the first.
"""
from __future__ import annotations

from ..evaluate import combine, conditions_of, judge
from ..verdict import FAILED

NAME = "gate"
OUTCOMES = ("may_proceed", "blocked", "needs_review", "undetermined")


def available(policy) -> bool:
    return bool(policy.gates)


def conditions(policy):
    """Every condition this decision can evaluate, for the evaluation plan."""
    return conditions_of(policy.gates)


def run(policy, state):
    findings = tuple(judge(rule, state, "criterion") for rule in policy.gates)
    return combine(findings, FAILED, "blocked", "needs_review", "may_proceed"), findings
