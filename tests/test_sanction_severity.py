"""The sanction decision's order of severity (the hook of governing_version rule lighter, 从旧兼从轻),
and the lighter-law rule choosing between two versions of a ladder by it.

The ladder is tests/data/sanction-ladder-test; two versions of it are written to a temporary
folder: the old one as it is, the new one without the 情节严重 level (so a serious act is treated
more lightly under it) and with a transitional article.
"""
from __future__ import annotations

import dataclasses
import hashlib
import shutil
from pathlib import Path

import pytest

from policy_engine import Registry
from policy_engine.evaluate.decisions import sanction
from policy_engine.evaluate.engine import decide_governing
from policy_engine.policy.loader import check_policy

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "tests" / "data" / "sanction-ladder-test"


@pytest.fixture(scope="module")
def policy():
    p, problems = check_policy(HERE / "2024-01-01.yaml")
    assert p is not None, problems
    return p


@dataclasses.dataclass
class _V:
    outcome: str


@pytest.mark.parametrize("lighter, heavier", [
    ("none", "warning"),
    ("warning", "demerit"),
    ("demerit..major-demerit", "demotion..dismissal"),
    ("major-demerit", "demotion"),
    ("demerit..major-demerit", "major-demerit"),      # same ceiling: the heavier floor is heavier
    ("warning..major-demerit", "demerit..major-demerit"),
    ("major-demerit", "warning..demotion"),           # a heavier ceiling outweighs a lighter floor
])
def test_order_follows_the_declared_ladder(policy, lighter, heavier):
    assert sanction.severity(policy, _V(lighter)) < sanction.severity(policy, _V(heavier))


@pytest.mark.parametrize("outcome", ["undetermined", "warning+demerit", "expulsion", "warning..expulsion"])
def test_unsettled_or_foreign_outcomes_are_not_compared(policy, outcome):
    assert sanction.severity(policy, _V(outcome)) is None


def test_none_is_the_lowest(policy):
    assert sanction.severity(policy, _V("none")) == 0
    assert sanction.severity(policy, _V("warning")) == 1


def test_the_order_is_the_declared_order_not_the_ids(tmp_path):
    """Reordering nothing but the declaration (a ladder whose ids sort the other way) keeps the order."""
    folder = tmp_path / "sanction-ladder-test"
    shutil.copytree(HERE, folder)
    file = folder / "2024-01-01.yaml"
    text = file.read_text(encoding="utf-8").replace("warning", "zz-warning").replace("major-demerit", "aa-major")
    file.write_text(text, encoding="utf-8")
    p, problems = check_policy(file)
    assert p is not None, problems
    assert sanction.severity(p, _V("zz-warning")) < sanction.severity(p, _V("aa-major"))


TRANSITIONAL = "第九条 本规定施行前发生的行为，适用当时的规定；但是本规定处理较轻的，适用本规定。\n"
GOVERNING = """governing_version:
  - decision: sanction
    selected_by: official.act_date
    rule: lighter
    cite: {article: 9}
    quote: 本规定施行前发生的行为，适用当时的规定；但是本规定处理较轻的，适用本规定
accountability:
"""


def _two_versions(tmp_path: Path) -> Registry:
    folder = tmp_path / "sanction-ladder-test"
    shutil.copytree(HERE, folder)
    old_yaml = (folder / "2024-01-01.yaml").read_text(encoding="utf-8")
    declare = "    official.act_date: {type: date, description: 违法行为发生之日}\n    official.leader:"
    old_yaml = old_yaml.replace("    official.leader:", declare, 1).replace('  from: "2024-01-01"\n',
                                                                          '  from: "2024-01-01"\n  until: "2025-12-31"\n')
    (folder / "2024-01-01.yaml").write_text(old_yaml, encoding="utf-8")
    source = (folder / "source.txt").read_text(encoding="utf-8")
    new_source = source.replace("本规定自2024年1月1日起施行。", "本规定自2026年1月1日起施行。") + "\n" + TRANSITIONAL
    (folder / "new.txt").write_text(new_source, encoding="utf-8")
    start, end = old_yaml.index("      - id: serious\n"), old_yaml.index("    adjustments:\n")
    new_yaml = (old_yaml[:start] + old_yaml[end:]).replace('version: "2024-01-01"', 'version: "2026-01-01"')
    new_yaml = new_yaml.replace('  from: "2024-01-01"\n  until: "2025-12-31"\n', '  from: "2026-01-01"\n')
    new_yaml = new_yaml.replace("本规定自2024年1月1日起施行", "本规定自2026年1月1日起施行")
    new_yaml = new_yaml.replace("file: source.txt", "file: new.txt").replace(
        "c5e7b8076ff127f55826feb44e1f2fb5186af959e7a3fad53dc23c6cd6e3864c",
        hashlib.sha256(new_source.encode("utf-8")).hexdigest())
    new_yaml = new_yaml.replace("accountability:\n", GOVERNING, 1)
    (folder / "2026-01-01.yaml").write_text(new_yaml, encoding="utf-8")
    return Registry.load(tmp_path)


def _case(serious, fairly=True, date="2025-06-01"):
    act = {"kind": "lending", "date": date, "id": "v1", "fairly_serious": fairly}
    if serious is not None:
        act["serious"] = serious
    return {"official": {"act_date": date, "acts": [act], "leader": False, "special_case": False, "confessed": False,
                         "repentant_minor": False, "obstructed": False}}


def test_the_new_version_applies_where_it_is_lighter(tmp_path):
    registry = _two_versions(tmp_path)
    verdict, used = decide_governing(registry, "sanction-ladder-test", "sanction", _case(True), "2026-06-01")
    assert used.version == "2026-01-01" and verdict.outcome == "demerit..major-demerit"
    assert verdict.version.considered == ("2024-01-01", "2026-01-01") and "more lightly" in verdict.version.note


def test_the_old_version_stays_where_the_new_is_not_lighter(tmp_path):
    registry = _two_versions(tmp_path)
    verdict, used = decide_governing(registry, "sanction-ladder-test", "sanction", _case(False), "2026-06-01")
    assert used.version == "2024-01-01" and verdict.outcome == "demerit..major-demerit"
    assert "not lighter" in verdict.version.note


def test_an_unsettled_old_verdict_leaves_the_choice_open(tmp_path):
    registry = _two_versions(tmp_path)
    verdict, used = decide_governing(registry, "sanction-ladder-test", "sanction", _case(None), "2026-06-01")
    assert verdict.outcome == "undetermined" and "cannot be told" in verdict.version.note


# -- an act before every encoded version (政务处分法 第六十七条) ------------------------------------

def _early(under_review):
    case = {"violation": {"date": "2019-03-10"}, "official": {"case": {"decided_on": "2019-08-31"}, "violations": [
        {"kind": "act", "date": "2019-03-10", "ground": "a34-1", "circumstances": "relatively_serious"}]}}
    if under_review is not None:
        case["official"]["case"]["under_review"] = under_review
    return case


@pytest.fixture(scope="module")
def bundled():
    return Registry.load(ROOT / "policies")


def test_an_earlier_act_has_this_law_as_its_ceiling(bundled):
    verdict, _ = decide_governing(bundled, "gov-sanctions-law", "sanction", _early(False), "2024-01-10")
    assert verdict.outcome == "undetermined" and verdict.version.governing == "earlier_law"
    assert verdict.version.ceiling == "demotion..removal_from_post"


def test_a_closed_case_under_review_is_the_old_law_alone(bundled):
    verdict, _ = decide_governing(bundled, "gov-sanctions-law", "sanction", _early(True), "2024-01-10")
    assert verdict.outcome == "undetermined" and verdict.version.ceiling is None
    assert verdict.version.rule == "in_force" and "governs alone" in verdict.version.note


def test_an_unknown_review_flag_gives_no_ceiling_and_is_named(bundled):
    verdict, _ = decide_governing(bundled, "gov-sanctions-law", "sanction", _early(None), "2024-01-10")
    assert verdict.version.ceiling is None and "official.case.under_review" in verdict.missing_facts


# -- an office's ruling on a per-act rule --------------------------------------------------------

def test_a_ruling_reaches_the_rules_judged_per_act(policy):
    """A 一般 level whose may_exempt exception holds, waived by the higher body: the lighter level applies."""
    from policy_engine import decide
    case = _case(True)
    case["official"]["special_case"] = True
    del case["official"]["act_date"]
    assert decide(policy, "sanction", case, "2026-06-01").outcome == "demotion..dismissal"
    case["rulings"] = [{"rule": "serious-act", "ruling": "waived", "date": "2026-05-01", "body": "上一级机关"}]
    verdict = decide(policy, "sanction", case, "2026-06-01")
    assert verdict.outcome == "demerit..major-demerit"
    waived = next(f for f in verdict.findings if f.rule == "serious-act")
    assert waived.result == "exempt" and waived.ruling.effect == "decides"


# -- at_most: a ceiling the text sets (政务处分法 第二十二、二十三条) ----------------------------------

CEILING = """      - id: ceiling
        title: 以警告、记过为限
        cite: {article: 5}
        quote: 阻止他人检举的，应当从重给予处分
        strength: mandatory
        when: official.leader
        effect: at_most
        at_most: demerit
"""


def _with_ceiling(tmp_path, block=CEILING):
    folder = tmp_path / "sanction-ladder-test"
    shutil.copytree(HERE, folder)
    file = folder / "2024-01-01.yaml"
    text = file.read_text(encoding="utf-8").replace("    adjustments:\n", "    adjustments:\n" + block, 1)
    file.write_text(text, encoding="utf-8")
    return file, text[: text.index(block)].count("\n") + 1


@pytest.mark.parametrize("serious, fairly, adjusted", [
    (True, True, "demerit"),                   # 降级..撤职 above the ceiling: the ceiling itself
    (False, True, "demerit"),                  # 记过..记大过 crosses it: cut at 记过
    (False, False, "warning"),                 # under it: unchanged
])
def test_at_most_cuts_the_range_at_the_step_it_names(tmp_path, serious, fairly, adjusted):
    from policy_engine import decide
    file, _ = _with_ceiling(tmp_path)
    p, problems = check_policy(file)
    assert p is not None, problems
    case = _case(serious, fairly)
    del case["official"]["act_date"]
    case["official"]["leader"] = True
    verdict = decide(p, "sanction", case, "2026-06-01")
    found = dict(next(f for f in verdict.findings if f.rule == "ceiling").values)
    assert found["effect"] == ["at_most"] and found["adjusted"] == [adjusted]
    assert found["unadjusted"] == verdict.outcome  # the outcome stays the unadjusted one


@pytest.mark.parametrize("old, new, words", [
    ("        at_most: demerit\n", "", ["effect at_most needs", "at_most: <step id>"]),
    ("        effect: at_most\n", "        effect: heavier\n", ["does not", "list at_most"]),
    ("        at_most: demerit\n", "        at_most: demerrit\n", ["'demerrit' is not a step", "did you mean 'demerit'?"]),
])
def test_at_most_mistakes_are_located(tmp_path, old, new, words):
    file, first = _with_ceiling(tmp_path, CEILING.replace(old, new))
    p, problems = check_policy(file)
    assert p is None and problems
    text = problems[0].message + " " + (problems[0].hint or "")
    assert all(w in text for w in words), text
    assert first <= problems[0].line <= first + 8
