"""entry: may this person enter the pool?

Combining table (first row that matches wins):

  | a mandatory criterion failed, no may_exempt exception | ineligible   |
  | a criterion is unknown (facts missing) or errored     | undetermined |
  | a criterion failed that is generally/discretionary,   | needs_review |
  |   or failed with a may_exempt exception holding       |              |
  | otherwise (all passed, exempt or not applicable)      | eligible     |

A mandatory failure decides even while other criteria are unknown (unknown AND false is
false). A "generally" failure does not: the unknown criteria might still make the
applicant ineligible, so the verdict asks for the facts first.
"""
from __future__ import annotations

from ..evaluate import combine, conditions_of, judge
from ..verdict import FAILED

NAME = "entry"
OUTCOMES = ("eligible", "ineligible", "needs_review", "undetermined")


def available(policy) -> bool:
    return bool(policy.criteria)


def conditions(policy):
    """Every condition this decision can evaluate, for the evaluation plan."""
    return conditions_of(policy.criteria)


def run(policy, state):
    findings = tuple(judge(rule, state, "criterion") for rule in policy.criteria)
    return combine(findings, FAILED, "ineligible", "needs_review", "eligible"), findings
