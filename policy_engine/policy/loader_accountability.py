"""Building the accountability, scoring and gate sections of a policy file.

A mixin of the loader's builder: its methods use the builder's `add`, `citation`, `test`
and `rule`, so every problem is located and collected with the rest of the file's.
Sections: accountability.sanctions (a sanction ladder), accountability.apportionment
(responsibility per person), scoring (an evaluation sheet, quoted from an article or an
appended form), gates (criteria a matter must meet to proceed).
"""
from __future__ import annotations

import difflib
import re
from typing import TYPE_CHECKING, Any, Sequence, TypeVar

from .model import (Apportionment, Band, Branch, Cited, Level, Measure, Rule, Sanctions, ScoreGroup, ScoreItem,
                    Scoring, Test)
from .sources import cite_label, normalise
from .vocabulary import Fact, Vocabulary

if TYPE_CHECKING:
    from pathlib import Path

    from .loader import Document  # the document loader._Builder is given
    from .model import Citation
    from .sources import SourceIndex

T = TypeVar("T")


def complete(items: Sequence[T | None]) -> tuple[T, ...] | None:
    """The elements as a tuple when every one was built, None when any failed (its problem is recorded)."""
    built = tuple(x for x in items if x is not None)
    return built if len(built) == len(items) else None


class AccountabilityBuilder:
    """Builds the sections named above; mixed into the loader's _Builder."""

    if TYPE_CHECKING:
        # What the methods below use of the builder they are mixed into (loader._Builder defines them).
        doc: Document
        source_path: Path
        quotes: int

        def add(self, code: str, at: tuple, message: str, hint: str | None = None, key: bool = False) -> None: ...

        def citation(self, raw: dict, at: tuple, index: SourceIndex | None, quote: str | None) -> Citation: ...

        def test(self, raw: Any, at: tuple, vocabulary: Vocabulary) -> Test | None: ...

        def rule(self, raw: dict, at: tuple, key: str, index: SourceIndex | None, vocabulary: Vocabulary,
                 generated_at: tuple | None = None) -> Rule | None: ...

    # -- sanction ladder (accountability.sanctions) ------------------------------------------
    def sanctions(self, raw: dict, index, vocabulary: Vocabulary, has_exit: bool) -> Sanctions | None:
        at = ("accountability", "sanctions")
        grounds = [self.rule(r, at + ("grounds", i), "when", index, vocabulary) for i, r in enumerate(raw["grounds"])]
        ground_ids = [g["id"] for g in raw["grounds"]]
        levels = [self.level(lv, at + ("levels", i), index, vocabulary, has_exit, ground_ids)
                  for i, lv in enumerate(raw["levels"])]
        also = [self.rule(r, at + ("also", i), "when", index, vocabulary) for i, r in enumerate(raw.get("also", ()))]
        provisions = [self.provision(r, at + ("provisions", i), index, vocabulary)
                      for i, r in enumerate(raw.get("provisions", ()))]
        built_grounds, built_levels = complete(grounds), complete(levels)
        built_also, built_provisions = complete(also), complete(provisions)
        if built_grounds is None or built_levels is None or built_also is None or built_provisions is None:
            return None
        return Sanctions(built_grounds, built_levels, built_also, built_provisions, raw.get("note"))

    def level(self, raw: dict, at: tuple, index, vocabulary: Vocabulary, has_exit: bool,
              ground_ids: list[str]) -> Level | None:
        applies = self.test(raw["applies_when"], at + ("applies_when",), vocabulary) if "applies_when" in raw else None
        branches = []
        for j, br in enumerate(raw["branches"]):
            b_at = at + ("branches", j)
            cite = self.citation(br["cite"], b_at, index, br["quote"])
            test = self.test(br["when"], b_at + ("when",), vocabulary) if "when" in br else Test("all")
            needs = br.get("ground", True)
            named = tuple(needs) if isinstance(needs, list) else ()
            for k, gid in enumerate(named):
                if gid not in ground_ids:
                    close = difflib.get_close_matches(gid, ground_ids, n=1)
                    self.add("reference", b_at + ("ground", k), f"'{gid}' is not a ground of this ladder",
                             f"did you mean '{close[0]}'?" if close else "grounds: " + ", ".join(ground_ids))
            if test is not None:
                rule = Rule(br["id"], br.get("title") or raw["title"], cite, br["quote"], raw["strength"], test,
                            applies, (), (), br.get("note"))
                branches.append(Branch(rule, needs is not False, named))
        measures = []
        for j, m in enumerate(raw["measures"]):
            m_at = at + ("measures", j)
            cite = self.citation(m["cite"], m_at, index, m["quote"])
            if m.get("removes_expert") and not has_exit:
                self.add("reference", m_at + ("removes_expert",),
                         "removes_expert: the policy has no exit decision (exit.triggers or exit.term) for the removal "
                         "to agree with", "encode the exit triggers first, or leave removes_expert out", key=True)
            measures.append(Measure(m["id"], m["title"], cite, m["quote"], m["strength"],
                                    bool(m.get("removes_expert")), m.get("note")))
        if ("applies_when" in raw and applies is None) or len(branches) != len(raw["branches"]):
            return None
        return Level(raw["id"], raw["outcome"], raw["title"], raw["strength"], tuple(branches), tuple(measures),
                     raw.get("note"))

    def provision(self, raw: dict, at: tuple, index, vocabulary: Vocabulary) -> Rule | None:
        """A provision is a rule that always holds where it applies (who decides, who is told)."""
        cite = self.citation(raw["cite"], at, index, raw["quote"])
        applies = self.test(raw["applies_when"], at + ("applies_when",), vocabulary) if "applies_when" in raw else None
        if "applies_when" in raw and applies is None:
            return None
        return Rule(raw["id"], raw["title"], cite, raw["quote"], raw["strength"], Test("all"), applies, (), (),
                    raw.get("note"))

    # -- apportionment (accountability.apportionment) ----------------------------------------
    def apportionment(self, raw: dict, index, vocabulary: Vocabulary) -> Apportionment | None:
        at = ("accountability", "apportionment")
        each, alias = raw["each"], raw.get("as", "person")
        fact = self.fact_of(each, at + ("each",), vocabulary, "events")
        if alias in vocabulary.namespaces:
            self.add("vocabulary", at + ("as",), f"'{alias}' is already a namespace of facts ({alias}.*)",
                     "choose another name for one record, e.g. as: person")
        o = raw["otherwise"]
        otherwise = Cited(o["id"], None, self.citation(o["cite"], at + ("otherwise",), index, o["quote"]).label,
                          o["quote"], o.get("note"))
        if fact is None or alias in vocabulary.namespaces:
            return None
        extended = dict(vocabulary.facts)
        extended[f"{alias}.kind"] = Fact(f"{alias}.kind", "enum", f"{each} 记录的种类", tuple(fact.kinds), origin=self.doc.file)
        extended[f"{alias}.date"] = Fact(f"{alias}.date", "date", f"{each} 记录的日期", origin=self.doc.file)
        for kind in fact.kinds.values():
            for f in kind.fields.values():
                name = f"{alias}.{f.name}"
                made = Fact(name, f.type, f.description, f.values, origin=self.doc.file)
                if name in extended and (extended[name].type, extended[name].values) != (made.type, made.values):
                    self.add("vocabulary", at + ("each",), f"field '{f.name}' has different types in the kinds of {each}")
                extended.setdefault(name, made)
        record_vocabulary = Vocabulary.of(extended)
        rules = []
        for i, r in enumerate(raw["rules"]):
            rule = self.rule(r, at + ("rules", i), "when", index, record_vocabulary)
            if rule is not None:
                rules.append((rule, r["assigns"]))
        if len(rules) != len(raw["rules"]):
            return None
        return Apportionment(each, alias, tuple(rules), otherwise, record_vocabulary.facts, raw.get("note"))

    # -- scoring ------------------------------------------------------------------------------
    def fact_of(self, name: str, at: tuple, vocabulary: Vocabulary, type_: str):
        fact = vocabulary.facts.get(name)
        if fact is None:
            close = vocabulary.closest(name)
            self.add("unknown_fact", at, f"unknown fact '{name}'",
                     f"did you mean '{close[0]}'?" if close else "declare it in a shared vocabulary")
            return None
        if fact.type != type_:
            self.add("vocabulary", at, f"'{name}' is a fact of type {fact.type}; here a fact of type {type_} is needed")
            return None
        return fact

    def place(self, raw: dict, at: tuple, index) -> str:
        """The label of an element's `cite:` (an article) or `form:` (an appended form), quote verified."""
        if ("cite" in raw) == ("form" in raw):
            self.add("citation", at, "give either cite: (an article) or form: (an appended form such as 附表3)"
                     + (", not both" if "cite" in raw else ""), "e.g. form: {appendix: 3}")
            return "?"
        if "cite" in raw:
            return self.citation(raw["cite"], at, index, raw["quote"]).label
        number = raw["form"]["appendix"]
        label = cite_label(number, appendix=True)
        if index is None:
            return label
        try:
            form = index.appendix(number)
        except LookupError as exc:
            self.add("citation", at + ("form",), f"{label}: {exc}",
                     "the source's forms are numbered as its 附表 headings: 附表1, 附表2 ...")
            return label
        quote = normalise(raw["quote"], index.steps)
        if quote and quote in form.norm:
            self.quotes += 1
        else:
            closest = index._closest(form.text, quote) if quote else None
            self.add("quote_not_found", at + ("quote",), f"quote is not in {label} of {self.source_path.name}",
                     f'closest passage: "{closest}"' if closest else None)
        return label

    def bands(self, bands: list[Band], low: int, high: int, at: tuple, quote: str, unit: str) -> None:
        """Bands cover low..high without gaps or overlaps, and each is printed so in the quote."""
        # Only bands with points come here: item bands (the schema requires min and max) and grade bands once
        # every grade has both; `spans` keeps each band with its bounds, typed as present.
        spans = [(band, band.low, band.high) for band in bands if band.low is not None and band.high is not None]
        if len(spans) != len(bands):
            raise AssertionError("bands without min and max cannot be checked as a range")
        text = normalise(quote, ("whitespace",))
        for k, (band, band_low, band_high) in enumerate(spans):
            if band_low > band_high:
                self.add("score_sheet", at + (k, "min"), f"band {band.label}: min {band_low} is above max {band_high}")
                return
            ranges = [f"{band_low}-{band_high}"] if band_low != band_high else [f"{band_low}"]
            if band_low == 0 and unit:
                ranges += [f"＜{band_high + 1}", f"<{band_high + 1}"]
            if not any(f"{band.label}（{r}{unit}）" in text for r in ranges):
                printed = re.findall(re.escape(band.label) + r"（[^）]*）", text)
                self.add("score_sheet", at + (k,), f"band {band.label} {band_low}-{band_high} is not what the quote prints",
                         f"the quote prints {'、'.join(printed)}" if printed else
                         f"the quote has no band {band.label}（…）: quote the item with its bands")
        order = sorted(range(len(spans)), key=lambda k: spans[k][1])
        expect = low
        for k in order:
            band, band_low, band_high = spans[k]
            if band_low > expect:
                gap = f"{expect}" if expect == band_low - 1 else f"{expect}-{band_low - 1}"
                self.add("score_sheet", at + (k, "min"), f"the bands leave {gap} uncovered",
                         f"the bands must cover {low}-{high} without gaps")
            elif band_low < expect:
                self.add("score_sheet", at + (k, "min"), f"band {band.label} overlaps the band below it at {band_low}",
                         f"the bands must cover {low}-{high} without overlaps")
            expect = max(expect, band_high + 1)
        if expect != high + 1:
            self.add("score_sheet", at, f"the bands end at {expect - 1}, the maximum is {high}",
                     f"the bands must cover {low}-{high}")

    def scoring(self, raw: dict, index, vocabulary: Vocabulary, triggers) -> Scoring | None:
        at = ("scoring",)
        s = raw["sheet"]
        sheet = Cited(s["id"], s.get("title"), self.citation(s["cite"], at + ("sheet",), index, s["quote"]).label,
                      s["quote"], s.get("note"))
        if "date" in s:
            self.fact_of(s["date"], at + ("sheet", "date"), vocabulary, "date")
        groups = []
        for i, g in enumerate(raw.get("groups", ())):
            g_at: tuple = at + ("groups", i)
            g_label = self.place(g, g_at, index)
            items = []
            for j, it in enumerate(g["items"]):
                i_at = g_at + ("items", j)
                label = self.place(it, i_at, index)
                self.fact_of(it["fact"], i_at + ("fact",), vocabulary, "integer")
                bands = [Band(b["label"], b["min"], b["max"]) for b in it["bands"]]
                self.bands(bands, 0, it["max"], i_at + ("bands",), it["quote"], "")
                if f"（{it['max']}分）" not in normalise(it["quote"], ("whitespace",)):
                    self.add("score_sheet", i_at + ("max",), f"the quote does not print the maximum （{it['max']}分）",
                             "quote the item's heading with its points, e.g. 1.专业知识储备（10分）")
                items.append(ScoreItem(it["id"], it["title"], it["fact"], it["max"], label, it["quote"], tuple(bands),
                                       it.get("note")))
            if sum(item.max for item in items) != g["max"]:
                self.add("score_sheet", g_at + ("max",), f"the group's maximum {g['max']} differs from the sum of its "
                         f"items' maxima ({sum(item.max for item in items)})", "check each item's max against the form")
            if f"（{g['max']}分）" not in normalise(g["quote"], ("whitespace",)):
                self.add("score_sheet", g_at + ("max",), f"the quote does not print the maximum （{g['max']}分）")
            groups.append(ScoreGroup(g["id"], g["title"], g["max"], g_label, g["quote"], tuple(items), g.get("note")))
        total = total_fact = None
        if "total" in raw:
            t = raw["total"]
            total = Cited(t["id"], t.get("title"), self.place(t, at + ("total",), index), t["quote"], t.get("note"))
            total_fact = t["fact"]
            self.fact_of(total_fact, at + ("total", "fact"), vocabulary, "integer")
            if not groups:
                self.add("score_sheet", at + ("total",), "a total needs items to add up", "give groups: with items, or leave out total:", key=True)
        gr = raw["grades"]
        g_at = at + ("grades",)
        grades = Cited(gr["id"], gr.get("title"), self.place(gr, g_at, index), gr["quote"], gr.get("note"))
        grade_fact = self.fact_of(gr["fact"], g_at + ("fact",), vocabulary, "enum")
        bands = [Band(b["label"], b.get("min"), b.get("max"), b["grade"]) for b in gr["bands"]]
        with_points = [b.low is not None and b.high is not None for b in bands]
        maximum = sum(g.max for g in groups)
        if any(with_points) and not all(with_points):
            self.add("score_sheet", g_at + ("bands",), "give min and max for every grade, or for none")
        elif groups and not all(with_points):
            self.add("score_sheet", g_at + ("bands",), "a sheet with items grades by points: give each grade min and max")
        elif not groups and any(with_points):
            self.add("score_sheet", g_at + ("bands",), "without items there are no points: leave out min and max, "
                     "the case states the grade")
        elif groups:
            self.bands(bands, 0, maximum, g_at + ("bands",), gr["quote"], "分")
        else:
            text = normalise(gr["quote"], ("whitespace",))
            for k, band in enumerate(bands):
                if band.label not in text:
                    self.add("score_sheet", g_at + ("bands", k, "label"), f"the quote does not name the grade {band.label}")
        seen_grades = set()
        for k, band in enumerate(bands):
            if grade_fact is not None and band.grade not in grade_fact.values:
                close = difflib.get_close_matches(band.grade, grade_fact.values, n=1)
                self.add("unknown_fact", g_at + ("bands", k, "grade"), f"'{band.grade}' is not a value of {gr['fact']}",
                         f"did you mean '{close[0]}'?" if close else "values: " + ", ".join(grade_fact.values))
            if band.grade in seen_grades:
                self.add("score_sheet", g_at + ("bands", k, "grade"), f"grade '{band.grade}' is given twice")
            seen_grades.add(band.grade)
        by_id = {r.id: r for r in triggers if r is not None}
        feeds = []
        for k, rid in enumerate(raw.get("feeds", ())):
            if rid not in by_id:
                close = difflib.get_close_matches(rid, list(by_id), n=1)
                self.add("reference", at + ("feeds", k), f"'{rid}' is not an exit trigger of this policy",
                         f"did you mean '{close[0]}'?" if close else "exit triggers: " + (", ".join(by_id) or "none"))
            elif not any(vocabulary.facts[f].type == "events" and "evaluation" in vocabulary.facts[f].kinds
                         for f in by_id[rid].test.facts()):
                self.add("reference", at + ("feeds", k), f"exit trigger '{rid}' counts no evaluation events",
                         "feeds: lists triggers whose condition reads events of kind evaluation (expert.events)")
            else:
                feeds.append(by_id[rid])
        if raw.get("feeds") and "date" not in s:
            self.add("score_sheet", at + ("sheet",), "feeds: needs the evaluation's date to add it to expert.events",
                     "add date: evaluation.date to the sheet")
        return Scoring(sheet, s["strength"], s.get("date"), tuple(groups), total, total_fact, grades, gr["fact"],
                       tuple(bands), tuple(feeds), raw.get("note"))



def element_ids(data: dict):
    """(id, path) of every element of the accountability, scoring and gate sections."""
    acc = data.get("accountability", {})
    s = acc.get("sanctions", {})
    base = ("accountability", "sanctions")
    for key in ("grounds", "also", "provisions"):
        for i, r in enumerate(s.get(key, ())):
            yield r["id"], base + (key, i, "id")
    for i, lv in enumerate(s.get("levels", ())):
        for key in ("branches", "measures"):
            for j, r in enumerate(lv[key]):
                yield r["id"], base + ("levels", i, key, j, "id")
    a = acc.get("apportionment")
    if a:
        for i, r in enumerate(a["rules"]):
            yield r["id"], ("accountability", "apportionment", "rules", i, "id")
        yield a["otherwise"]["id"], ("accountability", "apportionment", "otherwise", "id")
    sc = data.get("scoring")
    if sc:
        yield sc["sheet"]["id"], ("scoring", "sheet", "id")
        for i, g in enumerate(sc.get("groups", ())):
            yield g["id"], ("scoring", "groups", i, "id")
            for j, it in enumerate(g["items"]):
                yield it["id"], ("scoring", "groups", i, "items", j, "id")
        if "total" in sc:
            yield sc["total"]["id"], ("scoring", "total", "id")
        yield sc["grades"]["id"], ("scoring", "grades", "id")
    for i, r in enumerate(data.get("gates", {}).get("rules", ())):
        yield r["id"], ("gates", "rules", i, "id")
