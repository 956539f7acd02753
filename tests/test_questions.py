"""The classify and applies questions: their combining tables, and the mistakes an editor can make.

Each case copies one bundled policy (with its source and the shared files) into a temporary
tree, changes one thing, and either checks the problem reported (code, located on the
changed line, words) or decides a case under the changed policy.
"""
import shutil
from pathlib import Path

import pytest

from policy_engine import decide
from policy_engine.policy.loader import check_policy, load_policy
from policy_engine.report.render import render_verdict

ROOT = Path(__file__).resolve().parent.parent
VERSIONS = {"guiyang-petition-expert-pool": "2020-01-01", "chongqing-petition-responsibility": "2017-05-23",
            "chifeng-decision-expert-pool": "2026-05-14"}
GY, CQ, CF = VERSIONS


def mutate(tmp_path: Path, policy: str, *changes: tuple[str, str]) -> tuple[Path, int]:
    shutil.copytree(ROOT / "policies" / "_shared", tmp_path / "_shared")
    shutil.copytree(ROOT / "policies" / policy, tmp_path / policy)
    file = tmp_path / policy / f"{VERSIONS[policy]}.yaml"
    text = file.read_text(encoding="utf-8")
    line = 0
    for old, new in changes:
        assert old in text, old
        line = text[: text.index(old)].count("\n") + 1
        text = text.replace(old, new, 1)
    file.write_text(text, encoding="utf-8")
    return file, line


def expert(**kw):
    base = dict(employer_kind="other", retired=False, industry_field_expert=False, npc_deputy=False,
                cppcc_member=False, representative_in_field=False, lawyer=False, public_spirited=False,
                volunteer_in_field=False)
    base.update(kw)
    return {"expert": {k: v for k, v in base.items() if v is not None}}


def head(verdict):
    return verdict.findings[-1]


# -- classify --------------------------------------------------------------------------------

def test_labels_come_from_the_policy(tmp_path):
    file, _ = mutate(tmp_path, GY, ("      label: 司法库\n", "      label: 司法库 由公安\n"))
    policy = load_policy(file)
    v = decide(policy, "classify", expert(employer_kind="court"), "2024-03-01")
    assert v.outcome == "classified" and dict(head(v).values)["categories"] == ("司法库 由公安",)
    assert "所属类别：司法库 由公安" in render_verdict(v, policy)


def test_exactly_one_with_two_categories_needs_review(tmp_path):
    file, _ = mutate(tmp_path, GY, ("  cardinality: any\n", "  cardinality: exactly_one\n"))
    policy = load_policy(file)
    two = expert(employer_kind="law_firm", lawyer=True, cppcc_member=True, representative_in_field=True)
    v = decide(policy, "classify", two, "2024-03-01")
    assert v.outcome == "needs_review" and head(v).result == "failed"
    assert dict(head(v).values)["categories"] == ("代表委员库", "律师库")
    # too many already: an unknown third category does not change that
    v = decide(policy, "classify", {"expert": {**two["expert"], "public_spirited": None}}, "2024-03-01")
    assert v.outcome == "needs_review" and dict(head(v).values)["possible"] == ("志愿者库",)
    # one category and nothing unknown: classified
    assert decide(policy, "classify", expert(employer_kind="court"), "2024-03-01").outcome == "classified"
    assert "只能归入一类" in render_verdict(v, policy)


@pytest.mark.parametrize("cardinality,result", [("at_least_one", "failed"), ("exactly_one", "failed"), ("any", "passed")])
def test_no_category_is_unclassified(tmp_path, cardinality, result):
    file, _ = mutate(tmp_path, GY, ("  cardinality: any\n", f"  cardinality: {cardinality}\n"))
    v = decide(load_policy(file), "classify", expert(employer_kind="district_department"), "2024-03-01")
    assert v.outcome == "unclassified" and head(v).result == result
    assert all(f.result == "not_member" for f in v.findings[:-1])


def test_an_unknown_category_is_possible_and_names_its_facts():
    from policy_engine import Registry
    policy = Registry.load().in_force(GY, "2024-03-01")
    v = decide(policy, "classify", expert(employer_kind="court", lawyer=None), "2024-03-01")
    assert v.outcome == "undetermined" and v.missing_facts == ("expert.lawyer",)
    values = dict(head(v).values)
    assert values["categories"] == ("司法库",) and values["possible"] == ("律师库",)
    lawyers = next(f for f in v.findings if f.rule == "lawyers")
    assert lawyers.result == "unknown" and lawyers.missing_facts == ("expert.lawyer",)


def test_an_exception_keeps_the_subject_out_of_a_category(tmp_path):
    file, _ = mutate(tmp_path, GY, ("      when: expert.lawyer\n", (
        "      when: expert.lawyer\n      unless:\n        - effect: exempt\n          cite: {article: 9, item: 5}\n"
        "          quote: 按公职律师、社会律师、公司律师及擅长专业领域分别建立子库\n          when: expert.retired\n")))
    v = decide(load_policy(file), "classify", expert(employer_kind="none", retired=True, lawyer=True,
                                                     former_employer_kind="other"), "2024-03-01")
    lawyers = next(f for f in v.findings if f.rule == "lawyers")
    assert lawyers.result == "not_member" and lawyers.exception and v.outcome == "unclassified"


# -- applies ---------------------------------------------------------------------------------

def body(**kw):
    return {"subject": {"body": kw}}


def test_direct_outweighs_by_reference_when_both_name_the_subject(tmp_path):
    file, _ = mutate(tmp_path, CQ, ("subject.body.kind in ['state_owned_enterprise', 'state_controlled_enterprise']",
                                    "subject.body.kind in ['state_owned_enterprise', 'state_controlled_enterprise', 'court']"))
    policy = load_policy(file)
    v = decide(policy, "applies", body(kind="court", within_area=True), "2024-06-01")
    assert v.outcome == "applies"
    held = {f.rule: dict(f.values)["applies"] for f in v.findings if f.result == "applies"}
    assert held == {"party-and-state-organs": "directly", "state-owned-enterprises": "by_reference"}


def test_an_unknown_direct_entry_keeps_a_reference_open(tmp_path):
    file, _ = mutate(tmp_path, CQ, (
        "      subject.body.within_area && subject.body.kind in ['party_organ',",
        "      subject.body.parent_kind == 'party_organ' || subject.body.within_area && subject.body.kind in ['party_organ',"))
    policy = load_policy(file)
    v = decide(policy, "applies", body(kind="state_owned_enterprise", within_area=True), "2024-06-01")
    assert v.outcome == "undetermined" and v.missing_facts == ("subject.body.parent_kind",)
    assert [f.result for f in v.findings] == ["unknown", "not_applicable", "applies"]
    text = render_verdict(v, policy)
    assert "依据：第二条第三款（参照执行）" in text and "至少参照执行" in text
    v = decide(policy, "applies", body(kind="state_owned_enterprise", within_area=True, parent_kind="other_enterprise"),
               "2024-06-01")
    assert v.outcome == "applies_by_reference"


def test_entries_without_when_are_not_judged():
    from policy_engine import Registry
    registry = Registry.load()
    gy = registry.in_force(GY, "2024-03-01")
    assert "applies" not in gy.decisions() and "classify" in gy.decisions()
    cq = registry.in_force(CQ, "2024-06-01")
    assert "applies" in cq.decisions() and "classify" not in cq.decisions()


# -- an editor's mistakes ----------------------------------------------------------------------

MISTAKES = [
    # (name, policy, old, new, code, words)
    ("label-not-in-quote", GY, "      label: 司法库\n", "      label: 法院库\n", "quote_not_found",
     ["'法院库' is not in the category's quote", "copy it from the quoted words"]),
    ("category-id-twice", GY, "    - id: lawyers\n", "    - id: judicial\n", "duplicate_rule",
     ["'judicial' is also used at categories[2]"]),
    ("cardinality-typo", GY, "  cardinality: any\n", "  cardinality: one\n", "schema", ["one"]),
    ("category-condition-typo", GY, "      when: expert.lawyer\n", "      when: expert.lawyers\n", "unknown_fact",
     ["expert.lawyers", "expert.lawyer"]),
    ("category-quote-wrong-item", GY, "      cite: {article: 9, item: 5}\n", "      cite: {article: 9, item: 4}\n",
     "quote_not_found", ["第九条第（五）项"]),
    ("scope-condition-typo", CQ,
     "    when: subject.body.within_area && subject.body.kind in ['state_owned_enterprise', 'state_controlled_enterprise']",
     "    when: subject.body.within_area && subject.body.kind in ['state_owned_enterprise', 'state_controled_enterprise']",
     "unknown_fact", ["'state_controled_enterprise'"]),
    ("scope-id-twice", CF, "  - id: other-decision-stages\n", "  - id: county-and-departments\n", "duplicate_rule",
     ["scope id 'county-and-departments' is also used at scope[1]"]),
    ("scope-unless-without-when", GY, "    applies: directly\n  - id: expert-definition\n",
     "    applies: directly\n    unless:\n      - effect: exempt\n        cite: {article: 2}\n        quote: 适用本办法\n"
     "        when: 'true'\n  - id: expert-definition\n", "schema", ["needs its when:"]),
    ("fact-inside-an-imported-fact", GY, "    expert.employer_kind:\n", "    expert.employer.kind:\n", "vocabulary",
     ["'expert.employer.kind' is declared inside 'expert.employer'", "choose another name"]),
]


@pytest.mark.parametrize("name,policy,old,new,code,words", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_mistakes_are_located_and_explained(tmp_path, name, policy, old, new, code, words):
    file, line = mutate(tmp_path, policy, (old, new))
    loaded, problems = check_policy(file)
    assert loaded is None and problems
    hit = [p for p in problems if p.code == code and words[0] in p.render()]
    assert hit, [p.render() for p in problems]
    p = hit[0]
    assert p.file and p.file.endswith(".yaml") and p.line is not None, p.render()
    assert line <= p.line <= line + 8, p.render()
    for w in words:
        assert w in p.render(), p.render()
