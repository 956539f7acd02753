"""The command line: exit codes, JSON output, errors without tracebacks, help that teaches."""
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from policy_engine.cli import main

ROOT = Path(__file__).resolve().parent.parent
XJ = "xj-iit-expert-pool"
FIXTURE = ROOT / "fixtures" / XJ / "entry" / "eligible-senior-engineer.yaml"


@pytest.fixture
def run():
    runner = CliRunner()

    def invoke(*args, input=None):
        result = runner.invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)
        assert "Traceback" not in result.output
        return result
    return invoke


def test_check_bundled_policies(run):
    r = run("check", ROOT / "policies")
    assert r.exit_code == 0, r.output
    assert r.output.startswith("ok:")


def test_check_bad_policy_exits_3_and_writes_nothing(run, tmp_path):
    shutil.copytree(ROOT / "policies" / "_shared", tmp_path / "_shared")
    (tmp_path / XJ).mkdir()
    shutil.copy(ROOT / "policies" / XJ / "source.txt", tmp_path / XJ / "source.txt")
    text = (ROOT / "policies" / XJ / "2025-04-21.yaml").read_text(encoding="utf-8")
    (tmp_path / XJ / "2025-04-21.yaml").write_text(text.replace("年龄一般不超过65周岁\n", "年龄一般不超过60周岁\n", 1),
                                                   encoding="utf-8")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    r = run("check", tmp_path, "--format", "json")
    assert r.exit_code == 3
    out = json.loads(r.output)
    assert out["ok"] is False and out["problems"][0]["code"] == "quote_not_found"
    assert out["problems"][0]["line"] > 0
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_list(run):
    r = run("list", "--format", "json")
    assert r.exit_code == 0
    rows = {row["id"]: row for row in json.loads(r.output)}
    assert rows[XJ]["in_force"] == {"from": "2025-04-21", "until": "2027-05-20"}


def test_decide_json_and_text(run):
    r = run("decide", "--policy", XJ, "--decision", "entry", "--as-of", "2026-11-23", FIXTURE)
    assert r.exit_code == 0, r.output
    verdict = json.loads(r.output)
    assert verdict["outcome"] == "eligible" and verdict["policy"]["id"] == XJ and verdict["as_of"] == "2026-11-23"
    golden = (FIXTURE.with_suffix(".verdict.json")).read_text(encoding="utf-8")
    assert r.output == golden
    r = run("decide", "--policy", XJ, "--decision", "entry", "--as-of", "2026-11-23", "--format", "text", FIXTURE)
    assert r.exit_code == 0 and "符合入库条件" in r.output and "第五条第（五）项" in r.output


def test_decide_from_stdin_json(run):
    case = {"expert": {"birth_date": "1960-11-23"}}
    r = run("decide", "--policy", XJ, "--decision", "entry", "--as-of", "2026-11-23", "-", input=json.dumps(case))
    assert r.exit_code == 0
    assert json.loads(r.output)["outcome"] == "undetermined"


@pytest.mark.parametrize("case,code", [
    ('{"expert": {"birth_date": "sixty"}}', "case_invalid"),
    ('{"expert": {"birth_date": "1960-01-01", "birth_date": "1961-01-01"}}', "case_invalid"),
    ('{"expert": ', "case_invalid"),
    ("expert:\n  birth_date: [1960\n", "case_invalid"),
])
def test_invalid_case_exits_4(run, case, code):
    r = run("decide", "--policy", XJ, "--decision", "entry", "--as-of", "2026-11-23", "-", input=case)
    assert r.exit_code == 4, r.output
    assert json.loads(r.output)["error"] == code


def test_not_in_force_exits_5(run):
    r = run("decide", "--policy", XJ, "--decision", "entry", "--as-of", "2027-05-21", FIXTURE)
    assert r.exit_code == 5
    out = json.loads(r.output)
    assert out["error"] == "not_in_force" and "2027-05-20" in out["problems"][0]["message"]


def test_unknown_policy_exits_5(run):
    r = run("decide", "--policy", "no-such-pool", "--decision", "entry", "--as-of", "2026-11-23", FIXTURE)
    assert r.exit_code == 5 and json.loads(r.output)["error"] == "unknown_policy"


def test_text_errors_go_to_stderr_with_location(run):
    r = CliRunner().invoke(main, ["decide", "--policy", XJ, "--decision", "entry", "--as-of", "2026-11-23",
                                  "--format", "text", "-"], input='{"expert": {"title_rank": "seniour"}}')
    assert r.exit_code == 4
    assert "expert.title_rank" in r.output and "did you mean 'senior'" in r.output


def test_bad_date_and_bad_decision_are_usage_errors(run):
    r = run("decide", "--policy", XJ, "--decision", "promote", FIXTURE)
    assert r.exit_code == 2
    r = run("decide", "--policy", XJ, "--decision", "entry", "--as-of", "23/11/2026", FIXTURE)
    assert r.exit_code == 2 and "--as-of" in r.output and "YYYY-MM-DD" in r.output


def test_golden_command_fails_on_a_changed_verdict(run, tmp_path):
    (tmp_path / XJ / "entry").mkdir(parents=True)
    shutil.copy(FIXTURE, tmp_path / XJ / "entry" / FIXTURE.name)
    golden = FIXTURE.with_suffix(".verdict.json").read_text(encoding="utf-8")
    (tmp_path / XJ / "entry" / FIXTURE.with_suffix(".verdict.json").name).write_text(
        golden.replace('"outcome": "eligible"', '"outcome": "ineligible"'), encoding="utf-8")
    r = run("test", "--fixtures", tmp_path)
    assert r.exit_code == 1 and "outcome: ineligible → eligible" in r.output and '"outcome": "ineligible"' not in r.output
    r = run("test", "--fixtures", tmp_path, "--verbose")  # the whole diff on demand
    assert r.exit_code == 1 and '-  "outcome": "ineligible"' in r.output
    r = run("test", "--fixtures", tmp_path, "--update")  # an outcome change is rewritten only when accepted
    assert r.exit_code == 1 and "REFUSED" in r.output and "--accept-outcome-changes" in r.output
    r = run("test", "--fixtures", tmp_path, "--update", "--accept-outcome-changes")
    assert r.exit_code == 0 and "outcome changed, rewritten" in r.output
    assert run("test", "--fixtures", tmp_path).exit_code == 0


@pytest.mark.parametrize("command", ["check", "list", "decide", "test", "facts"])
def test_help_teaches(run, command):
    r = run(command, "--help")
    assert r.exit_code == 0 and len(r.output) > 200


def test_facts(run):
    r = run("facts", "--policy", XJ, "--format", "json")
    facts = json.loads(r.output)
    assert facts["expert.title_rank"]["values"][-1] == "senior"
    assert facts["expert.attested.political_standing"]["attested"] is True


def test_an_internal_defect_is_one_line_not_a_traceback(monkeypatch, capsys):
    import policy_engine.cli as cli

    def broken(*args, **kwargs):
        raise RuntimeError("simulated defect")

    monkeypatch.setattr(cli, "load_tree", broken)
    monkeypatch.setattr(cli.sys, "argv", ["policy-engine", "check", str(ROOT / "policies")])
    with pytest.raises(SystemExit) as info:
        cli.run()
    assert info.value.code == 70
    err = capsys.readouterr().err
    assert "internal error" in err and "simulated defect" in err and "Traceback" not in err


def test_compact_json_is_the_same_verdict(run):
    pretty = run("decide", "--policy", XJ, "--decision", "entry", "--as-of", "2026-11-23", FIXTURE).output
    compact = run("decide", "--policy", XJ, "--decision", "entry", "--as-of", "2026-11-23", "--compact", FIXTURE).output
    assert compact.count("\n") == 1 and json.loads(compact) == json.loads(pretty)


# -- draws, receipts, panels --------------------------------------------------------------------

POOL = ROOT / "fixtures" / "pools" / "xj-pool.csv"
DRAW_FIXTURE = ROOT / "fixtures" / XJ / "draw" / "five-experts-fifteen-candidates.yaml"
SEED = "5eed" * 16


def test_seed_prints_a_seed_and_its_commitment(run):
    import hashlib
    r = run("seed")
    out = json.loads(r.output)
    assert r.exit_code == 0 and len(out["seed"]) == 64
    assert out["commitment"] == hashlib.sha256(bytes.fromhex(out["seed"])).hexdigest()


def test_draw_verify_replenish_round_trip(run, tmp_path):
    receipt = tmp_path / "receipt.json"
    r = run("draw", "--policy", XJ, "--pool", POOL, "--request", DRAW_FIXTURE, "--seed", SEED, "--out", receipt)
    assert r.exit_code == 0, r.output
    printed = json.loads(r.output)
    assert printed == json.loads(receipt.read_text(encoding="utf-8"))
    assert printed["outcome"] == "drawn" and len(printed["selected"]) == 5
    assert run("verify-draw", receipt, "--pool", POOL).exit_code == 0
    first = printed["selected"][0]
    answers = tmp_path / "answers.yaml"
    answers.write_text(f"{first}: declined\n", encoding="utf-8")
    again = tmp_path / "receipt2.json"
    r = run("replenish", receipt, "--pool", POOL, "--answers", answers, "--out", again)
    assert r.exit_code == 0, r.output
    replenished = json.loads(r.output)
    assert first not in replenished["selected"] and replenished["selected"][:4] == printed["selected"][1:]
    assert replenished["request"]["answers"] == {first: "declined"}
    r = run("verify-draw", again, "--pool", POOL, "--format", "json")
    answer = json.loads(r.output)
    assert r.exit_code == 0 and answer["ok"] is True and answer["differences"] == [] and answer["kinds"] == []
    assert answer["warnings"] == ["receipt policy-engine/draw-receipt/2 made without the draw protocol: no published "
                                  "commitment binds its seed, request and pool"]


def test_verify_draw_names_a_hand_edit_and_exits_1(run, tmp_path):
    receipt = tmp_path / "receipt.json"
    run("draw", "--policy", XJ, "--pool", POOL, "--request", DRAW_FIXTURE, "--seed", SEED, "--out", receipt)
    data = json.loads(receipt.read_text(encoding="utf-8"))
    data["selected"][0], data["selected"][1] = data["selected"][1], data["selected"][0]
    receipt.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    r = run("verify-draw", receipt, "--pool", POOL)
    assert r.exit_code == 1
    assert "不一致" in r.output and "selected[0]" in r.output
    r = run("replenish", receipt, "--pool", POOL, "--answers", "-", input="{}")
    assert r.exit_code == 1, "a receipt that does not verify is not replenished"


def test_draw_without_a_seed_makes_one_and_says_so(run):
    r = run("draw", "--policy", XJ, "--pool", POOL, "--request", DRAW_FIXTURE)
    assert r.exit_code == 0
    seed = json.loads(r.stdout)["seed"]
    assert f"seed generated: {seed}" in r.stderr


def test_draw_text_output_is_chinese_with_the_articles(run):
    r = run("draw", "--policy", XJ, "--pool", POOL, "--request", DRAW_FIXTURE, "--seed", SEED, "--format", "text")
    assert r.exit_code == 0
    assert "结论：已抽取" in r.output and "第十三条第（二）项" in r.output and "候补：" in r.output


@pytest.mark.parametrize("args, code, words", [
    (["--pool", ROOT / "fixtures" / "pools" / "missing.csv"], 4, ["cannot read the pool"]),
    (["--seed", "abc"], 4, ["seed"]),
    (["--commitment", "0" * 64], 4, ["does not match the commitment"]),
    (["--policy", "xj-iit-expert-poo"], 5, ["did you mean 'xj-iit-expert-pool'"]),
])
def test_draw_errors_are_json_with_a_code(run, args, code, words):
    base = {"--policy": XJ, "--pool": POOL, "--request": DRAW_FIXTURE, "--seed": SEED}
    for flag, value in zip(args[::2], args[1::2]):
        base[flag] = value
    r = run("draw", *[x for kv in base.items() for x in kv])
    assert r.exit_code == code, r.output
    out = json.loads(r.output)
    assert out["error"] and all(w in r.output for w in words)


def test_check_panel_json_and_text(run):
    panel = ROOT / "fixtures" / XJ / "panel" / "member-at-ten-reviews.yaml"
    r = run("check-panel", "--policy", XJ, "--pool", POOL, panel)
    assert r.exit_code == 0
    verdict = json.loads(r.output)
    assert verdict["decision"] == "panel" and verdict["outcome"] == "needs_review"
    assert verdict == json.loads(panel.with_suffix(".verdict.json").read_text(encoding="utf-8"))
    r = run("check-panel", "--policy", XJ, "--pool", POOL, "--format", "text", panel)
    assert "原则上每位专家每年度参与评审工作不超过10次" in r.output and "需管理部门审查决定" in r.output


def test_check_panel_without_a_pool_for_pool_members(run):
    panel = ROOT / "fixtures" / XJ / "panel" / "drawn-under-supervision.yaml"
    r = run("check-panel", "--policy", XJ, "--format", "text", panel)
    assert r.exit_code == 4 and "is not in the pool" in r.output


@pytest.mark.parametrize("command", ["draw", "verify-draw", "replenish", "check-panel", "seed"])
def test_selection_commands_have_help_with_an_example_or_exit_codes(run, command):
    r = run(command, "--help")
    assert r.exit_code == 0
    assert len(r.output) > 400


# -- accountability and evaluation ----------------------------------------------------------------

def test_decide_sanction_text_quotes_the_ladder(run):
    fixture = ROOT / "fixtures" / "chongqing-petition-responsibility" / "sanction" / "minor-escalated-twice-organisational-handling.yaml"
    r = run("decide", "--policy", "chongqing-petition-responsibility", "--decision", "sanction", "--as-of", "2024-11-01",
            "--format", "text", fixture)
    assert r.exit_code == 0, r.output
    assert "结论：組織調整或者組織處理（organisational_handling）" in r.output  # the regulation's own label
    assert "应当给予：組織調整或者組織處理" in r.output
    assert "由有权机关在下列措施中选择（可单独或合并使用）：停職檢查" in r.output
    assert "“對受到誡勉后仍未按期完成整改目標”" in r.output and "【追责等级】" in r.output


def test_decide_apportion_text_names_each_person(run):
    fixture = ROOT / "fixtures" / "chongqing-petition-responsibility" / "apportion" / "collective-objector-exempt.yaml"
    r = run("decide", "--policy", "chongqing-petition-responsibility", "--decision", "apportion", "--as-of", "2024-09-01",
            "--format", "text", fixture)
    assert r.exit_code == 0 and "张委员（班子其他成员）：不承担责任" in r.output and "赵委员（班子其他成员）：重要領導責任" in r.output


def test_a_score_over_the_maximum_exits_4_with_the_item(run):
    fixture = ROOT / "fixtures" / XJ / "score" / "item-over-maximum-rejected.yaml"
    r = run("decide", "--policy", XJ, "--decision", "score", "--as-of", "2026-03-16", fixture)
    assert r.exit_code == 4
    out = json.loads(r.output)
    assert out["error"] == "case_invalid" and out["problems"][0]["path"] == "evaluation.scores.work_quality"


def test_gate_json(run):
    fixture = ROOT / "fixtures" / "chifeng-decision-expert-pool" / "gate" / "no-argumentation-blocked.yaml"
    r = run("decide", "--policy", "chifeng-decision-expert-pool", "--decision", "gate", "--as-of", "2026-09-20", fixture)
    assert r.exit_code == 0 and json.loads(r.output)["outcome"] == "blocked"
    assert r.output == fixture.with_suffix(".verdict.json").read_text(encoding="utf-8")


def test_facts_as_a_case_schema(run):
    r = run("facts", "--policy", "chongqing-petition-responsibility", "--format", "schema")
    schema = json.loads(r.output)
    assert schema["properties"]["accountability"]["properties"]["subject"]["enum"][0] == "organ"
