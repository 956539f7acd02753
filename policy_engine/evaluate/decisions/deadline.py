"""deadline: was this procedural step within its time limit, or long enough?

Each rule applies to the steps its applies_when selects (step.kind). Combining table
(first row that matches wins):

  | no rule applies to the step                                  | not_applicable |
  | a mandatory rule is missed (no may_exempt exception holding) | non_compliant  |
  | a rule is unknown (facts missing) or errored                 | undetermined   |
  | a generally/discretionary rule is missed                     | needs_review   |
  | every applicable rule is exempt (不宜进行公示, 紧急情况)          | exempt         |
  | otherwise                                                    | compliant      |

Each finding shows `due` (the N-th day, working day, month or year after `from`, the day
itself not counted; or the time N hours or minutes after `from`) and `counted` (the whole
units from `from` to `to`: days from the day after `from` to `to`, both included; whole
months, years, hours or minutes). Where the policy applies 民法典第二百零三条
(`last_day_on_holiday`), `due` is the last day moved to the next working day and
`corresponding_day` the day before moving. The loader generates these conditions
(loader._Builder.deadline); this module only combines the findings.
"""
from __future__ import annotations

from ..evaluate import combine, conditions_of, judge
from ..verdict import EXEMPT, FAILED, NOT_APPLICABLE

NAME = "deadline"
OUTCOMES = ("compliant", "non_compliant", "needs_review", "exempt", "not_applicable", "undetermined")


def available(policy) -> bool:
    return bool(policy.deadlines)


def conditions(policy):
    """Every condition this decision can evaluate, for the evaluation plan."""
    return conditions_of(policy.deadlines)


def run(policy, state):
    findings = tuple(judge(rule, state, "criterion") for rule in policy.deadlines)
    applicable = [f for f in findings if f.result != NOT_APPLICABLE]
    if not applicable:
        return "not_applicable", findings
    outcome = combine(applicable, FAILED, "non_compliant", "needs_review", "compliant")
    if outcome == "compliant" and all(f.result == EXEMPT for f in applicable):
        return "exempt", findings
    return outcome, findings
