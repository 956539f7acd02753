"""report/substance.py: what in a stored answer is substance and what is identity, every level of
`compare`, and every identity path, on real golden files (a verdict, a draw receipt, a rejection)."""
import copy
import json
from pathlib import Path

import pytest

from policy_engine.report.golden import default_fixture_dir
from policy_engine.report.substance import IDENTITY, IDENTITY_NAMES, LEVELS, Change, compare, identity_names, substance

FIXTURES = default_fixture_dir()
VERDICT = FIXTURES / "xj-iit-expert-pool" / "entry" / "eligible-age-65-day-before-66th-birthday.verdict.json"
RECEIPT = FIXTURES / "xj-iit-expert-pool" / "draw" / "application-not-approved-refused.receipt.json"
REJECTED = FIXTURES / "xin-county-iit-expert-pool" / "score" / "grade-good-not-a-county-grade-rejected.rejected.json"


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


# -- same --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [VERDICT, RECEIPT, REJECTED], ids=["verdict", "receipt", "rejection"])
def test_equal_documents_are_the_same(path):
    doc = load(path)
    change = compare(doc, copy.deepcopy(doc))
    assert change == Change("same") and not change.substantive and change.to_json() == {
        "level": "same", "lines": [], "identity": []}


# -- identity: every path of IDENTITY, alone, leaves the substance as it was ---------------------------------

def _set(doc, path, value) -> bool:
    """Change the value at `path` in the first element of each list ("*") that has the rest of the path."""
    head, rest = path[0], path[1:]
    if head == "*":
        return any(_set(item, rest, value) for item in doc if isinstance(item, dict))
    if not rest:
        doc[head] = value
        return True
    return head in doc and _set(doc[head], rest, value)


def _doc_with(path) -> dict:
    """A real golden document that has the identity path's parent (the key itself may be new)."""
    kind = {"problems": ".rejected.json", "rules": ".receipt.json", "provisions": ".receipt.json",
            "groups": ".receipt.json"}.get(path[0], ".verdict.json")
    for f in sorted(FIXTURES.rglob(f"*{kind}")):
        doc = load(f)
        if _set(copy.deepcopy(doc), path, "x") and (len(path) < 2 or path[0] in doc):
            return doc
    raise AssertionError(f"no golden file {kind} with {path}")


@pytest.mark.parametrize("path", IDENTITY, ids=[".".join(p) for p in IDENTITY])
def test_each_identity_path_alone_is_identity(path):
    before = _doc_with(path)
    after = copy.deepcopy(before)
    assert _set(after, path, "另一种措辞 another wording"), path
    change = compare(before, after)
    assert change.level == "identity" and change.lines == () and not change.substantive, change
    assert change.identity and all(p.split(".")[0].split("[")[0] == path[0] for p in change.identity)
    assert identity_names(change.identity) == (IDENTITY_NAMES[path],)
    assert substance(before) == substance(after)


def test_the_policy_digest_engine_and_trace_together_name_each_once_in_order():
    before = load(VERDICT)
    after = copy.deepcopy(before)
    after["trace"][0]["expression"] += " && true"
    after["policy"]["sha256"] = "0" * 64
    after["engine"]["version"] = "9.9.9"
    after["findings"][1]["title"] = "另一标题"
    change = compare(before, after)
    assert change.level == "identity"
    assert set(change.identity) == {"policy.sha256", "engine.version", "trace[0].expression", "findings[1].title"}
    assert identity_names(change.identity) == ("policy digest", "engine release", "trace", "titles and notes")


def test_a_trace_that_grows_or_a_note_that_appears_is_identity():
    before = load(VERDICT)
    after = copy.deepcopy(before)
    after["trace"].append({"rule": "x", "part": "require", "expression": "true", "value": True})
    after["findings"][0]["note"] = "新加的说明"
    change = compare(before, after)
    assert change.level == "identity" and set(change.identity) == {"trace", "findings[0].note"}


def test_substance_leaves_the_document_as_it_was_and_drops_only_identity():
    doc = load(RECEIPT)
    kept = copy.deepcopy(doc)
    out = substance(doc)
    assert doc == kept
    assert "engine" not in out and "sha256" not in out["policy"] and out["policy"]["id"] == doc["policy"]["id"]
    assert all("title" not in f and "note" not in f for f in out["findings"])
    assert all("quote" in f and "cite" in f and "result" in f for f in out["findings"])  # the law's words stay
    assert out["pool"] == doc["pool"] and out["seed"] == doc["seed"]  # a receipt's pool digest is substance


# -- findings: substance changed, the outcome did not ------------------------------------------------------------

@pytest.mark.parametrize("key,value", [("quote", "另一段引文"), ("cite", "第六条"), ("strength", "generally"),
                                       ("values", {"age": 66})])
def test_a_finding_changed_in_substance_is_a_findings_change(key, value):
    before = load(VERDICT)
    after = copy.deepcopy(before)
    rule = after["findings"][2]["rule"]
    after["findings"][2][key] = value
    change = compare(before, after)
    assert change.level == "findings" and change.substantive
    assert len(change.lines) == 1 and change.lines[0].startswith(f"rule {rule}: {key}")


def test_missing_facts_and_the_date_are_substance():
    before = load(VERDICT)
    after = copy.deepcopy(before)
    after["missing_facts"] = ["expert.birth_date"]
    after["as_of"] = "2030-01-01"
    change = compare(before, after)
    assert change.level == "findings"
    assert change.lines == (f'as_of: {before["as_of"]} → 2030-01-01', 'missing_facts: [] → ["expert.birth_date"]')


def test_a_finding_result_changed_under_the_same_outcome_names_the_rule_and_article():
    before = load(VERDICT)
    after = copy.deepcopy(before)
    f = after["findings"][3]
    f["result"] = "unknown"
    change = compare(before, after)
    assert change.level == "findings" and change.lines == (f"rule {f['rule']} ({f['cite']}): passed → unknown",)


def test_a_finding_added_or_removed_is_one_line_not_every_later_finding():
    before = load(VERDICT)
    after = copy.deepcopy(before)
    gone = after["findings"].pop(1)
    change = compare(before, after)
    assert change.level == "findings"
    assert change.lines == (f"rule {gone['rule']} ({gone['cite']}): removed (was {gone['result']})",)
    back = compare(after, before)
    assert back.lines == (f"rule {gone['rule']} ({gone['cite']}): added, {gone['result']}",)


def test_findings_in_another_order_say_so():
    before = load(VERDICT)
    after = copy.deepcopy(before)
    after["findings"][0], after["findings"][1] = after["findings"][1], after["findings"][0]
    change = compare(before, after)
    assert change.level == "findings" and change.lines == ("findings: the same rules in another order",)


def test_a_rule_judged_per_act_is_named_by_its_occurrence():
    finding = {"rule": "act", "result": "fired", "cite": "第九条", "quote": "q", "title": "t"}
    before = {"outcome": "warning", "findings": [dict(finding), dict(finding), dict(finding, rule="other")]}
    after = copy.deepcopy(before)
    after["findings"][1]["result"] = "not_fired"
    after["findings"][1]["title"] = "changed wording"  # identity beside it
    change = compare(before, after)
    assert change.level == "findings" and change.lines == ("rule act (#2) (第九条): fired → not_fired",)
    assert change.identity == ("findings[1].title",)


def test_a_receipt_s_request_and_candidates_are_substance():
    before = load(RECEIPT)
    after = copy.deepcopy(before)
    after["request"]["count"] = before["request"]["count"] + 1
    change = compare(before, after)
    assert change.level == "findings" and change.lines == (
        f"request.count: {before['request']['count']} → {before['request']['count'] + 1}",)


def test_a_rejection_s_problem_path_is_substance_its_message_identity():
    before = load(REJECTED)
    after = copy.deepcopy(before)
    after["problems"][0]["path"] = "evaluation.other"
    after["problems"][0]["message"] = "another message"
    change = compare(before, after)
    assert change.level == "findings" and change.identity == ("problems[0].message",)
    assert change.lines == (f"problems[0].path: {before['problems'][0]['path']} → evaluation.other",)


# -- outcome: first line, then the rules that made it, then the rest ------------------------------------------

def test_an_outcome_change_comes_first_then_the_rule_then_other_substance():
    before = load(VERDICT)
    after = copy.deepcopy(before)
    after["outcome"] = "needs_review"
    age = next(f for f in after["findings"] if f["rule"] == "age")
    age["result"] = "failed"
    age["values"] = {"age": 99}
    after["missing_facts"] = ["expert.x"]
    after["trace"][0]["value"] = False
    change = compare(before, after)
    assert change.level == "outcome" and change.substantive
    assert change.lines[0] == "outcome: eligible → needs_review"
    assert change.lines[1] == "rule age (第五条第（五）项): passed → failed"
    assert change.lines[2].startswith("rule age: values") and change.lines[-1].startswith("missing_facts:")
    assert change.identity == ("trace[0].value",)
    assert change.to_json()["level"] == "outcome" and change.to_json()["lines"] == list(change.lines)


@pytest.mark.parametrize("key", ["selected", "backups"])
def test_a_receipt_s_selection_is_its_outcome(key):
    before = load(RECEIPT)
    after = copy.deepcopy(before)
    after[key] = ["E999"]
    change = compare(before, after)
    assert change.level == "outcome" and change.lines == (f'{key}: [] → ["E999"]',)


def test_a_rejection_s_error_code_is_its_outcome():
    before = load(REJECTED)
    after = copy.deepcopy(before)
    after["error"] = "not_in_force"
    change = compare(before, after)
    assert change.level == "outcome" and change.lines[0] == f"error: {before['error']} → not_in_force"


def test_an_answer_that_became_a_rejection_is_an_outcome_change():
    verdict, rejected = load(VERDICT), load(REJECTED)
    change = compare(verdict, rejected)
    assert change.level == "outcome"
    assert change.lines[0] == "outcome: eligible → (absent)" and change.lines[1] == "error: (absent) → case_invalid"


def test_documents_that_are_not_mappings_differ_in_outcome():
    assert compare([1], [2]).level == "outcome" and compare([1], [2]).lines == ("[0]: 1 → 2",)


def test_the_levels_are_ordered_by_weight():
    assert LEVELS == ("same", "identity", "findings", "outcome")
