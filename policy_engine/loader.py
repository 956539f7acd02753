"""Policy files -> compiled, verified, immutable Policy objects.

Order: YAML (safe, with positions) -> JSON Schema -> source text (digest, article index)
-> vocabulary (imports + declared) -> every citation and quote verified against the
cited passage -> every condition compiled. Problems are collected across the whole file
and raised together, sorted by line; nothing half-loaded is ever returned.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable

from . import schema as _schema
from .errors import PolicyError, Problem, problem, sort_problems
from .expr import Condition, Span, compile_condition
from .loader_accountability import AccountabilityBuilder, element_ids
from .model import (Citation, Defect, DrawRules, Exception_, InForce, Mode, Policy, Provision, Rule, Scope, Selection,
                    Term, Test)
from .sources import SourceIndex, cite_label, index_source
from .vocabulary import Fact, Vocabulary, bound_problems, fact_from
from .yamlio import Document, YamlProblem, read

DEFAULT_STEPS = ("whitespace",)
OCCURRENCE = {1: "（文中第一个）", 2: "（文中第二个）", 3: "（文中第三个）"}


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@dataclass
class _Cache:
    """Sources and vocabularies shared by the policies of one load."""

    sources: dict = field(default_factory=dict)
    vocabularies: dict = field(default_factory=dict)


def load_policy(path, cache: _Cache | None = None) -> Policy:
    """Load one policy file; raise PolicyError listing every problem found."""
    policy, problems = _load(Path(path), cache or _Cache())
    if problems:
        raise PolicyError(problems)
    assert policy is not None
    return policy


def check_policy(path, cache: _Cache | None = None) -> tuple[Policy | None, list[Problem]]:
    return _load(Path(path), cache or _Cache())


def _load(path: Path, cache: _Cache) -> tuple[Policy | None, list[Problem]]:
    policy, problems = _load_unsorted(path, cache)
    return policy, sort_problems(problems)


def _load_unsorted(path: Path, cache: _Cache) -> tuple[Policy | None, list[Problem]]:
    display = _display(path)
    try:
        raw_bytes = path.read_bytes()
        doc = read(path, display)
    except YamlProblem as exc:
        return None, [exc.problem]
    except OSError as exc:
        return None, [problem("file_unreadable", f"cannot read the file: {exc.strerror or exc}", file=display)]
    if not isinstance(doc.data, dict):
        return None, [problem("yaml_not_mapping", "a policy file is a mapping (id:, version:, ...)", file=display, line=1)]
    problems = _schema.check(doc, "policy")
    if problems:
        return None, problems
    data = doc.data
    b = _Builder(doc, path, cache)

    # identity: folder and file name agree with id and version
    if path.parent.name != data["id"]:
        b.add("version", ("id",), f"id '{data['id']}' differs from the folder '{path.parent.name}'",
              f"move the file to policies/{data['id']}/ or set id: {path.parent.name}")
    if path.stem != data["version"]:
        b.add("version", ("version",), f"version '{data['version']}' differs from the file name '{path.name}'",
              f"rename the file to {data['version']}.yaml")

    index = b.source(data["source"])
    vocabulary, digest_parts = b.vocabulary(data["facts"])
    in_force = b.in_force(data["in_force"], index)
    supersedes = tuple(MappingProxyType(dict(s)) for s in data.get("supersedes", ()))
    for i, s in enumerate(data.get("supersedes", ())):
        if "cite" in s:
            b.citation(s["cite"], ("supersedes", i), index, s.get("quote"))
    scope = tuple(
        Scope(s["id"], b.citation(s["cite"], ("scope", i), index, s["quote"]), s["quote"],
              s.get("applies", "directly"), s.get("note"))
        for i, s in enumerate(data.get("scope", ()))
    )
    defects = tuple(
        Defect(b.citation(d["cite"], ("source_defects", i), index, d.get("quote")), d.get("quote"), d["defect"], d["encoded_as"])
        for i, d in enumerate(data.get("source_defects", ()))
    )
    criteria = tuple(b.rule(r, ("entry", "criteria", i), "require", index, vocabulary)
                     for i, r in enumerate(data.get("entry", {}).get("criteria", ())))
    exit_ = data.get("exit", {})
    term = b.term(exit_["term"], index, vocabulary) if "term" in exit_ else None
    triggers = tuple(b.rule(r, ("exit", "triggers", i), "when", index, vocabulary)
                     for i, r in enumerate(exit_.get("triggers", ())))
    grounds = tuple(b.rule(r, ("recusal", "grounds", i), "when", index, vocabulary)
                    for i, r in enumerate(data.get("recusal", {}).get("grounds", ())))
    deadlines = tuple(b.deadline(r, ("deadlines", "rules", i), index, vocabulary)
                      for i, r in enumerate(data.get("deadlines", {}).get("rules", ())))
    selection = b.selection(data["selection"], index, vocabulary) if "selection" in data else None
    accountability = data.get("accountability", {})
    has_exit = term is not None or bool(triggers)
    sanctions = (b.sanctions(accountability["sanctions"], index, vocabulary, has_exit)
                 if "sanctions" in accountability else None)
    apportionment = (b.apportionment(accountability["apportionment"], index, vocabulary)
                     if "apportionment" in accountability else None)
    scoring = b.scoring(data["scoring"], index, vocabulary, triggers) if "scoring" in data else None
    gates = tuple(b.rule(r, ("gates", "rules", i), "require", index, vocabulary)
                  for i, r in enumerate(data.get("gates", {}).get("rules", ())))
    seen: dict[str, tuple] = {}
    for section, rules in (("entry.criteria", criteria), ("exit.triggers", triggers), ("recusal.grounds", grounds),
                           ("deadlines.rules", deadlines),
                           ("selection.exclusions", selection.exclusions if selection else ()),
                           ("selection.panel", selection.panel if selection else ()),
                           ("exit.term.limits", term.limits if term else ())):
        for i, rule in enumerate(rules):
            if rule is None:
                continue
            if rule.id in seen:
                b.add("duplicate_rule", tuple(section.split(".")) + (i, "id"),
                      f"rule id '{rule.id}' is also used at {seen[rule.id][0]}",
                      "verdicts name rules by id; give each rule its own")
            else:
                seen[rule.id] = (f"{section}[{i}]",)
    for rid, at in element_ids(data):
        if rid in seen:
            b.add("duplicate_rule", at, f"id '{rid}' is also used at {seen[rid][0]}",
                  "verdicts name findings by id; give each element its own")
        else:
            seen[rid] = (_render(at[:-1]),)
    if b.problems:
        return None, b.problems
    digest = hashlib.sha256(raw_bytes)
    for part in digest_parts:
        digest.update(part)
    extra_rules = list(gates)
    if sanctions is not None:
        extra_rules += [*sanctions.grounds, *(br.rule for lv in sanctions.levels for br in lv.branches),
                        *sanctions.also, *sanctions.provisions]
    if apportionment is not None:
        extra_rules += [rule for rule, _ in apportionment.rules]
    if selection is not None:
        extra_rules += [*selection.exclusions, *selection.panel]
    if _uses_calendar((*criteria, *triggers, *grounds, *deadlines, *(term.limits if term else ()), *extra_rules),
                      term.ends if term else None):
        from .workdays import CALENDAR_FILE
        digest.update(CALENDAR_FILE.read_bytes())
    policy = Policy(
        id=data["id"], version=data["version"], title=data["title"], issuer=data["issuer"],
        document_number=data.get("document_number"), in_force=in_force, supersedes=supersedes, scope=scope,
        defects=defects, vocabulary=vocabulary, criteria=criteria, term=term, triggers=triggers, grounds=grounds,
        deadlines=deadlines, sanctions=sanctions, apportionment=apportionment, scoring=scoring, gates=gates,
        selection=selection,
        sha256=digest.hexdigest(), file=display, source_file=_display(b.source_path), source_sha256=index.sha256,
        quotes_verified=b.quotes,
    )
    return policy, []


class _Builder(AccountabilityBuilder):
    def __init__(self, doc: Document, path: Path, cache: _Cache):
        self.doc = doc
        self.path = path
        self.cache = cache
        self.problems: list[Problem] = []
        self.source_path = path.parent / "source.txt"
        self.quotes = 0  # quotes verified against their cited passage

    def add(self, code: str, at: tuple, message: str, hint: str | None = None, key: bool = False) -> None:
        self.problems.append(problem(code, message, **self.doc.where(at, key=key), hint=hint))

    # -- source -------------------------------------------------------------------------
    def source(self, raw: dict) -> SourceIndex | None:
        self.source_path = (self.path.parent / raw["file"]).resolve()
        steps = tuple(raw.get("normalise", DEFAULT_STEPS))
        try:
            data = self.source_path.read_bytes()
        except OSError:
            self.add("source_missing", ("source", "file"), f"source text '{raw['file']}' not found next to the policy",
                     "copy the regulation's text from shared/regulations/ to source.txt beside the policy")
            return None
        digest = hashlib.sha256(data).hexdigest()
        if digest != raw["sha256"]:
            self.add("source_sha256", ("source", "sha256"),
                     f"the source text has SHA-256 {digest}, the policy records {raw['sha256']}",
                     "if the text was changed on purpose, re-verify every quote and update sha256; "
                     "otherwise restore the text")
        key = (str(self.source_path), digest, steps)
        if key not in self.cache.sources:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                self.add("source_missing", ("source", "file"), "the source text is not UTF-8")
                return None
            self.cache.sources[key] = index_source(text, steps)
        return self.cache.sources[key]

    # -- vocabulary -----------------------------------------------------------------------
    def vocabulary(self, raw: dict) -> tuple[Vocabulary, list[bytes]]:
        facts: dict[str, Fact] = {}
        parts: list[bytes] = []
        for i, rel in enumerate(raw.get("import", ())):
            file = (self.path.parent / rel).resolve()
            key = str(file)
            if key not in self.cache.vocabularies:
                self.cache.vocabularies[key] = _load_vocabulary(file)
            loaded, data, found = self.cache.vocabularies[key]
            if found:
                self.problems.extend(found)
                if not loaded:
                    self.add("vocabulary", ("facts", "import", i), f"cannot import vocabulary '{rel}'")
                continue
            parts.append(data)
            for name, fact in loaded.items():
                if name in facts and facts[name] != fact:
                    self.add("vocabulary", ("facts", "import", i), f"fact '{name}' is declared differently in two imports")
                facts[name] = fact
        for name, fraw in (raw.get("declare") or {}).items():
            if name in facts:
                self.add("vocabulary", ("facts", "declare", name), f"fact '{name}' is already declared in {facts[name].origin}",
                         "use the imported fact, or rename this one", key=True)
                continue
            facts[name] = fact_from(name, fraw, self.doc.file)
        problems = _vocabulary_problems(facts, self.doc)
        self.problems.extend(problems)
        return Vocabulary.of(facts), parts

    # -- citations --------------------------------------------------------------------------
    def citation(self, raw: dict, at: tuple, index: SourceIndex | None, quote: str | None) -> Citation:
        label = cite_label(raw["article"], raw.get("paragraph"), raw.get("item"))
        if raw.get("occurrence"):
            label = label.replace("条", "条" + OCCURRENCE.get(raw["occurrence"], f"（文中第{raw['occurrence']}个）"), 1)
        cite = Citation(raw["article"], raw.get("occurrence"), raw.get("paragraph"), raw.get("item"), label)
        if index is None:
            return cite
        try:
            index.passage(cite.article, cite.occurrence, cite.paragraph, cite.item)
        except LookupError as exc:
            self.add("citation", at + ("cite",), f"{label}: {exc}",
                     "check the article number against the source text; where two articles share a number, "
                     "add occurrence: 1 or 2")
            return cite
        if quote is not None:
            result = index.verify_quote(quote, cite.article, cite.occurrence, cite.paragraph, cite.item)
            self.quotes += result.ok
            if not result.ok:
                message = f"quote is not in {result.where or label} of {self.source_path.name}"
                hints = []
                if result.found_elsewhere:
                    hints.append(f"the quote is in {result.found_elsewhere}: correct cite")
                if result.closest:
                    hints.append(f"closest passage: \"{result.closest}\"")
                self.add("quote_not_found", at + ("quote",), message, "; ".join(hints) or None)
        return cite

    def in_force(self, raw: dict, index) -> InForce:
        cite = self.citation(raw["cite"], ("in_force",), index, raw["quote"])
        start = _dt.date.fromisoformat(raw["from"])
        until = _dt.date.fromisoformat(raw["until"]) if raw.get("until") else None
        if until is not None and until < start:
            self.add("version", ("in_force", "until"), f"the window ends ({until}) before it starts ({start})")
        return InForce(start, until, cite, raw["quote"], raw.get("note"))

    # -- conditions ---------------------------------------------------------------------------
    def condition(self, source: str, at: tuple, vocabulary: Vocabulary) -> Condition | None:
        mark = self.doc.mark(at)
        span = Span(self.doc.file, mark.line if mark else 0, mark.column if mark else 0,
                    mark.style if mark else None, _render(at))
        if mark is not None and mark.style in ("|", ">"):
            span = Span(span.file, span.line, _block_indent(self.doc, mark) - 1, span.style, span.path)
        compiled, found = compile_condition(source, vocabulary, span)
        self.problems.extend(found)
        return compiled

    def test(self, raw: Any, at: tuple, vocabulary: Vocabulary) -> Test | None:
        if isinstance(raw, str):
            c = self.condition(raw, at, vocabulary)
            return Test("leaf", c) if c is not None else None
        op = "any" if "any_of" in raw else "all"
        key = "any_of" if op == "any" else "all_of"
        children = [self.test(child, at + (key, i), vocabulary) for i, child in enumerate(raw[key])]
        if any(c is None for c in children):
            return None
        return Test(op, None, tuple(children))

    def deadline(self, raw: dict, at: tuple, index, vocabulary: Vocabulary) -> Rule | None:
        """A deadline rule becomes a criterion whose condition is generated from from/to/days/unit.

        The due date is the N-th (working) day after `from` (民法典第二百零一条: the day of the
        event is not counted). within: `to` <= due; at_least: `to` >= due. For working days
        the condition first compares calendar days (within: any_of [days <= N, to <= due];
        at_least: all_of [days >= N, to >= due]), which gives the same answer wherever the
        calendar is known and still decides the clear cases where it is not.
        """
        start = self.condition(raw["from"], at + ("from",), vocabulary)
        end = self.condition(raw["to"], at + ("to",), vocabulary)
        if start is None or end is None:
            self.citation(raw["cite"], at, index, raw["quote"])
            return None
        f, to, n = f"({raw['from'].strip()})", f"({raw['to'].strip()})", raw["days"]
        working = raw["unit"] == "working_days"
        due = f"add_working_days({f}, {n})" if working else f"add_days({f}, {n})"
        require: Any = f"{to} <= {due}" if raw["measure"] == "within" else f"{to} >= {due}"
        if working:
            # N working days take at least N calendar days, so calendar days alone settle a step
            # done within N days (within) or a period shorter than N days (at_least), even in a
            # year whose 调休 is not yet known; otherwise the working days decide.
            if raw["measure"] == "within":
                require = {"any_of": [f"days_between({f}, {to}) <= {n}", require]}
            else:
                require = {"all_of": [f"days_between({f}, {to}) >= {n}", require]}
        counted = f"working_days_between(add_days({f}, 1), {to})" if working else f"days_between({f}, {to})"
        generated = dict(raw)
        generated["require"] = require
        generated["show"] = {"due": due, "counted": counted, **(raw.get("show") or {})}
        return self.rule(generated, at, "require", index, vocabulary, generated_at=at + ("to",))

    def rule(self, raw: dict, at: tuple, key: str, index, vocabulary: Vocabulary,
             generated_at: tuple | None = None) -> Rule | None:
        cite = self.citation(raw["cite"], at, index, raw["quote"])
        test = self.test(raw[key], generated_at or at + (key,), vocabulary)
        applies = self.test(raw["applies_when"], at + ("applies_when",), vocabulary) if "applies_when" in raw else None
        unless = []
        for j, u in enumerate(raw.get("unless", ())):
            u_at = at + ("unless", j)
            u_cite = self.citation(u["cite"], u_at, index, u["quote"])
            u_test = self.test(u["when"], u_at + ("when",), vocabulary)
            if u_test is not None:
                unless.append(Exception_(u_test, u["effect"], u_cite, u["quote"], u.get("note")))
        show = []
        for name, src in (raw.get("show") or {}).items():
            written = at + ("show", name)
            c = self.condition(src, written if written in self.doc.marks or not generated_at else generated_at, vocabulary)
            if c is not None:
                show.append((name, c))
        if test is None or ("applies_when" in raw and applies is None):
            return None
        return Rule(raw["id"], raw.get("title"), cite, raw["quote"], raw["strength"], test, applies,
                    tuple(unless), tuple(show), raw.get("note"))

    def draw_provision(self, raw: dict | None, at: tuple, index) -> Provision | None:
        if raw is None:
            return None
        return Provision(self.citation(raw["cite"], at, index, raw["quote"]), raw["quote"], raw.get("title"),
                         raw.get("note"))

    def selection(self, raw: dict, index, vocabulary: Vocabulary) -> Selection:
        modes = []
        for i, m in enumerate(raw["modes"]):
            at = ("selection", "modes", i)
            if any(other.id == m["id"] for other in modes):
                self.add("duplicate_rule", at + ("id",), f"mode id '{m['id']}' is used twice",
                         "a request names its mode by id; give each mode its own")
            modes.append(Mode(m["id"], m.get("title"), m["method"], self.citation(m["cite"], at, index, m["quote"]),
                              m["quote"], self.draw_provision(m.get("filters"), at + ("filters",), index), m.get("note")))
        draw = None
        if "draw" in raw:
            d = raw["draw"]
            at = ("selection", "draw")
            cand = d.get("candidates")
            draw = DrawRules(
                multiplier=cand["multiplier"] if cand else 1,
                candidates=self.draw_provision(cand, at + ("candidates",), index),
                **{k: self.draw_provision(d.get(k), at + (k,), index)
                   for k in ("contact", "replenish", "redraw", "backups", "shortfall")},
                note=d.get("note"))
        elif any(m.draws for m in modes):
            self.add("schema", ("selection",), "a mode draws by lot (method random) but the section has no draw:",
                     "add draw: with the provisions the text makes (candidates, contact, replenish, redraw, backups, "
                     "shortfall), each cited and quoted; an empty draw: {} where it makes none")
        exclusions = tuple(self.rule(r, ("selection", "exclusions", i), "when", index, vocabulary)
                           for i, r in enumerate(raw.get("exclusions", ())))
        panel = tuple(self.rule(r, ("selection", "panel", i), "require", index, vocabulary)
                      for i, r in enumerate(raw.get("panel", ())))
        return Selection(tuple(modes), draw, tuple(r for r in exclusions if r is not None),
                         tuple(r for r in panel if r is not None), raw.get("note"))

    def term(self, raw: dict, index, vocabulary: Vocabulary) -> Term | None:
        cite = self.citation(raw["cite"], ("exit", "term"), index, raw["quote"])
        ends = self.condition(raw["ends"], ("exit", "term", "ends"), vocabulary)
        limits = tuple(self.rule(r, ("exit", "term", "limits", i), "require", index, vocabulary)
                       for i, r in enumerate(raw.get("limits", ())))
        if ends is None:
            return None
        return Term(cite, raw["quote"], ends, raw.get("note"), tuple(r for r in limits if r is not None))


CALENDAR_FUNCTIONS = ("working_days_between(", "add_working_days(", "is_workday(")


def _uses_calendar(rules, extra) -> bool:
    """Whether any condition counts working days (so the calendar file belongs in the digest)."""
    from .evaluate import conditions_of
    conditions = conditions_of(rules) + ([extra] if extra is not None else [])
    return any(name in c.compiled for c in conditions for name in CALENDAR_FUNCTIONS)


def _render(at: tuple) -> str:
    from .yamlio import render_path
    return render_path(at)


def _block_indent(doc: Document, mark) -> int:
    """Column (1-based) where a block scalar's content starts."""
    try:
        lines = Path(doc.file).read_text(encoding="utf-8").split("\n")
        for line in lines[mark.line:]:
            if line.strip():
                return len(line) - len(line.lstrip(" ")) + 1
    except OSError:
        pass
    return mark.column + 2


def _load_vocabulary(file: Path) -> tuple[dict[str, Fact] | None, bytes, list[Problem]]:
    display = _display(file)
    try:
        data = file.read_bytes()
        doc = read(file, display)
    except YamlProblem as exc:
        return None, b"", [exc.problem]
    except OSError as exc:
        return None, b"", [problem("file_unreadable", f"cannot read the vocabulary: {exc.strerror or exc}", file=display)]
    found = _schema.check(doc, "vocabulary")
    if found:
        return None, data, found
    facts = {name: fact_from(name, raw, display) for name, raw in doc.data["facts"].items()}
    found = _vocabulary_problems(facts, doc)
    return (facts if not found else None), data, found


def _vocabulary_problems(facts: dict[str, Fact], doc: Document) -> list[Problem]:
    out = []
    names = set(facts)
    for name, fact in facts.items():
        if fact.origin != doc.file:
            continue
        where = doc.where(("facts", name), key=True) if ("facts", name) in doc.marks or (("facts", name), "key") in doc.marks \
            else doc.where(("facts", "declare", name), key=True)
        if "__" in name:
            out.append(problem("vocabulary", f"fact '{name}' contains '__', which the engine reserves", **where))
        out.extend(problem("vocabulary", message, **where, hint="min is at most max") for message in bound_problems(fact))
        for other in names:
            if other.startswith(name + "."):
                out.append(problem("vocabulary", f"'{name}' is a fact and also the group of '{other}'", **where,
                                   hint="a name is either a value or a group of facts"))
                break
    return out


def load_all(paths: Iterable) -> tuple[list[Policy], list[Problem]]:
    """Load every policy file under the given files or folders; collect all problems."""
    cache = _Cache()
    policies, problems = [], []
    for file in policy_files(paths):
        policy, found = _load(file, cache)
        problems.extend(found)
        if policy is not None:
            policies.append(policy)
    return policies, problems


SHARED_SUFFIXES = (".vocab.yaml", ".calendar.yaml")


def policy_files(paths: Iterable) -> list[Path]:
    """Policy files: <folder>/<version>.yaml; folders starting with _ hold shared files."""
    out = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            for f in sorted(p.rglob("*.yaml")):
                rel = f.relative_to(p)
                if any(part.startswith(("_", ".")) for part in rel.parts[:-1]) or f.name.endswith(SHARED_SUFFIXES):
                    continue
                out.append(f)
        elif not p.name.endswith(SHARED_SUFFIXES):
            out.append(p)
    return out


def shared_files(paths: Iterable, suffix: str) -> list[Path]:
    """Vocabulary (.vocab.yaml) or calendar (.calendar.yaml) files under the paths, or named by them."""
    out = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out.extend(sorted(p.rglob(f"*{suffix}")))
        elif p.name.endswith(suffix):
            out.append(p)
    return out


def check_vocabulary(file) -> list[Problem]:
    return _load_vocabulary(Path(file))[2]
