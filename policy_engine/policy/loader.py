"""Policy files -> compiled, verified, immutable Policy objects.

Order: YAML (safe, with positions) -> JSON Schema -> source text (digest, article index)
-> vocabulary (imports + declared) -> every citation and quote verified against the
cited passage -> every condition compiled. Problems are collected across the whole file
and raised together, sorted by line; nothing half-loaded is ever returned.

Files and folders. A policies folder holds <id>/<version>.yaml with its source text, and
shared files in folders whose names start with `_` (vocabularies `*.vocab.yaml`, the
working-day calendar `_shared/cn-workdays.calendar.yaml`). Everything a policy reads
resolves from its own policies folder: its source text from inside its own folder, its
vocabularies and calendar from inside the policies folder. Walking a folder opens regular
files only; an unreadable folder or file, a dangling or looping symbolic link, a pipe,
socket or device is a problem, never skipped in silence and never opened. Hidden entries
(names starting with `.`) are not part of a policies folder and are not read.

Every read is bounded (textio: at most limit + 1 bytes): policy files, vocabularies and
calendars at most 2 MiB (YAML), source texts at most 8 MiB (the longest national code,
民法典, is under 1 MiB of UTF-8).

Files are named in messages as the caller gave them (normalised), or relative to the
project for the bundled files; never through the working directory. Verdicts name the
calendar `_shared/cn-workdays.calendar.yaml`, relative to the policies folder.
"""
from __future__ import annotations

import datetime as _dt
import errno
import hashlib
import os
import stat
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path, PurePosixPath, PureWindowsPath
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from .. import resources as _resources
from . import schema as _schema
from . import workdays
from ..errors import PolicyError, Problem, problem, sort_problems
from .expr import Condition, Span, compile_condition
from .loader_accountability import AccountabilityBuilder, element_ids
from .loader_accountability import complete
from .loader_questions import QuestionsBuilder
from .model import conditions_of
from .model import (Citation, Defect, DrawRules, Exception_, InForce, Mode, ModeFact, ModeFilter, Policy, Provision, Rule, Scope, Selection,
                    Term, Test)
from .model import CitedBy, NotEncoded, Renewal, VersionRule
from . import units as _units
from .lazy_sources import sources as _sources

if TYPE_CHECKING:
    from .sources import SourceIndex
from ..textio import ReadFailure, decode, read_bytes
from .vocabulary import Fact, Vocabulary, bound_problems, canonical_facts, extend_fact, fact_from, redeclared
from ..yamlio import MAX_BYTES, Document, YamlProblem, parse

DEFAULT_STEPS = ("whitespace",)
OCCURRENCE = {1: "（文中第一个）", 2: "（文中第二个）", 3: "（文中第三个）"}

POLICY_LIMIT = MAX_BYTES  # 2 MiB: a policy, a vocabulary (YAML)
# SOURCE_LIMIT (sources.py), 8 MiB: a regulation's text (民法典, the longest code, is under 1 MiB)
SHARED_SUFFIXES = (".vocab.yaml", ".calendar.yaml")
PROJECT = Path(__file__).resolve().parent.parent.parent  # policy_engine/policy/loader.py -> the project


def display(path) -> str:
    """How messages name a file: the path as given, normalised (`a/b/../c` -> `a/c`); a bundled
    file (under the project) relative to the project. Never through the working directory."""
    path = Path(os.path.normpath(os.fspath(path)))
    if path.is_absolute():
        try:  # the bundled policies, wherever the package is installed: policies/<id>/...
            return str(Path("policies") / path.relative_to(_resources.policy_dir()))
        except ValueError:
            pass
        try:
            return str(path.relative_to(PROJECT))
        except ValueError:
            pass
    return str(path)


def _at(found: Problem, file: str) -> Problem:
    """A textio problem named as this module names files."""
    return replace(found, file=file)


def _resolved(path: Path) -> str:
    """A file's identity (symbolic links followed) for caching; never shown."""
    try:
        return str(path.resolve())
    except (OSError, RuntimeError):  # RuntimeError: a symbolic-link loop (Python < 3.13)
        return os.path.abspath(path)


@dataclass
class _Cache:
    """Source texts and shared files (vocabularies, calendars) read once per load.

    A shared file's problems are its own: they are kept here, keyed by the file, and
    reported once however many policies import it (each importing policy says, at its
    import line, that it cannot use the file).
    """

    sources: dict = field(default_factory=dict)
    vocabularies: dict = field(default_factory=dict)  # identity -> (facts | None, bytes, problems)
    calendars: dict = field(default_factory=dict)  # identity -> (WorkCalendar | None, bytes, problems, display)
    names: dict = field(default_factory=dict)  # identity -> how messages name the shared file
    shared_problems: dict = field(default_factory=dict)  # identity -> problems of that shared file
    reported: set = field(default_factory=set)

    def vocabulary(self, file: Path) -> tuple[dict[str, Fact] | None, bytes, list[Problem]]:
        key = _resolved(file)
        if key not in self.vocabularies:
            self.vocabularies[key] = _load_vocabulary(file)
            self.names[key] = display(file)
            self.shared_problems[key] = self.vocabularies[key][2]
        return self.vocabularies[key]

    def calendar(self, file: Path):
        key = _resolved(file)
        if key not in self.calendars:
            shown = display(file)
            self.calendars[key] = (*workdays.read_calendar(file, shown, name=workdays.CALENDAR_REF), shown)
            self.names[key] = shown
            self.shared_problems[key] = self.calendars[key][2]
        return self.calendars[key]

    def take_shared(self) -> list[Problem]:
        """Problems of shared files not reported yet (each file's once)."""
        out = []
        for key, found in self.shared_problems.items():
            if key not in self.reported:
                self.reported.add(key)
                out.extend(found)
        return out


def load_policy(path, cache: _Cache | None = None) -> Policy:
    """Load one policy file; raise PolicyError listing every problem found."""
    policy, problems = check_policy(path, cache)
    if problems:
        raise PolicyError(problems)
    assert policy is not None
    return policy


def check_policy(path, cache: _Cache | None = None,
                 tolerate: frozenset[str] = frozenset()) -> tuple[Policy | None, list[Problem]]:
    """One policy file: the policy (or None) and every problem, with those of the files it imports.

    `tolerate`: problem codes that do not stop the policy being built (`policy-engine diff`
    passes quote_not_found, so a revision whose quotes no longer verify can still be compared);
    the policy is then returned together with those problems."""
    cache = cache or _Cache()
    policy, problems = _load(Path(path), cache, tolerate)
    shared = cache.take_shared()
    if shared:
        return None, sort_problems([*problems, *shared])
    return policy, problems


def _load(path: Path, cache: _Cache, tolerate: frozenset[str] = frozenset()) -> tuple[Policy | None, list[Problem]]:
    with workdays.using(workdays.PACKAGE_ONLY):  # conditions are tried on sample facts while compiled
        policy, problems = _load_unsorted(path, cache, tolerate)
    return policy, sort_problems(problems)


def _load_unsorted(path: Path, cache: _Cache, tolerate: frozenset[str] = frozenset()) -> tuple[Policy | None, list[Problem]]:
    shown = display(path)
    try:
        raw_bytes = read_bytes(path, POLICY_LIMIT, what="policy file", regular_only=True)
        text = decode(raw_bytes, shown, what="policy file")
        doc = parse(text, shown)
    except ReadFailure as exc:
        return None, [_at(exc.problem, shown)]
    except YamlProblem as exc:
        return None, [exc.problem]
    if not isinstance(doc.data, dict):
        return None, [problem("yaml_not_mapping", "a policy file is a mapping (id:, version:, ...)", file=shown, line=1)]
    problems = _schema.check(doc, "policy")
    if problems:
        return None, problems
    data = doc.data
    b = _Builder(doc, path, cache, text)
    where = b.where

    # identity: folder and file name agree with id and version
    if where.parent.name != data["id"]:
        b.add("version", ("id",), f"id '{data['id']}' differs from the folder '{where.parent.name}'",
              f"move the file to policies/{data['id']}/ or set id: {where.parent.name}")
    if where.stem != data["version"]:
        b.add("version", ("version",), f"version '{data['version']}' differs from the file name '{where.name}'",
              f"rename the file to {data['version']}.yaml")

    index = b.source(data["source"])
    if index is not None and _sources.normalise(data["self_name"], index.steps) not in index.norm:
        b.add("quote_not_found", ("self_name",), f"self_name '{data['self_name']}' is not in the source text",
              "write how the text names itself in its own sentences, as it does (本办法, 本细则, 本法, 本条例)")
    b.texts(data.get("texts", ()))
    vocabulary = b.vocabulary(data["facts"])
    if b.import_failed:  # every condition naming its facts would fail too: say it once, at the import
        return None, b.problems
    if "selection" in data:
        vocabulary = b.mode_ids(data["selection"], vocabulary)
    in_force = b.in_force(data["in_force"], index)
    supersedes = tuple(MappingProxyType(dict(s)) for s in data.get("supersedes", ()))
    for i, s in enumerate(data.get("supersedes", ())):
        if "cite" in s:
            b.citation(s["cite"], ("supersedes", i), index, s.get("quote"))
    scope = b.scope(data.get("scope", ()), index, vocabulary)
    classification = b.classification(data["classification"], index, vocabulary) if "classification" in data else None
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
    governing = tuple(g for g in (b.version_rule(g, ("governing_version", i), index, vocabulary)
                                  for i, g in enumerate(data.get("governing_version", ()))) if g is not None)
    not_encoded = b.not_encoded(data.get("not_encoded", ()), index)  # after every other cite is read
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
    if any(p.code not in tolerate for p in b.problems):
        return None, b.problems
    # Every element that failed to build (None) recorded a problem, so past the check above all were built.
    built_criteria, built_triggers, built_grounds = complete(criteria), complete(triggers), complete(grounds)
    built_deadlines, built_gates = complete(deadlines), complete(gates)
    if (index is None or built_criteria is None or built_triggers is None or built_grounds is None
            or built_deadlines is None or built_gates is None):
        raise AssertionError("a policy element failed to build without a recorded problem")
    parts = [(b"policy", raw_bytes)]
    extra_rules = [*gates, *(r for s in scope for r in (s.rule,) if r is not None),
                   *(classification.categories if classification is not None else ())]
    if sanctions is not None:
        extra_rules += [*sanctions.grounds, *(br.rule for lv in sanctions.levels for br in lv.branches),
                        *sanctions.also, *sanctions.provisions, *(a.rule for a in sanctions.adjustments)]
    if apportionment is not None:
        extra_rules += [rule for rule, _ in apportionment.rules]
    if selection is not None:
        extra_rules += [*selection.exclusions, *selection.panel]
    calendar = None
    if _uses_calendar((*criteria, *triggers, *grounds, *deadlines, *(term.limits if term else ()), *extra_rules),
                      term.ends if term else None):
        calendar, calendar_bytes = b.calendar()
        if calendar is None:
            return None, b.problems
        parts.append((b"calendar", calendar_bytes))
    policy = Policy(
        id=data["id"], version=data["version"], title=data["title"], issuer=data["issuer"],
        document_number=data.get("document_number"), in_force=in_force, supersedes=supersedes, scope=scope,
        defects=defects, vocabulary=vocabulary, criteria=built_criteria, term=term, triggers=built_triggers,
        grounds=built_grounds, deadlines=built_deadlines, sanctions=sanctions, apportionment=apportionment,
        scoring=scoring, gates=built_gates,
        selection=selection, classification=classification,
        sha256="", file=shown, source_file=display(b.source_path), source_sha256=index.sha256,
        quotes_verified=b.quotes, calendar=calendar, governing=governing, self_name=data["self_name"],
        not_encoded=not_encoded, citations=b.citations(index), units=tuple(_units.units(index)),
    )
    answers = policy.decisions()
    for i, g in enumerate(governing):
        if g.decision not in answers:
            b.add("schema", ("governing_version", i, "decision"),
                  f"the policy does not answer '{g.decision}' (it answers: {', '.join(answers) or 'none'})",
                  "name a decision the policy answers")
        elif any(h.decision == g.decision for h in governing[:i]):
            b.add("schema", ("governing_version", i, "decision"), f"a second rule for '{g.decision}'",
                  "declare one rule per decision")
    if any(p.code not in tolerate for p in b.problems):
        return None, b.problems
    parts.append((b"facts read", canonical_facts(vocabulary, facts_read(policy))))
    return replace(policy, sha256=policy_digest(parts)), list(b.problems)  # only tolerated ones are left


def policy_digest(parts: list[tuple[bytes, bytes]]) -> str:
    """SHA-256 over labelled, length-framed parts (so no two lists of parts give the same bytes)."""
    digest = hashlib.sha256(b"policy-engine policy digest 2\n")
    for label, data in parts:
        digest.update(b"%s %d\n" % (label, len(data)))
        digest.update(data)
    return digest.hexdigest()


# The facts the draw reads by name from a pool's rows for a policy with a selection: section
# (selection/draw.py: a request's filters on fields, specialties, sub-pools and the lowest
# title rank, whose order of values is the ranking; pool rows are identified by expert.id;
# selection/panel.py: the panel's fields). tests/test_vocabulary_growth.py keeps this list and
# those modules in step.
DRAW_READS = ("expert.id", "expert.fields", "expert.specialties", "expert.sub_pool", "expert.title_rank")


def facts_read(policy: Policy) -> set[str]:
    """Every fact of the policy's vocabulary that can change one of its answers: the facts its
    conditions read (wherever a condition stands: rules, sanctions, apportionment, scoring,
    selection, term ...), the facts its elements name (a score sheet's item, total, grade and
    date facts; an apportionment's list of people), and for a policy that draws, the facts the
    draw reads by name (DRAW_READS).

    A fact no rule reads is not part of the policy's meaning: a case may give it, and it is
    checked against the vocabulary (so a typo or an impossible value is still refused), but no
    finding depends on its value. Its definition is left out of the digest, so a shared
    vocabulary may grow without changing the digest of a policy that does not read the change.
    """
    known = policy.vocabulary.facts
    out: set[str] = set()
    seen: set[int] = set()
    stack: list[Any] = [getattr(policy, f.name) for f in fields(policy) if f.name != "vocabulary"]
    while stack:
        item = stack.pop()
        if isinstance(item, (Vocabulary, Fact, _sources.SourceIndex, bytes, int, float, bool)) or item is None:
            continue
        if isinstance(item, str):
            if item in known:
                out.add(item)
            continue
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, Condition):
            out.update(item.facts)
        elif is_dataclass(item):
            stack.extend(getattr(item, f.name) for f in fields(item))
        elif isinstance(item, Mapping):
            if any(isinstance(v, Fact) for v in item.values()):
                continue  # a copy of the vocabulary (an apportionment's facts for one record): not a reading
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (tuple, list, set, frozenset)):
            stack.extend(item)
    if policy.selection is not None:
        out.update(name for name in DRAW_READS if name in known)
    return {name for name in out if name in known}


class _Builder(AccountabilityBuilder, QuestionsBuilder):
    def __init__(self, doc: Document, path: Path, cache: _Cache, text: str):
        self.doc = doc
        self.path = path  # as given: files are named from it
        self.where = Path(os.path.abspath(path))  # for the folder's name and what is inside the policies folder
        self.cache = cache
        self.lines = text.split("\n")
        self.problems: list[Problem] = []
        self.source_path = path.parent / "source.txt"
        self.quotes = 0  # quotes verified against their cited passage
        # other texts the policy cites (`texts`): id -> (index or None when it failed to load, title, file as shown)
        self.other_texts: dict[str, tuple[SourceIndex | None, str, Path]] = {}
        self.import_failed = False
        # every cite of the own source text that names a passage it has: (path, cite, form number)
        self.cited: list[tuple[tuple, Citation | None, int | None]] = []
        self._keys: tuple[int, list] | None = None  # _cited_keys, computed once

    def add(self, code: str, at: tuple, message: str, hint: str | None = None, key: bool = False) -> None:
        self.problems.append(problem(code, message, **self.doc.where(at, key=key), hint=hint))

    # -- source -------------------------------------------------------------------------
    def source(self, raw: dict) -> SourceIndex | None:
        rel = raw["file"]
        steps = tuple(raw.get("normalise", DEFAULT_STEPS))
        folder = self.where.parent
        if _leaves(rel):
            self.add("source_path", ("source", "file"), f"source.file '{rel}' leaves the policy's folder",
                     "keep the source text in the policy's folder and name it from there, e.g. source.txt")
            return None
        self.source_path = Path(os.path.normpath(self.path.parent / rel))
        target = folder / rel
        outside = _outside(target, folder)
        if outside:
            self.add("source_path", ("source", "file"), f"source.file '{rel}' {outside} outside the policy's folder",
                     "keep the source text itself in the policy's folder")
            return None
        try:
            data = read_bytes(target, _sources.SOURCE_LIMIT, "source_missing", "source text", regular_only=True)
        except ReadFailure as exc:
            missing = not os.path.lexists(target)
            self.add("source_missing", ("source", "file"),
                     f"source text '{rel}' not found next to the policy" if missing
                     else f"source text '{rel}': {exc.problem.message}",
                     "copy the regulation's text from shared/regulations/ to source.txt beside the policy" if missing
                     else exc.problem.hint)
            return None
        digest = hashlib.sha256(data).hexdigest()
        if digest != raw["sha256"]:
            self.add("source_sha256", ("source", "sha256"),
                     f"the source text has SHA-256 {digest}, the policy records {raw['sha256']}",
                     "if the text was changed on purpose, re-verify every quote and update sha256; "
                     "otherwise restore the text")
        key = (_resolved(target), digest, steps)
        if key not in self.cache.sources:
            try:
                text = decode(data, display(self.source_path), "source_missing", "source text")
            except ReadFailure as exc:
                self.problems.append(exc.problem)
                return None
            self.cache.sources[key] = _sources.index_source(text, steps)
        return self.cache.sources[key]

    def texts(self, declared) -> None:
        """The other texts the policy cites (`texts`): each read, checked against its sha256 and indexed.

        A text lives in the policy's folder or elsewhere in the policies folder (one copy in
        _shared/texts/ serves every policy citing it); a text that cannot be used records its
        problem here, and its cites are then checked for existence of the id only."""
        for i, raw in enumerate(declared):
            at = ("texts", i)
            tid, rel = raw["id"], raw["file"]
            if tid in self.other_texts:
                self.add("citation", at + ("id",), f"text id '{tid}' is declared twice",
                         "give each declared text its own id")
                continue
            self.other_texts[tid] = (None, raw["title"], Path(rel))
            file = Path(os.path.normpath(self.where.parent / rel))
            outside = "leaves" if _leaves(rel, allow_parent=True) else _outside(file, self.root())
            if outside:
                self.add("source_path", at + ("file",), f"text '{tid}': file '{rel}' {outside} outside the policies folder",
                         "copy the text, unedited, into the policy's folder or the policies folder's _shared/texts/ "
                         "and name it from this file, e.g. ../_shared/texts/<file>.txt")
                continue
            shown = Path(os.path.normpath(self.path.parent / rel))
            try:
                data = read_bytes(file, _sources.SOURCE_LIMIT, "source_missing", "text", regular_only=True)
            except ReadFailure as exc:
                missing = not os.path.lexists(file)
                self.add("source_missing", at + ("file",),
                         f"text '{tid}': file '{rel}' not found" if missing else f"text '{tid}': {exc.problem.message}",
                         "copy the regulation's text from shared/regulations/ unedited to policies/_shared/texts/ and "
                         "name it relative to this file" if missing else exc.problem.hint)
                continue
            digest = hashlib.sha256(data).hexdigest()
            if digest != raw["sha256"]:
                self.add("source_sha256", at + ("sha256",),
                         f"text '{tid}' ({display(shown)}) has SHA-256 {digest}, the policy records {raw['sha256']}",
                         "if the text was changed on purpose, re-verify every quote from it and update sha256; "
                         "otherwise restore the text")  # its quotes are still checked, as the source's are
            steps = tuple(raw.get("normalise", DEFAULT_STEPS))
            key = (_resolved(file), digest, steps)
            if key not in self.cache.sources:
                try:
                    text = decode(data, display(shown), "source_missing", "text")
                except ReadFailure as exc:
                    self.problems.append(exc.problem)
                    continue
                self.cache.sources[key] = _sources.index_source(text, steps)
            self.other_texts[tid] = (self.cache.sources[key], raw["title"], shown)

    # -- shared files -----------------------------------------------------------------------
    def root(self) -> Path:
        """The policies folder: the folder holding this policy's folder."""
        return self.where.parent.parent

    def vocabulary(self, raw: dict) -> Vocabulary:
        facts: dict[str, Fact] = {}
        for i, rel in enumerate(raw.get("import", ())):
            at = ("facts", "import", i)
            file = Path(os.path.normpath(self.where.parent / rel))  # `..` taken lexically, as the file is opened
            outside = "leaves" if _leaves(rel, allow_parent=True) else _outside(file, self.root())
            if outside:
                self.add("vocabulary", at, f"vocabulary '{rel}' {outside} outside the policies folder",
                         "import shared vocabularies from the policies folder's _shared/, e.g. "
                         "../_shared/expert-pool.vocab.yaml")
                self.import_failed = True
                continue
            loaded, data, found = self.cache.vocabulary(Path(os.path.normpath(self.path.parent / rel)))
            if found or loaded is None:  # loaded is None exactly when the file has problems
                self.add("vocabulary", at, f"cannot import vocabulary '{rel}': {display(self.path.parent / rel)} has "
                                           f"{len(found)} problem(s) (listed under that file)")
                self.import_failed = True
                continue
            for name, fact in loaded.items():
                if name in facts and facts[name] != fact:
                    self.add("vocabulary", at, f"fact '{name}' is declared differently in two imports")
                facts[name] = fact
        declared = raw.get("declare") or {}
        for name, xraw in (raw.get("extend") or {}).items():
            at = ("facts", "extend", name)
            if name not in facts:
                close = [n for n in Vocabulary.of(facts).closest(name, 1)]
                self.add("vocabulary", at, f"'{name}' is not an imported fact, so there is nothing to extend",
                         (f"did you mean '{close[0]}'?" if close else "import the vocabulary that declares it")
                         + (f"; '{name}' is declared here: add to its declaration instead" if name in declared else ""),
                         key=True)
                continue
            facts[name], conflicts = extend_fact(facts[name], xraw)
            for c in conflicts:
                self.add("vocabulary", at + c.at, c.message, c.hint, key=c.key or not c.at)
        for name, fraw in declared.items():
            if name in facts:
                why = redeclared(facts[name], fraw)
                grows = {"enum": "values: [...]", "events": "kinds: {...}"}.get(facts[name].type)
                self.add("vocabulary", ("facts", "declare", name),
                         f"fact '{name}' is already declared in {facts[name].origin}: {why}",
                         "use the imported fact"
                         + (f"; to add to it write facts: extend: {{{name}: {{{grows}, description: ...}}}}" if grows else "")
                         + "; to mean something else, give this one another name", key=True)
                continue
            facts[name] = fact_from(name, fraw, self.doc.file)
        problems = _vocabulary_problems(facts, self.doc)
        self.problems.extend(problems)
        return Vocabulary.of(facts)

    def calendar(self):
        """The working-day calendar of the policies folder (a policy that counts working days needs it)."""
        file = workdays.calendar_path(self.path)
        line = next((n for n, text in enumerate(self.lines, 1) if "working_days" in text or "is_workday(" in text
                     or "last_day_on_holiday" in text), None)
        outside = _outside(workdays.calendar_path(self.where), self.root())
        if outside:
            self.problems.append(problem("calendar", f"the policy counts working days, but its calendar {display(file)} "
                                                     f"{outside} outside the policies folder", file=self.doc.file, line=line))
            return None, b""
        calendar, data, found, shown = self.cache.calendar(file)
        if calendar is None:
            missing = not os.path.lexists(file)
            why = "is not there" if missing else f"has {len(found)} problem(s) (listed under that file)"
            self.problems.append(problem(
                "calendar", f"the policy counts working days, but the policies folder's calendar {shown} {why}",
                file=self.doc.file, line=line,
                hint=f"a policies folder that holds policies counting working days holds {workdays.CALENDAR_REF}; "
                     "copy it with the policies" if missing else "correct the calendar file"))
            return None, b""
        return replace(calendar, file=workdays.CALENDAR_REF), data

    # -- citations --------------------------------------------------------------------------
    def citation(self, raw: dict, at: tuple, index: SourceIndex | None, quote: str | None) -> Citation:
        if raw.get("subitem") is not None and raw.get("item") is None:
            self.add("citation", at + ("cite", "subitem"), "a sub-item (目) is cited within its item: the cite has no item",
                     "add the item the sub-item belongs to, e.g. cite: {article: 9, item: 2, subitem: 1}")
            return Citation(raw["article"], raw.get("occurrence"), raw.get("paragraph"), None, "", raw["subitem"],
                            raw.get("text"))
        label = _sources.cite_label(raw["article"], raw.get("paragraph"), raw.get("item"), subitem=raw.get("subitem"))
        if raw.get("occurrence"):
            label = label.replace("条", "条" + OCCURRENCE.get(raw["occurrence"], f"（文中第{raw['occurrence']}个）"), 1)
        source_name = self.source_path.name
        tid = raw.get("text")
        if tid is not None:
            if tid not in self.other_texts:
                have = ", ".join(self.other_texts) or "none"
                self.add("citation", at + ("cite", "text"), f"cite names text '{tid}', which the policy does not declare "
                                                            f"(declared texts: {have})",
                         "declare it under texts: (id, title, file, sha256), or correct the id")
                return Citation(raw["article"], raw.get("occurrence"), raw.get("paragraph"), raw.get("item"), label,
                                raw.get("subitem"), tid)
            index, title, shown = self.other_texts[tid]
            label = f"《{title}》{label}"
            source_name = display(shown)
        cite = Citation(raw["article"], raw.get("occurrence"), raw.get("paragraph"), raw.get("item"), label,
                        raw.get("subitem"), tid)
        if index is None:
            return cite
        try:
            index.passage(cite.article, cite.occurrence, cite.paragraph, cite.item, subitem=cite.subitem)
        except LookupError as exc:
            self.add("citation", at + ("cite",), f"{label}: {exc}",
                     f"check the article number against {source_name}; where two articles share a number, "
                     "add occurrence: 1 or 2")
            return cite
        if tid is None:
            self.cited.append((at, cite, None))
        if quote is not None:
            result = index.verify_quote(quote, cite.article, cite.occurrence, cite.paragraph, cite.item, cite.subitem)
            self.quotes += result.ok
            if not result.ok:
                where = result.where or label
                if tid is not None:
                    where = f"《{self.other_texts[tid][1]}》{where}"
                message = f"quote is not in {where} of {source_name}"
                hints = []
                if result.found_elsewhere:
                    hints.append(f"the quote is in {result.found_elsewhere}: correct cite")
                if result.closest:
                    hints.append(f"closest passage: \"{result.closest}\"")
                self.add("quote_not_found", at + ("quote",), message, "; ".join(hints) or None)
        return cite

    # -- parts deliberately not encoded (not_encoded) ---------------------------------------------
    def citations(self, index: SourceIndex) -> tuple[CitedBy, ...]:
        """Every cite of the own source text, by the element it stands in, with the unit it names
        (source_defects record defects, not encodings, and are left out)."""
        return tuple(CitedBy(_element_of(self.doc.data, at), _render(at), cite, form, key)
                     for at, cite, form, key in self._cited_keys(index) if at[0] != "source_defects")

    def _cited_keys(self, index: SourceIndex) -> list[tuple[tuple, Citation | None, int | None, tuple]]:
        if self._keys is not None and self._keys[0] == len(self.cited):
            return self._keys[1]
        out: list[tuple[tuple, Citation | None, int | None, tuple]] = []
        for at, cite, form in self.cited:
            if cite is not None:
                try:
                    out.append((at, cite, form, _units.key_of(index, cite)))
                except LookupError:  # reported where the cite stands
                    continue
            elif form is not None:
                out.append((at, cite, form, _units.form_key(form)))
        self._keys = (len(self.cited), out)
        return out

    def not_encoded(self, declared, index) -> tuple[NotEncoded, ...]:
        """Each declaration: its passage exists, its reason is given, and no element cites inside it."""
        out: list[NotEncoded] = []
        keys: list[tuple[int, str, list]] = []
        for i, raw in enumerate(declared):
            at: tuple = ("not_encoded", i)
            reason = raw["reason"]
            if not reason.strip():
                self.add("not_encoded", at + ("reason",), "the reason is empty",
                         "say why the policy does not encode this passage (e.g. 立法目的，不产生任何问题的答案; "
                         "附则：施行日期已由 in_force 表达)")
            if "form" in raw:
                number = raw["form"]["appendix"]
                label = _sources.cite_label(number, appendix=True)
                cite = Citation(number, None, None, None, label)
                if index is None:
                    continue
                try:
                    index.appendix(number)
                except LookupError as exc:
                    self.add("citation", at + ("form",), f"{label}: {exc}",
                             "the source's forms are numbered as its 附表 headings: 附表1, 附表2 ...")
                    continue
                keys.append((i, label, [_units.form_key(number)]))
                out.append(NotEncoded(cite, None, reason, number, (_units.form_key(number),)))
                continue
            c = raw["cite"]
            through = raw.get("through")
            if "text" in c:
                self.add("not_encoded", at + ("cite", "text"), "not_encoded names passages of the policy's own "
                         "source text; another text's articles are not the policy's to encode",
                         "remove text: from the cite")
                continue
            if c.get("subitem") is not None and c.get("item") is None:
                self.add("citation", at + ("cite", "subitem"), "a sub-item (目) is cited within its item: the cite has "
                         "no item", "add the item the sub-item belongs to, e.g. cite: {article: 9, item: 2, subitem: 1}")
                continue
            label = _sources.cite_label(c["article"], c.get("paragraph"), c.get("item"), subitem=c.get("subitem"))
            if c.get("occurrence"):
                label = label.replace("条", "条" + OCCURRENCE.get(c["occurrence"], f"（文中第{c['occurrence']}个）"), 1)
            if through is not None:
                if any(k in c for k in ("paragraph", "item", "subitem", "occurrence")) or through <= c["article"]:
                    self.add("not_encoded", at + ("through",), "through: names the last of a range of whole articles "
                             f"after {label}", "give a later article number and a cite of the first article alone "
                             "(cite: {article: N}), or leave out through:")
                    continue
                label += f"至{_sources.cite_label(through)}"
            cite = Citation(c["article"], c.get("occurrence"), c.get("paragraph"), c.get("item"), label, c.get("subitem"))
            if index is None:
                continue
            try:
                if through is None:
                    found = [_units.key_of(index, cite)]
                else:
                    for end in (c["article"], through):
                        if not index.articles_numbered(end):
                            index.article(end)  # raises, naming the articles the text has
                    found = _units.range_keys(index, c["article"], through)
            except LookupError as exc:
                self.add("citation", at + ("cite",), f"{label}: {exc}",
                         f"check the article number against {self.source_path.name}; where two articles share a "
                         "number, add occurrence: 1 or 2")
                continue
            keys.append((i, label, found))
            out.append(NotEncoded(cite, through, reason, None, tuple(found)))
        if index is None:
            return tuple(out)
        cited = [(key, cite.label if cite is not None else _sources.cite_label(form or 0, appendix=True), at)
                 for at, cite, form, key in self._cited_keys(index) if at[0] != "source_defects"]
        for n, (i, label, found) in enumerate(keys):
            clash = next(((lab, where) for key, lab, where in cited if any(_units.within(key, k) for k in found)), None)
            if clash is not None:
                lab, where = clash
                self.add("not_encoded", ("not_encoded", i, "form" if "form" in declared[i] else "cite"),
                         f"{label} is declared not encoded, but {_element_of(self.doc.data, where)} "
                         f"({_render(where)}) cites {lab}",
                         "a part a rule encodes is not 'not encoded': remove the declaration, or declare only "
                         "the paragraphs or items no rule cites")
                continue
            for j, _, other in keys[:n]:
                if any(_units.within(k, o) or _units.within(o, k) for k in found for o in other):
                    self.add("not_encoded", ("not_encoded", i, "form" if "form" in declared[i] else "cite"),
                             f"{label} overlaps not_encoded[{j}]", "declare each passage once")
                    break
        return tuple(out)

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
            span = Span(span.file, span.line, _block_indent(self.lines, mark) - 1, span.style, span.path)
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
        built = complete(children)
        if built is None:
            return None
        return Test(op, None, built)

    def deadline(self, raw: dict, at: tuple, index, vocabulary: Vocabulary) -> Rule | None:
        """A deadline rule becomes a criterion whose condition is generated from from/to/length/unit.

        The due date is the N-th (working) day after `from` (民法典第二百零一条: the day of the
        event is not counted). within: `to` <= due; at_least: `to` >= due. For working days
        the condition first compares calendar days (within: any_of [days <= N, to <= due];
        at_least: all_of [days >= N, to >= due]), which gives the same answer wherever the
        calendar is known and still decides the clear cases where it is not.

        Months and years end on the corresponding day (第二百零二条; add_months, add_years);
        hours and minutes run from the time of `from` itself (第二百零一条第一款) and `from`
        and `to` are times. N is `days` (a number, for day units) or `length` (a number or a
        CEL expression: a time limit the case states; unknown when its fact is missing).
        `last_day_on_holiday` (第二百零三条, as the policy's text applies it) moves a last day
        that is not a working day to the next working day; a step done by the unmoved day
        is within the limit whatever the calendar says of the days after it.
        """
        start = self.condition(raw["from"], at + ("from",), vocabulary)
        end = self.condition(raw["to"], at + ("to",), vocabulary)
        unit = raw["unit"]
        key = "length" if "length" in raw else "days"
        length = raw.get(key)
        if "days" in raw and "length" in raw:
            self.add("schema", at + ("length",), "a deadline states its length once: `days` or `length`, not both",
                     "keep `length` (it works for every unit)")
        elif "days" in raw and unit not in DAY_UNITS:
            self.add("schema", at + ("days",), f"`days` counts days, but the unit is {unit}",
                     f"write `length: {raw['days']}` for a period of {raw['days']} {unit}")
        elif length is None:
            self.add("schema", at, "a deadline needs its length: `length` (a number, or a fact of the case such as "
                                   "notice.time_limit_days) or `days`", "e.g. length: 3 with unit: months")
        holiday = raw.get("last_day_on_holiday")
        if holiday is not None:
            if unit not in HOLIDAY_UNITS:
                self.add("schema", at + ("last_day_on_holiday",),
                         f"last_day_on_holiday moves a last day that is a holiday, but a period in {unit} "
                         + ("always ends on a working day" if unit == "working_days" else "is counted to the minute"),
                         "remove last_day_on_holiday from this rule")
                holiday = None
            else:
                self.citation(holiday["cite"], at + ("last_day_on_holiday",), index, holiday["quote"])
        if start is None or end is None or length is None:
            self.citation(raw["cite"], at, index, raw["quote"])
            return None
        if isinstance(length, str):
            # a whole number from the case: checked once here, where the author wrote it
            if (self.condition(length, at + (key,), vocabulary) is None
                    or self.condition(f"({length.strip()}) >= 0", at + (key,), vocabulary) is None):
                self.citation(raw["cite"], at, index, raw["quote"])
                return None
            n = f"({length.strip()})"
        else:
            n = str(length)
        f, to = f"({raw['from'].strip()})", f"({raw['to'].strip()})"
        working = unit == "working_days"
        due, counted = {
            "working_days": (f"add_working_days({f}, {n})", f"working_days_between(add_days({f}, 1), {to})"),
            "calendar_days": (f"add_days({f}, {n})", f"days_between({f}, {to})"),
            "months": (f"add_months({f}, {n})", f"months_between({f}, {to})"),
            "years": (f"add_years({f}, {n})", f"years_between({f}, {to})"),
            "hours": (f"add_hours({f}, {n})", f"hours_between({f}, {to})"),
            "minutes": (f"add_minutes({f}, {n})", f"minutes_between({f}, {to})"),
        }[unit]
        within = raw["measure"] == "within"
        shown: dict[str, str] = {}
        if holiday is not None:
            moved = f"workday_on_or_after({due})"
            # the unmoved last day settles a step done by it (within) or a period too short
            # even for it (at_least), whatever the calendar says; the moved day decides the rest
            require: Any = ({"any_of": [f"{to} <= {due}", f"{to} <= {moved}"]} if within
                            else {"all_of": [f"{to} >= {due}", f"{to} >= {moved}"]})
            shown = {"due": moved, "corresponding_day": due}
        else:
            require = f"{to} <= {due}" if within else f"{to} >= {due}"
            shown = {"due": due}
        if working:
            # N working days take at least N calendar days, so calendar days alone settle a step
            # done within N days (within) or a period shorter than N days (at_least), even in a
            # year whose 调休 is not yet known; otherwise the working days decide.
            if within:
                require = {"any_of": [f"days_between({f}, {to}) <= {n}", require]}
            else:
                require = {"all_of": [f"days_between({f}, {to}) >= {n}", require]}
        generated = {k: v for k, v in raw.items() if k not in ("length", "last_day_on_holiday")}
        generated["require"] = require
        generated["show"] = {**shown, "counted": counted, **(raw.get("show") or {})}
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

    def mode_ids(self, raw: dict, vocabulary: Vocabulary) -> Vocabulary:
        """The vocabulary with panel.mode_id: an enum of this policy's mode ids, set by the engine in draws and
        panel checks, so panel rules (and mode filters) can tell apart two modes of one method."""
        if "panel.mode_id" in vocabulary.facts:
            self.add("vocabulary", ("facts",), "panel.mode_id is set by the engine to the id of the panel's mode; "
                     "a vocabulary may not declare it", "remove the declaration; compare panel.mode_id with a mode id")
            return vocabulary
        ids = tuple(dict.fromkeys(str(m.get("id")) for m in raw.get("modes", ()) if isinstance(m, dict)))
        fact = Fact("panel.mode_id", "enum", "组成方式的 id（本政策 selection.modes 中的一项；由引擎按请求的方式填写）",
                    values=ids, origin=self.doc.file)
        return Vocabulary.of({**vocabulary.facts, fact.name: fact})

    def draw_rules(self, d: dict, at: tuple, index) -> DrawRules:
        cand = d.get("candidates")
        return DrawRules(
            multiplier=cand["multiplier"] if cand else 1,
            candidates=self.draw_provision(cand, at + ("candidates",), index),
            **{k: self.draw_provision(d.get(k), at + (k,), index)
               for k in ("contact", "replenish", "redraw", "backups", "shortfall")},
            note=d.get("note"),
            max_rounds=(d.get("redraw") or {}).get("max_rounds"),
            backup_count=(d.get("backups") or {}).get("count"))

    def mode_filter(self, raw: dict, at: tuple, index, vocabulary: Vocabulary) -> ModeFilter | None:
        where = self.condition(raw["where"], at + ("where",), vocabulary) if "where" in raw else None
        cite = self.citation(raw["cite"], at, index, raw["quote"])
        rank = raw.get("min_title_rank")
        ranks = vocabulary.facts.get("expert.title_rank")
        if rank is not None and (ranks is None or rank not in ranks.values):
            self.add("vocabulary", at + ("min_title_rank",), f"'{rank}' is not a value of expert.title_rank",
                     "use one of: " + (", ".join(ranks.values) if ranks else "(expert.title_rank is not declared)"))
            return None
        if "where" in raw and where is None:
            return None
        applies = None
        if "applies_when" in raw:
            applies = self.test(raw["applies_when"], at + ("applies_when",), vocabulary)
            if applies is None:
                return None
            per_expert = sorted(f for f in applies.facts() if f.split(".", 1)[0] in ("expert", "relation", "draw"))
            if per_expert:
                self.add("vocabulary", at + ("applies_when",),
                         f"applies_when reads {', '.join(per_expert)}, a fact of each expert, but it decides whether "
                         "the mode imposes the filter on the whole draw or panel",
                         "read the request's facts there (matter.*, panel.*, the facts of the case such as bidding.*); "
                         "put a condition on each expert in where:")
                return None
        return ModeFilter(raw["id"], raw.get("title"), cite, raw["quote"], tuple(raw.get("fields", ())),
                          tuple(raw.get("specialties", ())), tuple(raw.get("sub_pools", ())),
                          raw.get("min_title_rank"), where, raw.get("note"), applies)

    def mode_fact(self, raw: dict, at: tuple, index, vocabulary: Vocabulary) -> ModeFact:
        name = raw["fact"]
        computed = name in ("panel.mode_id", "panel.mode", "panel.size", "panel.fields", "panel.designated_count",
                            "panel.drawn_count", "panel.outside_count")
        if name not in vocabulary.facts or name.split(".", 1)[0] in ("expert", "relation", "draw") or computed:
            close = vocabulary.closest(name)
            self.add("unknown_fact", at + ("fact",),
                     f"'{name}' is not a fact of this policy's vocabulary that a request states"
                     + (" (panel.mode_id and the counts are computed, not stated)" if computed else
                        " (expert.*, relation.* and draw.* facts are each expert's)"
                        if name in vocabulary.facts else ""),
                     (f"did you mean '{close[0]}'? " if close and close[0] != name else "")
                     + "a mode requires facts a request states in panel:, matter: or facts: (the other facts of the "
                       "case, such as bidding.*); declare new ones under facts:")
        when = None
        if "when" in raw:
            when = self.test(raw["when"], at + ("when",), vocabulary)
            per_expert = sorted(f for f in (when.facts() if when else ()) if f.split(".", 1)[0] in ("expert", "relation",
                                                                                                   "draw"))
            if per_expert:
                self.add("vocabulary", at + ("when",),
                         f"when reads {', '.join(per_expert)}, a fact of each expert, but it decides whether the "
                         "request must state the fact", "read the request's facts there (matter.*, panel.*, the facts "
                                                        "of the case such as bidding.*)")
        return ModeFact(name, raw.get("title"), self.citation(raw["cite"], at, index, raw["quote"]), raw["quote"],
                        raw.get("note"), when)

    def selection(self, raw: dict, index, vocabulary: Vocabulary) -> Selection:
        modes: list[Mode] = []
        for i, m in enumerate(raw["modes"]):
            at: tuple = ("selection", "modes", i)
            if any(other.id == m["id"] for other in modes):
                self.add("duplicate_rule", at + ("id",), f"mode id '{m['id']}' is used twice",
                         "a request names its mode by id; give each mode its own")
            mode_draw = None
            if "draw" in m:
                mode_draw = self.draw_rules(m["draw"], at + ("draw",), index)
                if m["method"] != "random":
                    self.add("schema", at + ("draw",), f"mode '{m['id']}' is not drawn by lot (method {m['method']}) "
                             "but declares draw provisions", "give draw: only to a mode whose method is random")
            filters: list[ModeFilter | None] = []
            for j, f in enumerate(m.get("mandatory_filters", ())):
                if any(other.id == f["id"] for other in filters if other is not None):
                    self.add("duplicate_rule", at + ("mandatory_filters", j, "id"),
                             f"mandatory filter id '{f['id']}' is used twice in mode '{m['id']}'",
                             "receipts name a filter by id; give each its own")
                filters.append(self.mode_filter(f, at + ("mandatory_filters", j), index, vocabulary))
            requires: list[ModeFact] = []
            for j, r in enumerate(m.get("requires", ())):
                if any(other.fact == r["fact"] for other in requires):
                    self.add("duplicate_rule", at + ("requires", j, "fact"),
                             f"'{r['fact']}' is required twice in mode '{m['id']}'", "list each fact once")
                requires.append(self.mode_fact(r, at + ("requires", j), index, vocabulary))
            modes.append(Mode(m["id"], m.get("title"), m["method"], self.citation(m["cite"], at, index, m["quote"]),
                              m["quote"], self.draw_provision(m.get("filters"), at + ("filters",), index), m.get("note"),
                              mode_draw, tuple(f for f in filters if f is not None), tuple(requires)))
        draw = None
        if "draw" in raw:
            draw = self.draw_rules(raw["draw"], ("selection", "draw"), index)
        elif any(m.draws and m.draw is None for m in modes):
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
        renews = self.renewal(raw["renews"], index, vocabulary) if "renews" in raw else None
        if ends is None:
            return None
        return Term(cite, raw["quote"], ends, raw.get("note"), tuple(r for r in limits if r is not None), renews)

    def version_rule(self, raw: dict, at: tuple, index, vocabulary: Vocabulary) -> VersionRule | None:
        cite = self.citation(raw["cite"], at, index, raw["quote"])
        fact = vocabulary.facts.get(raw["selected_by"])
        if fact is None or fact.type != "date":
            close = [n for n in vocabulary.closest(raw["selected_by"]) if vocabulary.facts[n].type == "date"]
            what = "is not a fact of the vocabulary" if fact is None else f"is a {fact.type} fact, not a date"
            self.add("unknown_fact" if fact is None else "schema", at + ("selected_by",),
                     f"selected_by '{raw['selected_by']}' {what}",
                     "name the date fact that selects the version (the date of the act), e.g. "
                     + (", ".join(close) if close else "declare one in facts: with type: date"))
            return None
        switch = raw.get("in_force_when")
        if switch is not None:
            flag = vocabulary.facts.get(switch)
            if flag is None or flag.type != "boolean":
                what = "is not a fact of the vocabulary" if flag is None else f"is a {flag.type} fact, not a boolean"
                self.add("unknown_fact" if flag is None else "schema", at + ("in_force_when",),
                         f"in_force_when '{switch}' {what}",
                         "name the boolean fact that makes the law of the date govern alone (e.g. a case closed "
                         "before the new law took effect); declare it in facts: with type: boolean")
                return None
        acts = raw.get("acts")
        if acts is not None:
            events = vocabulary.facts.get(acts)
            if events is None or events.type != "events":
                what = "is not a fact of the vocabulary" if events is None else f"is a {events.type} fact, not events"
                close = [n for n in vocabulary.closest(acts) if vocabulary.facts[n].type == "events"]
                self.add("unknown_fact" if events is None else "schema", at + ("acts",), f"acts '{acts}' {what}",
                         "name the list of the case's acts (an events fact; each record's date is the date of one "
                         "act)" + (", e.g. " + ", ".join(close) if close else ""))
                return None
        return VersionRule(raw["decision"], raw["selected_by"], raw.get("rule", "in_force"), cite, raw["quote"],
                           raw.get("note"), switch, acts)

    def renewal(self, raw: dict, index, vocabulary: Vocabulary) -> Renewal:
        at = ("exit", "term", "renews")
        cite = self.citation(raw["cite"], at, index, raw["quote"])
        stops = self.condition(raw["stops_when"], at + ("stops_when",), vocabulary) if "stops_when" in raw else None
        months = raw.get("months", 0) + 12 * raw.get("years", 0)
        return Renewal(cite, raw["quote"], months, stops, raw.get("note"))


DAY_UNITS = ("working_days", "calendar_days")  # the units `days` may count
HOLIDAY_UNITS = ("calendar_days", "months", "years")  # the units whose last day 第二百零三条 may move
CALENDAR_FUNCTIONS = ("working_days_between(", "add_working_days(", "is_workday(", "workday_on_or_after(")


def _uses_calendar(rules, extra) -> bool:
    """Whether any condition counts working days (so the calendar file belongs in the digest)."""
    conditions = conditions_of(rules) + ([extra] if extra is not None else [])
    return any(name in c.compiled for c in conditions for name in CALENDAR_FUNCTIONS)


def _element_of(data: Any, at: tuple) -> str:
    """The id of the innermost element (a mapping with an id) along `at`; its path where there is none."""
    found, node = None, data
    for step in at:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(node, dict) and isinstance(node.get("id"), str):
            found = node["id"]
    return found if found is not None else _render(at)


def _render(at: tuple) -> str:
    from ..yamlio import render_path
    return render_path(at)


def _leaves(rel: str, allow_parent: bool = False) -> bool:
    """Whether a path written in a policy is absolute, or (unless `allow_parent`) goes up with `..`."""
    if not rel or PurePosixPath(rel).is_absolute() or PureWindowsPath(rel).anchor:
        return True
    return not allow_parent and ".." in PureWindowsPath(rel).parts


def _outside(target: Path, folder: Path) -> str | None:
    """How `target` (absolute) leaves `folder`, written out; None when it stays inside.

    Checked on the written path (`..` climbing out) and on the path with symbolic links followed.
    """
    if not os.path.normpath(target).startswith(os.path.join(os.path.normpath(folder), "")):
        return "leaves"
    try:
        real, base = target.resolve(), folder.resolve()
    except (OSError, RuntimeError):  # a symbolic-link loop: reading it reports that
        return None
    if real != base and base not in real.parents:
        return "resolves (through a symbolic link) to a file"
    return None


def _block_indent(lines: list[str], mark) -> int:
    """Column (1-based) where a block scalar's content starts."""
    for line in lines[mark.line:]:
        if line.strip():
            return len(line) - len(line.lstrip(" ")) + 1
    return mark.column + 2


def _load_vocabulary(file: Path) -> tuple[dict[str, Fact] | None, bytes, list[Problem]]:
    shown = display(file)
    try:
        data = read_bytes(file, POLICY_LIMIT, what="vocabulary", regular_only=True)
        doc = parse(decode(data, shown, what="vocabulary"), shown)
    except ReadFailure as exc:
        return None, b"", [_at(exc.problem, shown)]
    except YamlProblem as exc:
        return None, b"", [exc.problem]
    if not isinstance(doc.data, dict):
        return None, data, [problem("yaml_not_mapping", "a vocabulary file is a mapping (id:, facts:, ...)",
                                    file=shown, line=1)]
    found = _schema.check(doc, "vocabulary")
    if found:
        return None, data, found
    facts = {name: fact_from(name, raw, shown) for name, raw in doc.data["facts"].items()}
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
        out.extend(problem("vocabulary", message, **where, hint="min is at most max; labels name only the enum's own values") for message in bound_problems(fact))
        for other in names:
            if other.startswith(name + "."):
                out.append(problem("vocabulary", f"'{name}' is a fact and also the group of '{other}'", **where,
                                   hint="a name is either a value or a group of facts"))
                break
        parts = name.split(".")
        group = next((g for g in (".".join(parts[:k]) for k in range(1, len(parts))) if g in names), None)
        if group is not None and facts[group].origin != doc.file:  # the other order is reported above
            out.append(problem("vocabulary", f"'{name}' is declared inside '{group}', which {facts[group].origin} "
                                             "declares as a fact", **where,
                               hint="a name is either a value or a group of facts; choose another name"))
    return out


# -- finding files ---------------------------------------------------------------------------

@dataclass
class Found:
    """What a walk of the given files and folders found, and what could not be read."""

    policies: list[Path] = field(default_factory=list)
    vocabularies: list[Path] = field(default_factory=list)
    calendars: list[Path] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def walk(root: Path) -> tuple[list[Path], list[Problem]]:
    """Every regular file under a folder (symbolic links followed), in name order, and a problem
    for each entry that cannot be read or is not a regular file or folder. Hidden entries
    (names starting with `.`) are left out. Nothing is opened but folders."""
    files: list[Path] = []
    problems: list[Problem] = []
    try:
        st = os.stat(root)
    except OSError as exc:
        return files, [_unreadable(root, exc)]
    _walk(Path(root), frozenset({(st.st_dev, st.st_ino)}), files, problems)
    return files, problems


def _walk(folder: Path, ancestors: frozenset, files: list[Path], problems: list[Problem]) -> None:
    try:
        with os.scandir(folder) as it:
            names = sorted(entry.name for entry in it)
    except OSError as exc:
        problems.append(_unreadable(folder, exc, "folder"))
        return
    for name in names:
        if name.startswith("."):
            continue
        path = folder / name
        try:
            st = os.stat(path)
        except OSError as exc:
            problems.append(_unreadable(path, exc))
            continue
        if stat.S_ISDIR(st.st_mode):
            key = (st.st_dev, st.st_ino)
            if key in ancestors:
                problems.append(problem(
                    "file_unreadable", "the folder is a symbolic link to a folder that contains it (a loop); "
                                       "it is not read", file=display(path), hint="remove the link"))
                continue
            _walk(path, ancestors | {key}, files, problems)
        elif stat.S_ISREG(st.st_mode):
            files.append(path)
        else:
            problems.append(_not_regular(path))


def _not_regular(path: Path) -> Problem:
    return problem("file_unreadable", "not a regular file or folder (a pipe, socket or device); it is not read",
                   file=display(path), hint="policy folders hold regular files and folders only; remove it")


def _unreadable(path: Path, exc: OSError, what: str = "file") -> Problem:
    hint = "make it readable, or remove it"
    if exc.errno == errno.ELOOP:
        message, hint = "a symbolic link that loops (it leads back to itself); it is not read", "remove the link"
    elif exc.errno == errno.ENOENT and os.path.islink(path):
        message = f"a symbolic link to {os.readlink(path)}, which does not exist; it is not read"
        hint = "point the link at an existing file, or remove it"
    else:
        message = f"cannot read the {what}: {exc.strerror or exc}"
    return problem("file_unreadable", message, file=display(path), hint=hint)


def discover(paths: Iterable) -> Found:
    """Policy files (<folder>/<version>.yaml), vocabularies (*.vocab.yaml) and calendars
    (*.calendar.yaml) under the given files or folders; folders starting with `_` hold shared
    files only. A folder with nothing of these is a problem (`no_policies`): nothing to check."""
    found = Found()
    for given in paths:
        given = Path(given)
        try:
            st = os.stat(given)
        except OSError as exc:
            found.problems.append(_unreadable(given, exc))
            continue
        if stat.S_ISREG(st.st_mode):
            _classify(given, (), found, named=True)
            continue
        if not stat.S_ISDIR(st.st_mode):
            found.problems.append(_not_regular(given))
            continue
        before = (len(found.policies), len(found.vocabularies), len(found.calendars), len(found.problems))
        files, problems = walk(given)
        found.problems.extend(problems)
        for f in files:
            _classify(f, f.relative_to(given).parts[:-1], found)
        if before == (len(found.policies), len(found.vocabularies), len(found.calendars), len(found.problems)):
            found.problems.append(problem(
                "no_policies", "nothing to check: the folder holds no policy (<id>/<version>.yaml), vocabulary or "
                               "calendar", file=display(given),
                hint="name the policies folder (the one holding <id>/<version>.yaml and _shared/)"))
    return found


def _classify(file: Path, folders: tuple, found: Found, named: bool = False) -> None:
    """Sort a file by its name; `folders` are those between the walked folder and the file."""
    if file.name.endswith(".vocab.yaml"):
        found.vocabularies.append(file)
    elif file.name.endswith(".calendar.yaml"):
        found.calendars.append(file)
    elif named or (file.name.endswith(".yaml") and not any(part.startswith("_") for part in folders)):
        found.policies.append(file)  # a file the caller names is a policy whatever its name


@dataclass
class Loaded:
    """One load: the policies, every problem (each once), and what was read."""

    policies: list[Policy]
    problems: list[Problem]
    files: list[Path]  # policy files
    vocabularies: list[str]  # shared files read (named as in messages)
    calendars: list[str]


def load_tree(paths: Iterable) -> Loaded:
    """Load every policy under the given files or folders, and check every vocabulary and
    calendar there; each shared file is read once and its problems are reported once."""
    found = discover(paths)
    cache = _Cache()
    for file in found.vocabularies:
        cache.vocabulary(file)
    for file in found.calendars:
        cache.calendar(file)
    policies, problems = [], list(found.problems)
    for file in found.policies:
        policy, more = _load(file, cache)
        problems.extend(more)
        if policy is not None:
            policies.append(policy)
    problems.extend(cache.take_shared())
    vocabularies = sorted(cache.names[k] for k in cache.vocabularies)
    calendars = sorted(cache.names[k] for k in cache.calendars)
    return Loaded(policies, sort_problems(problems), found.policies, vocabularies, calendars)


def load_all(paths: Iterable) -> tuple[list[Policy], list[Problem]]:
    """Load every policy file under the given files or folders; collect all problems."""
    loaded = load_tree(paths)
    return loaded.policies, loaded.problems


def policy_files(paths: Iterable) -> list[Path]:
    """Policy files: <folder>/<version>.yaml; folders starting with _ hold shared files."""
    return discover(paths).policies


def shared_files(paths: Iterable, suffix: str) -> list[Path]:
    """Vocabulary (.vocab.yaml) or calendar (.calendar.yaml) files under the paths, or named by them."""
    found = discover(paths)
    return {".vocab.yaml": found.vocabularies, ".calendar.yaml": found.calendars}[suffix]


def check_vocabulary(file) -> list[Problem]:
    return _load_vocabulary(Path(file))[2]
