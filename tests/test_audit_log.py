"""The audit log (policy_engine/audit/log.py), each test on both backends for real: an SQLite file,
and a PostgreSQL server these tests start (tests/audit_pg.py; they fail, never skip, without it).

Covers: the record and its hash as documented, appends from several processes at once (the chain
stays whole), a failed append leaves nothing, the tables refuse UPDATE and DELETE, and what
`verify` finds after tampering by someone who can write the database (an edited, deleted, moved
record; a rewritten tail) and what it cannot find without an anchor (the tail cut off).
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from audit_pg import pg_database, pg_server  # noqa: F401  (a fixture)
from policy_engine.audit.chain import GENESIS, record_hash
from policy_engine.audit.log import AuditLog, LogProblem, Record
from policy_engine.errors import LogError
from policy_engine.version import ENGINE

ROOT = Path(__file__).resolve().parent.parent
AT = "2026-11-30T04:05:06Z"
POLICY = {"id": "xj-iit-expert-pool", "version": "2025-04-21", "sha256": "ab" * 32}


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "audit.db")
    return pg_database(request.getfixturevalue("pg_server"))


class Raw:
    """Direct SQL on the log's database, as someone with write access to it could do."""

    def __init__(self, url: str):
        self.pg = url.startswith("postgresql://")
        if self.pg:
            import psycopg
            self.db = psycopg.connect(url, autocommit=True)
        else:
            self.db = sqlite3.connect(url, isolation_level=None)

    def sql(self, statement: str, *args):
        if self.pg:
            statement = statement.replace("?", "%s")
        return self.db.execute(statement, args).fetchall() if statement.lstrip().upper().startswith("SELECT") \
            else self.db.execute(statement, args)

    def drop_guards(self) -> None:
        if self.pg:
            self.sql("DROP TRIGGER audit_log_append_only ON audit_log")
        else:
            self.sql("DROP TRIGGER audit_log_no_update")
            self.sql("DROP TRIGGER audit_log_no_delete")

    def close(self) -> None:
        self.db.close()


def fill(url: str, n: int = 5) -> list[Record]:
    with AuditLog.open(url) as log:
        return [log.append("draw" if i % 2 else "verify", {"request": i, "matter": "项目甲"},
                           {"outcome": "drawn", "selected": [f"E{i:03}"]}, policy=POLICY, at=AT)
                for i in range(n)]


def kinds_of(problems: list[LogProblem]) -> list[tuple[int | None, str]]:
    return [(p.seq, p.kind) for p in problems]


# -- records and hashes ------------------------------------------------------------------------------

def test_a_record_holds_what_was_asked_and_answered_and_its_hash_is_the_documented_one(url):
    with AuditLog.open(url) as log:
        first = log.append("draw", {"count": 5}, {"outcome": "drawn"}, policy=POLICY, at=AT)
        second = log.append("verify", {"receipt": "r"}, {"error": "receipt_invalid"}, at="2026-11-30T04:05:07+00:00")
    assert (first.seq, first.prev, second.seq, second.prev) == (1, GENESIS, 2, first.hash)
    assert first.engine == ENGINE and first.policy == POLICY and second.policy is None
    body = {k: getattr(first, k) for k in ("seq", "kind", "at", "request", "answer", "policy", "engine", "prev")}
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    assert first.hash == hashlib.sha256(text).hexdigest() == record_hash(body)
    with AuditLog.open(url, create=False) as log:  # read back as written
        assert list(log.records()) == [first, second]
        assert log.verify() == [] and log.head() == second


def test_records_filter_by_kind_and_range_and_find_by_top_level_values(url):
    recs = fill(url, 7)
    with AuditLog.open(url) as log:
        assert [r.seq for r in log.records("draw")] == [2, 4, 6]
        assert [r.seq for r in log.records(["verify"], since=3)] == [5, 7]
        assert [r.seq for r in log.records(since=2, limit=3)] == [3, 4, 5]
        assert [r.seq for r in log.records(since=1, until=3)] == [2, 3]
        assert log.find("draw", selected=["E003"]) == [recs[3]]  # in the answer
        assert log.find("verify", matter="项目甲", request=4) == [recs[4]]  # in the request
        assert log.find("draw", selected=["E004"]) == []  # E004 is a verify record


def test_the_schema_version_is_recorded_and_a_newer_one_refused(url):
    fill(url, 1)
    raw = Raw(url)
    assert raw.sql("SELECT value FROM audit_meta WHERE key = 'schema_version'") == [("1",)]
    raw.sql("UPDATE audit_meta SET value = '99' WHERE key = 'schema_version'")
    raw.close()
    with pytest.raises(LogError) as caught:
        AuditLog.open(url)
    assert caught.value.code == "log_unavailable" and "99" in str(caught.value)


def test_values_json_cannot_hold_and_times_not_in_utc_are_refused_before_anything_is_written(url):
    with AuditLog.open(url) as log:
        with pytest.raises(ValueError):
            log.append("draw", {}, {"x": float("nan")}, at=AT)
        with pytest.raises(TypeError):
            log.append("draw", {1, 2}, {}, at=AT)
        with pytest.raises(ValueError, match="UTC"):
            log.append("draw", {}, {}, at="2026-11-30T12:05:06+08:00")
        with pytest.raises(ValueError, match="ISO 8601"):
            log.append("draw", {}, {}, at="30/11/2026")
        with pytest.raises(ValueError):
            log.append("draw", {}, {}, policy={"id": "x"}, at=AT)
        assert list(log.records()) == []


def test_a_failed_append_leaves_no_half_record_and_releases_the_lock(url, monkeypatch):
    import policy_engine.audit.log as module
    fill(url, 2)

    def broken(fields):
        raise RuntimeError("the machine failed while the record was being made")

    with AuditLog.open(url) as log:
        monkeypatch.setattr(module, "record_hash", broken)
        with pytest.raises(RuntimeError):
            log.append("draw", {}, {}, at=AT)
        monkeypatch.undo()
        assert [r.seq for r in log.records()] == [1, 2]
    # another process can append at once: the failed append held no lock
    out = subprocess.run([sys.executable, "-c", APPENDER, url, "other", "1"], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    with AuditLog.open(url) as log:
        assert [r.seq for r in log.records()] == [1, 2, 3] and log.verify() == []


def test_the_tables_refuse_update_and_delete(url):
    fill(url, 2)
    raw = Raw(url)
    for statement in ("UPDATE audit_log SET kind = 'x' WHERE seq = 1", "DELETE FROM audit_log WHERE seq = 2"):
        with pytest.raises(Exception, match="append-only"):
            raw.sql(statement)
    raw.close()
    with AuditLog.open(url) as log:
        assert len(list(log.records())) == 2 and log.verify() == []


# -- several processes at once -----------------------------------------------------------------------

APPENDER = """
import sys, time
from policy_engine.audit.log import AuditLog
url, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
start = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
with AuditLog.open(url) as log:
    time.sleep(max(0.0, start - time.time()))  # every writer starts at the same moment
    for i in range(count):
        log.append("draw", {"writer": name, "i": i}, {"outcome": "drawn"}, at="2026-11-30T04:05:06Z")
"""


def test_appends_from_several_processes_at_once_keep_the_chain_whole(url):
    import time
    writers, each = 4, 60
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = str(time.time() + 3)  # after every process has started and opened the log
    procs = [subprocess.Popen([sys.executable, "-c", APPENDER, url, f"w{n}", str(each), start], env=env,
                              stderr=subprocess.PIPE, text=True) for n in range(writers)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    with AuditLog.open(url) as log:
        recs = list(log.records())
        assert [r.seq for r in recs] == list(range(1, writers * each + 1))
        assert log.verify() == []
        for n in range(writers):  # each writer's records all there, in its own order
            assert [r.request["i"] for r in recs if r.request["writer"] == f"w{n}"] == list(range(each))
        writers_in_turn = [r.request["writer"] for r in recs]
        switches = sum(a != b for a, b in zip(writers_in_turn, writers_in_turn[1:]))
        assert switches >= writers, "the writers did not run at the same time: the test shows nothing"
    if not url.startswith("postgresql://"):
        assert sqlite3.connect(url).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# -- tampering: what verify finds, and what it needs an anchor for ----------------------------------------

def test_an_edited_record_is_found(url):
    fill(url)
    raw = Raw(url)
    raw.drop_guards()
    raw.sql("UPDATE audit_log SET answer = ? WHERE seq = 3", '{"outcome":"drawn","selected":["E999"]}')
    raw.close()
    with AuditLog.open(url) as log:
        assert kinds_of(log.verify()) == [(3, "edited")]


def test_an_edited_record_given_a_new_hash_breaks_the_chain_at_the_next(url):
    recs = fill(url)
    raw = Raw(url)
    raw.drop_guards()
    forged = {**recs[2].to_json(), "answer": {"outcome": "refused"}}
    raw.sql("UPDATE audit_log SET answer = ?, hash = ? WHERE seq = 3", '{"outcome":"refused"}', record_hash(forged))
    raw.close()
    with AuditLog.open(url) as log:
        assert kinds_of(log.verify()) == [(4, "chain")]


def test_a_deleted_record_is_found(url):
    fill(url)
    raw = Raw(url)
    raw.drop_guards()
    raw.sql("DELETE FROM audit_log WHERE seq = 2")
    raw.close()
    with AuditLog.open(url) as log:
        problems = log.verify()
    assert kinds_of(problems) == [(3, "missing"), (3, "chain")]
    assert "record(s) 2 are not there" in problems[0].render()


def test_records_moved_are_found(url):
    fill(url)
    raw = Raw(url)
    raw.drop_guards()
    for old, new in ((2, 1000), (3, 2), (1000, 3)):  # swap records 2 and 3
        raw.sql("UPDATE audit_log SET seq = ? WHERE seq = ?", new, old)
    raw.close()
    with AuditLog.open(url) as log:
        found = kinds_of(log.verify())
    assert (2, "edited") in found and (3, "edited") in found and (2, "chain") in found


def test_a_tail_cut_off_needs_an_anchor(url):
    recs = fill(url)
    published = recs[-1]  # the head, published elsewhere when it was written
    raw = Raw(url)
    raw.drop_guards()
    raw.sql("DELETE FROM audit_log WHERE seq >= 4")
    raw.close()
    with AuditLog.open(url) as log:
        assert log.verify() == []  # what is left is a whole chain: the cut alone cannot be seen
        assert kinds_of(log.verify(anchors={published.seq: published.hash})) == [(5, "anchor")]
        assert kinds_of(log.verify(head=published.hash)) == [(None, "anchor")]
        assert log.verify(anchors={3: recs[2].hash}, head=recs[2].hash) == []


def test_a_rewritten_tail_needs_an_anchor(url):
    """Whoever rewrites a record and re-hashes every one after it leaves a whole chain; a hash
    published before (an anchor at or after the rewritten record) exposes it."""
    recs = fill(url)
    anchor = recs[3]
    raw = Raw(url)
    raw.drop_guards()
    prev = recs[1].hash
    for rec in recs[2:]:
        body = {**rec.to_json(), "prev": prev}
        if rec.seq == 3:
            body["answer"] = {"outcome": "refused"}
        body["hash"] = record_hash(body)
        raw.sql("UPDATE audit_log SET answer = ?, prev = ?, hash = ? WHERE seq = ?",
                json.dumps(body["answer"], sort_keys=True, separators=(",", ":")), body["prev"], body["hash"], rec.seq)
        prev = body["hash"]
    raw.close()
    with AuditLog.open(url) as log:
        assert log.verify() == []
        assert kinds_of(log.verify(anchors={anchor.seq: anchor.hash})) == [(4, "anchor")]


def test_a_record_that_is_not_json_is_reported_not_raised(url):
    fill(url, 3)
    raw = Raw(url)
    raw.drop_guards()
    raw.sql("UPDATE audit_log SET request = ? WHERE seq = 2", "{not json")
    raw.close()
    with AuditLog.open(url) as log:
        assert kinds_of(log.verify()) == [(2, "malformed")]
        with pytest.raises(LogError) as caught:
            list(log.records())
        assert caught.value.code == "log_broken"


# -- a log that cannot be opened -----------------------------------------------------------------------------

@pytest.mark.parametrize("make", ["missing_folder", "not_a_database", "a_folder", "unknown_scheme", "no_such_log",
                                  "sqlite_but_not_a_log"])
def test_a_log_that_cannot_be_opened_is_log_unavailable(tmp_path, make):
    create = True
    if make == "missing_folder":
        target = str(tmp_path / "nowhere" / "audit.db")
    elif make == "not_a_database":
        (tmp_path / "notes.txt").write_text("this is not a database, it is a text file of some length" * 20)
        target = str(tmp_path / "notes.txt")
    elif make == "a_folder":
        target = str(tmp_path)
    elif make == "unknown_scheme":
        target = "mysql://root@localhost/audit"
    elif make == "no_such_log":
        target, create = str(tmp_path / "absent.db"), False
    else:
        sqlite3.connect(tmp_path / "other.db").execute("CREATE TABLE t (x)")
        target, create = f"sqlite:///{tmp_path / 'other.db'}", False
    with pytest.raises(LogError) as caught:
        AuditLog.open(target, create=create)
    assert caught.value.code == "log_unavailable" and caught.value.exit_code == 74
    assert not (tmp_path / "absent.db").exists()


def test_sqlite_urls(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for target in (f"sqlite:///{tmp_path}/a.db", "sqlite:b.db", "c.db"):
        with AuditLog.open(target) as log:
            log.append("verify", {}, {"ok": True}, at=AT)
    assert all((tmp_path / name).is_file() for name in ("a.db", "b.db", "c.db"))


def test_postgresql_unreachable_or_without_the_driver(pg_server, monkeypatch):
    url = pg_server.url("postgres").replace(str(pg_server.port), "1")  # nothing listens on port 1
    with pytest.raises(LogError, match="cannot connect") as caught:
        AuditLog.open(url, timeout=2)
    assert caught.value.code == "log_unavailable"
    with pytest.raises(LogError) as caught:  # the password never appears in a message
        AuditLog.open("postgresql://audit:s3cret@127.0.0.1:1/x", timeout=2)
    assert "s3cret" not in str(caught.value) and "***" in str(caught.value)
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if the extra were not installed
    with pytest.raises(LogError) as caught:
        AuditLog.open(pg_server.url("postgres"))
    assert "policy-engine[postgres]" in str(caught.value)


def test_threads_sharing_one_open_log_and_reads_page_by_page(url, monkeypatch):
    import threading
    import policy_engine.audit.log as module
    monkeypatch.setattr(module, "PAGE", 3)  # records and verify read in pages: several pages here
    with AuditLog.open(url) as log:
        def write(name):
            for i in range(10):
                log.append("verdict", {"thread": name, "i": i}, {"outcome": "eligible"}, at=AT)
        threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [r.seq for r in log.records()] == list(range(1, 41))
        assert [r.seq for r in log.records("verdict", since=35)] == [36, 37, 38, 39, 40]
        assert log.verify() == [] and log.check()[1] == 40


def test_postgresql_a_role_with_only_insert_and_select_appends_but_cannot_delete(pg_server):
    """The setup the README advises: the tables made by their owner, the service's role granted
    INSERT and SELECT only, so it can neither delete records nor drop the guard."""
    import psycopg
    owner_url = pg_database(pg_server)
    fill(owner_url, 2)
    database = owner_url.rsplit("/", 1)[1]
    with psycopg.connect(owner_url, autocommit=True) as db:
        db.execute("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'writer') "
                   "THEN CREATE ROLE writer LOGIN; END IF; END $$")
        db.execute("GRANT SELECT, INSERT ON audit_log, audit_meta TO writer")
    writer_url = f"postgresql://writer@127.0.0.1:{pg_server.port}/{database}"
    with AuditLog.open(writer_url) as log:
        log.append("verdict", {"case": 1}, {"outcome": "eligible"}, at=AT)
        assert log.verify() == [] and [r.seq for r in log.records()] == [1, 2, 3]
    with psycopg.connect(writer_url, autocommit=True) as db:
        for statement in ("DELETE FROM audit_log WHERE seq = 1", "DROP TRIGGER audit_log_append_only ON audit_log",
                          "UPDATE audit_log SET kind = 'x'"):
            with pytest.raises(psycopg.Error):
                db.execute(statement)
