"""applies: does this regulation apply to this subject, and how: directly, by reference (参照), or not?

The policy's scope entries (scope:) cite and quote the articles saying whom or what the
regulation governs; an entry with `when` (a condition over the subject, usually
subject.*) is judged here, three-valued, with its exceptions (unless). Each entry says
how it applies: directly (适用) or by_reference (参照执行). One finding per judged entry:
applies (values.applies: directly or by_reference), not_applicable, or unknown (facts
missing). Entries without `when` only record the article and are not judged.

Combining table (first row that matches wins):

  | a direct entry holds                                   | applies              |
  | a direct entry is unknown (facts missing) or errored   | undetermined         |
  | an entry by reference holds                            | applies_by_reference |
  | an entry by reference is unknown or errored            | undetermined         |
  | no entry holds                                         | does_not_apply       |

A direct entry outweighs one by reference: a subject the text names both ways is
governed directly (both findings are listed). While a direct entry is unknown, an entry
by reference that holds is shown as such (the subject is governed at least by reference)
but the outcome waits for the facts that settle the direct one.
"""
from __future__ import annotations

import dataclasses

from ..evaluate import conditions_of, judge
from ..verdict import APPLIES, ERROR, FIRED, NOT_APPLICABLE, UNKNOWN

NAME = "applies"
OUTCOMES = ("applies", "applies_by_reference", "does_not_apply", "undetermined")


def available(policy) -> bool:
    return bool(policy.scope_rules)


def conditions(policy):
    """Every condition this decision can evaluate, for the evaluation plan."""
    return conditions_of(policy.scope_rules)


def run(policy, state):
    findings = []
    held: set[str] = set()
    open_: set[str] = set()
    for entry in policy.scope:
        if entry.rule is None:
            continue
        f = judge(entry.rule, state, "trigger")
        if f.result == FIRED:
            f = dataclasses.replace(f, result=APPLIES, values=f.values + (("applies", entry.applies),))
            held.add(entry.applies)
        elif f.result in (UNKNOWN, ERROR):
            open_.add(entry.applies)
        else:  # not_fired, exempt (an exception takes the subject out), not_applicable
            f = dataclasses.replace(f, result=NOT_APPLICABLE)
        findings.append(f)
    if "directly" in held:
        outcome = "applies"
    elif "directly" in open_:
        outcome = "undetermined"
    elif held:
        outcome = "applies_by_reference"
    elif open_:
        outcome = "undetermined"
    else:
        outcome = "does_not_apply"
    return outcome, tuple(findings)
