"""Golden cases for five features of the policy format that none of the bundled regulations uses.

The policy is tests/data/format-goldens/policies/format-test (测试格式办法, a test text written to
exercise the format, not a real regulation), with a second test text it declares and quotes
(policies/_shared/texts/format-test-higher.txt, 测试上位规定), the shipped working-day calendar and
the expert-pool vocabulary copied into its policies folder's _shared/. Its golden cases are in
tests/data/format-goldens/fixtures/format-test/<decision>/, in the bundled fixtures' form, and run
here with the bundled suite's runner (report/golden.py) and through `policy-engine test`:

1. times of day: `datetime` facts and deadlines in minutes (第二条, 30 minutes vs 31, vs 30
   minutes and one second) and hours (an accident report across midnight, 2 hours vs 2h01);
2. a term that renews itself (第三条, `term.renews`): the last day, the day after renewed, the day
   after declined, the day after with the renewal unknown;
3. sub-items (目, 第四条第（二）项第1–3目) cited and quoted, fired, not fired and unknown;
4. quotes from a second text (`texts:`, `cite: {text: format-test-higher, ...}`) in an exit
   trigger and in a deadline rule, verified against that text;
5. `last_day_on_holiday` (第六条): a three-month period whose last day falls in 国庆 2025 or 春节
   2026 is moved to the next working day, one ending on a Sunday moves to Monday, one ending on
   a Saturday worked (调休, 2026-02-28) is not moved, one ending on an ordinary weekday is not.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from policy_engine import Registry
from policy_engine.cli import main
from policy_engine.report.golden import MIN_CASES, coverage, fixture_files, leftovers, run_all, run_fixture, suite_checks

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "tests" / "data" / "format-goldens"
POLICIES = HERE / "policies"
FIXTURES = HERE / "fixtures"
FILES = fixture_files(FIXTURES)
POLICY = "format-test"


@pytest.fixture(scope="module")
def registry():
    return Registry.load(POLICIES)


def stored(decision: str, name: str) -> dict:
    return json.loads((FIXTURES / POLICY / decision / f"{name}.verdict.json").read_text(encoding="utf-8"))


def finding(verdict: dict, rule: str) -> dict:
    return next(f for f in verdict["findings"] if f["rule"] == rule)


def test_the_policies_folder_checks_ok():
    out = CliRunner().invoke(main, ["check", str(POLICIES)])
    assert out.exit_code == 0, out.output
    assert out.output.startswith("ok: 1 policies")


def test_both_texts_say_in_their_first_line_that_they_are_test_texts(registry):
    for text in (POLICIES / POLICY / "source.txt", POLICIES / "_shared" / "texts" / "format-test-higher.txt"):
        first = text.read_text(encoding="utf-8").split("\n", 1)[0]
        assert "测试用文本" in first and "不是现行法规" in first, text
    assert "测试用文本" in registry.in_force(POLICY, "2026-01-01").title


@pytest.mark.parametrize("fixture", FILES, ids=[str(f.relative_to(FIXTURES)) for f in FILES])
def test_golden(registry, fixture: Path):
    result = run_fixture(registry, fixture)
    assert result.ok, "\n    ".join((result.message, *result.lines, *([f"({result.hint})"] if result.hint else []))) + \
        f"\n{result.diff}"


def test_the_suite_checks_pass_with_the_minimum(registry):
    """At least 8 cases for each decision the policy answers, no golden file without its fixture."""
    assert registry.versions(POLICY)[0].decisions() == ("exit", "deadline")
    failed = suite_checks(registry, FIXTURES, minimum=MIN_CASES)
    assert not failed, "; ".join(f"{r.fixture}: {r.message}" for r in failed)
    assert coverage(registry, FIXTURES, MIN_CASES) == [] and leftovers(FIXTURES) == []


def test_the_command_gives_what_the_runner_gives(registry):
    results = run_all(registry, FIXTURES, minimum=MIN_CASES)
    assert results and all(r.ok for r in results)
    out = CliRunner().invoke(main, ["test", "--policies", str(POLICIES), "--fixtures", str(FIXTURES),
                                    "--min-cases", str(MIN_CASES), "--format", "json"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    assert report["ok"] is True and report["failed"] == 0 and report["passed"] == len(FILES)
    assert report["cases"] == [r.to_json() for r in results]


def test_every_rule_is_seen_both_ways_and_every_passage_is_cited_or_declared():
    out = CliRunner().invoke(main, ["coverage", "--policies", str(POLICIES), "--fixtures", str(FIXTURES),
                                    "--fail-under-rules", "100", "--fail-under-articles", "100"])
    assert out.exit_code == 0, out.output


# -- what the stored verdicts say, feature by feature ------------------------------------------------

def test_times_of_day():
    on_time = finding(stored("deadline", "arrival-thirty-minutes-after-start"), "arrival")
    assert on_time["result"] == "passed" and on_time["values"] == {"due": "2026-03-10T09:30:00", "counted": 30}
    assert finding(stored("deadline", "arrival-thirty-one-minutes-after-start"), "arrival")["result"] == "failed"
    assert finding(stored("deadline", "arrival-thirty-minutes-and-one-second"), "arrival")["result"] == "failed"
    assert stored("deadline", "arrival-time-unknown")["missing_facts"] == ["step.done_at"]
    midnight = finding(stored("deadline", "accident-report-two-hours-across-midnight"), "accident-report")
    assert midnight["result"] == "passed" and midnight["values"]["due"] == "2026-01-01T01:10:00"
    assert finding(stored("deadline", "accident-report-two-hours-one-minute"), "accident-report")["result"] == "failed"


def test_a_term_that_renews_itself():
    assert stored("exit", "term-last-day-renewal-not-stated")["outcome"] == "retain"
    assert stored("exit", "term-last-day-renewal-declined")["outcome"] == "retain"
    renewed = stored("exit", "term-day-after-renewed")
    assert renewed["outcome"] == "retain" and finding(renewed, "term")["values"]["renewals"] == 1
    assert "自动续聘" in finding(renewed, "term")["quote"]
    assert stored("exit", "term-day-after-renewal-declined")["outcome"] == "lapsed"
    unknown = stored("exit", "term-day-after-renewal-unknown")
    assert unknown["outcome"] == "undetermined" and unknown["missing_facts"] == ["expert.declined_renewal"]


@pytest.mark.parametrize("name, rule, n", [("subitem-1-refused-review", "refused-review", 1),
                                           ("subitem-2-leaked-review", "leaked-review", 2),
                                           ("subitem-3-took-party-property", "took-party-property", 3)])
def test_a_sub_item_is_cited(name, rule, n):
    verdict = stored("exit", name)
    assert verdict["outcome"] == "exit"
    hit = finding(verdict, rule)
    assert hit["result"] == "fired" and hit["cite"] == f"第四条第（二）项第{n}目"


def test_quotes_from_the_second_text():
    criminal = finding(stored("exit", "higher-text-criminal-liability"), "criminal-liability")
    assert criminal["result"] == "fired" and criminal["cite"] == "《测试上位规定》第二条"
    higher = (POLICIES / "_shared" / "texts" / "format-test-higher.txt").read_text(encoding="utf-8")
    assert criminal["quote"] in higher
    report = finding(stored("deadline", "accident-report-two-hours-across-midnight"), "accident-report")
    assert report["cite"] == "《测试上位规定》第三条" and report["quote"] in higher


@pytest.mark.parametrize("name, result, due, corresponding", [
    ("review-last-day-in-national-day-moved", "passed", "2025-10-09", "2025-10-02"),
    ("review-day-after-moved-national-day", "failed", "2025-10-09", "2025-10-02"),
    ("review-last-day-in-spring-festival-moved", "passed", "2026-02-24", "2026-02-17"),
    ("review-day-after-moved-spring-festival", "failed", "2026-02-24", "2026-02-17"),
    ("review-last-day-on-sunday-moved-to-monday", "passed", "2026-08-17", "2026-08-16"),
    ("review-last-day-working-saturday-not-moved", "passed", "2026-02-28", "2026-02-28"),
    ("review-monday-after-working-saturday-late", "failed", "2026-02-28", "2026-02-28"),
    ("review-last-day-ordinary-weekday", "passed", "2026-04-15", "2026-04-15"),
    ("review-day-after-ordinary-weekday", "failed", "2026-04-15", "2026-04-15"),
])
def test_a_last_day_on_a_holiday(name, result, due, corresponding):
    hit = finding(stored("deadline", name), "review-application")
    assert hit["result"] == result
    assert hit["values"] == {"due": due, "corresponding_day": corresponding, "counted": 3}
