"""Coverage (policy_engine/review/coverage.py, `policy-engine coverage`, `test --coverage`) and the
`not_encoded` declaration of the policy format.

The small policy is tests/data/coverage-test: an article with items and sub-items cited in part,
an article with two paragraphs cited as a paragraph and through an exception, and passages
declared not encoded. The bundled policies' own figures are printed (pytest -s), not pinned.
"""
import json
import shutil
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from policy_engine import decide
from policy_engine.cli import main
from policy_engine.policy.loader import check_policy, load_all, load_policy
from policy_engine.review.coverage import coverage_of, golden_documents, seen_in, ways_of

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "tests" / "data" / "coverage-test"
SCHEMA = json.loads((ROOT / "schemas" / "coverage.schema.json").read_text(encoding="utf-8"))
POLICY = {"id": "coverage-test", "version": "2024-01-01"}


@pytest.fixture
def policy():
    return load_policy(HERE / "2024-01-01.yaml")


def copy_with(tmp_path: Path, old: str, new: str) -> Path:
    """The test policy copied into tmp_path with `old` replaced by `new` in its file."""
    folder = tmp_path / "coverage-test"
    shutil.copytree(HERE, folder)
    file = folder / "2024-01-01.yaml"
    text = file.read_text(encoding="utf-8")
    assert old in text
    file.write_text(text.replace(old, new), encoding="utf-8")
    return file


def line_of(file: Path, needle: str) -> int:
    return next(n for n, line in enumerate(file.read_text(encoding="utf-8").split("\n"), 1) if needle in line)


# -- articles, paragraphs, items, sub-items -------------------------------------------------

def test_every_unit_of_the_text_is_classified_in_text_order(policy):
    got = [(a["cite"], a["article"], a["status"], a["rules"], a["reason"])
           for a in coverage_of(policy, []).to_json()["articles"]]
    assert got == [
        ("第一条", "第一条", "not_encoded", [], "制定目的，不设定条件或后果。"),
        ("第二条", "第二条", "cited", ["adult", "lawyer"], None),  # through its items
        ("第二条第（一）项", "第二条", "cited", ["adult"], None),
        ("第二条第（二）项", "第二条", "cited", ["lawyer"], None),  # through its sub-item
        ("第二条第（二）项第1目", "第二条", "cited", ["lawyer"], None),
        ("第二条第（二）项第2目", "第二条", "uncovered", [], None),  # the sibling of a cited sub-item
        ("第二条第（三）项", "第二条", "uncovered", [], None),
        ("第三条", "第三条", "cited", ["absences"], None),
        ("第三条第一款", "第三条", "cited", ["absences"], None),
        ("第三条第（一）项", "第三条", "not_encoded", [], "测试：一个被整款引用的条文中，声明不编码的一项。"),
        ("第三条第（二）项", "第三条", "cited", ["absences"], None),  # its paragraph is cited whole
        ("第三条第二款", "第三条", "cited", ["absences"], None),  # cited by the rule's unless exception
        ("第四条", "第四条", "not_encoded", [], "附则：解释机关。"),
        ("第五条", "第五条", "cited", ["in_force"], None),  # an element without an id: its path
    ]
    totals = coverage_of(policy, []).totals
    assert totals == {"articles": 14, "cited": 9, "not_encoded": 3, "uncovered": 2,
                      "rules": 2 + 1, "both": 0, "one": 0, "never": 3}


def test_an_article_whose_parts_are_all_declared_is_declared(tmp_path):
    file = copy_with(tmp_path, "not_encoded:\n", "not_encoded:\n  - cite: {article: 2, item: 3}\n    reason: 第三项。\n"
                     "  - cite: {article: 2, item: 2, subitem: 2}\n    reason: 第二目。\n")
    statuses = {a.cite: a.status for a in coverage_of(load_policy(file), []).articles}
    assert statuses["第二条第（三）项"] == statuses["第二条第（二）项第2目"] == "not_encoded"
    assert statuses["第二条"] == "cited"  # other parts are cited


def test_a_declaration_changes_no_verdict_only_the_digest(tmp_path, policy):
    bare = copy_with(tmp_path, "not_encoded:\n", "not_encoded_removed:\n")
    text = bare.read_text(encoding="utf-8")
    bare.write_text(text[:text.index("not_encoded_removed:")], encoding="utf-8")
    without = load_policy(bare)
    case = {"person": {"age": 17, "lawyer": True, "absences": 2, "on_business": False}}
    for decision in ("entry", "exit"):
        a = decide(policy, decision, case, "2024-06-01").to_json()
        b = decide(without, decision, case, "2024-06-01").to_json()
        assert a["policy"]["sha256"] != b["policy"]["sha256"]
        a["policy"].pop("sha256"), b["policy"].pop("sha256")
        assert a == b


# -- not_encoded errors ---------------------------------------------------------------------

@pytest.mark.parametrize("old, new, code, message, hint", [
    ("  - cite: {article: 4}\n", "  - cite: {article: 9}\n", "citation", "第九条: the source has no 第九条", "check the article number"),
    ("  - cite: {article: 4}\n", "  - cite: {article: 4, item: 2}\n", "citation", "there is no 第四条第（二）项", "check the article"),
    ("    reason: 附则：解释机关。\n", "    reason: '  '\n", "not_encoded", "the reason is empty", "say why"),
    ("  - cite: {article: 4}\n", "  - cite: {article: 2}\n", "not_encoded",
     "第二条 is declared not encoded, but adult (entry.criteria[0]) cites 第二条第（一）项", "remove the declaration"),
    ("  - cite: {article: 4}\n", "  - cite: {article: 3, paragraph: 2}\n", "not_encoded",
     "but absences (exit.triggers[0].unless[0]) cites 第三条第二款", "declare only"),
    ("  - cite: {article: 4}\n", "  - cite: {article: 3, paragraph: 1, item: 1}\n", "not_encoded",
     "第三条第一款第（一）项 overlaps not_encoded[1]", "declare each passage once"),
    ("  - cite: {article: 4}\n", "  - cite: {article: 4, text: other}\n", "not_encoded", "own source text", "remove text:"),
    ("  - cite: {article: 4}\n", "  - cite: {article: 4, paragraph: 1}\n    through: 5\n", "not_encoded",
     "through: names the last of a range of whole articles", "cite of the first article alone"),
    ("  - cite: {article: 4}\n", "  - cite: {article: 4}\n    through: 9\n", "citation", "the source has no 第九条",
     "check the article number"),
])
def test_a_bad_declaration_is_refused_at_its_line_with_the_fix(tmp_path, old, new, code, message, hint):
    file = copy_with(tmp_path, old, new)
    policy, problems = check_policy(file)
    assert policy is None
    found = [p for p in problems if p.code == code and message in p.message]
    assert found, [p.render() for p in problems]
    assert found[0].file.endswith("2024-01-01.yaml") and hint in (found[0].hint or "")
    assert found[0].line is not None and found[0].line >= line_of(file, "not_encoded:")


def test_the_schema_refuses_a_declaration_without_a_reason_or_with_cite_and_form(tmp_path):
    file = copy_with(tmp_path, "    reason: 附则：解释机关。\n", "")
    assert any(p.code == "schema" for p in check_policy(file)[1])
    file = copy_with(tmp_path / "b", "  - cite: {article: 4}\n", "  - cite: {article: 4}\n    form: {appendix: 1}\n")
    assert any(p.code == "schema" for p in check_policy(file)[1])


# -- rules: which results were seen --------------------------------------------------------

def verdict(decision, *findings, policy=POLICY):
    return {"policy": dict(policy, sha256="0" * 64), "decision": decision,
            "findings": [{"rule": r, "result": res} for r, res in findings]}


def test_rules_are_seen_both_ways_one_way_or_never(policy):
    results = [verdict("entry", ("adult", "passed"), ("lawyer", "unknown")),
               verdict("entry", ("adult", "failed"), ("lawyer", "unknown")),
               verdict("exit", ("absences", "exempt")),
               verdict("exit", ("absences", "fired"), policy={"id": "coverage-test", "version": "2023-01-01"}),
               verdict("exit", ("absences", "fired"), policy={"id": "another", "version": "2024-01-01"})]
    got = {r["rule"]: (r["seen"], r["ways"]) for r in coverage_of(policy, results).to_json()["rules"]}
    assert got == {"adult": ({"failed": 1, "passed": 1}, "both"),
                   "lawyer": ({"unknown": 2}, "never"),
                   "absences": ({"exempt": 1}, "never")}  # other versions and policies do not count
    results.append(verdict("exit", ("absences", "not_fired")))
    assert coverage_of(policy, results).to_json()["rules"][2]["ways"] == "one"


@pytest.mark.parametrize("kind, seen, ways", [
    ("criterion", {"passed": 3, "failed": 1}, "both"),
    ("criterion", {"passed": 3, "not_applicable": 4}, "one"),  # applies_when false: the condition not judged
    ("trigger", {"fired": 1, "not_fired": 2, "unknown": 1}, "both"),
    ("trigger", {"unknown": 1, "error": 1, "exempt": 2}, "never"),
    ("term", {"running": 5, "lapsed": 1}, "both"),
    ("category", {"member": 1, "not_member": 1}, "both"),
    ("scope", {"applies": 1, "not_applicable": 1}, "both"),  # for scope entries not_applicable is the negative
    ("measure", {"applies": 2, "not_available": 1}, "one"),
    ("provision", {"applies": 2, "not_applicable": 1}, "both"),
    ("apportion", {"assigned": 1, "not_fired": 2}, "both"),
    ("criterion", {}, "never"),
])
def test_ways_by_result(kind, seen, ways):
    assert ways_of(kind, seen) == ways


def test_every_result_value_in_the_goldens_is_classified():
    """A result the engine gives that the table does not know would silently count as neither way."""
    from policy_engine.review import coverage as c
    known = c.POSITIVE | c.NEGATIVE | {"unknown", "error", "exempt", "not_applicable", "not_available", "scored"}
    docs, problems = golden_documents(ROOT / "fixtures")
    assert not problems
    results = {f["result"] for d in docs for f in d.get("findings") or []}
    results |= {t["result"] for d in docs for g in d.get("groups") or [] for c_ in g.get("candidates") or []
                for t in c_.get("to_confirm") or []}
    assert results and results <= known, results - known
    enum = json.loads((ROOT / "schemas" / "verdict.schema.json").read_text())["$defs"]["finding"]["properties"]["result"]["enum"]
    assert set(enum) <= known


def test_a_receipt_counts_passed_over_as_fired_and_each_candidate_as_its_to_confirm_or_not_fired():
    policies, problems = load_all([ROOT / "policies" / "bidding-law-regs"])
    assert not problems
    (policy,) = policies
    file = ROOT / "fixtures" / "bidding-law-regs" / "draw" / "interest-unknown-confirm-at-contact.receipt.json"
    receipt = json.loads(file.read_text(encoding="utf-8"))
    seen = seen_in(policy, [receipt])
    candidates = [c for g in receipt["groups"] for c in g["candidates"]]
    for applied in receipt["rules"]:
        counts = seen[applied["rule"]]
        confirm = sum(1 for c in candidates for t in c.get("to_confirm", []) if t["rule"] == applied["rule"])
        assert counts.get("fired", 0) == applied["excluded"]
        assert counts.get("unknown", 0) + counts.get("error", 0) == confirm == applied["to_confirm"]
        assert counts.get("not_fired", 0) == len(candidates) - confirm
    assert any(a["to_confirm"] for a in receipt["rules"])


def test_apportionment_counts_the_rules_before_the_one_that_assigned_as_not_fired():
    policies, _ = load_all([ROOT / "policies" / "chongqing-petition-responsibility"])
    (policy,) = policies
    order = [r.id for r, _ in policy.apportionment.rules]
    doc = verdict("apportion", (order[2], "assigned"), (policy.apportionment.otherwise.id, "none"),
                  policy={"id": policy.id, "version": policy.version})
    seen = seen_in(policy, [doc])
    assert [seen[r].get("not_fired", 0) for r in order[:3]] == [2, 2, 1]
    assert seen[order[2]]["assigned"] == 1 and all(seen[r]["not_fired"] == 1 for r in order[3:])


# -- the command line --------------------------------------------------------------------------

def run(*args):
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def goldens(tmp_path):
    folder = tmp_path / "fixtures"
    (folder / "entry").mkdir(parents=True)
    for i, (rule, result) in enumerate([("adult", "passed"), ("adult", "failed"), ("lawyer", "passed")]):
        (folder / "entry" / f"c{i}.verdict.json").write_text(json.dumps(verdict("entry", (rule, result))))
    return folder


def test_cli_text(goldens):
    out = run("coverage", "--policies", str(ROOT / "tests" / "data" / "coverage-test"), "--fixtures", str(goldens),
              "--policy", "coverage-test")
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0] == ("coverage-test 2024-01-01: articles 5 (cited 3, not encoded 2, uncovered 0); all units 14 "
                        "(cited 9, not encoded 3, uncovered 2; 85.7% cited or declared); rules 3 (both ways 1, one way "
                        "1, never 1; 33.3% both ways)")
    assert lines[1] == "  uncovered: 第二条第（二）项第2目, 第二条第（三）项"
    assert "  one   lawyer (entry, 第二条第（二）项第1目): passed 1" in lines
    assert "  never absences (exit, 第三条第一款): no finding" in lines


def test_cli_json_validates_against_the_published_schema(goldens):
    out = run("coverage", "--policies", str(ROOT / "tests" / "data" / "coverage-test"), "--fixtures", str(goldens), "--format", "json")
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    (one,) = [p for p in doc["policies"] if p["policy"]["id"] == "coverage-test"]
    assert list(one) == ["policy", "articles", "rules", "totals"]
    assert one["rules"][0] == {"rule": "adult", "decision": "entry", "cite": "第二条第（一）项",
                               "seen": {"failed": 1, "passed": 1}, "ways": "both"}


@pytest.mark.parametrize("args, code", [
    (("--fail-under-rules", "33"), 0), (("--fail-under-rules", "34"), 1),
    (("--fail-under-articles", "85.7"), 0), (("--fail-under-articles", "86"), 1),
    (("--fail-under-rules", "0", "--fail-under-articles", "100"), 1),
])
def test_cli_thresholds(goldens, args, code):
    out = CliRunner().invoke(main, ["coverage", "--policies", str(ROOT / "tests" / "data" / "coverage-test"), "--fixtures", str(goldens),
                                      "--policy", "coverage-test", *args])
    assert out.exit_code == code, out.output
    if code:
        assert "coverage-test 2024-01-01:" in out.stderr and "under" in out.stderr


def test_cli_unknown_policy_and_help():
    out = run("coverage", "--policy", "no-such-policy")
    assert out.exit_code == 5 and "no policy has the id 'no-such-policy'" in out.output
    out = run("coverage", "--help")
    assert out.exit_code == 0 and "--fail-under-rules" in out.output and "not_encoded" in out.output


def test_test_coverage_prints_each_policy_after_the_run(goldens, tmp_path):
    out = run("test", "--policies", str(ROOT / "tests" / "data" / "coverage-test"), "--fixtures", str(goldens),
              "--coverage")
    assert "coverage:" in out.output
    assert "coverage-test 2024-01-01: articles 5" in out.output.split("coverage:")[1]


# -- the bundled policies ---------------------------------------------------------------------

def test_bundled_policies_coverage_is_reported():
    policies, problems = load_all([ROOT / "policies"])
    assert not problems
    docs, problems = golden_documents(ROOT / "fixtures")
    assert not problems
    for policy in sorted(policies, key=lambda p: p.id):
        c = coverage_of(policy, docs)
        jsonschema.Draft202012Validator(SCHEMA).validate({"policies": [c.to_json()]})
        print(c.render_text(detail=False))
        t = c.totals
        assert t["cited"] + t["not_encoded"] + t["uncovered"] == t["articles"] == len(policy.units)
        assert t["both"] + t["one"] + t["never"] == t["rules"]
        assert policy.not_encoded, f"{policy.id}: no passage declared not encoded"
        assert all(d.reason.strip() for d in policy.not_encoded)
        first = c.articles[0]
        assert first.cite == "第一条" and first.status == "not_encoded", "the purpose article is declared"
        # every finding of the goldens names a rule the policy has, or an element that is not a rule here
        rules = {r.rule for r in c.rules}
        assert rules, policy.id


def test_every_rule_of_the_bundled_policies_is_seen_both_ways_by_the_goldens():
    """The suite's own gate (as `coverage --fail-under-rules 100` would be in a CI of a policy
    repository): a rule the goldens see only passing, or only failing, is a rule whose other side no
    case checks. A policy change that leaves a rule one-way needs the golden case that closes it."""
    policies, problems = load_all([ROOT / "policies"])
    assert not problems
    docs, problems = golden_documents(ROOT / "fixtures")
    assert not problems
    one_way = [f"{p.id} {r.rule} ({r.decision}, {r.cite}): {dict(r.seen)}"
               for p in policies for r in coverage_of(p, docs).rules if r.ways != "both"]
    assert not one_way, "rules the goldens see one way only or never:\n" + "\n".join(one_way)
