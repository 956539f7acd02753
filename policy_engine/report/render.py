"""Verdicts for people: Chinese text with the articles quoted. Separate from recording."""
from __future__ import annotations

import json
from typing import Any, Mapping

from ..policy.model import Policy
from ..policy.vocabulary import value_labels
from ..evaluate.verdict import Finding, Verdict

DECISION = {"entry": "入库资格", "exit": "出库与聘期", "recusal": "回避", "deadline": "期限",
            "sanction": "责任追究（追责等级与措施）", "apportion": "责任划分", "score": "履职评价", "gate": "程序关口",
            "panel": "专家组组成", "classify": "归类（所属类别）", "applies": "适用范围（是否适用、如何适用）"}
OUTCOME = {
    "eligible": "符合入库条件", "ineligible": "不符合入库条件", "needs_review": "需管理部门审查决定",
    "undetermined": "无法确定", "retain": "继续保留专家资格", "exit": "应当终止专家资格（出库）",
    "may_exit": "可以终止专家资格（由管理部门决定）", "lapsed": "聘期届满，专家身份失效",
    "exceeds_term_limit": "聘期超过规定上限（由管理部门纠正聘任）",
    "none": "无需回避", "must_recuse": "应当回避", "may_recuse": "可以回避（由管理部门决定）",
    "compliant": "符合期限要求", "non_compliant": "不符合期限要求", "exempt": "适用除外规定，不受期限约束",
    "not_applicable": "{name}对该程序环节未规定期限",
    # apportion, gate
    "apportioned": "责任已划分", "may_proceed": "可以进入下一环节", "blocked": "不得进入下一环节",
    # classify, applies
    "classified": "已归类", "unclassified": "不属于所列任何类别",
    "applies": "直接适用", "applies_by_reference": "参照执行", "does_not_apply": "不适用",
}
OUTCOME_BY_DECISION = {
    "classify": {"needs_review": "归入多个类别，而规定只能归入一类：需审查决定"},
    "panel": {"compliant": "专家组组成符合规定", "non_compliant": "专家组组成不符合规定",
              "needs_review": "需管理部门审查决定"},
}
# the heading of a ladder's steps: the engine's word, not one text's (处分 is 政务处分法's, 问责方式 another's);
# the steps' labels and their periods' quotes carry each text's own words
STEPS = "追责结果"
NO_SANCTION = "不追究责任（未认定{name}规定的追责情形）"
NO_LEVEL = "不追究责任（存在{name}规定的追责情形，但不符合任何一级追责的条件）"
# a sanction level's or step's force (the law's 应当 / 一般应当 / 可以)
GIVE = {"mandatory": "应当给予", "generally": "一般应当给予", "discretionary": "可以给予"}
MUST = {"mandatory": "必须", "generally": "一般应当", "discretionary": "可以"}
CHOOSE = {"one_of": "由有权机关在下列措施中选择其一", "any_of": "由有权机关在下列措施中选择（可单独或合并使用）",
          "all": "并处"}
EFFECT = {"lighter": "从轻", "heavier": "从重", "reduce": "减轻", "exempt": "免予", "at_most": "以所列种类为限"}
RESULT = {
    "passed": "符合", "failed": "不符合", "fired": "存在", "not_fired": "不存在", "unknown": "未知",
    "exempt": "适用除外规定", "not_applicable": "不适用", "error": "条件无法计算", "lapsed": "已届满", "running": "未届满",
    "applies": "适用", "not_available": "不可采取", "assigned": "承担", "none": "不承担责任", "scored": "评分",
    "member": "属于", "not_member": "不属于",
}
RULING = {"upheld": "决定维持适用本条", "waived": "决定本案不适用本条（放宽）"}
STRENGTH = {"mandatory": "强制（须/应当）", "generally": "一般（原则上）", "discretionary": "裁量（可以）"}
MEASURE = {"mandatory": "必须采取", "discretionary": "可以选择（由有权机关决定）", "generally": "一般应当采取"}
VALUE = {
    "none": "不承担",
    "directly": "直接适用", "by_reference": "参照执行",
    "exactly_one": "只能归入一类", "at_least_one": "至少归入一类", "any": "类别数不限（可归入多类，也可不归入）",
}
MARK = {"passed": "✓", "not_fired": "✓", "running": "✓", "exempt": "✓", "not_applicable": "–", "none": "–",
        "applies": "→", "assigned": "→", "member": "→", "not_member": "–", "scored": "•", "not_available": "×", "unknown": "?", "error": "?"}


def _labels(policy: Policy, outcome: str) -> str:
    """A sanction outcome in the regulation's words: 记过或者记大过 for a range, 警告；罚款 for steps together."""
    s = policy.sanctions
    steps = {st.id: st for st in s.steps} if s is not None else {}
    parts = []
    for part in outcome.split("+"):
        lo, _, hi = part.partition("..")
        if lo not in steps or (hi and hi not in steps):
            return outcome
        ladder = [st.label for st in s.steps[steps[lo].rank:steps[hi or lo].rank + 1]] if s is not None else []
        parts.append("、".join(ladder[:-1]) + "或者" + ladder[-1] if len(ladder) > 1 else ladder[0])
    return "；".join(parts)


def _range_text(policy: Policy, outcome: str) -> str:
    return {"none": "不予处分", "undetermined": "无法确定"}.get(outcome) or _labels(policy, outcome)


def _outcome(verdict: Verdict, policy: Policy) -> str:
    s = policy.sanctions
    if verdict.decision == "sanction" and s is not None and verdict.outcome == "none":
        grounds = {r.id for r in s.grounds}
        present = any(f.rule in grounds and f.result == "fired" for f in verdict.findings)
        return (NO_LEVEL if present else NO_SANCTION).format(name=policy.self_name)
    if verdict.decision == "sanction" and s is not None and verdict.outcome != "undetermined":
        return _labels(policy, verdict.outcome)
    if verdict.decision == "score" and policy.scoring is not None:  # the grade in the words the policy declares
        label = next((b.label for b in policy.scoring.grade_bands if b.grade == verdict.outcome), None)
        if label is not None:
            return label
    if verdict.outcome != "undetermined":
        return (OUTCOME_BY_DECISION.get(verdict.decision, {}).get(verdict.outcome) or OUTCOME.get(verdict.outcome,
                                                                                                   verdict.outcome)
                ).format(name=policy.self_name)
    causes = []
    v = verdict.version
    if v is not None and v.governing == "earlier_law":  # the law of the selecting date governs, and is not encoded
        causes.append("行为时的规定未编入" + ("；本版本的结论为上限" if v.ceiling is not None else ""))
    elif v is not None and v.governing == "unknown":
        causes.append("适用版本未定")
    if verdict.missing_facts and not (v is not None and v.governing == "earlier_law" and v.ceiling is not None):
        causes.append("缺少事实")
    if verdict.errors:
        causes.append("有条件无法计算")
    text = "无法确定（" + "、".join(causes or ["缺少事实"]) + "）"
    if verdict.decision == "sanction" and s is not None:
        steps = {st.id for st in s.steps}
        least = [f.title for f in verdict.findings if f.rule in steps and dict(f.values).get("at_least") and f.title]
        if least:
            text += "，至少：" + "、".join(least)
    return text


YES_NO = {True: "是", False: "否"}


def _value(v, words: Mapping[str, str] | None = None) -> str:
    """A value for people; `words`: the policy's own words for its ids (an apportionment's responsibilities)."""
    if isinstance(v, str) and words and v in words:
        return words[v]
    if isinstance(v, bool):  # before int: a bool is an int in Python, and True is not Chinese
        return YES_NO[v]
    if isinstance(v, (list, tuple)) and all(isinstance(x, (str, int)) for x in v):
        return "、".join(_value(x) if isinstance(x, bool) else str(x) for x in v) or "（无）"
    if isinstance(v, (dict, list, tuple)):
        return json.dumps(_plain(v), ensure_ascii=False)
    return VALUE.get(v, str(v)) if isinstance(v, str) else str(v)


def _plain(v):
    """`v` with its booleans as 是/否, for values printed as JSON inside the text."""
    if isinstance(v, bool):
        return YES_NO[v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def _sections(verdict: Verdict, policy: Policy) -> dict[str, str]:
    """Finding id -> the heading of its section, for the decisions whose findings have several kinds."""
    out: dict[str, str] = {}
    s = policy.sanctions
    if verdict.decision == "sanction" and s is not None:
        out.update({r.id: "追责情形" for r in s.grounds})
        out.update({b.rule.id: "追责等级" for lv in s.levels for b in lv.branches})
        out.update({m.id: "措施" for lv in s.levels for m in lv.measures})
        out.update({r.id: "出库决定（取消资格须与之一致）" for r in policy.triggers})
        out["term"] = "出库决定（取消资格须与之一致）"
        out.update({r.id: "并用措施" for r in s.also})
        out.update({r.id: "程序" for r in s.provisions})
        out.update({st.id: STEPS for st in s.steps})
        out.update({f"{st.id}-combined-period": STEPS for st in s.steps})
        out["combine"] = STEPS
        out.update({a.rule.id: "从轻、减轻、从重、免予" for a in s.adjustments})
    return out


PERIOD_UNIT = {"period_months": "个月", "period_years": "年", "period_days": "日"}


def _period(v: dict) -> str:
    if "period_months_max" in v:
        text = f"期间 {v['period_months_min']} 至 {v['period_months_max']} 个月（{v['acts']} 个期间之和 {v['period_months_sum']} 个月）"
        if "acts_certain" in v:  # the acts give ranges: how many are given this step is the body's choice
            text += (f"，其中必须给予该处分的行为 {v['acts_certain']} 个" + (
                f"，只计这些行为的最长 {v['period_months_max_certain']} 个月" if v["acts_certain"] > 1 else
                f"，只有一个行为给予该处分的为一个处分期（{v['period_months_max_certain']} 个月）"))
        if v.get("period_end_min"):
            text += f"，自 {v['period_start']} 起，至早 {v['period_end_min']}、至迟 {v['period_end_max']} 届满"
        return text
    if "period_unit" in v:  # the length the case was to state is missing
        return "期间长短未知（见需补充的事实）"
    unit = next((k for k in PERIOD_UNIT if k in v), None)
    if unit is None:
        return ""
    text = f"期间 {v[unit]} {PERIOD_UNIT[unit]}"
    if v.get("period_end"):
        text += f"，自 {v['period_start']} 起至 {v['period_end']} 届满"
    return text


def _sanction_summary(verdict: Verdict, sections: dict[str, str], policy: Policy) -> list[str]:
    lines = []
    steps = [f for f in verdict.findings if sections.get(f.rule) == STEPS and f.rule != "combine"]
    for f in steps:
        v = dict(f.values)
        if "period_months_max" in v:
            lines.append(f"{f.title}：{_period(v)}")
            continue
        if f.rule.endswith("-combined-period"):  # unknown: some act's step is not settled
            lines.append(f"{f.title}：待定（{f.note or '见需补充的事实'}）")
            continue
        if v.get("range") and f is not next(x for x in steps if dict(x.values).get("range") == v["range"]):
            continue
        head = "至少" if v.get("at_least") else GIVE.get(f.strength, f.strength)
        what = f.title or f.rule
        if v.get("range"):
            what = "、".join(x.title or x.rule for x in steps if dict(x.values).get("range") == v["range"])
            what = f"在{what}中确定其一"
        period = "；".join(_period(dict(x.values)) and f"{x.title if v.get('range') else ''}{_period(dict(x.values))}"
                          for x in steps if x is f or (v.get("range") and dict(x.values).get("range") == v["range"]))
        period = "；".join(p for p in period.split("；") if p)
        act = f"（{v['act']}）" if v.get("act") else ""
        lines.append(f"{head}：{what}{act}" + (f"（{period}）" if period else ""))
    measures = [f for f in verdict.findings if f.result == "applies" and sections.get(f.rule) in ("措施", "并用措施")]
    # a measure's finding always carries its title (the schema requires one); `is not None` types it so
    grouped: dict[str, list[Finding]] = {}
    for f in measures:
        group = dict(f.values).get("group")
        if group is not None:
            grouped.setdefault(group, []).append(f)
    for strength in ("mandatory", "generally"):
        titles = [f.title for f in measures if f.strength == strength and f.title is not None
                  and dict(f.values).get("group") is None]
        if titles:  # one line per measure named, even where several acts or levels call for it
            lines.append(MUST[strength] + "：" + "、".join(dict.fromkeys(titles)))
    may = [f.title for f in measures if f.strength == "discretionary" and f.title is not None
           and dict(f.values).get("group") is None]
    if may:
        lines.append("可以采取（由有权机关决定）：" + "、".join(may))
    for members in grouped.values():
        choose = dict(members[0].values).get("choose", "any_of")
        lines.append(CHOOSE.get(choose, choose) + "：" + "、".join(f.title for f in members if f.title is not None))
    for f in measures:
        v = dict(f.values)
        if "range_words" in v:  # an amount the body fixes: the bounds in the law's words, and a proposal checked
            inclusive = "含本数" if v["range_min_inclusive"] and v["range_max_inclusive"] else (
                "下限" + ("含" if v["range_min_inclusive"] else "不含") + "本数，上限"
                + ("含" if v["range_max_inclusive"] else "不含") + "本数")
            line = (f"{f.title}：{'、'.join(v['range_words'])}（{v['range_min']}{v['unit']}至"
                    f"{v['range_max']}{v['unit']}，{inclusive}）")
            if "proposed" in v:
                line += f"；拟定 {v['proposed']}{v['unit']}：" + ("在范围内" if v["within_range"] else "不在范围内")
            lines.append(line)
    for f in verdict.findings:
        if sections.get(f.rule) == "从轻、减轻、从重、免予" and f.result in ("applies", "unknown"):
            v = dict(f.values)
            adjusted = v.get("adjusted") or []
            effects = v.get("effect") or []
            force = "应当" if f.strength == "mandatory" else "可以" if f.strength == "discretionary" else "一般应当"
            known = "" if f.result == "applies" else "（条件未知）"
            shown = "；".join(f"{EFFECT.get(e, e)}：" + (f"在{_range_text(policy, r)}的幅度内{EFFECT.get(e, e)}"
                                                          if e in ("lighter", "heavier") else _range_text(policy, r))
                             for e, r in zip(effects, adjusted)) or "、".join(EFFECT.get(e, e) for e in effects)
            act = f"（{v['act']}）" if v.get("act") else ""
            lines.append(f"{f.cite}{act}{known}{force}{'或者'.join(EFFECT.get(e, e) for e in effects)}"
                         f"（未调整：{_range_text(policy, v.get('unadjusted', ''))}；调整后：{shown}）")
    return lines


def _adjusted(verdict: Verdict, policy: Policy) -> list[str]:
    """The result after 从轻/减轻/从重/免予 beside the unadjusted one (the outcome), act by act where the ladder judges acts."""
    a = verdict.adjusted
    assert a is not None
    def words(code: str) -> str:
        return f"{_range_text(policy, code)}（{code}）"
    if a["outcome"] == "undetermined":
        head = f"调整后：无法确定（{'、'.join(a.get('open', []))}的条件未知）"
    elif a["outcome"] == a["required"]:
        head = f"调整后：{words(a['outcome'])}"
    else:
        head = f"调整后：最轻可至{words(a['outcome'])}；只作应当的调整：{words(a['required'])}"
    lines = [head + f"；未调整：{words(a['unadjusted'])}" + (f"；依据：{'、'.join(a['by'])}" if a.get("by") else "")]
    for x in a.get("acts", ()):
        if x["by"] or x["outcome"] != x["unadjusted"]:
            lines.append(f"　{x['act']}：未调整 {words(x['unadjusted'])}，调整后"
                         + ("最轻可至" if x["outcome"] != x["required"] else "为") + words(x["outcome"])
                         + (f"（{'、'.join(x['by'])}）" if x["by"] else ""))
    return lines


def _summary(verdict: Verdict, sections: dict[str, str], policy: Policy) -> list[str]:
    lines = []
    if verdict.decision == "sanction":
        lines += _sanction_summary(verdict, sections, policy)
    elif verdict.decision == "apportion":
        words = _words(policy)
        for f in verdict.findings:
            v = dict(f.values)
            if "person" in v:
                who = f"{v['person']}（{_value(v.get('role'), words)}）"
                what = ("待定" if f.result in ("unknown", "error") else
                        "不承担责任" if v.get("responsibility") in (None, "none") else _value(v["responsibility"], words))
                lines.append(f"{who}：{what}（{f.cite}）")
    elif verdict.decision == "gate":
        missing = [f"{f.cite} {f.title}" for f in verdict.findings if f.result == "failed"]
        if missing:
            lines.append("尚未满足：" + "；".join(missing))
    elif verdict.decision == "classify":
        for f in verdict.findings:
            v = dict(f.values)
            if "categories" in v:
                lines.append("所属类别：" + _value(v["categories"]))
                if v.get("possible"):
                    lines.append("可能的类别（缺少事实）：" + _value(v["possible"]))
    elif verdict.decision == "applies":
        held = [f for f in verdict.findings if f.result == "applies"]
        for f in held:
            lines.append(f"依据：{f.cite}（{_value(dict(f.values).get('applies'))}）")
        if verdict.outcome == "undetermined" and held:
            lines.append("至少参照执行；是否直接适用待补充事实后确定")
    elif verdict.decision == "score":
        for f in verdict.findings:
            v = dict(f.values)
            if "grade" in v:
                lines.append(f"等次：{v['label']}" + (f"（总分 {v['total']}）" if "total" in v else ""))
    return lines


def render_verdict(verdict: Verdict, policy: Policy) -> str:
    lines = [
        f"《{policy.title}》（{policy.document_number or '无文号'}，版本 {policy.version}）",
        f"问题：{DECISION.get(verdict.decision, verdict.decision)}　基准日：{verdict.as_of}",
        f"结论：{_outcome(verdict, policy)}（{verdict.outcome}）",
    ]
    if verdict.adjusted is not None and verdict.decision == "sanction":
        lines += _adjusted(verdict, policy)
    if verdict.version is not None:
        lines += _version(verdict, policy)
    sections = _sections(verdict, policy)
    lines += ["　" + s for s in _summary(verdict, sections, policy)]
    lines.append("")
    heading = None
    for f in verdict.findings:
        section = sections.get(f.rule)
        if section and section != heading:
            lines.append(f"【{section}】")
            heading = section
        lines.extend(_finding(f, section in ("措施", "并用措施"), plain=verdict.decision in ("classify", "applies"),
                              words=_words(policy)))
    if verdict.missing_facts:
        lines += ["", "需补充的事实：" + "、".join(verdict.missing_facts)]
    lines += ["", f"政策摘要 sha256：{verdict.policy[2]}"]
    return "\n".join(lines)


GOVERNING = {"encoded": "", "earlier_law": "（该日期早于已编入的各版本：当时的规定未编入）",
             "unknown": "（案件未载明该日期，无法确定适用版本）"}


def _version(verdict: Verdict, policy: Policy) -> list[str]:
    v = verdict.version
    assert v is not None
    lines = [f"适用版本：{v.version}（依 {v.selected_by} = {v.date} 选定{GOVERNING.get(v.governing, '')}；"
             f"已比较：{'、'.join(v.considered)}）",
             f"　依据：{v.cite}“{v.quote}”"]
    if v.governing == "earlier_law" and v.rule == "in_force":  # the transitional rule's in_force_when holds
        why = "本案只适用行为（该日期）时的规定，该规定未编入；本版本的结论不适用，也不是上限"
    elif v.governing == "earlier_law" and v.ceiling is None:
        why = "应适用行为（该日期）时的规定，该规定未编入；本版本能否因处理较轻而适用，取决于所缺事实"
    elif v.governing == "earlier_law":
        why = "应适用行为（该日期）时的规定，该规定未编入；仅在本版本更轻时适用本版本，故本版本的结论只是上限"
    elif v.governing == "unknown":
        why = f"案件未载明 {v.selected_by}，无法确定适用哪一版本"
    elif len(v.considered) > 1 and v.version == v.considered[-1]:
        why = f"{v.date} 时有效的版本为 {v.considered[0]}；本版本对该情形处理较轻，适用本版本"
    elif len(v.considered) > 1:
        why = f"适用 {v.date} 时有效的版本；{v.considered[-1]} 并不更轻"
    else:
        why = f"适用 {v.date} 时有效的版本"
    lines.append(f"　说明：{why}")
    if v.ceiling is not None:
        lines.append(f"　上限：按本版本为 {_outcome_code(verdict, policy, v.ceiling)}，实际结论不重于此")
    return lines


def _outcome_code(verdict: Verdict, policy: Policy, code: str) -> str:
    """An outcome of this verdict's decision in words, with its code: 降级或者撤职（demotion..removal_from_post）."""
    if verdict.decision == "sanction" and policy.sanctions is not None:
        text = _range_text(policy, code)
    else:
        text = (OUTCOME_BY_DECISION.get(verdict.decision, {}).get(code) or OUTCOME.get(code, code)).format(
            name=policy.self_name)
    return f"{text}（{code}）"


def _words(policy: Policy) -> Mapping[str, str]:
    """The policy's own words for the ids its verdicts record as values: the labels its vocabulary
    gives enum values (a person's role), and an apportionment's responsibilities."""
    words = value_labels(policy.vocabulary)
    if policy.apportionment is not None:
        words.update(policy.apportionment.labels)
    return words


def _finding(f: Finding, measure: bool, plain: bool = False, words: Mapping[str, str] | None = None) -> list[str]:
    """plain: a category or scope entry, whose strength says nothing to the reader (how it applies is its result)."""
    mark = MARK.get(f.result, "✗")
    title = f"{f.title}　" if f.title else ""
    force = MEASURE if measure and f.result in ("applies", "not_available") else STRENGTH
    how = dict(f.values).get("applies") if plain and f.result == "applies" else None
    result = VALUE.get(how, how) if isinstance(how, str) else RESULT.get(f.result, f.result)
    lines = [f"{mark} {f.cite}　{title}{result}" + ("" if plain else f"　[{force.get(f.strength, f.strength)}]"),
             f"    “{f.quote}”"]
    if f.values and f.result != "not_applicable":  # values of a rule that does not apply explain nothing
        lines.append("    " + "，".join(f"{k} = {_value(v, words)}" for k, v in f.values))
    if f.exception:
        effect = "不受此限" if f.exception[0] == "exempt" else "可以放宽"
        lines.append(f"    除外（{effect}）：{f.exception[1]}“{f.exception[2]}”")
    if f.ruling is not None:
        r = f.ruling
        what = RULING.get(r.ruling, r.ruling) + ("" if r.effect == "decides" else "（依现有事实，本条无需裁定，未改变结论）")
        lines.append(f"    裁定：{r.body}于{r.date}{what}" + (f"（{r.reference}）" if r.reference else ""))
    if f.missing_facts:
        lines.append("    缺少事实：" + "、".join(f.missing_facts))
    if f.error:
        lines.append(f"    错误：{f.error}")
    if f.note:
        lines.append(f"    说明：{f.note}")
    return lines


DRAW_OUTCOME = {
    "drawn": "已抽取", "complete": "专家组已组成（全部确认参加）",
    "shortfall": "专家不足（库中符合条件的专家不能满足要求）", "refused": "不予抽取（抽取请求不符合规定）",
    "undetermined": "暂不抽取（决定抽取方式的事实未载明）",
}
STATUS = {
    "accepted": "已确认参加", "awaiting": "抽中", "declined": "不能参加", "no_answer": "未在规定时间内答复",
    "recused": "联系时申请回避", "backup": "候补", "reserve": "备选",
}
KIND = {"recusal": "回避", "exclusion": "排除", "filter": "不符合抽取条件"}
# Only where the policy's draw provisions declare contact in draw order (selection.draw.contact):
CONTACT = {"drawn": "，按顺序联系确认中", "awaiting": "待联系确认"}


def _fact_words(policy: Policy, name: str) -> str:
    """A fact as the vocabulary describes it (its description), else its name."""
    fact = policy.vocabulary.facts.get(name)
    return (fact.description if fact is not None and fact.description else name)


def _request_facts(request: dict, policy: Policy, mode, case: Mapping[str, Any] | None = None) -> list[str]:
    """The panel facts and the facts of the case (`case`: flat, as validated) a draw request states, and the
    facts its mode requires (stated or not), with their articles."""
    lines = []
    stated = {f"panel.{k}": v for k, v in sorted((request.get("panel") or {}).items())}
    stated.update(sorted((case or {}).items()))
    required = {need.fact for need in (mode.requires if mode is not None else ())}
    shown = [f"{_fact_words(policy, k)}：{_value(v)}" for k, v in stated.items() if k not in required]
    if shown:
        lines.append("请求载明：" + "；".join(shown))
    for need in mode.requires if mode is not None else ():
        namespace, _, name = need.fact.partition(".")
        given = request.get(namespace) if namespace in ("panel", "matter") else None
        value = given.get(name) if isinstance(given, dict) else (case or {}).get(need.fact)
        unstated = "（未载明）" if need.when is None else f"（未载明；{need.when.source()} 时须载明）"
        lines.append(f"本方式须载明：{need.title or _fact_words(policy, need.fact)}："
                     f"{unstated if value is None else _value(value)}　依据：{need.cite.label}“{need.quote}”")
    return lines


def render_receipt(receipt, policy: Policy) -> str:
    """A draw receipt for people: the outcome, the rules, each group's order, exclusions and panel."""
    request = receipt.to_json()["request"]
    draw = policy.selection.draw if policy.selection is not None else None
    contact = draw is not None and draw.contact is not None
    supervision = ""  # a supervision line where the request names one or the policy requires one
    from ..selection.selection import declares_supervision  # draws only: a verdict's text does not need it
    if request.get("supervisor") or declares_supervision(policy):
        supervision = f"　监督：{request.get('supervisor') or '（未写明）'}"
    mode = policy.selection.mode(str(request.get("mode"))) if policy.selection is not None else None
    how = f"{mode.title or mode.id}（{mode.id}）" if mode is not None else str(request.get("mode", ""))
    outcome = DRAW_OUTCOME.get(receipt.outcome, receipt.outcome) + (CONTACT.get(receipt.outcome, "") if contact else "")
    lines = [
        f"《{policy.title}》（{policy.document_number or '无文号'}，版本 {policy.version}）",
        f"抽取方式：{how}　请求：{request.get('id', '（无编号）')}　抽取日：{receipt.as_of}{supervision}",
        f"结论：{outcome}（{receipt.outcome}）",
        f"种子：{receipt.seed}" + (f"（按抽取承诺 {receipt.protocol['sha256']} 与事后公开的各方贡献值生成）"
                                  if receipt.protocol is not None else
                                  f"（承诺值 sha256：{receipt.commitment}）" if receipt.commitment else "（未事先公布承诺值）"),
        f"专家库：{receipt.pool[1]} 名专家，内容摘要 sha256：{receipt.pool[0]}",
        *_request_facts(request, policy, mode, receipt.facts),
        *([f"无法判断，缺少：{'、'.join(f'{_fact_words(policy, m)}（{m}）' for m in receipt.missing_facts)}"]
          if receipt.missing_facts else []),
        "",
    ]
    for f in receipt.findings:
        if f.result != "not_applicable":  # the JSON receipt keeps them; a reader needs the rules that bit
            lines.extend(_finding(f, False))
    for g in receipt.groups:
        lines += ["", f"【{g.id}】需 {g.count} 名，候选名单 {g.wanted} 名"]
        for r in g.rounds:
            lines.append(f"  第{r.round}轮（{'抽取' if r.reason == 'draw' else '再次抽取'}）：按抽取顺序经过 {r.reached} 名，"
                         f"得到候选专家 {r.found} 名（需 {r.wanted} 名）")
        lines.append("  候选专家（按抽取顺序）：")
        for c in g.candidates:
            confirm = ""
            if c.to_confirm:
                confirm = "　联系时核实：" + "、".join(f.cite for f in c.to_confirm)
            status = CONTACT["awaiting"] if c.status == "awaiting" and contact else STATUS.get(c.status, c.status)
            lines.append(f"    {c.rank}. {c.expert}　{status}{confirm}")
        if not g.candidates:
            lines.append("    （无）")
        if g.excluded:
            lines.append("  经过但未列入的专家：")
            for e in g.excluded:
                for r in e.reasons:
                    detail = f"（{r.detail}）" if r.detail else ""
                    lines.append(f"    第{e.position}位 {e.expert}　{KIND.get(r.kind, r.kind)}　{r.cite}"
                                 f"{'　' + r.title if r.title else ''}{detail}")
        lines.append("  入选：" + ("、".join(c.expert for c in g.panel) or "（无）"))
        lines.append("  候补：" + ("、".join(c.expert for c in g.backups) or "（无）"))
    if receipt.rules:
        lines += ["", "对经过的每一位专家适用的回避和排除规则："]
        for r in receipt.rules:
            lines.append(f"  {r.cite}{'　' + r.title if r.title else ''}：跳过 {r.excluded} 名"
                         + (f"，待联系时核实 {r.to_confirm} 名" if r.to_confirm else ""))
            if r.ruling is not None:
                u = r.ruling
                lines.append(f"    {u.body} {u.date}{'（' + u.reference + '）' if u.reference else ''}"
                             f"{RULING.get(u.ruling, u.ruling)}" + (f"：据此未跳过 {r.waived} 名" if r.waived else ""))
    if receipt.provisions:
        lines += ["", "适用的程序条款："]
        for p in receipt.provisions:
            lines.append(f"  {p.cite}{'　' + p.title if p.title else ''}：“{p.quote}”")
            lines.append(f"    {p.applied}")
    lines += ["", f"政策摘要 sha256：{receipt.policy[2]}",
              "核验：policy-engine verify-draw <凭证> --pool <专家库文件>"]
    return "\n".join(lines)


def render_verification(result) -> str:
    if result.ok:
        return "抽取凭证核验：一致（ok）——按凭证中的政策版本、请求和种子重新抽取，结果与凭证完全相同。"
    lines = [f"抽取凭证核验：不一致（{len(result.differences) + len(result.violations)} 处）"]
    for v in result.violations:
        lines.append(f"  {v.path or '（凭证）'}：违反抽取规程（{v.kind}）：{v.message}")
    for d in result.differences:
        who = f"专家 {d.expert}：" if d.expert else ""
        lines.append(f"  {d.path or '（凭证）'}：{who}{DIFFERENCE.get(d.kind, d.message)}")
        if d.receipt is not None or d.recomputed is not None:
            lines.append(f"    凭证：{_short(d.receipt)}　重算：{_short(d.recomputed)}")
    return "\n".join(lines)


DIFFERENCE = {
    "policy_changed": "抽取后政策文件（或其引用的文件）已改变",
    "pool_changed": "专家库与抽取时不同",
    "row_changed": "该专家的专家库记录在抽取后被修改",
    "row_removed": "该专家已不在专家库中",
    "commitment": "种子与事先公布的承诺值不符",
    "differs": "凭证所载与重新抽取的结果不同",
    "extra": "凭证中有、重新抽取的结果中没有",
    "missing": "重新抽取的结果中有、凭证中没有",
    "undrawable": "凭证中的请求或种子无法抽取",
    "truncated": "其余差异从略",
}


def _short(v) -> str:
    import json
    text = json.dumps(v, ensure_ascii=False)
    return text if len(text) <= 90 else text[:87] + "..."
