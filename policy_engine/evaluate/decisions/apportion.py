"""apportion: which responsibility does each person involved bear?

accountability.apportionment names the events fact listing the people (`each`) and the
sentences that assign responsibility (`rules`, in the article's order). Each record is
judged on its own, its fields bound as `<as>.<field>` (person.role) beside the case's other
facts. For one person, rules in order (first row that matches wins):

  | an earlier rule is unknown (facts missing)    | unknown: not yet apportioned                     |
  | a rule's exception (unless, exempt) holds      | exempt: no responsibility, citing the exception  |
  | a rule holds                                   | assigned: the responsibility it names            |
  | no rule holds                                  | none: citing `otherwise`                         |

One finding per person, naming the person, the role and the responsibility (values), with
the sentence that assigns it. Outcome: apportioned, or undetermined when a person's
responsibility is unknown or the list of people is missing. Missing record fields are
named by the record's id (responsibility.people[赵委员].took_part): the list is sorted by
date when it is read, so a position would not be the case's own.
"""
from __future__ import annotations

import dataclasses

from ..evaluate import Run, judge
from ...policy.expr import bind
from ..verdict import ASSIGNED, ERROR, EXEMPT, NONE, NOT_APPLICABLE, NOT_FIRED, UNKNOWN, Finding, Step

NAME = "apportion"
OUTCOMES = ("apportioned", "undetermined")


def available(policy) -> bool:
    return policy.apportionment is not None


def conditions(policy):
    """None for the shared plan: every rule is evaluated once per person, on that person's record."""
    return []


def run(policy, state):
    a = policy.apportionment
    records = state.present.get(a.each)
    if records is None:
        return "undetermined", (Finding(rule=a.otherwise.id, result=UNKNOWN, strength="mandatory", cite=a.otherwise.label,
                                        quote=a.otherwise.quote, missing_facts=(a.each,),
                                        note=f"未列出涉及的人员（{a.each}）。"),)
    findings = []
    for i, record in enumerate(records):  # sorted by date (stable)
        facts = dict(state.present)
        facts.update({f"{a.alias}.{key}": value for key, value in record.items()})
        one = state.part(bind(facts, a.facts, state.as_of), facts)
        place = f"{a.each}[{record.get('id', i)}]"
        findings.append(_person(a, one, place, record))
        state.trace.extend(Step(s.rule, f"{place}.{s.part}", s.expression, s.value) for s in one.trace)
        state.errors.extend(one.errors)
    unsettled = any(f.result in (UNKNOWN, ERROR) for f in findings)
    return ("undetermined" if unsettled else "apportioned"), tuple(findings)


def _person(a, one: Run, place: str, record) -> Finding:
    values = (("person", record.get("id")), ("role", record.get("role")))
    prefix = f"{a.alias}."
    for rule, assigns in a.rules:
        f = judge(rule, one, "trigger")
        if f.result in (NOT_APPLICABLE, NOT_FIRED):
            continue
        if f.result in (UNKNOWN, ERROR):
            missing = tuple(f"{place}.{m[len(prefix):]}" if m.startswith(prefix) else m for m in f.missing_facts)
            return dataclasses.replace(f, values=values, missing_facts=missing)
        if f.result == EXEMPT:
            return dataclasses.replace(f, values=values + (("responsibility", "none"),))
        return dataclasses.replace(f, result=ASSIGNED, values=values + (("responsibility", assigns),))
    o = a.otherwise
    return Finding(rule=o.id, result=NONE, strength="mandatory", cite=o.label, quote=o.quote,
                   values=values + (("responsibility", "none"),), note=o.note)
