"""check-panel: is a panel, as formed, what the policy allows?

A designated or mixed panel is checked, not drawn. The request gives the mode, the
members (from the pool by id, or from outside it with their facts), how each was chosen,
the approvals and other facts of the forming, and the matter. The engine computes the
panel's size, counts by how chosen and fields, judges the policy's panel rules on them
(size, parity, ratio, approvals, field balance ...), and judges the recusal grounds and
selection exclusions (rotation, yearly caps) on every member. The first finding names
the mode and its article; each ground or exclusion then gives one finding naming the
members it concerns.

Combining table (first row that matches wins):

  | a mandatory panel rule failed, or a mandatory ground or exclusion     | non_compliant |
  |   holds for a member                                                 |               |
  | a rule is unknown (facts missing) or errored                         | undetermined  |
  | a generally/discretionary rule failed or holds for a member          | needs_review  |
  | otherwise                                                            | compliant     |

The request may record the office's rulings on hedged rules (`rulings:`, as in a case: see
evaluate/rulings.py): a panel rule, recusal ground or exclusion ruled on counts as the
ruling says (upheld: decisive like a mandatory one; waived: set aside) for every member.
"""
from __future__ import annotations

from typing import Any

from ..errors import CaseError
from ..evaluate import rulings as _rulings
from ..evaluate.evaluate import combine
from ..policy.model import Policy
from .pool import Pool
from .draw import filters_of, mismatch
from .selection import (_facts, assess, checked, context, dates_possible, expert_facts, expert_rules, filter_applies,
                        filter_not_applicable, filter_unsettled, in_force_on, invalid, judge_panel, located, mode_of,
                        required_facts, stated_panel)
from ..evaluate.verdict import ERROR, EXEMPT, FAILED, FIRED, NOT_APPLICABLE, NOT_FIRED, PASSED, UNKNOWN, Finding, Verdict
from ..yamlio import Document
from ..policy.workdays import policy_calendar

NAME = "panel"
OUTCOMES = ("compliant", "non_compliant", "needs_review", "undetermined")
DEFAULT_HOW = {"random": "drawn", "outside": "outside", "institution": "outside"}


@policy_calendar
def check_panel(policy: Policy, pool: Pool, request: Any, *, file: str | None = None) -> Verdict:
    """Judge a formed panel under `policy`; the members' facts come from `pool` (or the request)."""
    doc = request if isinstance(request, Document) else Document(request, {}, file or "<panel>")
    try:
        return _check(policy, pool, doc)
    except CaseError as exc:
        raise located(exc, doc) from None


def _check(policy: Policy, pool: Pool, doc: Document) -> Verdict:
    file = doc.file
    data = checked(doc, "panel-request", "panel (date, mode, members, ...)")
    as_of = str(data["date"])
    in_force_on(policy, as_of, "panel")
    dates_possible(pool, policy.vocabulary, as_of)
    mode = mode_of(policy, data["mode"], file)
    ctx = context(data, policy, file)
    members = []
    for i, m in enumerate(data["members"]):
        how = m.get("how") or DEFAULT_HOW.get(mode.method, "designated")
        if how == "outside":
            facts = _facts("expert", dict(m.get("expert") or {}, id=m["id"]), policy.vocabulary, file,
                           f"members[{i}].expert", as_of=as_of)
        else:
            if m.get("expert"):
                raise invalid(f"member {m['id']} is from the pool; its facts come from the pool file", file,
                              f"members[{i}].expert", "give facts only for an expert from outside the pool (how: outside)")
            expert = pool.by_id.get(m["id"])
            if expert is None:
                raise invalid(f"member {m['id']} is not in the pool {pool.file}", file, f"members[{i}].id",
                              "check the id, or mark an expert from outside the pool with how: outside")
            facts = dict(expert.facts)
        members.append((m["id"], how, facts))
    given = stated_panel(data, policy, file)
    fields = sorted({f for _, _, facts in members for f in facts.get("expert.fields", ())})
    panel_facts = {
        "panel.mode": mode.method, "panel.mode_id": mode.id, "panel.size": len(members),
        "panel.designated_count": sum(1 for _, how, _ in members if how == "designated"),
        "panel.drawn_count": sum(1 for _, how, _ in members if how == "drawn"),
        "panel.outside_count": sum(1 for _, how, _ in members if how == "outside"),
        "panel.fields": fields, **given,
    }
    required_facts(mode, given, ctx, file, {**ctx.matter, **ctx.case, **panel_facts}, policy)
    rulings = _rulings.read(data.get(_rulings.KEY), policy, as_of, file)
    shared = {**ctx.matter, **ctx.case, **panel_facts}
    panel_findings, trace, errors = judge_panel(policy, shared, as_of, rulings)
    assessments = [(eid, assess(policy, expert_facts(facts, eid, ctx, panel_facts), as_of, rulings))
                   for eid, _, facts in members]
    member_findings = tuple(_aggregate(rule, i, assessments) for i, (_, rule) in enumerate(expert_rules(policy)))
    formed = Finding(rule=mode.id, result=PASSED, strength="mandatory", cite=mode.cite.label, quote=mode.quote,
                     title=mode.title, values=(("mode", mode.method), ("size", len(members))), note=mode.note)
    imposed = tuple(_imposed(policy, mf, members, shared, as_of) for mf in mode.mandatory_filters)
    findings = (formed,) + imposed + panel_findings + member_findings
    if rulings:
        _rulings.check_judged(rulings, findings, NAME, data[_rulings.KEY], file)
    outcome = combine(findings, (FAILED, FIRED), "non_compliant", "needs_review", "compliant")
    missing = sorted({m for f in findings for m in f.missing_facts})
    return Verdict(policy=(policy.id, policy.version, policy.sha256), decision=NAME, as_of=as_of, outcome=outcome,
                   findings=findings, missing_facts=tuple(missing), trace=tuple(trace), errors=tuple(errors))


_PRIORITY = (FIRED, UNKNOWN, ERROR, EXEMPT, NOT_FIRED, NOT_APPLICABLE)


def _imposed(policy: Policy, mf, members: list, shared: dict, as_of: str) -> Finding:
    """A filter the mode imposes, judged on every member: failed for the members who do not meet it; not
    applicable where its applies_when does not hold, unknown (naming the facts) where that is unknown."""
    applies = filter_applies(mf, shared, policy, as_of)
    if applies is False:
        return filter_not_applicable(mf)
    if applies is not True:
        return filter_unsettled(mf, applies)
    filters = filters_of(mf)
    unmet = {eid: detail for eid, _, facts in members
             if (detail := mismatch(filters, {**facts, **shared}, policy, as_of)) is not None}
    values: tuple = (("members", sorted(unmet)), ("values", unmet)) if unmet else ()
    return Finding(rule=mf.id, result=FAILED if unmet else PASSED, strength="mandatory", cite=mf.cite.label,
                   quote=mf.quote, title=mf.title, values=values, note=mf.note)


def _aggregate(rule, index: int, assessments: list) -> Finding:
    """One finding for a ground or exclusion over every member: the members it holds for, or is unknown for."""
    per_member = [(eid, a.findings[index][1]) for eid, a in assessments]
    if not per_member:
        return Finding(rule=rule.id, result=NOT_APPLICABLE, strength=rule.strength, cite=rule.cite.label,
                       quote=rule.quote, title=rule.title, note=rule.note)
    first = per_member[0][1]
    by_result: dict[str, list[str]] = {}
    for eid, f in per_member:
        by_result.setdefault(f.result, []).append(eid)
    result = next(r for r in _PRIORITY if r in by_result)
    values: list[tuple[str, Any]] = []
    if by_result.get(FIRED):
        values.append(("members", by_result[FIRED]))
    waived = [eid for eid, f in per_member if f.ruling is not None and f.ruling.effect == "decides" and f.result == EXEMPT]
    if waived:  # the members the office's ruling set the rule aside for
        values.append(("waived_for", waived))
    unsettled = by_result.get(UNKNOWN, []) + by_result.get(ERROR, [])
    if unsettled:
        values.append(("unknown_for", sorted(unsettled)))
    shown = {}
    for eid, f in per_member:
        if f.result == FIRED and f.values:
            shown[eid] = dict(f.values)
    if shown:
        values.append(("values", shown))
    missing = tuple(sorted(f"members[{eid}].{m}" for eid, f in per_member for m in f.missing_facts))
    error = next((f"{eid}: {f.error}" for eid, f in per_member if f.error), None)
    # the office's ruling (one per rule): as it decided for a member it concerns, else as recorded
    ruling = next((f.ruling for _, f in per_member if f.ruling is not None and f.ruling.effect == "decides"),
                  first.ruling)
    return Finding(rule=first.rule, result=result, strength=first.strength, cite=first.cite, quote=first.quote,
                   title=first.title, values=tuple(values), missing_facts=missing if result != FIRED else (),
                   note=first.note, error=error if result == ERROR else None, ruling=ruling)
