"""The draw protocol with the audit log, end to end through the command line: the commitment is
published in the log (`commit --log`), every draw attempt is logged under the commitment it was
drawn under (`draw --log`), and `verify-draw --log` checks the receipt against that log's records —
a second attempt under one commitment is exposed, and so is a draw whose attempt is not in the log.
SQLite here; the log's own tests run both backends."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from click.testing import CliRunner

from policy_engine.audit.log import AuditLog
from policy_engine.cli import main

ROOT = Path(__file__).resolve().parent.parent
POOL = str(ROOT / "fixtures" / "pools" / "xin-county-pool.csv")
OFFICE = "342b948b80323d6e66c7304fb47a5f93ef424e581417c53ffeab8f1a3874ae74"
SUPERVISOR = "903ea653a66af6b9bed01d67016e3a57fd84324ab03954fcdcaf5804a74151fc"
REQUEST = """id: 新工信抽〔2026〕17号
date: '2026-11-20'
mode: random
count: 3
supervisor: 专家库办公室、机关纪委
matter:
  id: XG-2026-17
  leader: Q200
  applicant_unit: 申报单位
  participants: [X12]
"""


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _committed(tmp_path):
    (tmp_path / "request.yaml").write_text(REQUEST, encoding="utf-8")
    log = tmp_path / "audit.db"
    seed_commitment = hashlib.sha256(bytes.fromhex(OFFICE)).hexdigest()
    r = _run("commit", "--policy", "xin-county-iit-expert-pool", "--pool", POOL, "--request", tmp_path / "request.yaml",
             "--seed-commitment", seed_commitment, "--out", tmp_path / "commitment.json", "--log", log)
    assert r.exit_code == 0, r.output
    return log, json.loads(r.output)["commitment"]


def _draw(tmp_path, log, out):
    return _run("draw", "--policy", "xin-county-iit-expert-pool", "--pool", POOL, "--request", tmp_path / "request.yaml",
                "--commitment-file", tmp_path / "commitment.json", "--seed", OFFICE, "--supervisor-seed", SUPERVISOR,
                "--out", tmp_path / out, *(("--log", log) if log else ()))


def _verify(tmp_path, log, receipt="receipt.json"):
    return _run("verify-draw", tmp_path / receipt, "--pool", POOL, "--log", log, "--require-protocol",
                "--format", "json")


def test_an_honest_draw_verifies_against_its_log(tmp_path):
    log, commitment = _committed(tmp_path)
    assert _draw(tmp_path, log, "receipt.json").exit_code == 0
    r = _verify(tmp_path, log)
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["ok"] is True
    with AuditLog.open(str(log)) as opened:
        kinds = [(rec.kind, rec.request.get("commitment")) for rec in opened.records()]
        assert not opened.verify()
    assert kinds[:2] == [("draw_commitment", None), ("draw", commitment)]
    assert kinds[2][0] == "verify"


def test_a_second_attempt_under_one_commitment_is_exposed(tmp_path):
    log, _ = _committed(tmp_path)
    assert _draw(tmp_path, log, "receipt.json").exit_code == 0
    assert _draw(tmp_path, log, "again.json").exit_code == 0  # the same panel again, but a second attempt
    r = _verify(tmp_path, log)
    assert r.exit_code == 1, r.output
    assert "attempts_repeated" in json.loads(r.output)["kinds"]


def test_a_draw_kept_out_of_the_log_is_exposed(tmp_path):
    log, _ = _committed(tmp_path)
    assert _draw(tmp_path, None, "receipt.json").exit_code == 0  # drawn without --log
    r = _verify(tmp_path, log)
    assert r.exit_code == 1, r.output
    assert "attempt_not_logged" in json.loads(r.output)["kinds"]


def test_an_exported_log_serves_as_the_records(tmp_path):
    log, _ = _committed(tmp_path)
    assert _draw(tmp_path, log, "receipt.json").exit_code == 0
    assert _run("log", "export", "--log", log, "-o", tmp_path / "audit.jsonl").exit_code == 0
    r = _run("verify-draw", tmp_path / "receipt.json", "--pool", POOL, "--log-records", tmp_path / "audit.jsonl",
             "--require-protocol", "--format", "json")
    assert r.exit_code == 0, r.output
