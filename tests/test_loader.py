"""Every mistake a policy author can make gets a located message with a fix.

Each case copies the 004 policy (with its source and the shared vocabulary) into a
temporary tree, changes one thing, and checks the error code, the line it points at,
and words the message or hint must contain.
"""
import hashlib
import shutil
from pathlib import Path

import pytest

from policy_engine import PolicyError, Registry, load_policy
from policy_engine.policy.loader import check_policy, load_all

ROOT = Path(__file__).resolve().parent.parent
POLICY_ID = "xj-iit-expert-pool"
GOOD = ROOT / "policies" / POLICY_ID / "2025-04-21.yaml"


@pytest.fixture
def tree(tmp_path):
    shutil.copytree(ROOT / "policies" / "_shared", tmp_path / "_shared")
    folder = tmp_path / POLICY_ID
    folder.mkdir()
    shutil.copy(ROOT / "policies" / POLICY_ID / "source.txt", folder / "source.txt")
    shutil.copy(GOOD, folder / "2025-04-21.yaml")
    return tmp_path


def mutate(tree: Path, old: str, new: str, count: int = 1) -> tuple[Path, int]:
    """Replace `old` by `new` in the policy; return the file and the 1-based line of the change."""
    file = tree / POLICY_ID / "2025-04-21.yaml"
    text = file.read_text(encoding="utf-8")
    assert old in text, old
    line = text[: text.index(old)].count("\n") + 1
    file.write_text(text.replace(old, new, count), encoding="utf-8")
    return file, line


def problems_of(file: Path):
    policy, problems = check_policy(file)
    assert policy is None
    assert problems
    return problems


def test_the_good_policy_loads():
    policy = load_policy(GOOD)
    assert policy.id == POLICY_ID and policy.decisions() == ("entry", "exit", "recusal", "deadline", "sanction", "score")


CASES = [
    # (name, old, new, code, words in message or hint, line offset from the change)
    ("broken-yaml", "title: 新疆", "title: [新疆", "yaml_syntax", [], None),
    ("duplicate-key", "issuer: 新疆维吾尔自治区工业和信息化厅\n",
     "issuer: 新疆维吾尔自治区工业和信息化厅\nissuer: 自治区工业和信息化厅\n", "duplicate_key", ["issuer", "twice"], 1),
    ("strength-typo", "strength: generally", "strength: generaly", "schema", ["generaly", "did you mean 'generally'"], 0),
    ("field-typo", "      quote: 年龄一般不超过65周岁", "      qoute: 年龄一般不超过65周岁", "schema",
     ["qoute", "did you mean 'quote'"], 0),
    ("missing-quote", "      quote: 参选专家应取得人事关系所在单位的推荐和确认\n", "", "schema", ["'quote' is required", "verbatim"], None),
    ("unknown-fact", "require: expert.recommended_by_employer", "require: expert.recommended_by_employr", "unknown_fact",
     ["expert.recommended_by_employr", "did you mean 'expert.recommended_by_employer'"], 0),
    ("cel-syntax", "require: age_at(expert.birth_date, as_of) <= 65", "require: age_at(expert.birth_date, as_of) <=",
     "cel_syntax", ["^"], 0),
    ("unknown-function", "require: age_at(expert.birth_date, as_of) <= 65", "require: age(expert.birth_date, as_of) <= 65",
     "unknown_function", ["unknown function 'age'", "age_at"], 0),
    ("enum-typo", "expert.title_rank in ['associate_senior', 'senior']", "expert.title_rank in ['asociate_senior', 'senior']",
     "unknown_fact", ["asociate_senior", "did you mean 'associate_senior'"], 0),
    ("type-error", "require: age_at(expert.birth_date, as_of) <= 65", "require: expert.birth_date <= 65",
     "cel_syntax", ["well-typed"], 0),
    ("quote-wrong-article", "      cite: {article: 5, item: 5}\n      quote: 年龄一般不超过65周岁",
     "      cite: {article: 7, item: 5}\n      quote: 年龄一般不超过65周岁", "quote_not_found",
     ["not in 第七条第（五）项", "第五条第（五）项"], 1),
    ("quote-typo", "quote: 年龄一般不超过65周岁", "quote: 年龄一般不超过60周岁", "quote_not_found",
     ["closest passage", "年龄一般不超过65周岁"], 0),
    ("no-such-article", "cite: {article: 21}\n  quote: 本办法有效期", "cite: {article: 29}\n  quote: 本办法有效期",
     "citation", ["第二十九条"], 0),
    ("no-such-item", "cite: {article: 5, item: 6}", "cite: {article: 5, item: 9}", "citation", ["第五条第（九）项"], 0),
    ("duplicate-rule-id", "- id: employer-recommendation", "- id: age", "duplicate_rule", ["'age'"], None),
    ("id-not-folder", "id: xj-iit-expert-pool", "id: xj-iit-pool", "version", ["folder"], 0),
    ("version-not-file", 'version: "2025-04-21"', 'version: "2025-04-22"', "version", ["file name"], 0),
    ("unquoted-version", 'version: "2025-04-21"', "version: 20250421", "schema", ["should be text", "quote"], 0),
    ("window-backwards", 'until: "2027-05-20"', 'until: "2024-05-20"', "version", ["ends", "before it starts"], 0),
]


@pytest.mark.parametrize("name,old,new,code,words,offset", CASES, ids=[c[0] for c in CASES])
def test_bad_policy(tree, name, old, new, code, words, offset):
    file, line = mutate(tree, old, new)
    problems = problems_of(file)
    hit = [p for p in problems if p.code == code and (not words or words[0] in p.render())]
    assert hit, [p.render() for p in problems]
    p = hit[0]
    assert p.file and p.file.endswith("2025-04-21.yaml")
    assert p.line is not None and p.column is not None, p.render()
    if offset is not None:
        assert p.line == line + offset, p.render()
    text = p.render()
    for w in words:
        assert w in text, text


def test_cel_error_points_inside_the_expression(tree):
    file, line = mutate(tree, "require: expert.recommended_by_employer", "require: expert.recommended_by_employr")
    p = [p for p in problems_of(file) if p.code == "unknown_fact"][0]
    source_line = file.read_text(encoding="utf-8").splitlines()[p.line - 1]
    assert source_line[p.column - 1:].startswith("expert.recommended_by_employr")


def test_every_problem_in_a_file_is_reported_sorted(tree):
    mutate(tree, "strength: generally", "strength: generaly")
    file, _ = mutate(tree, "quote: 参选专家应取得", "qoute: 参选专家应取得")
    problems = problems_of(file)
    assert len(problems) >= 2
    assert [p.line for p in problems] == sorted(p.line for p in problems)


def test_source_changed(tree):
    source = tree / POLICY_ID / "source.txt"
    source.write_text(source.read_text(encoding="utf-8").replace("65周岁", "60周岁"), encoding="utf-8")
    problems = problems_of(tree / POLICY_ID / "2025-04-21.yaml")
    assert problems[0].code == "source_sha256"
    assert hashlib.sha256(source.read_bytes()).hexdigest() in problems[0].message


def test_source_missing(tree):
    (tree / POLICY_ID / "source.txt").unlink()
    assert problems_of(tree / POLICY_ID / "2025-04-21.yaml")[0].code == "source_missing"


def test_yaml_bomb_is_refused(tree):
    file = tree / POLICY_ID / "2025-04-21.yaml"
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8))
    file.write_text(bomb, encoding="utf-8")
    problems = problems_of(file)
    assert problems[0].code == "yaml_alias_bomb"
    assert "aliases" in problems[0].message


def test_huge_file_is_refused(tree):
    file = tree / POLICY_ID / "2025-04-21.yaml"
    file.write_text("# " + "x" * (3 * 1024 * 1024), encoding="utf-8")
    assert problems_of(file)[0].code == "file_too_large"


def test_not_utf8(tree):
    file = tree / POLICY_ID / "2025-04-21.yaml"
    file.write_bytes("id: 新疆".encode("gb18030"))
    assert problems_of(file)[0].code == "file_unreadable"


def test_yaml_1_1_booleans_and_dates_stay_text(tree):
    from policy_engine.yamlio import parse
    doc = parse("a: no\nb: on\nc: 2025-04-21\nd: true\n", "x.yaml")
    assert doc.data == {"a": "no", "b": "on", "c": "2025-04-21", "d": True}


def test_merge_keys_are_refused():
    from policy_engine.yamlio import YamlProblem, parse
    with pytest.raises(YamlProblem) as info:
        parse("base: &b {x: 1}\nother:\n  <<: *b\n", "x.yaml")
    assert info.value.problem.line == 3


def test_overlapping_versions_are_refused(tree):
    text = (tree / POLICY_ID / "2025-04-21.yaml").read_text(encoding="utf-8")
    later = text.replace('version: "2025-04-21"', 'version: "2026-01-01"').replace(
        'from: "2025-04-21"', 'from: "2026-01-01"')
    (tree / POLICY_ID / "2026-01-01.yaml").write_text(later, encoding="utf-8")
    policies, problems = load_all([tree])
    assert not problems and len(policies) == 2
    with pytest.raises(PolicyError) as info:
        Registry.of(policies)
    assert info.value.code == "version"
    assert "overlaps" in str(info.value) and "2025-12-31" in str(info.value)


def test_versions_in_sequence_pick_by_date(tree):
    file = tree / POLICY_ID / "2025-04-21.yaml"
    text = file.read_text(encoding="utf-8")
    file.write_text(text.replace('until: "2027-05-20"', 'until: "2025-12-31"'), encoding="utf-8")
    later = text.replace('version: "2025-04-21"', 'version: "2026-01-01"').replace('from: "2025-04-21"', 'from: "2026-01-01"')
    (tree / POLICY_ID / "2026-01-01.yaml").write_text(later, encoding="utf-8")
    registry = Registry.load(tree)
    import datetime as dt
    assert registry.in_force(POLICY_ID, dt.date(2025, 12, 31)).version == "2025-04-21"
    assert registry.in_force(POLICY_ID, dt.date(2026, 1, 1)).version == "2026-01-01"
