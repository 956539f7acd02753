"""Building the scope and classification sections of a policy file (the applies and classify questions).

A mixin of the loader's builder, like loader_accountability: its methods use the
builder's `add`, `citation` and `rule`, so every problem is located and collected with
the rest of the file's.

- scope: each entry cites and quotes an article saying whom or what the regulation
  governs, and how (applies: directly | by_reference). An entry with `when` (a condition
  over the subject: subject.* facts) is evaluated by the applies decision; an entry
  without it (a definition, the body that manages) stays descriptive.
- classification: categories a person or matter falls into, each with its label in the
  regulation's words, its cited passage and its condition (`when`), and how many may
  hold (cardinality: exactly_one, at_least_one, any).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .model import Classification, Rule, Scope
from .lazy_sources import sources as _sources
from .vocabulary import Vocabulary

if TYPE_CHECKING:
    from .loader import Document  # the document loader._Builder is given
    from .model import Citation
    from .sources import SourceIndex


class QuestionsBuilder:
    """Builds the sections named above; mixed into the loader's _Builder."""

    if TYPE_CHECKING:
        doc: Document

        def add(self, code: str, at: tuple, message: str, hint: str | None = None, key: bool = False) -> None: ...

        def citation(self, raw: dict, at: tuple, index: SourceIndex | None, quote: str | None) -> Citation: ...

        def rule(self, raw: dict, at: tuple, key: str, index: SourceIndex | None, vocabulary: Vocabulary,
                 generated_at: tuple | None = None) -> Rule | None: ...

    # -- scope (the applies decision) ---------------------------------------------------------
    def scope(self, entries: Any, index, vocabulary: Vocabulary) -> tuple[Scope, ...]:
        out: list[Scope] = []
        seen: dict[str, int] = {}
        for i, s in enumerate(entries or ()):
            at: tuple = ("scope", i)
            if s["id"] in seen:
                self.add("duplicate_rule", at + ("id",), f"scope id '{s['id']}' is also used at scope[{seen[s['id']]}]",
                         "verdicts name scope entries by id; give each its own")
            seen.setdefault(s["id"], i)
            applies = s.get("applies", "directly")
            rule = None
            if "when" in s:
                raw = {**s, "strength": "mandatory"}  # 适用 / 参照执行: the text's instruction
                rule = self.rule(raw, at, "when", index, vocabulary)
                cite = rule.cite if rule is not None else self.citation(s["cite"], at, None, None)
            else:
                if "unless" in s:
                    self.add("schema", at + ("unless",), "a scope entry's unless: needs its when:",
                             "write when: (the subjects the entry names) before the exceptions to it")
                cite = self.citation(s["cite"], at, index, s["quote"])
            out.append(Scope(s["id"], cite, s["quote"], applies, s.get("note"), rule))
        return tuple(out)

    # -- classification (the classify decision) ---------------------------------------------
    def classification(self, raw: dict, index, vocabulary: Vocabulary) -> Classification | None:
        at: tuple = ("classification",)
        cite = self.citation(raw["cite"], at, index, raw["quote"])
        categories: list[Rule | None] = []
        seen: dict[str, int] = {}
        for i, c in enumerate(raw["categories"]):
            c_at = at + ("categories", i)
            if c["id"] in seen or c["id"] == raw["id"]:
                where = f"categories[{seen[c['id']]}]" if c["id"] in seen else "classification.id"
                self.add("duplicate_rule", c_at + ("id",), f"category id '{c['id']}' is also used at {where}",
                         "verdicts name categories by id; give each its own")
            seen.setdefault(c["id"], i)
            if _sources.normalise(c["label"], ("whitespace",)) not in _sources.normalise(c["quote"], ("whitespace",)):
                self.add("quote_not_found", c_at + ("label",),
                         f"the label '{c['label']}' is not in the category's quote",
                         "a category's label is the regulation's own name for it: copy it from the quoted words "
                         "(or quote the passage that names it)")
            rule_raw = {"strength": raw.get("strength", "mandatory"), **c, "title": c["label"]}
            categories.append(self.rule(rule_raw, c_at, "when", index, vocabulary))
        built = tuple(r for r in categories if r is not None)
        if len(built) != len(categories):
            return None
        return Classification(raw["id"], raw.get("title"), cite, raw["quote"], raw.get("strength", "mandatory"),
                              raw["cardinality"], built, raw.get("note"))

