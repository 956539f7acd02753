"""What a revision of a policy changes: every case of a corpus decided under both versions.

`diff_policies(before, after, cases)` takes two loaded versions of a policy (`Policy`) and a
corpus (`Entry` values: a name, a decision, a date, the case, and for a draw or a panel check
its pool and seed) and returns a `PolicyDiff`:

- each case decided (or drawn, or checked) under both versions, the two answers compared with
  `report.substance.compare`: a change of outcome, a change of findings only, or none (a
  difference of identity alone, the digest or the trace text, counts as none). Outcome changes
  are grouped by the rules whose result changed (the cause), each with its citation;
- each version answers every case, whatever its in-force window: a case dated outside a
  version's window is decided as though that version were in force then (the question a
  reviewer asks is "what would the new text say about these cases"). A case either version
  refuses (a fact its vocabulary no longer declares) is answered by its error, so a refusal
  on one side only is an outcome change, and is listed under `errors` as well;
- the rules (every element with an id and a citation: criteria, triggers, grounds, measures,
  modes ...) added, removed or changed, with the fields that changed (condition, strength,
  cite, quote, unless, applies_when, show, title, note ...);
- the quotes of `after` that are not found verbatim in its cited passage (the checker of
  policy/sources.py; load such a version with `load_version`, which tolerates them);
- the articles of the two source texts whose wording changed, or that were added or removed
  (compared with whitespace removed, articles split by policy/sources.py), with the ids of
  the rules citing each in either version.

`PolicyDiff.to_json()` is the JSON of `policy-engine diff --format json`
(schemas/diff.schema.json); `render_text`, `render_markdown` and `render_html` write it for a
person. Reading a corpus (`read_cases`, `read_fixtures`, `read_jsonl`) and loading a version
from a file (`load_version`) read only the paths given.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..errors import EngineError, PolicyError, Problem, problem
from ..evaluate.engine import decide
from ..policy.expr import Condition
from ..policy.model import Citation, Policy, Test
from ..policy.sources import SourceIndex, cite_label, normalise
from ..dates import as_date

__all__ = ["Entry", "PolicyDiff", "CorpusError", "diff_policies", "load_version", "read_cases", "read_fixtures",
           "read_jsonl", "render_text", "render_markdown", "render_html", "SELECTION"]

SELECTION = ("draw", "panel")  # answered with a pool: a draw's answer is its receipt


class CorpusError(EngineError):
    """A case of the corpus cannot be read (a bad line, a missing file): a usage error of the command."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class Entry:
    """One case of the corpus."""

    name: str  # how reports name it: the fixture's path under its folder, or file:line of a JSON line
    decision: str
    as_of: str  # the date asked about (a draw's or panel's request date)
    case: Any  # the facts; a draw or panel request
    pool: str | None = None  # draw/panel: the pool file, as it can be opened
    seed: str | None = None  # draw
    commitment: str | None = None  # draw


@dataclass(frozen=True, slots=True)
class Version:
    """A policy version loaded for a diff: the policy, its source text, and the tolerated
    problems (quotes that do not verify)."""

    policy: Policy
    source: SourceIndex | None
    problems: tuple[Problem, ...] = ()


@dataclass
class PolicyDiff:
    before: Policy
    after: Policy
    corpus: str
    cases: int
    outcome_changes: list[dict] = field(default_factory=list)
    findings_changes: list[dict] = field(default_factory=list)
    unchanged: int = 0
    errors: list[dict] = field(default_factory=list)
    rules: dict = field(default_factory=lambda: {"added": [], "removed": [], "changed": []})
    quotes: list[dict] = field(default_factory=list)
    articles: list[dict] = field(default_factory=list)
    passages: dict[str, list[str]] = field(default_factory=dict)  # changed article -> rules whose cited passage changed

    @property
    def outcome_count(self) -> int:
        return sum(len(g["cases"]) for g in self.outcome_changes)

    def exit_code(self) -> int:
        """0 no case changed its substance; 1 some outcome changed; 6 findings changed, no outcome."""
        if self.outcome_changes:
            return 1
        if self.findings_changes:
            return 6
        return 0

    def to_json(self) -> dict:
        def ident(p: Policy) -> dict:
            return {"id": p.id, "version": p.version, "sha256": p.sha256}
        return {"before": ident(self.before), "after": ident(self.after),
                "corpus": {"source": self.corpus, "cases": self.cases},
                "outcome_changes": self.outcome_changes, "findings_changes": self.findings_changes,
                "unchanged": self.unchanged, "errors": self.errors, "rules": self.rules,
                "quotes": self.quotes, "articles": self.articles}


# ----------------------------------------------------------------------------- loading

def load_version(path, tolerate: frozenset[str] = frozenset({"quote_not_found"})) -> Version:
    """Load one policy file for a diff; quotes that do not verify are kept as problems, not
    refused (every other problem raises PolicyError, as `check` reports it)."""
    from ..policy.loader import _Cache, check_policy
    cache = _Cache()
    policy, problems = check_policy(path, cache, tolerate)
    if policy is None:
        raise PolicyError(problems)
    source = next((index for key, index in cache.sources.items() if key[1] == policy.source_sha256), None)
    return Version(policy, source, tuple(problems))


def source_of(policy: Policy) -> SourceIndex | None:
    """The source text of a policy loaded elsewhere (a registry), found where the loader named it."""
    from ..policy.loader import PROJECT
    from ..policy.sources import load_source
    from .. import resources
    given = Path(policy.source_file)
    for candidate in ([given] if given.is_absolute() else [PROJECT / given, resources.policy_dir().parent / given]):
        if candidate.is_file():
            try:
                return load_source(candidate)
            except EngineError:
                return None
    return None


# ----------------------------------------------------------------------------- the corpus

def read_fixtures(root, policy_id: str | None = None) -> list[Entry]:
    """The golden cases (fixture files, *.yaml) under a folder, or the one file named; those of
    another policy (its `policy:` key) are left out. A fixture that cannot be read is a CorpusError."""
    from ..policy.loader import display, walk
    from ..textio import ReadFailure, read_text
    from ..yamlio import MAX_BYTES, YamlProblem, parse
    root = Path(root)
    found: list[Problem] = []
    if root.is_file():
        files = [root]
    elif root.is_dir():
        files, found = walk(root)
        files = [f for f in files if f.name.endswith(".yaml")]
    else:
        raise CorpusError([problem("file_unreadable", "no such file or folder", file=display(root))])
    if found:
        raise CorpusError(found)
    out = []
    for f in sorted(files):
        name = display(f)
        try:
            doc = parse(read_text(f, MAX_BYTES, what="case file", regular_only=True), name)
        except ReadFailure as exc:
            raise CorpusError([exc.problem]) from None
        except YamlProblem as exc:
            raise CorpusError([exc.problem]) from None
        data = doc.data
        if not isinstance(data, dict):
            raise CorpusError([problem("case_invalid", "a case file is a mapping (decision, as_of, case)",
                                       file=name, line=1)])
        if policy_id is not None and data.get("policy") not in (None, policy_id):
            continue  # a golden case of another policy
        rel = f.relative_to(root).as_posix() if root.is_dir() else f.name
        out.append(_entry(data, rel, name, f.parent, lambda key, n=name, d=doc: dict(file=n, **_line(d, key))))
    return out


def _line(doc, key: str) -> dict:
    where = doc.where((key,)) if key in doc.data else {"line": 1}
    return {k: v for k, v in where.items() if k in ("line", "column")}


def read_jsonl(path) -> list[Entry]:
    """Cases as JSON lines: {"name"?, "decision", "as_of", "case", "pool"?, "seed"?, "commitment"?}
    (a pool relative to the file's folder); blank lines and lines starting with # are skipped.
    A line that is not such an object is a CorpusError naming file:line."""
    from ..policy.loader import display
    from ..textio import ReadFailure, read_text
    path = Path(path)
    name = display(path)
    try:
        text = read_text(path, 64 << 20, what="cases file", regular_only=True)
    except ReadFailure as exc:
        raise CorpusError([exc.problem]) from None
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CorpusError([problem("case_invalid", f"not JSON: {exc.msg}", file=name, line=number,
                                       column=exc.colno, hint='one JSON object per line: {"decision": "entry", '
                                                             '"as_of": "2026-11-23", "case": {...}}')]) from None
        if not isinstance(data, dict):
            raise CorpusError([problem("case_invalid", "a line is a JSON object (decision, as_of, case)",
                                       file=name, line=number)])
        out.append(_entry(data, str(data.get("name") or f"{path.name}:{number}"), name, path.parent,
                          lambda key, n=name, k=number: dict(file=n, line=k)))
    return out


def _entry(data: dict, rel: str, name: str, folder: Path, where) -> Entry:
    decision = data.get("decision")
    if not isinstance(decision, str):
        raise CorpusError([problem("case_invalid", "the case names no decision", **where("decision"),
                                   hint="decision: entry (or exit, recusal, deadline, draw, panel ...)")])
    case = data.get("case")
    as_of = data.get("as_of")
    if as_of is None and decision in SELECTION and isinstance(case, dict):
        as_of = case.get("date")
    if not isinstance(as_of, (str, _dt.date)):
        raise CorpusError([problem("case_invalid", "the case names no date (as_of: YYYY-MM-DD)", **where("as_of"))])
    try:
        as_of = as_date(as_of).isoformat()
    except EngineError as exc:
        raise CorpusError([problem("case_invalid", f"as_of: {exc.problems[0].message}", **where("as_of"))]) from None
    pool = data.get("pool")
    if decision in SELECTION and not isinstance(pool, str):
        raise CorpusError([problem("case_invalid", f"a {decision} case names its pool file (pool: ...)", **where("pool"))])
    seed = data.get("seed")
    if decision == "draw" and not isinstance(seed, str):
        raise CorpusError([problem("case_invalid", "a draw case states its seed (seed: <hex>)", **where("seed"))])
    return Entry(rel, decision, as_of, case, str(folder / pool) if isinstance(pool, str) else None,
                 seed if isinstance(seed, str) else None,
                 data.get("commitment") if isinstance(data.get("commitment"), str) else None)


def read_cases(path, policy_id: str | None = None) -> list[Entry]:
    """A folder of cases (or one case file) in the fixture format, or a JSON-lines file (.jsonl, .ndjson)."""
    p = Path(path)
    if p.suffix.lower() in (".jsonl", ".ndjson"):
        return read_jsonl(p)
    return read_fixtures(p, policy_id)


# ----------------------------------------------------------------------------- deciding

def _in_force_for(policy: Policy, day: str) -> Policy:
    """The policy, its window widened to cover `day` when it does not (see the module doc)."""
    d = as_date(day)
    window = policy.in_force
    if window.covers(d):
        return policy
    wider = dataclasses.replace(window, start=min(window.start, d),
                                until=None if window.until is None else max(window.until, d))
    return dataclasses.replace(policy, in_force=wider)


def _answer(policy: Policy, entry: Entry) -> tuple[Any, EngineError | None]:
    """The entry's answer under `policy` as a parsed golden document: a verdict, a receipt, or a
    rejection ({error, problems})."""
    p = _in_force_for(policy, entry.as_of)
    try:
        if entry.decision in SELECTION:
            from ..selection.draw import draw
            from ..selection.panel import check_panel
            from ..selection.pool import load_pool
            assert entry.pool is not None
            pool = load_pool(entry.pool, p.vocabulary, display=Path(entry.pool).name)
            if entry.decision == "panel":
                text = check_panel(p, pool, entry.case, file=entry.name).dumps()
            else:
                assert entry.seed is not None
                text = draw(p, pool, entry.case, entry.seed, entry.commitment, request_file=entry.name).dumps()
        else:
            text = decide(p, entry.decision, entry.case, entry.as_of, case_file=entry.name).dumps()
    except EngineError as exc:
        return {"error": exc.code, "problems": [{k: v for k, v in q.to_json().items() if k != "file"}
                                                for q in exc.problems]}, exc
    return json.loads(text), None


def _states(doc: Any) -> dict[tuple[str, int], tuple[str, Any]]:
    """Each rule's citation and result in an answer: findings (result), a receipt's rules (counts)."""
    out: dict[tuple[str, int], tuple[str, Any]] = {}
    if not isinstance(doc, dict):
        return out
    seen: dict[str, int] = {}
    for kind in ("findings", "rules"):
        for f in doc.get(kind) or ():
            if not isinstance(f, dict) or "rule" not in f:
                continue
            rule = str(f["rule"])
            seen[rule] = seen.get(rule, 0) + 1
            state = f.get("result") if kind == "findings" else f.get("excluded")  # experts it passed over
            out[(rule, seen[rule])] = (str(f.get("cite", "")), state)
    return out


def _causes(before: Any, after: Any) -> list[dict]:
    """The rules whose result differs between two answers, each with its citation (after's where it has it)."""
    b, a = _states(before), _states(after)
    causes: dict[str, str] = {}
    for key in list(b) + [k for k in a if k not in b]:
        if b.get(key, (None, None))[1] != a.get(key, (None, None))[1]:
            cite = (a.get(key) or b[key])[0]
            causes.setdefault(key[0], cite)
    return [{"rule": r, "cite": c} for r, c in sorted(causes.items(), key=lambda rc: (_cite_order(rc[1]), rc[0]))]


def _cite_order(label: str) -> tuple:
    from ..policy.sources import parse_numeral
    import re
    m = re.match(r"第([〇零一二三四五六七八九十百千]+)条", label)
    return (parse_numeral(m.group(1)) if m else 10 ** 6, label)


def _outcome(doc: Any) -> str:
    if isinstance(doc, dict):
        if "error" in doc and "outcome" not in doc:
            return f"refused ({doc['error']})"
        return str(doc.get("outcome"))
    return str(doc)


def diff_policies(before: Policy, after: Policy, cases: Iterable[Entry], *, corpus: str = "(cases given)",
                  sources: tuple[SourceIndex | None, SourceIndex | None] | None = None) -> PolicyDiff:
    """Compare two versions of a policy over a corpus (see the module doc). `sources`: the two
    source texts, as `load_version` gives them; without them they are read where the loader
    found them."""
    from ..report.substance import compare
    if sources is None:
        sources = (source_of(before), source_of(after))
    result = PolicyDiff(before, after, corpus, 0)
    groups: dict[tuple, dict] = {}
    for entry in cases:
        result.cases += 1
        old, old_error = _answer(before, entry)
        new, new_error = _answer(after, entry)
        if isinstance(old, dict) and isinstance(new, dict) and "policy" in old and "policy" in new:
            new = dict(new, policy=old["policy"])  # which version answered is what the diff is about, not a change
        change = compare(old, new)
        for side, exc in (("before", old_error), ("after", new_error)):
            if exc is not None and change.substantive:
                result.errors.append({"case": entry.name, "side": side, "code": exc.code,
                                      "message": "; ".join(p.message for p in exc.problems)})
        if change.level == "outcome":
            causes = _causes(old, new)
            key = tuple((c["rule"], c["cite"]) for c in causes)
            group = groups.setdefault(key, {"rules": causes, "cases": []})
            group["cases"].append({"case": entry.name, "decision": entry.decision, "before": _outcome(old),
                                   "after": _outcome(new), "lines": list(change.lines)})
        elif change.level == "findings":
            result.findings_changes.append({"case": entry.name, "decision": entry.decision,
                                            "lines": list(change.lines)})
        else:
            result.unchanged += 1
    result.outcome_changes = sorted(groups.values(), key=lambda g: (
        [(_cite_order(r["cite"]), r["rule"]) for r in g["rules"]] or [((10 ** 7, ""), "")]))
    result.rules = rule_changes(before, after)
    index_before, index_after = sources
    result.quotes = quote_problems(after, index_after)
    result.articles = article_changes(before, after, index_before, index_after, result.passages)
    return result


# ----------------------------------------------------------------------------- rules

# Fields of a policy that are not elements of the text (the loaded vocabulary, caches, digests).
_SKIP = frozenset({"vocabulary", "plans", "calendar", "sha256", "file", "source_file", "source_sha256",
                   "quotes_verified", "record_facts", "facts", "program", "compiled", "event_fields", "owners"})
_FIELD_NAMES = {"test": "condition"}  # the model's name -> the name editors know (require / when)


def _is_element(obj: Any) -> bool:
    return (dataclasses.is_dataclass(obj) and not isinstance(obj, type) and isinstance(getattr(obj, "id", None), str)
            and hasattr(obj, "cite"))


def _plain(value: Any, parent_id: str | None = None) -> Any:
    """A comparable form of a model value: conditions as written, citations as labels, elements
    inside another element by id (they are compared on their own)."""
    if isinstance(value, Condition):
        return value.source
    if isinstance(value, Citation):
        return value.label
    if isinstance(value, Test):
        if value.op == "leaf":
            return value.condition.source if value.condition is not None else None
        return {value.op: [_plain(c) for c in value.children]}
    if _is_element(value) and parent_id is not None and value.id != parent_id:
        return f"<{value.id}>"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        own = getattr(value, "id", None) if _is_element(value) else parent_id
        return {f.name: _plain(getattr(value, f.name), own) for f in dataclasses.fields(value) if f.name not in _SKIP}
    if isinstance(value, Mapping):
        return {str(k): _plain(v, parent_id) for k, v in value.items()}
    if isinstance(value, (list, tuple, frozenset, set)):
        items = [_plain(v, parent_id) for v in value]
        return sorted(items, key=repr) if isinstance(value, (frozenset, set)) else items
    if isinstance(value, (_dt.date,)):
        return value.isoformat()
    return value


def elements(policy: Policy) -> dict[str, Any]:
    """Every element of a policy with an id and a citation, by id. An id two different elements
    share is qualified by the element holding each (`mode/id`), else by the section
    (`section:id`); the same element reached twice (a trigger a score sheet feeds) counts once."""
    found: list[tuple[str, str | None, Any]] = []

    def walk(value: Any, path: str, parent: str | None) -> None:
        if _is_element(value):
            if value.id != parent:
                found.append((path, parent, value))
            parent = value.id
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            for f in dataclasses.fields(value):
                if f.name not in _SKIP:
                    walk(getattr(value, f.name), f"{path}.{f.name}" if path else f.name, parent)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v, path, parent)
        elif isinstance(value, Mapping):
            for v in value.values():
                walk(v, path, parent)

    walk(policy, "", None)
    by_id: dict[str, list[tuple[str, str | None, Any]]] = {}
    for item in found:
        by_id.setdefault(item[2].id, []).append(item)
    out: dict[str, Any] = {}
    for rid, items in by_id.items():
        forms = {json.dumps(_plain(e), sort_keys=True, ensure_ascii=False, default=str) for _, _, e in items}
        if len(forms) == 1:
            out[rid] = items[0][2]
            continue
        for path, parent, e in items:
            key = f"{parent}/{rid}" if parent else f"{path}:{rid}"
            n, unique = 1, key
            while unique in out:
                n += 1
                unique = f"{key}#{n}"
            out[unique] = e
    return out


def _label(element: Any) -> str:
    cite = getattr(element, "cite", None)
    if isinstance(cite, Citation):
        return cite.label
    return str(cite or getattr(element, "label", "") or "")


def rule_changes(before: Policy, after: Policy) -> dict:
    """Rules added, removed, and changed with the fields that changed."""
    b, a = elements(before), elements(after)
    changed = []
    for rid in b:
        if rid not in a:
            continue
        pb, pa = _plain(b[rid]), _plain(a[rid])
        fields = [_FIELD_NAMES.get(k, k) for k in list(pb) + [k for k in pa if k not in pb] if pb.get(k) != pa.get(k)]
        if fields:
            changed.append({"rule": rid, "cite": _label(a[rid]), "fields": fields})
    return {"added": [r for r in a if r not in b], "removed": [r for r in b if r not in a], "changed": changed}


# ----------------------------------------------------------------------------- quotes

def quote_problems(policy: Policy, index: SourceIndex | None) -> list[dict]:
    """The quotes of the policy (cited in its own source text) not found verbatim in their cited passage."""
    if index is None:
        return []
    out: list[dict] = []
    seen: set = set()

    def walk(value: Any, owner: str, path: str) -> None:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            if isinstance(getattr(value, "id", None), str):
                owner = getattr(value, "id")
            cite, quote = getattr(value, "cite", None), getattr(value, "quote", None)
            if isinstance(cite, Citation) and cite.text is None and isinstance(quote, str) and (id(value)) not in seen:
                seen.add(id(value))
                try:
                    check = index.verify_quote(quote, cite.article, cite.occurrence, cite.paragraph, cite.item,
                                               cite.subitem)
                    message = None if check.ok else (f"not in {cite.label}" + (
                        f"; the source now reads: “{check.closest}”" if check.closest else "")
                        + (f"; found in {check.found_elsewhere}" if check.found_elsewhere else ""))
                except LookupError as exc:
                    message = str(exc)
                if message:
                    out.append({"rule": owner or path, "cite": cite.label, "quote": quote, "message": message})
            for f in dataclasses.fields(value):
                if f.name not in _SKIP:
                    walk(getattr(value, f.name), owner, f"{path}.{f.name}" if path else f.name)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v, owner, path)

    walk(policy, "", "")
    return out


# ----------------------------------------------------------------------------- articles

_OCCURRENCE = {1: "（文中第一个）", 2: "（文中第二个）", 3: "（文中第三个）"}


def _article_label(number: int, occurrence: int, shared: bool) -> str:
    label = cite_label(number)
    return label.replace("条", "条" + _OCCURRENCE.get(occurrence, f"（文中第{occurrence}个）"), 1) if shared else label


def _citing(policy: Policy, found: dict[str, Any], number: int, occurrence: int, shared: bool) -> set[str]:
    """The ids of the elements citing the article (their own citation or an exception's), and
    in_force / source_defects where the policy's window or a recorded defect cites it."""
    out = set()
    named: list[tuple[str, Any]] = [("in_force", policy.in_force)] + [("source_defects", d) for d in policy.defects]
    for rid, e in [*found.items(), *named]:
        stack = [e]
        while stack:  # the element's own citation, and those of its exceptions
            x = stack.pop()
            cite = getattr(x, "cite", None)
            if (isinstance(cite, Citation) and cite.text is None and cite.article == number
                    and (not shared or cite.occurrence in (None, occurrence))):
                out.add(rid)
            stack.extend(getattr(x, "unless", ()) or ())
    return out


def _passage_changed(found: tuple[dict[str, Any], dict[str, Any]], rid: str, old: SourceIndex,
                     new: SourceIndex) -> bool:
    """Whether the passage (paragraph, item) an element cites reads differently in the two texts."""
    texts = []
    for elems, index in zip(found, (old, new)):
        e = elems.get(rid)
        cite = getattr(e, "cite", None)
        if not isinstance(cite, Citation):
            return True  # cited in one version only
        try:
            texts.append(normalise(index.passage(cite.article, cite.occurrence, cite.paragraph, cite.item,
                                                 subitem=cite.subitem), ("whitespace",)))
        except LookupError:
            return True
    return texts[0] != texts[1]


def article_changes(before: Policy, after: Policy, old: SourceIndex | None, new: SourceIndex | None,
                    passages: dict[str, list[str]] | None = None) -> list[dict]:
    """The articles whose wording differs (whitespace aside), or that one text alone has, in text order.
    `passages` (when given) receives, per changed article, the rules whose own cited passage changed."""
    if passages is None:
        passages = {}
    if old is None or new is None or old.sha256 == new.sha256:
        return []

    def table(index: SourceIndex) -> dict[tuple[int, int], Any]:
        return {(a.number, a.occurrence): a for a in index.articles}
    tb, ta = table(old), table(new)
    eb, ea = elements(before), elements(after)
    keys = list(ta) + [k for k in tb if k not in ta]
    keys.sort(key=lambda k: k)
    out = []
    for key in keys:
        ob, oa = tb.get(key), ta.get(key)
        if ob is not None and oa is not None and normalise(ob.text, ("whitespace",)) == normalise(oa.text, ("whitespace",)):
            continue
        shared = (len(old.articles_numbered(key[0])) > 1) or (len(new.articles_numbered(key[0])) > 1)
        rules = _citing(before, eb, key[0], key[1], shared) | _citing(after, ea, key[0], key[1], shared)
        if ob is not None and oa is not None:
            passages[_article_label(key[0], key[1], shared)] = sorted(
                rid for rid in rules if _passage_changed((eb, ea), rid, old, new))
        out.append({"article": _article_label(key[0], key[1], shared),
                    "change": "changed" if ob is not None and oa is not None else "added" if ob is None else "removed",
                    "before": ob.text if ob is not None else None, "after": oa.text if oa is not None else None,
                    "rules": sorted(rules)})
    return out


# ----------------------------------------------------------------------------- rendering

def _window(p: Policy) -> str:
    until = p.in_force.until.isoformat() if p.in_force.until else "长期有效"
    return f"{p.in_force.start.isoformat()} 至 {until}"


def _tokens(text: str) -> list[str]:
    """Words for a diff of wordings: a run of digits (or Latin letters) is one token, every other character one."""
    import re
    return re.findall(r"[0-9０-９]+|[A-Za-z]+|.", text, re.S)


def _runs(before: str, after: str) -> tuple[list[tuple[str, bool]], list[tuple[str, bool]]]:
    """Both wordings as (text, changed) runs, compared token by token."""
    from difflib import SequenceMatcher
    tb, ta = _tokens(before), _tokens(after)
    b: list[tuple[str, bool]] = []
    a: list[tuple[str, bool]] = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, tb, ta, autojunk=False).get_opcodes():
        if i2 > i1:
            b.append(("".join(tb[i1:i2]), op != "equal"))
        if j2 > j1:
            a.append(("".join(ta[j1:j2]), op != "equal"))
    return b, a


def _changed_lines(before: str | None, after: str | None) -> list[tuple[str, list[tuple[str, bool]]]]:
    """The lines of an article that differ, as ("-" | "+", runs): a replaced line paired with its
    replacement and the changed words marked; unchanged lines left out."""
    from difflib import SequenceMatcher
    lb, la = (before or "").splitlines(), (after or "").splitlines()
    out: list[tuple[str, list[tuple[str, bool]]]] = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, lb, la, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        if op == "replace" and i2 - i1 == j2 - j1:
            for x, y in zip(lb[i1:i2], la[j1:j2]):
                rb, ra = _runs(x, y)
                out += [("-", rb), ("+", ra)]
            continue
        out += [("-", [(x, False)]) for x in lb[i1:i2]] + [("+", [(y, False)]) for y in la[j1:j2]]
    return out


def _bracketed(runs: list[tuple[str, bool]]) -> str:
    return "".join(f"【{t}】" if changed else t for t, changed in runs)


def _short(line: str, width: int = 240) -> str:
    return line if len(line) <= width else line[:width] + f"…（共 {len(line)} 字）"


def _same_lines(changes: list[dict]) -> list[tuple[list[str], list[dict]]]:
    """Findings changes grouped by identical lines (a quote whose wording changed shows once), first seen first."""
    groups: dict[tuple[str, ...], list[dict]] = {}
    for c in changes:
        groups.setdefault(tuple(c["lines"]), []).append(c)
    return [(list(k), v) for k, v in groups.items()]


def _summary(d: PolicyDiff) -> list[str]:
    return [f"{d.outcome_count} 个案例结论改变 (outcome changed)",
            f"{len(d.findings_changes)} 个案例仅认定改变 (findings changed, same outcome)",
            f"{d.unchanged} 个案例未变 (unchanged)"]


def render_text(d: PolicyDiff) -> str:
    """For a person: outcome changes first (grouped by rule and article), in Chinese article labels."""
    out = [f"{d.after.id}: {d.before.version}（{_window(d.before)}） → {d.after.version}（{_window(d.after)}）",
           f"案例 {d.cases} 个（{d.corpus}）：" + "；".join(_summary(d)), ""]
    if d.outcome_changes:
        out.append("结论改变 (outcome changes):")
        for g in d.outcome_changes:
            cause = "、".join(f"{r['cite']} {r['rule']}" for r in g["rules"]) or "（无规则结果改变：案例被拒绝或抽取结果改变）"
            out.append(f"  {cause}")
            for c in g["cases"]:
                out.append(f"    {c['case']} [{c['decision']}]: {c['before']} → {c['after']}")
                out.extend(f"        {_short(line)}" for line in c["lines"] if not line.startswith("outcome:"))
        out.append("")
    if d.findings_changes:
        out.append("仅认定改变 (findings changed, same outcome):")
        for lines, group in _same_lines(d.findings_changes):
            out.extend(f"  {c['case']} [{c['decision']}]" for c in group)
            out.extend(f"      {_short(line)}" for line in lines)
        out.append("")
    if d.errors:
        out.append("拒绝作答 (refused on one side):")
        out.extend(f"  {e['case']} ({e['side']}): {e['code']}: {e['message']}" for e in d.errors)
        out.append("")
    r = d.rules
    if r["added"] or r["removed"] or r["changed"]:
        out.append("规则 (rules):")
        out.extend(f"  + {x}" for x in r["added"])
        out.extend(f"  - {x}" for x in r["removed"])
        out.extend(f"  ~ {c['rule']} ({c['cite']}): {', '.join(c['fields'])}" for c in r["changed"])
        out.append("")
    if d.quotes:
        out.append("引文不再与原文一致 (quotes that no longer verify):")
        out.extend(f"  {q['rule']} ({q['cite']}): “{q['quote']}”: {q['message']}" for q in d.quotes)
        out.append("")
    if d.articles:
        out.append("原文条文改变 (articles whose wording changed):")
        names = {"changed": "修改", "added": "新增", "removed": "删除"}
        for a in d.articles:
            moved = d.passages.get(a["article"], [])
            cited = (f"；引用规则：{'、'.join(a['rules'])}" if a["rules"] else "；无规则引用") + (
                f"；所引款项文字改变：{'、'.join(moved)}" if moved and moved != a["rules"] else "")
            out.append(f"  {a['article']}（{names[a['change']]}{cited}）")
            out.extend(f"    {sign} {_bracketed(runs)}" for sign, runs in _changed_lines(a["before"], a["after"]))
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def render_markdown(d: PolicyDiff) -> str:
    out = [f"# {d.after.id}: {d.before.version} → {d.after.version}", "",
           f"- 施行期间 (in force): {_window(d.before)} → {_window(d.after)}",
           f"- 案例 (cases): {d.cases} ({d.corpus})"] + [f"- {s}" for s in _summary(d)] + [""]
    if d.outcome_changes:
        out += ["## 结论改变 (outcome changes)", ""]
        for g in d.outcome_changes:
            cause = "、".join(f"{r['cite']} `{r['rule']}`" for r in g["rules"]) or "（无规则结果改变）"
            out += [f"### {cause}", "", "| 案例 | 决定 | 之前 | 之后 | 改变 |", "|---|---|---|---|---|"]
            out += [f"| {_md(c['case'])} | {c['decision']} | {_md(c['before'])} | {_md(c['after'])} | "
                    f"{_md(chr(10).join(map(_short, c['lines'])))} |" for c in g["cases"]]
            out.append("")
    if d.findings_changes:
        out += ["## 仅认定改变 (findings changed)", "", "| 案例 | 改变 |", "|---|---|"]
        out += [f"| {_md(chr(10).join(c['case'] + ' [' + c['decision'] + ']' for c in group))} | "
                f"{_md(chr(10).join(map(_short, lines)))} |" for lines, group in _same_lines(d.findings_changes)]
        out.append("")
    if d.errors:
        out += ["## 拒绝作答 (refused on one side)", ""]
        out += [f"- {e['case']} ({e['side']}): `{e['code']}`: {e['message']}" for e in d.errors]
        out.append("")
    r = d.rules
    if r["added"] or r["removed"] or r["changed"]:
        out += ["## 规则 (rules)", ""]
        out += [f"- 新增 (added): `{x}`" for x in r["added"]] + [f"- 删除 (removed): `{x}`" for x in r["removed"]]
        out += [f"- 修改 (changed): `{c['rule']}` ({c['cite']}): {', '.join(c['fields'])}" for c in r["changed"]]
        out.append("")
    if d.quotes:
        out += ["## 引文不再与原文一致 (quotes that no longer verify)", ""]
        out += [f"- `{q['rule']}` ({q['cite']}): “{q['quote']}”: {q['message']}" for q in d.quotes]
        out.append("")
    if d.articles:
        out += ["## 原文条文改变 (articles)", ""]
        names = {"changed": "修改", "added": "新增", "removed": "删除"}
        for a in d.articles:
            out += [f"### {a['article']}（{names[a['change']]}）", ""]
            if a["rules"]:
                out += ["引用规则：" + "、".join(f"`{x}`" for x in a["rules"]), ""]
            out += ["```diff"] + [f"{sign} {_bracketed(runs)}" for sign, runs in _changed_lines(a["before"], a["after"])]
            out += ["```", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def render_html(d: PolicyDiff) -> str:
    """A standalone HTML page (review/templates/diff.html), no outside resources."""
    from jinja2 import Environment, PackageLoader, select_autoescape
    env = Environment(loader=PackageLoader("policy_engine.review", "templates"),
                      autoescape=select_autoescape(["html"]), keep_trailing_newline=True)
    articles = [dict(a, lines=_changed_lines(a["before"], a["after"])) for a in d.articles]
    return env.get_template("diff.html").render(d=d.to_json(), before=d.before, after=d.after,
                                                window_before=_window(d.before), window_after=_window(d.after),
                                                summary=_summary(d), outcome_count=d.outcome_count, short=_short,
                                                findings=_same_lines(d.findings_changes), passages=d.passages,
                                                articles=articles)
