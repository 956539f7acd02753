"""The sanction ladder a policy declares: steps and their labels, ranges, periods with end dates,
several acts combined, capped combined periods, 从轻/减轻/从重/免予, a level's strength, measure
groups and conditions, the certain part beside an unknown heavier level, and the no-sanction sentence.

The policy is tests/data/sanction-ladder-test (a short test text shaped like 政务处分法 第七、八、
十一至十五条); variants of it are written to a temporary folder by `variant`.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from policy_engine import CaseError, Registry, decide
from policy_engine.policy.loader import check_policy
from policy_engine.report.render import render_verdict

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "tests" / "data" / "sanction-ladder-test"
FILE = HERE / "2024-01-01.yaml"
AS_OF = "2026-06-01"


def load(path: Path = FILE):
    policy, problems = check_policy(path)
    assert policy is not None, [p.render() for p in problems]
    return policy


@pytest.fixture(scope="module")
def policy():
    return load()


def variant(tmp_path: Path, old: str, new: str) -> Path:
    folder = tmp_path / "sanction-ladder-test"
    shutil.copytree(HERE, folder)
    file = folder / FILE.name
    text = file.read_text(encoding="utf-8")
    assert old in text, old
    file.write_text(text.replace(old, new, 1), encoding="utf-8")
    return file


def act(kind="lending", date="2024-03-01", **fields):
    return {"kind": kind, "date": date, "fairly_serious": False, "serious": False, **fields}


def case(*acts, effective="2024-02-29", **official):
    flags = {"leader": False, "special_case": False, "confessed": False, "repentant_minor": False, "obstructed": False, **official}
    return {"official": {"acts": list(acts), **flags}, "sanction": {"effective_date": effective}}


def steps(verdict, policy):
    ids = {st.id for st in policy.sanctions.steps}
    return {f.rule: dict(f.values) for f in verdict.findings if f.rule in ids}


def finding(verdict, rule):
    hit = [f for f in verdict.findings if f.rule == rule]
    assert hit, [f.rule for f in verdict.findings]
    return hit[0]


# -- steps, labels, periods ------------------------------------------------------------------------

@pytest.mark.parametrize("effective,end", [
    ("2024-02-29", "2024-08-29"),   # six months from 29 February: 29 August
    ("2023-08-31", "2024-02-29"),   # to February of a leap year: its last day, the 29th
    ("2024-08-31", "2025-02-28"),   # to February of a common year: the 28th
    ("2024-12-31", "2025-06-30"),   # June has no 31st
    ("2024-01-15", "2024-07-15"),   # the corresponding day
])
def test_a_steps_period_ends_on_the_corresponding_day(policy, effective, end):
    v = decide(policy, "sanction", case(act(), effective=effective), AS_OF)
    assert v.outcome == "warning"
    s = steps(v, policy)["warning"]
    assert (s["period_months"], s["period_start"], s["period_end"]) == (6, effective, end)
    assert f"期间 6 个月，自 {effective} 起至 {end} 届满" in render_verdict(v, policy)


def test_without_the_start_date_the_period_is_in_months_and_says_what_is_missing(policy):
    c = case(act())
    del c["sanction"]
    v = decide(policy, "sanction", c, AS_OF)
    s = steps(v, policy)["warning"]
    assert s["period_months"] == 6 and "period_end" not in s
    assert "sanction.effective_date" in finding(v, "warning").note


def test_the_conclusion_prints_the_regulations_own_label(policy):
    v = decide(policy, "sanction", case(act()), AS_OF)
    text = render_verdict(v, policy)
    assert "结论：警告（warning）" in text and "应当给予：警告" in text


def test_a_range_is_named_as_the_text_names_it(policy):
    v = decide(policy, "sanction", case(act(fairly_serious=True)), AS_OF)
    assert v.outcome == "demerit..major-demerit"
    s = steps(v, policy)
    assert s["demerit"]["range"] == s["major-demerit"]["range"] == "demerit..major-demerit"
    assert (s["demerit"]["period_end"], s["major-demerit"]["period_end"]) == ("2025-02-28", "2025-08-29")
    assert "结论：记过或者记大过（demerit..major-demerit）" in render_verdict(v, policy)


# -- a level's strength, measure groups, measures with conditions -------------------------------

def test_a_level_that_is_only_generally_required_does_not_print_must(policy):
    v = decide(policy, "sanction", case(act(serious=True)), AS_OF)
    assert v.outcome == "demotion..dismissal"
    text = render_verdict(v, policy)
    assert "一般应当给予：在降级、撤职中确定其一" in text
    assert "必须：降级" not in text and "必须：撤职" not in text
    assert "由有权机关在下列措施中选择其一：降级、撤职" in text  # one_of, not 可单独或合并使用
    assert "可单独或合并使用" not in text


@pytest.mark.parametrize("leader,result", [(True, "applies"), (False, None), (None, "unknown")])
def test_a_measure_with_applies_when(policy, leader, result):
    c = case(act(serious=True), leader=leader)
    if leader is None:
        del c["official"]["leader"]
    v = decide(policy, "sanction", c, AS_OF)
    got = [f.result for f in v.findings if f.rule == "leader-post-removed"]
    assert got == ([result] if result else [])
    if result == "unknown":
        assert "official.leader" in v.missing_facts


# -- the certain part beside an unknown heavier level -------------------------------------------

def test_an_unknown_heavier_level_keeps_the_certain_lighter_step(policy):
    a = act(fairly_serious=True)
    del a["serious"]
    v = decide(policy, "sanction", case(dict(a, id="a1")), AS_OF)
    assert v.outcome == "undetermined"
    s = steps(v, policy)
    assert s["demerit"]["at_least"] is True and s["major-demerit"]["at_least"] is True
    assert "official.acts[a1].serious" in v.missing_facts
    text = render_verdict(v, policy)
    assert "结论：无法确定（缺少事实），至少：记过、记大过（undetermined）" in text
    assert "至少：在记过、记大过中确定其一" in text


def test_unknown_everything_reports_no_step(policy):
    a = act()
    del a["fairly_serious"], a["serious"]
    v = decide(policy, "sanction", case(dict(a, id="a1")), AS_OF)
    assert v.outcome == "undetermined" and set(steps(v, policy)) == {"warning"}  # the ground holds: at least 警告


# -- several acts ------------------------------------------------------------------------------------

def test_several_acts_execute_the_heaviest(policy):
    v = decide(policy, "sanction", case(act(id="a1"), act("gifts", id="a2", fairly_serious=True)), AS_OF)
    assert v.outcome == "demerit..major-demerit"
    assert dict(finding(v, "combine").values)["rule"] == "heaviest"
    assert "warning" not in steps(v, policy)


@pytest.mark.parametrize("count,longest,end_max", [
    (2, 12, "2025-02-28"),   # two warnings: 6 to 12 months
    (8, 48, "2028-02-29"),   # eight: the sum is exactly the cap (四十八个月, included)
    (9, 48, "2028-02-29"),   # nine: 54 months, capped at 48
])
def test_same_steps_of_several_acts_combine_their_periods_up_to_the_cap(policy, count, longest, end_max):
    acts = [act(id=f"a{i}", date=f"2024-03-{i + 1:02d}") for i in range(count)]
    v = decide(policy, "sanction", case(*acts), AS_OF)
    assert v.outcome == "warning"
    c = dict(finding(v, "warning-combined-period").values)
    assert (c["acts"], c["period_months_min"], c["period_months_sum"], c["period_months_max"]) == \
        (count, 6, 6 * count, longest)
    assert (c["period_end_min"], c["period_end_max"]) == ("2024-08-29", end_max)
    text = render_verdict(v, policy)
    assert f"至早 2024-08-29、至迟 {end_max} 届满" in text


def test_ranges_combine_periods_counting_the_acts_that_may_and_that_must_be_given_the_step(policy):
    v = decide(policy, "sanction", case(act(id="a1", fairly_serious=True), act(id="a2", fairly_serious=True)), AS_OF)
    assert v.outcome == "demerit..major-demerit"
    for step, months in (("demerit", 12), ("major-demerit", 18)):
        c = dict(finding(v, f"{step}-combined-period").values)
        assert (c["acts"], c["acts_certain"], c["period_months_min"], c["period_months_max"],
                c["period_months_max_certain"]) == (2, 0, months, 2 * months, months)
        assert c["acts_possible"] == ["official.acts[a1]", "official.acts[a2]"]
    assert "warning-combined-period" not in {f.rule for f in v.findings}  # warning is below the executed range
    assert "其中必须给予该处分的行为 0 个" in render_verdict(v, policy)


def test_one_act_outside_the_executed_range_does_not_count(policy):
    v = decide(policy, "sanction", case(act(id="a1", fairly_serious=True), act(id="a2")), AS_OF)
    assert v.outcome == "demerit..major-demerit"
    assert not [f for f in v.findings if f.rule.endswith("-combined-period")]


def test_an_unsettled_act_leaves_the_combined_period_unknown_naming_the_facts(policy):
    a = act(id="a1", fairly_serious=True)
    del a["serious"]
    v = decide(policy, "sanction", case(a, act(id="a2", fairly_serious=True)), AS_OF)
    assert v.outcome == "undetermined"
    f = finding(v, "demerit-combined-period")
    assert f.result == "unknown" and f.missing_facts == ("official.acts[a1].serious",)
    assert "period_months_max" not in dict(f.values)


def test_no_acts_listed_is_undetermined_naming_the_list(policy):
    c = case()
    del c["official"]["acts"]
    v = decide(policy, "sanction", c, AS_OF)
    assert v.outcome == "undetermined" and v.missing_facts == ("official.acts",)


def test_together_lists_every_step_once_and_cumulative_one_per_act(tmp_path):
    old = "      rule: heaviest\n      cite: {article: 6}\n      quote: 应当给予两种以上处分的，执行其中最重的处分\n"
    old_same = old + """      same_step_periods:
        up_to: dismissal
        cap_months: 48
        cite: {article: 6}
        quote: 应当给予撤职以下多个相同处分的，可以在一个处分期以上、多个处分期之和以下确定处分期，但是最长不得超过四十八个月
"""
    for rule, expected in (("together", "warning+demerit..major-demerit"), ("cumulative", "warning+warning")):
        file = variant(tmp_path / rule, old_same,
                       f"      rule: {rule}\n      cite: {{article: 7}}\n      quote: 依照本规定给予的处分，可以分别或者同时实施\n")
        p = load(file)
        acts = [act(id="a1"), act(id="a2", fairly_serious=True)] if rule == "together" else [act(id="a1"), act(id="a2")]
        v = decide(p, "sanction", case(*acts), AS_OF)
        assert v.outcome == expected
        if rule == "together":
            assert "结论：警告；记过或者记大过" in render_verdict(v, p)
        else:
            assert [f.rule for f in v.findings if f.rule == "warning"] == ["warning", "warning"]


# -- 从轻 / 减轻 / 从重 / 免予 ------------------------------------------------------------------------

def test_reduce_goes_one_step_below_the_range(policy):
    v = decide(policy, "sanction", case(act(fairly_serious=True), confessed=True), AS_OF)
    assert v.outcome == "demerit..major-demerit"  # the unadjusted result stays the outcome
    values = dict(finding(v, "confessed").values)
    assert values["effect"] == ["lighter", "reduce"]
    assert values["adjusted"] == ["demerit..major-demerit", "warning"]
    text = render_verdict(v, policy)
    assert "可以从轻或者减轻（未调整：记过或者记大过；调整后：从轻：在记过或者记大过的幅度内从轻；减轻：警告）" in text


def test_reduce_from_the_lowest_step_gives_no_sanction_where_the_text_says_so(policy):
    v = decide(policy, "sanction", case(act(), confessed=True), AS_OF)
    assert dict(finding(v, "confessed").values)["adjusted"] == ["warning", "none"]
    assert "减轻：不予处分" in render_verdict(v, policy)


def test_reduce_from_the_lowest_step_stays_there_where_the_text_says_nothing(tmp_path):
    p = load(variant(tmp_path, "        below_lowest: none\n", ""))
    v = decide(p, "sanction", case(act(), confessed=True), AS_OF)
    f = finding(v, "confessed")
    assert dict(f.values)["adjusted"] == ["warning", "warning"] and "已是最轻的一级" in f.note


def test_exempt_and_heavier(policy):
    v = decide(policy, "sanction", case(act(), repentant_minor=True, obstructed=True), AS_OF)
    assert v.outcome == "warning"
    assert dict(finding(v, "repentant").values)["adjusted"] == ["none"]
    obstructed = finding(v, "obstructed")
    assert obstructed.strength == "mandatory" and dict(obstructed.values)["adjusted"] == ["warning"]
    text = render_verdict(v, policy)
    assert "可以免予（未调整：警告；调整后：免予：不予处分）" in text and "应当从重" in text


def test_an_adjustment_that_does_not_hold_adjusts_nothing(policy):
    v = decide(policy, "sanction", case(act()), AS_OF)
    assert all("adjusted" not in dict(finding(v, a).values) for a in ("confessed", "repentant", "obstructed"))
    assert "调整后" not in render_verdict(v, policy)


# -- adjustments judged act by act, the adjusted result beside the unadjusted ----------------------

PER_ACT = (("        when: official.confessed\n", "        when: act.confessed\n"),
           ("            fairly_serious: {type: boolean, description: 情节较重}\n",
            "            fairly_serious: {type: boolean, description: 情节较重}\n"
            "            confessed: {type: boolean, description: 主动交代这一行为}\n"))


def per_act_policy(tmp_path):
    file = variant(tmp_path, *PER_ACT[0])
    text = file.read_text(encoding="utf-8").replace(*PER_ACT[1])  # both kinds of act get the field
    file.write_text(text, encoding="utf-8")
    return load(file)


def test_an_adjustment_that_reads_the_act_adjusts_that_act_only(tmp_path):
    p = per_act_policy(tmp_path)
    heavy, light = act(id="a1", fairly_serious=True, confessed=False), act(id="a2", confessed=True)
    v = decide(p, "sanction", case(heavy, light), AS_OF)
    assert v.outcome == "demerit..major-demerit"
    assert v.adjusted["outcome"] == "demerit..major-demerit"  # the lighter act's confession does not lighten a1
    assert [x["by"] for x in v.adjusted["acts"]] == [[], ["confessed"]]
    assert v.adjusted["acts"][1] == {"act": "official.acts[a2]", "unadjusted": "warning", "outcome": "none",
                                     "required": "warning", "by": ["confessed"]}
    per_act = [f for f in v.findings if f.rule == "confessed"]
    assert [f.note for f in per_act] == ["official.acts[a1]", "official.acts[a2]"]
    assert dict(per_act[1].values)["act"] == "official.acts[a2]"
    assert [f.result for f in per_act] == ["not_applicable", "applies"]
    heavy["confessed"], light["confessed"] = True, False
    v = decide(p, "sanction", case(heavy, light), AS_OF)
    assert v.adjusted["outcome"] == "warning" and v.adjusted["required"] == "demerit..major-demerit"
    assert v.outcome == "demerit..major-demerit"  # the outcome stays the unadjusted result
    text = render_verdict(v, p)
    assert "调整后：最轻可至警告（warning）；只作应当的调整：记过或者记大过（demerit..major-demerit）" in text
    assert "official.acts[a1]：未调整 记过或者记大过（demerit..major-demerit），调整后最轻可至警告（warning）" in text


def test_an_unknown_per_act_adjustment_leaves_the_adjusted_result_open(tmp_path):
    p = per_act_policy(tmp_path)
    v = decide(p, "sanction", case(act(id="a1", fairly_serious=True)), AS_OF)
    assert v.outcome == "demerit..major-demerit"
    assert v.adjusted["outcome"] == "undetermined" and v.adjusted["open"] == ["confessed"]
    assert v.adjusted["required"] == "demerit..major-demerit"  # confessed is discretionary
    assert "official.acts[a1].confessed" in v.missing_facts


def test_a_case_level_adjustment_adjusts_every_act_and_the_verdict_json_puts_it_beside_the_outcome(policy):
    v = decide(policy, "sanction", case(act(id="a1", fairly_serious=True), act(id="a2"), obstructed=True), AS_OF)
    a = v.adjusted
    assert (a["outcome"], a["required"], a["unadjusted"], a["by"]) == (
        "demerit..major-demerit", "demerit..major-demerit", "demerit..major-demerit", ["obstructed"])
    assert [x["by"] for x in a["acts"]] == [["obstructed"], ["obstructed"]]
    keys = list(v.to_json())
    assert keys[keys.index("outcome") + 1] == "adjusted"
    import jsonschema
    import json
    schema = json.loads((ROOT / "schemas" / "verdict.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(json.loads(v.dumps()))


def test_no_adjustment_holding_leaves_no_adjusted_field(policy):
    v = decide(policy, "sanction", case(act(id="a1", fairly_serious=True)), AS_OF)
    assert v.adjusted is None and "adjusted" not in v.to_json()


def test_reduce_and_exempt_per_act_then_combined(policy):
    v = decide(policy, "sanction", case(act(id="a1", fairly_serious=True), act(id="a2"), confessed=True), AS_OF)
    assert v.adjusted["outcome"] == "warning"  # a1 减轻 to warning, a2 减轻 below warning to none (below_lowest)
    assert [x["outcome"] for x in v.adjusted["acts"]] == ["warning", "none"]
    v = decide(policy, "sanction", case(act(id="a1", fairly_serious=True), repentant_minor=True), AS_OF)
    assert v.adjusted["outcome"] == "none" and v.adjusted["required"] == "demerit..major-demerit"


# -- the no-sanction sentence ----------------------------------------------------------------------

def test_no_act_no_sanction_in_the_texts_own_name(policy):
    v = decide(policy, "sanction", case(), AS_OF)
    assert v.outcome == "none"
    text = render_verdict(v, policy)
    assert "不追究责任（未认定本规定规定的追责情形）" in text and "本办法" not in text


def test_a_present_ground_is_not_denied(tmp_path):
    registry = Registry.load()
    p = registry.get("chongqing-petition-responsibility", "2017-05-23")
    grounds = {g: g == "falsification" for g in ("harmful_decision", "mishandled_matters", "mass_discipline",
                                                 "incident_mishandled", "recommendations_ignored", "falsification",
                                                 "concealment", "complaint_leaked", "other_failure")}
    c = {"accountability": {"subject": "expert", "severity": "minor", "history": [], "discipline_due": False,
                            "suspected_crime": False, "found_in_daily_work": False}, "petition": {"grounds": grounds}}
    v = decide(p, "sanction", c, "2024-11-01")
    assert v.outcome == "none"
    text = render_verdict(v, p)
    assert "未认定" not in text and "存在本細則规定的追责情形，但不符合任何一级追责的条件" in text


# -- the engine knows no step by name ----------------------------------------------------------------

OLD_CODES = ("notice", "admonishment", "organisational_handling", "organ_accountability", "expert_handling",
             "strict_accountability", "unit_handling")


def test_no_step_of_any_regulation_is_written_in_the_engine_or_its_schemas():
    files = [*(ROOT / "policy_engine").rglob("*.py"), ROOT / "schemas" / "policy.schema.json",
             ROOT / "schemas" / "verdict.schema.json"]
    for file in files:
        text = file.read_text(encoding="utf-8")
        for code in OLD_CODES:
            assert not re.search(rf"[\"']{code}[\"']", text), (file, code)
            if "_" in code:
                assert code not in text, (file, code)


# -- mistakes in the ladder give located problems --------------------------------------------------

@pytest.mark.parametrize("old,new,code,words", [
    ("        step: warning\n", "        step: warnign\n", "reference", ["'warnign' is not a step", "did you mean 'warning'"]),
    ("        step: warning\n", "        outcome: warning\n", "schema", ["outcome"]),
    ("        steps: [demerit, major-demerit]\n", "        steps: [major-demerit, demerit]\n", "reference",
     ["lightest first"]),
    ("        label: 记大过\n", "        label: 记大过处分\n", "quote_not_found", ["'记大过处分' is not in the step's quote"]),
    ("            group: demotion-or-dismissal\n", "            group: demotion-or-dismisal\n", "reference",
     ["'demotion-or-dismisal' is not a measure group", "did you mean 'demotion-or-dismissal'"]),
    ("      rule: heaviest\n", "      rule: together\n", "reference", ["same_step_periods belongs to rule: heaviest"]),
    ("        up_to: dismissal\n", "        up_to: dismisal\n", "reference", ["'dismisal' is not a step"]),
    ("      fact: sanction.effective_date\n", "      fact: sanction.effective\n", "unknown_fact",
     ["sanction.effective", "did you mean 'sanction.effective_date'"]),
    ("        effect: exempt\n", "        effect: exempt\n        below_lowest: none\n", "reference",
     ["below_lowest", "add reduce to effect:"]),
    ("    as: act\n", "    as: official\n", "vocabulary", ["already a namespace"]),
])
def test_mistakes_in_the_ladder_are_located(tmp_path, old, new, code, words):
    file = variant(tmp_path, old, new)
    loaded, problems = check_policy(file)
    assert loaded is None
    hit = [p for p in problems if p.code == code and words[0] in p.render()]
    assert hit, [p.render() for p in problems]
    p = hit[0]
    assert p.file and p.file.endswith(".yaml") and p.line is not None, p.render()
    text = file.read_text(encoding="utf-8")
    changed = text[: text.index(new)].count("\n") + 1
    assert changed - 2 <= p.line <= changed + 6, p.render()  # at the change, or the element it belongs to
    for w in words:
        assert w in p.render(), p.render()


def test_a_step_id_may_not_name_another_element(tmp_path):
    file = variant(tmp_path, "      - id: warning\n        label: 警告\n", "      - id: warning-given\n        label: 警告\n")
    loaded, problems = check_policy(file)
    assert loaded is None
    assert [p for p in problems if p.code == "duplicate_rule" and "'warning-given' is also used" in p.render()], \
        [p.render() for p in problems]


@pytest.mark.parametrize("effect,outcome", [("may_exempt", "demotion..dismissal"), ("exempt", "warning")])
def test_a_branchs_own_exception(tmp_path, effect, outcome):
    p = load(variant(tmp_path, "              - effect: may_exempt\n", f"              - effect: {effect}\n"))
    v = decide(p, "sanction", case(act(serious=True), special_case=True), AS_OF)
    assert v.outcome == outcome
    f = finding(v, "serious-act")
    assert f.exception is not None and f.exception[0] == effect and f.exception[1] == "第三条第三款"
    assert f.result == ("fired" if effect == "may_exempt" else "exempt")
    if effect == "may_exempt":  # the body may depart from it, with approval: shown beside the range
        assert "除外（可以放宽）：第三条第三款" in render_verdict(v, p)


# -- a period whose length the case states (一定期限: the body fixes it) ----------------------------

LENGTH_FACT = "    sanction.effective_date: {type: date, description: 处分决定生效之日}\n"
WARNING_PERIOD = "        period: {months: 6, cite: {article: 2, paragraph: 1, item: 1}, quote: 警告，六个月}\n"


def case_length(tmp_path: Path, unit: str = "months", length: str = "sanction.length") -> Path:
    """The ladder with the warning's period read from the case (sanction.length, in `unit`)."""
    file = variant(tmp_path, LENGTH_FACT, LENGTH_FACT + "    sanction.length: {type: integer, description: 决定的期间长短}\n")
    text = file.read_text(encoding="utf-8")
    file.write_text(text.replace(WARNING_PERIOD, f"        period: {{length: {length}, unit: {unit}, cite: {{article: 2, "
                                                 "paragraph: 1, item: 1}, quote: 警告，六个月}\n", 1), encoding="utf-8")
    return file


def with_length(c: dict, n) -> dict:
    c["sanction"]["length"] = n
    return c


@pytest.mark.parametrize("unit,n,effective,end,words", [
    ("months", 6, "2024-08-31", "2025-02-28", "期间 6 个月"),    # no 31 February: the month's last day
    ("months", 1, "2024-01-31", "2024-02-29", "期间 1 个月"),    # a leap year's February
    ("years", 1, "2024-02-29", "2025-02-28", "期间 1 年"),       # no 29 February in 2025
    ("calendar_days", 30, "2024-01-31", "2024-03-01", "期间 30 日"),  # 1 February is the first day (第二百零一条)
    ("calendar_days", 1, "2024-12-31", "2025-01-01", "期间 1 日"),
])
def test_a_period_the_case_states_ends_on_its_date(tmp_path, unit, n, effective, end, words):
    p = load(case_length(tmp_path, unit))
    v = decide(p, "sanction", with_length(case(act(), effective=effective), n), AS_OF)
    assert v.outcome == "warning" and v.missing_facts == ()
    s = steps(v, p)["warning"]
    key = {"months": "period_months", "years": "period_years", "calendar_days": "period_days"}[unit]
    assert (s[key], s["period_start"], s["period_end"]) == (n, effective, end)
    assert "sanction.length = " in finding(v, "warning").note
    assert f"{words}，自 {effective} 起至 {end} 届满" in render_verdict(v, p)


def test_a_missing_length_leaves_the_step_certain_and_names_the_fact(tmp_path):
    p = load(case_length(tmp_path))
    v = decide(p, "sanction", case(act()), AS_OF)
    assert v.outcome == "warning"
    f = finding(v, "warning")
    assert f.result == "applies" and f.missing_facts == ("sanction.length",)
    assert dict(f.values)["period_unit"] == "months" and "period_months" not in dict(f.values)
    assert v.missing_facts == ("sanction.length",)
    text = render_verdict(v, p)
    assert "结论：警告（warning）" in text and "期间长短未知" in text and "需补充的事实：sanction.length" in text


def test_a_length_that_is_not_a_whole_number_is_an_error_of_the_case(tmp_path):
    p = load(case_length(tmp_path))
    v = decide(p, "sanction", with_length(case(act()), -3), AS_OF)
    assert v.outcome == "warning"
    f = finding(v, "warning")
    assert f.error and "not a whole number" in f.error and "period_end" not in dict(f.values)
    assert any("period.length" in e for e in v.errors)


def test_a_length_from_the_case_combines_same_step_periods(tmp_path, policy):
    p = load(case_length(tmp_path))
    v = decide(p, "sanction", with_length(case(act(), act(date="2024-04-01")), 6), AS_OF)
    fixed = decide(policy, "sanction", case(act(), act(date="2024-04-01")), AS_OF)
    assert dict(finding(v, "warning-combined-period").values) == dict(finding(fixed, "warning-combined-period").values)
    unknown = decide(p, "sanction", case(act(), act(date="2024-04-01")), AS_OF)
    assert not [f for f in unknown.findings if f.rule.endswith("-combined-period")]


@pytest.mark.parametrize("old,new,code,words", [
    (WARNING_PERIOD, "        period: {months: 6, length: 6, cite: {article: 2, paragraph: 1, item: 1}, quote: 警告，六个月}\n",
     "schema", ["period"]),
    (WARNING_PERIOD, "        period: {length: sanction.lenght, unit: months, cite: {article: 2, paragraph: 1, item: 1}, "
                     "quote: 警告，六个月}\n", "unknown_fact", ["sanction.lenght"]),
    (WARNING_PERIOD, "        period: {length: sanction.effective_date, unit: months, cite: {article: 2, paragraph: 1, "
                     "item: 1}, quote: 警告，六个月}\n", "", ["length"]),
    (WARNING_PERIOD, "        period: {length: 6, unit: weeks, cite: {article: 2, paragraph: 1, item: 1}, quote: 警告，六个月}\n",
     "schema", ["weeks"]),
])
def test_mistakes_in_a_periods_length_are_located(tmp_path, old, new, code, words):
    file = variant(tmp_path, old, new)
    loaded, problems = check_policy(file)
    assert loaded is None
    hit = [p for p in problems if (not code or p.code == code) and all(w in p.render() for w in words)]
    assert hit, [p.render() for p in problems]
    text = file.read_text(encoding="utf-8")
    changed = text[: text.index(new)].count("\n") + 1
    assert hit[0].line is not None and changed - 2 <= hit[0].line <= changed + 2, hit[0].render()


# -- the text of a verdict given under governing_version ------------------------------------------

def test_a_ceiling_is_named_in_the_ladders_words_and_the_headline_says_why_it_is_undetermined():
    from policy_engine import Registry
    from policy_engine.evaluate.engine import decide_governing
    import yaml
    registry = Registry.load(ROOT / "policies")
    fixtures = ROOT / "fixtures" / "gov-sanctions-law" / "sanction"
    raw = yaml.safe_load((fixtures / "act-before-2020-07-01-undetermined-with-ceiling.yaml").read_text(encoding="utf-8"))
    verdict, p = decide_governing(registry, "gov-sanctions-law", "sanction", raw["case"], raw["as_of"])
    assert verdict.version is not None and verdict.version.ceiling is not None
    text = render_verdict(verdict, p)
    ceiling = verdict.version.ceiling
    lo, _, hi = ceiling.partition("..")
    labels = {st.id: st.label for st in p.sanctions.steps}
    assert f"上限：按本版本为 {labels[lo]}或者{labels[hi]}（{ceiling}）" in text
    assert "结论：无法确定（行为时的规定未编入；本版本的结论为上限）（undetermined）" in text
    raw["case"]["official"]["case"]["under_review"] = True  # the law of the time governs alone: no ceiling
    raw["case"]["violation"]["date"] = "2019-03-05"
    verdict, p = decide_governing(registry, "gov-sanctions-law", "sanction", raw["case"], raw["as_of"])
    text = render_verdict(verdict, p)
    assert "结论：无法确定（行为时的规定未编入）（undetermined）" in text and "上限：" not in text


# -- acts under different versions by their own dates (governing_version acts:) ---------------------

def _gov_case(*acts):
    import yaml
    raw = yaml.safe_load((ROOT / "fixtures" / "gov-sanctions-law" / "sanction" /
                          "act-on-2020-07-01-this-law.yaml").read_text(encoding="utf-8"))
    raw["case"]["official"]["violations"] = [
        {"kind": "act", "id": i, "date": d, "ground": "a36", "circumstances": "relatively_serious", "mitigated": False}
        for i, d in acts]
    raw["case"]["violation"]["date"] = min(d for _, d in acts)
    return raw["case"], raw["as_of"]


@pytest.mark.parametrize("dates,refused_at", [
    ((("v1", "2020-06-30"), ("v2", "2020-07-01")), 1),   # the day before the law took effect, and its first day
    ((("v1", "2021-03-01"), ("v2", "2019-12-31")), 0),   # the earliest act selects; the other act differs
])
def test_acts_under_different_versions_are_refused_naming_each_act(dates, refused_at):
    from policy_engine.evaluate.engine import decide_governing
    c, as_of = _gov_case(*dates)
    with pytest.raises(CaseError) as exc:
        decide_governing(Registry.load(ROOT / "policies"), "gov-sanctions-law", "sanction", c, as_of, case_file="c.yaml")
    p = exc.value.problems[0]
    assert p.code == "case_invalid" and p.path == f"official.violations[{refused_at}].date"
    for i, d in dates:
        assert f"{i} ({d}: " in p.message
    assert "version 2020-07-01" in p.message and "before every encoded version" in p.message
    assert "第六十七条" in p.message and "one case for the acts of each version" in p.hint


def test_acts_all_under_one_version_are_judged_and_the_selecting_date_may_be_missing():
    from policy_engine.evaluate.engine import decide_governing
    registry = Registry.load(ROOT / "policies")
    c, as_of = _gov_case(("v1", "2020-07-01"), ("v2", "2023-12-31"))
    verdict, _ = decide_governing(registry, "gov-sanctions-law", "sanction", c, as_of)
    assert verdict.outcome == "demotion..removal_from_post" and verdict.version.version == "2020-07-01"
    c, as_of = _gov_case(("v1", "2020-06-30"), ("v2", "2023-12-31"))
    del c["violation"]
    with pytest.raises(CaseError) as exc:  # without the selecting date the acts must still agree
        decide_governing(registry, "gov-sanctions-law", "sanction", c, as_of)
    assert exc.value.problems[0].path == "official.violations[1].date"


@pytest.mark.parametrize("new,code,words", [
    ("    acts: official.violationz\n", "unknown_fact", ["official.violationz"]),
    ("    acts: official.case.decided_on\n", "schema", ["not events"]),
])
def test_mistakes_in_governing_version_acts_are_located(tmp_path, new, code, words):
    folder = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", folder)
    file = folder / "gov-sanctions-law" / "2020-07-01.yaml"
    text = file.read_text(encoding="utf-8")
    old = "    acts: official.violations\n"
    assert old in text
    file.write_text(text.replace(old, new, 1), encoding="utf-8")
    loaded, problems = check_policy(file)
    assert loaded is None
    hit = [p for p in problems if p.code == code and all(w in p.render() for w in words)]
    assert hit, [p.render() for p in problems]
    assert hit[0].line == text[: text.index(old)].count("\n") + 1


# -- an amount between bounds (range), checked against a proposal ---------------------------------

@pytest.mark.parametrize("words,side,read", [
    ("3000元以上", "low", (3000, "元", True)),
    ("5万元以下", "high", (50000, "元", True)),
    ("1.5万元以内", "high", (15000, "元", True)),
    ("不超过10万元", "high", (100000, "元", True)),
    ("超过3000元", "low", (3000, "元", False)),
    ("不满5万元", "high", (50000, "元", False)),
    ("3000元以下", "low", None),   # an upper bound's words where the lower is asked
    ("5万元以上", "high", None),
    ("五万元以下", "high", None),   # numbers in characters are not read: the problem says how to write it
])
def test_a_bound_is_read_from_the_laws_words(words, side, read):
    from policy_engine.policy.loader_accountability import read_bound
    assert read_bound(words, side) == read


def _bidding(**bidding):
    import yaml
    raw = yaml.safe_load((ROOT / "fixtures" / "bidding-law-regs" / "sanction" /
                          "property-accepted-article-72.yaml").read_text(encoding="utf-8"))
    raw["case"]["bidding"].update(bidding)
    return raw["case"], raw["as_of"]


@pytest.mark.parametrize("amount,within", [(3000, True), (2999, False), (50000, True), (50001, False), (0, False)])
def test_a_proposed_fine_is_checked_against_the_bounds_both_included(amount, within):
    p = Registry.load(ROOT / "policies").get("bidding-law-regs", "2019-03-02")
    c, as_of = _bidding(proposed_fine=amount)
    v = decide(p, "sanction", c, as_of)
    f = finding(v, "fined")
    values = dict(f.values)
    assert (values["range_min"], values["range_max"], values["unit"]) == (3000, 50000, "元")
    assert values["range_min_inclusive"] is True and values["range_max_inclusive"] is True
    assert values["range_words"] == ["3000元以上", "5万元以下"]
    assert (values["proposed"], values["within_range"]) == (amount, within)
    assert ("不在本条规定的范围内" in (f.note or "")) is (not within)
    text = render_verdict(v, p)
    assert "3000元以上、5万元以下（3000元至50000元，含本数）" in text
    assert f"拟定 {amount}元：" + ("在范围内" if within else "不在范围内") in text


def test_without_a_proposal_the_bounds_are_stated_and_nothing_is_missing():
    p = Registry.load(ROOT / "policies").get("bidding-law-regs", "2019-03-02")
    c, as_of = _bidding()
    v = decide(p, "sanction", c, as_of)
    values = dict(finding(v, "fined").values)
    assert "proposed" not in values and "within_range" not in values and v.missing_facts == ()


RANGE_OLD = "            group: all-measures-of-article-72\n            range:\n              from: 3000元以上\n"


@pytest.mark.parametrize("old,new,code,words", [
    ("              from: 3000元以上\n", "              from: 3000元\n", "schema", ["cannot read a lower bound", "3000元以上"]),
    ("              from: 3000元以上\n", "              from: 2000元以上\n", "quote_not_found", ["'2000元以上'"]),
    ("              to: 5万元以下\n", "              to: 5万美元以下\n", "quote_not_found", ["5万美元以下"]),
    ("              proposed: bidding.proposed_fine\n", "              proposed: bidding.proposed_fin\n", "unknown_fact",
     ["bidding.proposed_fin", "did you mean 'bidding.proposed_fine'"]),
    ("              proposed: bidding.proposed_fine\n", "              proposed: bidding.crime_constituted\n",
     "vocabulary", ["boolean fact", "integer"]),
])
def test_mistakes_in_a_range_are_located(tmp_path, old, new, code, words):
    folder = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", folder)
    file = folder / "bidding-law-regs" / "2019-03-02.yaml"
    text = file.read_text(encoding="utf-8")
    assert RANGE_OLD in text and old in text
    file.write_text(text.replace(old, new, 1), encoding="utf-8")
    loaded, problems = check_policy(file)
    assert loaded is None
    hit = [p for p in problems if p.code == code and all(w in p.render() for w in words)]
    assert hit, [p.render() for p in problems]
    assert hit[0].line == text[: text.index(old)].count("\n") + 1, hit[0].render()
