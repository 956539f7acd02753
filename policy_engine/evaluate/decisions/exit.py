"""exit: must this expert leave the pool, or has the term run out?

Combining table (first row that matches wins):

  | a mandatory trigger fired (no may_exempt exception holding) | exit         |
  | the term is over (as_of is after its last day)              | lapsed       |
  | a trigger or the term is unknown (facts missing) or errored | undetermined |
  | a generally/discretionary trigger fired (可以: the body may)  | may_exit     |
  | otherwise                                                   | retain       |

`exit` comes before `lapsed`: both end the membership, and a fired trigger is a finding
about conduct the pool office must act on (and should know before any reappointment).
Checks on the appointment itself (term limits such as 聘期一般不超过5年) are reported as
findings and do not change the outcome.
"""
from __future__ import annotations

from ..evaluate import UNSETTLED, combine, conditions_of, decisive, judge
from ...policy.expr import Unknown
from ..verdict import ERROR, FIRED, LAPSED, RUNNING, UNKNOWN, Finding

NAME = "exit"
OUTCOMES = ("retain", "exit", "may_exit", "lapsed", "undetermined")


def available(policy) -> bool:
    return policy.term is not None or bool(policy.triggers)


def conditions(policy):
    """Every condition this decision can evaluate, for the evaluation plan."""
    out = [policy.term.ends] + conditions_of(policy.term.limits) if policy.term is not None else []
    return out + conditions_of(policy.triggers)


def run(policy, state):
    findings = []
    if policy.term is not None:
        findings.append(_term(policy.term, state))
        findings.extend(judge(rule, state, "criterion") for rule in policy.term.limits)
    triggers = [judge(rule, state, "trigger") for rule in policy.triggers]
    findings.extend(triggers)
    findings = tuple(findings)
    if any(f.result == FIRED and decisive(f) for f in triggers):
        return "exit", findings
    term = findings[0] if policy.term is not None else None
    if term is not None and term.result == LAPSED:
        return "lapsed", findings
    outcome = combine(triggers, FIRED, "exit", "may_exit", "retain")
    if term is not None and term.result in UNSETTLED:
        return "undetermined", findings
    return outcome, findings



def _term(term, state) -> Finding:
    ends = state.expression(term.ends, "term", "ends")
    common = dict(rule="term", strength="mandatory", cite=term.cite.label, quote=term.quote, title="聘期",
                  note=term.note)
    if isinstance(ends, Unknown):
        return Finding(result=UNKNOWN if ends.missing else ERROR, missing_facts=ends.missing, error=ends.error, **common)
    if not (isinstance(ends, str) and len(ends) == 10 and ends[4] == "-" and ends[7] == "-"):
        state.errors.append(f"term (ends): gave {ends!r}, not a date")
        return Finding(result=ERROR, error=f"term end {ends!r} is not a date", **common)
    result = LAPSED if state.as_of > ends else RUNNING
    return Finding(result=result, values=(("term_last_day", ends),), **common)
