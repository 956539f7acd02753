"""Loose ends of the general format: how a text names itself (self_name), grade labels from
the policy, findings that do not apply, golden fixtures' article labels, rulings in every
evaluation (per person in apportion, in panel checks) and a draw's texts."""
import json
import shutil
from pathlib import Path

import pytest

from policy_engine import CaseError, Registry, decide
from policy_engine.evaluate.verdict import NOT_APPLICABLE, Finding
from policy_engine.policy.loader import check_policy
from policy_engine.report.golden import run_fixture
from policy_engine.report.render import render_verdict as render

ROOT = Path(__file__).resolve().parent.parent
CQ = "chongqing-petition-responsibility"


def _copy(tmp_path: Path, pid: str) -> Path:
    tree = tmp_path / "policies"
    shutil.copytree(ROOT / "policies" / "_shared", tree / "_shared")
    shutil.copytree(ROOT / "policies" / pid, tree / pid)
    return tree


def _edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= count, old
    path.write_text(text.replace(old, new, count), encoding="utf-8")


# -- self_name --------------------------------------------------------------------------------

def test_self_name_is_required_at_the_top_level(tmp_path):
    tree = _copy(tmp_path, "xj-iit-expert-pool")
    _edit(tree / "xj-iit-expert-pool" / "2025-04-21.yaml", "self_name: 本办法\n", "")
    policy, problems = check_policy(tree / "xj-iit-expert-pool" / "2025-04-21.yaml")
    assert policy is None and any("self_name" in p.message for p in problems)


def test_self_name_under_sanctions_is_refused(tmp_path):
    tree = _copy(tmp_path, "xj-iit-expert-pool")
    _edit(tree / "xj-iit-expert-pool" / "2025-04-21.yaml", "  sanctions:\n", "  sanctions:\n    self_name: 本办法\n")
    policy, problems = check_policy(tree / "xj-iit-expert-pool" / "2025-04-21.yaml")
    assert policy is None and any("self_name" in p.message for p in problems)


def test_self_name_must_be_how_the_text_names_itself(tmp_path):
    tree = _copy(tmp_path, "xj-iit-expert-pool")
    _edit(tree / "xj-iit-expert-pool" / "2025-04-21.yaml", "self_name: 本办法\n", "self_name: 本条例\n")
    policy, problems = check_policy(tree / "xj-iit-expert-pool" / "2025-04-21.yaml")
    assert policy is None
    found = [p for p in problems if p.path == "self_name"]
    assert found and "本条例" in found[0].message and found[0].line is not None


def test_the_no_sanction_sentence_names_the_text_as_it_names_itself():
    registry = Registry.load(ROOT / "policies")
    policy = registry.in_force(CQ, "2024-09-01")
    assert policy.self_name == "本細則"
    case = json.loads(Path(ROOT / "fixtures" / CQ / "sanction" / "no-ground-no-sanction.verdict.json")
                      .read_text(encoding="utf-8"))
    assert case["outcome"] == "none"
    from policy_engine.yamlio import read
    fixture = read(ROOT / "fixtures" / CQ / "sanction" / "no-ground-no-sanction.yaml").data
    text = render(decide(policy, "sanction", fixture["case"], fixture["as_of"]), policy)
    assert "结论：不追究责任（未认定本細則规定的追责情形）" in text
    assert "本办法" not in text


def test_a_deadline_with_no_rule_names_the_text_by_its_self_name(tmp_path):
    from policy_engine.evaluate.verdict import Verdict
    registry = Registry.load(ROOT / "policies")
    policy = registry.in_force("xj-iit-expert-pool", "2026-01-01")
    verdict = Verdict(policy=(policy.id, policy.version, policy.sha256), decision="deadline", as_of="2026-01-01",
                      outcome="not_applicable", findings=(), missing_facts=(), trace=(), errors=())
    assert "结论：本办法对该程序环节未规定期限" in render(verdict, policy)
    other = type(policy).__new__(type(policy))
    for name in type(policy).__slots__:
        object.__setattr__(other, name, getattr(policy, name))
    object.__setattr__(other, "self_name", "本条例")
    assert "结论：本条例对该程序环节未规定期限" in render(verdict, other)


# -- score grades -------------------------------------------------------------------------------

def test_a_grade_prints_as_the_policy_labels_it(tmp_path):
    tree = _copy(tmp_path, "xj-iit-expert-pool")
    path = tree / "xj-iit-expert-pool" / "2025-04-21.yaml"
    text = path.read_text(encoding="utf-8")
    assert "grade: good" in text
    registry = Registry.load(tree)
    policy = registry.in_force("xj-iit-expert-pool", "2026-11-20")
    from policy_engine.yamlio import read
    fixture = read(ROOT / "fixtures" / "xj-iit-expert-pool" / "score" / "good-83.yaml").data
    verdict = decide(policy, "score", fixture["case"], fixture["as_of"])
    band = next(b for b in policy.scoring.grade_bands if b.grade == verdict.outcome)
    assert f"结论：{band.label}（{verdict.outcome}）" in render(verdict, policy)
    # the grade's id is the policy's own: renamed, it is the outcome, and its label is printed
    _edit(path, "grade: good", "grade: second_best", text.count("grade: good"))
    _edit(path, "  import: [../_shared/expert-pool.vocab.yaml, ../_shared/accountability.vocab.yaml]\n",
          "  import: [../_shared/expert-pool.vocab.yaml, ../_shared/accountability.vocab.yaml]\n"
          "  extend:\n    evaluation.grade: {values: [second_best], description: 第二等}\n")
    policy = Registry.load(tree).in_force("xj-iit-expert-pool", "2026-11-20")
    renamed = decide(policy, "score", fixture["case"], fixture["as_of"])
    assert renamed.outcome == "second_best"
    assert f"结论：{band.label}（second_best）" in render(renamed, policy)
    from policy_engine.policy import schema
    from jsonschema import Draft202012Validator
    Draft202012Validator(json.loads((ROOT / "schemas" / "verdict.schema.json").read_text())).validate(
        json.loads(renamed.dumps()))
    assert schema is not None


# -- findings that do not apply -----------------------------------------------------------------

def test_a_finding_that_does_not_apply_carries_no_values():
    import dataclasses
    f = Finding("r", "applies", "mandatory", "第一条", "q", values=(("points", 3),))
    assert f.values == (("points", 3),)
    gone = dataclasses.replace(f, result=NOT_APPLICABLE)
    assert gone.values == () and "values" not in gone.to_json()
    assert Finding("r", NOT_APPLICABLE, "mandatory", "第一条", "q", values=(("x", 1),)).values == ()


def test_no_stored_verdict_shows_values_on_a_finding_that_does_not_apply():
    for golden in (ROOT / "fixtures").rglob("*.verdict.json"):
        data = json.loads(golden.read_text(encoding="utf-8"))
        for f in data.get("findings", ()):
            assert not (f["result"] == "not_applicable" and "values" in f), (golden, f["rule"])


# -- golden fixtures' article -------------------------------------------------------------------

@pytest.mark.parametrize("rel, wrong", [
    ("xin-county-iit-expert-pool/entry/special-industry-ten-years-eligible.yaml", "第六条第二款第（四）项"),
    ("chongqing-petition-responsibility/sanction/no-ground-no-sanction.yaml", "第十一条第一款"),
    ("xj-iit-expert-pool/panel/member-at-ten-reviews.yaml", "第十五条"),
    ("xj-iit-expert-pool/draw/" + "PLACEHOLDER", "第九十九条"),
    ("chifeng-decision-expert-pool/entry/ruling-on-mandatory-rule-rejected.yaml", "第七条第（二）项"),
])
def test_a_fixture_naming_an_article_its_verdict_does_not_cite_fails(tmp_path, rel, wrong):
    registry = Registry.load(ROOT / "policies")
    if rel.endswith("PLACEHOLDER"):
        rel = rel.replace("PLACEHOLDER", sorted(p.name for p in (ROOT / "fixtures" / rel).parent.glob("*.yaml"))[0])
    source = ROOT / "fixtures" / rel
    folder = tmp_path / Path(rel).parent
    folder.mkdir(parents=True)
    good = folder / source.name
    shutil.copy(source, good)
    for suffix in (".verdict.json", ".receipt.json", ".rejected.json"):
        golden = source.with_name(source.name[:-5] + suffix)
        if golden.exists():
            shutil.copy(golden, folder / golden.name)
    text = source.read_text(encoding="utf-8")
    if "pool:" in text:  # the pools are found from the fixture
        shutil.copytree(ROOT / "fixtures" / "pools", tmp_path / "pools")
    assert run_fixture(registry, good).ok, run_fixture(registry, good).message
    lines = text.splitlines(True)
    k = next(i for i, line in enumerate(lines) if line.startswith("article:"))
    lines[k] = f"article: {wrong}\n"
    good.write_text("".join(lines), encoding="utf-8")
    result = run_fixture(registry, good)
    assert not result.ok and "article" in result.message and wrong in result.message


# -- rulings in every evaluation ----------------------------------------------------------------

APPORTION_CASE = {"responsibility": {"kind": "collective", "people": [
    {"kind": "person", "date": "2024-03-05", "id": "王局长", "role": "main_leader", "took_part": True,
     "objected_and_overruled": True},
    {"kind": "person", "date": "2024-03-05", "id": "李副局长", "role": "responsible_leader", "took_part": True,
     "objected_and_overruled": False}]}}


def _hedged_apportionment(tmp_path):
    """The 011 apportionment with its objection exception made a relaxation (may_exempt): a hedge to rule on."""
    tree = _copy(tmp_path, CQ)
    path = tree / CQ / "2017-05-23.yaml"
    text = path.read_text(encoding="utf-8")
    at = text.index("      - id: collective-principal")
    end = text.index("effect: exempt", at)
    path.write_text(text[:end] + "effect: may_exempt" + text[end + len("effect: exempt"):], encoding="utf-8")
    return Registry.load(tree).in_force(CQ, "2024-09-01")


def _person(verdict, who):
    return next(f for f in verdict.findings if dict(f.values).get("person") == who)


def test_a_ruling_counts_for_each_person_apportioned(tmp_path):
    policy = _hedged_apportionment(tmp_path)
    plain = decide(policy, "apportion", APPORTION_CASE, "2024-09-01")
    wang = _person(plain, "王局长")
    assert wang.result == "assigned" and wang.exception and wang.exception[0] == "may_exempt" and wang.ruling is None
    ruling = {"rule": "collective-principal", "ruling": "waived", "date": "2024-08-01", "body": "县委"}
    waived = decide(policy, "apportion", {**APPORTION_CASE, "rulings": [ruling]}, "2024-09-01")
    wang = _person(waived, "王局长")
    assert wang.result == "exempt" and dict(wang.values)["responsibility"] == "none"
    assert wang.ruling is not None and wang.ruling.effect == "decides"
    li = _person(waived, "李副局长")  # no relaxation holds for him: the ruling does not open a closed rule
    assert li.result == "assigned" and li.ruling is not None and li.ruling.effect == "none"
    upheld = decide(policy, "apportion", {**APPORTION_CASE, "rulings": [{**ruling, "ruling": "upheld"}]},
                    "2024-09-01")
    wang = _person(upheld, "王局长")
    assert wang.result == "assigned" and wang.ruling.effect == "decides" and wang.ruling.ruling == "upheld"
    assert "裁定：县委于2024-08-01" in render(waived, policy)


def test_a_ruling_after_the_question_names_the_rule_and_its_article(tmp_path):
    policy = _hedged_apportionment(tmp_path)
    ruling = {"rule": "collective-principal", "ruling": "waived", "date": "2024-10-01", "body": "县委"}
    with pytest.raises(CaseError) as err:
        decide(policy, "apportion", {**APPORTION_CASE, "rulings": [ruling]}, "2024-09-01")
    assert "collective-principal" in str(err.value) and "第十一条第二款" in str(err.value)


def test_a_ruling_in_a_panel_request_closes_a_hedged_exclusion():
    registry = Registry.load(ROOT / "policies")
    from policy_engine.selection.panel import check_panel
    from policy_engine.selection.pool import load_pool
    from policy_engine.yamlio import read
    base = read(ROOT / "fixtures" / "xj-iit-expert-pool" / "panel" / "member-at-ten-reviews.yaml").data
    policy = registry.in_force("xj-iit-expert-pool", base["as_of"])
    pool = load_pool(ROOT / "fixtures" / "pools" / "xj-pool.csv", policy.vocabulary)
    assert check_panel(policy, pool, base["case"]).outcome == "needs_review"
    ruling = {"rule": "yearly-review-cap", "ruling": "waived", "date": "2026-11-18", "body": "自治区工业和信息化厅"}
    waived = check_panel(policy, pool, {**base["case"], "rulings": [ruling]})
    assert waived.outcome == "compliant"
    cap = next(f for f in waived.findings if f.rule == "yearly-review-cap")
    assert cap.result == "exempt" and dict(cap.values)["waived_for"] == ["E002"]
    upheld = check_panel(policy, pool, {**base["case"], "rulings": [{**ruling, "ruling": "upheld"}]})
    assert upheld.outcome == "non_compliant"
    from policy_engine.evaluate.rulings import hedged, policy_rules
    judged = {f.rule for f in waived.findings}
    other = next(rid for rid, rule in policy_rules(policy).items() if hedged(rule) and rid not in judged)
    with pytest.raises(CaseError) as err:  # a hedged rule the panel check does not judge
        check_panel(policy, pool, {**base["case"], "rulings": [{**ruling, "rule": other}]})
    assert "not judged by the panel question" in str(err.value)


# -- a draw's texts -----------------------------------------------------------------------------

def _receipt(pid: str, name: str | None, pool: str, change=None):
    from policy_engine.selection.draw import draw
    from policy_engine.selection.pool import load_pool
    from policy_engine.yamlio import read
    registry = Registry.load(ROOT / "policies")
    folder = ROOT / "fixtures" / pid / "draw"
    data = read(folder / f"{name}.yaml" if name else sorted(folder.glob("*.yaml"))[0]).data
    policy = registry.in_force(pid, data["as_of"])
    case = dict(data["case"])
    if change:
        change(case)
    receipt = draw(policy, load_pool(ROOT / "fixtures" / "pools" / pool, policy.vocabulary), case, data["seed"])
    from policy_engine.report.render import render_receipt
    return receipt, render_receipt(receipt, policy), policy


def test_a_draw_under_a_text_requiring_no_supervision_does_not_say_it_is_missing():
    receipt, text, policy = _receipt("guiyang-petition-expert-pool", "from-the-lawyer-sub-pool", "guiyang-pool.csv")
    mode = next(p for p in receipt.provisions if p.kind == "mode") if hasattr(receipt.provisions[0], "kind") else \
        receipt.provisions[0]
    assert "监督" not in mode.applied and "监督" not in text
    mode_title = policy.selection.mode("random").title
    assert text.splitlines()[1].startswith(f"抽取方式：{mode_title}（random）")


def test_a_draw_under_a_text_requiring_supervision_says_it_is_missing_in_the_receipt_too():
    receipt, text, _ = _receipt("xj-iit-expert-pool", None, "xj-pool.csv", lambda c: c.pop("supervisor", None))
    assert "未写明监督" in receipt.provisions[0].applied and "监督：（未写明）" in text.splitlines()[1]


def test_a_receipt_shows_the_facts_its_mode_requires_and_the_panel_facts_stated():
    receipt, text, policy = _receipt("xj-iit-expert-pool", None, "xj-pool.csv")
    need = policy.selection.mode("random").requires[0]
    line = next(x for x in text.splitlines() if x.startswith("本方式须载明："))
    assert need.cite.label in line and need.quote in line
    stated = receipt.to_json()["request"]["panel"][need.fact.split(".", 1)[1]]
    assert line.split("：")[2].startswith("是" if stated else "否")


def test_panel_facts_a_request_states_beyond_its_modes_requirements_are_shown():
    from policy_engine.report.render import _request_facts
    policy = Registry.load(ROOT / "policies").in_force("xj-iit-expert-pool", "2026-11-20")
    words = policy.vocabulary.facts["panel.approved"].description or "panel.approved"
    assert _request_facts({"panel": {"approved": True}}, policy, None) == [f"请求载明：{words}：是"]
    mode = policy.selection.mode("random")  # requires panel.approved: shown once, with its article
    lines = _request_facts({"panel": {"approved": False}}, policy, mode)
    assert len(lines) == 1 and lines[0].startswith("本方式须载明：") and "：否" in lines[0]


# -- an apportionment's responsibilities in the regulation's words --------------------------------

def test_a_responsibility_prints_in_the_words_its_rule_declares(tmp_path):
    registry = Registry.load(ROOT / "policies")
    policy = registry.in_force(CQ, "2024-09-01")
    assert dict(policy.apportionment.labels)["principal_leadership"] == "主要領導責任"
    case = {**APPORTION_CASE, "responsibility": {**APPORTION_CASE["responsibility"], "people": [
        {**p, "objected_and_overruled": False} for p in APPORTION_CASE["responsibility"]["people"]]}}
    text = render(decide(policy, "apportion", case, "2024-09-01"), policy)
    assert "王局长（领导班子主要负责人）：主要領導責任（第十一条第二款）" in text
    assert "responsibility = 主要領導責任" in text
    # the id is the policy's own: another id with the same words prints the same
    tree = _copy(tmp_path, CQ)
    _edit(tree / CQ / "2017-05-23.yaml", "assigns: principal_leadership", "assigns: chief")
    renamed = Registry.load(tree).in_force(CQ, "2024-09-01")
    verdict = decide(renamed, "apportion", case, "2024-09-01")
    assert dict(_person(verdict, "王局长").values)["responsibility"] == "chief"
    assert "王局长（领导班子主要负责人）：主要領導責任（第十一条第二款）" in render(verdict, renamed)


@pytest.mark.parametrize("old, new, words", [
    ("label: 主要領導責任", "label: 全部責任", "'全部責任' is not in the rule's quote"),
    ("label: 領導責任", "label: 主要領導責任", "labelled"),  # the same words for two responsibilities is allowed...
])
def test_a_responsibility_label_is_checked(tmp_path, old, new, words):
    tree = _copy(tmp_path, CQ)
    path = tree / CQ / "2017-05-23.yaml"
    if words == "labelled":  # ...but one responsibility takes one label
        _edit(path, "assigns: leadership\n        label: 領導責任", "assigns: principal_leadership\n        label: 領導責任")
    else:
        _edit(path, old, new)
    policy, problems = check_policy(path)
    assert policy is None and any(words in p.message and p.line for p in problems), [p.message for p in problems]


def test_a_ruling_counts_in_the_exit_trigger_an_evaluation_feeds(tmp_path):
    from policy_engine.yamlio import read
    pid = "xin-county-iit-expert-pool"
    tree = _copy(tmp_path, pid)
    path = next((tree / pid).glob("20*.yaml"))
    text = path.read_text(encoding="utf-8")
    at = text.index("    - id: two-poor-evaluations")
    end = text.index("strength: mandatory", at)
    path.write_text(text[:end] + "strength: generally" + text[end + len("strength: mandatory"):], encoding="utf-8")
    fixture = read(ROOT / "fixtures" / pid / "score" / "second-poor-in-term-exit-trigger.yaml").data
    policy = Registry.load(tree).in_force(pid, fixture["as_of"])
    plain = decide(policy, "score", fixture["case"], fixture["as_of"])
    assert next(f for f in plain.findings if f.rule == "two-poor-evaluations").result == "fired"
    ruling = {"rule": "two-poor-evaluations", "ruling": "waived", "date": fixture["as_of"], "body": "县工业和信息化局"}
    ruled = decide(policy, "score", {**fixture["case"], "rulings": [ruling]}, fixture["as_of"])
    feed = next(f for f in ruled.findings if f.rule == "two-poor-evaluations")
    assert feed.result == "exempt" and feed.ruling is not None and feed.ruling.effect == "decides"
