"""The facts of the case in draw and panel requests (`facts:`): validated as decide() validates a case,
read by panel rules, the mode's filters (where, applies_when), its requires and the recusal grounds,
three-valued (an unknown fact leaves the draw undetermined and names the fact), recorded in the
receipt and recomputed by verify-draw.

A short text written for these tests: a major-project rule that confines the draw to senior experts
(a filter the mode imposes only on a major project), a list the tenderer supplies for a major project
with the tenderer's approval, and a recusal ground comparing an expert's employer with the tenderer.
"""
import copy
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policy_engine import CaseError, Registry, check_panel, draw, load_pool, verify
from policy_engine.cli import main
from policy_engine.policy.loader import check_policy
from policy_engine.policy.vocabulary import check_case
from policy_engine.report.render import render_receipt
from policy_engine.yamlio import parse

ROOT = Path(__file__).resolve().parent.parent
SEED = "1c134b0f287924c3e6801407222ae21ce1b8ba9e7b4949121a894384476acd0c"

TEXT = """\
测试项目抽取办法

第一条 抽取评审专家，按所需人数的2倍抽取候选专家。

第二条 重大项目的评审专家仅从正高级专家中抽取。

第三条 重大项目经招标人同意，可以从招标人提供的名单中随机抽取。

第四条 专家是招标人的工作人员的，应当回避。

第五条 本办法自2026年1月1日起施行。
"""

POLICY = """\
id: facts-test
version: "2026-01-01"
title: 测试项目抽取办法
issuer: 测试
self_name: 本办法
document_number: null
in_force: {from: "2026-01-01", cite: {article: 5}, quote: 本办法自2026年1月1日起施行}
source: {file: source.txt, sha256: SHA, normalise: [whitespace]}
facts:
  import: [../_shared/expert-pool.vocab.yaml]
  declare:
    project.major: {type: boolean, description: 重大项目}
    project.tenderer: {type: string, description: 招标人（名称）}
    project.tenderer_consented: {type: boolean, description: 招标人同意从其提供的名单中抽取}
    project.opened: {type: date, not_after: as_of, description: 开标之日}
    panel.supplied_candidates: {type: list, items: string, description: 招标人提供的名单}
recusal:
  grounds:
    - id: tenderer-staff
      cite: {article: 4}
      quote: 专家是招标人的工作人员的，应当回避
      strength: mandatory
      when: expert.employer == project.tenderer
selection:
  modes:
    - id: ordinary
      method: random
      cite: {article: 1}
      quote: 抽取评审专家
      mandatory_filters:
        - id: senior-only
          cite: {article: 2}
          quote: 重大项目的评审专家仅从正高级专家中抽取
          applies_when: project.major
          min_title_rank: senior
    - id: supplied
      method: random
      cite: {article: 3}
      quote: 可以从招标人提供的名单中随机抽取
      requires:
        - fact: project.tenderer_consented
          cite: {article: 3}
          quote: 经招标人同意
        - fact: panel.supplied_candidates
          cite: {article: 3}
          quote: 招标人提供的名单
      mandatory_filters:
        - id: from-the-list
          cite: {article: 3}
          quote: 从招标人提供的名单中随机抽取
          where: expert.id in panel.supplied_candidates
  draw:
    candidates: {multiplier: 2, cite: {article: 1}, quote: 按所需人数的2倍抽取候选专家}
  panel:
    - id: list-only-for-a-major-project
      cite: {article: 3}
      quote: 重大项目经招标人同意
      strength: mandatory
      applies_when: panel.mode_id == 'supplied'
      require: project.major && project.tenderer_consented
"""

POOL = """\
id,name,title_rank,fields,employer
E01,甲,senior,建筑,甲公司
E02,乙,associate_senior,建筑,乙公司
E03,丙,senior,水利,丙公司
E04,丁,intermediate,建筑,丁公司
E05,戊,senior,建筑,招标公司
E06,己,senior,建筑,己公司
E07,庚,associate_senior,水利,庚公司
E08,辛,senior,建筑,辛公司
E09,壬,junior,建筑,壬公司
E10,癸,senior,建筑,招标公司
"""

ORDINARY = {"date": "2026-03-01", "mode": "ordinary", "count": 2,
            "facts": {"project": {"major": True, "tenderer": "招标公司"}}}
SUPPLIED = {"date": "2026-03-01", "mode": "supplied", "count": 1,
            "panel": {"supplied_candidates": ["E02", "E04", "E07"]},
            "facts": {"project": {"major": True, "tenderer_consented": True}}}


def _write(root: Path, text: str) -> Path:
    folder = root / "facts-test"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "source.txt").write_text(TEXT, encoding="utf-8")
    file = folder / "2026-01-01.yaml"
    file.write_text(text.replace("SHA", hashlib.sha256(TEXT.encode("utf-8")).hexdigest()), encoding="utf-8")
    return file


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("policies")
    shutil.copytree(ROOT / "policies" / "_shared", root / "_shared")
    _write(root, POLICY)
    (root / "pool.csv").write_text(POOL, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def registry(tree):
    return Registry.load(tree)


@pytest.fixture(scope="module")
def policy(registry):
    return registry.get("facts-test", "2026-01-01")


@pytest.fixture(scope="module")
def pool(policy, tree):
    return load_pool(tree / "pool.csv", policy.vocabulary)


def refused(call, *args, **kw):
    with pytest.raises(CaseError) as info:
        call(*args, **kw)
    return info.value.problems


# -- validation: as decide() validates a case ---------------------------------------------------------

@pytest.mark.parametrize("facts, path", [
    ({"project": {"majr": True}}, "facts.project.majr"),
    ({"project": {"major": "yes"}}, "facts.project.major"),
    ({"project": {"opened": "2026-02-30"}}, "facts.project.opened"),
    ({"project": {"opened": "2026-03-02"}}, "facts.project.opened"),  # after the request's date
    ({"project.major": 1}, "facts.project.major"),
    ({"project": "major"}, "facts.project"),
])
def test_the_facts_are_refused_with_the_messages_decide_gives(policy, pool, facts, path):
    request = {**ORDINARY, "facts": facts}
    for call, args in ((draw, (policy, pool, request, SEED)),
                       (check_panel, (policy, pool, {**request, "members": [{"id": "E01"}]}))):
        if call is check_panel:
            args[2].pop("count")
        problems = refused(call, *args)
        try:
            check_case(facts, policy.vocabulary, as_of=request["date"])
        except CaseError as exc:
            expected = exc.problems
        else:
            raise AssertionError("decide() accepts these facts")
        assert [(p.code, p.path, p.message, p.hint) for p in problems] == [
            ("request_invalid", f"facts.{p.path}", p.message, p.hint) for p in expected]
        assert problems[0].path == path


def test_an_unknown_fact_is_located_with_its_line_and_a_suggestion(policy, pool, tmp_path):
    path = tmp_path / "request.yaml"
    path.write_text("date: '2026-03-01'\nmode: ordinary\ncount: 2\nfacts:\n  project:\n    majr: true\n",
                    encoding="utf-8")
    problems = refused(draw, policy, pool, parse(path.read_text(encoding="utf-8"), str(path)), SEED)
    assert problems[0].file == str(path) and problems[0].line == 6 and problems[0].path == "facts.project.majr"
    assert "did you mean 'project.major'" in problems[0].hint


@pytest.mark.parametrize("facts, words", [
    ({"matter": {"id": "M1"}}, "under matter:"),
    ({"panel": {"approved": True}}, "under panel:"),
    ({"expert": {"title_rank": "senior"}}, "pool file"),
    ({"relation": {"other_impediment": True}}, "relations:"),
    ({"rulings": []}, "top level"),
])
def test_facts_stated_elsewhere_are_refused_with_where_they_go(policy, pool, facts, words):
    problems = refused(draw, policy, pool, {**ORDINARY, "facts": facts}, SEED)
    assert problems[0].code == "request_invalid" and problems[0].path.startswith("facts")
    assert words in problems[0].message + (problems[0].hint or "")


def test_the_command_line_refuses_bad_facts_without_a_traceback(tree, tmp_path):
    request = tmp_path / "request.yaml"
    request.write_text("date: '2026-03-01'\nmode: ordinary\ncount: 2\nfacts:\n  project:\n    major: maybe\n",
                       encoding="utf-8")
    result = CliRunner().invoke(main, ["draw", "--policies", str(tree), "--policy", "facts-test", "--pool",
                                       str(tree / "pool.csv"), "--request", str(request), "--seed", SEED])
    assert result.exit_code == 4 and "Traceback" not in result.output
    report = json.loads(result.output)
    first = report["problems"][0]
    assert report["error"] == "request_invalid" and first["line"] == 6 and first["path"] == "facts.project.major"


# -- mode conditions, three-valued ---------------------------------------------------------------------

def test_a_major_project_draws_seniors_only_and_another_project_draws_anyone(policy, pool, registry):
    major = draw(policy, pool, ORDINARY, SEED)
    assert major.outcome == "drawn"
    assert all(pool.by_id[e].facts["expert.title_rank"] == "senior" for e in major.selected + tuple(
        c.expert for g in major.groups for c in g.candidates))
    other = draw(policy, pool, {**ORDINARY, "facts": {"project": {"major": False, "tenderer": "招标公司"}}}, SEED)
    reasons = {r.rule for g in other.groups for e in g.excluded for r in e.reasons}
    assert "senior-only" not in reasons
    lifted = [p for p in other.provisions if p.name == "mandatory_filter"]
    assert len(lifted) == 1 and "不适用" in lifted[0].applied and "project.major" in lifted[0].applied
    # a request may go below the mode's rank only where the mode does not impose it
    lower = {"min_title_rank": "associate_senior"}
    assert draw(policy, pool, {**other_request(False), "filters": lower}, SEED).outcome == "drawn"
    problems = refused(draw, policy, pool, {**ORDINARY, "filters": lower}, SEED)
    assert problems[0].path == "filters.min_title_rank" and "senior-only" in problems[0].message
    for receipt in (major, other):
        assert verify(registry, pool, receipt.to_json()).ok


def other_request(major):
    return {**ORDINARY, "facts": {"project": {"major": major, "tenderer": "招标公司"}}}


def test_an_unstated_fact_leaves_the_draw_undetermined_and_names_it(policy, pool, registry):
    receipt = draw(policy, pool, {**ORDINARY, "facts": {"project": {"tenderer": "招标公司"}}}, SEED)
    assert receipt.outcome == "undetermined" and not receipt.groups and not receipt.selected
    out = receipt.to_json()
    assert out["missing_facts"] == ["project.major"]
    finding = next(f for f in out["findings"] if f["rule"] == "senior-only")
    assert finding["result"] == "unknown" and finding["missing_facts"] == ["project.major"]
    assert finding["cite"] == "第二条"
    assert "无法判断，缺少：重大项目（project.major）" in render_receipt(receipt, policy)
    assert verify(registry, pool, out).ok
    # the same without any facts: no facts block in the receipt
    bare = draw(policy, pool, {k: v for k, v in ORDINARY.items() if k != "facts"}, SEED).to_json()
    assert bare["outcome"] == "undetermined" and "facts" not in bare


def test_check_panel_finds_the_imposed_filter_unknown_or_not_applicable(policy, pool):
    panel = {"date": "2026-03-01", "mode": "ordinary", "members": [{"id": "E01"}, {"id": "E02"}],
             "facts": {"project": {"tenderer": "招标公司"}}}
    unknown = check_panel(policy, pool, panel)
    assert unknown.outcome == "undetermined" and unknown.missing_facts == ("project.major",)
    major = check_panel(policy, pool, {**panel, "facts": {"project": {"major": True, "tenderer": "招标公司"}}})
    found = next(f for f in major.findings if f.rule == "senior-only")
    assert major.outcome == "non_compliant" and dict(found.values)["members"] == ["E02"]
    other = check_panel(policy, pool, {**panel, "facts": {"project": {"major": False, "tenderer": "招标公司"}}})
    assert other.outcome == "compliant"
    assert next(f for f in other.findings if f.rule == "senior-only").result == "not_applicable"


def test_requires_and_panel_rules_read_the_projects_facts(policy, pool):
    receipt = draw(policy, pool, SUPPLIED, SEED)
    assert receipt.outcome == "drawn" and set(receipt.selected) <= {"E02", "E04", "E07"}
    problems = refused(draw, policy, pool, {**SUPPLIED, "facts": {"project": {"major": True}}}, SEED)
    assert problems[0].path == "facts" and "project.tenderer_consented" in problems[0].message
    assert "第三条" in problems[0].message and "project: {tenderer_consented: ...}" in problems[0].hint
    refusal = draw(policy, pool, {**SUPPLIED, "facts": {"project": {"major": False, "tenderer_consented": True}}}, SEED)
    assert refusal.outcome == "refused"
    assert next(f for f in refusal.findings if f.rule == "list-only-for-a-major-project").result == "failed"
    unsettled = draw(policy, pool, {**SUPPLIED, "facts": {"project": {"tenderer_consented": True}}}, SEED)
    assert unsettled.outcome == "undetermined" and unsettled.missing_facts == ("project.major",)
    # a rule that is unknown but fails anyway is a refusal, not an undetermined draw
    no = draw(policy, pool, {**SUPPLIED, "facts": {"project": {"tenderer_consented": False}}}, SEED)
    assert no.outcome == "refused"


def test_recusal_grounds_read_the_projects_facts(policy, pool):
    receipt = draw(policy, pool, ORDINARY, SEED)
    left_out = {e.expert for g in receipt.groups for e in g.excluded for r in e.reasons if r.rule == "tenderer-staff"}
    reached = {e.expert for g in receipt.groups for e in g.excluded} | {
        c.expert for g in receipt.groups for c in g.candidates}
    assert left_out == reached & {"E05", "E10"}
    assert not {"E05", "E10"} & set(receipt.selected)
    # without the tenderer's name the ground is unknown for every expert: confirmed at contact, never passed silently
    blind = draw(policy, pool, {**ORDINARY, "facts": {"project": {"major": True}}}, SEED)
    assert all(any(f.rule == "tenderer-staff" for f in c.to_confirm) for g in blind.groups for c in g.candidates)


# -- receipts and verification ----------------------------------------------------------------------

def test_the_receipt_records_the_facts_and_verify_catches_an_edit_of_them(policy, pool, registry):
    out = draw(policy, pool, ORDINARY, SEED).to_json()
    assert out["facts"] == {"project.major": True, "project.tenderer": "招标公司"}
    assert verify(registry, pool, out).ok
    for edit in (lambda r: r["request"]["facts"]["project"].update(tenderer="甲公司"),
                 lambda r: r["request"]["facts"]["project"].update(opened="2026-02-01"),
                 lambda r: r["facts"].update({"project.tenderer": "甲公司"}),
                 lambda r: r.pop("facts"),
                 lambda r: r["request"].pop("facts")):
        edited = copy.deepcopy(out)
        edit(edited)
        result = verify(registry, pool, edited)
        assert not result.ok and any(d.path.startswith("facts") for d in result.differences), result.differences


def test_old_receipts_without_facts_still_verify(tmp_path):
    registry = Registry.load()
    checked = 0
    for stored in sorted((ROOT / "fixtures").glob("*/draw/*.receipt.json")):
        receipt = json.loads(stored.read_text(encoding="utf-8"))
        if "facts" in receipt:
            continue
        source = stored.parent / stored.name.replace(".receipt.json", ".yaml")
        fixture = parse(source.read_text(encoding="utf-8"), str(source))
        policy = registry.get(receipt["policy"]["id"], receipt["policy"]["version"])
        pool = load_pool((stored.parent / fixture.data["pool"]).resolve(), policy.vocabulary)
        assert verify(registry, pool, receipt).ok, stored
        checked += 1
    assert checked >= 8


EDITS = st.one_of(st.booleans(), st.text(max_size=4), st.integers(-2, 2), st.none(), st.just("2026-02-01"))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(major=st.booleans(), tenderer=st.sampled_from(["招标公司", "甲公司"]), count=st.integers(1, 2),
       where=st.sampled_from(["request", "receipt"]), name=st.sampled_from(["major", "tenderer", "opened"]),
       value=EDITS)
def test_property_any_edit_of_the_facts_is_caught(policy, pool, registry, major, tenderer, count, where, name, value):
    out = draw(policy, pool, {**ORDINARY, "count": count, "facts": {"project": {"major": major, "tenderer": tenderer}}},
               SEED).to_json()
    assert verify(registry, pool, out).ok
    before = out["facts"].get(f"project.{name}")
    if value == before and type(value) is type(before):
        return
    edited = copy.deepcopy(out)
    if where == "request":
        edited["request"]["facts"]["project"][name] = value
    else:
        edited["facts"][f"project.{name}"] = value
    try:
        result = verify(registry, pool, edited)
    except CaseError as exc:
        assert exc.problems
        return
    assert not result.ok and result.differences


# -- mistakes in the policy are located ---------------------------------------------------------------

@pytest.mark.parametrize("old, new, code, words", [
    ("          applies_when: project.major\n", "          applies_when: expert.title_rank == 'senior'\n",
     "vocabulary", "where:"),
    ("          applies_when: project.major\n", "          applies_when: project.majr\n", "unknown_fact", "project.majr"),
    ("        - fact: project.tenderer_consented\n", "        - fact: expert.employer\n", "unknown_fact",
     "expert.employer"),
    ("        - fact: project.tenderer_consented\n", "        - fact: project.tenderer_consent\n", "unknown_fact",
     "project.tenderer_consented"),
])
def test_mistakes_with_the_projects_facts_are_located(tmp_path, old, new, code, words):
    root = tmp_path / "p"
    shutil.copytree(ROOT / "policies" / "_shared", root / "_shared")
    text = POLICY.replace(old, new, 1)
    assert text != POLICY
    file = _write(root, text)
    loaded, problems = check_policy(file)
    assert loaded is None and problems
    line = POLICY[: POLICY.index(old)].count("\n") + 1
    hit = [p for p in problems if words in p.message + (p.hint or "")]
    assert hit, problems
    assert hit[0].code == code and hit[0].line is not None and abs(hit[0].line - line) <= 1


def test_the_facts_command_names_the_request_facts_the_selection_reads(tree):
    text = CliRunner().invoke(main, ["facts", "--policies", str(tree), "--policy", "facts-test"]).output
    assert "under facts:" in text and "project.major, project.tenderer, project.tenderer_consented" in text
    schema = json.loads(CliRunner().invoke(main, ["facts", "--policies", str(tree), "--policy", "facts-test",
                                                  "--format", "schema"]).output)
    part = schema["$defs"]["request_facts"]
    assert "project" in part["properties"] and not {"rulings", "matter", "panel", "expert", "relation", "draw"} & set(
        part["properties"])
    assert part["properties"]["project"]["properties"]["major"]["type"] == "boolean"
    assert "project.major" in part["description"]


def test_a_requirement_with_a_condition_binds_only_where_it_holds():
    registry = Registry.load()
    bidding = registry.get("bidding-law-regs", "2019-03-02")
    pool = load_pool(ROOT / "fixtures" / "pools" / "bidding-pool.csv", bidding.vocabulary)
    request = {"date": "2026-04-20", "mode": "random", "count": 2, "supervisor": "市住房城乡建设局"}
    # 依法必须进行招标的项目: the relevant specialities must be stated (第四十六条第一款)
    problems = refused(draw, bidding, pool, {**request, "facts": {"bidding": {"tender_required_by_law": True}}}, SEED)
    assert problems[0].path == "matter" and "matter.required_fields" in problems[0].message
    assert "when bidding.tender_required_by_law" in problems[0].message
    # unknown whether it is one: still required, and the hint names the fact that would lift it
    problems = refused(draw, bidding, pool, request, SEED)
    assert "state bidding.tender_required_by_law" in problems[0].hint
    # another project: nothing to state, and no speciality imposed
    receipt = draw(bidding, pool, {**request, "facts": {"bidding": {"tender_required_by_law": False}}}, SEED)
    assert receipt.outcome == "drawn" and verify(registry, pool, receipt.to_json()).ok
    assert "（未载明；bidding.tender_required_by_law 时须载明）" in render_receipt(receipt, bidding)


def test_a_requirements_condition_may_not_read_an_experts_facts(tmp_path):
    root = tmp_path / "p"
    shutil.copytree(ROOT / "policies" / "_shared", root / "_shared")
    old = "        - fact: project.tenderer_consented\n"
    text = POLICY.replace(old, old + "          when: expert.title_rank == 'senior'\n", 1)
    loaded, problems = check_policy(_write(root, text))
    assert loaded is None
    hit = [p for p in problems if "expert.title_rank" in p.message]
    assert hit and hit[0].code == "vocabulary" and hit[0].line == POLICY[: POLICY.index(old)].count("\n") + 2
