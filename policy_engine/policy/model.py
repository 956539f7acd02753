"""The compiled policy: frozen data, built once by the loader and shared by every decision."""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from typing import TYPE_CHECKING

from .expr import Condition

if TYPE_CHECKING:
    from .workdays import WorkCalendar
from .vocabulary import Fact, Vocabulary

STRENGTHS = ("mandatory", "generally", "discretionary")


class RuntimeCache(dict):
    """What evaluating builds and keeps (plans, compiled keys, cached results): pickled empty, since it
    holds generated functions and is rebuilt on first use wherever the object is unpickled."""

    def __reduce__(self) -> tuple:
        return (RuntimeCache, ())


@dataclass(frozen=True, slots=True)
class Citation:
    article: int
    occurrence: int | None
    paragraph: int | None
    item: int | None
    label: str  # 第五条第（五）项; 《title》第七条 for a cite of another declared text
    subitem: int | None = None  # 目 within the item
    text: str | None = None  # id of another text the policy declares (`texts`); None: the policy's own source

    def to_json(self) -> dict:
        out: dict = {"article": self.article}
        for key in ("occurrence", "paragraph", "item", "subitem", "text"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


@dataclass(frozen=True, slots=True)
class Test:
    """A condition tree: a leaf holds a compiled condition; any/all combine children."""

    op: str  # "leaf" | "any" | "all"
    condition: Condition | None = None
    children: tuple["Test", ...] = ()

    def source(self) -> str:
        """The condition as CEL text: a leaf as written, any_of / all_of joined with || and &&."""
        if self.condition is not None:
            return self.condition.source
        return (" || " if self.op == "any" else " && ").join(f"({c.source()})" for c in self.children)

    def facts(self) -> frozenset[str]:
        if self.condition is not None:
            return self.condition.facts
        out: frozenset[str] = frozenset()
        for child in self.children:
            out |= child.facts()
        return out


@dataclass(frozen=True, slots=True)
class Exception_:
    test: Test
    effect: str  # "exempt" | "may_exempt"
    cite: Citation
    quote: str
    note: str | None


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    title: str | None
    cite: Citation
    quote: str
    strength: str
    test: Test  # require (criteria) or when (triggers, grounds)
    applies_when: Test | None
    unless: tuple[Exception_, ...]
    show: tuple[tuple[str, Condition], ...]
    note: str | None


@dataclass(frozen=True, slots=True)
class Renewal:
    """A term that renews itself when it ends (到期自动续聘), unless `stops` holds (a party declined)."""

    cite: Citation
    quote: str
    months: int  # the length of each renewed term (years x 12)
    stops: Condition | None  # the condition under which the term does not renew; None: it always renews
    note: str | None


@dataclass(frozen=True, slots=True)
class Term:
    cite: Citation
    quote: str
    ends: Condition
    note: str | None
    limits: tuple[Rule, ...]
    renews: Renewal | None = None


@dataclass(frozen=True, slots=True)
class InForce:
    start: _dt.date
    until: _dt.date | None  # inclusive
    cite: Citation
    quote: str
    note: str | None

    def covers(self, day: _dt.date) -> bool:
        return self.start <= day and (self.until is None or day <= self.until)

    def describe(self) -> str:
        return f"{self.start.isoformat()} to {self.until.isoformat() if self.until else '(open-ended)'}"


@dataclass(frozen=True, slots=True)
class VersionRule:
    """Which version of the policy governs one decision: the one in force on the date a fact
    of the case gives (the date of the act), under `rule` in_force, or under `rule` lighter that
    one unless the version in force on the date of the question treats the case more lightly
    (从旧兼从轻), with the article that says so. Read from the version in force on as_of."""

    decision: str
    selected_by: str  # a date fact of the vocabulary
    rule: str  # in_force | lighter
    cite: Citation
    quote: str
    note: str | None
    in_force_when: str | None = None  # a boolean fact: when true, rule in_force applies (已结案的案件…适用当时的规定)
    acts: str | None = None  # an events fact: each record's date selects a version too; acts under different versions are refused


@dataclass(frozen=True, slots=True)
class Scope:
    id: str
    cite: Citation
    quote: str
    applies: str
    note: str | None
    rule: Rule | None = None  # its `when` over the subject (subject.*), for the applies decision


@dataclass(frozen=True, slots=True)
class Classification:
    """Categories a person or matter falls into (classify): each a cited condition, with how many may hold."""

    id: str
    title: str | None
    cite: Citation
    quote: str
    strength: str
    cardinality: str  # exactly_one | at_least_one | any
    categories: tuple[Rule, ...]  # each rule's title is the category's label in the regulation's words
    note: str | None


@dataclass(frozen=True, slots=True)
class Defect:
    cite: Citation
    quote: str | None
    defect: str
    encoded_as: str


@dataclass(frozen=True, slots=True)
class NotEncoded:
    """A part of the source text the policy deliberately does not encode (`not_encoded:`), and why."""

    cite: Citation  # of the policy's own text; the whole article where `through` is set
    through: int | None  # the last article of a range of whole articles (cite.article..through)
    reason: str
    form: int | None = None  # an appended form (附表N) instead: cite.label is 附表N
    keys: tuple[tuple, ...] = ()  # the units it declares (policy/units.py keys)


@dataclass(frozen=True, slots=True)
class CitedBy:
    """One citation of the policy's own source text, by the element that makes it (coverage)."""

    element: str  # the id of the rule or element the cite stands in, or its path where it has none (in_force)
    path: str  # where the cite stands in the policy file, e.g. entry.criteria[3].unless[0]
    cite: Citation | None  # an article, paragraph, item or sub-item
    form: int | None = None  # or an appended form (附表N)
    key: tuple | None = None  # the unit it names (policy/units.py keys)


@dataclass(frozen=True, slots=True)
class Measure:
    """A measure a sanction level allows or requires (通报, 诫勉, 取消专家资格 ...)."""

    id: str
    title: str
    cite: Citation
    quote: str
    strength: str
    removes_expert: bool  # available only as the policy's exit decision allows
    note: str | None
    group: str | None = None  # the id of the level's measure group it belongs to
    applies: Test | None = None  # applies_when: the measure is listed only when this holds
    range: AmountRange | None = None  # an amount the body fixes between bounds (处3000元以上5万元以下的罚款)


@dataclass(frozen=True, slots=True)
class AmountRange:
    """The bounds of an amount a measure leaves to the body, read from the quote's own words:
    以上 / 以下 / 以内 / 不超过 include the number, 超过 / 高于 / 不满 / 不足 / 低于 exclude it."""

    low: int | float
    high: int | float
    unit: str  # as the text prints it after the number (元)
    low_inclusive: bool
    high_inclusive: bool
    words: tuple[str, str]  # the bounds in the law's words (3000元以上, 5万元以下)
    proposed: str | None = None  # an integer fact: the amount the case proposes, in the unit; checked against the bounds


@dataclass(frozen=True, slots=True)
class MeasureGroup:
    """Measures of a level the law offers together: one_of (exactly one), any_of (one or more), all."""

    id: str
    choose: str  # one_of | any_of | all
    cite: str  # label
    quote: str
    note: str | None


@dataclass(frozen=True, slots=True)
class Period:
    """A step's period (警告，六个月), with the words that state it.

    A constant period in months (`months: 6`, or `length: 6` with unit months) has `months`; a
    period in other units, or one whose length the case states (禁止其在一定期限内…: the
    department fixes it), has `length` (a number, or the CEL condition giving it) and `unit`.
    """

    months: int | None  # the constant length in months; None where `length` gives it
    cite: str  # label
    quote: str
    unit: str = "months"  # months | years | calendar_days
    length: int | Condition | None = None  # set where months is None: a constant or a CEL expression over the case


@dataclass(frozen=True, slots=True)
class SanctionStep:
    """A step of the policy's own ladder (警告, 通报 ...): lightest has rank 0."""

    id: str
    label: str
    rank: int
    cite: str  # label
    quote: str
    period: Period | None
    note: str | None


@dataclass(frozen=True, slots=True)
class Combine:
    """How steps that apply together combine: together (分别或者同时), heaviest (执行其中最重的), cumulative."""

    rule: str  # together | heaviest | cumulative
    cite: str | None  # label; None where the policy declares no rule (the heaviest level that holds)
    quote: str | None
    note: str | None
    same_periods: SamePeriods | None = None  # heaviest: several acts given the same step may sum their periods


@dataclass(frozen=True, slots=True)
class SamePeriods:
    """多个相同处分: a period between one step's period and the sum of all, up to a cap (一个…以上、…之和以下)."""

    up_to: int  # rank of the heaviest step it applies to (撤职以下: inclusive)
    cap_months: int | None
    cite: str  # label
    quote: str


@dataclass(frozen=True, slots=True)
class Adjustment:
    """从轻 / 从重 / 减轻 / 免予: an effect on the result, when its rule holds."""

    rule: Rule  # id, cite, quote, strength (可以: discretionary, 应当: mandatory), when
    effects: tuple[str, ...]  # lighter | heavier | reduce | exempt (several where the text offers them)
    below_lowest: str | None  # reduce from the lowest step: 'none' where the text allows no sanction
    at_most: int | None = None  # effect at_most: rank of the heaviest step the text allows (监察机关可以予以警告、记过、记大过)


@dataclass(frozen=True, slots=True)
class Branch:
    """One alternative of a level: a rule (cite, quote, when) that may also need a ground."""

    rule: Rule
    ground: bool  # needs a ground
    grounds: tuple[str, ...] = ()  # ...one of these (ids); empty: any ground of the ladder


@dataclass(frozen=True, slots=True)
class Level:
    id: str
    steps: tuple[str, ...]  # the step ids it leads to: one, or a range (予以记过或者记大过), lightest first
    title: str
    strength: str
    branches: tuple[Branch, ...]
    measures: tuple[Measure, ...]
    note: str | None
    groups: tuple[MeasureGroup, ...] = ()


@dataclass(frozen=True, slots=True)
class Sanctions:
    """A sanction ladder: grounds, levels lightest first, measures beside them, procedure."""

    grounds: tuple[Rule, ...]
    levels: tuple[Level, ...]
    also: tuple[Rule, ...]
    provisions: tuple[Rule, ...]  # always-true rules, possibly with applies_when
    note: str | None
    steps: tuple[SanctionStep, ...] = ()  # the ladder's steps, lightest first
    combine: Combine | None = None
    period_start: tuple[str, str, str] | None = None  # (date fact, cite label, quote)
    adjustments: tuple[Adjustment, ...] = ()
    each: tuple[str, str] | None = None  # (list fact, alias): the ladder is judged per act
    record_facts: Any = None  # the vocabulary the per-act rules are built against (each)


@dataclass(frozen=True, slots=True)
class Cited:
    """A passage cited by id: an article (label 第十六条) or a form (label 附表3)."""

    id: str
    title: str | None
    label: str
    quote: str
    note: str | None


@dataclass(frozen=True, slots=True)
class Apportionment:
    """Responsibility per person: each record of `each`, judged with its fields as `alias`.*."""

    each: str
    alias: str
    rules: tuple[tuple[Rule, str], ...]  # (rule, responsibility it assigns), in order
    otherwise: Cited
    facts: Mapping[str, Fact]  # the policy's facts plus alias.<field>, for binding one record
    note: str | None
    labels: Mapping[str, str] = field(default_factory=dict)  # responsibility id -> the regulation's words for it


@dataclass(frozen=True, slots=True)
class Band:
    label: str
    low: int | None
    high: int | None
    grade: str | None = None  # grade bands only


@dataclass(frozen=True, slots=True)
class ScoreItem:
    id: str
    title: str
    fact: str
    max: int
    label: str
    quote: str
    bands: tuple[Band, ...]
    note: str | None


@dataclass(frozen=True, slots=True)
class ScoreGroup:
    id: str
    title: str
    max: int
    label: str
    quote: str
    items: tuple[ScoreItem, ...]
    note: str | None


@dataclass(frozen=True, slots=True)
class Scoring:
    """An evaluation sheet: items in groups with bands, total and grades; or grades alone."""

    sheet: Cited
    strength: str
    date_fact: str | None
    groups: tuple[ScoreGroup, ...]
    total: Cited | None
    total_fact: str | None
    grades: Cited
    grade_fact: str
    grade_bands: tuple[Band, ...]
    feeds: tuple[Rule, ...]  # exit triggers that count evaluations
    note: str | None

    @property
    def items(self) -> tuple[ScoreItem, ...]:
        return tuple(item for group in self.groups for item in group.items)

    @property
    def maximum(self) -> int:
        return sum(group.max for group in self.groups)


@dataclass(frozen=True, slots=True)
class Provision:
    """A procedural provision the engine applies (contact in order, redraw ...), cited and quoted."""

    cite: Citation
    quote: str
    title: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class ModeFilter:
    """A condition a mode imposes on every expert, whatever the request says (a senior-only mode)."""

    id: str
    title: str | None
    cite: Citation
    quote: str
    fields: tuple[str, ...]
    specialties: tuple[str, ...]
    sub_pools: tuple[str, ...]
    min_title_rank: str | None
    where: Condition | None  # over the expert's facts, the matter and the panel's facts
    note: str | None
    applies_when: Test | None = None  # over the request's facts (matter, panel, facts of the case): imposed only then


@dataclass(frozen=True, slots=True)
class ModeFact:
    """A fact a request in this mode must state (an approval, a reason, a fact of the project), with the
    article requiring it."""

    fact: str
    title: str | None
    cite: Citation
    quote: str
    note: str | None
    when: Test | None = None  # required only when this holds on the request's facts (unknown: required)


@dataclass(frozen=True, slots=True)
class DrawRules:
    multiplier: int  # candidates per expert needed (1 where the text sets none)
    candidates: Provision | None
    contact: Provision | None
    replenish: Provision | None
    redraw: Provision | None
    backups: Provision | None
    shortfall: Provision | None
    note: str | None
    max_rounds: int | None = None  # rounds of drawing at most, the first included (两次抽取失败后...)
    backup_count: int | None = None  # backups the text fixes, when the request names none

    def over(self, base: "DrawRules | None") -> "DrawRules":
        """These rules (a mode's) over `base` (the policy-wide ones): a provision given here replaces the base's."""
        if base is None:
            return self
        pick = {k: getattr(self, k) if getattr(self, k) is not None else getattr(base, k)
                for k in ("candidates", "contact", "replenish", "redraw", "backups", "shortfall", "note")}
        return DrawRules(
            multiplier=self.multiplier if self.candidates is not None else base.multiplier,
            max_rounds=self.max_rounds if self.redraw is not None else base.max_rounds,
            backup_count=self.backup_count if self.backups is not None else base.backup_count,
            **pick)


@dataclass(frozen=True, slots=True)
class Mode:
    id: str
    title: str | None
    method: str  # random | designated | mixed | outside | institution
    cite: Citation
    quote: str
    filters: Provision | None  # the provision letting a request set conditions on experts
    note: str | None
    draw: DrawRules | None = None  # this mode's own draw provisions, over the policy-wide ones
    mandatory_filters: tuple[ModeFilter, ...] = ()
    requires: tuple[ModeFact, ...] = ()

    @property
    def draws(self) -> bool:
        """Panels of this mode are drawn by lot (policy-engine draw); the others are checked (check-panel)."""
        return self.method == "random"


@dataclass(frozen=True, slots=True)
class Selection:
    modes: tuple[Mode, ...]
    draw: DrawRules | None
    exclusions: tuple[Rule, ...]  # triggers over one expert (rotation, yearly caps), besides recusal grounds
    panel: tuple[Rule, ...]  # criteria over panel.* and matter.* facts
    note: str | None

    def mode(self, mode_id: str) -> Mode | None:
        return next((m for m in self.modes if m.id == mode_id), None)

    def draw_for(self, mode: Mode) -> DrawRules | None:
        """The draw provisions for `mode`: its own, over the policy-wide ones."""
        return mode.draw.over(self.draw) if mode.draw is not None else self.draw


@dataclass(frozen=True, slots=True)
class Policy:
    id: str
    version: str
    title: str
    issuer: str
    document_number: str | None
    in_force: InForce
    supersedes: tuple[Mapping, ...]
    scope: tuple[Scope, ...]
    defects: tuple[Defect, ...]
    vocabulary: Vocabulary
    criteria: tuple[Rule, ...]
    term: Term | None
    triggers: tuple[Rule, ...]
    grounds: tuple[Rule, ...]
    deadlines: tuple[Rule, ...]  # criteria whose conditions the loader generated from from/to/days/unit
    sha256: str  # of the policy file, the vocabularies it imports and the calendar it counts working days with
    file: str
    source_file: str
    source_sha256: str
    quotes_verified: int  # every quote in the file, each found in its cited passage
    plans: dict = field(default_factory=lambda: RuntimeCache(), compare=False, repr=False)  # decision -> evaluate.Plan, built on first use
    sanctions: Sanctions | None = None
    apportionment: Apportionment | None = None
    scoring: Scoring | None = None
    gates: tuple[Rule, ...] = ()
    selection: Selection | None = None
    calendar: "WorkCalendar | None" = None  # its policies folder's working-day calendar, when it counts working days
    governing: tuple[VersionRule, ...] = ()  # per decision: which date selects the version (governing_version:)
    self_name: str = ""  # how the text names itself in its own sentences (本办法, 本细则, 本法, 本条例): self_name:

    def version_rule(self, decision: str) -> VersionRule | None:
        return next((g for g in self.governing if g.decision == decision), None)
    classification: Classification | None = None
    not_encoded: tuple[NotEncoded, ...] = ()  # parts of the text deliberately not encoded, with the reason
    citations: tuple[CitedBy, ...] = ()  # every cite of the own source text (not source_defects, not not_encoded)
    units: tuple[Any, ...] = ()  # the source text's articles, paragraphs, items, sub-items and forms (units.Unit)

    @property
    def scope_rules(self) -> tuple[Rule, ...]:
        """The scope entries that carry a condition (`when`): what the applies decision evaluates."""
        return tuple(s.rule for s in self.scope if s.rule is not None)

    def decisions(self) -> tuple[str, ...]:
        out = []
        if self.criteria:
            out.append("entry")
        if self.term is not None or self.triggers:
            out.append("exit")
        if self.grounds:
            out.append("recusal")
        if self.deadlines:
            out.append("deadline")
        if self.sanctions is not None:
            out.append("sanction")
        if self.apportionment is not None:
            out.append("apportion")
        if self.scoring is not None:
            out.append("score")
        if self.gates:
            out.append("gate")
        if self.classification is not None:
            out.append("classify")
        if self.scope_rules:
            out.append("applies")
        return tuple(out)

    def selection_commands(self) -> tuple[str, ...]:
        """What the policy's selection section answers: draw (a random mode) and panel (check-panel)."""
        if self.selection is None:
            return ()
        return (("draw",) if any(m.draws for m in self.selection.modes) else ()) + ("panel",)


def conditions_of(rules: Iterable[Rule]) -> list[Condition]:
    out: list[Condition] = []

    def walk(test: Test | None) -> None:
        if test is None:
            return
        if test.condition is not None:
            out.append(test.condition)
        for child in test.children:
            walk(child)

    for rule in rules:
        walk(rule.applies_when)
        walk(rule.test)
        for u in rule.unless:
            walk(u.test)
        out.extend(cond for _, cond in rule.show)
    return out
