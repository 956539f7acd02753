"""The command line's audit log: --log on draw, replenish and verify-draw (every attempt, refusals
and errors too), and `log verify | show | export`, with SQLite files and a PostgreSQL server of
the tests' own (tests/audit_pg.py). Exports are checked offline, after tampering with their lines."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from audit_pg import pg_database, pg_server  # noqa: F401  (a fixture)
from policy_engine.audit.log import AuditLog
from policy_engine.cli import main
from policy_engine.errors import LogError

ROOT = Path(__file__).resolve().parent.parent
XJ = "xj-iit-expert-pool"
POOL = ROOT / "fixtures" / "pools" / "xj-pool.csv"
REQUEST = ROOT / "fixtures" / XJ / "draw" / "five-experts-fifteen-candidates.yaml"
SEED = "5eed" * 16
UTC_SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture
def run():
    runner = CliRunner()

    def invoke(*args, input=None):
        result = runner.invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)
        assert "Traceback" not in result.output
        return result
    return invoke


def draw(run, log, *extra):
    return run("draw", "--policy", XJ, "--pool", POOL, "--request", REQUEST, "--seed", SEED, "--log", log, *extra)


def records(url):
    with AuditLog.open(url, create=False) as log:
        return list(log.records())


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'audit.db'}"
    return pg_database(request.getfixturevalue("pg_server"))


def test_draw_replenish_and_verify_are_logged_with_request_answer_policy_and_time(run, url, tmp_path):
    receipt = tmp_path / "receipt.json"
    r = draw(run, url, "--out", receipt)
    assert r.exit_code == 0, r.output
    answer = json.loads(r.output)
    assert run("verify-draw", receipt, "--pool", POOL, "--log", url).exit_code == 0
    first = answer["selected"][0]
    answers = tmp_path / "answers.yaml"
    answers.write_text(f"{first}: declined\n")
    r = run("replenish", receipt, "--pool", POOL, "--answers", answers, "--log", url)
    assert r.exit_code == 0, r.output
    replenished = json.loads(r.output)
    logged = records(url)
    assert [x.kind for x in logged] == ["draw", "verify", "replenish"]
    assert logged[0].answer == answer and logged[2].answer == replenished
    assert logged[1].answer["ok"] is True
    assert all(x.policy == answer["policy"] for x in logged)
    assert all(UTC_SECONDS.match(x.at) for x in logged)
    assert logged[0].request["options"]["pool_file"] == str(POOL)
    assert logged[0].request["documents"]["request"]["case"]["count"] == answer["request"]["count"]
    assert logged[2].request["documents"]["answers"] == {first: "declined"}
    assert run("log", "verify", "--log", url).exit_code == 0


def test_refusals_and_errors_are_logged_too(run, url, tmp_path):
    r = draw(run, url, "--pool", tmp_path / "absent.csv")  # the later --pool wins
    assert r.exit_code == 4
    empty = tmp_path / "pool.csv"
    empty.write_text(POOL.read_text().splitlines()[0] + "\n")  # the header, no expert: a shortfall
    r = draw(run, url, "--pool", empty)
    assert r.exit_code == 0
    shortfall = json.loads(r.output)
    r = run("verify-draw", tmp_path / "absent.json", "--pool", POOL, "--log", url, "--format", "json")
    assert r.exit_code == 4
    logged = records(url)
    assert [x.kind for x in logged] == ["draw", "draw", "verify"]
    assert logged[0].answer["error"] == "pool_invalid" and logged[0].policy is None
    assert logged[1].answer == shortfall and shortfall["outcome"] != "drawn"
    assert logged[2].answer == json.loads(r.output) and logged[2].request["documents"]["receipt"]["unreadable"]


def test_a_log_that_cannot_be_opened_stops_the_draw_before_it_is_made(run, tmp_path):
    receipt = tmp_path / "receipt.json"
    r = draw(run, tmp_path / "missing" / "audit.db", "--out", receipt)
    assert r.exit_code == 74 and json.loads(r.output)["error"] == "log_unavailable"
    assert not receipt.exists()
    r = run("verify-draw", receipt, "--pool", POOL, "--log", "mysql://x@y/z")
    assert r.exit_code == 74 and "unknown log URL scheme 'mysql'" in r.output


def test_a_log_that_cannot_be_written_withholds_the_receipt(run, tmp_path, monkeypatch):
    def refuse(self, *args, **kwargs):
        from policy_engine.errors import problem
        raise LogError([problem("log_unavailable", "cannot append to the log: disk I/O error; nothing was written")])

    monkeypatch.setattr(AuditLog, "append", refuse)
    receipt = tmp_path / "receipt.json"
    r = draw(run, tmp_path / "audit.db", "--out", receipt)
    assert r.exit_code == 74 and json.loads(r.output)["error"] == "log_unavailable"
    assert '"selected"' not in r.output and not receipt.exists()


def test_show_text_and_json_with_filters(run, url, tmp_path):
    draw(run, url)
    run("verify-draw", tmp_path / "absent.json", "--pool", POOL, "--log", url)
    draw(run, url)
    r = run("log", "show", "--log", url)
    lines = r.output.splitlines()
    assert r.exit_code == 0 and len(lines) == 3
    assert "draw" in lines[0] and f"{XJ}@" in lines[0] and "drawn" in lines[0] and "error receipt_invalid" in lines[1]
    r = run("log", "show", "--log", url, "--kind", "draw", "--format", "json")
    shown = [json.loads(line) for line in r.output.splitlines()]
    assert [x["seq"] for x in shown] == [1, 3] and all(len(x["hash"]) == 64 for x in shown)
    r = run("log", "show", "--log", url, "--from", "2", "--to", "2", "--format", "json")
    assert [json.loads(line)["seq"] for line in r.output.splitlines()] == [2]


def test_export_is_verifiable_offline_and_tampering_with_its_lines_is_found(run, url, tmp_path):
    for _ in range(4):
        draw(run, url)
    exported = tmp_path / "log.jsonl"
    assert run("log", "export", "--log", url, "-o", exported).exit_code == 0
    lines = exported.read_text().splitlines()
    header = json.loads(lines[0])
    assert header["format"] == "policy-engine-audit-log" and header["schema_version"] == 1 and header["records"] == 4
    r = run("log", "verify", exported)
    assert r.exit_code == 0 and f"head 4:{header['head']}" in r.output

    def verify_lines(new_lines, *extra):
        tampered = tmp_path / "tampered.jsonl"
        tampered.write_text("\n".join(new_lines) + "\n")
        out = run("log", "verify", tampered, "--format", "json", *extra)
        return out.exit_code, [(p["seq"], p["kind"]) for p in json.loads(out.output)["problems"]]

    edited = json.loads(lines[2])
    edited["answer"]["selected"][0] = "E999"
    assert verify_lines([lines[0], lines[1], json.dumps(edited), *lines[3:]]) == (1, [(2, "edited")])
    assert verify_lines([lines[0], lines[1], *lines[3:]]) == (1, [(3, "missing"), (3, "chain"), (None, "header")])
    code, swapped = verify_lines([lines[0], lines[2], lines[1], *lines[3:]])
    assert code == 1 and (2, "chain") in swapped and (1, "order") in swapped
    # the tail cut off: the header says so; with the header rewritten too, only an anchor does
    assert verify_lines(lines[:-1]) == (1, [(None, "header")])
    cut_header = json.dumps({**header, "records": 3, "head": json.loads(lines[3])["hash"]})
    assert verify_lines([cut_header, *lines[1:-1]]) == (0, [])
    assert verify_lines([cut_header, *lines[1:-1]], "--anchor", f"4:{header['head']}") == (1, [(4, "anchor")])
    assert verify_lines([cut_header, *lines[1:-1]], "--expect-head", header["head"]) == (1, [(None, "anchor")])
    assert verify_lines([*lines[:2], "{not json", *lines[3:]])[1][0] == (None, "malformed")


def test_verify_of_a_tampered_log_names_the_break_and_exits_1(run, tmp_path):
    import sqlite3
    path = tmp_path / "audit.db"
    for _ in range(3):
        draw(run, path)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("DROP TRIGGER audit_log_no_delete")
    db.execute("DELETE FROM audit_log WHERE seq = 2")
    db.close()
    r = run("log", "verify", "--log", path)
    assert r.exit_code == 1
    assert "record 3 (draw): missing: record(s) 2 are not there" in r.output and "log_broken" in r.output


def test_log_verify_usage_and_unreadable_logs(run, tmp_path):
    assert run("log", "verify").exit_code == 2
    assert run("log", "verify", tmp_path / "x.jsonl", "--log", tmp_path / "x.db").exit_code == 2
    assert run("log", "verify", "--anchor", "nonsense", "--log", tmp_path / "x.db").exit_code == 2
    r = run("log", "verify", "--log", tmp_path / "absent.db", "--format", "json")
    assert r.exit_code == 74 and json.loads(r.output)["error"] == "log_unavailable"
    assert not (tmp_path / "absent.db").exists()  # reading never creates a log
    assert run("log", "show", "--log", tmp_path / "absent.db").exit_code == 74
    assert run("log", "export", "--log", tmp_path / "absent.db").exit_code == 74
    assert run("log", "verify", tmp_path / "absent.jsonl").exit_code == 74
