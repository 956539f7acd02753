"""What a draw and a panel check share: the request's matter, relations and history, the
facts the engine derives for each expert, and judging one expert against the policy.

For every expert considered (a draw's candidate, a panel's member) the engine judges the
policy's recusal grounds and its selection exclusions on one set of facts:

    the expert's pool row (expert.*)  +  the matter (matter.*)  +  this expert's relation
    to it (relation.*)  +  draw.* derived from the history  +  the panel's panel.* facts
    +  the other facts of the case the request states (`facts:`, e.g. bidding.*)

A ground or exclusion that fires with strength mandatory or generally leaves the expert
out, with its article; one that is unknown (facts missing) leaves the expert in, marked
to confirm at contact, since the regulations make the expert declare a conflict before
taking part (第十五条: 在参与相关活动前主动提出回避请求). Pure: nothing here reads the clock.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from ..errors import CaseError, Problem, problem
from ..evaluate.evaluate import Run, conditions_of, judge, plan
from ..policy.expr import bind
from ..policy.model import Policy, Rule
from ..evaluate.verdict import ERROR, FIRED, NOT_APPLICABLE, UNKNOWN, Finding, Ruling
from ..dates import parse_date
from ..policy.vocabulary import bounded_by_as_of, check_case, later_dates

DRAW_FACTS = ("draw.selected_in_a_row", "draw.selected_this_year")
COMPUTED_PANEL_FACTS = ("panel.mode", "panel.size", "panel.designated_count", "panel.drawn_count",
                        "panel.outside_count", "panel.fields")


def invalid(message: str, file: str | None, path: str | None = None, hint: str | None = None) -> CaseError:
    return CaseError([problem("request_invalid", message, file=file, path=path, hint=hint)])


def checked(doc, schema_name: str, what: str, code: str = "request_invalid") -> Mapping:
    """The document's data, once it is a mapping valid under schemas/<schema_name>.schema.json."""
    from ..policy import schema as _schema
    if not isinstance(doc.data, Mapping):
        raise CaseError([problem(code, f"a {what} is a mapping", file=doc.file,
                                 hint=f"see schemas/{schema_name}.schema.json")])
    found = _schema.check(doc, schema_name)
    if found:
        raise CaseError([problem(code, p.message, file=p.file, line=p.line, column=p.column, path=p.path,
                                 hint=p.hint) for p in found])
    return doc.data


_LATEST: dict = {}  # (pool digest, bounded fact names) -> the latest bounded date in the pool


def dates_possible(pool, vocabulary, date: str) -> None:
    """CaseError (pool_invalid, with the pool's file and line) when a row states a date its meaning makes
    impossible after `date` (`not_after: as_of`: a birth date after the draw): refused, never judged.

    Pool rows hold checked dates as YYYY-MM-DD text. The latest such date of a pool is found
    once (by the pool's digest) and each draw compares its date with it; rows are walked
    again only to name the impossible ones."""
    bounded = [f for f in bounded_by_as_of(vocabulary) if f.namespace == "expert"]
    if not bounded:
        return
    key = (getattr(pool, "sha256", None), tuple(f.name for f in bounded))
    latest = _LATEST.get(key) if key[0] else None
    if latest is None:
        latest = max((d for e in pool.experts for d in _bounded_dates(e.facts, bounded)), default="")
        if key[0]:
            _LATEST[key] = latest
    if latest <= date:
        return
    problems = [problem("pool_invalid", f"expert {e.id}: {p.message}", file=pool.file, line=e.line, path=p.path,
                        hint=p.hint) for e in pool.experts for p in later_dates(e.facts, bounded, date)]
    raise CaseError(problems[:100])


def _bounded_dates(facts: Mapping[str, Any], bounded) -> list[str]:
    out = []
    for fact in bounded:
        value = facts.get(fact.name)
        if not value:
            continue
        if fact.type in ("date", "datetime"):
            out.append(value)
        elif fact.type == "list":
            out.extend(value)
        else:  # events: their dates where the fact is bounded, and bounded date fields
            for event in value:
                if fact.not_after:
                    out.append(event["date"])
                out.extend(event[n] for n, spec in fact.kinds[event["kind"]].fields.items()
                           if spec.not_after and event.get(n) is not None)
    return [d[:10] for d in out]  # the day of a time (YYYY-MM-DDTHH:MM:SS) is its first ten characters


def in_force_on(policy: Policy, date: str, what: str) -> None:
    """LookupFailure unless `policy` is in force on the request's date."""
    from ..errors import LookupFailure
    if not policy.in_force.covers(parse_date(date)):
        raise LookupFailure([problem("not_in_force", f"{policy.id} version {policy.version} is in force "
                                     f"{policy.in_force.describe()}, not on {date} (the {what}'s date)",
                                     hint="use Registry.in_force(policy_id, date) to pick the version in force")])


def located(exc: CaseError, doc) -> CaseError:
    """The same problems, with file:line:column filled in from the request document's positions."""
    import re
    out = []
    for p in exc.problems:
        if p.line is None and p.path and p.file in (None, doc.file):
            parts: list = []
            for piece in re.findall(r"[^.\[\]]+|\[\d+\]", p.path):
                parts.append(int(piece[1:-1]) if piece.startswith("[") else piece)
            mark = doc.mark(tuple(parts))
            if mark is not None:
                p = Problem(p.code, p.message, doc.file, mark.line, mark.column, p.path, p.hint)
        out.append(p)
    return type(exc)(out)


@dataclass(frozen=True, slots=True)
class Past:
    """One earlier draw: when, and who sat on its panel."""

    id: str | None
    date: str
    selected: frozenset[str]


@dataclass(frozen=True, slots=True)
class Context:
    """The parts of a request every expert is judged on."""

    date: str
    matter: Mapping[str, Any]  # flat matter.* facts
    relations: Mapping[str, Mapping[str, Any]]  # expert id -> flat relation.* facts
    history: tuple[Past, ...]  # sorted by date
    streak: Mapping[str, int]  # expert id -> selections in a row up to the newest earlier draw
    this_year: Mapping[str, int]  # expert id -> selections in earlier draws of the request's year
    case: Mapping[str, Any] = field(default_factory=dict)  # flat facts of the case stated under `facts:` (bidding.* ...)


def context(data: Mapping, policy: Policy, file: str | None) -> Context:
    """Matter, relations, the other facts of the case and the history of a (schema-valid) draw or panel
    request, checked against the vocabulary."""
    date = data["date"]
    vocabulary = policy.vocabulary
    matter = _facts("matter", data.get("matter") or {}, vocabulary, file, as_of=date)
    case = case_facts(data.get(CASE_KEY), policy, file, date)
    relations = {}
    for eid, raw in (data.get("relations") or {}).items():
        relations[str(eid)] = MappingProxyType(_facts("relation", raw, vocabulary, file, f"relations.{eid}", as_of=date))
    past = []
    for i, h in enumerate(data.get("history") or ()):
        if h["date"] > date:
            raise invalid(f"the earlier draw {h.get('id') or i + 1} is dated {h['date']}, after this request ({date})",
                          file, f"history[{i}].date", "history lists draws made before this one")
        past.append(Past(h.get("id"), h["date"], frozenset(h["selected"])))
    past.sort(key=lambda p: p.date)  # stable: same-day draws keep the order given
    streak: dict[str, int] = {}
    if past:
        run = set(past[-1].selected)
        n = 1
        while run:
            for eid in run:
                streak[eid] = n
            if n == len(past):
                break
            run &= past[-1 - n].selected
            n += 1
    year = date[:4]
    this_year: dict[str, int] = {}
    for p in past:
        if p.date[:4] == year:
            for eid in p.selected:
                this_year[eid] = this_year.get(eid, 0) + 1
    return Context(date, MappingProxyType(matter), MappingProxyType(relations), tuple(past),
                   MappingProxyType(streak), MappingProxyType(this_year), MappingProxyType(case))


CASE_KEY = "facts"  # the request's key for the other facts of the case
# Facts a request states elsewhere (or the engine computes): refused under `facts:`, with where they go.
_ELSEWHERE = {"expert": "come from the pool file (an expert from outside the pool: members[].expert)",
              "relation": "go under relations: <expert id>:", "matter": "go under matter:",
              "panel": "go under panel: (the counts, mode and mode_id are computed)",
              "draw": "are computed from history:"}


def case_facts(raw: Any, policy: Policy, file: str | None, as_of: str) -> dict:
    """The facts of the case a (schema-valid) draw or panel request states under `facts:` (bidding.* ...),
    validated against the vocabulary as decide() validates a case: the same messages and hints, each
    located at facts.<path> (code request_invalid, as every problem of a request). Facts the request
    states in their own places (matter:, panel:, relations:) or the engine computes are refused here."""
    if raw is None:
        return {}
    from ..policy.limits import check_case_size
    if not isinstance(raw, Mapping):
        raise invalid("facts is a mapping of the case's facts by namespace, e.g. {bidding: {tender_required_by_law: "
                      "true}}", file, CASE_KEY, "see `policy-engine facts --policy ID`")

    def moved(exc: CaseError) -> CaseError:
        return CaseError([problem("request_invalid", p.message, file=file,
                                  path=CASE_KEY if p.path in (None, "(case)") else f"{CASE_KEY}.{p.path}", hint=p.hint)
                          for p in exc.problems])
    if "rulings" in raw:
        raise invalid("rulings are not facts", file, f"{CASE_KEY}.rulings",
                      "record the office's rulings at the top level of the request (rulings:)")
    try:
        check_case_size(raw, file)
        facts = check_case(raw, policy.vocabulary, as_of=as_of)
    except CaseError as exc:
        raise moved(exc) from None
    problems = []
    for name in sorted(facts):
        namespace = name.split(".", 1)[0]
        if namespace in _ELSEWHERE:
            problems.append(problem("request_invalid", f"{name} is not stated under facts: {namespace}.* facts "
                                    f"{_ELSEWHERE[namespace]}", file=file, path=f"{CASE_KEY}.{name}",
                                    hint="facts: holds the other facts of the case (the project, the parties ...)"))
    if problems:
        raise CaseError(problems)
    return facts


def _facts(namespace: str, raw: Any, vocabulary, file: str | None, where: str | None = None,
           as_of: str | None = None) -> dict:
    if not isinstance(raw, Mapping):
        raise invalid(f"{where or namespace} is a mapping of {namespace}.* facts", file, where or namespace)
    try:
        facts = check_case({namespace: dict(raw)}, vocabulary, as_of=as_of)
    except CaseError as exc:
        raise CaseError([problem("request_invalid", p.message, file=file,
                                 path=(f"{where}.{p.path.split('.', 1)[1]}" if where and p.path and "." in p.path
                                       else p.path), hint=p.hint) for p in exc.problems]) from None
    return facts


@dataclass(frozen=True, slots=True)
class Reason:
    """Why an expert was left out: a rule of the policy, or a condition of the request."""

    kind: str  # recusal | exclusion | filter
    rule: str
    cite: str
    quote: str
    strength: str | None = None
    title: str | None = None
    detail: str | None = None

    def to_json(self) -> dict:
        out = {"kind": self.kind, "rule": self.rule}
        for key in ("title", "strength", "cite", "quote", "detail"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


@dataclass(frozen=True, slots=True)
class Assessment:
    """One expert judged: the findings of every ground and exclusion, and what they mean."""

    findings: tuple[tuple[str, Finding], ...]  # (kind: recusal | exclusion, finding)
    excluded: tuple[Reason, ...]  # grounds/exclusions that leave the expert out
    to_confirm: tuple[Finding, ...]  # unknown: the expert confirms at contact

    @property
    def out(self) -> bool:
        return bool(self.excluded)


def expert_rules(policy: Policy) -> tuple[tuple[str, Rule], ...]:
    selection = policy.selection
    return tuple(("recusal", r) for r in policy.grounds) + tuple(
        ("exclusion", r) for r in (selection.exclusions if selection else ()))


def assess(policy: Policy, facts: Mapping[str, Any], as_of: str,
           rulings: Mapping[str, Ruling] | None = None) -> Assessment:
    """Judge the recusal grounds and selection exclusions for one expert's facts (with the
    office's rulings on hedged ones, where a panel or draw request records them)."""
    rules = expert_rules(policy)
    compiled = policy.plans.get("selection.expert")
    if compiled is None:
        compiled = policy.plans.setdefault("selection.expert", plan(conditions_of(r for _, r in rules)))
    state = Run(bind(facts, policy.vocabulary.facts, as_of), facts, as_of, compiled, rulings)
    found, excluded, confirm = [], [], []
    for kind, rule in rules:
        f = judge(rule, state, "trigger")
        found.append((kind, f))
        upheld = f.ruling is not None and f.ruling.effect == "decides" and f.ruling.ruling == "upheld"
        if f.result == FIRED and (f.strength != "discretionary" or upheld):  # 可以, upheld by the office: decisive
            excluded.append(Reason(kind, f.rule, f.cite, f.quote, f.strength, f.title,
                                   _detail(f)))
        elif f.result in (UNKNOWN, ERROR) or f.result == FIRED:
            confirm.append(f)
    return Assessment(tuple(found), tuple(excluded), tuple(confirm))


def _detail(f: Finding) -> str | None:
    if not f.values:
        return None
    return ", ".join(f"{k} = {v}" for k, v in f.values)


def expert_facts(expert: Mapping[str, Any], eid: str, ctx: Context, panel: Mapping[str, Any]) -> dict:
    """The facts one expert is judged on (see the module docstring)."""
    facts = dict(expert)
    facts.update(ctx.matter)
    facts.update(ctx.case)
    facts.update(ctx.relations.get(eid, {}))
    facts["draw.selected_in_a_row"] = ctx.streak.get(eid, 0)
    facts["draw.selected_this_year"] = ctx.this_year.get(eid, 0)
    facts.update(panel)
    return facts


def judge_panel(policy: Policy, facts: Mapping[str, Any], as_of: str,
                rulings: Mapping[str, Ruling] | None = None) -> tuple[tuple[Finding, ...], list, list]:
    """The policy's panel rules on the panel's facts (with the office's rulings on hedged ones):
    findings, trace and errors."""
    rules = policy.selection.panel if policy.selection else ()
    compiled = policy.plans.get("selection.panel")
    if compiled is None:
        compiled = policy.plans.setdefault("selection.panel", plan(conditions_of(rules)))
    state = Run(bind(facts, policy.vocabulary.facts, as_of), facts, as_of, compiled, rulings)
    findings = tuple(judge(rule, state, "criterion") for rule in rules)
    return findings, state.trace, state.errors


SUPERVISION_FACT = "panel.draw_supervised"  # the fact a policy's panel rules read where a draw must be supervised


def declares_supervision(policy: Policy) -> bool:
    """Whether the policy's panel rules require a draw's supervision (read panel.draw_supervised)."""
    selection = policy.selection
    return selection is not None and any(SUPERVISION_FACT in r.test.facts() for r in selection.panel)


def require_selection(policy: Policy, file: str | None):
    if policy.selection is None:
        raise CaseError([problem("unsupported_decision", f"{policy.id} {policy.version} has no selection rules",
                                 file=file, hint="policies with a selection: section: see `policy-engine list`")])
    return policy.selection


def mode_of(policy: Policy, mode_id: str, file: str | None):
    selection = require_selection(policy, file)
    mode = selection.mode(mode_id)
    if mode is None:
        import difflib
        ids = [m.id for m in selection.modes]
        close = difflib.get_close_matches(mode_id, ids, n=1)
        raise invalid(f"'{mode_id}' is not a selection mode of {policy.id}", file, "mode",
                      (f"did you mean '{close[0]}'? " if close else "") + "modes: " + ", ".join(ids))
    return mode



def stated_panel(data: Mapping, policy: Policy, file: str | None, also_computed: tuple[str, ...] = (),
                 why: str = "") -> dict:
    """The panel.* facts a (schema-valid) draw or panel request states, checked; computed ones are refused."""
    given = _facts("panel", data.get("panel") or {}, policy.vocabulary, file, "panel")
    computed = [name for name in (*COMPUTED_PANEL_FACTS, "panel.mode_id", *also_computed) if name in given]
    if computed:
        raise invalid(f"{', '.join(computed)} are computed from the mode and the members, not given", file, "panel",
                      "leave them out; state only approvals, reasons and the other facts of the forming"
                      + (f" ({why})" if why else ""))
    return given


def required_facts(mode, panel: Mapping[str, Any], ctx: Context, file: str | None,
                   known: Mapping[str, Any] | None = None, policy: Policy | None = None) -> None:
    """CaseError (request_invalid, located at panel:, matter: or facts:) for each fact the mode requires that
    the request does not state. A requirement with `when` binds only where that holds on the request's
    facts (`known`); where it is unknown the fact is required, and the problem names what would lift it."""
    problems = []
    for need in mode.requires:
        namespace, _, rest = need.fact.partition(".")
        place = namespace if namespace in ("panel", "matter") else CASE_KEY
        if need.fact in (panel if place == "panel" else ctx.matter if place == "matter" else ctx.case):
            continue
        lift = ""
        if need.when is not None and policy is not None and known is not None:
            binds = Run(bind(known, policy.vocabulary.facts, ctx.date), known, ctx.date).value(
                need.when, need.fact, "when")
            if binds is False:
                continue
            if binds is not True:
                lift = (f"; it is required when {need.when.source()}, which is unknown"
                        + (f" (state {', '.join(binds.missing)})" if binds.missing else ""))
        elif need.when is not None:
            lift = f"; it is required when {need.when.source()}"
        where = f"{rest} under {namespace}:" if place != CASE_KEY else f"it under facts: as {namespace}: {{{rest}: ...}}"
        problems.append(problem(
            "request_invalid", f"mode '{mode.id}' requires {need.fact} ({need.cite.label}: “{need.quote}”)"
            + (f" when {need.when.source()}" if need.when is not None else "")
            + ", which the request does not state", file=file, path=place,
            hint=f"state {where} (see `policy-engine facts`){lift}, or choose another mode"))
    if problems:
        raise CaseError(problems)


def narrowing(mf, raw: Mapping, policy: Policy) -> tuple[str, str] | None:
    """(filter name, what is wrong) where a request's filters `raw` widen the mode filter `mf`; None otherwise.

    A request may narrow a mode's filter (a field from its list, a higher rank), never widen it."""
    for name, allowed in (("fields", mf.fields), ("specialties", mf.specialties), ("sub_pools", mf.sub_pools)):
        asked = raw.get(name) or ()
        if allowed and asked:
            outside = [a for a in asked if a not in allowed]
            if outside:
                return name, f"the request's {name} name {'、'.join(outside)}, outside {'、'.join(allowed)}"
    if mf.min_title_rank and raw.get("min_title_rank"):
        ranks = policy.vocabulary.facts["expert.title_rank"].values
        asked = raw["min_title_rank"]
        if asked in ranks and ranks.index(asked) < ranks.index(mf.min_title_rank):
            return "min_title_rank", f"the request's min_title_rank {asked} is below {mf.min_title_rank}"
    return None


def filter_applies(mf, facts: Mapping[str, Any], policy: Policy, as_of: str) -> Any:
    """Whether the mode imposes the filter `mf` on this draw or panel: True, False or Unknown (its
    applies_when over the request's facts: the matter, the panel's facts and the other facts of the case)."""
    if mf.applies_when is None:
        return True
    return Run(bind(facts, policy.vocabulary.facts, as_of), facts, as_of).value(mf.applies_when, mf.id, "applies_when")


def filter_unsettled(mf, value) -> Finding:
    """The finding for a mode filter whose applies_when is unknown: it names the facts that would settle it."""
    return Finding(rule=mf.id, result=UNKNOWN if value.missing else ERROR, strength="mandatory", cite=mf.cite.label,
                   quote=mf.quote, title=mf.title, missing_facts=tuple(value.missing), note=mf.note,
                   error=None if value.missing else value.error)


def filter_not_applicable(mf) -> Finding:
    return Finding(rule=mf.id, result=NOT_APPLICABLE, strength="mandatory", cite=mf.cite.label, quote=mf.quote,
                   title=mf.title, note=mf.note)


def request_facts(policy: Policy) -> dict:
    """The facts a draw or panel request may state under `facts:`: the vocabulary's, less those a request
    states in their own places (matter:, panel:, relations:), the pool's and the computed ones."""
    return {name: fact for name, fact in policy.vocabulary.facts.items() if name.split(".", 1)[0] not in _ELSEWHERE}


def selection_reads(policy: Policy) -> list[str]:
    """The facts of `request_facts` that a draw or panel check reads: in the modes' filters (where,
    applies_when) and requires, the panel rules, the selection exclusions and the recusal grounds."""
    found: set[str] = set()
    selection = policy.selection
    if selection is None:
        return []
    for mode in selection.modes:
        for mf in mode.mandatory_filters:
            if mf.where is not None:
                found |= mf.where.facts
            if mf.applies_when is not None:
                found |= mf.applies_when.facts()
        found.update(need.fact for need in mode.requires)
    for rule in selection.panel:
        found |= _rule_reads(rule)
    for _, rule in expert_rules(policy):
        found |= _rule_reads(rule)
    allowed = request_facts(policy)
    return sorted(name for name in found if name in allowed)


def _rule_reads(rule: Rule) -> set[str]:
    out: set[str] = set(rule.test.facts()) if rule.test is not None else set()
    if rule.applies_when is not None:
        out |= rule.applies_when.facts()
    for u in rule.unless:
        out |= u.test.facts()
    for _, cond in rule.show:
        out |= cond.facts
    return out
