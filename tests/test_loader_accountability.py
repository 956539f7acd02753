"""Mistakes a legal editor can make in the accountability, scoring and gate sections.

Each case copies one bundled policy (with its source and the shared files) into a temporary
tree, changes one thing, and checks the error code, that it is located (file:line:column,
on the changed line where an offset is given) and the words its message or hint must hold.
"""
import shutil
from pathlib import Path

import pytest

from policy_engine.policy.loader import check_policy

ROOT = Path(__file__).resolve().parent.parent
VERSIONS = {"xj-iit-expert-pool": "2025-04-21", "chongqing-petition-responsibility": "2017-05-23",
            "chifeng-decision-expert-pool": "2026-05-14", "xin-county-iit-expert-pool": "2021-10-30"}


def mutate(tmp_path: Path, policy: str, old: str, new: str) -> tuple[Path, int]:
    shutil.copytree(ROOT / "policies" / "_shared", tmp_path / "_shared")
    shutil.copytree(ROOT / "policies" / policy, tmp_path / policy)
    file = tmp_path / policy / f"{VERSIONS[policy]}.yaml"
    text = file.read_text(encoding="utf-8")
    assert old in text, old
    line = text[: text.index(old)].count("\n") + 1
    file.write_text(text.replace(old, new, 1), encoding="utf-8")
    return file, line


XJ, CQ, CF, XC = VERSIONS
CASES = [
    # (name, policy, old, new, code, words, line offset from the change)
    ("band-gap", XJ, "            - {label: 良好, min: 7, max: 8}", "            - {label: 良好, min: 7, max: 7}",
     "score_sheet", ["uncovered", "without gaps"], None),
    ("band-not-printed", XJ, "            - {label: 较差, min: 0, max: 4}", "            - {label: 很差, min: 0, max: 4}",
     "score_sheet", ["not what the quote prints", "quote the item with its bands"], 0),
    ("group-max-disagrees", XJ, "      max: 30\n", "      max: 35\n", "score_sheet", ["differs from the sum", "30"], 0),
    ("grade-without-points", XJ, "      - {grade: good, label: 良好, min: 80, max: 89}", "      - {grade: good, label: 良好}",
     "score_sheet", ["min and max for every grade"], None),
    ("grade-not-a-value", XJ, "      - {grade: good, label: 良好, min: 80, max: 89}",
     "      - {grade: god, label: 良好, min: 80, max: 89}", "unknown_fact", ["'god'", "did you mean 'good'"], 0),
    ("form-does-not-exist", XJ, "      form: {appendix: 3}\n      quote: 一、专业水平（30分）",
     "      form: {appendix: 4}\n      quote: 一、专业水平（30分）", "citation", ["附表4", "附表1, 附表2"], 0),
    ("quote-not-in-form", XJ, "quote: 1.专业知识储备（10分）优秀（9-10）", "quote: 1.专业知识储备（10分）优秀（8-10）",
     "quote_not_found", ["not in 附表3", "closest passage"], 0),
    ("cite-and-form-missing", XJ, "    fact: evaluation.total\n    form: {appendix: 3}\n", "    fact: evaluation.total\n",
     "citation", ["give either cite:", "form: {appendix: 3}"], None),
    ("item-fact-typo", XJ, "fact: evaluation.scores.knowledge", "fact: evaluation.scores.knowlege", "unknown_fact",
     ["evaluation.scores.knowlege", "did you mean 'evaluation.scores.knowledge'"], 0),
    ("item-fact-wrong-type", XJ, "fact: evaluation.scores.knowledge", "fact: evaluation.date", "vocabulary",
     ["type date", "type integer"], 0),
    ("feeds-unknown-trigger", XC, "feeds: [two-poor-evaluations]", "feeds: [two-poor-evaluation]", "reference",
     ["not an exit trigger", "did you mean 'two-poor-evaluations'"], 0),
    ("feeds-counts-no-evaluations", XC, "feeds: [two-poor-evaluations]", "feeds: [leaked-secrets]", "reference",
     ["counts no evaluation events"], 0),
    ("branch-ground-typo", CF, "ground: [negligence, arbitrary-publicity, review-rules-breached]",
     "ground: [negligense, arbitrary-publicity, review-rules-breached]", "reference",
     ["'negligense' is not a ground", "did you mean 'negligence'"], 0),
    ("removal-without-exit", CQ, "            quote: 責令書面檢查\n            strength: discretionary\n",
     "            quote: 責令書面檢查\n            strength: discretionary\n            removes_expert: true\n",
     "reference", ["no exit decision", "leave removes_expert out"], 2),
    ("level-step-typo", CQ, "step: admonishment", "step: admonishement", "reference",
     ["'admonishement' is not a step", "did you mean 'admonishment'"], 0),
    ("step-label-not-quoted", CQ, "label: 誡勉", "label: 誡勉處分", "quote_not_found", ["'誡勉處分' is not in the step's quote"], 0),
    ("level-without-step", CQ, "        step: admonishment\n", "", "reference", ["names the step it leads to"], None),
    ("group-too-small", CQ, "            group: organ-ways\n", "", "reference", ["measure group 'organ-ways'", "at least two"], None),
    ("apportion-each-typo", CQ, "each: responsibility.people", "each: responsibility.persons", "unknown_fact",
     ["responsibility.persons", "did you mean 'responsibility.people'"], 0),
    ("apportion-record-field-typo", CQ, "when: person.role == 'member' && person.took_part",
     "when: person.role == 'member' && person.tookpart", "unknown_fact", ["person.tookpart", "person.took_part"], 0),
    ("apportion-alias-is-a-namespace", CQ, "    as: person\n", "    as: expert\n", "vocabulary",
     ["already a namespace"], 0),
    ("element-id-twice", CF, "          - id: reminder-talk", "          - id: negligence", "duplicate_rule",
     ["'negligence' is also used"], 0),
    ("gate-requirement-quote", CF, "quote: 做好会议记录", "quote: 做好会议纪要", "quote_not_found",
     ["第十六条第二款", "closest passage"], 0),
]


@pytest.mark.parametrize("name,policy,old,new,code,words,offset", CASES, ids=[c[0] for c in CASES])
def test_bad_accountability_section(tmp_path, name, policy, old, new, code, words, offset):
    file, line = mutate(tmp_path, policy, old, new)
    loaded, problems = check_policy(file)
    assert loaded is None and problems
    hit = [p for p in problems if p.code == code and words[0] in p.render()]
    assert hit, [p.render() for p in problems]
    p = hit[0]
    assert p.file and p.file.endswith(".yaml") and p.line is not None and p.column is not None, p.render()
    if offset is not None:
        assert p.line == line + offset, p.render()
    for w in words:
        assert w in p.render(), p.render()
