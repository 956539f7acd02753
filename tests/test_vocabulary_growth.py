"""Vocabularies that can grow: a policy extends an imported fact locally, and a policy's digest
changes only where the meaning of what its rules read changes.

Each test copies the bundled policies folder into a temporary tree, changes a shared vocabulary
or one policy, loads the tree again and compares digests, loads and verdicts.
"""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from policy_engine import CaseError, decide
from policy_engine.policy.loader import DRAW_READS, check_policy, facts_read, load_tree
from policy_engine.policy.vocabulary import canonical_facts

ROOT = Path(__file__).resolve().parent.parent
XJ, CQ, XIN = "xj-iit-expert-pool", "chongqing-petition-responsibility", "xin-county-iit-expert-pool"
EXPERT_POOL = "_shared/expert-pool.vocab.yaml"
ACCOUNTABILITY = "_shared/accountability.vocab.yaml"


@pytest.fixture(scope="module")
def bundled():
    loaded = load_tree([ROOT / "policies"])
    assert not loaded.problems, loaded.problems
    return {p.id: p for p in loaded.policies}


@pytest.fixture
def tree(tmp_path):
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    return tmp_path / "policies"


def edit(tree: Path, rel: str, old: str, new: str) -> int:
    """Replace `old` (once) by `new` in a file of the tree; return the 1-based line of the change."""
    file = tree / rel
    text = file.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    file.write_text(text.replace(old, new), encoding="utf-8")
    return text[: text.index(old)].count("\n") + 1


def digests(tree: Path) -> dict[str, str]:
    loaded = load_tree([tree])
    assert not loaded.problems, [p.render() if hasattr(p, "render") else p for p in loaded.problems]
    return {p.id: p.sha256 for p in loaded.policies}


def changed(before: dict, after: dict) -> set[str]:
    assert before.keys() == after.keys()
    return {pid for pid in before if before[pid] != after[pid]}


def mentions(tree: Path, fact: str) -> set[str]:
    """The policies whose file names `fact` (an oracle independent of the loader's reading)."""
    pattern = re.compile(r"(?<![\w.])" + re.escape(fact) + r"(?![\w])")
    return {f.parent.name for f in tree.glob("*/*.yaml") if not f.parent.name.startswith("_") and pattern.search(f.read_text(encoding="utf-8"))}


# -- digests ---------------------------------------------------------------------------------------


def test_a_new_enum_value_and_a_new_fact_change_only_the_policies_reading_the_enum(tree):
    before = digests(tree)
    edit(tree, EXPERT_POOL, "values: [entry_notice, usage_application_review,",
         "values: [entry_notice, bid_evaluation_time, usage_application_review,")
    edit(tree, EXPERT_POOL, "  step.emergency:",
         "  step.extended_by_tenderer: {type: boolean, description: 招标人已适当延长评标时间}\n  step.emergency:")
    after = digests(tree)
    readers = mentions(tree, "step.kind")
    assert readers == {"chifeng-decision-expert-pool", "guiyang-petition-expert-pool", "gov-sanctions-law", XIN, XJ}
    assert changed(before, after) == readers
    assert CQ not in changed(before, after)  # imports expert-pool.vocab.yaml, reads no step


def test_a_value_of_a_fact_one_policy_reads_changes_that_policy_only(tree):
    before = digests(tree)
    assert mentions(tree, "accountability.severity") == {CQ}
    edit(tree, ACCOUNTABILITY, "values: [minor, serious, especially_serious]",
         "values: [minor, serious, especially_serious, extraordinarily_serious]")
    assert changed(before, digests(tree)) == {CQ}


def test_a_new_fact_nobody_reads_and_a_new_vocabulary_file_change_no_digest(tree):
    before = digests(tree)
    edit(tree, ACCOUNTABILITY, "  # --- responsibility apportionment",
         "  official.demoted_before: {type: boolean, description: 曾受降级处分}\n  # --- responsibility apportionment")
    (tree / "_shared" / "extra.vocab.yaml").write_text(
        "id: extra\ntitle: 试验\nfacts:\n  extra.flag: {type: boolean, description: 试验}\n", encoding="utf-8")
    assert changed(before, digests(tree)) == set()


def test_comments_order_and_the_file_a_fact_stands_in_do_not_change_a_digest(tree):
    before = digests(tree)
    line = "  expert.name: {type: string, description: 姓名}\n"
    edit(tree, EXPERT_POOL, line, "")
    edit(tree, EXPERT_POOL, "  # --- the matter ---", "  # a comment\n" + line + "  # --- the matter ---")
    assert changed(before, digests(tree)) == set()


def test_a_description_or_bound_of_a_read_fact_changes_the_digest(tree):
    before = digests(tree)
    edit(tree, EXPERT_POOL, "expert.birth_date: {type: date, not_after: as_of, description: 出生日期}",
         "expert.birth_date: {type: date, description: 出生日期}")
    readers = mentions(tree, "expert.birth_date")
    assert readers and changed(before, digests(tree)) == readers


def test_the_draw_facts_are_read_by_every_policy_that_draws(bundled):
    for policy in bundled.values():
        reads = facts_read(policy)
        drawn = {n for n in DRAW_READS if n in policy.vocabulary.facts}
        assert drawn <= reads if policy.selection is not None else True
    assert "expert.title_rank" in facts_read(bundled[XJ])


def test_draw_reads_lists_every_fact_the_draw_and_panel_read_by_name():
    """DRAW_READS must name every fact selection/ reads by a literal name (keep them in step)."""
    named = set()
    for module in ("draw.py", "panel.py", "pool.py"):
        text = (ROOT / "policy_engine" / "selection" / module).read_text(encoding="utf-8")
        named |= set(re.findall(r"(?:get\(|\[|=\s*)[\"'](expert\.[a-z_]+)[\"']", text))
        for group in re.findall(r"for name, wanted in \(\((.*?)\)\):", text, re.S):
            named |= {f"expert.{n}" for n in re.findall(r"\"([a-z_]+)\"", group)}
    assert named == set(DRAW_READS), named ^ set(DRAW_READS)


def test_the_canonical_form_is_the_same_bytes_whatever_the_order(bundled):
    policy = bundled[XJ]
    names = sorted(facts_read(policy))
    assert canonical_facts(policy.vocabulary, names) == canonical_facts(policy.vocabulary, list(reversed(names)))
    text = canonical_facts(policy.vocabulary, ["expert.title_rank"]).decode("utf-8")
    assert text == ('{"expert.title_rank":{"description":"专业技术职称等级（associate_senior 副高级，senior 正高级）",'
                    '"type":"enum","values":["none","junior","intermediate","associate_senior","senior"]}}')


def test_unaffected_goldens_still_pass_after_the_shared_vocabulary_grows(tree):
    edit(tree, EXPERT_POOL, "values: [entry_notice, usage_application_review,",
         "values: [entry_notice, bid_evaluation_time, usage_application_review,")
    out = subprocess.run([sys.executable, "-m", "policy_engine", "test", "--policies", str(tree),
                          "--fixtures", str(ROOT / "fixtures" / CQ), "--min-cases", "0"],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 failed" in out.stdout


# -- extending an imported fact ------------------------------------------------------------------

EXTEND = """facts:
  import: [../_shared/expert-pool.vocab.yaml, ../_shared/accountability.vocab.yaml]
  extend:
    step.kind:
      values: [bid_evaluation_time]
      description: bid_evaluation_time 评标时间
"""
IMPORT = "facts:\n  import: [../_shared/expert-pool.vocab.yaml, ../_shared/accountability.vocab.yaml]\n"


def xj(tree: Path) -> Path:
    return tree / XJ / "2025-04-21.yaml"


def test_an_extended_enum_value_is_known_to_the_extending_policy_only(tree, bundled):
    edit(tree, f"{XJ}/2025-04-21.yaml", IMPORT, EXTEND)
    loaded = load_tree([tree])
    assert not loaded.problems
    policies = {p.id: p for p in loaded.policies}
    fact = policies[XJ].vocabulary.facts["step.kind"]
    assert fact.values[-1] == "bid_evaluation_time" and fact.values[:-1] == bundled[XJ].vocabulary.facts["step.kind"].values
    assert fact.description.endswith("；bid_evaluation_time 评标时间")
    case = {"step": {"kind": "bid_evaluation_time", "start": "2026-03-02", "end": "2026-03-04"}}
    verdict = decide(policies[XJ], "deadline", case, "2026-03-10")
    assert verdict.outcome  # accepted and judged (no rule of xj applies to this kind)
    with pytest.raises(CaseError) as err:
        decide(policies[XIN], "deadline", case, "2026-03-10")
    assert "bid_evaluation_time" in str(err.value)
    assert policies[XJ].sha256 != bundled[XJ].sha256
    assert {pid for pid in policies if policies[pid].sha256 != bundled[pid].sha256} == {XJ}


def test_a_condition_may_compare_with_an_extended_value(tree):
    edit(tree, f"{XJ}/2025-04-21.yaml", IMPORT, EXTEND)
    edit(tree, f"{XJ}/2025-04-21.yaml", "applies_when: step.kind == 'evaluation_return'",
         "applies_when: step.kind == 'evaluation_return' || step.kind == 'bid_evaluation_time'")
    policy, problems = check_policy(xj(tree))
    assert problems == [] and policy is not None


def test_events_gain_a_kind_and_a_field_of_an_imported_kind(tree):
    extend = IMPORT + """  extend:
    accountability.history:
      description: warning 警告记录；notice 的 body 为作出通报的机关
      kinds:
        warning:
          description: 受到警告
          fields:
            ends: {type: date, description: 处分期届满之日}
        notice:
          fields:
            body: {type: string, description: 作出通报的机关}
            rectification: {values: [partly_done]}
"""
    edit(tree, f"{XJ}/2025-04-21.yaml", IMPORT, extend)
    policy, problems = check_policy(xj(tree))
    assert problems == [], problems
    fact = policy.vocabulary.facts["accountability.history"]
    assert set(fact.kinds) == {"notice", "admonishment", "warning"}
    assert fact.kinds["notice"].fields["rectification"].values == ("on_time", "late", "not_done", "partly_done")
    assert fact.kinds["admonishment"].fields["rectification"].values == ("on_time", "late", "not_done")
    case = {"accountability": {"history": [
        {"kind": "notice", "date": "2025-06-01", "deadline": "2025-07-01", "rectification": "partly_done", "body": "某局"},
        {"kind": "warning", "date": "2025-08-01", "ends": "2026-02-01"}]}}
    from policy_engine.policy.vocabulary import check_case
    facts = check_case(case, policy.vocabulary, as_of="2026-03-01")
    assert [e["kind"] for e in facts["accountability.history"]] == ["notice", "warning"]


CONFLICTS = [
    # (name, extension under `extend:`, line offset of the problem from `extend:`, words in message and hint)
    ("type-changed", "    step.kind:\n      type: string\n      description: x\n", 2,
     ["cannot change the type of 'step.kind' from enum to string", "declare a new fact under another name"]),
    ("values-of-a-boolean", "    step.emergency:\n      values: [maybe]\n      description: x\n", 2,
     ["'step.emergency' is boolean, not enum", "remove it"]),
    ("not-imported", "    step.kinds:\n      values: [x]\n      description: x\n", 1,
     ["'step.kinds' is not an imported fact", "did you mean 'step.kind'?"]),
    ("required-new-field", "    accountability.history:\n      description: x\n      kinds:\n        notice:\n"
                           "          fields:\n            body: {type: string, description: 机关, required: true}\n", 6,
     ["cannot be required", "remove required: true"]),
    ("field-setting-changed", "    accountability.history:\n      description: x\n      kinds:\n        notice:\n"
                              "          fields:\n            deadline: {required: false}\n", 6,
     ["cannot change required of the field 'deadline'", "adds enum values or new fields only"]),
    ("field-type-changed", "    expert.events:\n      description: x\n      kinds:\n        evaluation:\n"
                           "          fields:\n            score: {type: string}\n", 6,
     ["cannot change the type of the field 'score'", "from integer to string"]),
    ("kind-without-description", "    accountability.history:\n      description: x\n      kinds:\n        warning:\n"
                                 "          fields: {ends: {type: date, description: 届满}}\n", 4,
     ["new kind 'warning'", "has no description"]),
    ("min-above-max", "    expert.events:\n      description: x\n      kinds:\n        evaluation:\n"
                      "          fields:\n            rank: {type: integer, min: 5, max: 1, description: 名次}\n", 1,
     ["min 5 is above max 1"]),
]


@pytest.mark.parametrize("name,extension,offset,words", CONFLICTS, ids=[c[0] for c in CONFLICTS])
def test_a_conflicting_extension_is_refused_with_its_line_and_fix(tree, name, extension, offset, words):
    line = edit(tree, f"{XJ}/2025-04-21.yaml", IMPORT, IMPORT + "  extend:\n" + extension) + 2
    policy, problems = check_policy(xj(tree))
    assert policy is None
    found = [p for p in problems if p.code == "vocabulary"]
    assert len(found) == 1, problems
    text = f"{found[0].message} {found[0].hint}"
    for w in words:
        assert w in text, text
    assert found[0].file.endswith("2025-04-21.yaml") and found[0].line == line + offset


def test_redeclaring_an_imported_enum_without_a_value_says_so_and_points_to_extend(tree):
    declare = IMPORT + "  declare:\n    step.kind: {type: enum, values: [entry_notice], description: 程序环节}\n"
    line = edit(tree, f"{XJ}/2025-04-21.yaml", IMPORT, declare) + 3
    policy, problems = check_policy(xj(tree))
    assert policy is None
    (p,) = [p for p in problems if p.code == "vocabulary"]
    assert p.line == line
    assert "removes the value(s) usage_application_review" in p.message
    assert "facts: extend:" in p.hint


def test_redeclaring_with_another_type_says_so(tree):
    declare = IMPORT + "  declare:\n    step.emergency: {type: string, description: 紧急}\n"
    edit(tree, f"{XJ}/2025-04-21.yaml", IMPORT, declare)
    _, problems = check_policy(xj(tree))
    assert any("changes the type from boolean to string" in p.message for p in problems)


def test_a_value_given_again_is_no_conflict(tree):
    edit(tree, f"{XJ}/2025-04-21.yaml", IMPORT,
         IMPORT + "  extend:\n    step.kind: {values: [entry_notice, bid_evaluation_time], description: 评标时间}\n")
    policy, problems = check_policy(xj(tree))
    assert problems == []
    assert policy.vocabulary.facts["step.kind"].values.count("entry_notice") == 1


def test_the_shared_vocabularies_give_every_fact_a_chinese_meaning(bundled):
    han = re.compile(r"[\u4e00-\u9fff]")
    loaded = load_tree([ROOT / "policies"])
    assert "_shared/public-officials.vocab.yaml" in " ".join(loaded.vocabularies)
    assert "_shared/bidding.vocab.yaml" in " ".join(loaded.vocabularies)
    from policy_engine.policy.loader import _load_vocabulary
    for name in ("public-officials", "bidding"):
        facts, _, problems = _load_vocabulary(ROOT / "policies" / "_shared" / f"{name}.vocab.yaml")
        assert problems == [] and facts
        for fact in facts.values():
            assert han.search(fact.description), fact.name
            for kind in fact.kinds.values():
                assert han.search(kind.description), (fact.name, kind.name)
                for f in kind.fields.values():
                    assert han.search(f.description), (fact.name, kind.name, f.name)
