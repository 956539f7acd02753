"""The office's ruling on a hedged rule, the version chosen by the date of the act, and terms
that renew themselves: on a small two-version test policy written here (no real text of
the five says 到期自动续聘, and none has two versions yet), besides the golden cases of the
real policies (fixtures/chifeng-decision-expert-pool/{entry,exit}/ruling-*, term-cap-*).
"""
import hashlib
import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from policy_engine import CaseError, LookupFailure, Registry, decide, decide_governing
from policy_engine.cli import main
from policy_engine.policy.loader import check_policy

ROOT = Path(__file__).resolve().parent.parent

SOURCE_OLD = """测试专家管理办法（旧）
第一条 专家聘期为2年。
第二条 专家与事项有利害关系的，应当回避；与当事人有同学关系的，可以回避。
第三条 专家一般应当具有中级以上职称。
第四条 本办法自2010年1月1日起施行。
"""
SOURCE_NEW = """测试专家管理办法
第一条 专家聘期为2年，聘期届满自动续聘，本人书面提出不再续聘的除外。
第二条 专家与事项有利害关系的，可以回避。
第三条 专家一般应当具有中级以上职称。
第四条 本办法施行前发生的行为，适用当时的规定；但是本办法不认为是违规或者处理较轻的，适用本办法。
第五条 本办法自2020年1月1日起施行。
"""

POLICY = """\
id: test-versions
version: "{version}"
title: 测试专家管理办法
issuer: 测试
self_name: 本办法
in_force:
  from: "{start}"
  until: {until}
  cite: {{article: {in_force_article}}}
  quote: {in_force_quote}
source:
  file: {source}
  sha256: {sha}
  normalise: [whitespace]
facts:
  import: [../_shared/expert-pool.vocab.yaml]
  declare:
    matter.act_date: {{type: date, description: 行为发生之日}}
    expert.declined_renewal: {{type: boolean, description: 本人书面提出不再续聘}}
    relation.classmate: {{type: boolean, description: 与当事人有同学关系}}
    matter.closed_before_new_law: {{type: boolean, description: 本办法施行前已结案、现需复审复核}}
entry:
  criteria:
    - id: title
      cite: {{article: 3}}
      quote: 专家一般应当具有中级以上职称
      strength: generally
      require: expert.title_rank in ['intermediate', 'associate_senior', 'senior']
exit:
  term:
    cite: {{article: 1}}
    quote: 专家聘期为2年
    ends: add_years(expert.term_start, 2)
{renews}recusal:
  grounds:
{grounds}{governing}"""

OLD_GROUNDS = """\
    - id: interest
      cite: {article: 2}
      quote: 专家与事项有利害关系的，应当回避
      strength: mandatory
      when: relation.interest_affects_impartiality
    - id: classmate
      cite: {article: 2}
      quote: 与当事人有同学关系的，可以回避
      strength: discretionary
      when: relation.classmate
"""
NEW_GROUNDS = """\
    - id: interest
      cite: {article: 2}
      quote: 专家与事项有利害关系的，可以回避
      strength: discretionary
      when: relation.interest_affects_impartiality
"""
RENEWS = """\
    renews:
      cite: {article: 1}
      quote: 聘期届满自动续聘，本人书面提出不再续聘的除外
      years: 2
      stops_when: expert.declined_renewal
"""
GOVERNING = """\
governing_version:
  - decision: recusal
    selected_by: matter.act_date
    rule: {rule}
    cite: {{article: 4}}
    quote: 本办法施行前发生的行为，适用当时的规定；但是本办法不认为是违规或者处理较轻的，适用本办法
"""


def _write(tree: Path, *, rule: str = "lighter", old: bool = True, new: bool = True, switch: bool = False) -> Path:
    folder = tree / "test-versions"
    folder.mkdir(parents=True, exist_ok=True)
    (tree / "_shared").mkdir(exist_ok=True)
    for name in ("expert-pool.vocab.yaml", "cn-workdays.calendar.yaml"):
        (tree / "_shared" / name).write_bytes((ROOT / "policies" / "_shared" / name).read_bytes())
    if old:
        (folder / "old.txt").write_text(SOURCE_OLD, encoding="utf-8")
        (folder / "2010-01-01.yaml").write_text(POLICY.format(
            version="2010-01-01", start="2010-01-01", until='"2019-12-31"', in_force_article=4,
            in_force_quote="本办法自2010年1月1日起施行", source="old.txt",
            sha=hashlib.sha256(SOURCE_OLD.encode()).hexdigest(), renews="", grounds=OLD_GROUNDS, governing=""),
            encoding="utf-8")
    if new:
        (folder / "new.txt").write_text(SOURCE_NEW, encoding="utf-8")
        (folder / "2020-01-01.yaml").write_text(POLICY.format(
            version="2020-01-01", start="2020-01-01", until="null", in_force_article=5,
            in_force_quote="本办法自2020年1月1日起施行", source="new.txt",
            sha=hashlib.sha256(SOURCE_NEW.encode()).hexdigest(), renews=RENEWS, grounds=NEW_GROUNDS,
            governing=GOVERNING.format(rule=rule)
            + ("    in_force_when: matter.closed_before_new_law\n" if switch else "")), encoding="utf-8")
    return tree


@pytest.fixture
def tree(tmp_path):
    return _write(tmp_path)


# -- the version by the date of the act ----------------------------------------------------------

def test_the_test_policy_loads(tree):
    registry = Registry.load(tree)
    assert [p.version for p in registry.versions("test-versions")] == ["2020-01-01", "2010-01-01"]
    assert registry.in_force("test-versions", "2021-01-01").version_rule("recusal").rule == "lighter"


def test_the_old_law_governs_an_earlier_act_unless_the_new_is_lighter(tree):
    registry = Registry.load(tree)
    case = {"matter": {"act_date": "2019-12-31"}, "relation": {"interest_affects_impartiality": True}}
    verdict, policy = decide_governing(registry, "test-versions", "recusal", case, "2021-03-01")
    # old: 应当回避 (must_recuse); new: 可以回避 (may_recuse): the new law is lighter and applies
    assert verdict.outcome == "may_recuse" and policy.version == "2020-01-01"
    v = verdict.to_json()["version"]
    assert v["selected_by"] == "matter.act_date" and v["date"] == "2019-12-31" and v["rule"] == "lighter"
    assert v["considered"] == ["2010-01-01", "2020-01-01"] and v["version"] == "2020-01-01"
    assert v["cite"] == "第四条" and v["quote"].startswith("本办法施行前发生的行为")
    assert verdict.as_of == "2021-03-01"  # the date of the question stays the date of the question


def test_the_old_law_stays_where_the_new_is_not_lighter(tree):
    registry = Registry.load(tree)
    case = {"matter": {"act_date": "2015-06-01"},
            "relation": {"interest_affects_impartiality": False, "classmate": False}}
    verdict, policy = decide_governing(registry, "test-versions", "recusal", case, "2021-03-01")
    assert verdict.outcome == "none" and policy.version == "2010-01-01"  # equal severity: 从旧
    assert verdict.policy[1] == "2010-01-01" and verdict.version is not None
    assert verdict.version.version == "2010-01-01"


def test_a_new_law_that_no_longer_treats_the_act_as_a_ground_applies(tree):
    """The new law drops 同学关系 (可以回避): an earlier act of that kind is judged under it (none)."""
    registry = Registry.load(tree)
    case = {"matter": {"act_date": "2015-06-01"},
            "relation": {"interest_affects_impartiality": False, "classmate": True}}
    verdict, policy = decide_governing(registry, "test-versions", "recusal", case, "2021-03-01")
    assert verdict.outcome == "none" and policy.version == "2020-01-01"
    old = registry.get("test-versions", "2010-01-01")
    assert decide(old, "recusal", case, "2021-03-01", in_force_on="2015-06-01").outcome == "may_recuse"


def test_an_act_after_the_new_law_takes_effect_uses_it_alone(tree):
    registry = Registry.load(tree)
    case = {"matter": {"act_date": "2020-01-01"}, "relation": {"interest_affects_impartiality": True}}
    verdict, policy = decide_governing(registry, "test-versions", "recusal", case, "2021-03-01")
    assert verdict.outcome == "may_recuse" and verdict.version.considered == ("2020-01-01",)


def test_an_act_before_every_encoded_version_is_not_decided_by_the_new_law(tmp_path):
    registry = Registry.load(_write(tmp_path, old=False))
    case = {"matter": {"act_date": "2009-05-01"}, "relation": {"interest_affects_impartiality": True}}
    verdict, _ = decide_governing(registry, "test-versions", "recusal", case, "2021-03-01")
    assert verdict.outcome == "undetermined"
    v = verdict.to_json()["version"]
    assert v["governing"] == "earlier_law" and v["ceiling"] == "may_recuse" and "2009-05-01" in v["note"]


def test_rule_in_force_refuses_an_act_before_every_version(tmp_path):
    registry = Registry.load(_write(tmp_path, rule="in_force", old=False))
    case = {"matter": {"act_date": "2009-05-01"}, "relation": {"interest_affects_impartiality": True}}
    with pytest.raises(LookupFailure) as err:
        decide_governing(registry, "test-versions", "recusal", case, "2021-03-01")
    assert "2009-05-01" in str(err.value.problems[0].message)


def test_rule_in_force_uses_the_old_law_even_when_heavier(tmp_path):
    registry = Registry.load(_write(tmp_path, rule="in_force"))
    case = {"matter": {"act_date": "2019-12-31"}, "relation": {"interest_affects_impartiality": True}}
    verdict, policy = decide_governing(registry, "test-versions", "recusal", case, "2021-03-01")
    assert verdict.outcome == "must_recuse" and policy.version == "2010-01-01"
    assert verdict.version.rule == "in_force"


def test_in_force_when_keeps_the_old_law_alone(tmp_path):
    """政务处分法第六十七条: 已结案的案件如果需要复审、复核，适用当时的规定 (even where the new law is lighter)."""
    registry = Registry.load(_write(tmp_path, switch=True))
    case = {"matter": {"act_date": "2019-12-31", "closed_before_new_law": True},
            "relation": {"interest_affects_impartiality": True}}
    verdict, policy = decide_governing(registry, "test-versions", "recusal", case, "2021-03-01")
    assert verdict.outcome == "must_recuse" and policy.version == "2010-01-01" and verdict.version.rule == "in_force"
    case["matter"]["closed_before_new_law"] = False
    assert decide_governing(registry, "test-versions", "recusal", case, "2021-03-01")[0].outcome == "may_recuse"
    del case["matter"]["closed_before_new_law"]
    verdict, _ = decide_governing(registry, "test-versions", "recusal", case, "2021-03-01")
    assert verdict.outcome == "undetermined" and "matter.closed_before_new_law" in verdict.missing_facts
    case["relation"] = {"interest_affects_impartiality": False, "classmate": False}  # both: none
    assert decide_governing(registry, "test-versions", "recusal", case, "2021-03-01")[0].outcome == "none"
    case["matter"]["closed_before_new_law"] = "yes"
    with pytest.raises(CaseError) as err:
        decide_governing(registry, "test-versions", "recusal", case, "2021-03-01")
    assert err.value.problems[0].path == "matter.closed_before_new_law"


def test_an_unknown_act_date_is_a_missing_fact(tree):
    registry = Registry.load(tree)
    case = {"relation": {"interest_affects_impartiality": True}}
    verdict, _ = decide_governing(registry, "test-versions", "recusal", case, "2021-03-01")
    assert verdict.outcome == "undetermined" and "matter.act_date" in verdict.missing_facts
    assert verdict.version.governing == "unknown" and verdict.version.ceiling == "may_recuse"


def test_an_unknown_old_result_is_not_compared(tree):
    registry = Registry.load(tree)
    case = {"matter": {"act_date": "2015-06-01"}}
    verdict, _ = decide_governing(registry, "test-versions", "recusal", case, "2021-03-01")
    assert verdict.outcome == "undetermined"


def test_an_act_date_after_the_question_is_a_located_case_error(tree):
    registry = Registry.load(tree)
    with pytest.raises(CaseError) as err:
        decide_governing(registry, "test-versions", "recusal", {"matter": {"act_date": "2022-01-01"}}, "2021-03-01")
    assert err.value.problems[0].path == "matter.act_date"


def test_a_decision_without_a_severity_order_cannot_take_the_lighter_law(tmp_path):
    tree = _write(tmp_path)
    file = tree / "test-versions" / "2020-01-01.yaml"
    file.write_text(file.read_text(encoding="utf-8").replace("  - decision: recusal", "  - decision: entry"),
                    encoding="utf-8")
    registry = Registry.load(tree)
    with pytest.raises(LookupFailure) as err:
        decide_governing(registry, "test-versions", "entry", {"matter": {"act_date": "2015-01-01"}}, "2021-03-01")
    assert "severity" in err.value.problems[0].message


def test_decide_itself_stays_pinned_to_the_version_given(tree):
    registry = Registry.load(tree)
    old = registry.get("test-versions", "2010-01-01")
    with pytest.raises(LookupFailure):
        decide(old, "recusal", {}, "2021-03-01")
    assert decide(old, "recusal", {"relation": {"interest_affects_impartiality": True}}, "2021-03-01",
                  in_force_on="2015-01-01").outcome == "must_recuse"


@pytest.mark.parametrize("old,new,code,words", [
    ("selected_by: matter.act_date", "selected_by: matter.act_dat", "unknown_fact", ["matter.act_dat"]),
    ("selected_by: matter.act_date", "selected_by: expert.declined_renewal", "schema", ["boolean", "not a date"]),
    ("  - decision: recusal", "  - decision: sanction", "schema", ["sanction", "answers"]),
    ("    rule: lighter", "    rule: lightest", "schema", ["lightest"]),
])
def test_governing_version_mistakes_are_located(tree, old, new, code, words):
    file = tree / "test-versions" / "2020-01-01.yaml"
    text = file.read_text(encoding="utf-8")
    line = text[: text.index(old)].count("\n") + 1
    file.write_text(text.replace(old, new), encoding="utf-8")
    policy, problems = check_policy(file)
    assert policy is None and problems[0].code == code, problems
    assert problems[0].line == line
    assert all(w in problems[0].message + (problems[0].hint or "") for w in words)


def test_cli_decide_names_the_version_and_why(tree, tmp_path):
    case = tmp_path / "case.yaml"
    case.write_text("matter: {act_date: 2019-12-31}\nrelation: {interest_affects_impartiality: true}\n",
                    encoding="utf-8")
    args = ["decide", "--policies", str(tree), "--policy", "test-versions", "--decision", "recusal",
            "--as-of", "2021-03-01", str(case)]
    out = CliRunner().invoke(main, args + ["--format", "json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["version"]["version"] == "2020-01-01"
    text = CliRunner().invoke(main, args + ["--format", "text"])
    assert "适用版本：2020-01-01" in text.output and "第四条" in text.output


# -- the office's ruling -------------------------------------------------------------------------

def _entry(registry, rulings, as_of="2021-03-01", rank="junior"):
    policy = registry.in_force("test-versions", as_of)
    return decide(policy, "entry", {"expert": {"title_rank": rank}, "rulings": rulings}, as_of)


def test_a_generally_rule_asks_for_review_until_the_office_rules(tree):
    registry = Registry.load(tree)
    assert _entry(registry, []).outcome == "needs_review"
    ruling = {"rule": "title", "date": "2021-02-01", "body": "测试办公室"}
    waived = _entry(registry, [dict(ruling, ruling="waived")])
    assert waived.outcome == "eligible"
    f = waived.to_json()["findings"][0]
    assert f["result"] == "exempt" and f["ruling"] == {"ruling": "waived", "date": "2021-02-01", "body": "测试办公室",
                                                       "effect": "decides"}
    assert _entry(registry, [dict(ruling, ruling="upheld")]).outcome == "ineligible"


def test_a_ruling_on_a_rule_that_passed_changes_nothing(tree):
    registry = Registry.load(tree)
    verdict = _entry(registry, [{"rule": "title", "ruling": "upheld", "date": "2021-02-01", "body": "b"}],
                     rank="senior")
    assert verdict.outcome == "eligible" and verdict.findings[0].ruling.effect == "none"


def test_a_ruling_does_not_supply_missing_facts(tree):
    registry = Registry.load(tree)
    policy = registry.in_force("test-versions", "2021-03-01")
    verdict = decide(policy, "entry", {"rulings": [{"rule": "title", "ruling": "waived", "date": "2021-02-01",
                                                    "body": "b"}]}, "2021-03-01")
    assert verdict.outcome == "undetermined" and verdict.findings[0].ruling.effect == "none"


def test_a_discretionary_ground_upheld_decides(tree):
    registry = Registry.load(tree)
    policy = registry.in_force("test-versions", "2021-03-01")
    case = {"relation": {"interest_affects_impartiality": True},
            "rulings": [{"rule": "interest", "ruling": "upheld", "date": "2021-03-01", "body": "b"}]}
    assert decide(policy, "recusal", case, "2021-03-01").outcome == "must_recuse"
    case["rulings"][0]["ruling"] = "waived"
    assert decide(policy, "recusal", case, "2021-03-01").outcome == "none"


@pytest.mark.parametrize("ruling,path,words", [
    ({"rule": "titel", "ruling": "waived", "date": "2021-02-01", "body": "b"}, "rulings[0].rule", ["titel", "title"]),
    ({"rule": "title", "ruling": "approved", "date": "2021-02-01", "body": "b"}, "rulings[0].ruling", ["upheld"]),
    ({"rule": "title", "ruling": "waived", "date": "2021-03-02", "body": "b"}, "rulings[0].date", ["after"]),
    ({"rule": "title", "ruling": "waived", "date": "2021-02-30", "body": "b"}, "rulings[0].date", ["2021-02-30"]),
    ({"rule": "title", "ruling": "waived", "date": "2021-02-01"}, "rulings[0].body", ["body"]),
    ({"rule": "title", "ruling": "waived", "date": "2021-02-01", "body": "b", "by": "x"}, "rulings[0].by", ["by"]),
    ({"rule": "interest", "ruling": "waived", "date": "2021-02-01", "body": "b"}, "rulings[0].rule",
     ["not judged by the entry"]),
])
def test_bad_rulings_are_located_case_errors(tree, ruling, path, words):
    registry = Registry.load(tree)
    with pytest.raises(CaseError) as err:
        _entry(registry, [ruling])
    p = err.value.problems[0]
    assert p.path == path and all(w in p.message + (p.hint or "") for w in words), p


def test_a_ruling_on_a_mandatory_rule_is_refused(tree):
    registry = Registry.load(tree)
    policy = registry.get("test-versions", "2010-01-01")
    case = {"relation": {"interest_affects_impartiality": True},
            "rulings": [{"rule": "interest", "ruling": "waived", "date": "2015-03-01", "body": "b"}]}
    with pytest.raises(CaseError) as err:
        decide(policy, "recusal", case, "2015-03-01")
    assert "mandatory" in err.value.problems[0].message and err.value.problems[0].path == "rulings[0].rule"


def test_two_rulings_on_one_rule_are_refused(tree):
    registry = Registry.load(tree)
    one = {"rule": "title", "ruling": "waived", "date": "2021-02-01", "body": "b"}
    with pytest.raises(CaseError) as err:
        _entry(registry, [one, dict(one, ruling="upheld")])
    assert err.value.problems[0].path == "rulings[1].rule"


def test_a_ruling_in_a_case_file_is_located_by_line(tree, tmp_path):
    case = tmp_path / "case.yaml"
    case.write_text("expert: {title_rank: junior}\nrulings:\n  - rule: title\n    ruling: waived\n"
                    "    date: 2021-04-01\n    body: b\n", encoding="utf-8")
    out = CliRunner().invoke(main, ["decide", "--policies", str(tree), "--policy", "test-versions", "--decision",
                                    "entry", "--as-of", "2021-03-01", str(case)])
    assert out.exit_code == 4, out.output
    problem = json.loads(out.output)["problems"][0]
    assert problem["line"] == 5 and problem["path"] == "rulings[0].date"


# -- terms that renew themselves -----------------------------------------------------------------

def _exit(registry, as_of, **expert):
    policy = registry.in_force("test-versions", as_of)
    return decide(policy, "exit", {"expert": expert}, as_of)


def test_a_self_renewing_term_runs_on(tree):
    registry = Registry.load(tree)
    v = _exit(registry, "2024-02-28", term_start="2020-02-29", declined_renewal=False)
    term = v.findings[0]
    # 2020-02-29 + 2 years: 2022-02-28 (no 29 February in 2022); the renewed term is counted from that
    # last day as the first is from its start (民法典 第二百零一、二百零二条): to 2024-02-28, its
    # corresponding day, not a day later for each renewal
    assert v.outcome == "retain" and term.result == "running"
    assert dict(term.values) == {"term_last_day": "2024-02-28", "renewals": 1}
    assert term.cite == "第一条" and "自动续聘" in term.quote
    v = _exit(registry, "2024-02-29", term_start="2020-02-29", declined_renewal=False)
    assert dict(v.findings[0].values) == {"term_last_day": "2026-02-28", "renewals": 2}
    v = _exit(registry, "2026-03-01", term_start="2020-02-29", declined_renewal=False)
    assert dict(v.findings[0].values) == {"term_last_day": "2028-02-28", "renewals": 3}


def test_a_term_renews_only_after_it_ends(tree):
    registry = Registry.load(tree)
    v = _exit(registry, "2022-02-28", term_start="2020-02-29")  # the last day: no renewal asked about
    assert v.outcome == "retain" and dict(v.findings[0].values) == {"term_last_day": "2022-02-28"}


def test_a_declined_renewal_lapses_and_an_unknown_one_is_undetermined(tree):
    registry = Registry.load(tree)
    assert _exit(registry, "2022-03-01", term_start="2020-02-29", declined_renewal=True).outcome == "lapsed"
    v = _exit(registry, "2022-03-01", term_start="2020-02-29")
    assert v.outcome == "undetermined" and v.missing_facts == ("expert.declined_renewal",)


def test_a_term_without_renews_lapses(tree):
    registry = Registry.load(tree)
    old = registry.get("test-versions", "2010-01-01")
    assert decide(old, "exit", {"expert": {"term_start": "2015-01-01"}}, "2017-01-02").outcome == "lapsed"


def test_renews_needs_a_length(tree):
    file = tree / "test-versions" / "2020-01-01.yaml"
    file.write_text(file.read_text(encoding="utf-8").replace("      years: 2\n", ""), encoding="utf-8")
    policy, problems = check_policy(file)
    assert policy is None and problems[0].code == "schema"


def test_the_text_says_the_earlier_law_governs_and_the_ceiling(tmp_path):
    from policy_engine.report.render import render_verdict
    registry = Registry.load(_write(tmp_path, old=False))
    case = {"matter": {"act_date": "2009-05-01"}, "relation": {"interest_affects_impartiality": True}}
    verdict, policy = decide_governing(registry, "test-versions", "recusal", case, "2021-03-01")
    text = render_verdict(verdict, policy)
    assert "该规定未编入" in text and "上限：按本版本为 可以回避" in text and "（undetermined）" in text


def test_in_force_when_must_name_a_boolean_fact(tree):
    file = tree / "test-versions" / "2020-01-01.yaml"
    text = file.read_text(encoding="utf-8").replace("    rule: lighter\n", "    rule: lighter\n    in_force_when: matter.act_date\n")
    file.write_text(text, encoding="utf-8")
    policy, problems = check_policy(file)
    assert policy is None and problems[0].code == "schema" and "not a boolean" in problems[0].message
    assert problems[0].line == text[: text.index("in_force_when")].count("\n") + 1
