"""The Chinese text of verdicts and receipts, and the free text read from policy files."""
from pathlib import Path

import pytest
from click.testing import CliRunner

import policy_engine.yamlio as yamlio
from policy_engine import Registry
from policy_engine.cli import main
from policy_engine.evaluate.verdict import Finding
from policy_engine.report.render import _finding
from policy_engine.yamlio import read

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def registry():
    return Registry.load()


# -- folds between CJK characters ----------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("a: >-\n  第一行，\n  第二行\n", "第一行，第二行"),
    ("a: >-\n  可考虑\n  放宽\n", "可考虑放宽"),
    ("a: >\n  “差”即\n  poor。\n", "“差”即 poor。\n"),  # a Latin word beside the fold keeps its space
    ("a: >-\n  第5\n  条\n", "第5 条"),  # a digit is not CJK: YAML's space stays
    ("a: >-\n  第一段\n\n  第二段\n  续\n", "第一段\n第二段续"),
    ("a: >-\n  已有 空格\n  续写\n", "已有 空格续写"),  # a space written inside a line stays
    ("a: 第一行\n  第二行\n", "第一行第二行"),  # plain multi-line scalars fold too
    ("a: '单''引\n  号'\n", "单'引号"),
    ("a: \"双\n  引\"\n", "双引"),
    ("a: |\n  保\n  留\n", "保\n留\n"),  # a literal block keeps its line breaks
    ("a: >-\n  首行\n    更深缩进\n  尾\n", "首行\n  更深缩进\n尾"),  # more-indented lines: as YAML reads them
    ("a: >-\n  English\n  words\n", "English words"),
])
def test_a_fold_between_two_cjk_characters_joins_without_a_space(text, expected):
    assert yamlio.parse(text, "t.yaml").data["a"] == expected
    saved, yamlio._Composer = yamlio._Composer, yamlio._Loader  # the pure-Python composer gives the same
    try:
        assert yamlio.parse(text, "t.yaml").data["a"] == expected
    finally:
        yamlio._Composer = saved


def test_notes_of_a_real_policy_have_no_space_where_a_line_was_folded(registry):
    path = ROOT / "policies" / "xin-county-iit-expert-pool" / "2021-10-30.yaml"
    source = path.read_text(encoding="utf-8")
    assert "内、\n        判断日以前的评价" in source  # the note is folded in the file
    policy = registry.in_force("xin-county-iit-expert-pool", __import__("datetime").date(2026, 11, 23))
    notes = [r.note for r in policy.triggers + policy.criteria if r.note and "判断日以前的评价" in r.note]
    assert notes and all("内、判断日以前的评价" in n for n in notes)
    assert "“差”即 poor。" in notes[0], "a space written inside a line stays"
    # every free-text key of every bundled policy: no ASCII space left at a fold between CJK characters
    for file in sorted((ROOT / "policies").rglob("*.yaml")):
        doc = read(file)
        stack = [doc.data]
        while stack:
            value = stack.pop()
            if isinstance(value, dict):
                stack.extend(value.values())
            elif isinstance(value, list):
                stack.extend(value)
            elif isinstance(value, str) and " " in value:
                for i, ch in enumerate(value):
                    if ch == " " and 0 < i < len(value) - 1 and yamlio._CJK.match(value[i - 1]) \
                            and yamlio._CJK.match(value[i + 1]):
                        line = value[i - 8:i + 8]
                        assert line in file.read_text(encoding="utf-8"), (file, line)  # written so in one line


# -- values in the text ---------------------------------------------------------------------------

def finding(result, values):
    return Finding(rule="r", result=result, strength="mandatory", cite="第一条", quote="引文", values=values)


def test_booleans_print_in_chinese():
    text = "\n".join(_finding(finding("passed", (("retired", True), ("flags", [True, False]),
                                                  ("members", {"E1": {"retired": False}}))), False))
    assert "retired = 是" in text and "flags = 是、否" in text and '"retired": "否"' in text
    assert "True" not in text and "False" not in text and "true" not in text


def test_values_of_a_rule_that_does_not_apply_are_not_printed():
    assert not any("age" in line for line in _finding(finding("not_applicable", (("age", 68),)), False))
    assert any("age = 68" in line for line in _finding(finding("failed", (("age", 68),)), False))


# -- draw receipts --------------------------------------------------------------------------------

def draw_text(tmp_path, policy, fixture, pool, drop=()):
    data = read(ROOT / "fixtures" / policy / "draw" / f"{fixture}.yaml").data
    request = {k: v for k, v in data["case"].items() if k not in drop}
    (tmp_path / "r.yaml").write_text(__import__("json").dumps(request, ensure_ascii=False), encoding="utf-8")
    r = CliRunner().invoke(main, ["draw", "--policy", policy, "--pool", str(ROOT / "fixtures" / "pools" / pool),
                                  "--request", str(tmp_path / "r.yaml"), "--seed", data["seed"], "--format", "text"],
                           catch_exceptions=False)
    return r.output


def test_a_draw_under_a_text_without_supervision_or_contact_says_neither(tmp_path):
    text = draw_text(tmp_path, "guiyang-petition-expert-pool", "from-the-lawyer-sub-pool", "guiyang-pool.csv")
    assert "监督" not in text.splitlines()[1] and "联系" not in text.splitlines()[2]
    assert "结论：已抽取（drawn）" in text and "待联系确认" not in text and "抽中" in text


def test_a_draw_under_a_text_requiring_supervision_names_it_or_says_it_is_missing(tmp_path, registry):
    name = sorted(p.stem for p in (ROOT / "fixtures" / "xj-iit-expert-pool" / "draw").glob("*.yaml"))[0]
    text = draw_text(tmp_path, "xj-iit-expert-pool", name, "xj-pool.csv")
    assert "监督：厅机关纪委" in text.splitlines()[1]
    text = draw_text(tmp_path, "xj-iit-expert-pool", name, "xj-pool.csv", drop=("supervisor",))
    assert "监督：（未写明）" in text.splitlines()[1]
