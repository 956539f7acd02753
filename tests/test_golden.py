"""Every golden fixture, one test each, compared with its stored verdict byte for byte."""
from pathlib import Path

import pytest

from policy_engine import Registry
from policy_engine.golden import default_fixture_dir, fixture_files, run_fixture

FIXTURES = default_fixture_dir()
FILES = fixture_files(FIXTURES)


@pytest.fixture(scope="module")
def registry():
    return Registry.load()


@pytest.mark.parametrize("fixture", FILES, ids=[str(f.relative_to(FIXTURES)) for f in FILES])
def test_golden(registry, fixture: Path):
    result = run_fixture(registry, fixture)
    assert result.ok, f"{result.message}\n{result.diff}"


def test_enough_fixtures_per_policy_and_decision():
    """At least 8 cases for each regulation and decision it answers (the issue's floor)."""
    registry = Registry.load()
    counts = {}
    for f in FILES:
        rel = f.relative_to(FIXTURES).parts
        counts[(rel[0], rel[1])] = counts.get((rel[0], rel[1]), 0) + 1
    short = []
    for pid in registry.ids():
        for decision in registry.versions(pid)[0].decisions() + registry.versions(pid)[0].selection_commands():
            if counts.get((pid, decision), 0) < 8:
                short.append(f"{pid}/{decision}: {counts.get((pid, decision), 0)}")
    assert not short, "fewer than 8 golden cases: " + ", ".join(short)


def test_every_golden_verdict_has_its_fixture():
    for golden in [*FIXTURES.rglob("*.verdict.json"), *FIXTURES.rglob("*.receipt.json"),
                   *FIXTURES.rglob("*.rejected.json")]:
        suffix = next(s for s in (".verdict.json", ".receipt.json", ".rejected.json") if golden.name.endswith(s))
        assert golden.with_name(golden.name.replace(suffix, ".yaml")).exists(), golden


def test_the_evaluation_plan_changes_nothing(registry):
    """Every golden case gives the same verdict bytes with the one-call plan and one call per condition."""
    from policy_engine import decide
    from policy_engine.evaluate import Plan
    from policy_engine.yamlio import read

    fast_paths = 0
    from policy_engine.errors import CODES

    decided = 0
    for fixture in FILES:
        data = read(fixture).data
        if data["expect"] in CODES or data["decision"] in ("draw", "panel"):
            continue  # a rejected input, or a draw or panel check (no decide() verdict) to compare
        decided += 1
        policy = registry.in_force(data["policy"], data["as_of"])
        fast = decide(policy, data["decision"], data["case"], data["as_of"])
        saved = policy.plans.get(data["decision"])
        policy.plans[data["decision"]] = Plan(None, {}, {})  # no combined program: condition by condition
        try:
            slow = decide(policy, data["decision"], data["case"], data["as_of"])
        finally:
            policy.plans[data["decision"]] = saved
        assert fast.dumps() == slow.dumps(), fixture
        fast_paths += not fast.missing_facts and not fast.errors
    assert fast_paths > decided // 2  # most cases really take the one-call path
