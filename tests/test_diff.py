"""policy-engine diff: two versions of a policy decided over a corpus of cases, compared by substance.

Every input form (two files, two folders, a folder against a git revision, the versions in force on
two dates), every corpus form (the goldens, a folder, one case file, JSON lines, both sides'
goldens), every output format (text, JSON validated by schemas/diff.schema.json, Markdown, HTML),
the exit codes, and bad input reported without a traceback.
"""
import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from policy_engine.cli import main

ROOT = Path(__file__).resolve().parent.parent
XJ = "xj-iit-expert-pool"
CURRENT = ROOT / "policies" / XJ / "2025-04-21.yaml"
REVISION = ROOT / "examples" / "revision" / XJ / "2027-05-21.yaml"
AGE_RULE = "age_at(expert.birth_date, as_of) <= 65"
SCHEMA = json.loads((ROOT / "schemas" / "diff.schema.json").read_text(encoding="utf-8"))
AT_65 = "entry/eligible-age-65-day-before-66th-birthday.yaml"


@pytest.fixture
def run():
    runner = CliRunner()

    def invoke(*args):
        result = runner.invoke(main, ["diff", *[str(a) for a in args]], catch_exceptions=False)
        assert "Traceback" not in result.output
        return result
    return invoke


def _json(result) -> dict:
    data = json.loads(result.stdout)
    jsonschema.Draft202012Validator(SCHEMA).validate(data)
    return data


def _policies_copy(folder: Path, old: str | None = None, new: str | None = None) -> Path:
    """A copy of the bundled policies with one replacement in the Xinjiang policy file."""
    shutil.copytree(ROOT / "policies", folder)
    if old is not None:
        file = folder / XJ / "2025-04-21.yaml"
        text = file.read_text(encoding="utf-8")
        assert text.count(old) == 1, old
        file.write_text(text.replace(old, new), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def at_64(tmp_path_factory) -> Path:
    """The issue's experiment: in a copy of the policies, the Xinjiang age limit `<= 65` became `<= 64`."""
    return _policies_copy(tmp_path_factory.mktemp("at64") / "policies", AGE_RULE,
                          "age_at(expert.birth_date, as_of) <= 64")


@pytest.fixture(scope="module")
def entry_cases(tmp_path_factory) -> Path:
    """A small folder of cases (entry goldens of the Xinjiang policy), for the slower forms."""
    folder = tmp_path_factory.mktemp("cases")
    for name in ("eligible-age-65-day-before-66th-birthday", "eligible-senior-engineer",
                 "needs-review-on-66th-birthday", "ineligible-health-condition"):
        shutil.copy(ROOT / "fixtures" / XJ / "entry" / f"{name}.yaml", folder / f"{name}.yaml")
    return folder


# -- the experiment ------------------------------------------------------------------------

def test_the_64_experiment_is_exactly_one_outcome_change_over_the_goldens(run, at_64):
    r = run(CURRENT, at_64 / XJ / "2025-04-21.yaml", "--format", "json")
    assert r.exit_code == 1, r.output
    d = _json(r)
    assert d["corpus"]["cases"] >= 100
    assert [[c["case"] for c in g["cases"]] for g in d["outcome_changes"]] == [[AT_65]]
    group = d["outcome_changes"][0]
    assert group["rules"] == [{"rule": "age", "cite": "第五条第（五）项"}]
    case = group["cases"][0]
    assert (case["before"], case["after"]) == ("eligible", "needs_review")
    assert case["lines"][0] == "outcome: eligible → needs_review"
    assert d["findings_changes"] == [] and d["errors"] == []
    assert d["unchanged"] == d["corpus"]["cases"] - 1
    assert d["rules"] == {"added": [], "removed": [], "changed": [{"rule": "age", "cite": "第五条第（五）项",
                                                                   "fields": ["condition"]}]}
    assert d["quotes"] == [] and d["articles"] == []  # the same source text


# -- the worked example (README) -------------------------------------------------------------------

def test_the_illustrative_revision_lists_outcome_changes_by_rule_and_article_and_the_changed_wording(run):
    r = run(CURRENT, REVISION)
    assert r.exit_code == 1, r.output
    text = r.stdout
    assert text.startswith(f"{XJ}: 2025-04-21（2025-04-21 至 2027-05-20） → 2027-05-21（2027-05-21 至 2029-05-20）")
    head = text.index("结论改变 (outcome changes):")
    assert head < text.index("规则 (rules):") < text.index("原文条文改变")
    assert f"  第五条第（五）项 age\n    {AT_65} [entry]: eligible → needs_review" in text
    assert "  第十四条 yearly-review-cap\n    panel/member-at-nine-reviews.yaml [panel]: compliant → needs_review" in text
    assert "    - （五）具备履行专家职责的时间精力、身体条件和个人意愿，年龄一般不超过【65】周岁；" in text
    assert "    + （五）具备履行专家职责的时间精力、身体条件和个人意愿，年龄一般不超过【60】周岁；" in text
    assert "所引款项文字改变：age、time-health-willingness" in text

    d = _json(run(CURRENT, REVISION, "--format", "json"))
    by_rule = {tuple(r["rule"] for r in g["rules"]): [c["case"] for c in g["cases"]] for g in d["outcome_changes"]}
    assert AT_65 in by_rule[("age",)]
    assert "panel/member-at-nine-reviews.yaml" in by_rule[("yearly-review-cap",)]
    assert ("candidates", "yearly-review-cap") in by_rule  # a draw that now falls short of three times
    changed = {c["rule"]: c["fields"] for c in d["rules"]["changed"]}
    assert set(changed) == {"age", "yearly-review-cap"}
    assert {"quote", "condition"} <= set(changed["age"])
    articles = {a["article"]: a for a in d["articles"]}
    assert set(articles) == {"第五条", "第十四条", "第二十一条"}
    assert "age" in articles["第五条"]["rules"] and articles["第五条"]["change"] == "changed"
    assert articles["第十四条"]["rules"] == ["yearly-review-cap"]
    assert "in_force" in articles["第二十一条"]["rules"]
    assert "年龄一般不超过60周岁" in articles["第五条"]["after"]
    assert d["quotes"] == []


# -- input forms -----------------------------------------------------------------------------------

def test_two_policies_folders_with_a_folder_of_cases(run, at_64, entry_cases):
    r = run(ROOT / "policies", at_64, "--policy", XJ, "--cases", entry_cases, "--format", "json")
    assert r.exit_code == 1, r.output
    d = _json(r)
    assert d["corpus"]["cases"] == 4 and d["unchanged"] == 3
    assert d["outcome_changes"][0]["cases"][0]["case"] == "eligible-age-65-day-before-66th-birthday.yaml"


def test_a_policy_folder_takes_its_newest_version(run, at_64, entry_cases):
    r = run(ROOT / "policies" / XJ, at_64 / XJ, "--cases", entry_cases, "--format", "json")
    assert r.exit_code == 1, r.output
    assert _json(r)["after"]["version"] == "2025-04-21"


def test_a_folder_against_a_git_revision(run, tmp_path, entry_cases):
    repo = tmp_path / "repo"
    _policies_copy(repo / "policies")
    git = ["git", "-C", str(repo), "-c", "user.email=reviewer@example.org", "-c", "user.name=reviewer"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "policies as in force"], check=True)
    file = repo / "policies" / XJ / "2025-04-21.yaml"
    file.write_text(file.read_text(encoding="utf-8").replace(AGE_RULE, "age_at(expert.birth_date, as_of) <= 64"),
                    encoding="utf-8")
    r = run(repo / "policies", "--against", "HEAD", "--policy", XJ, "--cases", entry_cases, "--format", "json")
    assert r.exit_code == 1, r.output
    d = _json(r)
    assert [g["rules"] for g in d["outcome_changes"]] == [[{"rule": "age", "cite": "第五条第（五）项"}]]
    assert d["before"]["sha256"] != d["after"]["sha256"]
    # the policy's own folder, or its file, against the revision: the same comparison
    for path in (repo / "policies" / XJ, file):
        again = _json(run(path, "--against", "HEAD", "--cases", entry_cases, "--format", "json"))
        assert again["outcome_changes"] == d["outcome_changes"]
    r = run(repo / "policies", "--against", "no-such-revision", "--policy", XJ, "--cases", entry_cases)
    assert r.exit_code == 2 and "no-such-revision" in r.output


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory) -> Path:
    """A copy of the policies holding the illustrative revision as the Xinjiang policy's second version."""
    folder = _policies_copy(tmp_path_factory.mktemp("dated") / "policies")
    text = REVISION.read_text(encoding="utf-8").replace("file: source.txt", "file: source-2027-05-21.txt")
    (folder / XJ / "2027-05-21.yaml").write_text(text, encoding="utf-8")
    shutil.copy(REVISION.parent / "source.txt", folder / XJ / "source-2027-05-21.txt")
    return folder


def test_the_versions_in_force_on_two_dates(run, two_versions, entry_cases):
    r = run("--policies", two_versions, "--policy", XJ, "--on", "2028-01-01", "--against-on", "2026-01-01",
            "--cases", entry_cases, "--format", "json")
    assert r.exit_code == 1, r.output
    d = _json(r)
    assert (d["before"]["version"], d["after"]["version"]) == ("2025-04-21", "2027-05-21")
    assert {a["article"] for a in d["articles"]} == {"第五条", "第十四条", "第二十一条"}
    # same date on both sides: nothing to review
    r = run("--policies", two_versions, "--policy", XJ, "--on", "2026-01-01", "--against-on", "2026-02-01",
            "--cases", entry_cases)
    assert r.exit_code == 0, r.output
    r = run("--policies", two_versions, "--policy", XJ, "--on", "2031-01-01", "--against-on", "2026-01-01",
            "--cases", entry_cases)
    assert r.exit_code == 5 and "2031-01-01" in r.output


def test_the_library_reads_the_source_texts_of_registry_policies(two_versions, entry_cases):
    from policy_engine.policy.registry import Registry
    from policy_engine.review.diff import diff_policies, read_cases
    registry = Registry.load(str(two_versions))
    old, new = registry.get(XJ, "2025-04-21"), registry.get(XJ, "2027-05-21")
    d = diff_policies(old, new, read_cases(entry_cases, XJ), corpus="entry cases")
    assert [a["article"] for a in d.articles] == ["第五条", "第十四条", "第二十一条"]
    assert d.exit_code() == 1 and d.to_json()["corpus"] == {"source": "entry cases", "cases": 4}


# -- corpus forms ----------------------------------------------------------------------------------

def test_a_json_lines_corpus_with_a_draw_and_one_case_file(run, at_64, tmp_path):
    fixture = json.loads(json.dumps(__import__("yaml").safe_load(
        (ROOT / "fixtures" / XJ / "draw" / "five-experts-fifteen-candidates.yaml").read_text(encoding="utf-8"))))
    pool = ROOT / "fixtures" / "pools" / Path(fixture["pool"]).name
    lines = [
        {"name": "at-65", "decision": "entry", "as_of": "2026-11-23",
         "case": {"expert": {"birth_date": "1961-01-01"}}},
        {"decision": "draw", "seed": fixture["seed"], "pool": str(pool), "case": fixture["case"]},
    ]
    cases = tmp_path / "cases.jsonl"
    cases.write_text("# the reviewer's own cases\n" + "\n".join(json.dumps(x, ensure_ascii=False) for x in lines)
                     + "\n", encoding="utf-8")
    one = ROOT / "fixtures" / XJ / "entry" / "eligible-senior-engineer.yaml"
    d = _json(run(CURRENT, at_64 / XJ / "2025-04-21.yaml", "--cases", cases, "--cases", one, "--format", "json"))
    assert d["corpus"]["cases"] == 3 and d["unchanged"] == 2 and d["outcome_changes"] == []
    # facts missing: undetermined either way, but the age rule now fails
    assert d["findings_changes"] == [{"case": "at-65", "decision": "entry",
                                      "lines": ["rule age (第五条第（五）项): passed → failed"]}]
    assert d["corpus"]["source"] == f"{cases}, {one.relative_to(ROOT)}"


def test_both_sides_goldens(run, tmp_path):
    """Each side's fixtures/<policy>/ beside its policies folder; a case both hold unchanged counts once."""
    sides = []
    for side, cases in (("old", ("eligible-senior-engineer", "eligible-age-65-day-before-66th-birthday")),
                        ("new", ("eligible-senior-engineer", "needs-review-on-66th-birthday"))):
        policies = _policies_copy(tmp_path / side / "policies", *(
            (AGE_RULE, "age_at(expert.birth_date, as_of) <= 64") if side == "new" else (None, None)))
        goldens = tmp_path / side / "fixtures" / XJ / "entry"
        goldens.mkdir(parents=True)
        for name in cases:
            shutil.copy(ROOT / "fixtures" / XJ / "entry" / f"{name}.yaml", goldens)
        sides.append(policies)
    d = _json(run(*sides, "--policy", XJ, "--both-goldens", "--format", "json"))
    assert d["corpus"]["cases"] == 3
    assert [c["case"] for g in d["outcome_changes"] for c in g["cases"]] == [f"entry/{AT_65.split('/')[1]}"]


def test_a_fixtures_folder_given(run, at_64, tmp_path):
    golden = tmp_path / "goldens" / XJ / "entry"
    golden.mkdir(parents=True)
    shutil.copy(ROOT / "fixtures" / AT_65.replace("entry/", f"{XJ}/entry/"), golden)
    d = _json(run(CURRENT, at_64 / XJ / "2025-04-21.yaml", "--fixtures", tmp_path / "goldens", "--format", "json"))
    assert d["corpus"]["cases"] == 1 and len(d["outcome_changes"]) == 1


# -- output formats --------------------------------------------------------------------------------

def test_markdown_and_html(run, tmp_path):
    md = run(CURRENT, REVISION, "--format", "markdown")
    assert md.exit_code == 1
    assert md.stdout.startswith(f"# {XJ}: 2025-04-21 → 2027-05-21")
    assert md.stdout.index("## 结论改变") < md.stdout.index("## 规则") < md.stdout.index("## 原文条文改变")
    assert "- （五）具备履行专家职责的时间精力、身体条件和个人意愿，年龄一般不超过【65】周岁；" in md.stdout
    out = tmp_path / "diff.html"
    r = run(CURRENT, REVISION, "--format", "html", "-o", out)
    assert r.exit_code == 1 and r.stdout == ""
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "http" not in page.split("<body>")[0]  # nothing fetched
    assert "<del>65</del>" in page and "<ins>60</ins>" in page
    assert AT_65 in page and "第五条第（五）项 <code>age</code>" in page


def test_text_is_deterministic(run, at_64):
    a = run(CURRENT, at_64 / XJ / "2025-04-21.yaml", "--cases", ROOT / "fixtures" / XJ / "entry")
    b = run(CURRENT, at_64 / XJ / "2025-04-21.yaml", "--cases", ROOT / "fixtures" / XJ / "entry")
    assert a.stdout == b.stdout and a.exit_code == b.exit_code == 1


# -- exit codes ------------------------------------------------------------------------------------

def test_identity_only_exits_0_and_findings_only_exits_6(run, tmp_path, entry_cases):
    noted = _policies_copy(tmp_path / "noted", "note: 不超过65周岁含65周岁，", "note: 不超过六十五周岁含六十五周岁，")
    r = run(CURRENT, noted / XJ / "2025-04-21.yaml", "--cases", entry_cases, "--format", "json")
    assert r.exit_code == 0, r.output
    d = _json(r)
    assert d["unchanged"] == 4 and d["rules"]["changed"] == [{"rule": "age", "cite": "第五条第（五）项", "fields": ["note"]}]
    shown = _policies_copy(tmp_path / "shown", 'as_of) <= 65\n      show: {age: "age_at(expert.birth_date, as_of)"}',
                           'as_of) <= 65\n      show: {years: "age_at(expert.birth_date, as_of)"}')
    r = run(CURRENT, shown / XJ / "2025-04-21.yaml", "--cases", entry_cases, "--format", "json")
    assert r.exit_code == 6, r.output
    d = _json(r)
    assert d["outcome_changes"] == [] and len(d["findings_changes"]) == 4
    assert any("values" in line for line in d["findings_changes"][0]["lines"])


def test_quotes_that_no_longer_verify_are_reported_not_refused(run, tmp_path, entry_cases):
    folder = tmp_path / "revision" / XJ
    shutil.copytree(REVISION.parent, folder)
    file = folder / REVISION.name
    file.write_text(file.read_text(encoding="utf-8").replace("quote: 年龄一般不超过60周岁", "quote: 年龄一般不超过65周岁"),
                    encoding="utf-8")
    d = _json(run(CURRENT, file, "--cases", entry_cases, "--format", "json"))
    assert d["quotes"] == [{"rule": "age", "cite": "第五条第（五）项", "quote": "年龄一般不超过65周岁",
                            "message": "not in 第五条第（五）项; the source now reads: “年龄一般不超过60周岁”"}]
    assert "age" in d["articles"][0]["rules"]


# -- bad input -------------------------------------------------------------------------------------

def test_bad_input_is_named_without_a_traceback(run, tmp_path, at_64, entry_cases):
    r = run(CURRENT, tmp_path / "missing.yaml")
    assert r.exit_code == 2 and "does not exist" in r.output
    r = run(ROOT / "policies", at_64, "--policy", "no-such-policy", "--cases", entry_cases)
    assert r.exit_code == 5 and "no-such-policy" in r.output
    r = run(ROOT / "policies", at_64, "--cases", entry_cases)
    assert r.exit_code == 2 and "--policy" in r.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"decision": "entry", "as_of": "2026-11-23", "case": {}}\n{"decision": "entry", oops}\n',
                   encoding="utf-8")
    r = run(CURRENT, at_64 / XJ / "2025-04-21.yaml", "--cases", bad)
    assert r.exit_code == 2 and f"{bad}:2:" in r.output and "not JSON" in r.output
    nodate = tmp_path / "nodate.jsonl"
    nodate.write_text('{"decision": "entry", "case": {}}\n', encoding="utf-8")
    r = run(CURRENT, at_64 / XJ / "2025-04-21.yaml", "--cases", nodate)
    assert r.exit_code == 2 and f"{nodate}:1" in r.output and "as_of" in r.output
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "case.yaml").write_text("decision: entry\nas_of: [unclosed\n", encoding="utf-8")
    r = run(CURRENT, at_64 / XJ / "2025-04-21.yaml", "--cases", broken)
    assert r.exit_code == 2 and "case.yaml:" in r.output
    other = ROOT / "policies" / "guiyang-petition-expert-pool"
    r = run(CURRENT, next(other.glob("*.yaml")), "--cases", entry_cases)
    assert r.exit_code == 2 and "different policies" in r.output
    r = run("--policy", XJ, "--on", "2026-01-01")
    assert r.exit_code == 2 and "--against-on" in r.output
    r = run(CURRENT, at_64 / XJ / "2025-04-21.yaml", "--on", "2026-01-01", "--against-on", "2025-06-01")
    assert r.exit_code == 2
    invalid = _policies_copy(tmp_path / "invalid", "strength: generally\n      require: age_at",
                             "strength: sometimes\n      require: age_at")
    r = run(CURRENT, invalid / XJ / "2025-04-21.yaml", "--cases", entry_cases)
    assert r.exit_code == 3 and "2025-04-21.yaml:" in r.output


def test_help_teaches(run):
    r = run("--help")
    assert r.exit_code == 0
    for words in ("--against REV", "--on", "--against-on", "--cases", "--both-goldens", "Examples:",
                  "examples/revision/xj-iit-expert-pool/2027-05-21.yaml", "Exit codes", "6"):
        assert words in r.output, words
