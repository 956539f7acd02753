"""Verdicts for people: Chinese text with the articles quoted. Separate from recording."""
from __future__ import annotations

from .model import Policy
from .verdict import Verdict

DECISION = {"entry": "入库资格", "exit": "出库与聘期", "recusal": "回避", "deadline": "期限"}
OUTCOME = {
    "eligible": "符合入库条件", "ineligible": "不符合入库条件", "needs_review": "需管理部门审查决定",
    "undetermined": "无法确定", "retain": "继续保留专家资格", "exit": "应当终止专家资格（出库）",
    "may_exit": "可以终止专家资格（由管理部门决定）", "lapsed": "聘期届满，专家身份失效",
    "none": "无需回避", "must_recuse": "应当回避", "may_recuse": "可以回避（由管理部门决定）",
    "compliant": "符合期限要求", "non_compliant": "不符合期限要求", "exempt": "适用除外规定，不受期限约束",
    "not_applicable": "本办法对该程序环节未规定期限",
}
RESULT = {
    "passed": "符合", "failed": "不符合", "fired": "存在", "not_fired": "不存在", "unknown": "未知",
    "exempt": "适用除外规定", "not_applicable": "不适用", "error": "条件无法计算", "lapsed": "已届满", "running": "未届满",
}
STRENGTH = {"mandatory": "强制（须/应当）", "generally": "一般（原则上）", "discretionary": "裁量（可以）"}


def _outcome(verdict: Verdict) -> str:
    if verdict.outcome != "undetermined":
        return OUTCOME.get(verdict.outcome, verdict.outcome)
    causes = []
    if verdict.missing_facts:
        causes.append("缺少事实")
    if verdict.errors:
        causes.append("有条件无法计算")
    return "无法确定（" + "、".join(causes or ["缺少事实"]) + "）"


def render_verdict(verdict: Verdict, policy: Policy) -> str:
    lines = [
        f"《{policy.title}》（{policy.document_number or '无文号'}，版本 {policy.version}）",
        f"问题：{DECISION.get(verdict.decision, verdict.decision)}　基准日：{verdict.as_of}",
        f"结论：{_outcome(verdict)}（{verdict.outcome}）",
        "",
    ]
    for f in verdict.findings:
        mark = {"passed": "✓", "not_fired": "✓", "running": "✓", "exempt": "✓", "not_applicable": "–"}.get(f.result, "✗")
        if f.result in ("unknown", "error"):
            mark = "?"
        title = f"{f.title}　" if f.title else ""
        lines.append(f"{mark} {f.cite}　{title}{RESULT.get(f.result, f.result)}　[{STRENGTH.get(f.strength, f.strength)}]")
        lines.append(f"    “{f.quote}”")
        if f.values:
            lines.append("    " + "，".join(f"{k} = {v}" for k, v in f.values))
        if f.exception:
            effect = "不受此限" if f.exception[0] == "exempt" else "可以放宽"
            lines.append(f"    除外（{effect}）：{f.exception[1]}“{f.exception[2]}”")
        if f.missing_facts:
            lines.append("    缺少事实：" + "、".join(f.missing_facts))
        if f.error:
            lines.append(f"    错误：{f.error}")
        if f.note:
            lines.append(f"    说明：{f.note}")
    if verdict.missing_facts:
        lines += ["", "需补充的事实：" + "、".join(verdict.missing_facts)]
    lines += ["", f"政策摘要 sha256：{verdict.policy[2]}"]
    return "\n".join(lines)
