"""sanction: which step of the sanction ladder applies, and which measures are allowed there?

The ladder is declared in the policy (accountability.sanctions): grounds (情形), levels from
the lightest to the heaviest, each with branches (the article's alternatives, 或) and
measures, measures that apply beside any level (`also`), and procedural provisions.

A branch holds when its `when` holds and a ground is present: any ground of the ladder,
or one of the grounds it lists (`ground: [ids]`); `ground: false` needs none (escalation
by history). A level holds when any branch holds. Everything is
three-valued. Combining table (first row that matches wins):

  | a level heavier than every level that holds is unknown | undetermined       |
  | the heaviest level that holds                           | that level outcome |
  | no level holds                                          | none               |

The level's measures are listed with their strength: mandatory (must be taken) or
discretionary (the body chooses among them: 视情节, 等). A measure that removes an expert
(removes_expert) agrees with the policy's exit decision on the same facts:

  | exit decision   | the removal measure                                  |
  | exit            | applies, mandatory (the exit article requires it)    |
  | may_exit        | applies, with its own strength (the body may choose) |
  | undetermined    | unknown, with the exit decision's missing facts      |
  | retain, lapsed  | not_available                                        |

and the exit findings behind that answer (fired, unknown, lapsed) follow it. `also`
measures (纪律处分, referral to the law) and provisions (who decides, proposes, is told)
are listed when a level holds or the level is undetermined.
"""
from __future__ import annotations

import dataclasses

from ..evaluate import all_of, any_of, conditions_of, judge
from ...policy.expr import Unknown
from ..verdict import (APPLIES, ERROR, FIRED, LAPSED, NOT_APPLICABLE, NOT_AVAILABLE, NOT_FIRED, UNKNOWN,
                       Finding)
from . import exit as _exit

NAME = "sanction"
OUTCOMES = ("none", "notice", "admonishment", "organisational_handling", "organ_accountability",
            "expert_handling", "strict_accountability", "unit_handling", "undetermined")


def available(policy) -> bool:
    return policy.sanctions is not None


def _removes(policy) -> bool:
    return any(m.removes_expert for level in policy.sanctions.levels for m in level.measures)


def conditions(policy):
    """Every condition this decision can evaluate, for the evaluation plan."""
    s = policy.sanctions
    rules = [*s.grounds, *(b.rule for level in s.levels for b in level.branches), *s.also, *s.provisions]
    return conditions_of(rules) + (_exit.conditions(policy) if _removes(policy) else [])


def run(policy, state):
    s = policy.sanctions
    findings = [judge(rule, state, "trigger") for rule in s.grounds]
    grounds = {f.rule: _value(f) for f in findings}
    held = []
    for level in s.levels:
        values = []
        for branch in level.branches:
            f = judge(branch.rule, state, "trigger")
            v = _value(f)
            if branch.ground and f.result != NOT_APPLICABLE:
                ground = any_of([grounds[g] for g in branch.grounds] if branch.grounds else list(grounds.values()))
                v = all_of([ground, v])
                f = _settle(f, v)
            findings.append(f)
            values.append(v)
        held.append(any_of(values))
    chosen, unsettled = None, False
    for level, v in zip(reversed(s.levels), reversed(held)):
        if v is True:
            chosen = level
            break
        if isinstance(v, Unknown):
            unsettled = True
    if unsettled:
        outcome = "undetermined"
    elif chosen is not None:
        outcome = chosen.outcome
        findings.extend(_measures(policy, chosen, state))
    else:
        return "none", tuple(findings)
    findings.extend(_as_measure(judge(rule, state, "trigger")) for rule in s.also)
    findings.extend(_as_measure(judge(rule, state, "trigger")) for rule in s.provisions)
    return outcome, tuple(findings)


def _value(f: Finding):
    if f.result == FIRED:
        return True
    if f.result in (NOT_FIRED, NOT_APPLICABLE):
        return False
    return Unknown(f.missing_facts, f.error)


def _settle(f: Finding, v) -> Finding:
    """The branch's finding with the ground taken into account (ground AND when)."""
    if v is True:
        result, missing, error = FIRED, (), None
    elif v is False:
        result, missing, error = NOT_FIRED, (), None
    else:
        result, missing, error = (UNKNOWN if v.missing else ERROR), tuple(v.missing), v.error
    if (result, missing, error) == (f.result, f.missing_facts, f.error):
        return f
    return dataclasses.replace(f, result=result, missing_facts=missing, error=error)


def _as_measure(f: Finding) -> Finding:
    if f.result == FIRED:
        return dataclasses.replace(f, result=APPLIES)
    if f.result == NOT_FIRED:
        return dataclasses.replace(f, result=NOT_APPLICABLE)
    return f


def _join(*notes) -> str | None:
    return "".join(n for n in notes if n) or None


def _measures(policy, level, state) -> list[Finding]:
    out: list[Finding] = []
    verdict = None
    for m in level.measures:
        f = Finding(rule=m.id, result=APPLIES, strength=m.strength, cite=m.cite.label, quote=m.quote, title=m.title,
                    note=m.note)
        if not m.removes_expert:
            out.append(f)
            continue
        if verdict is None:
            verdict = _exit.run(policy, state)
        outcome, exit_findings = verdict
        fired = "、".join(x.cite for x in exit_findings if x.result == FIRED)
        if outcome == "exit":
            f = dataclasses.replace(f, strength="mandatory", note=_join(
                m.note, f"出库决定为 exit：{fired}应当终止专家资格，故本措施必须采取。"))
        elif outcome == "may_exit":
            f = dataclasses.replace(f, note=_join(m.note, f"出库决定为 may_exit：{fired}可以终止专家资格，由管理部门决定。"))
        elif outcome == "undetermined":
            missing = tuple(sorted({x for e in exit_findings for x in e.missing_facts}))
            f = dataclasses.replace(f, result=UNKNOWN, missing_facts=missing, note=_join(
                m.note, "出库决定无法确定：取消资格须与出库决定一致，先补充出库决定所缺事实。"))
        elif outcome == "lapsed":
            f = dataclasses.replace(f, result=NOT_AVAILABLE, note=_join(
                m.note, "出库决定为 lapsed：聘期已经届满，专家身份已经失效，无从取消专家资格。"))
        else:
            f = dataclasses.replace(f, result=NOT_AVAILABLE, note=_join(
                m.note, f"出库决定为 {outcome}：依本办法出库规定，现有事实不构成终止专家资格的情形，本措施不可采取。"))
        out.append(f)
        out.extend(x for x in exit_findings if x.result in (FIRED, UNKNOWN, ERROR, LAPSED) and x not in out)
    return out
