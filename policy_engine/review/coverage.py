"""Coverage of a policy version: what its rules reach of the source text, and what its goldens
see its rules do.

**Articles.** Every article (条), paragraph (款, of an article with more than one), item (项),
sub-item (目) and appended form (附表N) of the policy's own source text, in text order
(policy/units.py), gets one status:

* ``cited``: an element of the policy cites it or a part of it, or cites the unit it belongs to
  (a cite of a whole article covers its paragraphs and items) and no declaration below says
  otherwise. Every cite counts wherever it stands: rules and their ``unless`` exceptions, the
  term and its limits, deadlines (and their ``last_day_on_holiday``), ladders (steps, periods,
  combine, levels, branches, measures, groups, adjustments, also, provisions), apportionment,
  score sheets, gates, scope and classification, selection (modes, filters, draw provisions,
  exclusions, panel rules), ``in_force``, ``governing_version`` and ``supersedes``. Cites in
  ``source_defects`` do not: they record a defect, not an encoding. ``rules`` names the elements
  citing it (by id; an element without one, such as ``in_force``, by its path).
* ``not_encoded``: the policy declares it, or a unit it belongs to, under ``not_encoded:``
  (``reason`` is that declaration's); a unit whose parts are all declared is declared too.
* ``uncovered``: neither.

**Rules.** Every element whose finding can come out either way: entry criteria, the term and
its limits, exit triggers, recusal grounds, deadlines, gates, scope entries with ``when``,
classification categories, the ladder's grounds, branches, adjustments and ``also`` rules, its
measures and provisions that have ``applies_when``, apportionment rules, selection exclusions
and panel rules, and the mandatory filters of the selection modes. Elements that always give
one result (steps, levels, combine, unconditional measures and provisions, score sheets,
modes, draw provisions) are not rules here; their cites still count above.

``seen`` counts the results the golden verdicts and receipts of that version give each rule:

* verdict findings, by their ``result``;
* draw receipts: their findings; for each recusal ground and exclusion of the receipt's
  ``rules``, ``fired`` for each expert it passed over, and for each candidate its ``to_confirm``
  result for that rule, else ``not_fired`` (the rule was judged and did not hold); for a
  mandatory filter of the request's mode, ``fired`` for each expert it passed over and
  ``not_fired`` for each candidate;
* apportionment verdicts name only the rule that assigned each person (the first that holds,
  in order): the rules before it did not hold for that person and count ``not_fired``.

``ways``: ``both`` when a positive and a negative result were seen, ``one`` when only one of
them, ``never`` when neither (only unknown, error, exempt, or nothing at all). Positive: the
rule held against the case (``passed``, ``fired``, ``lapsed``, ``member``, ``applies``,
``assigned``). Negative: it did not (``failed``, ``not_fired``, ``running``, ``not_member``,
``none``; ``not_applicable`` for the elements whose answer is applies or not: scope entries,
measures, provisions, adjustments and ``also`` rules). Neither: ``unknown`` and ``error`` (not
settled), ``exempt`` (an exception of the article set the rule aside), ``not_applicable`` of
other rules (``applies_when`` false: the condition itself was not judged), ``not_available``
(a removal measure the exit decision does not allow), ``scored``.

The goldens are read as stored (the review page has them parsed already) rather than decided
again: coverage then describes the very verdicts the suite checks byte for byte, and needs no
pool, seed or calendar. Only documents of the same policy id and version count.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..errors import Problem, problem
from ..textio import ReadFailure, read_text

from ..policy.model import Policy, Rule
from ..policy.units import Unit, ancestors

POSITIVE = frozenset({"passed", "fired", "lapsed", "member", "applies", "assigned"})
NEGATIVE = frozenset({"failed", "not_fired", "running", "not_member", "none"})
APPLIES_KINDS = frozenset({"scope", "measure", "provision", "adjustment", "also"})  # not_applicable is their negative

__all__ = ["golden_documents", "ArticleCoverage", "RuleCoverage", "PolicyCoverage", "RuleRef", "coverage_of", "rules_of", "seen_in",
           "ways_of", "POSITIVE", "NEGATIVE"]


@dataclass(frozen=True, slots=True)
class RuleRef:
    id: str
    decision: str  # the question it answers (entry, exit, ...; selection for draws and panel checks)
    cite: str
    kind: str  # criterion | trigger | term | scope | category | measure | provision | adjustment | also | apportion | filter


@dataclass(frozen=True, slots=True)
class ArticleCoverage:
    cite: str
    article: str
    level: str  # article | paragraph | item | subitem | form
    status: str  # cited | not_encoded | uncovered
    rules: tuple[str, ...]
    reason: str | None

    def to_json(self) -> dict:
        return {"cite": self.cite, "article": self.article, "status": self.status, "rules": list(self.rules),
                "reason": self.reason}


@dataclass(frozen=True, slots=True)
class RuleCoverage:
    rule: str
    decision: str
    cite: str
    seen: Mapping[str, int]
    ways: str  # both | one | never

    def to_json(self) -> dict:
        return {"rule": self.rule, "decision": self.decision, "cite": self.cite,
                "seen": {k: self.seen[k] for k in sorted(self.seen)}, "ways": self.ways}


@dataclass(frozen=True, slots=True)
class PolicyCoverage:
    id: str
    version: str
    sha256: str
    articles: tuple[ArticleCoverage, ...]
    rules: tuple[RuleCoverage, ...]

    @property
    def totals(self) -> dict[str, int]:
        status = Counter(a.status for a in self.articles)
        ways = Counter(r.ways for r in self.rules)
        return {"articles": len(self.articles), "cited": status["cited"], "not_encoded": status["not_encoded"],
                "uncovered": status["uncovered"], "rules": len(self.rules), "both": ways["both"],
                "one": ways["one"], "never": ways["never"]}

    def articles_percent(self) -> float:
        """Share of the units cited or declared not encoded, in percent (100 for a text without units)."""
        t = self.totals
        return 100.0 * (t["cited"] + t["not_encoded"]) / t["articles"] if t["articles"] else 100.0

    def rules_percent(self) -> float:
        """Share of the rules seen both ways, in percent (100 for a policy without rules)."""
        t = self.totals
        return 100.0 * t["both"] / t["rules"] if t["rules"] else 100.0

    def to_json(self) -> dict:
        return {"policy": {"id": self.id, "version": self.version, "sha256": self.sha256},
                "articles": [a.to_json() for a in self.articles],
                "rules": [r.to_json() for r in self.rules],
                "totals": self.totals}

    def render_text(self, detail: bool = True) -> str:
        """A summary line per policy; with `detail`, the uncovered units and the rules not seen both ways."""
        t = self.totals
        whole = [a for a in self.articles if a.level in ("article", "form")]
        by = Counter(a.status for a in whole)
        lines = [f"{self.id} {self.version}: articles {len(whole)} (cited {by['cited']}, not encoded "
                 f"{by['not_encoded']}, uncovered {by['uncovered']}); all units {t['articles']} (cited {t['cited']}, "
                 f"not encoded {t['not_encoded']}, uncovered {t['uncovered']}; {self.articles_percent():.1f}% "
                 f"cited or declared); rules {t['rules']} (both ways {t['both']}, one way {t['one']}, never "
                 f"{t['never']}; {self.rules_percent():.1f}% both ways)"]
        if not detail:
            return "\n".join(lines)
        uncovered = [a.cite for a in self.articles if a.status == "uncovered"]
        if uncovered:
            lines.append("  uncovered: " + ", ".join(uncovered))
        for r in self.rules:
            if r.ways != "both":
                seen = ", ".join(f"{k} {v}" for k, v in sorted(r.seen.items())) or "no finding"
                lines.append(f"  {r.ways:5} {r.rule} ({r.decision}, {r.cite}): {seen}")
        return "\n".join(lines)


def rules_of(policy: Policy) -> list[RuleRef]:
    """The policy's rules in the sense of this module (see the module's docstring), in file order per section."""
    out: list[RuleRef] = []

    def add(rules: Iterable[Rule], decision: str, kind: str) -> None:
        out.extend(RuleRef(r.id, decision, r.cite.label, kind) for r in rules)

    add(policy.criteria, "entry", "criterion")
    if policy.term is not None:
        out.append(RuleRef("term", "exit", policy.term.cite.label, "term"))
        add(policy.term.limits, "exit", "criterion")
    add(policy.triggers, "exit", "trigger")
    add(policy.grounds, "recusal", "trigger")
    add(policy.deadlines, "deadline", "criterion")
    add(policy.gates, "gate", "criterion")
    add(policy.scope_rules, "applies", "scope")
    if policy.classification is not None:
        add(policy.classification.categories, "classify", "category")
    s = policy.sanctions
    if s is not None:
        add(s.grounds, "sanction", "trigger")
        add((b.rule for lv in s.levels for b in lv.branches), "sanction", "trigger")
        add(s.also, "sanction", "also")
        add((p for p in s.provisions if p.applies_when is not None), "sanction", "provision")
        add((a.rule for a in s.adjustments), "sanction", "adjustment")
        out.extend(RuleRef(m.id, "sanction", m.cite.label, "measure")
                   for lv in s.levels for m in lv.measures if m.applies is not None)
    if policy.apportionment is not None:
        add((r for r, _ in policy.apportionment.rules), "apportion", "apportion")
    sel = policy.selection
    if sel is not None:
        add(sel.exclusions, "selection", "trigger")
        add(sel.panel, "selection", "criterion")
        seen_filters: set[str] = set()
        for mode in sel.modes:
            for f in mode.mandatory_filters:
                if f.id not in seen_filters:
                    seen_filters.add(f.id)
                    out.append(RuleRef(f.id, "selection", f.cite.label, "filter"))
    return out


def _same_version(doc: Any, policy: Policy) -> bool:
    p = doc.get("policy") if isinstance(doc, Mapping) else None
    return isinstance(p, Mapping) and p.get("id") == policy.id and p.get("version") == policy.version


def seen_in(policy: Policy, results: Iterable[Any]) -> dict[str, Counter]:
    """Per rule id, the results the documents (verdicts and receipts of this version) give it."""
    seen: dict[str, Counter] = {}

    def count(rule: str, result: str, n: int = 1) -> None:
        if n:
            seen.setdefault(rule, Counter())[result] += n

    order = [r.id for r, _ in policy.apportionment.rules] if policy.apportionment is not None else []
    otherwise = policy.apportionment.otherwise.id if policy.apportionment is not None else None
    for doc in results:
        if not _same_version(doc, policy):
            continue
        findings = doc.get("findings") or []
        for f in findings:
            count(f["rule"], f["result"])
        if doc.get("decision") == "apportion":
            for f in findings:
                if f["rule"] == otherwise and f["result"] != "none":
                    continue  # the people are not listed: no rule was judged
                before = order.index(f["rule"]) if f["rule"] in order else len(order)
                for rid in order[:before]:
                    count(rid, "not_fired")
        if "groups" in doc:
            _receipt(policy, doc, count)
    return seen


def _receipt(policy: Policy, doc: Mapping, count) -> None:
    groups = doc.get("groups") or []
    candidates = [c for g in groups for c in g.get("candidates") or []]
    for r in doc.get("rules") or []:
        count(r["rule"], "fired", r.get("excluded", 0))
        for c in candidates:
            confirm = {t["rule"]: t["result"] for t in c.get("to_confirm") or []}
            count(r["rule"], confirm.get(r["rule"], "not_fired"))
    sel = policy.selection
    mode = sel.mode(str((doc.get("request") or {}).get("mode"))) if sel is not None else None
    if mode is None:
        return
    ids = {f.id for f in mode.mandatory_filters}
    for g in groups:
        for e in g.get("excluded") or []:
            for reason in e.get("reasons") or []:
                if reason.get("kind") == "filter" and reason.get("rule") in ids:
                    count(reason["rule"], "fired")
    for fid in sorted(ids):
        count(fid, "not_fired", len(candidates))


def ways_of(kind: str, seen: Mapping[str, int]) -> str:
    """both, one or never (see the module's docstring for which results are positive and negative)."""
    results = {k for k, v in seen.items() if v}
    negative = NEGATIVE | ({"not_applicable"} if kind in APPLIES_KINDS else set())
    pos, neg = bool(results & POSITIVE), bool(results & negative)
    return "both" if pos and neg else "one" if pos or neg else "never"


def coverage_of(policy: Policy, results: Iterable[Any]) -> PolicyCoverage:
    """The coverage of `policy` by its elements' cites, its not_encoded declarations and the golden
    documents `results` (parsed verdicts and receipts; those of other policies or versions are ignored)."""
    seen = seen_in(policy, results)
    rules = tuple(RuleCoverage(r.id, r.decision, r.cite, dict(seen.get(r.id, {})),
                               ways_of(r.kind, seen.get(r.id, {})))
                  for r in rules_of(policy))
    return PolicyCoverage(policy.id, policy.version, policy.sha256, _articles(policy), rules)


def _articles(policy: Policy) -> tuple[ArticleCoverage, ...]:
    units: list[Unit] = list(policy.units)
    children: dict[Any, list[Any]] = {}
    for u in units:
        if u.parent is not None:
            children.setdefault(u.parent, []).append(u.key)
    direct: dict[Any, list[str]] = {}  # unit -> elements citing it or a part of it
    whole: dict[Any, list[str]] = {}  # unit -> elements citing a unit it belongs to
    for c in policy.citations:
        if c.key is None:
            continue
        for k in (c.key, *ancestors(c.key)):
            _add(direct, k, c.element)
    for c in policy.citations:
        if c.key is None:
            continue
        stack = list(children.get(c.key, ()))
        while stack:
            k = stack.pop()
            _add(whole, k, c.element)
            stack.extend(children.get(k, ()))
    declared: dict[Any, str] = {}
    for d in policy.not_encoded:
        for key in d.keys:
            declared[key] = d.reason
            stack = list(children.get(key, ()))
            while stack:
                k = stack.pop()
                declared.setdefault(k, d.reason)
                stack.extend(children.get(k, ()))
    # a unit all of whose parts are declared is declared (deepest first: text order reversed)
    for u in reversed(units):
        kids = children.get(u.key)
        if u.key not in declared and kids and all(k in declared for k in kids):
            reasons = list(dict.fromkeys(declared[k] for k in kids))
            declared[u.key] = "；".join(reasons)
    out = []
    for u in units:
        if u.key in direct:
            out.append(ArticleCoverage(u.label, u.article, u.level, "cited", tuple(direct[u.key]), None))
        elif u.key in declared:
            out.append(ArticleCoverage(u.label, u.article, u.level, "not_encoded", (), declared[u.key]))
        elif u.key in whole:
            out.append(ArticleCoverage(u.label, u.article, u.level, "cited", tuple(whole[u.key]), None))
        else:
            out.append(ArticleCoverage(u.label, u.article, u.level, "uncovered", (), None))
    return tuple(out)


def _add(table: dict[Any, list[str]], key: Any, element: str) -> None:
    names = table.setdefault(key, [])
    if element not in names:
        names.append(element)


GOLDEN_SUFFIXES = (".verdict.json", ".receipt.json")  # stored verdicts and draw receipts (not rejections)
GOLDEN_LIMIT = 16 << 20  # as report/golden.py reads them


def golden_documents(root: str | Path) -> tuple[list[Any], list[Problem]]:
    """The stored golden verdicts and receipts under a fixtures folder (or one file), parsed, in
    path order, and a problem for each that cannot be read as JSON (the golden suite reports it too)."""
    root = Path(root)
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.name.endswith(GOLDEN_SUFFIXES))
    docs: list[Any] = []
    problems: list[Problem] = []
    for file in files:
        try:
            docs.append(json.loads(read_text(file, GOLDEN_LIMIT, what="golden file")))
        except ReadFailure as exc:
            problems.append(exc.problem)
        except ValueError as exc:
            problems.append(problem("file_unreadable", f"not JSON: {exc}", file=str(file),
                                    hint="run policy-engine test --update to store it again"))
    return docs, problems
