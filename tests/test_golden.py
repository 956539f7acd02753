"""Every golden fixture, one test each, compared with its stored golden file by substance.

The checks are those of `policy-engine test` (report/golden.py: run_fixture per fixture,
suite_checks for the suite), so a fixture passes here exactly when it passes there: a golden
file that differs only in identity (the policy's digest, the trace, titles and notes; see
report/substance.py) passes both, a change of substance fails both with the same message.
tests/test_golden_changes.py runs the issue's experiment through the command."""
import copy
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from policy_engine import Registry
from policy_engine.cli import main
from policy_engine.report.golden import (MIN_CASES, coverage, default_fixture_dir, fixture_files, leftovers, run_fixture,
                                         suite_checks)

FIXTURES = default_fixture_dir()
FILES = fixture_files(FIXTURES)


@pytest.fixture(scope="module")
def registry():
    return Registry.load()


@pytest.mark.parametrize("fixture", FILES, ids=[str(f.relative_to(FIXTURES)) for f in FILES])
def test_golden(registry, fixture: Path):
    result = run_fixture(registry, fixture)
    assert result.ok, "\n    ".join((result.message, *result.lines, *([f"({result.hint})"] if result.hint else []))) + \
        f"\n{result.diff}"


def test_the_suite_checks_pass(registry):
    """At least 8 cases for each regulation and decision it answers, no golden file without its fixture,
    nothing unreadable: the same call as `policy-engine test`."""
    failed = suite_checks(registry, FIXTURES, minimum=MIN_CASES)
    assert not failed, "; ".join(f"{r.fixture}: {r.message}" for r in failed)
    assert coverage(registry, FIXTURES, MIN_CASES) == [] and leftovers(FIXTURES) == []


# -- parity: a fixture failing the pytest suite fails `policy-engine test`, and the other way round --------

XJ = "xj-iit-expert-pool"
BASE = FIXTURES / XJ / "entry" / "last-day-in-force-decided.yaml"


def _dotted(case):
    """The same facts with dotted names: the engine accepts them, the published case schema does not."""
    return {f"expert.{k}": v for k, v in case["expert"].items()}


def _breakages():
    data = yaml.safe_load(BASE.read_text(encoding="utf-8"))
    out = {}
    wrong_quote = copy.deepcopy(data)
    wrong_quote["quote"] = "专家库管理部门"  # in the text, but no finding of this verdict carries it
    out["quote-not-in-verdict"] = wrong_quote
    dotted = copy.deepcopy(data)
    dotted["case"] = _dotted(dotted["case"])
    out["case-off-schema"] = dotted
    expect = copy.deepcopy(data)
    expect["expect"] = "ineligible"
    out["wrong-outcome"] = expect
    return out


WHY = {"quote-not-in-verdict": "not among the quotes of its verdict", "case-off-schema": "case schema at the case: Additional properties",
       "wrong-outcome": "the fixture expects 'ineligible'"}


@pytest.mark.parametrize("name", sorted(_breakages()))
def test_a_fixture_failing_pytest_fails_policy_engine_test(registry, tmp_path, name):
    folder = tmp_path / XJ / "entry"
    folder.mkdir(parents=True)
    fixture = folder / f"{name}.yaml"
    shutil.copy(BASE.with_suffix(".verdict.json"), fixture.with_suffix(".verdict.json"))
    fixture.write_text(yaml.safe_dump(_breakages()[name], allow_unicode=True), encoding="utf-8")
    result = run_fixture(registry, fixture)  # what test_golden runs
    assert not result.ok and WHY[name] in result.message
    cli = CliRunner().invoke(main, ["test", "--fixtures", str(tmp_path)])
    assert cli.exit_code == 1 and f"FAIL {fixture}" in cli.output and result.message.split(":")[0] in cli.output


def test_the_base_of_the_parity_cases_passes_both_and_a_dotted_case_decides_alike(registry, tmp_path):
    """The breakages above are of the fixture, not of the engine: the dotted case is decided as the nested one."""
    from policy_engine import decide
    data = yaml.safe_load(BASE.read_text(encoding="utf-8"))
    policy = registry.in_force(XJ, data["as_of"])
    nested = decide(policy, "entry", data["case"], data["as_of"])
    assert decide(policy, "entry", _dotted(data["case"]), data["as_of"]).outcome == nested.outcome == data["expect"]
    assert run_fixture(registry, BASE).ok
    folder = tmp_path / XJ / "entry"
    folder.mkdir(parents=True)
    shutil.copy(BASE, folder / BASE.name)
    shutil.copy(BASE.with_suffix(".verdict.json"), folder / BASE.with_suffix(".verdict.json").name)
    assert CliRunner().invoke(main, ["test", "--fixtures", str(tmp_path)]).exit_code == 0
    (folder / "stray.verdict.json").write_text("{}", encoding="utf-8")  # a leftover fails both
    assert [r.fixture for r in suite_checks(registry, tmp_path)] == [str(folder / "stray.verdict.json")]
    assert CliRunner().invoke(main, ["test", "--fixtures", str(tmp_path)]).exit_code == 1


def test_an_in_force_golden_may_quote_the_in_force_article(registry):
    """Inside the window the verdict rests on the in-force article; after it, not_in_force quotes it too."""
    for name in ("last-day-in-force-decided", "day-after-expiry-not-in-force"):
        fixture = FIXTURES / XJ / "entry" / f"{name}.yaml"
        data = yaml.safe_load(fixture.read_text(encoding="utf-8"))
        assert data["quote"] == registry.versions(XJ)[0].in_force.quote
        assert run_fixture(registry, fixture).ok, name


def test_the_evaluation_plan_changes_nothing(registry):
    """Every golden case gives the same verdict bytes with the one-call plan and one call per condition
    (run_fixture checks it for each fixture, as `policy-engine test` does); most take the one-call path."""
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
