"""The audit log: append-only, hash-chained records of what was asked and what was answered.

    log = AuditLog.open(url)    # a file path or sqlite: URL (SQLite), or postgresql://... (PostgreSQL)
    rec = log.append(kind, request, answer, policy={"id", "version", "sha256"} | None, at="2026-11-30T04:05:06Z")
    log.records(kinds=None, since=0, limit=None)   # Records with seq > since, in seq order
    log.find(kind, **where)     # Records of that kind whose answer (or request) has those top-level values
    log.verify()                # [] when the chain is whole, else a LogProblem for each break

URLs: "sqlite:///abs/path.db", "sqlite:relative.db" or a plain path choose SQLite (the embedded
default: WAL journal, one writer at a time across processes through BEGIN IMMEDIATE, waiting up
to `timeout` seconds for the lock); "postgresql://user@host:port/db" (or postgres://) chooses
PostgreSQL, for several service replicas sharing one log (appends serialised by a transaction-
scoped advisory lock; needs the optional dependency psycopg: pip install 'policy-engine[postgres]').

Kinds are free strings; those written by policy-engine: verdict, draw_commitment, draw, replenish,
verify, panel. The API has no update or delete, and the tables refuse both (triggers); someone
with write access to the database can still drop the triggers, which is what the chain is for:
see chain.py for what `verify` detects. The time of a record is given by the caller (the engine
reads no clock); the engine release is added here, from policy_engine/version.py.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Callable, Iterator, Mapping
from urllib.parse import urlsplit, urlunsplit

from policy_engine.audit.chain import GENESIS, SCHEMA_VERSION, LogProblem, record_hash, canonical, verify_chain
from policy_engine.errors import LogError, problem
from policy_engine.version import ENGINE

__all__ = ["AuditLog", "Record", "LogProblem", "KINDS", "redact"]

KINDS = ("verdict", "draw_commitment", "draw", "replenish", "verify", "panel")  # written by policy-engine
PAGE = 500  # records read per query
POSTGRES_HINT = "pip install 'policy-engine[postgres]' (the PostgreSQL driver, psycopg 3)"


@dataclass(frozen=True, slots=True)
class Record:
    seq: int
    kind: str
    at: str
    request: Any
    answer: Any
    policy: dict | None
    engine: dict
    prev: str
    hash: str

    def to_json(self) -> dict:
        return {"seq": self.seq, "kind": self.kind, "at": self.at, "request": self.request, "answer": self.answer,
                "policy": self.policy, "engine": self.engine, "prev": self.prev, "hash": self.hash}


def redact(url: str) -> str:
    """The URL with its password (if any) replaced by ***, for messages."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rsplit("@", 1)
        user = netloc[0].split(":", 1)[0]
        return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))
    except ValueError:
        return "<the log URL>"


def _unavailable(url: str, message: str, hint: str | None = None) -> LogError:
    return LogError([problem("log_unavailable", message, file=redact(url), hint=hint)])


def _check_at(at: Any) -> str:
    if not isinstance(at, str):
        raise TypeError("at: the time of the record, an ISO 8601 string in UTC, e.g. 2026-11-30T04:05:06Z")
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        raise ValueError(f"at: {at!r} is not an ISO 8601 time (e.g. 2026-11-30T04:05:06Z)") from None
    if moment.utcoffset() != timedelta(0):
        raise ValueError(f"at: {at!r} is not in UTC (end it with Z or +00:00)")
    return at


def _check_policy(policy: Any) -> dict | None:
    if policy is None:
        return None
    if not isinstance(policy, Mapping) or not all(isinstance(policy.get(k), str) for k in ("id", "version", "sha256")):
        raise ValueError("policy: {'id': ..., 'version': ..., 'sha256': ...} (strings) or None")
    return dict(policy)


_COLUMNS = ("seq", "kind", "at", "request", "answer", "policy", "engine", "prev", "hash")
_JSON_COLUMNS = ("request", "answer", "policy", "engine")


def _decode(row: tuple) -> dict:
    """A stored row as the Record fields; a column that is not JSON is reported by check_fields."""
    out = dict(zip(_COLUMNS, row))
    for key in _JSON_COLUMNS:
        text = out[key]
        if key == "policy" and text is None:
            continue
        try:
            out[key] = json.loads(text)
        except (TypeError, ValueError):
            out.pop(key)
            out["_error"] = f"{key} is not JSON"
    return out


class _Backend:
    """One database: `db` its connection, `errors` the driver's exceptions, `message` their wording."""
    placeholder = "?"
    url: str
    db: Any
    errors: tuple[type[BaseException], ...] = ()

    def message(self, exc: BaseException) -> str:
        return str(exc)

    def append(self, build: Callable[[int, str], dict]) -> dict:
        raise NotImplementedError

    def select(self, sql: str, args: tuple) -> list[tuple]:
        try:
            return self.db.execute(sql, args).fetchall()
        except self.errors as exc:
            raise _unavailable(self.url, f"cannot read the log: {self.message(exc)}") from None

    def close(self) -> None:
        self.db.close()


_INSERT = "INSERT INTO audit_log (seq, kind, at, request, answer, policy, engine, prev, hash) VALUES ({})"
_LAST = "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"


def _row(rec: dict) -> tuple:
    return (rec["seq"], rec["kind"], rec["at"], canonical(rec["request"]), canonical(rec["answer"]),
            None if rec["policy"] is None else canonical(rec["policy"]), canonical(rec["engine"]), rec["prev"],
            rec["hash"])


class _SQLite(_Backend):
    errors = (sqlite3.Error,)
    SCHEMA = (
        "CREATE TABLE IF NOT EXISTS audit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS audit_log (seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, at TEXT NOT NULL, "
        "request TEXT NOT NULL, answer TEXT NOT NULL, policy TEXT, engine TEXT NOT NULL, prev TEXT NOT NULL, "
        "hash TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS audit_log_kind ON audit_log (kind, seq)",
        "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
        "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
    )

    def __init__(self, url: str, path: str, create: bool, timeout: float):
        self.url = url
        if not create and not os.path.isfile(path):
            raise _unavailable(url, f"no audit log at {path}: the file does not exist",
                               "give the log the service or --log wrote to")
        try:
            # one connection per AuditLog, usable from any thread (AuditLog serialises its calls)
            self.db = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise _unavailable(url, f"cannot open the SQLite log {path}: {exc}",
                               "the folder must exist and be writable") from None
        try:
            self.db.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            mode = self.db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise _unavailable(url, f"the SQLite log {path} cannot use the WAL journal (it is in {mode} mode)",
                                   "put the log on a local file system")
            self.db.execute("PRAGMA synchronous = FULL")  # a record reported written survives a power cut
            self.db.execute("BEGIN IMMEDIATE" if create else "BEGIN")  # a reader takes no write lock
            try:
                exists = self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'audit_log'")
                if exists.fetchone() is None:
                    if not create:
                        raise _unavailable(url, f"{path} is an SQLite database but not an audit log")
                    for statement in self.SCHEMA:
                        self.db.execute(statement)
                    self.db.execute("INSERT OR IGNORE INTO audit_meta (key, value) VALUES ('schema_version', ?)",
                                    (str(SCHEMA_VERSION),))
                version = self.db.execute("SELECT value FROM audit_meta WHERE key = 'schema_version'").fetchone()
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            self.db.close()
            raise _unavailable(url, f"cannot open the SQLite log {path}: {exc}",
                               "the file must be an audit log (or not exist yet) and its folder writable") from None
        except LogError:
            self.db.close()
            raise
        try:
            _check_schema(url, version[0] if version else None)
        except LogError:
            self.db.close()
            raise

    def append(self, build: Callable[[int, str], dict]) -> dict:
        try:
            self.db.execute("BEGIN IMMEDIATE")  # the write lock: one appender at a time, across processes
            try:
                last = self.db.execute(_LAST).fetchone()
                rec = build(last[0] if last else 0, last[1] if last else GENESIS)
                self.db.execute(_INSERT.format(", ".join("?" * 9)), _row(rec))
                self.db.execute("COMMIT")
            except BaseException:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise _unavailable(self.url, f"cannot append to the log: {exc}; nothing was written") from None
        return rec


def _check_schema(url: str, version: Any) -> None:
    if version is None or not str(version).isdigit():
        raise _unavailable(url, "the log records no schema version: it is not an audit log, or was damaged")
    if int(version) > SCHEMA_VERSION:
        raise _unavailable(url, f"the log's schema version is {version}; this release reads up to {SCHEMA_VERSION}",
                           "use a newer policy-engine")


class _Postgres(_Backend):
    placeholder = "%s"
    LOCK_KEY = 0x61756469746C6F67  # pg_advisory_xact_lock key while the tables are created ("auditlog")
    APPEND_KEY = 0x61756469746C6F68  # pg_advisory_xact_lock key held by each append
    SCHEMA = (
        "CREATE TABLE audit_meta (key text PRIMARY KEY, value text NOT NULL)",
        "CREATE TABLE audit_log (seq bigint PRIMARY KEY, kind text NOT NULL, at text NOT NULL, "
        "request text NOT NULL, answer text NOT NULL, policy text, engine text NOT NULL, prev text NOT NULL, "
        "hash text NOT NULL)",
        "CREATE INDEX audit_log_kind ON audit_log (kind, seq)",
        "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$",
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
    )

    def __init__(self, url: str, create: bool, timeout: float):
        self.url = url
        try:
            import psycopg
        except ImportError:
            raise _unavailable(url, "a PostgreSQL log needs the psycopg driver, which is not installed",
                               POSTGRES_HINT) from None
        self.errors = (psycopg.Error,)
        try:
            self.db = psycopg.connect(url, autocommit=True, connect_timeout=max(1, int(timeout)))
        except psycopg.Error as exc:
            raise _unavailable(url, f"cannot connect to the PostgreSQL log: {_pg_message(exc)}",
                               "check the URL (postgresql://user@host:port/db), that the server runs and "
                               "accepts this user") from None
        except ValueError as exc:  # a URL libpq cannot parse
            raise _unavailable(url, f"not a PostgreSQL connection URL: {exc}") from None
        try:
            with self.db.transaction():
                self.db.execute(f"SET LOCAL lock_timeout = '{int(timeout * 1000)}ms'")
                self.db.execute("SELECT pg_advisory_xact_lock(%s)", (self.LOCK_KEY,))
                found = self.db.execute("SELECT to_regclass('audit_log')").fetchone()
                if found is None or found[0] is None:
                    if not create:
                        raise _unavailable(url, "the database holds no audit log (no table audit_log)")
                    for statement in self.SCHEMA:
                        self.db.execute(statement)
                    self.db.execute("INSERT INTO audit_meta (key, value) VALUES ('schema_version', %s)",
                                    (str(SCHEMA_VERSION),))
                version = self.db.execute("SELECT value FROM audit_meta WHERE key = 'schema_version'").fetchone()
        except psycopg.Error as exc:
            self.db.close()
            raise _unavailable(url, f"cannot open the PostgreSQL log: {_pg_message(exc)}") from None
        except LogError:
            self.db.close()
            raise
        self.timeout = timeout
        try:
            _check_schema(url, version[0] if version else None)
        except LogError:
            self.db.close()
            raise

    def append(self, build: Callable[[int, str], dict]) -> dict:
        try:
            with self.db.transaction():  # rolled back on any exception: no half record
                self.db.execute(f"SET LOCAL lock_timeout = '{int(self.timeout * 1000)}ms'")
                # writers queue on one transaction-scoped advisory lock (readers go on); unlike LOCK TABLE
                # it needs no privilege beyond INSERT and SELECT, so the service's role can be given no more
                self.db.execute("SELECT pg_advisory_xact_lock(%s)", (self.APPEND_KEY,))
                last = self.db.execute(_LAST).fetchone()
                rec = build(last[0] if last else 0, last[1] if last else GENESIS)
                self.db.execute(_INSERT.format(", ".join(["%s"] * 9)), _row(rec))
        except self.errors as exc:
            raise _unavailable(self.url, f"cannot append to the log: {_pg_message(exc)}; nothing was written") from None
        return rec

    def message(self, exc: BaseException) -> str:
        return _pg_message(exc)


def _pg_message(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def sqlite_path(url: str) -> str | None:
    """The file of an SQLite log URL or path; None for a PostgreSQL URL. Raises LogError for another scheme."""
    if url.startswith(("postgresql://", "postgres://")):
        return None
    if url.startswith("sqlite:"):
        rest = url[len("sqlite:"):]
        path = rest[2:] if rest.startswith("//") else rest  # sqlite:///abs/path -> /abs/path
        if not path:
            raise _unavailable(url, "the sqlite: URL names no file", "sqlite:///abs/path.db or sqlite:relative.db")
        return path
    if "://" in url:
        raise _unavailable(url, f"unknown log URL scheme {url.split('://', 1)[0]!r}",
                           "a file path or sqlite: URL (SQLite), or postgresql://user@host:port/db")
    if not url:
        raise _unavailable(url, "no log given", "a file path, sqlite:///abs/path.db or postgresql://user@host:port/db")
    return url


class AuditLog:
    """An open audit log. Use AuditLog.open(url); close it (or use it as a context manager)."""

    def __init__(self, backend: _Backend, url: str):
        self._backend = backend
        self.url = url
        self._lock = threading.Lock()  # one statement at a time on the connection, whichever thread calls

    @classmethod
    def open(cls, url: str, *, create: bool = True, timeout: float = 30.0) -> "AuditLog":
        """Open (and with create, make when missing) the log at url. timeout: seconds to wait for the
        write lock or the server. Raises LogError (code log_unavailable) when it cannot."""
        path = sqlite_path(str(url))
        backend: _Backend = (_Postgres(url, create, timeout) if path is None
                             else _SQLite(url, path, create, timeout))
        return cls(backend, url)

    def append(self, kind: str, request: Any, answer: Any, *, policy: Mapping[str, Any] | None = None,
               at: str) -> Record:
        """Append one record, chained to the last; all of it or nothing. Raises LogError when the log
        cannot be written; TypeError/ValueError for values that are not JSON or a time not in UTC."""
        if not isinstance(kind, str) or not kind:
            raise ValueError("kind: a non-empty string (verdict, draw, replenish, verify, ...)")
        fields = {"kind": kind, "at": _check_at(at), "request": request, "answer": answer,
                  "policy": _check_policy(policy), "engine": dict(ENGINE)}
        # The values go through JSON now, so what is hashed is what is stored (and a value JSON cannot hold
        # is refused before the log is locked).
        for key in ("request", "answer", "policy"):
            fields[key] = json.loads(canonical(fields[key]))

        def build(last_seq: int, last_hash: str) -> dict:
            rec = {**fields, "seq": last_seq + 1, "prev": last_hash}
            rec["hash"] = record_hash(rec)
            return rec

        with self._lock:
            return Record(**self._backend.append(build))

    def _rows(self, kinds: tuple[str, ...] | None, since: int, until: int | None) -> Iterator[dict]:
        mark = self._backend.placeholder
        after = since
        while True:
            where: list[str] = [f"seq > {mark}"]
            args: list[Any] = [after]
            if until is not None:
                where.append(f"seq <= {mark}")
                args.append(until)
            if kinds is not None:
                where.append("kind IN (" + ", ".join([mark] * len(kinds)) + ")")
                args.extend(kinds)
            with self._lock:
                rows = self._backend.select(f"SELECT {', '.join(_COLUMNS)} FROM audit_log WHERE {' AND '.join(where)} "
                                            f"ORDER BY seq LIMIT {PAGE}", tuple(args))
            for row in rows:
                yield _decode(row)
            if len(rows) < PAGE:
                return
            after = rows[-1][0]

    def records(self, kinds: Any = None, since: int = 0, limit: int | None = None, *,
                until: int | None = None) -> Iterator[Record]:
        """Records with since < seq (<= until), of the given kinds (a string or several), in seq order."""
        chosen = (kinds,) if isinstance(kinds, str) else (tuple(kinds) if kinds is not None else None)
        if chosen == ():
            return
        count = 0
        for row in self._rows(chosen, since, until):
            if limit is not None and count >= limit:
                return
            if "_error" in row or any(k not in row for k in _COLUMNS):
                raise LogError([problem("log_broken", f"record {row.get('seq')} cannot be read: "
                                        f"{row.get('_error', 'a field is missing')}", file=redact(self.url),
                                        hint="policy-engine log verify --log URL names every break")])
            yield Record(**{k: row[k] for k in _COLUMNS})
            count += 1

    def find(self, kind: str, **where: Any) -> list[Record]:
        """Records of kind whose answer (or else request) is an object with all of these top-level values."""
        def matches(value: Any) -> bool:
            return isinstance(value, Mapping) and all(k in value and value[k] == v for k, v in where.items())
        return [r for r in self.records(kind) if matches(r.answer) or matches(r.request)]

    def head(self) -> Record | None:
        """The last record, or None for an empty log."""
        with self._lock:
            rows = self._backend.select(f"SELECT {', '.join(_COLUMNS)} FROM audit_log ORDER BY seq DESC LIMIT 1", ())
        if not rows:
            return None
        row = _decode(rows[0])
        return Record(**{k: row[k] for k in _COLUMNS}) if "_error" not in row else None

    def verify(self, *, anchors: Mapping[int, str] | None = None, head: str | None = None) -> list[LogProblem]:
        """Every break of the hash chain (empty: whole). anchors {seq: hash} and head: hashes published
        elsewhere, which also expose a log cut short or rewritten from its start (chain.py)."""
        return self.check(anchors=anchors, head=head)[0]

    def check(self, *, anchors: Mapping[int, str] | None = None,
              head: str | None = None) -> tuple[list[LogProblem], int, str | None]:
        """verify(), with the number of records read and the last one's hash."""
        return verify_chain(self._rows(None, -(2 ** 62), None), anchors, head)

    def close(self) -> None:
        with self._lock:
            self._backend.close()

    def __enter__(self) -> "AuditLog":
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def read_export(path: str) -> tuple[dict | None, list[Any]]:
    """An export (`policy-engine log export`): its header line and the records, as parsed JSON.
    A line that is not JSON is kept as {"_error": ...} so verify reports it at its place."""
    header: dict | None = None
    rows: list[Any] = []
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except ValueError:
                    rows.append({"_error": f"line {number} is not JSON"})
                    continue
                if number == 1 and isinstance(value, dict) and value.get("format") == EXPORT_FORMAT:
                    header = value
                else:
                    rows.append(value)
    except (OSError, UnicodeDecodeError) as exc:
        raise _unavailable(path, f"cannot read the export: {exc}") from None
    return header, rows


EXPORT_FORMAT = "policy-engine-audit-log"


def export_header(count: int, head: str | None) -> dict:
    return {"format": EXPORT_FORMAT, "schema_version": SCHEMA_VERSION, "records": count, "head": head}
