"""policy-engine: the command line. Thin: parse, call the library, print.

Exit codes (also in README):
  0  decided / checked / all golden cases pass
  1  golden cases fail (policy-engine test)
  2  usage error (a bad option or argument)
  3  invalid policy (check failed, or the policies could not be loaded)
  4  invalid case (a fact of the wrong type, an unknown fact)
  5  no policy in force on the date, unknown policy or version, or a decision the policy lacks
 70  internal error (a defect of policy-engine itself; reported in one line, never a traceback)
"""
from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import click

from policy_engine import DECISIONS, CaseError, EngineError, PolicyError, Registry, decide
from policy_engine.engine import as_date
from policy_engine.case_schema import case_schema
from policy_engine.discovery import discover
from policy_engine.errors import Problem, problem
from policy_engine.golden import default_fixture_dir, run_all
from policy_engine import workdays
from policy_engine.loader import check_vocabulary, load_all, policy_files, shared_files
from policy_engine.registry import default_policy_dir
from policy_engine.render import render_receipt, render_verdict, render_verification
from policy_engine.verdict import dumps
from policy_engine.yamlio import Document, YamlProblem, parse

EXIT_TESTS_FAILED, EXIT_POLICY, EXIT_CASE, EXIT_LOOKUP, EXIT_INTERNAL = 1, 3, 4, 5, 70
EXIT_MISMATCH = 1  # verify-draw: the receipt does not match


# The CEL binding logs a failing function call (e.g. a date no calendar covers) as a warning;
# the verdict already reports it under `errors`, so the command line does not repeat it.
logging.getLogger("cel").setLevel(logging.ERROR)


def _fail(exc: EngineError, fmt: str) -> None:
    if fmt == "json":
        click.echo(dumps(exc.to_json()), nl=False)
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
        if not Path(p).exists():
            raise click.UsageError(f"Invalid value for {ENV_POLICIES}: path '{p}' does not exist.")
    return listed or (str(default_policy_dir()),)


def _registry(policies: tuple[str, ...], fmt: str, lazy: bool = False) -> Registry:
    """All policies loaded and verified; lazy: each policy loaded when it is first asked for."""
    paths = _policy_paths(policies)
    if lazy:
        return discover(*paths)
    try:
        return Registry.load(*paths)
    except EngineError as exc:
        _fail(exc, fmt)
        raise  # unreachable


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="policy-engine")
def main() -> None:
    """Answer questions under expert-pool regulations, citing the article word for word.

    Policies live in policies/<id>/<version>.yaml beside the regulation's source.txt.
    Start with `policy-engine list`, then `policy-engine decide --help`.

    Exit codes: 0 decided or checked; 1 golden cases fail; 2 usage error; 3 invalid
    policy; 4 invalid case; 5 no policy in force (or unknown policy, version, decision);
    70 internal error.
    """


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def check(paths: tuple[str, ...], fmt: str) -> None:
    """Validate policy files and verify every quote against its source text.

    PATHS are policy files or folders (default: $POLICY_ENGINE_POLICIES, else the bundled
    policies). Every problem is reported with file:line:column, what is wrong and how to
    fix it. Exit 0 only when everything holds, 3 otherwise.

    \b
    Example:
      policy-engine check policies/
      policy-engine check policies/xj-iit-expert-pool/2025-04-21.yaml --format json
    """
    paths = _policy_paths(paths)
    problems: list[Problem] = []
    vocabularies = shared_files(paths, ".vocab.yaml")
    calendars = shared_files(paths, ".calendar.yaml")
    for vocab in vocabularies:
        problems.extend(check_vocabulary(vocab))
    for calendar in calendars:
        problems.extend(workdays.check_file(calendar))
    policies, found = load_all(paths)
    problems.extend(found)
    if not problems:
        try:
            Registry.of(policies)
        except PolicyError as exc:
            problems.extend(exc.problems)
    files = policy_files(paths)
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
    registry = _registry(policy_dirs, fmt)
    rows = []
    for pid in registry.ids():
        for p in registry.versions(pid):
            rows.append({"id": p.id, "version": p.version, "title": p.title, "document_number": p.document_number,
                         "in_force": {"from": p.in_force.start.isoformat(),
                                      "until": p.in_force.until.isoformat() if p.in_force.until else None},
                         "decisions": list(p.decisions()), "selection": list(p.selection_commands()),
                         "sha256": p.sha256, "file": p.file})
    if fmt == "json":
        click.echo(dumps(rows), nl=False)
        return
    for r in rows:
        until = r["in_force"]["until"] or "open-ended"
        selection = {"draw": "draw", "panel": "check-panel"}
        extra = f"; {', '.join(selection[c] for c in r['selection'])}" if r["selection"] else ""
        click.echo(f"{r['id']}  {r['version']}  in force {r['in_force']['from']} to {until}  "
                   f"decisions: {', '.join(r['decisions']) or '(none yet)'}{extra}\n    {r['title']}")


def _read_case(case: str) -> tuple[object, str]:
    name = "<stdin>" if case == "-" else case
    try:
        text = sys.stdin.read() if case == "-" else Path(case).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseError([problem("case_invalid", f"cannot read the case: {exc}", file=name)]) from None
    if name.endswith(".json") or text.lstrip().startswith(("{", "[")):
        try:
            return json.loads(text, object_pairs_hook=_no_duplicates), name
        except json.JSONDecodeError as exc:
            raise CaseError([problem("case_invalid", f"not valid JSON: {exc.msg}", file=name, line=exc.lineno,
                                     column=exc.colno)]) from None
        except ValueError as exc:
            raise CaseError([problem("case_invalid", str(exc), file=name)]) from None
    try:
        return parse(text, name).data, name
    except YamlProblem as exc:
        p = exc.problem
        raise CaseError([Problem("case_invalid", p.message, p.file, p.line, p.column, p.path, p.hint)]) from None


def _no_duplicates(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key '{key}' appears twice in one object")
        out[key] = value
    return out


@main.command("decide")
@click.option("--policy", "policy_id", required=True, help="Policy id, e.g. xj-iit-expert-pool (see `list`).")
@click.option("--decision", required=True, type=click.Choice(list(DECISIONS)),
              help="entry: may this person enter? exit: must this expert leave, or has the term lapsed? "
                   "recusal: must this expert step aside from this matter? deadline: was this procedural "
                   "step (step.kind) within its time limit or long enough, in days or working days? "
                   "sanction: which step of the sanction ladder applies, with which measures? "
                   "apportion: which responsibility does each person involved bear? "
                   "score: the grade of an evaluation sheet? gate: may this matter go on to its next step?")
@click.option("--as-of", "as_of", default=None, metavar="YYYY-MM-DD",
              help="The date the question is asked for; picks the policy version in force then. Default: today.")
@click.option("--version", "version", default=None, help="Use this policy version instead of the one in force.")
@click.option("--format", "fmt", type=click.Choice(["json", "text"]), default="json", show_default=True,
              help="json: the verdict (schemas/verdict.schema.json); text: for a person, in Chinese with the quotes.")
@click.option("--compact", is_flag=True, help="JSON on one line (for JSON-lines pipelines); same content.")
@click.option("--policies", "policy_dirs", multiple=True, type=click.Path(exists=True),
              help="Policy folder(s) to load (default: $POLICY_ENGINE_POLICIES, else the bundled policies).")
@click.argument("case")
def decide_(policy_id, decision, as_of, version, fmt, compact, policy_dirs, case) -> None:
    """Decide one CASE (a JSON or YAML file of facts, or - for stdin).

    A case is a mapping of facts by namespace, e.g. {expert: {birth_date: 1960-05-01,
    title_rank: senior}, matter: {...}}; see `policy-engine facts --policy ID`. A golden
    fixture file (fixtures/...) is accepted too: its `case:` is decided.

    The verdict names the outcome, every rule's finding with its article and verbatim
    quote, the facts missing for an undetermined answer, and a trace of every condition.

    \b
    Example:
      policy-engine decide --policy xj-iit-expert-pool --decision entry \\
          --as-of 2026-11-23 fixtures/xj-iit-expert-pool/entry/eligible-senior-engineer.yaml
    """
    import datetime as _dt

    err_fmt = "json" if fmt == "json" else "text"
    try:
        day = as_date(as_of) if as_of else _dt.date.today()  # the CLI, not the engine, reads the clock
        registry = _registry(policy_dirs, err_fmt, lazy=True)
        policy = registry.get(policy_id, version) if version else registry.in_force(policy_id, day)
        data, name = _read_case(case)
        if isinstance(data, dict) and "case" in data and "expect" in data:
            data = data["case"]  # a golden fixture: decide its case
        verdict = decide(policy, decision, data, day, case_file=name)
    except EngineError as exc:
        _fail(exc, err_fmt)
        return
    if fmt == "json":
        click.echo(verdict.dumps(compact), nl=False)
    else:
        click.echo(render_verdict(verdict, policy))


def _read_document(file: str, code: str = "request_invalid") -> Document:
    """A request, panel, answers or receipt file (YAML or JSON; - for stdin), with positions where YAML gives them."""
    name = "<stdin>" if file == "-" else file
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseError([problem(code, f"cannot read the file: {exc}", file=name)]) from None
    if name.endswith(".json") or text.lstrip().startswith(("{", "[")):
        try:
            return Document(json.loads(text, object_pairs_hook=_no_duplicates), {}, name)
        except json.JSONDecodeError as exc:
            raise CaseError([problem(code, f"not valid JSON: {exc.msg}", file=name, line=exc.lineno,
                                     column=exc.colno)]) from None
        except ValueError as exc:
            raise CaseError([problem(code, str(exc), file=name)]) from None
    try:
        return parse(text, name)
    except YamlProblem as exc:
        p = exc.problem
        raise CaseError([Problem(code, p.message, p.file, p.line, p.column, p.path, p.hint)]) from None


def _unwrap(doc: Document) -> Document:
    """A golden fixture file stands for its case (the request or panel it states)."""
    data = doc.data
    if isinstance(data, dict) and "case" in data and "expect" in data and isinstance(data["case"], dict):
        return doc.sub("case")
    return doc


def _dated_policy(registry: Registry, policy_id: str, version: str | None, doc: Document, what: str):
    """The policy version pinned, or in force on the request's date."""
    if version:
        return registry.get(policy_id, version)
    date = doc.data.get("date") if isinstance(doc.data, dict) else None
    if not isinstance(date, str):
        raise CaseError([problem("request_invalid", f"the {what} needs a date: (YYYY-MM-DD, quoted)", file=doc.file,
                                 path="date", hint='date: "2026-11-20"; it picks the policy version in force')])
    return registry.in_force(policy_id, as_date(date))


def _receipt(registry: Registry, file: str):
    """A receipt file and the policy version it names."""
    doc = _read_document(file, "receipt_invalid")
    named = (doc.data.get("policy") if isinstance(doc.data, dict) else None) or {}
    return doc, registry.get(str(named.get("id")), str(named.get("version")))


def _emit_receipt(receipt, policy, fmt: str, out: str | None) -> None:
    if out:
        Path(out).write_text(receipt.dumps(), encoding="utf-8")
    click.echo(receipt.dumps() if fmt == "json" else render_receipt(receipt, policy), nl=fmt != "json")


def _emit_verification(result, fmt: str) -> None:
    """Print a verification and exit: 0 when the receipt matches, 1 when it does not."""
    click.echo(dumps(result.to_json()) if fmt == "json" else render_verification(result), nl=fmt != "json")
    sys.exit(0 if result.ok else EXIT_MISMATCH)


def _pool(path: str | None, policy, required: bool = True):
    from policy_engine.pool import load_pool
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
    from policy_engine.draw import commitment, new_seed
    seed = new_seed()
    if fmt == "json":
        click.echo(dumps({"seed": seed, "commitment": commitment(seed)}), nl=False)
    else:
        click.echo(f"seed:       {seed}\ncommitment: {commitment(seed)}  (publish this before the draw)")


@main.command("draw")
@_policy_options
@click.option("--pool", "pool_file", required=True, type=click.Path(), help="The pool: CSV with a header, or JSON lines.")
@click.option("--request", "request_file", required=True, type=click.Path(allow_dash=True),
              help="The draw request (YAML or JSON; - for stdin): date, mode, count or groups, filters, matter, "
                   "supervisor, history, answers. See schemas/draw-request.schema.json.")
@click.option("--seed", default=None, metavar="HEX",
              help="The seed (hex, at least 16 bytes). Default: a new one, printed on stderr and kept in the receipt.")
@click.option("--commitment", default=None, metavar="HEX",
              help="SHA-256 of the seed published before the draw (from `policy-engine seed`); checked and recorded.")
@click.option("--format", "fmt", type=click.Choice(["json", "text"]), default="json", show_default=True,
              help="json: the receipt (schemas/receipt.schema.json); text: for a person, in Chinese.")
@click.option("--out", "out", default=None, type=click.Path(dir_okay=False),
              help="Also write the receipt (JSON) to this file.")
def draw_(policy_id, version, policy_dirs, pool_file, request_file, seed, commitment, fmt, out) -> None:
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

    Exit 0 when drawn (whatever the outcome: drawn, complete, shortfall, refused);
    4 for a bad pool, request or seed; 5 when no version is in force on the request's date.
    """
    from policy_engine.draw import draw, new_seed
    err_fmt = "json" if fmt == "json" else "text"
    try:
        registry = _registry(policy_dirs, err_fmt, lazy=True)
        doc = _unwrap(_read_document(request_file))
        policy = _dated_policy(registry, policy_id, version, doc, "draw request")
        pool = _pool(pool_file, policy)
        if seed is None:
            seed = new_seed()
            click.echo(f"policy-engine: seed generated: {seed} (recorded in the receipt)", err=True)
        receipt = draw(policy, pool, doc, seed, commitment)
    except EngineError as exc:
        _fail(exc, err_fmt)
        return
    _emit_receipt(receipt, policy, fmt, out)


@main.command("replenish")
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
    from policy_engine.draw import draw, verify
    err_fmt = "json" if fmt == "json" else "text"
    try:
        registry = _registry(policy_dirs, err_fmt, lazy=True)
        doc, policy = _receipt(registry, receipt_file)
        pool = _pool(pool_file, policy)
        result = verify(registry, pool, doc)
        if not result.ok:
            _emit_verification(result, fmt)
        answers = _read_document(answers_file).data
        if not isinstance(answers, dict):
            raise CaseError([problem("request_invalid", "answers are a mapping of expert id to answer",
                                     file=answers_file, hint="E0042: accepted")])
        request = dict(doc.data["request"])
        request["answers"] = {**(request.get("answers") or {}), **answers}
        receipt = draw(policy, pool, request, doc.data["seed"], doc.data.get("commitment"))
    except EngineError as exc:
        _fail(exc, err_fmt)
        return
    _emit_receipt(receipt, policy, fmt, out)


@main.command("verify-draw")
@click.argument("receipt_file", type=click.Path(allow_dash=True))
@click.option("--pool", "pool_file", required=True, type=click.Path(), help="The pool the draw says it read.")
@click.option("--policies", "policy_dirs", multiple=True, type=click.Path(exists=True),
              help="Policy folder(s) to load (default: $POLICY_ENGINE_POLICIES, else the bundled policies).")
@click.option("--format", "fmt", type=click.Choice(["json", "text"]), default="text", show_default=True)
def verify_draw_(receipt_file, pool_file, policy_dirs, fmt) -> None:
    """Recompute a draw from its receipt and the pool; say whether they match.

    The policy version named in the receipt is reloaded, the pool's digest recomputed,
    the seed checked against its commitment, and the whole draw done again from the
    receipt's request and seed. Every difference is named: a pool edited after the draw
    (with the rows that changed), a policy file changed, a receipt edited by hand (the
    field, what the receipt says and what the draw gives).

    Exit 0 when the receipt matches, 1 when it does not, 4 when the receipt or pool
    cannot be read, 5 when the receipt names a policy version that is not loaded.
    """
    from policy_engine.draw import verify
    try:
        registry = _registry(policy_dirs, fmt, lazy=True)
        doc, policy = _receipt(registry, receipt_file)
        pool = _pool(pool_file, policy)
        result = verify(registry, pool, doc)
    except EngineError as exc:
        _fail(exc, fmt)
        return
    _emit_verification(result, fmt)


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
    matter and the history of earlier draws. See schemas/panel-request.schema.json.

    Outcomes: compliant, non_compliant, needs_review, undetermined (facts missing: named).

    \b
    Example:
      policy-engine check-panel --policy guiyang-petition-expert-pool --pool pool.csv panel.yaml
    """
    from policy_engine.panel import check_panel
    err_fmt = "json" if fmt == "json" else "text"
    try:
        registry = _registry(policy_dirs, err_fmt, lazy=True)
        doc = _unwrap(_read_document(panel_file))
        policy = _dated_policy(registry, policy_id, version, doc, "panel")
        pool = _pool(pool_file, policy, required=False)
        if pool is None:
            from policy_engine.pool import Pool
            from types import MappingProxyType
            pool = Pool("(no pool given)", (), MappingProxyType({}), "")
        verdict = check_panel(policy, pool, doc)
    except EngineError as exc:
        _fail(exc, err_fmt)
        return
    click.echo(verdict.dumps() if fmt == "json" else render_verdict(verdict, policy), nl=fmt != "json")


@main.command("facts")
@click.option("--policy", "policy_id", required=True, help="Policy id (see `list`).")
@click.option("--as-of", "as_of", default=None, metavar="YYYY-MM-DD", help="Pick the version in force then (default: newest).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "schema"]), default="text", show_default=True,
              help="text or json: the facts; schema: a JSON Schema (Draft 2020-12) of the cases the policy accepts.")
@click.option("--policies", "policy_dirs", multiple=True, type=click.Path(exists=True),
              help="Policy folder(s) to load (default: $POLICY_ENGINE_POLICIES, else the bundled policies).")
def facts_(policy_id, as_of, fmt, policy_dirs) -> None:
    """List the facts a case may state under a policy, with types and meanings.

    Facts marked [attested] are the pool office's judgement; the engine never guesses them.
    --format schema prints the same as a JSON Schema of the case, for the systems that send cases.
    """
    registry = _registry(policy_dirs, fmt, lazy=True)
    try:
        policy = registry.in_force(policy_id, as_date(as_of)) if as_of else registry.versions(policy_id)[0]
    except EngineError as exc:
        _fail(exc, fmt)
        return
    facts = policy.vocabulary.facts
    if fmt == "schema":
        click.echo(dumps(case_schema(facts, f"urn:policy-engine:case-schema:policy:{policy.id}",
                                     f"Case for {policy.id} {policy.version}")), nl=False)
        return
    if fmt == "json":
        out = {}
        for name, f in facts.items():
            entry = {"type": f.type, "description": f.description}
            if f.values:
                entry["values"] = list(f.values)
            if f.attested:
                entry["attested"] = True
            if f.kinds:
                entry["kinds"] = {k: {fn: {"type": fs.type, **({"values": list(fs.values)} if fs.values else {}),
                                           "required": fs.required} for fn, fs in kind.fields.items()}
                                  for k, kind in f.kinds.items()}
            out[name] = entry
        click.echo(dumps(out), nl=False)
        return
    for name, f in facts.items():
        kind = f.type + (f" ({' | '.join(f.values)})" if f.values else "")
        click.echo(f"{name}: {kind}{'  [attested]' if f.attested else ''}\n    {f.description}")
        for k, ek in f.kinds.items():
            fields = ", ".join(f"{fn}{'*' if fs.required else ''}: {fs.type}" + (f" ({'|'.join(fs.values)})" if fs.values else "")
                               for fn, fs in ek.fields.items())
            click.echo(f"    kind {k}: date*, {fields}")


@main.command("test")
@click.option("--update", is_flag=True, help="Rewrite the stored golden verdicts (review the diff before committing).")
@click.option("--fixtures", "fixture_dir", type=click.Path(exists=True), default=None,
              help="Fixture folder or file (default: the bundled fixtures/).")
@click.option("--policies", "policy_dirs", multiple=True, type=click.Path(exists=True),
              help="Policy folder(s) to load (default: $POLICY_ENGINE_POLICIES, else the bundled policies).")
@click.option("-v", "--verbose", is_flag=True, help="Print every case, not only failures.")
def test_(update: bool, fixture_dir, policy_dirs, verbose: bool) -> None:
    """Run the golden cases: each fixture's verdict must equal its stored verdict.

    A fixture (fixtures/<policy>/<decision>/<name>.yaml) states the article and quote it
    exercises, its facts, the date and the expected outcome; <name>.verdict.json beside
    it is the stored verdict. With --update the stored verdicts are rewritten: do that on
    purpose, and read the diff. Exit 0 when all pass, 1 otherwise.
    """
    if fixture_dir is None and not default_fixture_dir().exists():
        raise click.UsageError("no golden cases here: an installed package carries the policies but not their "
                               "golden cases; give them with --fixtures DIR")
    registry = _registry(policy_dirs, "text")
    root = fixture_dir or str(default_fixture_dir())
    results = run_all(registry, root, update=update)
    failed = [r for r in results if not r.ok]
    for r in results:
        if not r.ok:
            click.echo(f"FAIL {r.fixture}: {r.message}")
            if r.diff:
                click.echo(r.diff)
        elif verbose or r.message:
            click.echo(f"{'ok  ' if not r.message else r.message + ' '} {r.fixture}")
    click.echo(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    sys.exit(EXIT_TESTS_FAILED if failed else 0)


def run() -> None:
    """Console entry point: the CLI, with a last guard so no traceback reaches a user."""
    try:
        main(standalone_mode=True)
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001 - the guard of last resort
        click.echo(f"policy-engine: internal error: {type(exc).__name__}: {exc}. "
                   "This is a defect of policy-engine; please report it with the command you ran.", err=True)
        sys.exit(EXIT_INTERNAL)


if __name__ == "__main__":
    run()
