"""Golden files that show what changed: `policy-engine test` compares by substance (report/substance.py).

The issue's experiment, run on copies of the bundled policies and fixtures through the real command:
the Xinjiang age limit `<= 65` made `<= 64` fails exactly one case, headed by its outcome change and the
rule and article that made it, and the golden files that differ only in identity pass, summarised once
per policy. An edit of a title leaves the suite green; `--update` refuses an outcome change unless
`--accept-outcome-changes` is given, and rewrites nothing else then."""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from policy_engine import Registry
from policy_engine.cli import main
from policy_engine.report.golden import default_fixture_dir, run_fixture

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = default_fixture_dir()
XJ = "xj-iit-expert-pool"
POLICY = Path(XJ) / "2025-04-21.yaml"
AGE_CASE = Path(XJ) / "entry" / "eligible-age-65-day-before-66th-birthday.yaml"
LIMIT = "age_at(expert.birth_date, as_of) <= 65"


def engine(*args: str) -> subprocess.CompletedProcess:
    """The real command, as a reviewer runs it."""
    return subprocess.run([sys.executable, "-m", "policy_engine", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=900)


def copy_tree(tmp_path: Path) -> tuple[Path, Path]:
    policies, fixtures = tmp_path / "policies", tmp_path / "fixtures"
    shutil.copytree(ROOT / "policies", policies)
    shutil.copytree(FIXTURES, fixtures)
    return policies, fixtures


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def age_64(tmp_path_factory):
    """Copies of the policies and fixtures with the Xinjiang age limit `<= 64`, and both outputs of `test`."""
    tmp = tmp_path_factory.mktemp("age-64")
    policies, fixtures = copy_tree(tmp)
    edit(policies / POLICY, LIMIT, LIMIT.replace("65", "64"))
    text = engine("test", "--policies", policies, "--fixtures", fixtures)
    as_json = engine("test", "--policies", policies, "--fixtures", fixtures / XJ, "--format", "json")
    return policies, fixtures, text, as_json


def test_the_age_limit_experiment_fails_one_case_headed_by_its_outcome_change(age_64):
    policies, fixtures, text, _ = age_64
    assert text.returncode == 1, text.stdout[-3000:] + text.stderr
    lines = text.stdout.splitlines()
    failures = [i for i, line in enumerate(lines) if line.startswith("FAIL ")]
    assert len(failures) == 1, text.stdout
    head = lines[failures[0]]
    assert head == f"FAIL {fixtures / AGE_CASE}: outcome: eligible → needs_review (the fixture expects 'eligible')"
    assert lines[failures[0] + 1] == "    rule age (第五条第（五）项): passed → failed"
    assert "--accept-outcome-changes" in lines[failures[0] + 2]
    assert not any(line.startswith(("---", "+++", "@@")) for line in lines)  # the full diff only with --verbose
    assert lines[-1].endswith(" differ only in identity), 1 failed")


def test_the_identity_only_golden_files_are_summarised_once_per_policy_not_failed(age_64):
    policies, fixtures, text, as_json = age_64
    report = json.loads(as_json.stdout)
    assert as_json.returncode == 1 and report["ok"] is False and report["failed"] == 1
    xj_goldens = [p for p in (fixtures / XJ).rglob("*.json")]
    identity = [c for c in report["cases"] if c["level"] == "identity"]
    assert identity and all(c["ok"] and c["policy"] == XJ and c["lines"] == [] for c in identity)
    assert report["levels"]["outcome"] == 1 and report["levels"]["findings"] == 0
    assert report["levels"]["identity"] + report["levels"]["same"] + 1 == report["passed"] + 1 == len(report["cases"])
    assert len(identity) <= len(xj_goldens) - 1
    [summary] = report["identity_only"]  # one entry: only the Xinjiang policy changed
    assert summary["policy"] == XJ and summary["files"] == len(identity)
    assert summary["identity"]["policy digest"] == len(identity)  # every one of them: the policy's digest
    assert 0 < summary["identity"]["trace"] < len(identity)  # those whose trace shows the age condition
    assert set(summary) == {"policy", "files", "kinds", "identity"} and sum(summary["kinds"].values()) == len(identity)
    assert summary["kinds"]["receipt"] > 0 and summary["kinds"]["verdict"] > 0
    line = next(line for line in text.stdout.splitlines() if line.startswith(f"{XJ}: "))
    assert re.fullmatch(rf"{XJ}: {len(identity)} golden files \(\d+ receipts, \d+ verdicts\) differ only in identity "
                        rf"\(policy digest {len(identity)}, trace \d+\): `policy-engine test --update` refreshes them",
                        line), line
    assert len(text.stdout.splitlines()) == 5  # the failure (3 lines), the summary, the count


def test_pytest_and_the_command_agree_on_each_case(age_64):
    """tests/test_golden.py runs run_fixture: the same level, message and lines as `policy-engine test`."""
    policies, fixtures, _, as_json = age_64
    cases = {c["fixture"]: c for c in json.loads(as_json.stdout)["cases"]}
    registry = Registry.load(policies)
    failing = run_fixture(registry, fixtures / AGE_CASE)
    assert not failing.ok and failing.to_json() == cases[str(fixtures / AGE_CASE)]
    identity = sorted(f for f, c in cases.items() if c["level"] == "identity")
    for name in (identity[0], identity[-1]):
        result = run_fixture(registry, Path(name))
        assert result.ok and result.level == "identity" and result.to_json() == cases[name]


def test_a_new_title_leaves_test_green_and_says_so_once(tmp_path):
    policies, fixtures = copy_tree(tmp_path)
    edit(policies / POLICY, "      title: 政治素质\n", "      title: 政治素质（拥护宪法）\n")
    out = engine("test", "--policies", policies, "--fixtures", fixtures / XJ)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 2 and "FAIL" not in out.stdout
    n = len(list((fixtures / XJ).rglob("*.json")))
    assert re.fullmatch(rf"{XJ}: \d+ golden files \(.*\) differ only in identity \(policy digest \d+, titles and notes "
                        rf"\d+\): `policy-engine test --update` refreshes them", lines[0]), lines[0]
    assert re.fullmatch(rf"{n} passed \(\d+ differ only in identity\), 0 failed", lines[1]), lines[1]


def test_update_refuses_an_outcome_change_without_the_flag_and_rewrites_it_with_it(tmp_path):
    policies, fixtures = copy_tree(tmp_path)
    edit(policies / POLICY, LIMIT, LIMIT.replace("65", "64"))
    case, golden = fixtures / AGE_CASE, (fixtures / AGE_CASE).with_suffix(".verdict.json")
    stored, before = golden.read_bytes(), snapshot(tmp_path)

    # the fixture still expects the old outcome: never rewritten, flag or not (its author sets `expect:`)
    for flags in ([], ["--accept-outcome-changes"]):
        out = engine("test", "--policies", policies, "--fixtures", fixtures / XJ, "--update", *flags)
        assert out.returncode == 1 and f"REFUSED {case}: outcome: eligible → needs_review (the fixture expects" in out.stdout
        assert golden.read_bytes() == stored
    changed = {k for k, v in snapshot(tmp_path).items() if before[k] != v}
    assert changed and all(k.startswith(f"fixtures/{XJ}/") and k.endswith(".json") for k in changed)  # identity only

    edit(case, "expect: eligible\n", "expect: needs_review\n")
    out = engine("test", "--policies", policies, "--fixtures", fixtures / XJ, "--update")
    assert out.returncode == 1, out.stdout[-3000:]
    lines = out.stdout.splitlines()
    assert lines[0] == f"REFUSED {case}: outcome: eligible → needs_review"
    assert lines[1] == "    rule age (第五条第（五）项): passed → failed"
    assert lines[2] == "    (not rewritten: if the new outcome is right, run `policy-engine test --update --accept-outcome-changes`)"
    assert re.fullmatch(r"--update: outcomes changed: 1 \(refused: 1; rewrite them with --update "
                        r"--accept-outcome-changes\), findings changed: 0, identity only: 0, new: 0, unchanged: \d+",
                        lines[-2]), lines[-2]  # the identity-only ones were rewritten by the runs above
    assert golden.read_bytes() == stored  # refused

    after_refusal = snapshot(tmp_path)
    out = engine("test", "--policies", policies, "--fixtures", fixtures / XJ, "--update", "--accept-outcome-changes")
    assert out.returncode == 0, out.stdout[-3000:]
    assert out.stdout.splitlines()[0] == f"outcome changed, rewritten: {case}: outcome: eligible → needs_review"
    assert "outcomes changed: 1, findings changed: 0, identity only: 0, new: 0" in out.stdout
    changed = {k for k, v in snapshot(tmp_path).items() if after_refusal[k] != v}
    assert changed == {str(golden.relative_to(tmp_path))}  # nothing else touched
    assert json.loads(golden.read_text(encoding="utf-8"))["outcome"] == "needs_review"
    out = engine("test", "--policies", policies, "--fixtures", fixtures / XJ)
    assert out.returncode == 0 and out.stdout.splitlines()[-1].endswith(" passed, 0 failed"), out.stdout


# -- a findings change: fails `test`, rewritten by --update without the flag and listed -----------------------

BASE = FIXTURES / XJ / "entry" / "last-day-in-force-decided.yaml"


def one_case(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / XJ / "entry"
    folder.mkdir(parents=True)
    shutil.copy(BASE, folder / BASE.name)
    golden = folder / BASE.with_suffix(".verdict.json").name
    shutil.copy(BASE.with_suffix(".verdict.json"), golden)
    return folder / BASE.name, golden


def test_a_findings_change_fails_and_update_rewrites_it_listed(tmp_path):
    case, golden = one_case(tmp_path)
    doc = json.loads(golden.read_text(encoding="utf-8"))
    finding = doc["findings"][0]
    finding["quote"] = finding["quote"][:-1]  # as if an earlier version quoted less of the article
    golden.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    run = CliRunner().invoke(main, ["test", "--fixtures", str(tmp_path)])
    assert run.exit_code == 1
    lines = run.output.splitlines()
    assert lines[0] == f"FAIL {case}: findings changed (outcome {doc['outcome']} unchanged)"
    assert lines[1].startswith(f"    rule {finding['rule']}: quote: {finding['quote']} → ")
    assert run_fixture(Registry.load(), case).message == lines[0].split(": ", 1)[1]  # what pytest says
    verbose = CliRunner().invoke(main, ["test", "--fixtures", str(tmp_path), "--verbose"])
    assert f'-      "quote": "{finding["quote"]}",' in verbose.output  # the full diff on demand
    run = CliRunner().invoke(main, ["test", "--fixtures", str(tmp_path), "--update"])
    assert run.exit_code == 0, run.output
    assert run.output.splitlines()[0] == f"findings changed, rewritten: {case}: findings changed (outcome {doc['outcome']} unchanged)"
    assert "outcomes changed: 0, findings changed: 1, identity only: 0, new: 0, unchanged: 0" in run.output
    assert golden.read_text(encoding="utf-8") == BASE.with_suffix(".verdict.json").read_text(encoding="utf-8")


def test_an_identity_only_change_passes_both_and_update_rewrites_it(tmp_path):
    case, golden = one_case(tmp_path)
    doc = json.loads(golden.read_text(encoding="utf-8"))
    doc["engine"]["version"] = "0.0.1"
    doc["findings"][0]["note"] = "旧的说明"
    golden.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    result = run_fixture(Registry.load(), case)
    assert result.ok and result.level == "identity" and set(result.identity) == {"engine.version", "findings[0].note"}
    run = CliRunner().invoke(main, ["test", "--fixtures", str(tmp_path), "--format", "json"])
    report = json.loads(run.output)
    assert run.exit_code == 0 and report["ok"] and report["levels"]["identity"] == 1
    assert report["identity_only"] == [{"policy": XJ, "files": 1, "kinds": {"verdict": 1},
                                        "identity": {"engine release": 1, "titles and notes": 1}}]
    run = CliRunner().invoke(main, ["test", "--fixtures", str(tmp_path)])
    assert run.output.splitlines()[0] == (f"{XJ}: 1 golden file (1 verdict) differs only in identity (engine release 1, "
                                          f"titles and notes 1): `policy-engine test --update` refreshes them")
    run = CliRunner().invoke(main, ["test", "--fixtures", str(tmp_path), "--update"])
    assert run.exit_code == 0 and f"{XJ}: 1 golden file (1 verdict) rewritten, identity only" in run.output
    assert golden.read_text(encoding="utf-8") == BASE.with_suffix(".verdict.json").read_text(encoding="utf-8")
    run = CliRunner().invoke(main, ["test", "--fixtures", str(tmp_path)])
    assert run.output == "1 passed, 0 failed\n"


def test_a_golden_file_that_is_not_json_fails_and_update_replaces_it(tmp_path):
    case, golden = one_case(tmp_path)
    golden.write_text("not json\n", encoding="utf-8")
    result = run_fixture(Registry.load(), case)
    assert not result.ok and result.level == "new" and "is not JSON" in result.message
    run = CliRunner().invoke(main, ["test", "--fixtures", str(tmp_path), "--update"])
    assert run.exit_code == 0 and "new: 1" in run.output
    assert golden.read_text(encoding="utf-8") == BASE.with_suffix(".verdict.json").read_text(encoding="utf-8")


def test_the_flag_belongs_to_update():
    run = CliRunner().invoke(main, ["test", "--accept-outcome-changes"])
    assert run.exit_code == 2 and "--update" in run.output


def test_help_names_the_flag_and_the_levels():
    out = CliRunner().invoke(main, ["test", "--help"]).output
    assert "--accept-outcome-changes" in out and "identity" in out and "--format" in out


def test_the_same_json_written_otherwise_is_identity_file_layout(tmp_path):
    case, golden = one_case(tmp_path)
    golden.write_text(json.dumps(json.loads(golden.read_text(encoding="utf-8")), ensure_ascii=True), encoding="utf-8")
    result = run_fixture(Registry.load(), case)
    assert result.ok and result.level == "identity" and result.identity == ()
    run = CliRunner().invoke(main, ["test", "--fixtures", str(tmp_path)])
    assert run.exit_code == 0 and "differs only in identity (file layout 1)" in run.output
    CliRunner().invoke(main, ["test", "--fixtures", str(tmp_path), "--update"])
    assert golden.read_text(encoding="utf-8") == BASE.with_suffix(".verdict.json").read_text(encoding="utf-8")


def test_the_json_report_follows_its_schema(tmp_path):
    """`test --format json` is a published contract: schemas/test-report.schema.json."""
    import json
    import subprocess
    import sys
    import jsonschema
    root = Path(__file__).resolve().parent.parent
    schema = json.loads((root / "schemas" / "test-report.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    done = subprocess.run([sys.executable, "-m", "policy_engine", "test", "--format", "json", "--fixtures",
                           str(root / "fixtures" / "xj-iit-expert-pool" / "entry")], capture_output=True, text=True,
                          cwd=tmp_path, env={**__import__("os").environ, "PYTHONPATH": str(root)}, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    jsonschema.Draft202012Validator(schema).validate(report)
    assert report["ok"] and report["cases"] and report["levels"]["same"] == len(report["cases"])
