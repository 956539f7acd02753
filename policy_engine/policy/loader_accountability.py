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
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Sequence, TypeVar

from .model import (Adjustment, AmountRange, Apportionment, Band, Branch, Cited, Combine, Exception_, Level, Measure, MeasureGroup, Period,
                    Rule, SamePeriods, SanctionStep, Sanctions, ScoreGroup, ScoreItem, Scoring, Test)
from .lazy_sources import sources as _sources
from .vocabulary import Fact, Vocabulary

if TYPE_CHECKING:
    from pathlib import Path

    from .expr import Condition
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
        cited: list

        def add(self, code: str, at: tuple, message: str, hint: str | None = None, key: bool = False) -> None: ...

        def citation(self, raw: dict, at: tuple, index: SourceIndex | None, quote: str | None) -> Citation: ...

        def test(self, raw: Any, at: tuple, vocabulary: Vocabulary) -> Test | None: ...

        def condition(self, source: str, at: tuple, vocabulary: Vocabulary) -> Condition | None: ...

        def rule(self, raw: dict, at: tuple, key: str, index: SourceIndex | None, vocabulary: Vocabulary,
                 generated_at: tuple | None = None) -> Rule | None: ...

    # -- sanction ladder (accountability.sanctions) ------------------------------------------
    def sanctions(self, raw: dict, index, vocabulary: Vocabulary, has_exit: bool) -> Sanctions | None:
        at = ("accountability", "sanctions")
        steps = self.steps(raw["steps"], at + ("steps",), index, vocabulary)
        step_ids = [st.id for st in steps]
        case_vocabulary = vocabulary
        each = None
        if "each" in raw:
            alias = raw.get("as", "act")
            record = self.record_vocabulary(raw["each"], alias, at, vocabulary)
            if record is None:
                return None
            vocabulary, each = record, (raw["each"], alias)
        elif "as" in raw:
            self.add("reference", at + ("as",), "as: names one record of each:, and there is no each:",
                     "add each: <list fact> (e.g. each: official.violations) or leave out as:", key=True)
        grounds = [self.rule(r, at + ("grounds", i), "when", index, vocabulary) for i, r in enumerate(raw["grounds"])]
        ground_ids = [g["id"] for g in raw["grounds"]]
        levels = [self.level(lv, at + ("levels", i), index, vocabulary, has_exit, ground_ids, step_ids)
                  for i, lv in enumerate(raw["levels"])]
        also = [self.rule(r, at + ("also", i), "when", index, vocabulary) for i, r in enumerate(raw.get("also", ()))]
        provisions = [self.provision(r, at + ("provisions", i), index, vocabulary)
                      for i, r in enumerate(raw.get("provisions", ()))]
        adjustments = [self.adjustment(r, at + ("adjustments", i), index, vocabulary, step_ids)  # may read the act
                       for i, r in enumerate(raw.get("adjustments", ()))]
        combine = self.combine(raw["combine"], at + ("combine",), index, step_ids) if "combine" in raw else None
        start = None
        if "period_start" in raw:
            ps = raw["period_start"]
            self.fact_of(ps["fact"], at + ("period_start", "fact"), case_vocabulary, "date")
            start = (ps["fact"], self.citation(ps["cite"], at + ("period_start",), index, ps["quote"]).label, ps["quote"])
            if not any(st.period for st in steps):
                self.add("reference", at + ("period_start",), "period_start: no step declares a period to start",
                         "give the steps their period: (months, cite, quote), or leave out period_start", key=True)
        built_grounds, built_levels = complete(grounds), complete(levels)
        built_also, built_provisions, built_adjustments = complete(also), complete(provisions), complete(adjustments)
        if (built_grounds is None or built_levels is None or built_also is None or built_provisions is None
                or built_adjustments is None or len(set(step_ids)) != len(step_ids)):
            return None
        return Sanctions(built_grounds, built_levels, built_also, built_provisions, raw.get("note"), tuple(steps),
                         combine, start, built_adjustments, each,
                         vocabulary.facts if each else None)

    def steps(self, raw: list, at: tuple, index, vocabulary: Vocabulary) -> list[SanctionStep]:
        """The ladder's own steps, lightest first (rank = list position); `vocabulary`: the case's."""
        out: list[SanctionStep] = []
        for i, st in enumerate(raw):
            s_at = at + (i,)
            if any(o.id == st["id"] for o in out):
                self.add("duplicate_rule", s_at + ("id",), f"step id '{st['id']}' is declared twice",
                         "each step of the ladder has its own id; levels name steps by it")
            cite = self.citation(st["cite"], s_at, index, st["quote"]).label
            if _sources.normalise(st["label"], ("whitespace",)) not in _sources.normalise(st["quote"], ("whitespace",)):
                self.add("quote_not_found", s_at + ("label",), f"the label '{st['label']}' is not in the step's quote",
                         "the label is the regulation's own word for the step: quote the words that contain it")
            period = self.period(st["period"], s_at + ("period",), index, vocabulary) if "period" in st else None
            out.append(SanctionStep(st["id"], st["label"], i, cite, st["quote"], period, st.get("note")))
        return out

    def period(self, p: dict, at: tuple, index, vocabulary: Vocabulary) -> Period:
        """A step's period: `months: N`, or `length` (a number, or a CEL expression giving a whole
        number from the case, where the text leaves the length to the body) with `unit`."""
        cite = self.citation(p["cite"], at, index, p["quote"]).label
        unit = p.get("unit", "months")
        if ("months" in p) == ("length" in p):
            self.add("schema", at, "a period states its length once: `months: N`, or `length` with `unit`"
                     + (", not both" if "months" in p else ""),
                     "e.g. months: 6, or length: <fact of the case> with unit: months where the body fixes it")
            return Period(None, cite, p["quote"], unit, None)
        if "months" in p:
            if "unit" in p:
                self.add("schema", at + ("unit",), "`months` is already a length in months; unit belongs to `length`",
                         f"write length: {p['months']} with unit: {unit}, or leave out unit")
            return Period(p["months"], cite, p["quote"])
        length = p["length"]
        if not isinstance(length, str):
            return Period(length if unit == "months" else None, cite, p["quote"], unit, length)
        # a whole number from the case: checked once here, where the author wrote it
        compiled = self.condition(length, at + ("length",), vocabulary)
        if compiled is None or self.condition(f"({length.strip()}) >= 0", at + ("length",), vocabulary) is None:
            return Period(None, cite, p["quote"], unit, None)
        return Period(None, cite, p["quote"], unit, compiled)

    def combine(self, raw: dict, at: tuple, index, step_ids: list[str]) -> Combine:
        cite = self.citation(raw["cite"], at, index, raw["quote"]).label
        same = None
        if "same_step_periods" in raw:
            sp = raw["same_step_periods"]
            sp_at = at + ("same_step_periods",)
            if raw["rule"] != "heaviest":
                self.add("reference", sp_at, f"same_step_periods belongs to rule: heaviest, not {raw['rule']}",
                         "only where the heaviest step executes do periods of several same steps combine", key=True)
            up_to = self.step_rank(sp["up_to"], sp_at + ("up_to",), step_ids)
            same = SamePeriods(up_to if up_to is not None else -1, sp.get("cap_months"),
                               self.citation(sp["cite"], sp_at, index, sp["quote"]).label, sp["quote"])
        return Combine(raw["rule"], cite, raw["quote"], raw.get("note"), same)

    def step_rank(self, sid: str, at: tuple, step_ids: list[str]) -> int | None:
        if sid in step_ids:
            return step_ids.index(sid)
        close = difflib.get_close_matches(sid, step_ids, n=1)
        self.add("reference", at, f"'{sid}' is not a step of this ladder",
                 f"did you mean '{close[0]}'?" if close else "steps: " + ", ".join(step_ids))
        return None

    def adjustment(self, raw: dict, at: tuple, index, vocabulary: Vocabulary, step_ids: list[str]) -> Adjustment | None:
        effects = raw["effect"] if isinstance(raw["effect"], list) else [raw["effect"]]
        rule = self.rule(raw, at, "when", index, vocabulary)
        if "below_lowest" in raw and "reduce" not in effects:
            self.add("reference", at + ("below_lowest",), "below_lowest: says what 减轻 gives from the lowest step, and "
                     "this adjustment does not reduce", "add reduce to effect:, or leave out below_lowest", key=True)
        at_most = None
        if "at_most" in raw and "at_most" not in effects:
            self.add("reference", at + ("at_most",), "at_most: names the heaviest step allowed, and effect: does not "
                     "list at_most", "add at_most to effect:, or leave out the at_most: key", key=True)
        elif "at_most" in raw:
            at_most = self.step_rank(raw["at_most"], at + ("at_most",), step_ids)
        elif "at_most" in effects:
            self.add("reference", at + ("effect",), "effect at_most needs the heaviest step the text allows",
                     "add at_most: <step id> (e.g. at_most: major_demerit for 可以予以警告、记过、记大过)", key=True)
        if rule is None or ("at_most" in effects and at_most is None):
            return None
        return Adjustment(rule, tuple(effects), raw.get("below_lowest"), at_most)

    def record_vocabulary(self, each: str, alias: str, at: tuple, vocabulary: Vocabulary) -> Vocabulary | None:
        """The case's facts plus `<alias>.<field>` for each field of one record of the events fact `each`."""
        fact = self.fact_of(each, at + ("each",), vocabulary, "events")
        if alias in vocabulary.namespaces:
            self.add("vocabulary", at + ("as",), f"'{alias}' is already a namespace of facts ({alias}.*)",
                     "choose another name for one record (e.g. as: person, as: act)")
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
        return Vocabulary.of(extended)

    def level(self, raw: dict, at: tuple, index, vocabulary: Vocabulary, has_exit: bool,
              ground_ids: list[str], step_ids: list[str]) -> Level | None:
        applies = self.test(raw["applies_when"], at + ("applies_when",), vocabulary) if "applies_when" in raw else None
        if ("step" in raw) == ("steps" in raw):
            self.add("reference", at, "a level names the step it leads to: step: <id>, or steps: [<id>, ...] for a "
                     "range (予以记过或者记大过)" + (", not both" if "step" in raw else ""),
                     "steps: " + ", ".join(step_ids), key=True)
            return None
        named = [raw["step"]] if "step" in raw else list(raw["steps"])
        key = "step" if "step" in raw else "steps"
        ranks = [self.step_rank(sid, at + ((key,) if key == "step" else (key, k)), step_ids)
                 for k, sid in enumerate(named)]
        if None in ranks:
            return None
        if ranks != sorted(set(r for r in ranks if r is not None)):
            self.add("reference", at + (key,), "the steps of a range are listed lightest first, each once",
                     "order them as the ladder's steps: " + ", ".join(step_ids))
        branches = []
        for j, br in enumerate(raw["branches"]):
            b_at = at + ("branches", j)
            cite = self.citation(br["cite"], b_at, index, br["quote"])
            test = self.test(br["when"], b_at + ("when",), vocabulary) if "when" in br else Test("all")
            needs = br.get("ground", True)
            ground_named = tuple(needs) if isinstance(needs, list) else ()
            for k, gid in enumerate(ground_named):
                if gid not in ground_ids:
                    close = difflib.get_close_matches(gid, ground_ids, n=1)
                    self.add("reference", b_at + ("ground", k), f"'{gid}' is not a ground of this ladder",
                             f"did you mean '{close[0]}'?" if close else "grounds: " + ", ".join(ground_ids))
            unless = []
            for k, u in enumerate(br.get("unless", ())):  # 案件情况特殊…可以不予开除: the article's own exception
                u_at = b_at + ("unless", k)
                u_cite = self.citation(u["cite"], u_at, index, u["quote"])
                u_test = self.test(u["when"], u_at + ("when",), vocabulary)
                if u_test is not None:
                    unless.append(Exception_(u_test, u["effect"], u_cite, u["quote"], u.get("note")))
            if test is not None and len(unless) == len(br.get("unless", ())):
                rule = Rule(br["id"], br.get("title") or raw["title"], cite, br["quote"], raw["strength"], test,
                            applies, tuple(unless), (), br.get("note"))
                branches.append(Branch(rule, needs is not False, ground_named))
        groups = []
        for j, g in enumerate(raw.get("groups", ())):
            g_at = at + ("groups", j)
            groups.append(MeasureGroup(g["id"], g["choose"], self.citation(g["cite"], g_at, index, g["quote"]).label,
                                       g["quote"], g.get("note")))
        group_ids = [g.id for g in groups]
        measures = []
        broken = False
        for j, m in enumerate(raw["measures"]):
            m_at = at + ("measures", j)
            cite = self.citation(m["cite"], m_at, index, m["quote"])
            if m.get("removes_expert") and not has_exit:
                self.add("reference", m_at + ("removes_expert",),
                         "removes_expert: the policy has no exit decision (exit.triggers or exit.term) for the removal "
                         "to agree with", "encode the exit triggers first, or leave removes_expert out", key=True)
            if "group" in m and m["group"] not in group_ids:
                close = difflib.get_close_matches(m["group"], group_ids, n=1)
                self.add("reference", m_at + ("group",), f"'{m['group']}' is not a measure group of this level",
                         f"did you mean '{close[0]}'?" if close else
                         "declare it under the level's groups: (id, choose: one_of | any_of | all, cite, quote)")
            m_applies = (self.test(m["applies_when"], m_at + ("applies_when",), vocabulary)
                         if "applies_when" in m else None)
            broken = broken or ("applies_when" in m and m_applies is None)
            amount = self.amount_range(m["range"], m_at + ("range",), m["quote"], vocabulary) if "range" in m else None
            broken = broken or ("range" in m and amount is None)
            measures.append(Measure(m["id"], m["title"], cite, m["quote"], m["strength"],
                                    bool(m.get("removes_expert")), m.get("note"), m.get("group"), m_applies, amount))
        for g_at, g in ((at + ("groups", j), g) for j, g in enumerate(groups)):
            if sum(1 for m in measures if m.group == g.id) < (1 if g.choose == "all" else 2):
                self.add("reference", g_at, f"measure group '{g.id}' ({g.choose}) has "
                         f"{sum(1 for m in measures if m.group == g.id)} measure(s)",
                         "put group: " + g.id + " on the measures the law offers together"
                         + ("" if g.choose == "all" else " (a choice needs at least two)"), key=True)
        if ("applies_when" in raw and applies is None) or len(branches) != len(raw["branches"]) or broken:
            return None
        return Level(raw["id"], tuple(named), raw["title"], raw["strength"], tuple(branches), tuple(measures),
                     raw.get("note"), tuple(groups))

    def amount_range(self, raw: dict, at: tuple, quote: str, vocabulary: Vocabulary) -> AmountRange | None:
        """A measure's `range`: its bounds as the quote prints them (from: 3000元以上, to: 5万元以下)."""
        text = _sources.normalise(quote, ("whitespace",))
        bounds = []
        for key, side in (("from", "low"), ("to", "high")):
            words = str(raw[key])
            read = read_bound(words, side)
            if read is None:
                self.add("schema", at + (key,), f"cannot read a {'lower' if side == 'low' else 'upper'} bound in "
                         f"'{words}'", "write the bound as the text prints it: a number, its unit and 以上/以下 (e.g. "
                         + ("3000元以上, or 超过3000元 where the number itself is excluded)" if side == "low" else
                            "5万元以下, or 不满5万元 where the number itself is excluded)"))
                return None
            if _sources.normalise(words, ("whitespace",)) not in text:
                self.add("quote_not_found", at + (key,), f"the bound '{words}' is not in the measure's quote",
                         "quote the words that state the amount (e.g. 处3000元以上5万元以下的罚款)")
                return None
            bounds.append(read)
        (low, unit, low_in), (high, high_unit, high_in) = bounds
        if unit != high_unit:
            self.add("schema", at + ("to",), f"the bounds are in different units ({unit}, {high_unit})",
                     "both bounds of one amount are in one unit, as the text prints them")
            return None
        if low > high or (low == high and not (low_in and high_in)):
            self.add("schema", at, f"the range is empty: {raw['from']} and {raw['to']}", "check the two bounds")
            return None
        proposed = raw.get("proposed")
        if proposed is not None:
            fact = vocabulary.facts.get(proposed)
            if fact is None or fact.type != "integer":
                close = vocabulary.closest(proposed)
                self.add("unknown_fact" if fact is None else "vocabulary", at + ("proposed",),
                         f"proposed '{proposed}' " + ("is not a fact of the vocabulary" if fact is None else
                                                       f"is a {fact.type} fact; an amount is an integer fact"),
                         (f"did you mean '{close[0]}'? " if close and fact is None else "")
                         + f"declare it with type: integer, in {unit}")
                return None
        return AmountRange(low, high, unit, low_in, high_in, (str(raw["from"]), str(raw["to"])), proposed)

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
        record_vocabulary = self.record_vocabulary(each, alias, at, vocabulary)
        o = raw["otherwise"]
        otherwise = Cited(o["id"], None, self.citation(o["cite"], at + ("otherwise",), index, o["quote"]).label,
                          o["quote"], o.get("note"))
        if record_vocabulary is None:
            return None
        rules = []
        labels: dict[str, str] = {}
        for i, r in enumerate(raw["rules"]):
            r_at = at + ("rules", i)
            rule = self.rule(r, r_at, "when", index, record_vocabulary)
            if r["assigns"] == "none":
                self.add("reference", r_at + ("assigns",), "assigns: none is the verdict's word for no responsibility",
                         "name the responsibility the sentence assigns (e.g. direct), or cite the sentence under otherwise")
                continue
            if _sources.normalise(r["label"], ("whitespace",)) not in _sources.normalise(r["quote"], ("whitespace",)):
                self.add("quote_not_found", r_at + ("label",), f"the label '{r['label']}' is not in the rule's quote",
                         "the label is the regulation's own word for the responsibility: quote the words that contain it")
            elif labels.setdefault(r["assigns"], r["label"]) != r["label"]:
                self.add("reference", r_at + ("label",), f"responsibility '{r['assigns']}' is labelled "
                         f"'{labels[r['assigns']]}' by an earlier rule and '{r['label']}' here",
                         "one responsibility, one label: use the same words, or a different id in assigns")
            if rule is not None:
                rules.append((rule, r["assigns"]))
        if len(rules) != len(raw["rules"]) or len(labels) != len({r["assigns"] for r in raw["rules"]}):
            return None
        return Apportionment(each, alias, tuple(rules), otherwise, record_vocabulary.facts, raw.get("note"),
                             MappingProxyType(labels))

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
        label = _sources.cite_label(number, appendix=True)
        if index is None:
            return label
        try:
            form = index.appendix(number)
        except LookupError as exc:
            self.add("citation", at + ("form",), f"{label}: {exc}",
                     "the source's forms are numbered as its 附表 headings: 附表1, 附表2 ...")
            return label
        self.cited.append((at, None, number))
        quote = _sources.normalise(raw["quote"], index.steps)
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
        text = _sources.normalise(quote, ("whitespace",))
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
                if f"（{it['max']}分）" not in _sources.normalise(it["quote"], ("whitespace",)):
                    self.add("score_sheet", i_at + ("max",), f"the quote does not print the maximum （{it['max']}分）",
                             "quote the item's heading with its points, e.g. 1.专业知识储备（10分）")
                items.append(ScoreItem(it["id"], it["title"], it["fact"], it["max"], label, it["quote"], tuple(bands),
                                       it.get("note")))
            if sum(item.max for item in items) != g["max"]:
                self.add("score_sheet", g_at + ("max",), f"the group's maximum {g['max']} differs from the sum of its "
                         f"items' maxima ({sum(item.max for item in items)})", "check each item's max against the form")
            if f"（{g['max']}分）" not in _sources.normalise(g["quote"], ("whitespace",)):
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
            text = _sources.normalise(gr["quote"], ("whitespace",))
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



_MULTIPLIER = {"十": 10, "百": 100, "千": 1000, "万": 10_000, "亿": 100_000_000}
_BOUND = re.compile(r"^(?P<pre>超过|高于|不超过|不满|不足|低于)?(?P<n>\d+(?:\.\d+)?)(?P<m>[十百千万亿]?)"
                    r"(?P<unit>[^\d\s以超高不低]+?)(?P<post>以上|以下|以内)?$")
_INCLUSIVE = {("low", None, "以上"): True, ("low", "超过", None): False, ("low", "高于", None): False,
              ("high", None, "以下"): True, ("high", None, "以内"): True, ("high", "不超过", None): True,
              ("high", "不满", None): False, ("high", "不足", None): False, ("high", "低于", None): False}


def read_bound(words: str, side: str) -> tuple[int | float, str, bool] | None:
    """(amount, unit, inclusive) of a bound in the law's words: 3000元以上 (3000, 元, True), 5万元以下
    (50000, 元, True), 不满5万元 (50000, 元, False); None where the words are not a bound of that side.
    以上、以下、以内 include the number (民法典 第一千二百五十九条); 超过、不满 do not."""
    m = _BOUND.match(_sources.normalise(words, ("whitespace",)))
    if m is None:
        return None
    inclusive = _INCLUSIVE.get((side, m["pre"], m["post"]))
    if inclusive is None:
        return None
    n = float(m["n"]) * _MULTIPLIER.get(m["m"], 1)
    return (int(n) if n.is_integer() else n), m["unit"], inclusive


def element_ids(data: dict):
    """(id, path) of every element of the accountability, scoring and gate sections."""
    acc = data.get("accountability", {})
    s = acc.get("sanctions", {})
    base = ("accountability", "sanctions")
    for key in ("steps", "grounds", "also", "provisions", "adjustments"):  # a step's finding is named by its id
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
