"""Verdict.dumps, written from kept fragments, against json.dumps of Verdict.to_json, the reference.

Every decide fixture's verdict (adjusted results, version choices, errors, empty findings and
traces among them), compact and indented, with the fragments kept from earlier verdicts, with
none kept, and with a store bounded to a few entries (ids reused by later objects)."""
import functools

import pytest
import yaml

from policy_engine import Registry
from policy_engine.errors import EngineError
from policy_engine.evaluate import verdict as V
from policy_engine.evaluate.engine import decide_governing
from policy_engine.evaluate.verdict import Finding, Step, Verdict, dumps
from policy_engine.policy.expr import Unknown
from policy_engine.report.golden import SELECTION, default_fixture_dir, fixture_files

FIXTURES = default_fixture_dir()
DECIDE = [f for f in fixture_files(FIXTURES) if f.parent.name not in SELECTION]
REGISTRY = Registry.load()


@functools.cache
def verdicts():
    out = []
    for f in DECIDE:
        data = yaml.safe_load(f.read_text(encoding="utf-8"))
        try:
            v, _ = decide_governing(REGISTRY, data["policy"], data["decision"], data.get("case"), str(data["as_of"]))
        except EngineError:
            continue
        out.append(v)
    return tuple(out)


@pytest.mark.parametrize("limit", [V.FRAGMENTS_LIMIT, 3])
def test_every_fixture_verdict_is_the_same_text(monkeypatch, limit):
    monkeypatch.setattr(V, "FRAGMENTS_LIMIT", limit)
    V._FRAGMENTS.clear()
    V._HEADS.clear()
    all_ = list(verdicts())
    assert len(all_) > 300
    if limit < V.FRAGMENTS_LIMIT:  # a store emptied at every few fragments: a sample of the verdicts is enough
        all_ = all_[::4]
    kinds = {"adjusted": 0, "version": 0, "errors": 0}
    for v in all_ + all_:  # the second time, from kept fragments
        for compact in (True, False):
            assert v.dumps(compact) == dumps(v.to_json(), compact), (v.policy, v.decision, v.outcome)
        kinds["adjusted"] += v.adjusted is not None
        kinds["version"] += v.version is not None
        kinds["errors"] += bool(v.errors)
    assert all(kinds.values()), kinds


def test_a_fragment_is_never_taken_for_a_later_object_at_the_same_address(monkeypatch):
    """The store keeps what it holds alive; emptied when full (here at every new fragment), the
    objects it held are freed and their addresses given to new ones."""
    monkeypatch.setattr(V, "FRAGMENTS_LIMIT", 1)
    V._FRAGMENTS.clear()
    seen, reused = set(), 0
    for i in range(2000):
        step = Step("r", "require", f"x == {i}", i % 2 == 0)
        reused += id(step) in seen
        seen.add(id(step))
        v = Verdict(("p", "1", "0" * 64), "entry", "2026-01-01", "eligible", (), (), (step,))
        assert v.dumps(True) == dumps(v.to_json(), True)
        assert v.dumps(False) == dumps(v.to_json(), False)
        del step, v  # freed at once: the next step is often made at the same address
    assert reused, "no address was reused: the test proves nothing here"


def test_edge_shapes():
    unknown = Step("r", "require", "a.b", Unknown(("a.b",)))
    failed = Step("r", "require", "1/0 == 1", Unknown((), "division by zero"))
    f = Finding("r", "unknown", "mandatory", "第一条", "引文\n第二行", values=(("age", 3),), missing_facts=("a.b",))
    for findings, trace, errors in [((), (), ()), ((f,), (unknown, failed), ("r (require): division by zero",))]:
        v = Verdict(("p", "1", "0" * 64), "entry", "2026-01-01", "undetermined", findings, ("a.b",), trace, errors)
        for compact in (True, False):
            assert v.dumps(compact) == dumps(v.to_json(), compact)
