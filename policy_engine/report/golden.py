"""Golden cases: fixtures/<policy>/<decision>/<name>.yaml, each with its verdict beside it.

A fixture names the article and quote it exercises, its facts, the date, and the
outcome it expects; `<name>.verdict.json` holds the engine's whole verdict for it.

A run compares the new answer with the stored one by substance (report/substance.py says
what is substance and what is identity, and sorts a difference into a level):
- same bytes (level `same`), or a difference in identity only (level `identity`: the
  policy's digest, the engine release, the trace, the titles, notes and messages' wording):
  the case passes; `identity_summary` counts these once per policy, by kind of golden file
  and kind of identity, so an edit of a note does not show as one failure per golden file
  (equal JSON written otherwise, in spacing or key order, counts as identity: file layout);
- a difference of substance (level `findings`, or `outcome` when the outcome, a receipt's
  selection or a rejection's error changed): the case fails; its message is the outcome
  change (`outcome: eligible → needs_review`) or `findings changed`, its `lines` name the
  rules whose result changed with their article, then every other substance path; the full
  unified diff is kept in `diff` (printed with --verbose);
- no golden file, or one that cannot be read or parsed: level `new`, a failure.
An outcome other than the fixture's `expect` fails before that comparison, headed the same
way when a golden file is stored.

`update=True` rewrites every golden file that changed (identity, findings, new) except those
whose outcome changed: those are refused (a failure, `action` "refused") unless `accept`
(`policy-engine test --update --accept-outcome-changes`) is given too. Findings changes are
rewritten without it, and listed with their lines for the reviewer: the outcome is what a
person is told, and a flag needed for every citation or value change would soon be passed
without reading. A fixture itself is never rewritten: when its outcome is meant to change,
its author sets its `expect:`.

The fixture's quote must be one of the quotes the verdict's findings carry, or the quote of
the in-force article of the version that decided it (every verdict rests on that article: a
case on the last day of a window quotes it), or of the article choosing the governing
version; and its `article` must be the citation label of one of them, written as the verdict
writes it (第六条（文中第一个）, 第十三条第（一）项), so a fixture cannot claim to exercise an
article its verdict never touches. A decided fixture's case (absent facts written as null left out)
must also validate against its policy's published case schema (report/case_schema.py), and
its verdict must be the same bytes when every condition is evaluated on its own instead of
through the decision's combined plan. These are checks of `run_fixture`: `policy-engine
test` and the pytest suite (tests/test_golden.py) run exactly the same ones.

A fixture whose `expect` is an error code (case_invalid) is a rejected input: deciding it
must raise that error, whose problems are stored in `<name>.rejected.json` (without the
file name, so the stored bytes do not depend on where the fixtures are), and whose
messages must contain the fixture's quote and article; a date outside every version's window
(not_in_force) may instead quote and name the in-force article of one of the policy's versions.

Draw fixtures (decision: draw) and panel fixtures (decision: panel) also name a pool
file (`pool:`, relative to the fixture; the bundled ones are under fixtures/pools/) and,
for a draw, the seed; a draw's golden file is its receipt, `<name>.receipt.json`.

A whole suite (`policy-engine test` without --fixtures, and the pytest suite) also has
at least MIN_CASES fixtures for every decision each loaded policy answers (`coverage`),
and no stored golden file without its fixture (`leftovers`), and every entry under the
fixtures folder readable: both run `suite_checks`, so they agree on what passes.
"""
from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, replace
from pathlib import Path

from ..policy import schema as _schema
from ..evaluate.engine import decide, decide_governing
from ..errors import CODES, EngineError, OutputError
from ..policy.loader import display, walk
from ..textio import ReadFailure, read_text, write_atomic
from ..evaluate.verdict import dumps
from ..policy.registry import Registry
from ..yamlio import MAX_BYTES, YamlProblem, parse
from .substance import Change, compare

MIN_CASES = 8  # golden cases for each policy and decision it answers (the floor)


@dataclass(frozen=True, slots=True)
class Result:
    """One fixture's (or one suite check's) result.

    `level` says how the new answer differs from the stored golden file (report/substance.py):
    same, identity, findings, outcome, or new (no readable golden file); "" when no golden file
    was compared (the fixture failed an earlier check). `message` is the headline (for an
    outcome change, the outcome before → after), `lines` the substance lines after it (the
    rules and articles whose result changed, then every other substance path), `identity` the
    identity paths that differ, `diff` the full unified diff (printed with --verbose).
    With update, `action` is rewritten or refused ("" when the stored file is left as it was).
    """
    fixture: str
    ok: bool
    message: str = ""
    diff: str = ""
    level: str = ""
    lines: tuple[str, ...] = ()
    identity: tuple[str, ...] = ()
    policy: str = ""
    golden: str = ""  # the kind of golden file: verdict, receipt or rejection
    action: str = ""
    hint: str = ""  # what to do about it, when a reader must act

    def to_json(self) -> dict:
        return {"fixture": self.fixture, "ok": self.ok, "policy": self.policy or None, "golden": self.golden or None,
                "level": self.level or None, "message": self.message, "lines": list(self.lines),
                "identity": list(self.identity), "action": self.action or None,
                "hint": self.hint or None}


def fixture_files(root) -> list[Path]:
    return _fixtures(root)[0]


def _fixtures(root) -> tuple[list[Path], list[Result]]:
    """Fixture files under a folder (or the file named), and a failure for each entry that
    cannot be read or is not a regular file or folder (never opened, never skipped in silence)."""
    root = Path(root)
    if root.is_file():
        return [root], []
    files, problems = walk(root)
    return ([f for f in files if f.name.endswith(".yaml")],
            [Result(p.file or display(root), False, p.message) for p in problems])


SELECTION = ("draw", "panel")  # answered by policy-engine draw and check-panel, with a pool
SUFFIXES = (".verdict.json", ".receipt.json", ".rejected.json")


def golden_path(fixture: Path, rejected: bool = False, decision: str | None = None) -> Path:
    """<name>.verdict.json beside the fixture; .receipt.json for a draw; .rejected.json for a rejected input."""
    if rejected:
        return fixture.with_suffix(".rejected.json")
    return fixture.with_suffix(".receipt.json" if decision == "draw" else ".verdict.json")


GOLDEN_MAX_BYTES = 16 * 1024 * 1024  # a stored verdict or receipt; far above any bundled one


def _stored(golden: Path) -> str | None:
    """The stored golden text; None when it cannot be read (too large, not UTF-8): rewrite or report it."""
    try:
        return read_text(golden, GOLDEN_MAX_BYTES, what="golden file")
    except ReadFailure:
        return None


ACCEPT_FLAG = "--accept-outcome-changes"  # what `policy-engine test --update` needs to rewrite an outcome change


def _kind(golden: Path) -> str:
    return {".receipt.json": "receipt", ".rejected.json": "rejection"}.get(
        next((s for s in SUFFIXES if golden.name.endswith(s)), ""), "verdict")


def _unified(golden: Path, stored: str, text: str) -> str:
    return "".join(difflib.unified_diff(stored.splitlines(True), text.splitlines(True),
                                        fromfile=f"{golden.name} (stored)", tofile=f"{golden.name} (now)"))


def _change(stored: str, text: str) -> Change | None:
    """The change from the stored golden text to the new one; None when the stored text is not JSON."""
    try:
        before = json.loads(stored)
    except ValueError:
        return None
    return compare(before, json.loads(text))


def _headline(change: Change, after: str) -> tuple[str, tuple[str, ...]]:
    """The message (the outcome change, or that findings changed under the same outcome) and the lines after it."""
    if change.level == "outcome":
        return change.lines[0], change.lines[1:]
    try:
        outcome = json.loads(after).get("outcome")
    except (ValueError, AttributeError):
        outcome = None
    kept = f" (outcome {outcome} unchanged)" if isinstance(outcome, str) else ""
    return f"findings changed{kept}", change.lines


def _compare(fixture: Path, golden: Path, text: str, update: bool, accept: bool = False, policy: str = "") -> Result:
    """The new answer `text` against the stored golden file, by substance (report/substance.py).

    Without update: the same bytes or an identity-only difference pass (level same / identity);
    a difference of substance fails, headed by the outcome change, then the rules whose result
    changed. With update: every difference is rewritten except an outcome change, which is
    refused (a failure) unless `accept`."""
    name = str(fixture)
    kind = _kind(golden)
    stored = _stored(golden) if golden.exists() else None
    if stored == text:
        return Result(name, True, level="same", policy=policy, golden=kind)
    change = _change(stored, text) if stored is not None else None
    diff = _unified(golden, stored, text) if stored is not None else ""
    if change is None:  # no golden file, or one that cannot be read or parsed: nothing to compare
        if update:
            return _write(Result(name, True, level="new", policy=policy, golden=kind), golden, text)
        if not golden.exists():
            return Result(name, False, f"no golden file {golden.name}: run `policy-engine test --update` and review it",
                          level="new", policy=policy, golden=kind)
        if stored is None:
            return Result(name, False, f"the golden file {golden.name} cannot be read as UTF-8 text of at most "
                                       f"{GOLDEN_MAX_BYTES // (1 << 20)} MiB: run `policy-engine test --update` "
                                       f"and review it", level="new", policy=policy, golden=kind)
        return Result(name, False, f"the golden file {golden.name} is not JSON: run `policy-engine test --update` "
                                   f"and review it", diff, level="new", policy=policy, golden=kind)
    if change.level in ("identity", "same"):  # same: equal JSON written otherwise (spacing, key order)
        found = Result(name, True, diff=diff, level="identity", identity=change.identity, policy=policy, golden=kind)
        return _write(found, golden, text) if update else found
    message, lines = _headline(change, text)
    found = Result(name, False, message, diff, change.level, lines, change.identity, policy=policy, golden=kind)
    if not update:
        return found
    if change.level == "outcome" and not accept:
        return replace(found, action="refused", hint=f"not rewritten: if the new outcome is right, run "
                                                     f"`policy-engine test --update {ACCEPT_FLAG}`")
    return _write(replace(found, ok=True), golden, text)


def _write(result: Result, golden: Path, text: str) -> Result:
    try:
        write_atomic(golden, text)  # a failed update leaves the stored file as it was
    except OutputError as exc:
        return replace(result, ok=False, message="; ".join(p.render() for p in exc.problems), action="")
    return replace(result, action="rewritten")


def _window_quotes(registry: Registry, policy_id) -> set[tuple[str, str]]:
    """The in-force articles (quote, label) of every version of a policy (none for an unknown id)."""
    try:
        return {(p.in_force.quote, p.in_force.cite.label) for p in registry.versions(str(policy_id))}
    except EngineError:
        return set()


def _rejected(fixture: Path, exc: EngineError, data: dict, update: bool,
              windows: frozenset[tuple[str, str]] | set[tuple[str, str]] = frozenset(), accept: bool = False) -> Result:
    name = display(fixture)
    if exc.code != data["expect"]:
        return Result(name, False, f"rejected with {exc.code}, the fixture expects {data['expect']!r}: {exc}")
    in_window = exc.code == "not_in_force" and any(_quoted(data["quote"], q) for q, _ in windows)
    if data["quote"] not in str(exc) and not in_window:
        return Result(name, False, f"the fixture's quote {data['quote']!r} is not in the error: {exc}")
    article = str(data["article"])
    if article not in str(exc) and not (exc.code == "not_in_force" and any(article == a for _, a in windows)):
        return Result(name, False, f"the fixture's article {article!r} is not in the error: {exc}")
    stored = {"error": exc.code, "problems": [{k: v for k, v in p.to_json().items() if k != "file"}
                                              for p in exc.problems]}
    return _compare(fixture, golden_path(fixture, rejected=True), dumps(stored), update, accept, str(data["policy"]))


def run_fixture(registry: Registry, fixture: Path, update: bool = False, accept: bool = False) -> Result:
    """Run one fixture; the result names it as messages name files (never through the working directory).

    With update, its golden file is rewritten when its substance or identity changed, except
    an outcome change, which is refused unless `accept` (`--accept-outcome-changes`)."""
    return replace(_run_fixture(registry, fixture, update, accept), fixture=display(fixture))


def _run_fixture(registry: Registry, fixture: Path, update: bool = False, accept: bool = False) -> Result:
    name = display(fixture)
    try:
        doc = parse(read_text(fixture, MAX_BYTES, what="fixture", regular_only=True), name)
    except ReadFailure as exc:
        return Result(name, False, exc.problem.message)
    except YamlProblem as exc:
        return Result(name, False, exc.problem.render())
    data = doc.data
    if not isinstance(data, dict):
        return Result(name, False, "a fixture is a mapping (policy, decision, as_of, article, quote, expect, case)")
    found = _schema.check(doc, "fixture")
    if found:
        return Result(name, False, "\n".join(p.render() for p in found))
    try:
        as_of = str(data["as_of"])
        policy = (registry.get(data["policy"], data["version"]) if data.get("version")
                  else registry.in_force(data["policy"], as_of))
        if data["decision"] in SELECTION:
            outcome, text, quotes, labels = _selection(policy, fixture, data, name)
        else:
            if data.get("version"):
                verdict = decide(policy, data["decision"], data["case"], as_of, case_file=name)
            else:  # the version that governs the case (governing_version), as the CLI decides it
                verdict, policy = decide_governing(registry, data["policy"], data["decision"], data["case"], as_of,
                                                   case_file=name)
            outcome, text = verdict.outcome, verdict.dumps()
            planned = text if verdict.version is None else None  # with a version choice: compared by decide() alone
            quotes = {f.quote for f in verdict.findings} | {f.exception[2] for f in verdict.findings if f.exception}
            labels = {f.cite for f in verdict.findings} | {f.exception[1] for f in verdict.findings if f.exception}
            if verdict.version is not None:  # a case about which law governs may quote the article that says so
                quotes.add(verdict.version.quote)
                labels.add(verdict.version.cite)
        quotes.add(policy.in_force.quote)
        labels.add(policy.in_force.cite.label)
    except EngineError as exc:
        if data["expect"] in CODES:
            return _rejected(fixture, exc, data, update, _window_quotes(registry, data["policy"]), accept)
        return Result(name, False, f"{exc.code}: {exc}")
    except ValueError as exc:
        return Result(name, False, str(exc))
    if data["expect"] in CODES:
        return Result(name, False, f"the fixture expects the input to be rejected ({data['expect']}), "
                                   f"but it was decided: {outcome}")
    if not any(_quoted(data["quote"], q) for q in quotes):
        return Result(name, False, f"the fixture's quote {data['quote']!r} is not among the quotes of its verdict")
    if str(data["article"]) not in labels:
        return Result(name, False, f"the fixture's article {data['article']!r} is not the citation of any finding of "
                                   f"its verdict (they cite {'、'.join(sorted(labels))}): write the label as the "
                                   f"verdict does")
    if data["decision"] not in SELECTION:
        problem = _case_schema_problem(policy, data["case"]) or _plan_problem(policy, data, as_of, planned)
        if problem:
            return Result(name, False, problem)
    golden = golden_path(fixture, decision=data["decision"])
    if outcome != data["expect"]:
        unexpected = _unexpected(fixture, golden, text, outcome, data)
        return replace(unexpected, action="refused") if update and unexpected.level == "outcome" else unexpected
    return _compare(fixture, golden, text, update, accept, str(data["policy"]))


def _unexpected(fixture: Path, golden: Path, text: str, outcome: str, data: dict) -> Result:
    """An outcome other than the fixture's `expect` fails (never rewritten: the fixture is its
    author's statement of what the text says); headed, where a golden file is stored, by the
    change from it and the rules whose result changed."""
    expects = f"the fixture expects {data['expect']!r}"
    policy, kind = str(data["policy"]), _kind(golden)
    stored = _stored(golden) if golden.exists() else None
    change = _change(stored, text) if stored is not None else None
    if change is None or change.level != "outcome":
        return Result(str(fixture), False, f"outcome {outcome!r}, {expects}", policy=policy, golden=kind)
    return Result(str(fixture), False, f"{change.lines[0]} ({expects})", _unified(golden, stored or "", text),
                  "outcome", change.lines[1:], change.identity, policy=policy, golden=kind,
                  hint=f"if the new outcome is right, set the fixture's `expect:` to {outcome}, then run "
                       f"`policy-engine test --update {ACCEPT_FLAG}`")


def _quoted(quote: str, carried: str) -> bool:
    return quote in carried or carried in quote


_VALIDATORS: dict[str, object] = {}  # policy digest -> a validator of its case schema


def _case_schema_problem(policy, case) -> str | None:
    """The first way the case (absent facts written as null left out) breaks the policy's case schema."""
    import jsonschema
    from .case_schema import case_schema
    validator = _VALIDATORS.get(policy.sha256)
    if validator is None:
        schema = case_schema(policy.vocabulary.facts, f"urn:policy-engine:{policy.id}:{policy.version}", policy.title)
        validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
        _VALIDATORS[policy.sha256] = validator
    error = next(iter(validator.iter_errors(_without_nulls(case))), None)  # type: ignore[attr-defined]
    if error is None:
        return None
    at = ".".join(str(p) for p in error.absolute_path) or "the case"
    return f"the case does not match the policy's case schema at {at}: {error.message}"


def _without_nulls(value):
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _plan_problem(policy, data: dict, as_of: str, text: str | None) -> str | None:
    """The verdict evaluated condition by condition (no combined plan) must be the same bytes.

    `text` is the verdict as stored; None where it carries a version choice (governing_version),
    which decide() alone does not make: the policy's own verdict is then computed with the plan.
    """
    from ..evaluate.evaluate import Plan
    decision = data["decision"]
    if text is None:
        try:
            text = decide(policy, decision, data["case"], as_of).dumps()
        except EngineError as exc:
            return f"with the combined plan, the case is refused ({exc.code}: {exc})"
    saved = policy.plans.get(decision)
    policy.plans[decision] = Plan(None, {}, {})
    try:
        slow = decide(policy, decision, data["case"], as_of).dumps()
    except EngineError as exc:
        return f"evaluated condition by condition, the case is refused ({exc.code}: {exc})"
    finally:
        if saved is None:
            policy.plans.pop(decision, None)
        else:
            policy.plans[decision] = saved
    if slow != text:
        return "the verdict differs when every condition is evaluated on its own (a defect of the combined plan)"
    return None


def _selection(policy, fixture: Path, data: dict, name: str):
    """A draw (receipt) or a panel check (verdict) from the fixture's pool and request."""
    from ..selection.draw import draw
    from ..selection.panel import check_panel
    from ..selection.pool import load_pool
    if str(data["case"].get("date")) != str(data["as_of"]):
        raise ValueError(f"the request's date {data['case'].get('date')!r} differs from the fixture's as_of {data['as_of']!r}")
    if "pool" not in data:
        raise ValueError(f"a {data['decision']} fixture names its pool (pool: ../../pools/<file>)")
    pool = load_pool(fixture.parent / data["pool"], policy.vocabulary, display=data["pool"])
    if data["decision"] == "panel":
        verdict = check_panel(policy, pool, data["case"], file=name)
        return verdict.outcome, verdict.dumps(), {f.quote for f in verdict.findings}, {f.cite for f in verdict.findings}
    if "seed" not in data:
        raise ValueError("a draw fixture states its seed (seed: <hex>)")
    receipt = draw(policy, pool, data["case"], data["seed"], data.get("commitment"), request_file=name)
    quotes = ({f.quote for f in receipt.findings} | {p.quote for p in receipt.provisions}
              | {r.quote for r in receipt.rules})
    labels = {f.cite for f in receipt.findings} | {p.cite for p in receipt.provisions} | {r.cite for r in receipt.rules}
    return receipt.outcome, receipt.dumps(), quotes, labels


def run_all(registry: Registry, root, update: bool = False, minimum: int = 0, accept: bool = False) -> list[Result]:
    """Every fixture under `root`, then the suite's checks (`suite_checks`)."""
    files, _ = _fixtures(root)
    return [run_fixture(registry, f, update, accept) for f in files] + suite_checks(registry, root, update, minimum)


def suite_checks(registry: Registry, root, update: bool = False, minimum: int = 0) -> list[Result]:
    """What a suite needs beyond each fixture passing: every entry under `root` readable,
    (unless updating) no leftovers, and with `minimum` the coverage floor (at least that many
    fixtures per policy and decision). `policy-engine test` and tests/test_golden.py run it."""
    results = _fixtures(root)[1]
    if not update:
        results += leftovers(root)
    if minimum:
        results += coverage(registry, root, minimum)
    return results


def leftovers(root) -> list[Result]:
    """A stored golden file without its fixture is a leftover: one failure each."""
    root = Path(root)
    if not root.is_dir():
        return []
    out = []
    for golden in walk(root)[0]:
        suffix = next((s for s in SUFFIXES if golden.name.endswith(s)), None)
        if suffix and not golden.with_name(golden.name.replace(suffix, ".yaml")).exists():
            out.append(Result(display(golden), False, "golden file without a fixture"))
    return out


def coverage(registry: Registry, root, minimum: int = MIN_CASES) -> list[Result]:
    """A failure for each policy (its newest version) and decision it answers with fewer than
    `minimum` fixtures under root/<policy>/<decision>/."""
    root = Path(root)
    counts: dict[tuple[str, str], int] = {}
    for f in fixture_files(root):
        rel = f.relative_to(root).parts
        if len(rel) >= 3:
            counts[(rel[0], rel[1])] = counts.get((rel[0], rel[1]), 0) + 1
    out = []
    for pid in registry.ids():
        newest = registry.versions(pid)[0]
        for decision in newest.decisions() + newest.selection_commands():
            have = counts.get((pid, decision), 0)
            if have < minimum:
                out.append(Result(display(root / pid / decision), False,
                                  f"{have} golden case(s) for {pid} {decision}; every decision a policy answers "
                                  f"has at least {minimum}"))
    return out


def default_fixture_dir() -> Path:
    """The golden cases beside the bundled policies: fixtures/ in a checkout (and an editable
    install of one); an installed wheel carries the policies but not their golden cases."""
    from ..resources import policy_dir
    return policy_dir().parent / "fixtures"


# -- what a run found, for a reader: per policy for identity-only files, per level for an update ---------------

LEVELS = ("outcome", "findings", "identity", "new", "same")  # the summary's order: the weightiest first
LAYOUT = "file layout"  # an identity-only file whose JSON is equal but written otherwise (spacing, key order)


def identity_summary(results: list[Result]) -> list[dict]:
    """One entry per policy whose golden files differ only in identity: how many files (of
    each kind: verdict, receipt, rejection) and in which identity (policy digest, trace, ...),
    in policy order. The pytest suite and `policy-engine test` pass these files alike."""
    from .substance import identity_names
    by_policy: dict[str, dict] = {}
    for r in results:
        if r.level != "identity":
            continue
        entry = by_policy.setdefault(r.policy, {"policy": r.policy, "files": 0, "kinds": {}, "identity": {}})
        entry["files"] += 1
        entry["kinds"][r.golden] = entry["kinds"].get(r.golden, 0) + 1
        for name in identity_names(r.identity) or (LAYOUT,):
            entry["identity"][name] = entry["identity"].get(name, 0) + 1
    return [by_policy[k] for k in sorted(by_policy)]


def level_counts(results: list[Result]) -> dict[str, int]:
    """How many golden files are at each level (outcome, findings, identity, new, same)."""
    counts = dict.fromkeys(LEVELS, 0)
    for r in results:
        if r.level in counts:
            counts[r.level] += 1
    return counts


_PLURAL = {"verdict": "verdicts", "receipt": "receipts", "rejection": "rejections"}


def identity_line(entry: dict, update: bool) -> str:
    """`xj-iit-expert-pool: 117 golden files (106 verdicts, 11 receipts) differ only in identity
    (policy digest 117, trace 20): ...`"""
    kinds = ", ".join(f"{n} {_PLURAL.get(k, k) if n > 1 else k}" for k, n in sorted(entry["kinds"].items()))
    what = ", ".join(f"{name} {n}" for name, n in entry["identity"].items())
    files = f"{entry['files']} golden file{'s' if entry['files'] > 1 else ''} ({kinds})"
    if update:
        return f"{entry['policy']}: {files} rewritten, identity only ({what})"
    return (f"{entry['policy']}: {files} differ{'s' if entry['files'] == 1 else ''} only in identity ({what}): "
            f"`policy-engine test --update` refreshes them")
