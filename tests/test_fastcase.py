"""The case table (policy/fastcase.py) against check_case_size + check_case, the reference.

The table either gives exactly what the reference gives (facts in the same order, the same
flat variables as expr.bind) or gives None and leaves the case to the reference. It must never
accept a case the reference refuses. Checked on every decide fixture's case, on each case with
each value replaced by values of every kind (wrong types, bounds, bad dates, surrogates,
nulls, lists, mappings, unknown and dotted keys), and on cases drawn from every vocabulary.
"""
import copy
import datetime as dt

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import strategies as S
from policy_engine import Registry, decide
from policy_engine.errors import EngineError
from policy_engine.evaluate.evaluate import cel_core_only
from policy_engine.policy.expr import bind
from policy_engine.policy.fastcase import CaseTable
from policy_engine.policy.limits import MAX_LIST_ITEMS, check_case_size
from policy_engine.policy.vocabulary import Vocabulary, check_case, fact_from
from policy_engine.report.golden import SELECTION, default_fixture_dir, fixture_files

REGISTRY = Registry.load()
POLICIES = [p for pid in REGISTRY.ids() for p in REGISTRY.versions(pid)]
FIXTURES = default_fixture_dir()
DECIDE = [f for f in fixture_files(FIXTURES) if f.parent.name not in SELECTION]

ODD_VALUES = [True, False, 0, 1, -1, 7, 2 ** 63, -(2 ** 63) - 1, 1.5, float("nan"), "", "x", "senior",
              "2026-11-23", "2026-02-30", "2026-W47-1", "20261123", "２０２６-11-23", "2099-01-01",
              dt.date(2026, 11, 23), dt.datetime(2026, 11, 23, 9, 30), "\ud800", "中文", None, [], ["a"],
              [{"kind": "x", "date": "2026-01-01"}], {}, {"a": 1}]


def reference(case, vocabulary, as_of):
    """What decide() computes without the table: facts and variables, or the refusal."""
    try:
        check_case_size(case)
        facts = check_case(case, vocabulary, as_of=as_of)
    except EngineError as exc:
        return ("refused", exc.code)
    return facts, bind(facts, vocabulary.facts, as_of).variables


def agree(table, vocabulary, case, as_of):
    quick = table.check(case, as_of)
    slow = reference(case, vocabulary, as_of)
    if quick is None:
        return True  # the reference decides: nothing to compare
    assert slow[0] != "refused", f"the table accepted a case the reference refuses ({slow[1]}): {case!r}"
    facts, variables = quick
    assert list(facts.items()) == list(slow[0].items()), "facts differ (or their order)"
    assert variables == slow[1]
    assert all(type(variables[k]) is type(slow[1][k]) for k in variables), "a value of another type"
    return True


def _leaf_paths(value, path=()):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaf_paths(v, path + (k,))
    else:
        yield path


def _replaced(case, path, new):
    out = copy.deepcopy(case)
    parent = out
    for p in path[:-1]:
        parent = parent[p]
    parent[path[-1]] = new
    return out


def _fixture_cases():
    out = []
    for f in DECIDE:
        data = yaml.safe_load(f.read_text(encoding="utf-8"))
        if isinstance(data.get("case"), dict) and "rulings" not in data["case"]:
            out.append((f, data))
    return out


CASES = _fixture_cases()


def _policy(data):
    """The version in force on the fixture's date, or else its policy's first (a fixture may ask
    about a date no version covers: the reference refuses it before any case is read)."""
    on = dt.date.fromisoformat(str(data["as_of"]))
    versions = REGISTRY.versions(data["policy"])
    return next((p for p in versions if p.in_force.covers(on)), versions[0])


def _by_policy():
    """Per policy version: its fixture cases, and for each leaf path of them one case holding it
    (mutating the same path of another case of the same vocabulary tests nothing new)."""
    out: dict = {}
    for f, data in CASES:
        policy = _policy(data)
        cases, paths = out.setdefault((policy.id, policy.version), (policy, [], {}))[1:]
        cases.append((str(data["as_of"]), data["case"]))
        for path in _leaf_paths(data["case"]):
            if path:
                paths.setdefault(path, (str(data["as_of"]), data["case"]))
    return list(out.values())


BY_POLICY = _by_policy()


@pytest.mark.parametrize("policy, cases, paths", BY_POLICY, ids=[f"{p.id}@{p.version}" for p, _, _ in BY_POLICY])
def test_every_fixture_case_and_its_mutations(policy, cases, paths):
    table = CaseTable(policy.vocabulary)
    for as_of, case in cases:
        agree(table, policy.vocabulary, case, as_of)
        agree(table, policy.vocabulary, dict(case, unknown_group={"a": 1}), as_of)
        if table.check(case, as_of) is not None:  # recognised again, from a copy
            assert table.check(copy.deepcopy(case), as_of) is not None
    for path, (as_of, case) in paths.items():
        for value in ODD_VALUES:
            agree(table, policy.vocabulary, _replaced(case, path, value), as_of)
        agree(table, policy.vocabulary, _replaced(case, path[:-1] + (str(path[-1]) + "x",), True), as_of)


def test_most_fixture_cases_are_recognised():
    """The table is worth having only if the ordinary case takes it: every fixture case without
    events, datetimes or lists, that the reference accepts, is recognised."""
    missed = []
    for f, data in CASES:
        as_of = str(data["as_of"])
        policy = _policy(data)
        if reference(data["case"], policy.vocabulary, as_of)[0] == "refused":
            continue
        if CaseTable(policy.vocabulary).check(data["case"], as_of) is None:
            if not _has_dotted_keys(data["case"]):
                missed.append(str(f.relative_to(FIXTURES)))
    assert not missed


def _has_dotted_keys(case):
    return any("." in str(k) for k in case)


def test_dotted_keys_rulings_and_non_dicts_go_to_the_reference():
    xj = REGISTRY.in_force("xj-iit-expert-pool", dt.date(2026, 11, 23))
    table = CaseTable(xj.vocabulary)
    assert table.check({"expert.birth_date": "1960-01-01"}, "2026-11-23") is None
    assert table.check([], "2026-11-23") is None
    assert table.check(None, "2026-11-23") is None
    assert table.check({"expert": None}, "2026-11-23") is None
    assert table.check({"expert": {"birth_date": None}}, "2026-11-23") == ({}, {"as_of": "2026-11-23"})


def test_a_date_after_the_question_is_left_to_the_reference_which_refuses_it():
    facts = {"official.act_date": {"type": "date", "not_after": "as_of"}, "official.other": {"type": "date"}}
    vocabulary = Vocabulary.of({n: fact_from(n, r, None) for n, r in facts.items()})
    table = CaseTable(vocabulary)
    assert table.check({"official": {"act_date": "2026-11-24"}}, "2026-11-23") is None
    assert reference({"official": {"act_date": "2026-11-24"}}, vocabulary, "2026-11-23")[0] == "refused"
    assert table.check({"official": {"act_date": "2026-11-23", "other": "2099-12-31"}}, "2026-11-23") is not None


def test_a_list_fact_is_bounded_before_it_is_walked():
    facts = {"matter.bidders": {"type": "list", "items": "string"}}
    vocabulary = Vocabulary.of({n: fact_from(n, r, None) for n, r in facts.items()})
    table = CaseTable(vocabulary)
    assert table.check({"matter": {"bidders": ["a", "b"]}}, "2026-11-23")[0] == {"matter.bidders": ["a", "b"]}
    assert table.check({"matter": {"bidders": ["a"] * (MAX_LIST_ITEMS + 1)}}, "2026-11-23") is None
    assert reference({"matter": {"bidders": ["a"] * (MAX_LIST_ITEMS + 1)}}, vocabulary, "2026-11-23")[0] == "refused"


def test_a_fact_that_is_also_a_group_leaves_the_vocabulary_to_the_reference():
    facts = {"a.b": {"type": "boolean"}, "a.b.c": {"type": "boolean"}}
    vocabulary = Vocabulary.of({n: fact_from(n, r, None) for n, r in facts.items()})
    assert not CaseTable(vocabulary).usable


@pytest.mark.parametrize("policy", POLICIES, ids=[f"{p.id}@{p.version}" for p in POLICIES])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_drawn_cases_agree(policy, data):
    as_of = S.as_of_for(policy)
    decision = data.draw(st.sampled_from(policy.decisions()), label="decision")
    case = data.draw(S.written(data.draw(S.decision_cases(policy, decision, as_of), label="case")), label="written")
    agree(CaseTable(policy.vocabulary), policy.vocabulary, case, as_of.isoformat())


def test_decide_gives_the_same_verdict_through_the_table_and_the_reference():
    xj = REGISTRY.in_force("xj-iit-expert-pool", dt.date(2026, 11, 23))
    case = {"expert": {"birth_date": dt.date(1961, 11, 23), "title_rank": "senior", "years_in_field": 30,
                       "recommended_by_employer": True, "records": {"misconduct": False}}}
    fast = decide(xj, "entry", case, "2026-11-23").dumps()
    with cel_core_only():
        assert decide(xj, "entry", case, "2026-11-23").dumps() == fast
