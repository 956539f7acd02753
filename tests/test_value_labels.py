"""Enum values carry the regulation's words in the vocabulary (`labels:`), not in the engine."""
import shutil
from pathlib import Path

from policy_engine import decide
from policy_engine.policy.loader import check_policy
from policy_engine.policy.registry import Registry
from policy_engine.report.render import VALUE, render_verdict

ROOT = Path(__file__).resolve().parent.parent
CQ = "chongqing-petition-responsibility"
CASE = {"responsibility": {"kind": "collective", "people": [
    {"kind": "person", "date": "2024-05-01", "id": "赵委员", "role": "member", "took_part": True,
     "objected_and_overruled": False}]}}


def test_a_role_prints_in_the_words_the_vocabulary_gives_it():
    policy = Registry.load(ROOT / "policies").in_force(CQ, "2024-09-01")
    verdict = decide(policy, "apportion", CASE, "2024-09-01")
    text = render_verdict(verdict, policy)
    assert "赵委员（班子其他成员）" in text and "role = 班子其他成员" in text
    assert "member" not in VALUE  # the engine holds no regulation's words for it


def test_a_label_for_a_value_the_enum_lacks_is_refused_at_its_line(tmp_path):
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    vocab = tmp_path / "policies" / "_shared" / "accountability.vocab.yaml"
    text = vocab.read_text(encoding="utf-8")
    assert "labels: {main_leader: 领导班子主要负责人," in text
    vocab.write_text(text.replace("labels: {main_leader: 领导班子主要负责人,", "labels: {chair: 主任, main_leader: 领导班子主要负责人,"),
                     encoding="utf-8")
    policy, problems = check_policy(tmp_path / "policies" / CQ / "2017-05-23.yaml")
    assert policy is None
    found = [p for p in problems if "chair" in p.message]
    assert found and found[0].file.endswith("accountability.vocab.yaml") and found[0].line
    assert "not among its values" in found[0].message
