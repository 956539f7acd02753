"""classify: which categories does this person or matter fall into?

The policy declares a classification (classification:): the passage that sets it up, how
many categories one subject may fall into (cardinality: exactly_one, at_least_one, any),
and the categories, each with its label in the regulation's words, its cited passage and
its condition. Each category is judged three-valued: member (its condition holds),
not_member, or unknown (facts missing: the category is possible, its missing facts named).

One finding per category, then one for the classification itself (its cite and quote),
whose values list the categories that hold (`categories`) and those possible
(`possible`), by label, and the declared cardinality; its result is passed when the
count fits the cardinality, failed when it cannot, unknown while categories are unknown.
Combining table (first row that matches wins):

  | exactly_one declared and two or more categories hold   | needs_review |
  | a category is unknown (facts missing) or errored      | undetermined |
  | no category holds                                      | unclassified |
  | otherwise                                              | classified   |
"""
from __future__ import annotations

import dataclasses

from ..evaluate import conditions_of, judge
from ..verdict import ERROR, FAILED, FIRED, MEMBER, NOT_MEMBER, PASSED, UNKNOWN, Finding

NAME = "classify"
OUTCOMES = ("classified", "unclassified", "needs_review", "undetermined")


def available(policy) -> bool:
    return policy.classification is not None


def conditions(policy):
    """Every condition this decision can evaluate, for the evaluation plan."""
    return conditions_of(policy.classification.categories)


def run(policy, state):
    c = policy.classification
    findings = []
    for rule in c.categories:
        f = judge(rule, state, "trigger")
        if f.result not in (UNKNOWN, ERROR):  # fired; or not_fired, exempt (an exception keeps it out), not_applicable
            f = dataclasses.replace(f, result=MEMBER if f.result == FIRED else NOT_MEMBER)
        findings.append(f)
    members = tuple(f.title for f in findings if f.result == MEMBER)
    possible = tuple(f.title for f in findings if f.result in (UNKNOWN, ERROR))
    if c.cardinality == "exactly_one" and len(members) > 1:
        outcome, result = "needs_review", FAILED
    elif possible:
        outcome, result = "undetermined", UNKNOWN
    elif not members:
        outcome, result = "unclassified", (PASSED if c.cardinality == "any" else FAILED)
    else:
        outcome, result = "classified", PASSED
    head = Finding(rule=c.id, result=result, strength=c.strength, cite=c.cite.label, quote=c.quote, title=c.title,
                   values=(("categories", members), ("possible", possible), ("cardinality", c.cardinality)),
                   missing_facts=tuple(sorted({m for f in findings for m in f.missing_facts})), note=c.note)
    return outcome, tuple(findings) + (head,)
