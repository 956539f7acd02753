"""score: the grade of one evaluation, on the sheet the policy declares (scoring).

check() rejects the sheet (CaseError, exit 4, the path naming the item) when an item has
no points, points below 0 or above the item's maximum, a stated total disagrees with the
items, or a stated grade disagrees with the total; for a sheet of grades alone (优秀、一般、
差), when the grade is missing or is not one of the policy's grades.

run(): one finding for the sheet, one per item (points, maximum, band), per group and for
the total, and one for the grade; the outcome is the grade the policy declares (its id;
its label, the text's own word, is printed). When the case gives the evaluation's date, the grade finding
carries the evaluation as an event in the shared format of expert.events
({kind: evaluation, date, grade, score}), and each exit trigger listed under `feeds` is
judged with that event added to the expert's history (001 第九条（一）: two 差 in one term).
"""
from __future__ import annotations

import dataclasses

from ...errors import CaseError, problem
from ..evaluate import Run, judge
from ...policy.expr import bind
from ..verdict import APPLIES, SCORED, UNKNOWN, Finding, Step

NAME = "score"
OUTCOMES: tuple[str, ...] = ()  # the grades each policy declares (see outcomes())


def outcomes(policy) -> tuple[str, ...]:
    """The outcomes this policy's sheet can give: its grades (scoring.grades.bands)."""
    return tuple(b.grade for b in policy.scoring.grade_bands) if policy.scoring is not None else ()


def available(policy) -> bool:
    return policy.scoring is not None


def conditions(policy):
    """None for the shared plan: feeds are judged on the case with this evaluation added."""
    return []


def _head(quote: str) -> str:
    """An item's heading as the form prints it: 1.工作成果质量（20分）."""
    end = quote.find("分）")
    return quote[: end + 2] if end >= 0 else quote


def check(policy, facts, file) -> None:
    sc = policy.scoring
    problems = []
    for group in sc.groups:
        for item in group.items:
            points = facts.get(item.fact)
            where = f"{item.label} {group.title} {_head(item.quote)}"
            if points is None:
                problems.append(problem("case_invalid", f"the sheet gives no points for {where}", path=item.fact,
                                        file=file, hint="every item of the sheet is scored; give 0 for none"))
            elif points < 0 or points > item.max:
                side = "above the item's maximum" if points > item.max else "below 0"
                problems.append(problem("case_invalid", f"{points} points is {side}: {where}", path=item.fact,
                                        file=file, hint=f"points for this item run from 0 to {item.max}"))
    if problems:
        raise CaseError(problems)
    if sc.groups:
        total = sum(facts[item.fact] for item in sc.items)
        stated = facts.get(sc.total_fact) if sc.total_fact else None
        if stated is not None and stated != total:
            parts = " + ".join(str(facts[item.fact]) for item in sc.items)
            problems.append(problem("case_invalid", f"the total {stated} disagrees with the items, which add up to "
                                                    f"{total} ({parts}; {sc.total.label} {sc.total.quote})",
                                    path=sc.total_fact, file=file, hint="correct the total or the item that is wrong"))
        band = _band(sc.grade_bands, total)
        grade = facts.get(sc.grade_fact)
        if grade is not None and grade != band.grade:
            problems.append(problem("case_invalid", f"the grade '{grade}' disagrees with the total {total}, which is "
                                                    f"{band.label} ({band.grade}) under {sc.grades.label} {sc.grades.quote}",
                                    path=sc.grade_fact, file=file, hint="leave the grade out: it is computed from the total"))
    else:
        grade = facts.get(sc.grade_fact)
        allowed = ", ".join(f"{b.grade} ({b.label})" for b in sc.grade_bands)
        if grade is None:
            problems.append(problem("case_invalid", f"the evaluation has no grade ({sc.grades.label}: {sc.grades.quote})",
                                    path=sc.grade_fact, file=file, hint=f"grades: {allowed}"))
        elif grade not in {b.grade for b in sc.grade_bands}:
            problems.append(problem("case_invalid", f"'{grade}' is not a grade of this policy ({sc.grades.label}: "
                                                    f"{sc.grades.quote})", path=sc.grade_fact, file=file,
                                    hint=f"grades: {allowed}"))
    if problems:
        raise CaseError(problems)


def _band(bands, points):
    return next(b for b in bands if b.low <= points <= b.high)


def run(policy, state):
    sc = policy.scoring
    facts = state.present
    findings = [Finding(rule=sc.sheet.id, result=APPLIES, strength=sc.strength, cite=sc.sheet.label,
                        quote=sc.sheet.quote, title=sc.sheet.title, note=sc.sheet.note)]
    values: list[tuple] = []
    total = None
    if sc.groups:
        total = 0
        for group in sc.groups:
            subtotal = 0
            for item in group.items:
                points = facts[item.fact]
                subtotal += points
                findings.append(Finding(
                    rule=item.id, result=SCORED, strength=sc.strength, cite=item.label, quote=item.quote,
                    title=f"{group.title}：{item.title}", note=item.note,
                    values=(("points", points), ("max", item.max), ("band", _band(item.bands, points).label))))
            total += subtotal
            findings.append(Finding(rule=group.id, result=SCORED, strength=sc.strength, cite=group.label,
                                    quote=group.quote, title=group.title, note=group.note,
                                    values=(("points", subtotal), ("max", group.max))))
        if sc.total is not None:
            findings.append(Finding(rule=sc.total.id, result=SCORED, strength=sc.strength, cite=sc.total.label,
                                    quote=sc.total.quote, title=sc.total.title, note=sc.total.note,
                                    values=(("total", total), ("max", sc.maximum))))
        band = _band(sc.grade_bands, total)
    else:
        band = next(b for b in sc.grade_bands if b.grade == facts[sc.grade_fact])
    values = [("grade", band.grade), ("label", band.label)] + ([("total", total)] if total is not None else [])
    event, missing = None, ()
    if sc.date_fact:
        if sc.date_fact in facts:
            event = {"kind": "evaluation", "date": facts[sc.date_fact], "grade": band.grade}
            if total is not None:
                event["score"] = total
            values.append(("event", event))
        else:
            missing = (sc.date_fact,)
    findings.append(Finding(rule=sc.grades.id, result=SCORED, strength=sc.strength, cite=sc.grades.label,
                            quote=sc.grades.quote, title=sc.grades.title, values=tuple(values),
                            missing_facts=missing, note=sc.grades.note))
    findings.extend(_feed(policy, state, trigger, event) for trigger in sc.feeds)
    return band.grade, tuple(findings)


def _feed(policy, state, trigger, event) -> Finding:
    """The exit trigger judged with this evaluation added to the events it counts."""
    sc = policy.scoring
    if event is None:
        return Finding(rule=trigger.id, result=UNKNOWN, strength=trigger.strength, cite=trigger.cite.label,
                       quote=trigger.quote, title=trigger.title, missing_facts=(sc.date_fact,),
                       note="本次评价须有日期，才能计入履职记录。")
    facts = dict(state.present)
    for name in sorted(trigger.test.facts()):
        fact = policy.vocabulary.facts[name]
        if fact.type == "events" and "evaluation" in fact.kinds:
            facts[name] = sorted([*facts.get(name, ()), event], key=lambda e: e["date"])
    one = state.part(bind(facts, policy.vocabulary.facts, state.as_of), facts)
    f = judge(trigger, one, "trigger")
    state.trace.extend(Step(s.rule, f"with this evaluation: {s.part}", s.expression, s.value) for s in one.trace)
    state.errors.extend(one.errors)
    return dataclasses.replace(f, note="".join(x for x in (f.note, "（已计入本次评价。）") if x))
