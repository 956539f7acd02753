"""The command line's audit log: `--log URL` on draw, replenish and verify-draw, and the `log`
commands (verify, show, export).

With --log, each attempt of the command is appended to the log once its answer is known, before
the answer is printed or written to --out: the receipt, the verification, or the error (a refusal,
a bad request or pool, a policy not in force). The record holds the command's options, the
documents it was given (each parsed as the command reads it; stdin is not re-read: the receipt in
the answer holds the request), the answer, the policy (from the answer or the receipt) and the
time read here (UTC, seconds). A log that cannot be opened is reported before anything is done; a
log that cannot be written is reported instead of the answer (exit 74, log_unavailable): no draw
is handed out that the log does not hold.
"""
from __future__ import annotations

import functools
import json
import sys
from datetime import datetime, timezone
from typing import Any, Callable

import click

from policy_engine import inputs
from policy_engine.audit.chain import SCHEMA_VERSION, LogProblem, canonical, verify_chain
from policy_engine.audit.log import AuditLog, export_header, read_export
from policy_engine.errors import EngineError, LogError

EXIT_LOG = LogError.exit_code  # 74
EXIT_BROKEN = 1  # log verify: the chain is broken

_LOG_HELP = ("Append this attempt (request and answer, refusals and errors too) to the audit log: a file path "
             "or sqlite:///abs/path.db (SQLite), or postgresql://user@host:port/db.")
_DOCUMENTS = {"request_file": lambda f: inputs.read_request(f, "draw request"),
              "receipt_file": inputs.read_receipt, "answers_file": inputs.read_answers,
              "commitment_file": inputs.read_receipt}  # the draw protocol's commitment document (JSON)


def now_utc() -> str:
    """The time of a record: UTC, to the second (ISO 8601 with Z)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


def _error_out(exc: EngineError, fmt: str) -> None:
    """Report an error as the commands do (JSON on stdout with --format json, else text on stderr); exit."""
    if fmt == "json":
        click.echo(json.dumps(exc.to_json(), ensure_ascii=False, indent=2))
    else:
        for p in exc.problems:
            click.echo(p.render(), err=True)
    sys.exit(exc.exit_code)


class _Attempt:
    """One command run with --log: the log opened at the start, the request noted, one append."""

    def __init__(self, url: str, kind: str, options: dict):
        self.kind, self.done = kind, False
        self.request: dict[str, Any] = {"options": _jsonable({k: v for k, v in options.items()
                                                               if v not in (None, ())})}
        documents = {}
        for key, read in _DOCUMENTS.items():
            path = options.get(key)
            if isinstance(path, str) and path != "-":
                try:
                    documents[key.removesuffix("_file")] = _jsonable(read(path).data)
                except EngineError as exc:  # the command reports it; the log keeps what was refused
                    documents[key.removesuffix("_file")] = {"unreadable": exc.code}
        if documents:
            self.request["documents"] = documents
        self.log = AuditLog.open(url)

    def append(self, answer: Any) -> None:
        self.done = True
        policy = _policy_of(answer) or _policy_of((self.request.get("documents") or {}).get("receipt"))
        request = self.request
        if self.kind == "draw":  # the draw protocol's attempt record: the commitment it was drawn under, on top
            from policy_engine.selection import protocol
            committed = (self.request.get("documents") or {}).get("commitment")
            if isinstance(committed, dict) and "format" in committed:
                request = {**request, "commitment": protocol.digest(committed)}
            _, request, answer, _ = protocol.attempt_record(request, answer if isinstance(answer, dict) else
                                                            {"answer": answer}, policy)
        self.log.append(self.kind, request, answer, policy=policy, at=now_utc())


def _policy_of(doc: Any) -> dict | None:
    policy = doc.get("policy") if isinstance(doc, dict) else None
    if isinstance(policy, dict) and all(isinstance(policy.get(k), str) for k in ("id", "version", "sha256")):
        return {k: policy[k] for k in ("id", "version", "sha256")}
    return None


def log_answer(answer: Any, fmt: str) -> None:
    """Append the answer of the command running with --log (once); nothing without --log.
    answer: a JSON-able value, or JSON text (a receipt's dumps())."""
    ctx = click.get_current_context(silent=True)
    attempt = ctx.meta.get("audit") if ctx is not None else None
    if not isinstance(attempt, _Attempt) or attempt.done:
        return
    try:
        attempt.append(json.loads(answer) if isinstance(answer, str) else answer)
    except LogError as exc:
        _error_out(exc, fmt)


def logged(kind: str) -> Callable:
    """Decorator of a command: adds --log URL, opens the log before the command runs."""
    def wrap(command: Callable) -> Callable:
        @functools.wraps(command)
        def run(*args: Any, log: str | None = None, **kwargs: Any) -> Any:
            if log is None:
                return command(*args, **kwargs)
            fmt = "json" if kwargs.get("fmt") == "json" else "text"
            ctx = click.get_current_context()
            try:
                attempt = _Attempt(log, kind, kwargs)
            except LogError as exc:
                _error_out(exc, fmt)
            ctx.meta["audit"] = attempt
            try:
                return command(*args, **kwargs)
            except Exception as exc:  # a defect: logged as an internal error, then reported by run()
                log_answer({"error": "internal", "message": f"{type(exc).__name__}: {exc}"}, fmt)
                raise
            finally:
                attempt.log.close()
        return click.option("--log", "log", default=None, metavar="URL", help=_LOG_HELP)(run)
    return wrap


# ---------------------------------------------------------------------------------------------
# policy-engine log verify | show | export

@click.group("log")
def log_group() -> None:
    """Read the audit log: check its hash chain, show records, export it.

    The log is written by --log on draw, replenish and verify-draw (and by the service). Each
    record holds the request, the answer, the policy id, version and digest, the engine
    release, the time and the hash of the record before it, so an edited, deleted or moved
    record breaks the chain. A tail cut off (the last records deleted) leaves a whole chain:
    publish the head (`log verify` prints it) and check it later with --anchor SEQ:HASH.

    \b
    URL: a file path or sqlite:///abs/path.db (SQLite), or postgresql://user@host:port/db.
    Exit codes: 0 whole; 1 the chain is broken (log verify); 74 the log cannot be read.
    """


def _open(url: str, fmt: str) -> AuditLog:
    try:
        return AuditLog.open(url, create=False)
    except LogError as exc:
        _error_out(exc, fmt)
        raise  # unreachable


def _anchor(ctx: Any, param: Any, values: tuple[str, ...]) -> dict[int, str]:
    out: dict[int, str] = {}
    for value in values:
        seq, _, digest = value.partition(":")
        if not seq.isdigit() or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise click.BadParameter(f"{value!r}: SEQ:HASH, e.g. 120:<64 hex digits> (from `log verify`)")
        out[int(seq)] = digest
    return out


@log_group.command("verify")
@click.argument("export_file", required=False, type=click.Path(dir_okay=False))
@click.option("--log", "url", default=None, metavar="URL", help="The log (a file path, sqlite: or postgresql:// URL).")
@click.option("--anchor", "anchors", multiple=True, callback=_anchor, metavar="SEQ:HASH",
              help="A record's hash published earlier: it must still be there, unchanged (detects a tail cut off).")
@click.option("--expect-head", "head", default=None, metavar="HASH",
              help="The hash the last record must have (for a log or export that is closed).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def verify_(export_file: str | None, url: str | None, anchors: dict[int, str], head: str | None, fmt: str) -> None:
    """Check the hash chain of a log (--log URL) or of an export (EXPORT_FILE, offline).

    Names every break by record: edited (its content does not give its hash), chain (its prev
    is not the hash of the record before: one was deleted, replaced or moved), missing
    (sequence numbers skipped), order, malformed, anchor (a published hash not found).
    Prints the head (last record's sequence number and hash): publish it to catch a tail
    cut off later. Exit 0 whole, 1 broken, 74 the log cannot be read.
    """
    if (export_file is None) == (url is None):
        raise click.UsageError("give either --log URL or an exported file (policy-engine log export)")
    problems: list[LogProblem]
    if export_file is not None:
        try:
            header, rows = read_export(export_file)
        except LogError as exc:
            _error_out(exc, fmt)
            return
        problems, count, last = verify_chain(rows, anchors, head)
        if header is not None:
            if not isinstance(header.get("schema_version"), int) or header["schema_version"] > SCHEMA_VERSION:
                problems.append(LogProblem(None, "header", f"schema version {header.get('schema_version')!r}: this "
                                                           f"release reads up to {SCHEMA_VERSION}"))
            if header.get("records") != count or header.get("head") != last:
                problems.append(LogProblem(None, "header", f"the export's first line says {header.get('records')} "
                                                           f"records ending with {header.get('head')}; the file has "
                                                           f"{count} ending with {last}"))
        name = export_file
    else:
        assert url is not None
        with _open(url, fmt) as log:
            try:
                problems, count, last = log.check(anchors=anchors, head=head)
            except LogError as exc:
                _error_out(exc, fmt)
                return
        name = url
    ok = not problems
    head_seq = None
    if last is not None:
        head_seq = count if ok else None
    if fmt == "json":
        click.echo(json.dumps({"ok": ok, "records": count, "head": {"seq": head_seq, "hash": last} if last else None,
                               "problems": [p.to_json() for p in problems]}, ensure_ascii=False, indent=2))
    else:
        for p in problems:
            click.echo(p.render())
        if ok:
            where = f"head {head_seq}:{last}" if last else "empty"
            click.echo(f"ok: {count} records, chain whole; {where}")
        else:
            click.echo(f"broken: {len(problems)} problem(s) in {count} records of {_shown(name)} (code log_broken)")
    sys.exit(0 if ok else EXIT_BROKEN)


def _shown(name: str) -> str:
    from policy_engine.audit.log import redact
    return redact(name)


def _summary(answer: Any) -> str:
    if not isinstance(answer, dict):
        return ""
    if "error" in answer:
        return f"error {answer['error']}"
    if "ok" in answer:
        return "matches" if answer["ok"] else "does not match"
    if "outcome" in answer:
        selected = answer.get("selected")
        return f"{answer['outcome']}" + (f" {','.join(map(str, selected))}" if isinstance(selected, list) else "")
    return ""


@log_group.command("show")
@click.option("--log", "url", required=True, metavar="URL", help="The log (a file path, sqlite: or postgresql:// URL).")
@click.option("--kind", "kinds", multiple=True, metavar="KIND",
              help="Only records of this kind (draw, replenish, verify, verdict, draw_commitment, panel); repeatable.")
@click.option("--from", "first", type=click.IntRange(min=1), default=None, metavar="SEQ", help="From this record on.")
@click.option("--to", "last", type=click.IntRange(min=1), default=None, metavar="SEQ", help="Up to this record.")
@click.option("--limit", type=click.IntRange(min=0), default=None, metavar="N", help="At most N records.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: one line per record; json: one record per line (JSON lines), every field.")
def show_(url: str, kinds: tuple[str, ...], first: int | None, last: int | None, limit: int | None, fmt: str) -> None:
    """Show records: sequence number, time, kind, policy, the answer in brief, hash (text);
    or each record whole (--format json, JSON lines). Shows; does not check: `log verify` does."""
    with _open(url, fmt) as log:
        try:
            for rec in log.records(kinds or None, since=(first or 1) - 1, limit=limit, until=last):
                if fmt == "json":
                    click.echo(canonical(rec.to_json()))
                else:
                    policy = f"{rec.policy['id']}@{rec.policy['version']}" if rec.policy else "-"
                    click.echo(f"{rec.seq:>6}  {rec.at}  {rec.kind:<15} {policy:<30} {_summary(rec.answer):<24} "
                               f"{rec.hash[:16]}")
        except LogError as exc:
            _error_out(exc, fmt)


@log_group.command("export")
@click.option("--log", "url", required=True, metavar="URL", help="The log (a file path, sqlite: or postgresql:// URL).")
@click.option("-o", "--out", "out", default=None, type=click.Path(dir_okay=False),
              help="Write to this file (whole or not at all) instead of standard output.")
def export_(url: str, out: str | None) -> None:
    """Export the whole chain as JSON lines: a first line {format, schema_version, records, head},
    then each record with every field (canonical JSON). `log verify FILE` checks it offline."""
    with _open(url, "text") as log:
        try:
            lines = [canonical(rec.to_json()) for rec in log.records()]
            last = json.loads(lines[-1])["hash"] if lines else None
        except LogError as exc:
            _error_out(exc, "text")
            return
    text = "\n".join([canonical(export_header(len(lines), last)), *lines]) + "\n"
    if out:
        try:
            inputs.write_output(out, text)
        except EngineError as exc:
            _error_out(exc, "text")
    else:
        click.echo(text, nl=False)
