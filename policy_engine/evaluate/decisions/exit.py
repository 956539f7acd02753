"""exit: must this expert leave the pool, or has the term run out?

Combining table (first row that matches wins):

  | a mandatory trigger fired (no may_exempt exception holding) | exit         |
  | the term is over (as_of is after its last day)              | lapsed       |
  | a trigger or the term is unknown (facts missing) or errored | undetermined |
  | a generally/discretionary trigger fired (可以: the body may)  | may_exit     |
  | a term limit failed that decides (mandatory, or a hedged     | exceeds_term_limit |
  |   limit the office upheld by ruling)                        |              |
  | a term limit unknown (facts missing) or errored             | undetermined |
  | a term limit failed that is hedged (一般), no ruling        | needs_review |
  | otherwise                                                   | retain       |

`exit` comes before `lapsed`: both end the membership, and a fired trigger is a finding
about conduct the pool office must act on (and should know before any reappointment).
Checks on the appointment itself (term limits such as 聘期一般不超过5年) do not end the
term: a failed limit makes the outcome needs_review (一般: the office decides whether the
longer term stands; a ruling `waived` keeps the expert, retain) or exceeds_term_limit (the
appointment exceeds what the text allows and must be corrected by the office; the engine
does not shorten the term itself). Conduct (exit, may_exit) and a lapsed term come first.

A term with `renews` (到期自动续聘) does not lapse at its end: a new term of the declared
length follows on, counted from the last day of the one before as the first is counted from its
start (2024-06-30 + 2 years ends 2026-06-30; renewed, 2028-06-30), as often as needed to reach the
date of the question, unless
`stops_when` holds (then it lapses as any term; unknown makes the term unknown). The
finding shows the current term's last day and how many times it renewed.
"""
from __future__ import annotations

import datetime as _dt

from ..evaluate import UNSETTLED, combine, conditions_of, decisive, judge
from ...dates import add_months
from ...policy.expr import Unknown
from ..verdict import ERROR, FAILED, FIRED, LAPSED, RUNNING, UNKNOWN, Finding

NAME = "exit"
OUTCOMES = ("retain", "exit", "may_exit", "lapsed", "exceeds_term_limit", "needs_review", "undetermined")


def available(policy) -> bool:
    return policy.term is not None or bool(policy.triggers)


def conditions(policy):
    """Every condition this decision can evaluate, for the evaluation plan."""
    out = [policy.term.ends] + conditions_of(policy.term.limits) if policy.term is not None else []
    if policy.term is not None and policy.term.renews is not None and policy.term.renews.stops is not None:
        out.append(policy.term.renews.stops)
    return out + conditions_of(policy.triggers)


def run(policy, state):
    findings = []
    limits: list[Finding] = []
    if policy.term is not None:
        findings.append(_term(policy.term, state))
        limits = [judge(rule, state, "criterion") for rule in policy.term.limits]
        findings.extend(limits)
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
    if outcome == "retain":
        return combine(limits, FAILED, "exceeds_term_limit", "needs_review", "retain"), findings
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
    renews = term.renews
    if renews is None or state.as_of <= ends:
        return Finding(result=LAPSED if state.as_of > ends else RUNNING, values=(("term_last_day", ends),), **common)
    stops = state.expression(renews.stops, "term", "renews.stops_when") if renews.stops is not None else False
    if stops is True:
        return Finding(result=LAPSED, values=(("term_last_day", ends),), **common)
    renewed = dict(common, cite=renews.cite.label, quote=renews.quote, note=renews.note or term.note)
    if isinstance(stops, Unknown) or stops is not False:
        missing = stops.missing if isinstance(stops, Unknown) else ()
        error = stops.error if isinstance(stops, Unknown) else f"stops_when gave {stops!r}, not true or false"
        return Finding(result=UNKNOWN if missing else ERROR, missing_facts=missing, error=None if missing else error,
                       values=(("term_last_day", ends),), **renewed)
    last, count = _dt.date.fromisoformat(ends), 0
    asked = _dt.date.fromisoformat(state.as_of)
    while asked > last and renews.months > 0:  # the schema requires a length >= 1
        # a renewed term follows on from the last day of the one before, counted as the first is from
        # its start: that day not counted (民法典 第二百零一条), the term ending on its corresponding
        # day (第二百零二条: the month's last day where there is none), so terms do not drift a day each
        last = add_months(last, renews.months)
        count += 1
    return Finding(result=RUNNING if asked <= last else LAPSED,
                   values=(("term_last_day", last.isoformat()), ("renewals", count)), **renewed)
