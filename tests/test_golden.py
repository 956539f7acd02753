"""Every golden fixture, one test each, compared with its stored verdict byte for byte."""
from pathlib import Path

import pytest

from policy_engine import Registry
from policy_engine.report.golden import MIN_CASES, coverage, default_fixture_dir, fixture_files, leftovers, run_fixture

FIXTURES = default_fixture_dir()
FILES = fixture_files(FIXTURES)


@pytest.fixture(scope="module")
def registry():
    return Registry.load()


@pytest.mark.parametrize("fixture", FILES, ids=[str(f.relative_to(FIXTURES)) for f in FILES])
def test_golden(registry, fixture: Path):
    result = run_fixture(registry, fixture)
    assert result.ok, f"{result.message}\n{result.diff}"


def test_enough_fixtures_per_policy_and_decision(registry):
    """At least 8 cases for each regulation and decision it answers (the same check as `policy-engine test`)."""
    short = coverage(registry, FIXTURES, MIN_CASES)
    assert not short, "; ".join(f"{r.fixture}: {r.message}" for r in short)


def test_every_golden_verdict_has_its_fixture():
    left = leftovers(FIXTURES)
    assert not left, "; ".join(r.fixture for r in left)


def test_the_evaluation_plan_changes_nothing(registry):
    """Every golden case gives the same verdict bytes with the one-call plan and one call per condition."""
    from policy_engine import decide
    from policy_engine.evaluate.evaluate import Plan
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
