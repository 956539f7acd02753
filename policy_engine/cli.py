"""policy-engine: the command line. Thin: parse, call the library, print.

Exit codes (also in README):
  0  decided / checked / all golden cases pass
  1  golden cases fail (policy-engine test); diff: some case's outcome changes
  6  diff: some case's findings change, no outcome does
  2  usage error (a bad option or argument)
  3  invalid policy (check failed, or the policies could not be loaded)
  4  invalid case (a fact of the wrong type, an unknown fact)
  5  no policy in force on the date, unknown policy or version, or a decision the policy lacks
 70  internal error (a defect of policy-engine itself; reported in one line, never a traceback)
 73  an output cannot be written: --out into a missing or read-only folder, a full disk, or
     standard output (one line, error code output_unwritable; an existing --out file is left
     as it was)
 74  the audit log (--log URL, `log ...`) cannot be opened, read or written (log_unavailable);
     `log verify`: 1 when the hash chain is broken (log_broken)
"""
from __future__ import annotations

import os
import signal
import sys
from typing import Any

import click

from policy_engine import DECISIONS, CaseError, EngineError, PolicyError, Registry, decide, decide_governing
from policy_engine import inputs
from policy_engine.evaluate.engine import as_date
from policy_engine.policy.discovery import discover
from policy_engine.errors import OutputError, problem
from policy_engine.report.golden import MIN_CASES, default_fixture_dir, run_all
from policy_engine.policy.loader import load_tree
from policy_engine.policy.registry import default_policy_dir
from policy_engine.report.render import render_receipt, render_verdict, render_verification
from policy_engine.evaluate.verdict import dumps
from policy_engine.yamlio import Document
from policy_engine.cli_log import log_answer as _log_answer, log_group, logged as _logged  # the audit log: --log, `log`

EXIT_TESTS_FAILED, EXIT_POLICY, EXIT_CASE, EXIT_LOOKUP, EXIT_INTERNAL = 1, 3, 4, 5, 70
EXIT_OUTPUT = OutputError.exit_code  # 73
EXIT_MISMATCH = 1  # verify-draw: the receipt does not match




def _echo(message: str, nl: bool = True) -> None:
    """Print on stdout; a stdout that cannot be written (a full disk) ends the command with exit 73.

    click.echo flushes, so the failure surfaces here rather than when the interpreter exits.
    A closed pipe (`| head`) is not an error: `run` lets SIGPIPE end the process quietly.
    """
    try:
        click.echo(message, nl=nl)
    except BrokenPipeError:
        raise
    except OSError as exc:
        _stdout_failed(exc)


def _stdout_failed(exc: OSError) -> None:
    """Report a stdout that cannot be written, in one line on stderr, and exit 73."""
    found = problem("output_unwritable", f"cannot write the output: {exc.strerror or exc}", file="<stdout>")
    try:  # what is still buffered would fail again when the interpreter flushes stdout at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
    click.echo(f"policy-engine: {found.code}: {found.render()}", err=True)
    sys.exit(EXIT_OUTPUT)


def _as_of_option(ctx, param, value):
    """--as-of read by engine.as_date; empty or malformed text is a usage error (exit 2) naming the option."""
    if value is None:
        return None
    try:
        return as_date(value)
    except EngineError as exc:
        found = exc.problems[0]
        raise click.BadParameter(f"{found.message} ({found.hint})" if found.hint else found.message,
                                 ctx=ctx, param=param) from None


def _fail(exc: EngineError, fmt: str) -> None:
    _log_answer(exc.to_json(), fmt)
    if fmt == "json":
        _echo(dumps(exc.to_json()), nl=False)
    else:
        for p in exc.problems:
            click.echo(p.render(), err=True)
    sys.exit(exc.exit_code)


ENV_POLICIES = "POLICY_ENGINE_POLICIES"  # the policy folder(s) to use instead of the bundled ones


def _policy_paths(given: tuple[str, ...]) -> tuple[str, ...]:
    """The policy folders: --policies (or check's PATHS), else $POLICY_ENGINE_POLICIES (folders
    separated by the system's path separator, ':' on POSIX), else the bundled policies."""
    if given:
        return given
    listed = tuple(p for p in os.environ.get(ENV_POLICIES, "").split(os.pathsep) if p)
    for p in listed:
        if not os.path.exists(p):
            raise click.UsageError(f"Invalid value for {ENV_POLICIES}: path '{p}' does not exist.")
    return listed or (str(default_policy_dir()),)


ENV_CACHE = "POLICY_ENGINE_CACHE"  # the folder of loaded policies kept between runs; "off" for none


def _policy_cache():
    """The cache of verified policies: $POLICY_ENGINE_CACHE (a folder, or off), else
    $XDG_CACHE_HOME/policy-engine, else ~/.cache/policy-engine (policy/cache.py says when an
    entry is used; a folder that cannot be written just means no cache)."""
    from policy_engine.policy.cache import PolicyCache
    chosen = os.environ.get(ENV_CACHE)
    if chosen is not None:
        return None if chosen.strip().lower() in ("", "off", "0", "no", "none") else PolicyCache(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return PolicyCache(os.path.join(base, "policy-engine")) if os.path.isabs(base) else None


def _registry(policies: tuple[str, ...], fmt: str, lazy: bool = False) -> Registry:
    """All policies loaded and verified; lazy: each policy loaded when it is first asked for
    (taken from the cache of verified policies when the same files were verified before)."""
    paths = _policy_paths(policies)
    try:
        return discover(*paths, cache=_policy_cache()) if lazy else Registry.load(*paths)
    except EngineError as exc:
        _fail(exc, fmt)
        raise  # unreachable


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="policy-engine")
def main() -> None:
    """Answer questions under expert-pool regulations, citing the article word for word.

    Policies live in policies/<id>/<version>.yaml beside the regulation's source.txt.
    Start with `policy-engine list`, then `policy-engine decide --help`.

    Exit codes: 0 decided or checked; 1 golden cases fail (diff: outcomes change;
    6: findings change only); 2 usage error; 3 invalid
    policy; 4 invalid case (or request, receipt, pool); 5 no policy in force (or unknown
    policy, version, decision); 70 internal error; 73 an output cannot be written (--out
    folder missing or read-only, disk full); 74 the audit log (--log, `log`) cannot be
    opened or written.

    Environment: POLICY_ENGINE_POLICIES names the policy folder(s) to use instead of the
    bundled ones. Commands that answer questions keep each policy they verified in a cache
    (POLICY_ENGINE_CACHE, else $XDG_CACHE_HOME/policy-engine, else ~/.cache/policy-engine;
    POLICY_ENGINE_CACHE=off for none); an entry is used only while the engine and every file
    the policy rests on are byte for byte the same. `check` never uses it.
    """


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def check(paths: tuple[str, ...], fmt: str) -> None:
    """Validate policy files and verify every quote against its source text.

    PATHS are policy files or folders (default: $POLICY_ENGINE_POLICIES, else the bundled
    policies). Every problem is
    reported with file:line:column, what is wrong and how to fix it. Every vocabulary and
    calendar under PATHS is checked too, and each policy's source text, vocabularies and
    working-day calendar are read from its own policies folder (the calendar is
    _shared/cn-workdays.calendar.yaml there), exactly as decide reads them. An entry that
    cannot be read (a folder, a file, a dangling or looping link, a pipe or device) is a
    problem, never skipped. Exit 0 only when everything holds, 3 otherwise (also for a
    folder with nothing to check).

    \b
    Example:
      policy-engine check policies/
      policy-engine check policies/xj-iit-expert-pool/2025-04-21.yaml --format json
    """
    paths = _policy_paths(paths)
    loaded = load_tree(paths)
    policies, problems, files = loaded.policies, list(loaded.problems), loaded.files
    vocabularies, calendars = loaded.vocabularies, loaded.calendars
    if not problems:
        try:
            Registry.of(policies)
        except PolicyError as exc:
            problems.extend(exc.problems)
    if fmt == "json":
        click.echo(dumps({"ok": not problems, "policies": [p.file for p in policies],
                          "problems": [p.to_json() for p in problems]}), nl=False)
    else:
        for p in problems:
            click.echo(p.render(), err=True)
        if problems:
            click.echo(f"{len(problems)} problem(s) in {len(files)} policy file(s)", err=True)
        else:
            quotes = sum(p.quotes_verified for p in policies)
            click.echo(f"ok: {len(policies)} policies, {quotes} quotes verified against their cited articles; "
                       f"{len(vocabularies)} vocabulary and {len(calendars)} calendar file(s) valid")
    sys.exit(EXIT_POLICY if problems else 0)


@main.command("list")
@click.option("--policies", "policy_dirs", multiple=True, type=click.Path(exists=True),
              help="Policy folder(s) to load (default: $POLICY_ENGINE_POLICIES, else the bundled policies).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def list_(policy_dirs: tuple[str, ...], fmt: str) -> None:
    """List policies, their versions, in-force windows and what each answers: the decisions
    of `decide`, and draw / check-panel where the policy has a selection section."""
    from policy_engine.service.views import policy_rows
    registry = _registry(policy_dirs, fmt)
    rows = policy_rows(registry, files=True)
    if fmt == "json":
        _echo(dumps(rows), nl=False)
        return
    for r in rows:
        until = r["in_force"]["until"] or "open-ended"
        selection = {"draw": "draw", "panel": "check-panel"}
        extra = f"; {', '.join(selection[c] for c in r['selection'])}" if r["selection"] else ""
        _echo(f"{r['id']}  {r['version']}  in force {r['in_force']['from']} to {until}  "
                   f"decisions: {', '.join(r['decisions']) or '(none yet)'}{extra}\n    {r['title']}")


@main.command("decide")
@click.option("--policy", "policy_id", default=None, help="Policy id, e.g. xj-iit-expert-pool (see `list`).")
@click.option("--decision", default=None, type=click.Choice(list(DECISIONS)),
              help="entry: may this person enter? exit: must this expert leave, or has the term lapsed? "
                   "recusal: must this expert step aside from this matter? deadline: was this procedural "
                   "step (step.kind) within its time limit or long enough, in days, working days, months, "
                   "years, hours or minutes? "
                   "sanction: which step of the sanction ladder applies, with which measures? "
                   "apportion: which responsibility does each person involved bear? "
                   "score: the grade of an evaluation sheet? gate: may this matter go on to its next step? "
                   "classify: which of the policy's categories does this person or matter fall into? "
                   "applies: does the policy apply to this subject directly, by reference (参照) or not?")
@click.option("--as-of", "as_of", default=None, metavar="YYYY-MM-DD", callback=_as_of_option,
              help="The date the question is asked for; picks the policy version in force then. Default: today.")
@click.option("--version", "version", default=None, help="Use this policy version instead of the one in force.")
@click.option("--format", "fmt", type=click.Choice(["json", "text", "jsonl"]), default="json", show_default=True,
              help="json: the verdict (schemas/verdict.schema.json); text: for a person, in Chinese with the quotes; "
                   "jsonl: JSON on one line (what --cases writes).")
@click.option("--compact", is_flag=True, help="JSON on one line (for JSON-lines pipelines); same content.")
@click.option("--policies", "policy_dirs", multiple=True, type=click.Path(exists=True),
              help="Policy folder(s) to load (default: $POLICY_ENGINE_POLICIES, else the bundled policies).")
@click.option("--cases", "cases", default=None, type=click.Path(allow_dash=True), metavar="FILE",
              help="Decide many cases: JSON lines or CSV (- for stdin), one JSON record per line out, in order; "
                   "--policy, --decision, --as-of, --version are defaults a line may override. Exit 0 all "
                   "decided, 4 some line refused, 130 interrupted.")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="With --cases: worker processes (default: the cores available).")
@click.argument("case", required=False)
def decide_(policy_id, decision, as_of, version, fmt, compact, policy_dirs, cases, jobs, case) -> None:
    """Decide one CASE (a JSON or YAML file of facts, or - for stdin), or many with --cases FILE.

    A case is a mapping of facts by namespace, e.g. {expert: {birth_date: 1960-05-01,
    title_rank: senior}, matter: {...}}; see `policy-engine facts --policy ID`. A golden
    fixture file (fixtures/...) is accepted too: its `case:` is decided.

    The verdict names the outcome, every rule's finding with its article and verbatim
    quote, the facts missing for an undetermined answer, and a trace of every condition.

    \b
    Example:
      policy-engine decide --policy xj-iit-expert-pool --decision entry \\
          --as-of 2026-11-23 fixtures/xj-iit-expert-pool/entry/eligible-senior-engineer.yaml
      policy-engine decide --policy xj-iit-expert-pool --decision entry \\
          --as-of 2026-11-23 --cases experts.csv --jobs 4 > verdicts.jsonl
    """
    import datetime as _dt

    if cases is not None:  # a batch: policy_engine/batch.py
        from policy_engine.batch import Defaults, run_batch
        if case is not None or fmt == "text":
            raise click.UsageError("--cases decides the cases of FILE and writes JSON lines: give no CASE, no text format")
        sys.exit(run_batch(cases, _policy_paths(policy_dirs), Defaults(policy_id, decision, as_of or _dt.date.today().isoformat(),
                                                                version), jobs, err=sys.stderr))
    for value, name in ((policy_id, "--policy"), (decision, "--decision"), (case, "CASE")):
        if value is None:
            raise click.UsageError(f"missing {name} (or decide many cases with --cases FILE)")
    fmt, compact = ("json", True) if fmt == "jsonl" else (fmt, compact)
    err_fmt = "json" if fmt == "json" else "text"
    try:
        day = as_of if as_of is not None else _dt.date.today()  # the CLI, not the engine, reads the clock
        registry = _registry(policy_dirs, err_fmt, lazy=True)
        policy = registry.get(policy_id, version) if version else registry.in_force(policy_id, day)
        doc = inputs.fixture_case(inputs.read_case(case))  # a golden fixture: decide its case
        try:
            if version:
                verdict = decide(policy, decision, doc.data, day, case_file=doc.file)
            else:  # the version that governs: by the date of the act where the policy says so
                verdict, policy = decide_governing(registry, policy_id, decision, doc.data, day, case_file=doc.file)
        except CaseError as exc:
            raise inputs.locate(exc, doc) from None
    except EngineError as exc:
        _fail(exc, err_fmt)
        return
    if fmt == "json":
        _echo(verdict.dumps(compact), nl=False)
    else:
        _echo(render_verdict(verdict, policy))


def _dated_policy(registry: Registry, policy_id: str, version: str | None, doc: Document, what: str):
    """The policy version pinned, or in force on the request's date."""
    if version:
        return registry.get(policy_id, version)
    date = doc.data.get("date") if isinstance(doc.data, dict) else None
    if not isinstance(date, str):
        raise CaseError([problem("request_invalid", f"the {what} needs a date: (YYYY-MM-DD, quoted)", file=doc.file,
                                 path="date", hint='date: "2026-11-20"; it picks the policy version in force')])
    return registry.in_force(policy_id, as_date(date, "date", code="request_invalid", **doc.where(("date",))))


def _receipt(registry: Registry, file: str):
    """A receipt file and the policy version it names."""
    doc = inputs.read_receipt(file)
    return doc, registry.get(*inputs.receipt_policy(doc))


def _emit_receipt(receipt, policy, fmt: str, out: str | None) -> None:
    """Write the receipt to --out (whole or not at all), then print it."""
    _log_answer(receipt.dumps(), "json" if fmt == "json" else "text")
    if out:
        try:
            inputs.write_output(out, receipt.dumps())
        except OutputError as exc:
            _fail(exc, fmt)
    _echo(receipt.dumps() if fmt == "json" else render_receipt(receipt, policy), nl=fmt != "json")


def _emit_verification(result, fmt: str, warn: bool = False) -> None:
    """Print a verification and exit: 0 when the receipt matches, 1 when it does not. With `warn`, the
    warnings (in the JSON already) are also lines on stderr in text, once the result is written."""
    _log_answer(result.to_json(), fmt)
    _echo(dumps(result.to_json()) if fmt == "json" else render_verification(result), nl=fmt != "json")
    if warn and fmt == "text":
        for warning in result.warnings:
            click.echo(f"policy-engine: warning: {warning}", err=True)
    sys.exit(0 if result.ok else EXIT_MISMATCH)


def _pool(path: str | None, policy, required: bool = True):
    from policy_engine.selection.pool import load_pool
    if path is None:
        if required:
            raise CaseError([problem("request_invalid", "--pool is required: the experts come from the pool file",
                                     hint="--pool pool.csv (CSV with a header) or pool.jsonl (JSON lines)")])
        return None
    pool = load_pool(path, policy.vocabulary)
    # The command ends after one draw or check: keep the loaded policies and pool out of the
    # collector's scans (a full collection over a 100,000-expert pool costs more than the draw).
    import gc
    gc.freeze()
    return pool


_POLICY_OPTIONS = [
    click.option("--policy", "policy_id", required=True, help="Policy id, e.g. xj-iit-expert-pool (see `list`)."),
    click.option("--version", "version", default=None,
                 help="Use this policy version instead of the one in force on the request's date."),
    click.option("--policies", "policy_dirs", multiple=True, type=click.Path(exists=True),
                 help="Policy folder(s) to load (default: $POLICY_ENGINE_POLICIES, else the bundled policies)."),
]


def _policy_options(f):
    for option in reversed(_POLICY_OPTIONS):
        f = option(f)
    return f


@main.command("seed")
@click.option("--format", "fmt", type=click.Choice(["json", "text"]), default="json", show_default=True)
def seed_(fmt: str) -> None:
    """Make a seed for a draw, and its commitment.

    Publish the commitment (SHA-256 of the seed's bytes) before the draw, keep the seed
    secret until then, and draw with `--seed SEED --commitment COMMITMENT`: the receipt
    records both, and anyone can check that the seed is the one committed to.
    """
    from policy_engine.selection.draw import commitment, new_seed
    seed = new_seed()
    if fmt == "json":
        _echo(dumps({"seed": seed, "commitment": commitment(seed)}), nl=False)
    else:
        _echo(f"seed:       {seed}\ncommitment: {commitment(seed)}  (publish this before the draw)")


@main.command("commit")
@_policy_options
@click.option("--pool", "pool_file", required=True, type=click.Path(), help="The pool to draw from: CSV or JSON lines.")
@click.option("--request", "request_file", required=True, type=click.Path(allow_dash=True),
              help="The draw request, exactly as it will be drawn (YAML or JSON; - for stdin).")
@click.option("--seed-commitment", "seed_commitment", required=True, metavar="HEX",
              help="SHA-256 of the office's seed (the commitment `policy-engine seed` prints); the seed stays secret.")
@click.option("--supervisor", default=None,
              help="The supervisor who reveals a contribution after this commitment is published "
                   "(default: the request's supervisor).")
@click.option("--supervisor-commitment", default=None, metavar="HEX",
              help="SHA-256 of the supervisor's contribution, when the supervisor commits too.")
@click.option("--public-source", default=None,
              help="A public value fixed in advance, named by where it is published (e.g. a lottery and its draw).")
@click.option("--public-date", default=None, metavar="YYYY-MM-DD", help="The day that public value is published.")
@click.option("--log", "log_url", default=None, metavar="URL",
              help="Append the commitment to this audit log (kind draw_commitment): that is its publication.")
@click.option("--out", "out", default=None, type=click.Path(dir_okay=False),
              help="Also write the commitment document (JSON) to this file.")
def commit_(policy_id, version, policy_dirs, pool_file, request_file, seed_commitment, supervisor,
            supervisor_commitment, public_source, public_date, log_url, out) -> None:
    """Commit to a draw before any seed is revealed; print the commitment and its hash.

    The commitment binds the policy (id, version, sha256), the pool's digest, the whole
    request (filters, history, relations, participants, facts, count, mode, matter, its id)
    and the seed's contributions: the office's seed commitment, and the supervisor's
    contribution (revealed after this is published, or committed to here) and/or a public
    value fixed in advance. Publish it (--log) before the seed is revealed; then draw with
    `draw --commitment-file FILE --seed OFFICE_SEED --supervisor-seed HEX [--public-value V]`.

    Prints {"commitment": <hash>, "document": <the commitment>}. Exit 4 for a bad pool,
    request or commitment, 5 when no version is in force on the request's date.
    """
    from policy_engine.selection import protocol
    try:
        registry = _registry(policy_dirs, "json", lazy=True)
        doc = inputs.fixture_case(inputs.read_request(request_file, "draw request"))
        policy = _dated_policy(registry, policy_id, version, doc, "draw request")
        pool = _pool(pool_file, policy)
        document = protocol.commit(policy, pool, doc, seed_commitment, supervisor=supervisor,
                                   supervisor_commitment=supervisor_commitment, public_source=public_source,
                                   public_date=public_date)
    except EngineError as exc:
        _fail(exc, "json")
        return
    text = dumps({"commitment": protocol.digest(document), "document": document})
    if out:
        try:
            inputs.write_output(out, dumps(document))
        except OutputError as exc:
            _fail(exc, "json")
    if log_url:
        from policy_engine.audit.log import AuditLog
        from policy_engine.cli_log import now_utc
        from policy_engine.errors import LogError
        kind, request, answer, pol = protocol.commitment_record(document)
        try:
            with AuditLog.open(log_url) as log:
                log.append(kind, request, answer, policy=pol, at=now_utc())
        except LogError as exc:
            _fail(exc, "json")
    _echo(text, nl=False)


@main.command("draw")
@_logged("draw")
@_policy_options
@click.option("--pool", "pool_file", required=True, type=click.Path(), help="The pool: CSV with a header, or JSON lines.")
@click.option("--request", "request_file", required=True, type=click.Path(allow_dash=True),
              help="The draw request (YAML or JSON; - for stdin): date, mode, count or groups, filters, matter, "
                   "supervisor, history, answers, panel, facts (the other facts of the case, e.g. bidding: "
                   "{tender_required_by_law: true}). See schemas/draw-request.schema.json.")
@click.option("--seed", default=None, metavar="HEX",
              help="The seed (hex, at least 16 bytes). Default: a new one, printed on stderr and kept in the receipt.")
@click.option("--commitment", default=None, metavar="HEX",
              help="SHA-256 of the seed published before the draw (from `policy-engine seed`); checked and recorded.")
@click.option("--commitment-file", "commitment_file", default=None, type=click.Path(allow_dash=True),
              help="Draw under the draw protocol: the commitment document `commit` made and published. --seed is "
                   "then the office's seed; the seed of the draw is derived from it and the contributions below.")
@click.option("--supervisor-seed", "supervisor_seed", default=None, metavar="HEX",
              help="Under the protocol: the supervisor's contribution, revealed after the commitment was published.")
@click.option("--public-value", "public_value", default=None,
              help="Under the protocol: the public value the commitment names, as published.")
@click.option("--format", "fmt", type=click.Choice(["json", "text"]), default="json", show_default=True,
              help="json: the receipt (schemas/receipt.schema.json); text: for a person, in Chinese.")
@click.option("--out", "out", default=None, type=click.Path(dir_okay=False),
              help="Also write the receipt (JSON) to this file.")
def draw_(policy_id, version, policy_dirs, pool_file, request_file, seed, commitment, commitment_file, supervisor_seed,
          public_value, fmt, out) -> None:
    """Draw a panel at random, verifiably, and print the receipt.

    The pool is ordered by HMAC-SHA256 of each expert id under the seed, so the same
    seed gives the same panel whatever the row order. Walking that order, every expert
    reached is either a candidate or listed as passed over, with the reason and article:
    the request's filters, the policy's recusal grounds for the matter, rotation and yearly
    caps. Candidates are ranked; the first ones form the panel, the rest are backups.

    \b
    Example:
      policy-engine seed > seed.json        # publish its commitment first
      policy-engine draw --policy xj-iit-expert-pool --pool pool.csv \\
          --request request.yaml --seed <seed> --commitment <commitment> --out receipt.json
      policy-engine verify-draw receipt.json --pool pool.csv

    Exit 0 when drawn (whatever the outcome: drawn, complete, shortfall, refused, or
    undetermined: a fact the draw depends on is not stated, named in missing_facts);
    4 for a bad pool, request or seed; 5 when no version is in force on the request's date.
    """
    from policy_engine.selection.draw import draw, new_seed
    err_fmt = "json" if fmt == "json" else "text"
    try:
        registry = _registry(policy_dirs, err_fmt, lazy=True)
        doc = inputs.fixture_case(inputs.read_request(request_file, "draw request"))
        policy = _dated_policy(registry, policy_id, version, doc, "draw request")
        pool = _pool(pool_file, policy)
        if commitment_file is not None:
            from policy_engine.selection.protocol import draw_committed
            if seed is None or commitment is not None:
                raise CaseError([problem("request_invalid", "under the draw protocol --seed is the office's seed, "
                                         "and the commitment is the document", path="seed",
                                         hint="--commitment-file FILE --seed OFFICE_SEED --supervisor-seed HEX")])
            document = inputs.read_receipt(commitment_file).data
            receipt = draw_committed(policy, pool, doc, document, seed, supervisor_seed, public_value)
        else:
            if supervisor_seed is not None or public_value is not None:
                raise CaseError([problem("request_invalid", "contributions are drawn under a commitment",
                                         path="supervisor_seed", hint="add --commitment-file FILE (from `commit`)")])
            if seed is None:
                seed = new_seed()
                click.echo(f"policy-engine: seed generated: {seed} (recorded in the receipt)", err=True)
            receipt = draw(policy, pool, doc, seed, commitment)
    except EngineError as exc:
        _fail(exc, err_fmt)
        return
    _emit_receipt(receipt, policy, fmt, out)


@main.command("replenish")
@_logged("replenish")
@click.argument("receipt_file", type=click.Path(allow_dash=True))
@click.option("--pool", "pool_file", required=True, type=click.Path(), help="The pool the receipt was drawn from.")
@click.option("--answers", "answers_file", required=True, type=click.Path(allow_dash=True),
              help="Answers of contacted candidates (YAML or JSON): {E0042: accepted, E0007: declined, "
                   "E0013: no_answer, E0021: recused}.")
@click.option("--policies", "policy_dirs", multiple=True, type=click.Path(exists=True),
              help="Policy folder(s) to load (default: $POLICY_ENGINE_POLICIES, else the bundled policies).")
@click.option("--format", "fmt", type=click.Choice(["json", "text"]), default="json", show_default=True)
@click.option("--out", "out", default=None, type=click.Path(dir_okay=False), help="Also write the new receipt here.")
def replenish_(receipt_file, pool_file, answers_file, policy_dirs, fmt, out) -> None:
    """Record answers and replace those who cannot serve, in draw order.

    The receipt is first verified against the pool (a receipt that does not verify is
    refused, exit 1). The answers are added to its request; those who declined, did not
    answer by the deadline or declared a ground are passed over and the next candidates
    take their places; when the list runs out, the draw continues in the same order (a
    new round) where the policy provides it. The new receipt is printed; it verifies
    like the first.
    """
    from policy_engine.selection.draw import draw, verify
    err_fmt = "json" if fmt == "json" else "text"
    try:
        registry = _registry(policy_dirs, err_fmt, lazy=True)
        doc, policy = _receipt(registry, receipt_file)
        pool = _pool(pool_file, policy)
        result = verify(registry, pool, doc)
        if not result.ok:
            _emit_verification(result, fmt)
        answers = inputs.read_answers(answers_file).data
        request = dict(doc.data["request"])
        request["answers"] = {**(request.get("answers") or {}), **answers}
        receipt = draw(policy, pool, request, doc.data["seed"], doc.data.get("commitment"),
                       protocol=doc.data.get("protocol"))
    except EngineError as exc:
        _fail(exc, err_fmt)
        return
    _emit_receipt(receipt, policy, fmt, out)


def _earlier_receipts(paths: tuple[str, ...]) -> list | None:
    """The receipts named by --receipts: files, or folders whose *.json receipts are read (in name order)."""
    if not paths:
        return None
    files: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            files.extend(os.path.join(path, name) for name in sorted(os.listdir(path)) if name.endswith(".json"))
        else:
            files.append(path)
    out = []
    for f in files:
        data = inputs.read_receipt(f).data
        if isinstance(data, dict) and str(data.get("format", "")).startswith("policy-engine/draw-receipt/"):
            out.append(data)
    return out


def _log_records(path: str | None) -> list | None:
    """Audit-log records as JSON lines (each a record's fields: seq, kind, at, request, answer, ...)."""
    if path is None:
        return None
    import json
    records = []
    try:
        with open(path, encoding="utf-8") as fh:
            lines = list(fh)
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseError([problem("receipt_invalid", f"the log's records cannot be read: {exc}", file=path,
                                 hint="give the log's records as JSON lines in UTF-8")]) from None
    for n, line in enumerate(lines, 1):
        if line.strip():
            try:
                record = json.loads(line)
            except ValueError as exc:
                record = exc
            if not isinstance(record, dict):
                raise CaseError([problem("receipt_invalid", f"not a JSON record: {record}", file=path, line=n,
                                         hint="give the log's records as JSON lines (one object a line)")])
            if n == 1 and record.get("format") == "policy-engine-audit-log":
                continue  # the first line of `log export`: its header, not a record
            records.append(record)
    return records


@main.command("verify-draw")
@_logged("verify")
@click.argument("receipt_file", type=click.Path(allow_dash=True))
@click.option("--pool", "pool_file", required=True, type=click.Path(), help="The pool the draw says it read.")
@click.option("--policies", "policy_dirs", multiple=True, type=click.Path(exists=True),
              help="Policy folder(s) to load (default: $POLICY_ENGINE_POLICIES, else the bundled policies).")
@click.option("--receipts", "receipt_paths", multiple=True, type=click.Path(exists=True),
              help="Earlier receipts (files or folders of *.json) the request's history names by hash: each entry is "
                   "checked against its receipt, and an earlier draw of the policy not in the history is reported.")
@click.option("--log-records", "records_file", default=None, type=click.Path(exists=True, dir_okay=False),
              help="The audit log's records as JSON lines (`log export` gives them): the commitment and every draw "
                   "attempt under it are checked. With --log URL and no --log-records, that log's records are.")
@click.option("--require-protocol", is_flag=True, default=False,
              help="A receipt made without the draw protocol (no published commitment) is a failure, not a warning.")
@click.option("--format", "fmt", type=click.Choice(["json", "text"]), default="text", show_default=True)
def verify_draw_(receipt_file, pool_file, policy_dirs, receipt_paths, records_file, require_protocol, fmt) -> None:
    """Recompute a draw from its receipt and the pool; say whether they match.

    The policy version named in the receipt is reloaded, the pool's digest recomputed,
    the seed checked against its commitment, and the whole draw done again from the
    receipt's request and seed. Every difference is named: a pool edited after the draw
    (with the rows that changed), a policy file changed, a receipt edited by hand (the
    field, what the receipt says and what the draw gives).

    The draw protocol is checked too, each breach reported by kind (commitment_missing,
    commitment_mismatch, policy/pool/request_changed_after_commitment, matter_relabelled,
    seed_mismatch, history_unreferenced/mismatch/dropped, commitment_not_logged,
    attempt_not_logged, attempts_repeated). A receipt made without it (format
    policy-engine/draw-receipt/1, or no `protocol`) verifies as before, with a warning line;
    with --require-protocol it fails (commitment_missing).

    Exit 0 when the receipt matches, 1 when it does not, 4 when the receipt or pool
    cannot be read, 5 when the receipt names a policy version that is not loaded.
    """
    from policy_engine.selection.draw import verify
    try:
        registry = _registry(policy_dirs, fmt, lazy=True)
        doc, policy = _receipt(registry, receipt_file)
        pool = _pool(pool_file, policy)
        records = _log_records(records_file)
        attempt = click.get_current_context().meta.get("audit")
        if records is None and attempt is not None:  # --log: the protocol is checked against that log's records
            records = [r.to_json() for r in attempt.log.records()]
        result = verify(registry, pool, doc, receipts=_earlier_receipts(receipt_paths),
                        records=records, require_protocol=require_protocol)
    except EngineError as exc:
        _fail(exc, fmt)
        return
    _emit_verification(result, fmt, warn=True)


@main.command("check-panel")
@_policy_options
@click.option("--pool", "pool_file", default=None, type=click.Path(),
              help="The pool the members come from (not needed when every member is from outside it).")
@click.option("--format", "fmt", type=click.Choice(["json", "text"]), default="json", show_default=True,
              help="json: a verdict (decision panel); text: for a person, in Chinese with the quotes.")
@click.argument("panel_file", type=click.Path(allow_dash=True))
def check_panel_(policy_id, version, policy_dirs, pool_file, fmt, panel_file) -> None:
    """Check a panel as formed (designated, mixed, or drawn): size, parity, interests,
    rotation, field balance and approvals, each with its article.

    PANEL (YAML or JSON) gives the date, the mode (a selection mode of the policy), the
    members (ids in the pool; `how: designated|drawn|outside`), the facts of the forming
    (panel: approved, filed_with_discipline_body, designation_ground, ratio_designated,
    ratio_drawn, draw_supervised, pool_insufficient, attested.field_balance ...), the
    matter, the other facts of the case (facts: bidding: {tender_required_by_law: true} ...)
    and the history of earlier draws. See schemas/panel-request.schema.json.

    Outcomes: compliant, non_compliant, needs_review, undetermined (facts missing: named).

    \b
    Example:
      policy-engine check-panel --policy guiyang-petition-expert-pool --pool pool.csv panel.yaml
    """
    from policy_engine.selection.panel import check_panel
    err_fmt = "json" if fmt == "json" else "text"
    try:
        registry = _registry(policy_dirs, err_fmt, lazy=True)
        doc = inputs.fixture_case(inputs.read_request(panel_file, "panel"))
        policy = _dated_policy(registry, policy_id, version, doc, "panel")
        pool = _pool(pool_file, policy, required=False)
        if pool is None:
            from policy_engine.selection.pool import Pool
            from types import MappingProxyType
            pool = Pool("(no pool given)", (), MappingProxyType({}), "")
        verdict = check_panel(policy, pool, doc)
    except EngineError as exc:
        _fail(exc, err_fmt)
        return
    _echo(verdict.dumps() if fmt == "json" else render_verdict(verdict, policy), nl=fmt != "json")


EXIT_CHANGED_FINDINGS = 6  # diff: findings changed, no outcome (0 none, 1 outcomes changed)


@main.command("diff")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--policy", "policy_id", default=None,
              help="The policy compared (needed with --on, and for a folder holding several policies).")
@click.option("--against", "revision", default=None, metavar="REV",
              help="Compare the policy as it is now (PATH, default: the policies folder in use) with the same "
                   "files at this git revision (a commit, a tag, HEAD~1).")
@click.option("--on", "on", default=None, metavar="YYYY-MM-DD", callback=_as_of_option,
              help="With --against-on: the new version is the one in force on this date.")
@click.option("--against-on", "against_on", default=None, metavar="YYYY-MM-DD", callback=_as_of_option,
              help="With --on: the old version is the one in force on this date.")
@click.option("--policies", "policy_dirs", multiple=True, type=click.Path(exists=True),
              help="Policy folder(s) for --on/--against-on, and whose _shared/ a revision folder without one "
                   "uses (default: $POLICY_ENGINE_POLICIES, else the bundled policies).")
@click.option("--cases", "case_paths", multiple=True, type=click.Path(exists=True),
              help="Cases to decide under both versions: a folder of case files in the fixture format "
                   "(decision, as_of, case; pool and seed for draws), one such file, or a JSON-lines file "
                   "(.jsonl: one such object per line). Repeatable. Default: the policy's golden cases.")
@click.option("--fixtures", "fixture_dir", default=None, type=click.Path(exists=True, file_okay=False),
              help="The golden folder whose <policy>/ cases are decided (default: the bundled fixtures/).")
@click.option("--both-goldens", is_flag=True,
              help="Decide the golden cases of both sides: each side's fixtures/<policy>/ beside its policies "
                   "folder (at the revision, with --against); a case both hold unchanged counts once.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown", "html"]), default="text",
              show_default=True, help="text: for a person, outcome changes first; json: schemas/diff.schema.json; "
                                      "markdown; html: a standalone page.")
@click.option("-o", "--out", "out", default=None, type=click.Path(dir_okay=False),
              help="Write the report to this file instead of standard output.")
def diff_(paths, policy_id, revision, on, against_on, policy_dirs, case_paths, fixture_dir, both_goldens,
          fmt, out) -> None:
    """Show what a revision of a policy changes, case by case, before it goes live.

    Two versions of one policy are compared, given as two policy files, two folders (a
    policy's folder or a policies folder: its newest version), a folder against a git
    revision (--against REV), or the versions in force on two dates (--on NEW --against-on
    OLD). Every case of the corpus (default: the policy's golden cases) is decided under
    both; each version answers every case, even one dated outside its in-force window.

    The report lists first the cases whose outcome changed, grouped by the rules (with
    their articles) whose result changed, each with before and after; then the cases whose
    findings changed but not the outcome; the number unchanged (a change of digest or
    trace text alone is no change); rules added, removed or changed (which fields); quotes
    of the new version that no longer verify against its text; and the articles of the
    source text whose wording changed, with the rules citing them.

    \b
    Examples:
      policy-engine diff policies/xj-iit-expert-pool/2025-04-21.yaml \\
          examples/revision/xj-iit-expert-pool/2027-05-21.yaml
      policy-engine diff policies/ ../edited/policies/ --policy xj-iit-expert-pool
      policy-engine diff policies/xj-iit-expert-pool --against HEAD~1 --format markdown
      policy-engine diff --policies DIR --policy ID --on 2028-01-01 --against-on 2026-01-01
      policy-engine diff OLD.yaml NEW.yaml --cases more-cases.jsonl --format html -o diff.html

    A folder without _shared/ (a revision kept apart, like examples/revision/) takes its
    shared vocabularies and calendar from the policies in use.

    Exit codes: 0 no case changed its substance; 1 some outcome changed (a CI gate); 6
    findings changed but no outcome; 2 usage error (a bad option, a missing file, a case
    that cannot be read: file:line); 3 a version is an invalid policy (quotes that do not
    verify are reported, not refused); 5 unknown policy, or none in force on a date.
    """
    import tempfile
    from policy_engine.review import diff as _diff
    err_fmt = "json" if fmt == "json" else "text"
    with tempfile.TemporaryDirectory(prefix="policy-engine-diff-") as tmp:
        try:
            before, after, roots = _diff_versions(paths, policy_id, revision, on, against_on, policy_dirs,
                                                  both_goldens, tmp)
            entries, corpus = _diff_corpus(after.policy.id, case_paths, fixture_dir, both_goldens, roots)
            result = _diff.diff_policies(before.policy, after.policy, entries, corpus=corpus,
                                         sources=(before.source, after.source))
        except _diff.CorpusError as exc:
            for p in exc.problems:
                click.echo(p.render(), err=True)
            raise click.UsageError("a case of the corpus cannot be read (above)") from None
        except EngineError as exc:
            _fail(exc, err_fmt)
            return
    text = {"json": lambda r: dumps(r.to_json()), "text": _diff.render_text, "markdown": _diff.render_markdown,
            "html": _diff.render_html}[fmt](result)
    if out:
        try:
            inputs.write_output(out, text)
        except OutputError as exc:
            _fail(exc, err_fmt)
    else:
        _echo(text, nl=False)
    sys.exit(result.exit_code())


def _policies_root(path) -> "Any":
    """The policies folder holding a policy file, a policy's folder, or the folder itself."""
    from pathlib import Path
    p = Path(path)
    if p.is_file():
        return p.parent.parent
    if any(c.suffix == ".yaml" and c.is_file() for c in p.iterdir()) and not (p / "_shared").is_dir():
        return p.parent
    return p


def _newest_file(path, policy_id: str | None):
    """A policy file: the file given, or the newest version (by file name) in a policy's or a policies folder."""
    from pathlib import Path
    p = Path(path)
    if p.is_file():
        return p
    if any(c.suffix == ".yaml" and c.is_file() for c in p.iterdir()) and not (p / "_shared").is_dir():
        folder = p
    else:
        found = sorted(c.name for c in p.iterdir() if c.is_dir() and not c.name.startswith(("_", ".")))
        if policy_id is None:
            if len(found) != 1:
                raise click.UsageError(f"{p} holds {len(found)} policies ({', '.join(found) or 'none'}): "
                                       "name one with --policy ID")
            policy_id = found[0]
        folder = p / policy_id
        if not folder.is_dir():
            from policy_engine.errors import LookupFailure
            raise LookupFailure([problem("unknown_policy", f"{p} has no policy '{policy_id}' "
                                                           f"(it has: {', '.join(found) or 'none'})",
                                         file=str(p), hint="see `policy-engine list --policies DIR`")])
    files = sorted((c for c in folder.iterdir() if c.suffix == ".yaml" and not c.name.endswith(".vocab.yaml")),
                   key=lambda c: c.name)
    if not files:
        raise click.UsageError(f"{folder} holds no policy file (<version>.yaml)")
    return files[-1]


def _staged(file, shared_from, tmp: str, side: str):
    """The policy file, copied with its folder beside a copy of `shared_from`/_shared when its own
    policies folder has none (a revision kept apart from the policies)."""
    import shutil
    from pathlib import Path
    file = Path(file)
    if (file.parent.parent / "_shared").is_dir() or not (Path(shared_from) / "_shared").is_dir():
        return file  # (without a _shared/ to take, the loader names what the policy cannot import)
    root = Path(tmp) / f"{side}-staged"
    shutil.copytree(file.parent, root / file.parent.name)
    shutil.copytree(Path(shared_from) / "_shared", root / "_shared")
    return root / file.parent.name / file.name


def _git_snapshot(path, revision: str, tmp: str, extra: tuple[str, ...] = ()):
    """`path` (a policies folder) as of a git revision, extracted with `git archive` into tmp;
    `extra` (paths relative to the repository) come along when the revision has them."""
    import io
    import subprocess
    import tarfile
    from pathlib import Path
    folder = Path(path).resolve()
    try:
        top = subprocess.run(["git", "-C", str(folder), "rev-parse", "--show-toplevel"], capture_output=True,
                             text=True, check=False)
    except OSError as exc:
        raise click.UsageError(f"--against needs git: {exc}") from None
    if top.returncode != 0:
        raise click.UsageError(f"--against {revision}: {folder} is not in a git repository "
                               f"({top.stderr.strip()})")
    repo = Path(top.stdout.strip()).resolve()
    rel = folder.relative_to(repo).as_posix() or "."
    dest = Path(tmp) / f"at-{len(list(Path(tmp).iterdir()))}"
    dest.mkdir()
    for i, target in enumerate((rel, *extra)):
        run = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", revision, "--", target],
                             capture_output=True, check=False)
        if run.returncode != 0:
            if i == 0:
                raise click.UsageError(f"--against {revision}: git archive {revision} -- {target}: "
                                       f"{run.stderr.decode(errors='replace').strip()}")
            continue
        with tarfile.open(fileobj=io.BytesIO(run.stdout)) as tar:
            tar.extractall(dest, filter="data")
    return dest / rel, repo, rel


def _diff_versions(paths, policy_id, revision, on, against_on, policy_dirs, both_goldens, tmp):
    """The two versions (diff.Version) and each side's policies folder (for its goldens)."""
    from pathlib import Path
    from policy_engine.review.diff import load_version
    if (on is None) != (against_on is None):
        raise click.UsageError("--on and --against-on go together: --on NEW_DATE --against-on OLD_DATE")
    if on is not None:
        if paths or revision:
            raise click.UsageError("--on/--against-on compare two versions of the policies in use (--policies); "
                                   "give no PATHS and no --against")
        if policy_id is None:
            raise click.UsageError("--on/--against-on need --policy ID")
        registry = _registry(tuple(os.path.abspath(p) for p in _policy_paths(policy_dirs)), "text")
        old, new = registry.in_force(policy_id, against_on), registry.in_force(policy_id, on)
        found = [load_version(_file_of(p)) for p in (old, new)]
        root = Path(_file_of(new)).parent.parent
        return found[0], found[1], (root, root)
    shared = _policy_paths(policy_dirs)[0]
    if revision is not None:
        if len(paths) > 1:
            raise click.UsageError("with --against REV give one PATH (the policies as they are now), or none")
        now = Path(paths[0] if paths else shared)
        root = _policies_root(now)
        extra = _fixtures_in_repo(root) if both_goldens else ()
        then_root, _repo, _rel = _git_snapshot(root, revision, tmp, extra)
        then = then_root / now.resolve().relative_to(root.resolve()) if now.resolve() != root.resolve() else then_root
        if not then.exists():
            raise click.UsageError(f"--against {revision}: {now} did not exist at that revision")
        old_file = _newest_file(then, policy_id)
        new_file = _newest_file(now, policy_id)
        return (load_version(_staged(old_file, shared, tmp, "before")),
                load_version(_staged(new_file, shared, tmp, "after")), (then_root, root))
    if len(paths) != 2:
        raise click.UsageError("give two policy files or folders (OLD NEW), or one with --against REV, "
                               "or --policy ID --on DATE --against-on DATE")
    files = [_newest_file(p, policy_id) for p in paths]
    old_v = load_version(_staged(files[0], shared, tmp, "before"))
    new_v = load_version(_staged(files[1], shared, tmp, "after"))
    if old_v.policy.id != new_v.policy.id:
        raise click.UsageError(f"the two files are versions of different policies ({old_v.policy.id}, "
                               f"{new_v.policy.id})")
    return old_v, new_v, (_policies_root(files[0]), _policies_root(files[1]))


def _fixtures_in_repo(root) -> tuple[str, ...]:
    """The fixtures folder beside a policies folder, relative to the policies folder's repository
    root, for `git archive` (empty when it cannot be told)."""
    import subprocess
    from pathlib import Path
    top = subprocess.run(["git", "-C", str(Path(root).resolve()), "rev-parse", "--show-toplevel"],
                         capture_output=True, text=True, check=False)
    if top.returncode != 0:
        return ()
    fixtures = Path(root).resolve().parent / "fixtures"
    try:
        return (fixtures.relative_to(Path(top.stdout.strip()).resolve()).as_posix(),)
    except ValueError:
        return ()


def _file_of(policy) -> str:
    """A registry policy's file, as it can be opened (bundled ones are named relative to the project)."""
    from pathlib import Path
    from policy_engine.policy.loader import PROJECT
    p = Path(policy.file)
    return str(p if p.is_absolute() else PROJECT / p)


def _diff_corpus(policy_id: str, case_paths, fixture_dir, both_goldens, roots):
    """The corpus entries and how the report names the corpus."""
    from pathlib import Path
    from policy_engine.review.diff import read_cases, read_fixtures
    from policy_engine.policy.loader import display
    entries: list = []
    names: list[str] = []
    for p in case_paths:
        entries += read_cases(p, policy_id)
        names.append(display(p))
    if both_goldens:
        merged: dict = {}
        for side, root in zip(("before", "after"), roots):
            folder = Path(root).parent / "fixtures" / policy_id
            if not folder.is_dir():
                continue
            names.append(f"{side}: fixtures/{policy_id}")
            for e in read_fixtures(folder, policy_id):
                same = merged.get(e.name)
                if same is None:
                    merged[e.name] = e
                elif (same.decision, same.as_of, same.case) != (e.decision, e.as_of, e.case):
                    merged[f"{same.name} (before)"] = merged.pop(e.name)
                    merged[f"{e.name} (after)"] = e
        from dataclasses import replace
        entries += [replace(e, name=k) for k, e in merged.items()]
    elif fixture_dir is not None or not case_paths:
        base = Path(fixture_dir) if fixture_dir else default_fixture_dir()
        folder = base / policy_id
        if not folder.is_dir():
            raise click.UsageError(f"no golden cases of {policy_id} in {display(base)}: give cases with --cases, "
                                   "or a golden folder with --fixtures")
        entries += read_fixtures(folder, policy_id)
        names.append(display(folder))
    return entries, ", ".join(names)


@main.command("facts")
@click.option("--policy", "policy_id", required=True, help="Policy id (see `list`).")
@click.option("--as-of", "as_of", default=None, metavar="YYYY-MM-DD", callback=_as_of_option, help="Pick the version in force then (default: newest).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "schema"]), default="text", show_default=True,
              help="text or json: the facts; schema: a JSON Schema (Draft 2020-12) of the cases the policy accepts.")
@click.option("--policies", "policy_dirs", multiple=True, type=click.Path(exists=True),
              help="Policy folder(s) to load (default: $POLICY_ENGINE_POLICIES, else the bundled policies).")
def facts_(policy_id, as_of, fmt, policy_dirs) -> None:
    """List the facts a case may state under a policy, with types and meanings.

    Facts marked [attested] are the pool office's judgement; the engine never guesses them.
    --format schema prints the same as a JSON Schema of the case, for the systems that send cases.
    """
    err_fmt = "text" if fmt == "text" else "json"  # a schema is JSON too
    registry = _registry(policy_dirs, err_fmt, lazy=True)
    try:
        policy = registry.in_force(policy_id, as_of) if as_of is not None else registry.versions(policy_id)[0]
    except EngineError as exc:
        _fail(exc, err_fmt)
        return
    facts = policy.vocabulary.facts
    if fmt in ("schema", "json"):
        from policy_engine.service.views import case_schema_of, facts_json
        _echo(dumps(case_schema_of(policy) if fmt == "schema" else facts_json(policy)), nl=False)
        return
    for name, f in facts.items():
        kind = f.type + (f" ({' | '.join(f.values)})" if f.values else "")
        _echo(f"{name}: {kind}{'  [attested]' if f.attested else ''}\n    {f.description}")
        for k, ek in f.kinds.items():
            fields = ", ".join(f"{fn}{'*' if fs.required else ''}: {fs.type}" + (f" ({'|'.join(fs.values)})" if fs.values else "")
                               for fn, fs in ek.fields.items())
            _echo(f"    kind {k}: date*, {fields}")
    if policy.selection is not None:
        from policy_engine.selection.selection import selection_reads
        read = selection_reads(policy)
        _echo("\nIn draw and panel requests: matter.* under matter:, relation.* under relations: <expert id>:, "
              "panel.* under panel: (mode, mode_id, size, the counts and fields are computed), expert.* from the "
              "pool; the other facts of the case under facts: (e.g. bidding: {tender_required_by_law: true}). "
              + (f"This policy's draw and panel rules read under facts: {', '.join(read)}." if read else
                 "This policy's draw and panel rules read none of the other facts."))


@main.command("coverage")
@click.option("--policy", "policy_id", default=None, help="Only this policy (each of its versions); default: every policy.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--fixtures", "fixture_dir", type=click.Path(exists=True), default=None,
              help="Golden cases whose stored verdicts and receipts count (default: the bundled fixtures/).")
@click.option("--policies", "policy_dirs", multiple=True, type=click.Path(exists=True),
              help="Policy folder(s) to load (default: $POLICY_ENGINE_POLICIES, else the bundled policies).")
@click.option("--fail-under-rules", "under_rules", type=click.FloatRange(0, 100), default=None, metavar="PCT",
              help="Exit 1 when a policy version has fewer than PCT percent of its rules seen both ways.")
@click.option("--fail-under-articles", "under_articles", type=click.FloatRange(0, 100), default=None, metavar="PCT",
              help="Exit 1 when a policy version has fewer than PCT percent of its text's units (articles, "
                   "paragraphs, items, sub-items, forms) cited or declared not_encoded.")
@click.option("-v", "--verbose", is_flag=True, help="List the uncovered units and the rules not seen both ways "
                                                     "(the default with --policy).")
def coverage_(policy_id, fmt, fixture_dir, policy_dirs, under_rules, under_articles, verbose) -> None:
    """What the rules cite of each source text, and what the goldens see the rules do.

    Per article, paragraph (款), item (项) and sub-item (目): cited by a rule (which), declared
    not_encoded (why), or uncovered. Per rule: the results the stored golden verdicts and
    receipts give it, and whether it is seen both ways (passed and failed, fired and not fired),
    one way or never. Exit 0, or 1 when a threshold is not met.
    """
    if fixture_dir is None and not default_fixture_dir().exists():
        raise click.UsageError("no golden cases here: give them with --fixtures DIR")
    registry = _registry(policy_dirs, fmt)
    try:
        policies = [p for pid in ([policy_id] if policy_id else registry.ids()) for p in registry.versions(pid)]
    except EngineError as exc:
        _fail(exc, fmt)
        return
    reports, short = _coverage(policies, fixture_dir or str(default_fixture_dir()))
    below = []
    for c in reports:
        if under_rules is not None and c.rules_percent() < under_rules:
            below.append(f"{c.id} {c.version}: {c.rules_percent():.1f}% of rules seen both ways, under {under_rules:g}%")
        if under_articles is not None and c.articles_percent() < under_articles:
            below.append(f"{c.id} {c.version}: {c.articles_percent():.1f}% of the text cited or declared, "
                         f"under {under_articles:g}%")
    if fmt == "json":
        _echo(dumps({"policies": [c.to_json() for c in reports]}), nl=False)
    else:
        for c in reports:
            _echo(c.render_text(detail=verbose or policy_id is not None))
    for line in [*short, *below]:
        click.echo(line, err=True)
    sys.exit(EXIT_TESTS_FAILED if below else 0)


def _coverage(policies, root: str):
    from policy_engine.review.coverage import coverage_of, golden_documents
    docs, problems = golden_documents(root)
    return [coverage_of(p, docs) for p in policies], [p.render() for p in problems]


@main.command("review")
@click.option("--policy", "policy_ids", multiple=True, metavar="ID",
              help="Policy id (see `list`); repeat for several. Default: every policy.")
@click.option("--against", default=None, metavar="OLD",
              help="An earlier version to compare the newest one with: a version of the same policy, or a policy "
                   "file (<version>.yaml beside its source text). Needs exactly one --policy.")
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="The folder to write the site into (created if missing; its pages are overwritten).")
@click.option("--fixtures", "fixture_dir", type=click.Path(exists=True, file_okay=False), default=None,
              help="Golden cases to show beside their articles (default: the bundled fixtures/, where there are).")
@click.option("--coverage/--no-coverage", "with_coverage", default=True, show_default=True,
              help="Lay each version's coverage (rules and golden cases against the text) over its page.")
@click.option("--coverage-json", "coverage_file", type=click.Path(exists=True, dir_okay=False), default=None,
              metavar="FILE", help="Coverage as `coverage --format json` wrote it, instead of computing it.")
@click.option("--diff-json", "diff_file", type=click.Path(exists=True, dir_okay=False), default=None, metavar="FILE",
              help="A comparison as `diff --format json` wrote it, instead of --against.")
@click.option("--revision", "revision_file", type=click.Path(exists=True, dir_okay=False), default=None, metavar="FILE",
              help="A new version not among the policies yet (a <version>.yaml beside its source text, e.g. a draft "
                   "revision; shared vocabularies from the policies in use where its folder has none): its page is "
                   "written too, compared with --against (default: the newest version of its policy).")
@click.option("--policies", "policy_dirs", multiple=True, type=click.Path(exists=True),
              help="Policy folder(s) to load (default: $POLICY_ENGINE_POLICIES, else the bundled policies).")
def review_(policy_ids, against, out_dir, fixture_dir, with_coverage, coverage_file, diff_file, revision_file,
            policy_dirs) -> None:
    """Write a static HTML site for reviewing policies: OUT/index.html lists the policies and versions;
    OUT/<id>/<version>.html shows the regulation article by article, and beside each article the rules
    citing it (strength, condition, exceptions, the quote marked in the text), the golden cases citing it
    with their outcomes, its coverage and the source defects recorded for it. With --against (or
    --revision), the newest version's page also shows the wording each article changed and the cases
    whose outcome changed, listed under their article.

    The site needs no network and no script: open OUT/index.html in any browser, or print it.

    \b
    Examples:
      policy-engine review --policy xj-iit-expert-pool -o site
      policy-engine review --revision examples/revision/xj-iit-expert-pool/2027-05-21.yaml -o site
      policy-engine review --policy ID --against 2020-01-01 -o site     # two versions among the policies
    """
    import json
    import tempfile
    from pathlib import Path
    from policy_engine.review import site
    from policy_engine.review.coverage import coverage_of
    from policy_engine.review.diff import diff_policies, load_version, read_fixtures, source_of
    from policy_engine.policy.loader import display
    registry = _registry(policy_dirs, "text")
    shared = policy_dirs[0] if policy_dirs else str(default_policy_dir())
    with tempfile.TemporaryDirectory() as tmp:  # a policy file given is staged here while the site is written
        try:
            revision = None
            if revision_file is not None:  # named where it is, not where it was staged
                import dataclasses
                staged = load_version(_staged(revision_file, shared, tmp, "after")).policy
                source = Path(revision_file).parent / Path(staged.source_file).name
                revision = dataclasses.replace(staged, file=display(revision_file), source_file=display(source))
            if revision is not None and policy_ids and set(policy_ids) != {revision.id}:
                raise click.UsageError(f"--revision is a version of {revision.id}: give no other --policy")
            ids = [revision.id] if revision is not None else (list(dict.fromkeys(policy_ids)) or registry.ids())
            if (against is not None or revision is not None) and len(ids) != 1:
                raise click.UsageError("--against compares two versions of one policy: give exactly one --policy")
            known = {p.version: p for pid in ids for p in registry.versions(pid)} if revision is None or \
                revision.id in registry.ids() else {}
            policies = [v for pid in ids if pid in registry.ids() for v in registry.versions(pid)
                        if revision is None or v.version != revision.version]
            if revision is not None:
                policies.append(revision)
        except EngineError as exc:
            _fail(exc, "text")
            return
        root = Path(fixture_dir) if fixture_dir else default_fixture_dir()
        goldens, unread = site.read_goldens(root, ids) if root.is_dir() else ([], [])
        for line in unread:
            click.echo(f"policy-engine review: not shown: {line}", err=True)

        def read_json(file: str):
            try:
                return json.loads(Path(file).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise click.BadParameter(f"{file}: not a JSON document ({exc})") from None

        coverage = None
        if coverage_file is not None:
            coverage = read_json(coverage_file)
        elif with_coverage:
            coverage = [coverage_of(p, [g.stored for g in goldens if g.policy == p.id and g.version == p.version
                                        and g.stored is not None]).to_json() for p in policies]
        diff = read_json(diff_file) if diff_file is not None else None
        try:
            if against is not None or (revision is not None and known):
                after = revision if revision is not None else registry.versions(ids[0])[0]
                if against is None:
                    before, before_source = registry.versions(ids[0])[0], None
                elif against in known:
                    before, before_source = known[against], None
                elif Path(against).is_file():  # a policy file, staged with the shared vocabularies in use
                    old = load_version(_staged(against, shared, tmp, "before"))
                    before, before_source = old.policy, old.source
                else:
                    raise click.BadParameter(f"'{against}' is neither a version of {ids[0]} (known: "
                                             f"{', '.join(known) or 'none'}) nor a policy file", param_hint="--against")
                cases = read_fixtures(root / ids[0], ids[0]) if (root / ids[0]).is_dir() else []
                diff = diff_policies(before, after, cases, corpus=display(root / ids[0]),
                                     sources=(before_source or source_of(before), source_of(after))).to_json()
            written = site.build_site(policies, goldens, out_dir, coverage=coverage, diff=diff)
        except EngineError as exc:
            _fail(exc, "text")
            return
    pages = [p for p in written if p.suffix == ".html" and p.name != "index.html"]
    _echo(f"wrote {len(pages)} page(s) and the index to {out_dir}: open {Path(out_dir) / 'index.html'}")


@main.command("test")
@click.option("--update", is_flag=True,
              help="Rewrite the stored golden files that changed, and print what changed (outcomes, findings, "
                   "identity only, new); an outcome change is refused without --accept-outcome-changes.")
@click.option("--accept-outcome-changes", "accept", is_flag=True,
              help="With --update: also rewrite the golden files whose outcome changed (after reading each "
                   "change; the fixture's own `expect:` is never rewritten, set it by hand).")
@click.option("--fixtures", "fixture_dir", type=click.Path(exists=True), default=None,
              help="Fixture folder or file (default: the bundled fixtures/).")
@click.option("--policies", "policy_dirs", multiple=True, type=click.Path(exists=True),
              help="Policy folder(s) to load (default: $POLICY_ENGINE_POLICIES, else the bundled policies).")
@click.option("--min-cases", "minimum", type=click.IntRange(min=0), default=None, metavar="N",
              help=f"Fail when a decision a loaded policy answers has fewer than N golden cases "
                   f"(default: {MIN_CASES} for the bundled fixtures, 0 with --fixtures).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: every case with its level and substance lines, the identity-only summary per "
                   "policy, and the counts.")
@click.option("-v", "--verbose", is_flag=True, help="Print every case, and the full diff of each changed golden file.")
@click.option("--coverage", "show_coverage", is_flag=True,
              help="After the run, print each policy's coverage (as `policy-engine coverage` does).")
def test_(update: bool, accept: bool, fixture_dir, policy_dirs, minimum, fmt: str, verbose: bool,
          show_coverage: bool = False) -> None:
    """Run the golden cases: each fixture's answer must say what its stored golden file says.

    A fixture (fixtures/<policy>/<decision>/<name>.yaml) states the article and quote it
    exercises, its facts, the date and the expected outcome; <name>.verdict.json beside
    it (.receipt.json for a draw, .rejected.json for a rejected input) is the stored answer.

    The answer is compared by substance: the outcome, the findings with their results,
    citations, quotes and values, the missing facts, a receipt's selection. A golden file
    that differs only in identity (the policy's digest, the engine release, the trace, the
    titles and notes and messages' wording) passes, and is counted once per policy. A change
    of substance fails that case, headed by the outcome change (before → after), then the
    rules and articles whose result changed; --verbose adds the full diff.

    --update rewrites the golden files that changed and prints a summary (outcomes changed,
    findings changed, identity only, new, unchanged) naming every case whose outcome or
    findings changed, with its lines: read them. A golden file whose outcome changed is not
    rewritten unless --accept-outcome-changes is given too (exit 1 while any is refused);
    findings changes are rewritten and listed. The bundled suite also needs at least 8 cases
    for every decision each policy answers, and no stored golden file without its fixture
    (the same checks as the pytest suite). Exit 0 when all pass, 1 otherwise.

    \b
    Example:
      policy-engine test
      policy-engine test --update                       # then read what it lists
      policy-engine test --update --accept-outcome-changes
    """
    from policy_engine.report.golden import identity_line, identity_summary, level_counts
    if accept and not update:
        raise click.UsageError("--accept-outcome-changes is an option of --update")
    if fixture_dir is None and not default_fixture_dir().exists():
        raise click.UsageError("no golden cases here: an installed package carries the policies but not their "
                               "golden cases; give them with --fixtures DIR")
    registry = _registry(policy_dirs, fmt)
    root = fixture_dir or str(default_fixture_dir())
    if minimum is None:
        minimum = 0 if fixture_dir else MIN_CASES
    results = run_all(registry, root, update=update, minimum=minimum, accept=accept)
    failed = [r for r in results if not r.ok]
    counts, identity = level_counts(results), identity_summary(results)
    refused = [r.fixture for r in results if r.action == "refused"]
    if fmt == "json":
        _echo(dumps({"ok": not failed, "update": update, "passed": len(results) - len(failed), "failed": len(failed),
                     "levels": counts, "identity_only": identity, "refused": refused,
                     "cases": [r.to_json() for r in results]}), nl=False)
        sys.exit(EXIT_TESTS_FAILED if failed else 0)
    for r in results:
        if r.ok and r.level in ("outcome", "findings"):  # rewritten by --update: listed to be read
            _echo(f"{r.level} changed, rewritten: {r.fixture}: {r.message}")
        elif not r.ok:
            _echo(f"{'REFUSED' if r.action == 'refused' else 'FAIL'} {r.fixture}: {r.message}")
        elif verbose:
            _echo(f"ok   {r.fixture}" + (f" ({r.level}{' only' if r.level == 'identity' else ''})"
                                         if r.level not in ("", "same") else ""))
            continue
        else:
            continue
        for line in r.lines:
            _echo(f"    {line}")
        if r.hint:
            _echo(f"    ({r.hint})")
        if verbose and r.diff:
            _echo(r.diff)
    for entry in identity:
        _echo(identity_line(entry, update))
    if update:
        refusal = f" (refused: {len(refused)}; rewrite them with --update --accept-outcome-changes)" if refused else ""
        _echo(f"--update: outcomes changed: {counts['outcome']}{refusal}, findings changed: {counts['findings']}, "
              f"identity only: {counts['identity']}, new: {counts['new']}, unchanged: {counts['same']}")
    only = f" ({counts['identity']} differ only in identity)" if counts["identity"] and not update else ""
    _echo(f"{len(results) - len(failed)} passed{only}, {len(failed)} failed")
    if show_coverage:
        _test_coverage(registry, root)
    sys.exit(EXIT_TESTS_FAILED if failed else 0)


def _test_coverage(registry: Registry, root: str) -> None:
    """`test --coverage`: one summary line per policy version, after the run (the exit code is the run's)."""
    reports, short = _coverage([p for pid in registry.ids() for p in registry.versions(pid)], root)
    click.echo("coverage:")
    for c in reports:
        click.echo(c.render_text(detail=False))
    for line in short:
        click.echo(line, err=True)


main.add_command(log_group)


@main.command("serve")
@click.option("--policies", "policy_dirs", multiple=True, type=click.Path(exists=True),
              help="Policy folder(s) to load (default: $POLICY_ENGINE_POLICIES, else the bundled policies).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; 0.0.0.0 for every interface (in a container).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port; 0 picks a free one (printed on stderr).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes sharing the port; each loads and verifies the policies.")
@click.option("--time-limit", "time_limit", type=click.FloatRange(min=0.1), default=30.0, show_default=True,
              metavar="SECONDS", help="Work allowed per request (per chunk of 256 lines of a cases stream); "
                                      "beyond it the answer is 503 request_timeout.")
@click.option("--access-log", is_flag=True, help="Log every request on stdout.")
@click.option("--log", "log_url", default=None, metavar="URL",
              help="The audit log every answer is appended to (refusals included): a SQLite file or "
                   "sqlite:/// URL, or postgresql://user@host:port/db for several replicas; read back at "
                   "GET /v1/log/records and /v1/log/verify. A log that cannot be written withholds the "
                   "answer (503 log_unavailable).")
def serve_(policy_dirs, host, port, workers, time_limit, access_log, log_url) -> None:
    """Answer over HTTP: verdicts, draws, replenishments, verifications and panel checks.

    The policies are loaded and verified once, before the port opens (exit 3 if they do
    not load), and read-only afterwards. The API is described by GET /openapi.json
    (OpenAPI 3.1; the bodies reference the project's JSON Schemas, served under
    /v1/schemas/). Errors are {"error": code, "problems": [...]} with the command line's
    codes. Request bodies: at most 16 MiB (a cases stream 256 MiB, 1 MiB a line). No
    endpoint reads or writes a file the client names: pools travel in the body.
    SIGTERM or Ctrl-C stops accepting and lets the requests in flight finish.

    \b
    Examples (another terminal):
      policy-engine serve --port 8000
      curl -s localhost:8000/v1/policies
      curl -s localhost:8000/v1/policies/xj-iit-expert-pool/case-schema
      curl -s -X POST -H 'Content-Type: application/json' \\
          'localhost:8000/v1/policies/xj-iit-expert-pool/decisions/entry?as_of=2026-11-23' \\
          -d '{"expert": {"birth_date": "1960-05-01", "title_rank": "senior"}}'
      curl -s -X POST -H 'Content-Type: application/x-ndjson' --data-binary @cases.jsonl \\
          'localhost:8000/v1/decisions?policy=xj-iit-expert-pool&decision=entry&as_of=2026-11-23'
      curl -s -X POST -H 'Content-Type: application/json' -d @draw.json \\
          localhost:8000/v1/policies/xj-iit-expert-pool/draws     # {"request": {...}, "pool": "id,name,...\\n..."}
      curl -s localhost:8000/readyz
    """
    try:
        import uvicorn  # noqa: F401
        import starlette  # noqa: F401
    except ImportError as exc:
        raise click.UsageError(f"serve needs the packages starlette and uvicorn ({exc}); pip install policy-engine") from None
    from policy_engine.service.server import serve
    paths = _policy_paths(policy_dirs)
    registry = _registry(policy_dirs, "text")  # verified before the port opens
    if log_url:  # opened (and its schema made) before the port opens: a log that cannot be opened stops here
        from policy_engine.audit.log import AuditLog
        try:
            AuditLog.open(log_url).close()
        except EngineError as exc:
            _fail(exc, "text")
    try:
        code = serve(registry, paths, host, port, workers, time_limit=time_limit, access_log=access_log,
                     log_url=log_url)
    except OSError as exc:
        raise click.UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sys.exit(code)


def run() -> None:
    """Console entry point: the CLI, with a last guard so no traceback reaches a user.

    A reader that stops early (`| head`) ends the process by SIGPIPE, quietly, as other
    command-line tools do; a stdout that cannot be written otherwise (a full disk) is exit 73.
    """
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        main(standalone_mode=True)
    except SystemExit:
        _flush_stdout()
        raise
    except Exception as exc:  # noqa: BLE001 - the guard of last resort
        click.echo(f"policy-engine: internal error: {type(exc).__name__}: {exc}. "
                   "This is a defect of policy-engine; please report it with the command you ran.", err=True)
        sys.exit(EXIT_INTERNAL)


def _flush_stdout() -> None:
    """Flush stdout now, while a failure can still be reported (exit 73), not when the interpreter exits."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        _stdout_failed(exc)


if __name__ == "__main__":
    run()
