"""Rule results cached by what they depend on (evaluate.RuleKey, evaluate.judge).

The cache must be invisible: every verdict is the same bytes as the reference path gives
(cel_core_only: no table, no compiled conditions, no cache), whatever came before it, with
the cache full, emptied or bounded to a few entries; it must be used (a rule met again is
not judged again); its keys must tell apart values Python confuses (1 and true, 1 and 1.0),
the facts' values from the conditions' values, and a missing fact from a present one.
"""
import datetime as dt
import random

import pytest

from policy_engine import Registry, decide
from policy_engine.evaluate import evaluate as E
from policy_engine.evaluate.evaluate import RuleKey, cel_core_only
from policy_engine.policy.compile import CelError

AS_OF = "2026-11-23"


@pytest.fixture
def xj():
    """A fresh load: its plans and caches empty."""
    return Registry.load().in_force("xj-iit-expert-pool", dt.date(2026, 11, 23))


def reference(policy, case, decision="entry"):
    with cel_core_only():
        return decide(policy, decision, case, AS_OF).dumps()


def expert(**over):
    base = {"birth_date": "1966-05-01", "title_rank": "senior", "years_in_field": 20,
            "recommended_by_employer": True,
            "records": {"academic_misconduct": False, "bad_credit": False, "misconduct": False},
            "attested": {k: True for k in ("political_standing", "familiar_with_field_rules", "field_expertise",
                                           "professional_ethics", "analytic_ability", "availability", "health")}}
    for key, value in over.items():
        if "." in key:
            group, name = key.split(".")
            base[group] = dict(base[group], **{name: value})
        elif value is None:
            base.pop(key)
        else:
            base[key] = value
    return {"expert": base}


def test_a_flipped_fact_after_its_opposite_is_judged_by_its_own_value(xj):
    """The facts' key (the three records false) and the conditions' key (their negations, true)
    are kept apart: the case with the three records true must not meet the other's entry."""
    for value in (False, True, False, True):
        case = expert(**{f"records.{k}": value for k in ("academic_misconduct", "bad_credit", "misconduct")})
        assert decide(xj, "entry", case, AS_OF).dumps() == reference(xj, case)


def test_a_rule_met_again_is_not_judged_again(xj, monkeypatch):
    calls = []
    real = E.judge_rule
    monkeypatch.setattr(E, "judge_rule", lambda rule, run, kind: calls.append(rule.id) or real(rule, run, kind))
    case = expert()
    first = decide(xj, "entry", case, AS_OF).dumps()
    judged = len(calls)
    assert judged == len(xj.criteria)
    assert decide(xj, "entry", expert(), AS_OF).dumps() == first
    assert len(calls) == judged, "every rule came from the cache"
    other_birthday = expert(birth_date="1966-05-02")  # the same age: the age rule's conditions' key
    decide(xj, "entry", other_birthday, AS_OF)
    assert len(calls) == judged


def test_a_ruling_bypasses_the_cache(xj, monkeypatch):
    calls = []
    real = E.judge_rule
    monkeypatch.setattr(E, "judge_rule", lambda rule, run, kind: calls.append(rule.id) or real(rule, run, kind))
    decide(xj, "entry", expert(), AS_OF)
    calls.clear()
    hedged = next(r for r in xj.criteria if r.strength != "mandatory")
    case = dict(expert(), rulings=[{"rule": hedged.id, "ruling": "upheld", "date": "2026-11-01", "body": "the office"}])
    verdict = decide(xj, "entry", case, AS_OF)
    assert hedged.id in calls
    assert verdict.dumps() == reference(xj, case)


def random_cases(n, seed):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        over = {"birth_date": (dt.date(1955, 1, 1) + dt.timedelta(days=rng.randrange(365 * 20))).isoformat(),
                "title_rank": rng.choice(["none", "junior", "intermediate", "associate_senior", "senior"]),
                "years_in_field": rng.randrange(0, 12),
                "records.misconduct": rng.random() < 0.3, "attested.health": rng.random() < 0.7}
        if rng.random() < 0.2:
            over[rng.choice(["birth_date", "title_rank", "years_in_field"])] = None
        out.append(expert(**over))
    return out


@pytest.mark.parametrize("limit", [1, 3, 50, E.MEMO_LIMIT])
def test_verdicts_are_the_same_whatever_the_cache_holds(xj, monkeypatch, limit):
    monkeypatch.setattr(E, "MEMO_LIMIT", limit)
    for case in random_cases(150, limit):
        assert decide(xj, "entry", case, AS_OF).dumps() == reference(xj, case)
        held = sum(len(k.by_facts) + len(k.by_values) for k in xj.plans["entry"].keys.values())
        assert held <= 2 * limit * len(xj.criteria), "the cache stays bounded"


def _key(*leaves):
    key = RuleKey.__new__(RuleKey)
    key.leaves = tuple(leaves)
    key.reads = ()
    key.kind = "criterion"
    return key


def test_condition_values_are_tagged_with_their_type():
    def raw(V):
        return V["x"]
    key = _key((None, raw, ("x",)))
    assert key({"x": True}, {"x": True}) != key({"x": 1}, {"x": 1})
    assert key({"x": 1}, {"x": 1}) != key({"x": "1"}, {"x": "1"})
    assert key({"x": 1.0}, {"x": 1.0}) is None, "a double gives no key (-0.0 and 0.0 are equal, NaN is not itself)"
    assert key({"x": [1]}, {"x": [1]}) is None
    assert key({"x": {"a": 1}}, {"x": {"a": 1}}) is None


def test_a_missing_fact_is_part_of_the_key_and_a_failure_without_one_gives_none():
    def needs_x(V):
        if "x" not in V:
            raise CelError("x")
        return V["x"]
    key = _key((None, needs_x, ("x",)))
    assert key({}, {}) == (("?", ("x",)),)
    assert key({"x": False}, {"x": False}) == (False,)

    def fails(V):
        raise CelError("division by zero")
    assert _key((None, fails, ("x",)))({"x": 1}, {"x": 1}) is None, "the CEL core words that failure: no key"


def test_a_used_policy_pickles_without_its_caches_and_decides_the_same(xj):
    """Plans, compiled keys, cached results and year tables hold generated functions: they are
    pickled empty and rebuilt where the policy is unpickled (a process pool, the policy cache)."""
    import pickle

    import policy_engine.policy.cache  # noqa: F401 - registers the pickling of read-only mappings
    case = expert()
    before = decide(xj, "entry", case, AS_OF).dumps()
    decide(xj, "deadline", {"step": {"kind": "entry_notice", "start": "2026-01-05", "end": "2026-01-20"}}, AS_OF)
    assert xj.plans and xj.calendar.tables
    copy = pickle.loads(pickle.dumps(xj))
    assert not copy.plans and not copy.calendar.tables
    assert decide(copy, "entry", case, AS_OF).dumps() == before
