"""sanction: which step of the policy's own ladder applies, until when, and which measures?

The ladder is declared in the policy (accountability.sanctions): its steps (the regulation's
own 警告, 记过 … or 通报, 诫勉 …, lightest first, each with its label, article and optional
period), grounds (情形), levels from the lightest to the heaviest (each leading to one step or
a range of steps, with branches: the article's alternatives, 或) and measures, measures that
apply beside any level (`also`), provisions, how steps that apply together combine, and
adjustments (从轻, 从重, 减轻, 免予, and at_most: a ceiling the text sets for some subjects or
bodies, 监察机关可以予以警告、记过、记大过). The engine knows no step by name.

A branch holds when its `when` holds and a ground is present: any ground of the ladder,
or one of the grounds it lists (`ground: [ids]`); `ground: false` needs none (escalation
by history). A level holds when any branch holds. Everything is three-valued.

One act (or each act of `each:`), by the combine rule (none declared: heaviest):

  | rule                   | the steps of the act                                        |
  | heaviest               | the range of the heaviest level that holds                  |
  | together, cumulative   | the range of every level that holds                         |

  an unknown level that could change that answer (heavier than the heaviest that holds;
  for together/cumulative any) leaves the act unsettled: the steps that certainly apply
  are still reported (values at_least), with the facts that would settle the rest.

Acts combine by the same rule: heaviest executes the heaviest (the range from the heaviest
lower bound to the heaviest upper bound); together lists each step once; cumulative lists
one per act. Outcome: none (no level holds), undetermined (unsettled, or the list of acts
is missing), or the step ids: `a` one step, `a..c` a range the body chooses in, `a+b`
steps imposed together.

Periods: a step's period in months or years ends on the day that corresponds to the day it
starts from (period_start, a date fact), as 民法典 第二百零二条 counts (dates.add_months: the
month's last day where it has no such day); a period in calendar days ends on the N-th day
after that day, the day itself not counted and the next day the first (第二百零一条). Where the
text leaves the length to the body (禁止其在一定期限内…), the policy's `length` reads it from the
case: known, it gives the end date like a fixed one; missing, the step still applies, its
period is unknown and the finding names the fact (a length that is not a whole number is an
error of the case). Several acts given the same step at or below
`same_step_periods.up_to` under heaviest: between one period and the sum of the periods,
capped at cap_months; both ends are shown as dates. Where the acts give ranges, which acts
get the step is the body's choice within their ranges, so for each step of the executed result
(at or below up_to) the sum counts the acts that MAY be given it (their range contains it: the
longest), beside those that MUST (their range is that step alone: acts_certain,
period_months_max_certain); a step fewer than two acts may be given has no combined period.
Where an act is unsettled (an unknown heavier level), the combined period is unknown and names
the facts that settle it, never one period silently.

Adjustments (从轻 lighter, 从重 heavier: within the range, the same steps; 减轻 reduce: one step
below the range, from the lowest step none only where `below_lowest: none` says so, else that
lowest step; 免予 exempt: none; at_most: a ceiling, applied after the others) are judged act by
act where the ladder judges `each:` act and the adjustment's condition reads the act (act.*):
it then adjusts that act only (the act's own mitigating circumstance lightens that act, not the
heaviest one beside it). One that reads only the case's facts is judged once and adjusts every
act. Each adjustment's finding (per act, or once) gives its effects, the unadjusted result and
the result of each effect. The verdict's outcome stays the UNADJUSTED result: it is what the
articles on the grounds give and is certain where the facts are; most adjustments are 可以,
so there is no single adjusted answer, and severity (从旧兼从轻) compares unadjusted results.
Beside it the verdict's `adjusted` gives what a caller needs to act on:

  | outcome    | every adjustment that holds, each at its lightest effect: the lightest the law allows |
  | required   | only the mandatory (应当) ones, each at its heaviest effect: the least it requires      |
  | unadjusted | the outcome                                                                             |
  | by, open   | the adjustments that hold; those unknown that could change a result (outcome undetermined) |
  | acts       | each act's unadjusted, outcome, required and by (each: ladders)                         |

each act adjusted first, the acts then combined by the ladder's rule. The body may give any
result from adjusted.outcome up to adjusted.required. Absent where no adjustment holds or is
unknown, and where nothing is imposed or the outcome is undetermined.

A measure with `range` (处3000元以上5万元以下的罚款) carries its bounds as the quote prints them:
range_min, range_max, unit, whether each includes its number (以上/以下 do), range_words; a
case's proposed amount (range.proposed, an integer fact) is checked: proposed, within_range.

The level's measures are listed with their strength: mandatory (must be taken) or
discretionary (the body chooses among them: 视情节, 等), with their group (one_of, any_of,
all); a measure's applies_when that fails leaves it out. A measure that removes an expert
(removes_expert) agrees with the policy's exit decision on the same facts:

  | exit decision   | the removal measure                                  |
  | exit            | applies, mandatory (the exit article requires it)    |
  | may_exit        | applies, with its own strength (the body may choose) |
  | undetermined    | unknown, with the exit decision's missing facts      |
  | retain, lapsed  | not_available                                        |

and the exit findings behind that answer (fired, unknown, lapsed) follow it. `also`
measures (纪律处分, referral to the law) and provisions (who decides, proposes, is told)
are listed when a level holds or the level is undetermined.

severity (the hook of governing_version rule lighter, 从旧兼从轻) orders outcomes by the
ladder's declared order: none lowest, a range by its heaviest step, then its lightest;
undetermined and steps imposed together are not compared (None).
"""
from __future__ import annotations

import dataclasses
import datetime as _dt

from ...dates import DateError, add_months, add_years, parse_date
from ...policy.expr import Unknown, bind
from ..evaluate import Run, all_of, any_of, conditions_of, judge
from ..verdict import (APPLIES, ERROR, EXEMPT, FIRED, LAPSED, NOT_APPLICABLE, NOT_AVAILABLE, NOT_FIRED, UNKNOWN,
                       Finding, Step)
from . import exit as _exit

NAME = "sanction"
OUTCOMES = ("none", "undetermined")  # and the step ids each policy declares (see outcomes())


def available(policy) -> bool:
    return policy.sanctions is not None


def outcomes(policy) -> tuple[str, ...]:
    """The outcomes this policy's ladder can give beside none and undetermined: its step ids."""
    return tuple(st.id for st in policy.sanctions.steps) if policy.sanctions is not None else ()


def severity(policy, verdict) -> int | None:
    """How heavily the verdict treats the case, by the ladder's declared order (decisions/__init__.py).

    none is 0, the lowest. A step is ranked by its position in the ladder the policy declares
    (lightest first). A range `lo..hi` (the body chooses in it) is compared first by its heaviest
    step, then by its lightest: 记过..记大过 is lighter than 降级..撤职 and than 记大过 alone, and
    heavier than 警告..记大过 (the same ceiling, a heavier floor). Steps by id, never by position
    in the verdict, so two versions compare where they declare the same steps in the same order.
    None (not compared) where the verdict does not settle the step: undetermined, steps imposed
    together or added up (`a+b`: which of two lists is lighter is a judgement the ladder does not
    declare), or an outcome that names no step of this ladder.
    """
    s = policy.sanctions
    if s is None:
        return None
    outcome = verdict.outcome
    if outcome == "none":
        return 0
    if outcome == "undetermined" or "+" in outcome:
        return None
    ranks = {st.id: st.rank for st in s.steps}
    lo_id, _, hi_id = outcome.partition("..")
    lo, hi = ranks.get(lo_id), ranks.get(hi_id or lo_id)
    if lo is None or hi is None:
        return None
    return 1 + hi * len(s.steps) + lo


def _removes(policy) -> bool:
    return any(m.removes_expert for level in policy.sanctions.levels for m in level.measures)


def conditions(policy):
    """Every condition this decision can evaluate, for the evaluation plan (per-act rules are not in it)."""
    s = policy.sanctions
    adjust = conditions_of([a.rule for a in s.adjustments if not _per_act(s, a)])
    if s.each is not None:
        return adjust + _lengths(policy)
    rules = [*s.grounds, *(b.rule for level in s.levels for b in level.branches), *s.also, *s.provisions]
    tests = [m.applies for level in s.levels for m in level.measures if m.applies is not None]
    extra = [c for t in tests for c in _leaves(t)]
    return (conditions_of(rules) + extra + adjust + _lengths(policy)
            + (_exit.conditions(policy) if _removes(policy) else []))


def _lengths(policy) -> list:
    """The CEL expressions giving periods' lengths from the case (judged on the case, never per act)."""
    return [st.period.length for st in policy.sanctions.steps
            if st.period is not None and st.period.length is not None and not isinstance(st.period.length, int)]


def _leaves(test):
    if test.op == "leaf":
        return [test.condition]
    return [c for child in test.children for c in _leaves(child)]


@dataclasses.dataclass
class _Act:
    """One act judged: its findings, the ranges that certainly apply, and whether more may."""

    findings: list
    ranges: list  # (lo, hi, level) that hold, in the order that counts
    unsettled: bool
    run: Run
    place: str | None


def run(policy, state):
    s = policy.sanctions
    rule = s.combine.rule if s.combine is not None else "heaviest"
    acts: list[_Act] = []
    if s.each is None:
        acts.append(_judge_act(s, state, rule, None))
    else:
        each, alias = s.each
        records = state.present.get(each)
        if records is None:
            g = s.grounds[0]
            return "undetermined", (Finding(rule=g.id, result=UNKNOWN, strength=g.strength, cite=g.cite.label,
                                            quote=g.quote, title=g.title, missing_facts=(each,),
                                            note=f"未列出违法行为（{each}）。"),)
        for i, record in enumerate(records):
            facts = dict(state.present)
            facts.update({f"{alias}.{key}": value for key, value in record.items()})
            one = state.part(bind(facts, s.record_facts, state.as_of), facts)  # a ruling: every act
            place = f"{each}[{record.get('id', i)}]"
            act = _judge_act(s, one, rule, place)
            acts.append(act)
            state.trace.extend(one.derived("placed step", x, place, lambda x=x: Step(x.rule, f"{place}.{x.part}", x.expression, x.value))
                               for x in one.trace)
            state.errors.extend(one.errors)
    findings = [f for act in acts for f in act.findings]
    unsettled = any(act.unsettled for act in acts)
    picked = _combine(rule, acts)
    if not picked and not unsettled:
        return "none", tuple(findings)
    outcome = "undetermined" if unsettled else _outcome_of(s, rule, picked)
    findings.extend(_step_findings(s, rule, picked, acts, state, unsettled))
    done: set[str] = set()
    for act, lo, hi, level in picked:
        if level.id in done:
            continue
        done.add(level.id)
        findings.extend(f for f in _measures(policy, level, act.run) if f.rule not in {x.rule for x in findings})
    extras: dict[str, Finding] = {}  # also and provisions: one finding each, the first that applies (any act)
    for act in acts:
        for r in (*s.also, *s.provisions):
            f = _as_measure(judge(r, act.run, "trigger"))
            if r.id not in extras or (f.result == APPLIES and extras[r.id].result != APPLIES):
                extras[r.id] = f
    findings.extend(extras.values())
    adjustment_findings, adjusted = _adjustments(policy, rule, outcome, picked, acts, state)
    findings.extend(adjustment_findings)
    return outcome, tuple(findings), adjusted


def _judge_act(s, state: Run, rule: str, place: str | None) -> _Act:
    findings = [judge(r, state, "trigger") for r in s.grounds]
    grounds = {f.rule: _value(f) for f in findings}
    held = []
    for level in s.levels:
        values = []
        for branch in level.branches:
            f = judge(branch.rule, state, "trigger")
            v = _value(f)
            if branch.ground and f.result not in (NOT_APPLICABLE, EXEMPT):
                ground = any_of([grounds[g] for g in branch.grounds] if branch.grounds else list(grounds.values()))
                v = all_of([ground, v])
                f = _settle(f, v)
            findings.append(f)
            values.append(v)
        held.append(any_of(values))
    if place is not None:
        findings = [state.derived("placed", f, place, lambda f=f: _placed(f, place, s.each[1])) for f in findings]
    ranks = {st.id: st.rank for st in s.steps}
    ranges = []
    unsettled = False
    if rule == "heaviest":
        for level, v in zip(reversed(s.levels), reversed(held)):
            if v is True:
                ranges.append((ranks[level.steps[0]], ranks[level.steps[-1]], level))
                break
            if isinstance(v, Unknown):
                unsettled = True
    else:
        for level, v in zip(s.levels, held):
            if v is True:
                ranges.append((ranks[level.steps[0]], ranks[level.steps[-1]], level))
            elif isinstance(v, Unknown):
                unsettled = True
    return _Act(findings, ranges, unsettled, state, place)


def _placed(f: Finding, place: str, alias: str) -> Finding:
    """An act's finding: missing fields of the act named by the act (official.violations[v1].serious)."""
    prefix = f"{alias}."
    missing = tuple(f"{place}.{m[len(prefix):]}" if m.startswith(prefix) else m for m in f.missing_facts)
    note = f"{place}：{f.note}" if f.note else place
    return dataclasses.replace(f, missing_facts=missing, note=note)


def _combine(rule: str, acts: list[_Act]) -> list:
    """(act, lo, hi, level) of what is imposed (certainly, where some act is unsettled)."""
    every = [(act, lo, hi, level) for act in acts for lo, hi, level in act.ranges]
    if not every or rule != "heaviest":
        return every
    top_lo = max(lo for _, lo, _, _ in every)
    top_hi = max(hi for _, _, hi, _ in every)
    heaviest = [x for x in every if x[2] == top_hi]
    # the level whose range is executed (the heaviest upper bound; its lower bound is raised to the heaviest lower one)
    act, _, _, level = heaviest[0]
    return [(act, top_lo, top_hi, level)] + [(a, top_lo, top_hi, lv) for a, lo, hi, lv in heaviest[1:] if lo == top_lo]


def _range_id(s, lo: int, hi: int) -> str:
    return s.steps[lo].id if lo == hi else f"{s.steps[lo].id}..{s.steps[hi].id}"


def _outcome_of(s, rule: str, picked: list) -> str:
    if rule == "heaviest":
        _, lo, hi, _ = picked[0]
        return _range_id(s, lo, hi)
    parts = [_range_id(s, lo, hi) for _, lo, hi, _ in picked]
    if rule == "together":
        parts = sorted(set(parts), key=parts.index)
    return "+".join(parts)


def _start(s, state: Run) -> _dt.date | None:
    if s.period_start is None:
        return None
    value = state.present.get(s.period_start[0])
    if value is None:
        return None
    try:
        return parse_date(value, s.period_start[0])
    except DateError:
        return None


def _end(start: _dt.date | None, length: int, unit: str = "months") -> str | None:
    """The last day of a period of `length` units from `start` (第二百零一条, 第二百零二条)."""
    if start is None:
        return None
    try:
        if unit == "calendar_days":
            return (start + _dt.timedelta(days=length)).isoformat()
        return (add_years(start, length) if unit == "years" else add_months(start, length)).isoformat()
    except (ValueError, OverflowError):
        return None


UNIT_KEY = {"months": "period_months", "years": "period_years", "calendar_days": "period_days"}
UNIT_WORD = {"months": "月数", "years": "年数", "calendar_days": "日数"}


def _length(st, state: Run):
    """The step's period length in its unit: an int, or Unknown (the fact missing, or not a whole number)."""
    p = st.period
    if p.months is not None:
        return p.months
    if p.length is None or isinstance(p.length, int):
        return p.length if p.length is not None else Unknown((), "the period has no length")
    v = state.expression(p.length, st.id, "period.length")
    if isinstance(v, Unknown):
        return v
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        error = f"the period's length ({p.length.source}) is {v!r}, not a whole number of {p.unit}"
        state.errors.append(f"{st.id} (period.length): {error}")
        return Unknown((), error)
    return int(v)


def _step_findings(s, rule: str, picked: list, acts: list[_Act], state: Run, unsettled: bool) -> list[Finding]:
    """One finding per step imposed: its label, article, period and end date (values)."""
    start = _start(s, state)
    out: list[Finding] = []
    seen: dict[str, int] = {}
    for act, lo, hi, level in picked:
        for rank in range(lo, hi + 1):
            st = s.steps[rank]
            values: list[tuple[str, object]] = []
            if lo != hi:
                values.append(("range", _range_id(s, lo, hi)))
            if unsettled:
                values.append(("at_least", True))
            if act.place is not None and (len(picked) == 1 or rule == "cumulative"):
                values.append(("act", act.place))
            note = None
            missing: tuple[str, ...] = ()
            error = None
            if st.period is not None:
                length = _length(st, state)
                if isinstance(length, Unknown):
                    values.append(("period_unit", st.period.unit))
                    missing, error = tuple(length.missing), length.error
                    source = getattr(st.period.length, "source", "")
                    note = (f"期间的长短由案件写明（{source}），" + ("案件未载明" if missing else "所载不是整数")
                            + f"，期间无法计算：{st.period.cite}“{st.period.quote}”")
                else:
                    values.append((UNIT_KEY[st.period.unit], length))
                    if start is not None:
                        values += [("period_start", start.isoformat()),
                                   ("period_end", _end(start, length, st.period.unit))]
                    elif s.period_start is not None:
                        note = (f"期间的起算日期（{s.period_start[0]}）未知，只能以{UNIT_WORD[st.period.unit]}表示："
                                f"{st.period.cite}“{st.period.quote}”")
                    if s.period_start is not None and start is not None:
                        note = f"期间：{st.period.cite}“{st.period.quote}”" + (
                            "" if s.period_start[1:] == (st.period.cite, st.period.quote)
                            else f"；{s.period_start[1]}“{s.period_start[2]}”")
                    if st.period.months is None and not isinstance(st.period.length, int):
                        note = _join(note, f"（期间长短依案件：{st.period.length.source} = {length}）")
            key = st.id if rule != "cumulative" else f"{st.id}@{act.place}"
            if key in seen:
                continue
            seen[key] = len(out)
            out.append(Finding(rule=st.id, result=APPLIES, strength=level.strength, cite=st.cite, quote=st.quote,
                               title=st.label, values=tuple(values), note=_join(st.note, note),
                               missing_facts=missing, error=error))
    if rule != "heaviest" or s.combine is None or not out:
        if s.combine is not None and len(acts) + len(picked) > 2:
            out.append(_combine_finding(s, picked))
        return out
    if len(acts) > 1:
        out.append(_combine_finding(s, picked))
    same = s.combine.same_periods
    _, lo, hi, _ = picked[0]
    if same is None:
        return out
    for rank in range(lo, min(hi, same.up_to) + 1):
        st = s.steps[rank]
        if st.period is None or st.period.unit != "months":
            continue
        f = _same_step_periods(s, same, st, acts, state, start, unsettled, lo == hi)
        if f is not None:
            out.append(f)
    return out


def _same_step_periods(s, same, st, acts: list[_Act], state: Run, start, unsettled: bool, one_step: bool):
    """第十五条-like: several acts given the same step (at or below `up_to`) may have a period between
    one period and the sum of them all, capped. Where the acts give ranges, which acts are given
    this step is the body's choice within them: the count runs from the acts that must be given it
    (their range is this step alone) to those that may (their range contains it), and both bounds
    are stated. Where some act is unsettled (an unknown heavier level), the count is unknown:
    the finding says so and names the facts."""
    rank = st.rank
    certain = [a for a in acts if any(a_lo == a_hi == rank for a_lo, a_hi, _ in a.ranges)]
    possible = [a for a in acts if any(a_lo <= rank <= a_hi for a_lo, a_hi, _ in a.ranges)]
    months = _length(st, state)  # in months (cap_months): a length the case does not give combines nothing
    if isinstance(months, Unknown):
        return None
    if unsettled:
        others = [a for a in acts if a.unsettled]
        if len(possible) + len([a for a in others if a not in possible]) < 2:
            return None
        missing = tuple(sorted({m for a in others for f in a.findings for m in f.missing_facts}))
        return Finding(rule=f"{st.id}-combined-period", result=UNKNOWN, strength="discretionary", cite=same.cite,
                       quote=same.quote, title=f"给予{st.label}时的期间", missing_facts=missing,
                       values=(("acts_certain", len(certain)), ("period_months_min", months)),
                       note=f"有的行为应当给予的处分尚未确定（{'、'.join(a.place or '' for a in others)}）："
                            f"是否有多个相同的{st.label}、期间之和是多少，待所缺事实查明后确定。")
    if len(possible) < 2:
        return None
    total = months * len(possible)
    longest = min(total, same.cap_months) if same.cap_months else total
    values: list[tuple[str, object]] = [("acts", len(possible)), ("period_months_min", months),
                                        ("period_months_sum", total), ("period_months_max", longest)]
    exact = one_step and len(certain) == len(possible)
    note = None
    if not exact:
        sure = months * max(len(certain), 1)
        sure = min(sure, same.cap_months) if same.cap_months else sure
        values += [("acts_certain", len(certain)), ("period_months_max_certain", sure),
                   ("acts_possible", [a.place for a in possible])]
        note = (f"结论{'为幅度' if not one_step else '中的' + st.label}：给予{st.label}的，可以给予{st.label}的行为"
                f"{len(possible)}个（{'、'.join(a.place or '' for a in possible)}），其中必须给予的{len(certain)}个；"
                f"各行为给予哪一种处分由有权机关在其幅度内确定，只有给予{st.label}的行为计入期间之和："
                f"期间最长为 {longest} 个月（可以给予的都给予{st.label}时），只计必须给予的为 {sure} 个月。")
    if start is not None:
        values += [("period_start", start.isoformat()), ("period_end_min", _end(start, months)),
                   ("period_end_max", _end(start, longest))]
    title = f"{len(possible)}个{st.label}的期间" if exact else f"给予{st.label}时的期间"
    return Finding(rule=f"{st.id}-combined-period", result=APPLIES, strength="discretionary", cite=same.cite,
                   quote=same.quote, title=title, values=tuple(values), note=note)


def _combine_finding(s, picked) -> Finding:
    c = s.combine
    return Finding(rule="combine", result=APPLIES, strength="mandatory", cite=c.cite, quote=c.quote,
                   values=(("rule", c.rule),), note=c.note)


def _per_act(s, a) -> bool:
    """Whether an adjustment reads the act's own facts (`<as>.*`): then it is judged act by act."""
    return s.each is not None and any(f.startswith(s.each[1] + ".") for f in a.rule.test.facts())


_Ranges = tuple  # of (lo, hi) ranks: what one act is given; () is no sanction


def _apply(s, ranges: _Ranges, effect: str, a) -> _Ranges:
    """One act's ranges with one effect of an adjustment applied (exempt: none; reduce: one step
    below each range, from the lowest step `below_lowest` or the lowest step itself; at_most: cut
    at the step it names; lighter, heavier: within the range, the same steps)."""
    if effect == "exempt":
        return ()
    out = []
    for lo, hi in ranges:
        if effect == "at_most" and a.at_most is not None:
            out.append((min(lo, a.at_most), min(hi, a.at_most)))
        elif effect == "reduce":
            if lo > 0:
                out.append((lo - 1, lo - 1))
            elif a.below_lowest != "none":
                out.append((0, 0))
        else:
            out.append((lo, hi))
    return tuple(out)


def _weight(ranges: _Ranges) -> tuple:
    """How heavy one act's result is: no sanction lightest, then by the heaviest step, then the lightest."""
    if not ranges:
        return (-1, -1)
    return (max(hi for _, hi in ranges), max(lo for lo, _ in ranges))


def _code(s, rule: str, per_act: list) -> str:
    """The combined result of the acts' ranges by the combine rule, as an outcome code."""
    every = [(lo, hi) for ranges in per_act for lo, hi in ranges]
    if not every:
        return "none"
    if rule == "heaviest":
        return _range_id(s, max(lo for lo, _ in every), max(hi for _, hi in every))
    parts = [_range_id(s, lo, hi) for lo, hi in every]
    if rule == "together":
        parts = sorted(set(parts), key=parts.index)
    return "+".join(parts)


def _adjusted_act(s, ranges: _Ranges, held: list) -> tuple[_Ranges, _Ranges]:
    """(lightest, required) for one act, from the adjustments that hold for it (`held`).

    lightest: every adjustment applied, a discretionary one (可以) at its lightest effect and a
    mandatory one at its lightest too (the body may choose among a mandatory adjustment's
    effects); required: only the mandatory adjustments (应当), each at its heaviest effect (the
    least the law requires). Ceilings (at_most) cut last, after the effects on the range.
    """
    def effects(a, pick):
        found = [_apply(s, ranges, e, a) for e in a.effects if e != "at_most"]
        return pick(found, key=_weight) if found else ranges

    lightest = min([ranges] + [effects(a, min) for a in held], key=_weight)
    mandatory = [effects(a, max) for a in held if a.rule.strength == "mandatory"]
    required = min(mandatory, key=_weight) if mandatory else ranges
    for a in held:
        if "at_most" in a.effects:
            lightest = _apply(s, lightest, "at_most", a)
            if a.rule.strength == "mandatory":
                required = _apply(s, required, "at_most", a)
    return lightest, required


def _adjustments(policy, rule: str, outcome: str, picked: list, acts: list[_Act], state: Run):
    """The adjustments' findings and the verdict's `adjusted` (None where none holds or nothing is imposed).

    An adjustment whose condition reads the act (`act.*` under each:) is judged act by act on
    that act's facts and the case's, and applies to that act only; one that reads only the case
    is judged once and applies to every act. Each act's result is adjusted, then the acts combine
    by the ladder's rule, as the unadjusted results do.
    """
    s = policy.sanctions
    out: list[Finding] = []
    per_act = [tuple((lo, hi) for lo, hi, _ in act.ranges) for act in acts]
    settled = bool(picked) and outcome != "undetermined"
    held: list[list] = [[] for _ in acts]  # per act: the adjustments that hold
    open_: list[str] = []  # adjustments whose condition is unknown where they could change a result
    for a in s.adjustments:
        if _per_act(s, a):
            judged = [(i, _judge_on_act(a.rule, act, state)) for i, act in enumerate(acts)]
        else:
            once = _as_measure(judge(a.rule, state, "trigger"))
            judged = [(i, once) for i in range(len(acts))]
        for i, f in judged:
            if f.result == APPLIES:
                held[i].append(a)
            if f.result not in (APPLIES, NOT_APPLICABLE) or (f.result == NOT_APPLICABLE and f.missing_facts):
                if per_act[i] and set(a.effects) - {"lighter", "heavier"} and a.rule.id not in open_:
                    open_.append(a.rule.id)
        if _per_act(s, a):
            for i, f in judged:
                act = acts[i]
                f = _placed(f, act.place, s.each[1]) if act.place is not None else f
                out.append(_adjustment_finding(policy, a, f, [per_act[i]], _code(s, rule, [per_act[i]]),
                                               bool(per_act[i]) and settled, [lo for lo, _ in per_act[i]],
                                               (("act", act.place),)))
        else:
            f = judged[0][1] if judged else _as_measure(judge(a.rule, state, "trigger"))
            out.append(_adjustment_finding(policy, a, f, per_act, outcome, settled, [lo for _, lo, _, _ in picked]))
    if not settled or not (any(held) or open_):
        return out, None
    lightest, required = zip(*(_adjusted_act(s, ranges, h) for ranges, h in zip(per_act, held))) if acts else ((), ())
    adjusted: dict = {"outcome": _code(s, rule, list(lightest)), "required": _code(s, rule, list(required)),
                      "unadjusted": outcome,
                      "by": [a.rule.id for a in s.adjustments if any(a in h for h in held)]}
    mandatory_open = [x for x in open_ if any(a.rule.id == x and a.rule.strength == "mandatory" for a in s.adjustments)]
    if open_:
        adjusted["outcome"] = "undetermined"
        adjusted["open"] = list(open_)
    if mandatory_open:
        adjusted["required"] = "undetermined"
    if s.each is not None:
        adjusted["acts"] = [{"act": act.place, "unadjusted": _code(s, rule, [ranges]),
                             "outcome": _code(s, rule, [light]), "required": _code(s, rule, [req]),
                             "by": [a.rule.id for a in h]}
                            for act, ranges, light, req, h in zip(acts, per_act, lightest, required, held)]
    return out, adjusted


def _judge_on_act(rule, act: _Act, state: Run) -> Finding:
    """A rule judged on one act's facts, its trace and errors kept in the case's, named by the act."""
    seen, errors = len(act.run.trace), len(act.run.errors)
    f = _as_measure(judge(rule, act.run, "trigger"))
    state.trace.extend(Step(x.rule, f"{act.place}.{x.part}", x.expression, x.value) for x in act.run.trace[seen:])
    state.errors.extend(act.run.errors[errors:])
    return f


def _adjustment_finding(policy, a, f: Finding, per_act: list, unadjusted: str, settled: bool, lows: list,
                        extra: tuple = ()) -> Finding:
    """One adjustment's finding: its effects, and where it holds or is unknown the result each gives
    (applied to the acts it is judged for, then combined), beside the unadjusted one."""
    s = policy.sanctions
    if f.result == NOT_APPLICABLE and not f.missing_facts:
        return f  # the act is named in its note (a finding that does not apply carries no values)
    values: list[tuple[str, object]] = [("effect", list(a.effects)), *extra, ("unadjusted", unadjusted)]
    rule = s.combine.rule if s.combine is not None else "heaviest"
    if settled:
        values.append(("adjusted", [_code(s, rule, [_apply(s, r, e, a) for r in per_act]) for e in a.effects]))
    note = None
    if "reduce" in a.effects and settled and lows and min(lows) == 0 and a.below_lowest is None:
        note = f"减轻：已是最轻的一级，{policy.self_name}未写明可以低于该级，仍为该级。"
    return dataclasses.replace(f, values=tuple(values), note=_join(f.note, note))


def _amount(r, f: Finding, state: Run) -> Finding:
    """A measure whose amount the body fixes between bounds: the bounds with their unit and whether
    each includes its number (以上/以下: included), in the law's words; where the case states a
    proposed amount (r.proposed), whether it is within them. No proposal: nothing to check (the
    body has not fixed the amount yet), so nothing is missing."""
    values = [*f.values, ("range_min", r.low), ("range_max", r.high), ("unit", r.unit),
              ("range_min_inclusive", r.low_inclusive), ("range_max_inclusive", r.high_inclusive),
              ("range_words", list(r.words))]
    note = None
    amount = state.present.get(r.proposed) if r.proposed is not None else None
    if amount is not None:
        above = amount >= r.low if r.low_inclusive else amount > r.low
        below = amount <= r.high if r.high_inclusive else amount < r.high
        values += [("proposed", amount), ("within_range", above and below)]
        if not (above and below):
            note = (f"拟定的数额 {amount}{r.unit}（{r.proposed}）"
                    f"{'低于' if not above else '高于'}{r.words[0] if not above else r.words[1]}的界限，不在本条规定的范围内。")
    return dataclasses.replace(f, values=tuple(values), note=_join(f.note, note))


def _value(f: Finding):
    if f.result == FIRED:
        return True
    if f.result in (NOT_FIRED, NOT_APPLICABLE, EXEMPT):  # EXEMPT: the branch's own exception sets it aside
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
    groups = {g.id: g for g in level.groups}
    for m in level.measures:
        values: tuple = ((("group", m.group), ("choose", groups[m.group].choose)) if m.group in groups else ())
        f = Finding(rule=m.id, result=APPLIES, strength=m.strength, cite=m.cite.label, quote=m.quote, title=m.title,
                    values=values, note=m.note)
        if m.range is not None:
            f = _amount(m.range, f, state)
        if m.applies is not None:
            held = state.value(m.applies, m.id, "applies_when")
            if held is False:
                continue
            if isinstance(held, Unknown):
                out.append(dataclasses.replace(f, result=UNKNOWN if held.missing else ERROR,
                                               missing_facts=tuple(held.missing), error=held.error))
                continue
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
                m.note, f"出库决定为 {outcome}：依{policy.self_name}出库规定，现有事实不构成终止专家资格的情形，"
                "本措施不可采取。"))
        out.append(f)
        out.extend(x for x in exit_findings if x.result in (FIRED, UNKNOWN, ERROR, LAPSED) and x not in out)
    return out
