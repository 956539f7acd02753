"""Accountability and evaluation: the sanction ladder, apportionment, score sheets and gates.

Golden cases pin whole verdicts; these tests check the properties behind them: the heaviest
level wins and an unknown heavier level undetermines; a removal measure agrees with the exit
decision; a score is rejected naming its item; an evaluation feeds the exit decision in the
shared event format; and the published case schema describes the cases the engine accepts.
"""
import copy
import functools
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from policy_engine import CaseError, Registry, decide
from policy_engine.report.case_schema import case_schema, vocabulary_case_schema
from policy_engine.errors import CODES
from policy_engine.report.golden import run_fixture

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
CQ, CF, XJ, XC = ("chongqing-petition-responsibility", "chifeng-decision-expert-pool", "xj-iit-expert-pool",
                  "xin-county-iit-expert-pool")
GROUNDS = ["harmful_decision", "mishandled_matters", "mass_discipline", "incident_mishandled", "recommendations_ignored",
           "falsification", "concealment", "complaint_leaked", "other_failure"]


@functools.lru_cache(maxsize=None)
def _registry():
    return Registry.load()


@pytest.fixture(scope="module")
def registry():
    return _registry()


@functools.lru_cache(maxsize=None)
def _fixtures(decision):
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return tuple((f, yaml.load(f.read_text(encoding="utf-8"), Loader=loader))
                 for f in sorted(FIXTURES.glob(f"*/{decision}/*.yaml")))


def fixtures(policy=None, decision=None):
    """(file, fixture) pairs of one decision (deep copies: tests may change them)."""
    return [(f, copy.deepcopy(d)) for f, d in _fixtures(decision) if policy is None or d["policy"] == policy]


def person_case(subject="staff", severity="minor", history=(), **acc):
    return {"accountability": {"subject": subject, "severity": severity, "history": list(history),
                               "discipline_due": False, "suspected_crime": False, "found_in_daily_work": False, **acc},
            "petition": {"grounds": {g: g == "falsification" for g in GROUNDS}}}


def measures(verdict):
    return {f.rule: f for f in verdict.findings if f.result in ("applies", "not_available", "unknown")}


# -- the sanction ladder -----------------------------------------------------------------------

@pytest.mark.parametrize("severity,history,outcome", [
    ("minor", [], "notice"),
    ("serious", [], "admonishment"),
    ("especially_serious", [], "organisational_handling"),
    # escalation by history, whatever the severity of the ground itself
    ("minor", [{"kind": "notice", "date": "2024-01-02", "deadline": "2024-03-01", "rectification": "not_done"}],
     "admonishment"),
    ("minor", [{"kind": "notice", "date": "2024-01-02", "deadline": "2024-03-01", "rectification": "on_time"}], "notice"),
    ("minor", [{"kind": "admonishment", "date": "2024-01-02", "deadline": "2024-03-01", "rectification": "late"}],
     "organisational_handling"),
    ("minor", [{"kind": "admonishment", "date": "2024-01-02", "deadline": "2024-03-01", "rectification": "on_time"}],
     "notice"),
    # a heavier level's history is unknown: the lighter level that holds does not decide
    ("minor", [{"kind": "admonishment", "date": "2024-01-02", "deadline": "2024-03-01"}], "undetermined"),
])
def test_the_heaviest_level_that_holds_applies(registry, severity, history, outcome):
    policy = registry.in_force(CQ, "2024-04-01")
    v = decide(policy, "sanction", person_case(severity=severity, history=history), "2024-04-01")
    assert v.outcome == outcome


def test_no_ground_no_level_even_when_severe(registry):
    policy = registry.in_force(CQ, "2024-04-01")
    case = person_case(severity="especially_serious")
    case["petition"]["grounds"]["falsification"] = False
    v = decide(policy, "sanction", case, "2024-04-01")
    assert v.outcome == "none" and not measures(v)


def test_escalation_by_history_needs_no_new_ground(registry):
    """第十四条 first branch: not rectified after a 通报 escalates even with no ground found anew."""
    policy = registry.in_force(CQ, "2024-04-01")
    case = person_case(history=[{"kind": "notice", "date": "2024-01-02", "deadline": "2024-03-01",
                                 "rectification": "not_done"}])
    case["petition"]["grounds"] = {g: False for g in GROUNDS}
    assert decide(policy, "sanction", case, "2024-04-01").outcome == "admonishment"


def test_organ_and_person_ladders_do_not_mix(registry):
    policy = registry.in_force(CQ, "2024-04-01")
    v = decide(policy, "sanction", person_case(subject="organ", severity="especially_serious"), "2024-04-01")
    assert v.outcome == "organ_accountability"
    assert set(measures(v)) >= {"written-self-examination", "organ-criticism"}
    assert not {"suspension", "notice-given", "admonishment-given"} & set(measures(v))
    assert all(m.strength == "discretionary" for k, m in measures(v).items()
               if k in ("written-self-examination", "organ-criticism"))


def test_measures_keep_the_articles_force(registry):
    policy = registry.in_force(CQ, "2024-04-01")
    v = decide(policy, "sanction", person_case(severity="especially_serious", discipline_due=True), "2024-04-01")
    m = measures(v)
    # 第十五条: the level is mandatory, the measure among 停职检查 ... 免职 the body's choice
    assert {m[k].strength for k in ("suspension", "reassignment", "ordered-resignation", "demotion",
                                    "removal-from-post")} == {"discretionary"}
    assert m["discipline"].result == "applies" and m["discipline"].strength == "mandatory"  # 第十六条 beside it
    assert m["discipline"].cite == "第十六条"


@functools.lru_cache(maxsize=None)
def _removal_findings():
    registry = _registry()
    out = []
    for f, data in fixtures(decision="sanction"):
        policy = registry.in_force(data["policy"], data["as_of"])
        removal = {m.id for lv in policy.sanctions.levels for m in lv.measures if m.removes_expert}
        v = decide(policy, "sanction", data["case"], data["as_of"])
        for finding in v.findings:
            if finding.rule in removal:
                out.append((f, data, finding))
    return tuple(out)


def removal_findings():
    """A parameter (fixture, removal finding) per sanction golden whose level has a removal measure."""
    return [pytest.param(data, finding, id=f"{data['policy']}/{f.stem}") for f, data, finding in _removal_findings()]


@pytest.mark.parametrize("data,removal", removal_findings())
def test_a_removal_agrees_with_the_exit_decision(registry, data, removal):
    """A sanction that removes an expert agrees with that policy's exit decision on the same facts."""
    policy = registry.in_force(data["policy"], data["as_of"])
    exit_ = decide(policy, "exit", data["case"], data["as_of"]).outcome
    expected = {"exit": ("applies", "mandatory"), "may_exit": ("applies", "discretionary"),
                "undetermined": ("unknown", "discretionary"), "retain": ("not_available", "discretionary"),
                "lapsed": ("not_available", "discretionary")}[exit_]
    assert (removal.result, removal.strength) == expected, exit_


def test_every_outcome_of_the_exit_decision_is_exercised_by_a_removal(registry):
    seen = set()
    for _, data, _ in _removal_findings():
        policy = registry.in_force(data["policy"], data["as_of"])
        seen.add(decide(policy, "exit", data["case"], data["as_of"]).outcome)
    assert seen == {"exit", "may_exit", "undetermined", "retain", "lapsed"}


def test_a_discretionary_level_lists_measures_for_the_body_to_choose(registry):
    policy = registry.in_force(XC, "2025-09-01")
    case = {"accountability": {"subject": "unit"},
            "unit": {"audit_untrue": True, "major_impact_on_review": True, "serious_dishonesty": False}}
    v = decide(policy, "sanction", case, "2025-09-01")
    m = measures(v)
    assert v.outcome == "unit_handling"
    assert [m[k].strength for k in ("criticism-education", "unit-criticism-notice", "recommendation-right-withdrawn")] \
        == ["discretionary"] * 3


# -- apportionment -------------------------------------------------------------------------------

def test_one_finding_per_person_with_the_assigning_sentence(registry):
    policy = registry.in_force(CQ, "2024-09-01")
    people = [{"kind": "person", "date": "2024-03-05", "id": f"P{i}", "role": role, "took_part": True,
               "objected_and_overruled": objected}
              for i, (role, objected) in enumerate([("main_leader", False), ("member", True), ("member", False)])]
    v = decide(policy, "apportion", {"responsibility": {"kind": "collective", "people": people}}, "2024-09-01")
    got = {dict(f.values)["person"]: (f.result, dict(f.values).get("responsibility")) for f in v.findings}
    assert got == {"P0": ("assigned", "principal_leadership"), "P1": ("exempt", "none"),
                   "P2": ("assigned", "important_leadership")}
    exempt = [f for f in v.findings if f.result == "exempt"][0]
    assert exempt.exception[2] == "對錯誤決策或者行為提出明確反對意見而沒有被采納的,不承擔領導責任"


def test_a_persons_missing_field_is_named_by_the_person(registry):
    policy = registry.in_force(CQ, "2024-09-01")
    people = [{"kind": "person", "date": "2024-03-06", "id": "甲", "role": "member", "took_part": True},
              {"kind": "person", "date": "2024-03-05", "id": "乙", "role": "staff"}]
    v = decide(policy, "apportion", {"responsibility": {"kind": "collective", "people": people}}, "2024-09-01")
    assert v.outcome == "undetermined"
    assert v.missing_facts == ("responsibility.people[甲].objected_and_overruled",)


# -- score sheets -------------------------------------------------------------------------------

SHEET = {"knowledge": 9, "problem_solving": 8, "technical_guidance": 7, "work_quality": 17, "application_effect": 8,
         "innovation": 6, "compliance": 9, "confidentiality": 10, "collaboration": 4, "integrity": 5}


@pytest.mark.parametrize("item,maximum", [("knowledge", 10), ("problem_solving", 10), ("technical_guidance", 10),
                                          ("work_quality", 20), ("application_effect", 10), ("innovation", 10),
                                          ("compliance", 10), ("confidentiality", 10), ("collaboration", 5),
                                          ("integrity", 5)])
def test_each_item_is_bounded_by_its_own_maximum(registry, item, maximum):
    policy = registry.in_force(XJ, "2026-03-16")
    at_max = dict(SHEET, **{item: maximum})
    assert decide(policy, "score", {"evaluation": {"scores": at_max}}, "2026-03-16").outcome in ("good", "excellent")
    with pytest.raises(CaseError) as info:
        decide(policy, "score", {"evaluation": {"scores": dict(SHEET, **{item: maximum + 1})}}, "2026-03-16")
    assert [p.path for p in info.value.problems] == [f"evaluation.scores.{item}"]
    assert f"（{maximum}分）" in info.value.problems[0].message


def test_every_missing_item_is_named(registry):
    policy = registry.in_force(XJ, "2026-03-16")
    with pytest.raises(CaseError) as info:
        decide(policy, "score", {"evaluation": {"scores": {"knowledge": 9}}}, "2026-03-16")
    assert len(info.value.problems) == 9 and info.value.exit_code == 4


def test_grade_bands_at_every_boundary(registry):
    policy = registry.in_force(XJ, "2026-03-16")
    sheet = policy.scoring
    for low, high, grade in [(0, 59, "fail"), (60, 79, "pass"), (80, 89, "good"), (90, 100, "excellent")]:
        for total in (low, high):
            scores, left = {}, total
            for item in sheet.items:  # fill items greedily up to the total
                scores[item.fact.split(".")[-1]] = min(item.max, left)
                left -= scores[item.fact.split(".")[-1]]
            v = decide(policy, "score", {"evaluation": {"scores": scores, "total": total}}, "2026-03-16")
            assert v.outcome == grade, total


def test_an_evaluation_feeds_the_exit_decision_in_the_shared_event_format(registry):
    """001: the event the score verdict carries, added to expert.events, gives the exit trigger the same answer."""
    policy = registry.in_force(XC, "2026-03-20")
    fed = 0
    for _, data in fixtures(XC, "score"):
        if data["expect"] in CODES:
            continue
        v = decide(policy, "score", data["case"], data["as_of"])
        grade = [f for f in v.findings if f.rule == "grade"][0]
        feed = [f for f in v.findings if f.rule == "two-poor-evaluations"][0]
        event = dict(grade.values).get("event")
        if event is None:
            assert feed.result == "unknown"
            continue
        case = copy.deepcopy(data["case"])
        case["expert"]["events"] = case["expert"].get("events", []) + [event]
        exit_verdict = decide(policy, "exit", case, data["as_of"])
        trigger = [f for f in exit_verdict.findings if f.rule == "two-poor-evaluations"][0]
        assert (trigger.result, trigger.values) == (feed.result, feed.values)
        fed += 1
    assert fed >= 5


def test_a_grade_the_policy_does_not_have_is_rejected(registry):
    policy = registry.in_force(XC, "2026-03-20")
    with pytest.raises(CaseError) as info:
        decide(policy, "score", {"evaluation": {"grade": "pass", "date": "2026-03-10"}}, "2026-03-20")
    assert info.value.problems[0].path == "evaluation.grade" and "poor (差)" in info.value.problems[0].hint


# -- gates ----------------------------------------------------------------------------------------

def test_a_blocked_gate_lists_every_unmet_requirement(registry):
    policy = registry.in_force(CF, "2026-09-20")
    case = {"proposal": {"professional_technical": True, "next_step": "legality_review"},
            "argumentation": {"mode": "group", "group_leader_named": False, "report_in_time": True,
                              "report_signed_by_all": False, "materials_submitted": False, "adoption_explained": True,
                              "covers": {k: True for k in ("necessity", "soundness", "feasibility", "risks",
                                                           "suggestions", "other_necessary")},
                              "opinions": []}}
    v = decide(policy, "gate", case, "2026-09-20")
    assert v.outcome == "blocked"
    assert [f.rule for f in v.findings if f.result == "failed"] == ["group-leader", "group-report", "materials-submitted"]


# -- golden runner: rejected inputs -----------------------------------------------------------------

def test_a_rejected_fixture_must_be_rejected_for_the_quoted_item(registry, tmp_path):
    source = FIXTURES / XJ / "score" / "item-over-maximum-rejected.yaml"
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(dict(data, quote="1.专业知识储备（10分）"), allow_unicode=True))
    assert "not in the error" in run_fixture(registry, tmp_path / "a.yaml", update=True).message
    accepted = copy.deepcopy(data)
    accepted["case"]["evaluation"]["scores"]["work_quality"] = 17
    accepted["case"]["evaluation"]["total"] = 83
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(accepted, allow_unicode=True))
    result = run_fixture(registry, tmp_path / "b.yaml", update=True)
    assert not result.ok and "expects the input to be rejected" in result.message


def test_rejected_goldens_name_the_path_and_no_file():
    files = list(FIXTURES.rglob("*.rejected.json"))
    assert len(files) >= 6
    for f in files:
        stored = json.loads(f.read_text(encoding="utf-8"))
        assert stored["error"] in CODES
        assert all("file" not in p for p in stored["problems"]), f
        if stored["error"] == "case_invalid":  # a refused case names the fact (a date out of window names none)
            assert all(p["path"] for p in stored["problems"]), f


# -- coverage of the issue's articles -------------------------------------------------------------

@pytest.mark.parametrize("policy,decision,articles", [
    (CQ, "sanction", ["第十一条第一款", "第十二条第一款", "第十二条第二款", "第十三条", "第十四条", "第十五条", "第十六条",
                      "第十七条第二款", "第十八条"]),
    (CQ, "apportion", ["第十一条第二款"]),
    (CF, "sanction", ["第二十二条第一款", "第二十二条第二款"]),
    (CF, "gate", ["第四条第一款", "第十六条第二款", "第十六条第三款", "第十六条第四款", "第十六条第五款", "第十八条第（四）项",
                  "第十九条第一款", "第十九条第二款"]),
    (XJ, "sanction", ["第十九条", "第十九条第（一）项", "第十九条第（二）项"]),
    (XJ, "score", ["附表3"]),
    (XC, "sanction", ["第十八条"]),
    (XC, "score", ["第十六条", "第九条第（一）项"]),
])
def test_every_article_of_the_issue_has_a_golden_case(policy, decision, articles):
    have = {data["article"] for _, data in fixtures(policy, decision)}
    # a fixture names the finding's exact label (第十一条第一款第（九）项 exercises 第十一条第一款)
    assert not {a for a in articles if not any(h == a or h.startswith(a + "第") for h in have)}


def test_the_named_cases_exist():
    names = {f"{d['policy']}/{d['decision']}/{f.stem}": d["expect"]
             for decision in ("sanction", "apportion", "score") for f, d in fixtures(decision=decision)}
    assert names[f"{CQ}/sanction/minor-escalated-twice-organisational-handling"] == "organisational_handling"
    assert names[f"{CQ}/sanction/especially-serious-first-case-organisational-handling"] == "organisational_handling"
    assert names[f"{CQ}/apportion/collective-objector-exempt"] == "apportioned"
    assert names[f"{CQ}/sanction/organ-written-self-examination-or-criticism"] == "organ_accountability"
    assert names[f"{XJ}/score/item-over-maximum-rejected"] == "case_invalid"


# -- the published case schema --------------------------------------------------------------------

def test_the_published_case_schema_is_generated_from_the_vocabulary():
    published = json.loads((ROOT / "schemas" / "accountability.case.schema.json").read_text(encoding="utf-8"))
    assert published == vocabulary_case_schema(ROOT / "policies" / "_shared" / "accountability.vocab.yaml"), \
        "regenerate: python3 -m policy_engine.report.case_schema policies/_shared/accountability.vocab.yaml " \
        "> schemas/accountability.case.schema.json"


@pytest.mark.parametrize("decision", ["sanction", "apportion", "score", "gate"])
def test_every_golden_case_matches_its_policys_case_schema(registry, decision):
    checked = 0
    for f, data in fixtures(decision=decision):
        policy = registry.in_force(data["policy"], data["as_of"])
        schema = case_schema(policy.vocabulary.facts, "urn:test", "test")
        validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
        errors = [e.message for e in validator.iter_errors(data["case"])]
        assert not errors, (f, errors)
        checked += 1
    assert checked >= 8


def test_the_case_schema_refuses_what_the_engine_refuses(registry):
    policy = registry.in_force(CQ, "2024-04-01")
    schema = case_schema(policy.vocabulary.facts, "urn:test", "test")
    bad = {"accountability": {"subject": "minister", "history": [{"kind": "notice", "date": "2024-01-01"}]}}
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(bad))
    assert len(errors) == 2
    with pytest.raises(CaseError) as info:
        decide(policy, "sanction", bad, "2024-04-01")
    assert {p.path for p in info.value.problems} == {"accountability.subject", "accountability.history[0].deadline"}
