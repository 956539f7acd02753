"""Draw and panel modes: per-mode draw provisions, filters a mode imposes, the mode id in panel
rules, and panel facts carried in draw requests.

Two policies are used in a temporary tree:
- the 招标投标法实施条例 as encoded in policies/bidding-law-regs (its 第四十六至四十八条): a random
  draw confined to 相关专业 (a filter the mode imposes on a matter fact the mode requires), the
  特殊招标项目 of 第四十七条 (a designated mode whose ground and finding are required facts), and
  the replacement of 第四十六条第二款/第四十八条第三款 (a random mode drawn with its reason and the
  sitting members carried in the request);
- a short text written for these tests that states a per-mode candidate multiple, a fixed number of
  backups, a redraw limit (两次抽取仍不足的), a senior-only mode and a mode drawing from a list the
  tenderer supplies and the office approves.
"""
import shutil
from pathlib import Path

import pytest

from policy_engine import CaseError, Registry, check_panel, draw, load_pool, verify
from policy_engine.policy.loader import check_policy
from policy_engine.yamlio import parse

ROOT = Path(__file__).resolve().parent.parent
BIDDING = ROOT / "policies" / "bidding-law-regs"
SEED = "1c134b0f287924c3e6801407222ae21ce1b8ba9e7b4949121a894384476acd0c"

SHORT_TEXT = """\
测试抽取办法

第一条 抽取评标专家，按所需人数的2倍抽取候选专家，按抽取顺序联系，不能参加的依次递补。名单用尽的，再次抽取。

第二条 重大项目的评审专家仅从正高级专家中抽取，按所需人数的3倍抽取候选专家，并确定候补专家2名。两次抽取仍不足的，由管理部门直接指定。

第三条 招标人提供两倍于所需人数的候选专家名单，经管理部门批准后，从名单中随机抽取。

第四条 本规定自2026年1月1日起施行。
"""

SHORT = """\
id: modes-test
version: "2026-01-01"
title: 测试抽取办法
issuer: 测试
self_name: 本规定
document_number: null
in_force: {from: "2026-01-01", cite: {article: 1}, quote: 抽取评标专家}
source: {file: source.txt, sha256: SHA, normalise: [whitespace]}
facts:
  import: [../_shared/expert-pool.vocab.yaml]
  declare:
    panel.supplied_candidates: {type: list, items: string, description: 招标人提供的候选专家名单}
selection:
  modes:
    - id: ordinary
      method: random
      cite: {article: 1}
      quote: 抽取评标专家
    - id: major
      title: 重大项目
      method: random
      cite: {article: 2}
      quote: 重大项目的评审专家仅从正高级专家中抽取
      mandatory_filters:
        - id: senior-only
          cite: {article: 2}
          quote: 仅从正高级专家中抽取
          min_title_rank: senior
      draw:
        candidates: {multiplier: 3, cite: {article: 2}, quote: 按所需人数的3倍抽取候选专家}
        backups: {count: 2, cite: {article: 2}, quote: 确定候补专家2名}
        redraw: {max_rounds: 2, cite: {article: 2}, quote: 两次抽取仍不足的}
        shortfall: {cite: {article: 2}, quote: 由管理部门直接指定}
    - id: supplied
      title: 招标人提供名单
      method: random
      cite: {article: 3}
      quote: 从名单中随机抽取
      requires:
        - fact: panel.supplied_candidates
          cite: {article: 3}
          quote: 招标人提供两倍于所需人数的候选专家名单
        - fact: panel.approved
          cite: {article: 3}
          quote: 经管理部门批准后
      mandatory_filters:
        - id: from-supplied-list
          cite: {article: 3}
          quote: 从名单中随机抽取
          where: expert.id in panel.supplied_candidates
      draw:
        candidates: {multiplier: 1, cite: {article: 3}, quote: 从名单中随机抽取}
  draw:
    candidates: {multiplier: 2, cite: {article: 1}, quote: 按所需人数的2倍抽取候选专家}
    contact: {cite: {article: 1}, quote: 按抽取顺序联系}
    replenish: {cite: {article: 1}, quote: 不能参加的依次递补}
    redraw: {cite: {article: 1}, quote: 名单用尽的，再次抽取}
  panel:
    - id: twice-the-candidates
      cite: {article: 3}
      quote: 招标人提供两倍于所需人数的候选专家名单
      strength: mandatory
      applies_when: panel.mode_id == 'supplied'
      require: size(panel.supplied_candidates) >= 2 * panel.size
    - id: supplied-list-approved
      cite: {article: 3}
      quote: 经管理部门批准后
      strength: mandatory
      applies_when: panel.mode_id == 'supplied'
      require: panel.approved
"""

POOL = """\
id,name,title_rank,fields
E01,甲,senior,建筑
E02,乙,associate_senior,建筑
E03,丙,senior,水利
E04,丁,intermediate,建筑
E05,戊,senior,建筑
E06,己,senior,建筑
E07,庚,associate_senior,水利
E08,辛,senior,建筑;水利
E09,壬,senior,建筑
E10,癸,junior,建筑
E11,子,senior,建筑
E12,丑,senior,建筑
"""


def _write(tree: Path, policy_id: str, version: str, text: str, source: str) -> Path:
    import hashlib
    folder = tree / policy_id
    folder.mkdir()
    (folder / "source.txt").write_text(source, encoding="utf-8")
    file = folder / f"{version}.yaml"
    file.write_text(text.replace("SHA", hashlib.sha256(source.encode("utf-8")).hexdigest()), encoding="utf-8")
    return file


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("policies")
    shutil.copytree(ROOT / "policies" / "_shared", root / "_shared")
    shutil.copytree(BIDDING, root / "bidding-law-regs")
    _write(root, "modes-test", "2026-01-01", SHORT, SHORT_TEXT)
    (root / "pool.csv").write_text(POOL, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def registry(tree):
    return Registry.load(tree)


@pytest.fixture(scope="module")
def bidding(registry):
    return registry.get("bidding-law-regs", "2019-03-02")


@pytest.fixture(scope="module")
def short(registry):
    return registry.get("modes-test", "2026-01-01")


def pool_for(policy, tree):
    return load_pool(tree / "pool.csv", policy.vocabulary)


def refused(call, *args, **kw):
    with pytest.raises(CaseError) as info:
        call(*args, **kw)
    return info.value.problems


# -- 招标投标法实施条例 第四十六至四十八条 ----------------------------------------------------------

BID = {"date": "2026-03-01", "mode": "random", "count": 3, "supervisor": "市住建局",
       "matter": {"required_fields": ["水利"]}, "facts": {"bidding": {"tender_required_by_law": True}}}


def test_the_random_mode_draws_only_from_the_relevant_speciality_though_the_request_sets_no_filter(bidding, registry, tree):
    pool = pool_for(bidding, tree)
    receipt = draw(bidding, pool, BID, SEED)
    assert receipt.outcome == "drawn"
    assert set(receipt.selected) == {"E03", "E07", "E08"}  # the only 水利 experts
    out = receipt.to_json()
    passed_over = [e for g in out["groups"] for e in g["excluded"]]
    assert passed_over and all(e["reasons"][0]["rule"] == "relevant-speciality"
                               and e["reasons"][0]["cite"] == "第四十六条第一款" for e in passed_over)
    assert any(p["provision"] == "mandatory_filter" and "relevant-speciality" in p["applied"] for p in out["provisions"])
    assert verify(registry, pool, out).ok


def test_a_random_draw_without_the_speciality_is_refused_at_matter(bidding, tree):
    problems = refused(draw, bidding, pool_for(bidding, tree), {**BID, "matter": {}}, SEED)
    assert problems[0].code == "request_invalid" and problems[0].path == "matter"
    assert "matter.required_fields" in problems[0].message and "第四十六条第一款" in problems[0].message


def test_the_special_project_is_checked_with_its_ground_and_the_mode_id(bidding, tree):
    pool = pool_for(bidding, tree)
    panel = {"date": "2026-03-01", "mode": "special-project", "members": [{"id": "E01"}, {"id": "E02"}, {"id": "E05"}],
             "facts": {"bidding": {"tender_required_by_law": True, "special_project_ground": "technically_complex",
                                   "random_draw_unsuitable": True}},
             "relations": {e: {"staff_of_supervising_department": False, "interest_with_bidder": False}
                           for e in ("E01", "E02", "E05")}}
    verdict = check_panel(bidding, pool, panel)
    assert verdict.outcome == "compliant"
    found = {f.rule: f.result for f in verdict.findings}
    assert found["special-project-ground"] == "passed" and found["replacement-on-lawful-ground"] == "not_applicable"
    unsuitable_not_found = {"bidding": {**panel["facts"]["bidding"], "random_draw_unsuitable": False}}
    assert check_panel(bidding, pool, {**panel, "facts": unsuitable_not_found}).outcome == "non_compliant"
    problems = refused(check_panel, bidding, pool, {**panel, "facts": {"bidding": {"random_draw_unsuitable": True}}})
    assert "bidding.special_project_ground" in problems[0].message and "第四十七条" in problems[0].message
    assert problems[0].path == "facts"
    assert "not drawn by lot" in refused(draw, bidding, pool, {**BID, "mode": "special-project"}, SEED)[0].message


def test_a_replacement_is_drawn_with_its_reason_and_never_redraws_a_sitting_member(bidding, registry, tree):
    pool = pool_for(bidding, tree)
    request = {**BID, "mode": "replacement", "count": 1, "matter": {"required_fields": ["建筑"]},
               "panel": {"replacement_reason": "health", "sitting_members": ["E01", "E02", "E05", "E06", "E09"]}}
    receipt = draw(bidding, pool, request, SEED)
    assert receipt.outcome == "drawn" and len(receipt.selected) == 1
    assert receipt.selected[0] not in {"E01", "E02", "E05", "E06", "E09"}
    reasons = {r["rule"] for g in receipt.to_json()["groups"] for e in g["excluded"] for r in e["reasons"]}
    assert reasons <= {"relevant-speciality", "not-sitting"}
    assert verify(registry, pool, receipt.to_json()).ok
    # the reason is judged by the panel rule that names the mode by id: no lawful ground, no draw
    bad = draw(bidding, pool, {**request, "panel": {**request["panel"], "replacement_reason": "none"}}, SEED)
    assert bad.outcome == "refused"
    assert next(f for f in bad.findings if f.rule == "replacement-on-lawful-ground").result == "failed"
    # a random draw is not a replacement: the same rule does not apply
    plain = draw(bidding, pool, BID, SEED)
    assert next(f for f in plain.findings if f.rule == "replacement-on-lawful-ground").result == "not_applicable"
    problems = refused(draw, bidding, pool, {**request, "panel": {"sitting_members": ["E01"]}}, SEED)
    assert problems[0].path == "panel" and "panel.replacement_reason" in problems[0].message


def test_computed_panel_facts_are_refused_in_a_draw_request(bidding, tree):
    pool = pool_for(bidding, tree)
    for name, value in (("mode_id", "random"), ("draw_supervised", True), ("size", 1)):
        problems = refused(draw, bidding, pool, {**BID, "panel": {name: value}}, SEED)
        assert problems[0].path == "panel" and f"panel.{name}" in problems[0].message


def test_an_unknown_mode_is_named_with_the_modes(bidding, tree, tmp_path):
    path = tmp_path / "request.yaml"
    path.write_text("date: '2026-03-01'\nmode: replacment\ncount: 1\n", encoding="utf-8")
    doc = parse(path.read_text(encoding="utf-8"), str(path))
    problems = refused(draw, bidding, pool_for(bidding, tree), doc, SEED)
    assert problems[0].line == 2 and "did you mean 'replacement'" in problems[0].hint


# -- per-mode provisions, imposed filters, supplied lists ---------------------------------------------

def test_a_mode_overrides_the_multiple_and_fixes_the_backups(short, registry, tree):
    pool = pool_for(short, tree)
    ordinary = draw(short, pool, {"date": "2026-03-01", "mode": "ordinary", "count": 2}, SEED)
    assert ordinary.groups[0].wanted == 4
    major = draw(short, pool, {"date": "2026-03-01", "mode": "major", "count": 2}, SEED)
    assert major.groups[0].wanted == 6 and len(major.backups) == 2
    assert all(pool.by_id[e].facts["expert.title_rank"] == "senior" for e in major.selected + major.backups)
    assert verify(registry, pool, major.to_json()).ok
    problems = refused(draw, short, pool, {"date": "2026-03-01", "mode": "major", "count": 2, "backups": 1}, SEED)
    assert problems[0].path == "backups" and "第二条" in problems[0].message


def test_the_senior_only_filter_applies_when_the_request_omits_it_and_a_lower_rank_is_refused(short, tree, tmp_path):
    pool = pool_for(short, tree)
    receipt = draw(short, pool, {"date": "2026-03-01", "mode": "major", "count": 1}, SEED)
    for g in receipt.to_json()["groups"]:
        for e in g["excluded"]:
            assert e["reasons"][0]["rule"] == "senior-only" and e["reasons"][0]["cite"] == "第二条"
            assert pool.by_id[e["expert"]].facts["expert.title_rank"] != "senior"
    # narrowing is allowed; widening is refused, located in the request file
    assert draw(short, pool, {"date": "2026-03-01", "mode": "major", "count": 1,
                              "filters": {"min_title_rank": "senior", "fields": ["建筑"]}}, SEED).outcome == "drawn"
    path = tmp_path / "major.yaml"
    path.write_text("date: '2026-03-01'\nmode: major\ncount: 1\nfilters:\n  min_title_rank: associate_senior\n",
                    encoding="utf-8")
    problems = refused(draw, short, pool, parse(path.read_text(encoding="utf-8"), str(path)), SEED)
    assert problems[0].path == "filters.min_title_rank" and problems[0].line == 5
    assert "senior-only" in problems[0].message


def test_the_redraw_limit_ends_in_a_shortfall(short, registry, tree):
    pool = pool_for(short, tree)
    first = draw(short, pool, {"date": "2026-03-01", "mode": "major", "count": 1}, SEED)
    seniors = [c.expert for c in first.groups[0].candidates]
    answers = {e: "declined" for e in seniors}
    second = draw(short, pool, {"date": "2026-03-01", "mode": "major", "count": 1, "answers": answers}, SEED)
    rounds = second.groups[0].rounds
    assert len(rounds) == 2 and second.outcome in ("drawn", "shortfall")
    everyone = {c.expert for c in second.groups[0].candidates}
    third = draw(short, pool, {"date": "2026-03-01", "mode": "major", "count": 1,
                               "answers": {e: "declined" for e in everyone}}, SEED)
    assert len(third.groups[0].rounds) == 2 and third.outcome == "shortfall"
    applied = {p.name: p.applied for p in third.provisions}
    assert "达到规定的上限" in applied["redraw"] and "shortfall" in applied
    # the policy-wide redraw has no limit: a third round follows
    declined: dict = {}
    for _ in range(2):
        plain = draw(short, pool, {"date": "2026-03-01", "mode": "ordinary", "count": 1, "answers": declined}, SEED)
        declined = {c.expert: "declined" for c in plain.groups[0].candidates}
    plain = draw(short, pool, {"date": "2026-03-01", "mode": "ordinary", "count": 1, "answers": declined}, SEED)
    assert len(plain.groups[0].rounds) == 3 and plain.outcome == "drawn"
    assert verify(registry, pool, third.to_json()).ok


def test_a_supplied_list_is_drawn_from_once_approved(short, registry, tree):
    pool = pool_for(short, tree)
    request = {"date": "2026-03-01", "mode": "supplied", "count": 2,
               "panel": {"supplied_candidates": ["E02", "E04", "E07", "E10"], "approved": True}}
    receipt = draw(short, pool, request, SEED)
    assert receipt.outcome == "drawn" and set(receipt.selected) <= {"E02", "E04", "E07", "E10"}
    from policy_engine.report.render import render_receipt
    text = render_receipt(receipt, short).splitlines()
    mode = short.selection.mode("supplied")
    assert text[1].startswith(f"抽取方式：{mode.title or mode.id}（supplied）")  # the mode's own title, not 随机抽取
    assert "监督" not in text[1] and all("未写明监督" not in p.applied for p in receipt.provisions)
    need = [line for line in text if line.startswith("本方式须载明：")]  # the facts the mode requires, with articles
    assert len(need) == 2 and "E02、E04、E07、E10" in need[0] and "第三条“招标人提供两倍于所需人数的候选专家名单”" in need[0]
    assert "：是" in need[1] and "第三条“经管理部门批准后”" in need[1]
    assert not any(line.startswith("请求载明：") for line in text)  # stated facts the mode requires are shown once
    assert receipt.groups[0].wanted == 2  # the mode's multiple 1, not the policy's 2
    assert verify(registry, pool, receipt.to_json()).ok
    short_list = draw(short, pool, {**request, "panel": {**request["panel"], "supplied_candidates": ["E02", "E04", "E07"]}},
                      SEED)
    assert short_list.outcome == "refused"
    assert next(f for f in short_list.findings if f.rule == "twice-the-candidates").result == "failed"
    assert draw(short, pool, {**request, "panel": {**request["panel"], "approved": False}}, SEED).outcome == "refused"
    problems = refused(draw, short, pool, {**request, "panel": {"supplied_candidates": ["E02"]}}, SEED)
    assert "panel.approved" in problems[0].message and "第三条" in problems[0].message


def test_check_panel_holds_members_to_the_modes_filter(short, tree):
    pool = pool_for(short, tree)
    verdict = check_panel(short, pool, {"date": "2026-03-01", "mode": "major",
                                        "members": [{"id": "E01"}, {"id": "E02"}, {"id": "E03"}]})
    finding = next(f for f in verdict.findings if f.rule == "senior-only")
    assert verdict.outcome == "non_compliant" and finding.result == "failed"
    assert dict(finding.values)["members"] == ["E02"]


# -- mistakes in the policy are located -----------------------------------------------------------

DESIGNATED_DRAW = "      draw:\n        candidates: {multiplier: 1"


@pytest.mark.parametrize("old, new, code, words", [
    ("          min_title_rank: senior\n", "          min_title_rank: senoir\n", "vocabulary", "senoir"),
    ("        - fact: panel.approved\n", "        - fact: panel.aproved\n", "unknown_fact", "panel.approved"),
    ("          where: expert.id in panel.supplied_candidates\n",
     "          where: expert.id in panel.supplied_candidate\n", "unknown_fact", "supplied_candidate"),
    ("      applies_when: panel.mode_id == 'supplied'\n      require: panel.approved\n",
     "      applies_when: panel.mode_id == 'suplied'\n      require: panel.approved\n", None, "suplied"),
    ("    - id: supplied\n      title: 招标人提供名单\n      method: random\n",
     "    - id: supplied\n      title: 招标人提供名单\n      method: designated\n", "schema", "draw"),
])
def test_mode_mistakes_are_located(tree, tmp_path, old, new, code, words):
    anchor = DESIGNATED_DRAW if code == "schema" else old
    root = tmp_path / "p"
    shutil.copytree(tree / "_shared", root / "_shared")
    text = SHORT.replace(old, new, 1)
    assert text != SHORT
    file = _write(root, "modes-test", "2026-01-01", text, SHORT_TEXT)
    policy, problems = check_policy(file)
    assert policy is None and problems
    line = SHORT[: SHORT.index(anchor)].count("\n") + 1
    hit = [p for p in problems if words in (p.message + (p.hint or ""))]
    assert hit, problems
    assert hit[0].line is not None and line - 1 <= hit[0].line <= line + 3
    if code:
        assert hit[0].code == code
