"""The engine's semantics: dates, counting, three-valued logic, cases, versions, determinism."""
import copy
import dataclasses
import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest

from policy_engine import CaseError, LookupFailure, Registry, decide
from policy_engine.evaluate.evaluate import all_of, any_of
from policy_engine.policy.expr import Unknown
from policy_engine.policy.functions import add_years, age_at, completed_years, date_in, max_run

ROOT = Path(__file__).resolve().parent.parent
XJ = "xj-iit-expert-pool"


@pytest.fixture(scope="module")
def registry():
    return Registry.load()


@pytest.fixture(scope="module")
def xj(registry):
    return registry.in_force(XJ, dt.date(2026, 11, 23))


def clean_expert(**overrides):
    expert = {
        "id": "E-1", "birth_date": "1970-06-01", "title_rank": "senior", "years_in_field": 12,
        "registered_qualification": False, "senior_management_expert": False, "recommended_by_employer": True,
        "records": {"academic_misconduct": False, "bad_credit": False, "misconduct": False},
        "attested": {k: True for k in ("political_standing", "familiar_with_field_rules", "field_expertise",
                                       "professional_ethics", "analytic_ability", "availability", "health")},
    }
    expert.update(overrides)
    return {"expert": expert}


# -- functions ---------------------------------------------------------------------------

@pytest.mark.parametrize("birth,on,age", [
    ("1956-11-23", "2026-11-22", 69),  # the day before the 70th birthday
    ("1956-11-23", "2026-11-23", 70),  # the birthday itself: 年满70周岁
    ("1956-02-29", "2026-02-27", 69),
    ("1956-02-29", "2026-02-28", 70),  # no 29 February in 2026: the month's last day (民法典第二百零二条)
    ("1956-02-29", "2028-02-28", 71),
    ("1956-02-29", "2028-02-29", 72),
])
def test_age_at(birth, on, age):
    assert age_at(birth, on) == age


def test_years_and_anniversaries():
    assert add_years("2023-06-01", 3) == "2026-06-01"
    assert add_years("2024-02-29", 1) == "2025-02-28"
    assert completed_years("2026-01-01", "2025-01-01") == -1
    assert date_in("2026-06-01", "2023-06-01", "2026-06-01") and not date_in("2026-06-02", "2023-06-01", "2026-06-01")


def test_max_run():
    assert max_run([]) == 0
    assert max_run([True, True, False, True, True, True]) == 3
    assert max_run([True, False, True, False, True]) == 1
    with pytest.raises(ValueError):
        max_run([1, 2])


def test_three_valued_logic():
    u = Unknown(("expert.x",))
    assert any_of([u, True]) is True  # unknown or true is true
    assert all_of([u, False]) is False  # unknown and false is false
    assert isinstance(any_of([u, False]), Unknown) and isinstance(all_of([u, True]), Unknown)
    assert any_of([False, False]) is False and all_of([True, True]) is True
    with pytest.raises(TypeError):
        bool(u)


# -- decisions over the 004 policy ---------------------------------------------------------

def test_eligible_and_deterministic(xj):
    a = decide(xj, "entry", clean_expert(), "2026-11-23")
    b = decide(xj, "entry", clean_expert(), dt.date(2026, 11, 23))
    assert a.outcome == "eligible" and a.dumps() == b.dumps()
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.outcome = "ineligible"


def test_missing_facts_make_undetermined_and_are_named(xj):
    case = clean_expert()
    del case["expert"]["recommended_by_employer"]
    v = decide(xj, "entry", case, "2026-11-23")
    assert v.outcome == "undetermined"
    assert v.missing_facts == ("expert.recommended_by_employer",)


def test_mandatory_failure_decides_despite_unknowns(xj):
    case = clean_expert(recommended_by_employer=False)
    del case["expert"]["birth_date"]
    v = decide(xj, "entry", case, "2026-11-23")
    assert v.outcome == "ineligible"
    assert "expert.birth_date" in v.missing_facts


def test_true_alternative_absorbs_a_missing_one(xj):
    case = clean_expert(years_in_field=10)
    del case["expert"]["title_rank"], case["expert"]["registered_qualification"]
    v = decide(xj, "entry", case, "2026-11-23")
    assert v.outcome == "eligible" and v.missing_facts == ()


def test_generally_miss_needs_review(xj):
    v = decide(xj, "entry", clean_expert(birth_date="1960-11-23"), "2026-11-23")
    age = [f for f in v.findings if f.rule == "age"][0]
    assert v.outcome == "needs_review" and age.result == "failed" and dict(age.values)["age"] == 66


def test_exception_exempts(xj):
    v = decide(xj, "entry", clean_expert(title_rank="none", years_in_field=3, senior_management_expert=True), "2026-11-23")
    f = [f for f in v.findings if f.rule == "title-or-experience"][0]
    assert f.result == "exempt" and f.exception[2] == "从事行业管理的高级管理专家除外" and v.outcome == "eligible"


def test_consecutive_runs_count_in_date_order(xj):
    # listed out of order: sorted by date, the three no-replies are consecutive
    events = [{"kind": "invitation", "date": d, "response": "no_timely_reply"} for d in ("2026-03-01", "2026-01-01", "2026-02-01")]
    case = clean_expert(events=events)
    v = decide(xj, "exit", case, "2026-11-23")
    f = [f for f in v.findings if f.rule == "unanswered-invitations"][0]
    assert f.result == "fired" and dict(f.values)["longest_run"] == 3
    events.insert(0, {"kind": "invitation", "date": "2026-01-15", "response": "accepted", "attendance": "attended"})
    v = decide(xj, "exit", clean_expert(events=events), "2026-11-23")
    assert [f for f in v.findings if f.rule == "unanswered-invitations"][0].result == "not_fired"


def test_missing_event_field_is_unknown_and_named(xj):
    events = [{"kind": "invitation", "date": "2026-01-01", "response": "accepted"}]
    v = decide(xj, "exit", clean_expert(events=events), "2026-11-23")
    f = [f for f in v.findings if f.rule == "absent-after-accepting"][0]
    assert f.result == "unknown" and f.missing_facts == ("expert.events[].attendance",)


# -- bad cases ------------------------------------------------------------------------------

@pytest.mark.parametrize("expert,path,words", [
    ({"birth_date": "sixty"}, "expert.birth_date", "YYYY-MM-DD"),
    ({"birth_date": "1960-02-30"}, "expert.birth_date", "YYYY-MM-DD"),
    ({"years_in_field": "eight"}, "expert.years_in_field", "whole number"),
    ({"years_in_field": True}, "expert.years_in_field", "whole number"),
    ({"title_rank": "seniour"}, "expert.title_rank", "did you mean 'senior'"),
    ({"recommended_by_employer": "yes"}, "expert.recommended_by_employer", "true or false"),
    ({"birth_dat": "1960-01-01"}, "expert.birth_dat", "did you mean 'expert.birth_date'"),
    ({"events": [{"kind": "invitation", "date": "2026-01-01"}]}, "expert.events[0].response", "needs 'response'"),
    ({"events": [{"kind": "meeting", "date": "2026-01-01"}]}, "expert.events[0].kind", "not one of"),
    ({"events": [{"kind": "invitation", "date": "2026-01-01", "response": "accepted", "atendance": "absent"}]},
     "expert.events[0].atendance", "did you mean 'attendance'"),
])
def test_bad_case_is_rejected_with_the_path(xj, expert, path, words):
    with pytest.raises(CaseError) as info:
        decide(xj, "entry", {"expert": expert}, "2026-11-23")
    rendered = str(info.value)
    assert any(p.path == path for p in info.value.problems), rendered
    assert words in rendered


def test_case_must_be_a_mapping(xj):
    with pytest.raises(CaseError):
        decide(xj, "entry", ["expert"], "2026-11-23")


def test_dotted_case_equals_nested(xj):
    nested = clean_expert()
    flat = {"expert.birth_date": "1970-06-01", **{k: v for k, v in nested.items() if k != "expert"}}
    flat["expert"] = {k: v for k, v in nested["expert"].items() if k != "birth_date"}
    assert decide(xj, "entry", flat, "2026-11-23").dumps() == decide(xj, "entry", nested, "2026-11-23").dumps()


# -- versions and windows --------------------------------------------------------------------

def test_last_day_in_force_and_the_day_after(registry):
    assert registry.in_force(XJ, dt.date(2027, 5, 20)).version == "2025-04-21"
    with pytest.raises(LookupFailure) as info:
        registry.in_force(XJ, dt.date(2027, 5, 21))
    assert info.value.code == "not_in_force" and "2025-04-21 to 2027-05-20" in str(info.value)
    with pytest.raises(LookupFailure):
        registry.in_force(XJ, dt.date(2025, 4, 20))


def test_in_force_accepts_text_dates(registry):
    assert registry.in_force(XJ, "2026-07-01").version == "2025-04-21"
    with pytest.raises(CaseError):
        registry.in_force(XJ, "01/07/2026")


def test_decide_refuses_a_version_not_in_force(xj):
    with pytest.raises(LookupFailure) as info:
        decide(xj, "entry", clean_expert(), "2027-05-21")
    assert info.value.code == "not_in_force"


def test_unknown_policy_suggests(registry):
    with pytest.raises(LookupFailure) as info:
        registry.versions("xj-iit-expert-poo")
    assert info.value.code == "unknown_policy" and "did you mean 'xj-iit-expert-pool'" in str(info.value)


def test_unsupported_decision(xj):
    with pytest.raises(LookupFailure) as info:
        decide(xj, "gate", clean_expert(), "2026-11-23")
    assert info.value.code == "unsupported_decision"


def test_policy_digest_covers_the_policy_the_facts_it_reads_and_the_calendar_it_counts_with(xj, registry):
    import hashlib
    from policy_engine.policy.loader import facts_read
    from policy_engine.policy.vocabulary import canonical_facts

    def framed(*parts):
        digest = hashlib.sha256(b"policy-engine policy digest 2\n")
        for label, data in parts:
            digest.update(label + b" " + str(len(data)).encode() + b"\n" + data)
        return digest.hexdigest()

    read = facts_read(xj)
    assert {"expert.birth_date", "step.kind", "expert.title_rank"} <= read and "expert.name" not in read
    assert xj.sha256 == framed((b"policy", (ROOT / "policies" / XJ / "2025-04-21.yaml").read_bytes()),
                               (b"calendar", (ROOT / "policies" / "_shared" / "cn-workdays.calendar.yaml").read_bytes()),
                               (b"facts read", canonical_facts(xj.vocabulary, read)))  # 004 counts working days
    gy = registry.in_force("guiyang-petition-expert-pool", "2026-11-23")  # counts calendar days only
    assert gy.sha256 == framed((b"policy", (ROOT / "policies" / "guiyang-petition-expert-pool" / "2020-01-01.yaml").read_bytes()),
                               (b"facts read", canonical_facts(gy.vocabulary, facts_read(gy))))


def test_every_golden_verdict_matches_the_published_schema():
    schema = json.loads((ROOT / "schemas" / "verdict.schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    files = list((ROOT / "fixtures").rglob("*.verdict.json"))
    assert files
    for f in files:
        errors = list(validator.iter_errors(json.loads(f.read_text(encoding="utf-8"))))
        assert not errors, (f, errors[0].message)


def test_the_case_is_not_modified(xj):
    case = clean_expert(events=[{"kind": "invitation", "date": "2026-03-01", "response": "no_timely_reply"},
                                {"kind": "invitation", "date": "2026-01-01", "response": "no_timely_reply"}])
    before = copy.deepcopy(case)
    decide(xj, "exit", case, "2026-11-23")
    assert case == before


@pytest.mark.parametrize("name", ["policy", "vocabulary", "verdict", "fixture", "calendar", "draw-request",
                                  "panel-request", "receipt", "accountability.case"])
def test_every_schema_property_is_described(name):
    """Editors show descriptions on hover: every property of the published schemas has one."""
    schema = json.loads((ROOT / "schemas" / f"{name}.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    missing = []

    def walk(node, path):
        if isinstance(node, dict):
            for key, value in (node.get("properties") or {}).items():
                if isinstance(value, dict) and "description" not in value:
                    missing.append(f"{path}.{key}")
            for key, value in node.items():
                walk(value, f"{path}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")
    walk(schema, name)
    assert not missing


def test_every_policy_file_carries_the_schema_modeline():
    for f in (ROOT / "policies").rglob("*.yaml"):
        first = f.read_text(encoding="utf-8").splitlines()[0]
        kind = ("vocabulary" if f.name.endswith(".vocab.yaml") else
                "calendar" if f.name.endswith(".calendar.yaml") else "policy")
        assert first == f"# yaml-language-server: $schema=../../schemas/{kind}.schema.json", f


def test_chongqing_before_it_took_effect_and_without_pool_rules(registry):
    """003 answers accountability questions only: it has no pool, so no entry, exit or recusal."""
    cq = "chongqing-petition-responsibility"
    with pytest.raises(LookupFailure) as info:
        registry.in_force(cq, dt.date(2017, 5, 22))
    assert info.value.code == "not_in_force" and "2017-05-23" in str(info.value)
    policy = registry.in_force(cq, dt.date(2017, 5, 23))
    assert policy.decisions() == ("sanction", "apportion", "applies")
    with pytest.raises(LookupFailure) as info:
        decide(policy, "entry", {}, "2020-01-01")
    assert info.value.code == "unsupported_decision"
    assert [(s.cite.label, s.applies) for s in policy.scope] == [
        ("第二条第一款", "directly"), ("第二条第二款", "directly"), ("第二条第三款", "by_reference")]
    assert policy.scope[2].quote.startswith("國有和國有控股企業參照本細則執行")  # kept in Traditional script


# -- an unknown exception that cannot change the result -----------------------------------------

@pytest.mark.parametrize("strength, effect, expected", [
    ("generally", "may_exempt", "failed"),  # relaxable or not, a 一般 rule failed is for review: settled
    ("discretionary", "may_exempt", "failed"),
    ("mandatory", "may_exempt", "unknown"),  # relaxable (review) or not (ineligible): not settled
    ("generally", "exempt", "unknown"),  # set aside or failed: not settled
])
def test_an_unknown_exception_keeps_the_result_unknown_only_where_it_could_change_it(registry, strength, effect,
                                                                                         expected):
    from policy_engine.evaluate.evaluate import Run, judge
    from policy_engine.policy.expr import bind
    policy = registry.in_force("guiyang-petition-expert-pool", dt.date(2022, 9, 20))
    rule = [r for r in policy.criteria if r.id == "age"][0]
    assert rule.strength == "generally" and rule.unless[0].effect == "may_exempt"
    rule = dataclasses.replace(rule, strength=strength,
                               unless=(dataclasses.replace(rule.unless[0], effect=effect),))
    facts = {"expert.birth_date": "1954-02-14"}
    for outstanding, result in ((None, expected), (True, "exempt" if effect == "exempt" else "failed"),
                                (False, "failed")):
        present = dict(facts, **({} if outstanding is None else {"expert.attested.other_conditions_outstanding":
                                                                  outstanding}))
        run = Run(bind(present, policy.vocabulary.facts, "2022-09-20"), present, "2022-09-20")
        finding = judge(rule, run, "criterion")
        assert finding.result == result, (outstanding, finding)
        if outstanding is None and result == "unknown":
            assert finding.missing_facts == ("expert.attested.other_conditions_outstanding",)
        if outstanding is None and result == "failed":
            assert finding.missing_facts == () and finding.exception is None
            assert any(s.part == "unless[0]" and isinstance(s.value, Unknown) for s in run.trace)
