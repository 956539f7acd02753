"""Random draws that anyone holding the receipt can recompute and check.

The order. Every expert in the pool gets the key

    HMAC-SHA256(key = the seed's bytes, message = the expert's id in UTF-8)

and the pool is walked in ascending order of the keys (as lower-case hex). The order
depends on the seed and the ids only: the file's row order, or its format, changes
nothing. A seed is at least 16 random bytes, written in hex; it is supplied, or the
caller makes one (`new_seed`). To show the seed was fixed before the draw, publish its
commitment, SHA-256 of the seed's bytes, beforehand; the receipt records both. Under the draw
protocol (protocol.py) the seed is not the office's alone: it is derived from a published
commitment binding the policy, pool and request, and contributions revealed after it; the
receipt (format /2) records the commitment and the contributions in `protocol`.

The walk. For each group of the request, in order, the walk goes down the order and
accounts for every expert it reaches: one who fails the request's filters, must recuse
(the policy's recusal grounds) or is excluded (rotation, yearly caps: the policy's
selection exclusions) is listed as excluded with the reason and article; the others
become candidates, ranked, until the group has `count` x the policy's multiplier of
them (or the number the request asks for). An expert already a candidate in an earlier
group is skipped. Candidates are contacted in rank order: the first `count` form the
panel; with answers, one who declines, does not answer in time or declares a ground is
passed over and the next takes the place (where the policy provides replenishment);
when the list runs out, the walk continues where it stopped (a new round, where the
policy provides a redraw). Candidates after the panel are the backups, in rank order.

Before the walk, the policy's panel rules are judged on the request's facts (the matter, the
panel's facts, and the other facts of the case under `facts:`), and so is each of the mode's
filters that applies only under a condition (`applies_when`): a mandatory rule failed refuses
the draw; a mandatory rule, or such a condition, that is unknown leaves it undetermined (nothing
drawn; the findings and `missing_facts` name what would settle it); a condition that does not
hold lifts the filter for this draw.

The receipt records the policy (id, version, sha256), the pool's digest, the request, the facts
of the case it states (`facts`, apart from the request: they decide the result), the seed and
its commitment, every expert reached with its key and row digest, the
exclusions with reasons, the candidates in order, the selected and the backups.
`verify` recomputes the whole receipt from the pool and the receipt's own inputs and
names every difference. Nothing here reads the clock or the environment.
"""
from __future__ import annotations

import hashlib
import heapq
import json
import os
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import CaseError, problem
from ..policy.expr import Span, Unknown, bind, compile_condition, evaluate
from ..policy.limits import REQUEST, check_expression
from ..policy.model import Mode, ModeFilter, Policy
from .pool import Pool, PoolExpert, no_gc
from .selection import (Context, Reason, assess, checked, context, dates_possible, declares_supervision, expert_facts,
                        expert_rules, filter_applies, filter_unsettled, in_force_on, invalid, judge_panel, located,
                        mode_of, narrowing, required_facts, stated_panel)
from ..evaluate import rulings as _rulings
from ..evaluate.verdict import ERROR, FAILED, PASSED, UNKNOWN, Finding, Ruling, dumps
from ..policy.workdays import policy_calendar
from ..yamlio import Document
from ..version import ENGINE

FORMAT = "policy-engine/draw-receipt/2"
FORMATS = ("policy-engine/draw-receipt/1", FORMAT)  # /1: made before the draw protocol (protocol.py)
ORDER = ("HMAC-SHA256 with the seed's bytes as key and the expert id in UTF-8 as message; "
         "experts in ascending order of the digest in lower-case hex")
MIN_SEED_BYTES = 16
NEGATIVE = ("declined", "no_answer", "recused")
OUTCOMES = ("drawn", "complete", "shortfall", "refused", "undetermined")


# -- seeds --------------------------------------------------------------------------------

def new_seed() -> str:
    """32 random bytes from the operating system, in hex. The only impure function here."""
    return os.urandom(32).hex()


def commitment(seed: str) -> str:
    """SHA-256 of the seed's bytes: publish it before the draw, reveal the seed after."""
    return hashlib.sha256(seed_bytes(seed)).hexdigest()


def seed_bytes(seed: str) -> bytes:
    text = str(seed).strip().lower()
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise CaseError([problem("request_invalid", "the seed is not hexadecimal", path="seed",
                                 hint="write the seed as hex digits, e.g. from `policy-engine seed`")]) from None
    if len(raw) < MIN_SEED_BYTES:
        raise CaseError([problem("request_invalid", f"the seed has {len(raw)} bytes; at least {MIN_SEED_BYTES} are needed",
                                 path="seed", hint="a short seed can be searched for a wanted panel; "
                                                   "use `policy-engine seed` (32 bytes)")])
    return raw


def order_key(seed: str, expert_id: str) -> str:
    """The expert's key in the draw order (lower-case hex). Anyone can recompute it, e.g.
    `printf %s E0042 | openssl dgst -sha256 -mac HMAC -macopt hexkey:<seed>`."""
    import hmac
    return hmac.new(seed_bytes(seed), expert_id.encode("utf-8"), hashlib.sha256).hexdigest()


class _Order:
    """The pool in draw order, produced lazily: a heap of keys, popped as far as the walk goes."""

    def __init__(self, seed: bytes, pool: Pool):
        # HMAC (RFC 2104) with the key's inner and outer states computed once: the same
        # digests as hmac.new(seed, id, sha256), at about half the cost per expert.
        key = seed.ljust(64, b"\0") if len(seed) <= 64 else hashlib.sha256(seed).digest().ljust(64, b"\0")
        inner = hashlib.sha256(bytes(b ^ 0x36 for b in key)).copy
        outer = hashlib.sha256(bytes(b ^ 0x5C for b in key)).copy
        heap = []
        with no_gc():  # a burst of small tuples: a full collection over a large pool here costs more than the draw
            for e in pool.experts:
                i = inner()
                i.update(e.id.encode("utf-8"))
                o = outer()
                o.update(i.digest())
                heap.append((o.digest(), e.id, e))
            heapq.heapify(heap)
        self._heap = heap
        self._done: list[tuple[str, PoolExpert]] = []

    def __len__(self) -> int:
        return len(self._done) + len(self._heap)

    def __getitem__(self, i: int) -> tuple[str, PoolExpert]:
        while len(self._done) <= i:
            digest, _, expert = heapq.heappop(self._heap)
            self._done.append((digest.hex(), expert))
        return self._done[i]


# -- requests -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Filters:
    fields: tuple[str, ...] = ()
    specialties: tuple[str, ...] = ()
    sub_pools: tuple[str, ...] = ()
    min_title_rank: str | None = None
    where: tuple = ()  # compiled conditions (request-wide, then the group's)

    def merged(self, other: "Filters") -> "Filters":
        return Filters(self.fields + other.fields, self.specialties + other.specialties,
                       self.sub_pools + other.sub_pools, other.min_title_rank or self.min_title_rank,
                       self.where + other.where)


@dataclass(frozen=True, slots=True)
class Group:
    id: str
    count: int
    candidates: int | None
    backups: int | None
    filters: Filters
    request_filters: Filters  # what the request as a whole asks (for the receipt)


@dataclass(frozen=True, slots=True)
class DrawRequest:
    file: str | None  # where the request came from, for problems
    text: str  # the request as JSON (canonical), recorded in the receipt
    date: str
    mode: Mode
    groups: tuple[Group, ...]
    context: Context
    supervisor: str | None
    answers: Mapping[str, str]
    panel: Mapping[str, Any] = field(default_factory=dict)  # panel.* facts the request states
    rulings: Mapping[str, Ruling] = field(default_factory=dict)  # the office's rulings on hedged rules, by rule id
    imposed: tuple[ModeFilter, ...] = ()  # the mode's filters that apply to this draw (applies_when holds, or none)
    lifted: tuple[ModeFilter, ...] = ()  # the mode's filters whose applies_when does not hold
    unsettled: tuple[Finding, ...] = ()  # the mode's filters whose applies_when is unknown: nothing is drawn

    @property
    def panel_facts(self) -> dict:
        """The panel's facts in this draw: those stated, and those computed from the mode and the groups."""
        total = sum(g.count for g in self.groups)
        return {**self.panel, "panel.mode": self.mode.method, "panel.mode_id": self.mode.id, "panel.size": total,
                "panel.drawn_count": total, "panel.designated_count": 0, "panel.outside_count": 0,
                "panel.draw_supervised": self.supervisor is not None}

    @property
    def facts(self) -> dict:
        """The facts every rule of the draw reads besides an expert's own: matter, the case's, the panel's."""
        return {**self.context.matter, **self.context.case, **self.panel_facts}

    @property
    def data(self) -> dict:
        return json.loads(self.text)


def parse_request(request: Any, policy: Policy, file: str | None = None) -> DrawRequest:
    """Validate a draw request (a mapping, or a yamlio Document to locate problems) under `policy`."""
    doc = request if isinstance(request, Document) else Document(request, {}, file or "<request>")
    try:
        return _parse_request(doc, policy)
    except CaseError as exc:
        raise located(exc, doc) from None


def _parse_request(doc: Document, policy: Policy) -> DrawRequest:
    file = doc.file
    data = _plain(checked(doc, "draw-request", "draw request (date, mode, count, ...)"))
    mode = mode_of(policy, data["mode"], file)
    selection = policy.selection
    assert selection is not None  # mode_of refuses a policy without selection rules
    if not mode.draws:
        raise invalid(f"mode '{mode.id}' ({mode.title or mode.method}; {mode.cite.label}: “{mode.quote}”) "
                      "is not drawn by lot", file, "mode",
                      "a panel formed that way is checked with `policy-engine check-panel`; "
                      "draw modes: " + ", ".join(m.id for m in selection.modes if m.draws))
    ctx = context(data, policy, file)
    given = stated_panel(data, policy, file, ("panel.draw_supervised",), "draw_supervised follows from supervisor")
    supervisor = data.get("supervisor")
    total = sum(g["count"] for g in data["groups"]) if "groups" in data else data["count"]
    known = {**ctx.matter, **ctx.case, **given, "panel.mode": mode.method, "panel.mode_id": mode.id,
             "panel.size": total, "panel.drawn_count": total, "panel.designated_count": 0, "panel.outside_count": 0,
             "panel.draw_supervised": supervisor is not None}
    required_facts(mode, given, ctx, file, known, policy)
    common = _filters(data.get("filters"), policy, doc, ("filters",))
    if "groups" in data:
        groups: list[Group] = []
        for i, g in enumerate(data["groups"]):
            if any(other.id == g["id"] for other in groups):
                raise invalid(f"group '{g['id']}' is named twice", file, f"groups[{i}].id")
            groups.append(Group(g["id"], g["count"], g.get("candidates"), g.get("backups"),
                                common.merged(_filters(g.get("filters"), policy, doc, ("groups", i, "filters"))),
                                common))
    else:
        groups = [Group("panel", data["count"], data.get("candidates"), data.get("backups"), common, common)]
    rules = selection.draw_for(mode)
    multiplier = rules.multiplier if rules else 1
    imposed, lifted, unsettled = [], [], []
    for mf in mode.mandatory_filters:
        applies = filter_applies(mf, known, policy, data["date"])
        if applies is True:
            imposed.append(mf)
        elif applies is False:
            lifted.append(mf)
        else:
            unsettled.append(filter_unsettled(mf, applies))
    for i, g in enumerate(groups):
        prefix = f"groups[{i}]." if "groups" in data else ""
        if g.candidates is not None and g.candidates < g.count * multiplier:
            raise invalid(f"{g.candidates} candidates are fewer than {g.count} x {multiplier}", file,
                          prefix + "candidates", "leave candidates out to list the policy's minimum")
        if rules is not None and rules.backup_count is not None and g.backups is not None \
                and g.backups < rules.backup_count and rules.backups is not None:
            raise invalid(f"{g.backups} backups are fewer than the {rules.backup_count} that {rules.backups.cite.label} "
                          f"fixes (“{rules.backups.quote}”)", file, prefix + "backups",
                          f"leave backups out to list {rules.backup_count}")
        for mf in mode.mandatory_filters:
            if mf in lifted:
                continue  # the mode does not impose it on this draw: the request's filters are its own
            raw_common = data.get("filters") or {}
            raw_group = (data["groups"][i].get("filters") or {}) if "groups" in data else {}
            for at, raw in ((("filters",), raw_common), (("groups", i, "filters"), raw_group)):
                clash = narrowing(mf, raw, policy)
                if clash is not None:
                    name, message = clash
                    raise invalid(f"mode '{mode.id}' draws only experts meeting {mf.id} ({mf.cite.label}: "
                                  f"“{mf.quote}”): {message}", file, ".".join(str(a) for a in at + (name,)),
                                  "a request may narrow the mode's filter, never widen it; leave the filter out "
                                  "and the mode's applies")
    rulings = _rulings.read(data.get(_rulings.KEY), policy, data["date"], file)
    judged = {r.id for r in selection.panel} | {r.id for _, r in expert_rules(policy)}
    for i, item in enumerate(data.get(_rulings.KEY) or ()):
        if item["rule"] in rulings and item["rule"] not in judged:
            raise invalid(f"rule '{item['rule']}' is not judged in a draw", file, f"{_rulings.KEY}[{i}].rule",
                          "a draw judges the policy's panel rules, recusal grounds and selection exclusions: "
                          "record rulings on those, or leave this one out of the request")
    return DrawRequest(file, json.dumps(data, ensure_ascii=False, sort_keys=True), data["date"], mode, tuple(groups), ctx,
                       supervisor, dict(data.get("answers") or {}), given, rulings, tuple(imposed), tuple(lifted),
                       tuple(unsettled))


def _plain(value: Any) -> Any:
    """The request as plain JSON data (dates as text)."""
    import datetime as _dt
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()[:10]
    return value


def _filters(raw: Mapping | None, policy: Policy, doc: Document, at: tuple) -> Filters:
    if not raw:
        return Filters()
    where: tuple = ()  # as Filters.where
    if raw.get("where"):
        mark = doc.mark(at + ("where",))
        span = Span(doc.file, mark.line if mark else 0, mark.column if mark else 0, mark.style if mark else None,
                    ".".join(str(a) for a in at) + ".where")
        condition, found = compile_condition(raw["where"], policy.vocabulary, span, REQUEST)
        if condition is None:
            raise CaseError([problem("request_invalid", p.message, file=p.file, line=p.line or None,
                                     column=(p.column or None) if p.line else None, path=p.path, hint=p.hint)
                             for p in found])
        where = (condition,)
    return Filters(tuple(raw.get("fields", ())), tuple(raw.get("specialties", ())), tuple(raw.get("sub_pools", ())),
                   raw.get("min_title_rank"), where)


def mismatch(filters: Filters, facts: Mapping[str, Any], policy: Policy, as_of: str) -> str | None:
    """The first filter an expert with these facts does not meet, described; None when all are met."""
    for name, wanted in (("fields", filters.fields), ("specialties", filters.specialties)):
        if wanted:
            have = facts.get(f"expert.{name}")
            if have is None:
                return f"{name}: 未登记（要求其一：{'、'.join(wanted)}）"
            if not any(w in have for w in wanted):
                return f"{name}: {'、'.join(have) or '（无）'}（要求其一：{'、'.join(wanted)}）"
    if filters.sub_pools:
        have = facts.get("expert.sub_pool")
        if have not in filters.sub_pools:
            return f"sub_pool: {have or '未登记'}（要求其一：{'、'.join(filters.sub_pools)}）"
    if filters.min_title_rank:
        ranks = policy.vocabulary.facts["expert.title_rank"].values
        have = facts.get("expert.title_rank")
        if have is None:
            return f"title_rank: 未登记（要求不低于 {filters.min_title_rank}）"
        if ranks.index(have) < ranks.index(filters.min_title_rank):
            return f"title_rank: {have}（要求不低于 {filters.min_title_rank}）"
    for condition in filters.where:
        context = bind(facts, policy.vocabulary.facts, as_of)
        value = evaluate(condition, context, facts)
        if value is not True:
            if isinstance(value, Unknown):
                why = ("无法判断，缺少 " + "、".join(value.missing)) if value.missing else f"无法计算：{value.error}"
            else:
                why = "不成立"
            return f"where: {condition.source}（{why}）"
    return None


# -- the receipt ----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Candidate:
    rank: int
    expert: str
    position: int  # in the draw order, from 1
    key: str
    row: str
    round: int
    status: str  # accepted | awaiting | declined | no_answer | recused | backup | reserve
    to_confirm: tuple[Finding, ...] = ()

    def to_json(self) -> dict:
        out = {"rank": self.rank, "expert": self.expert, "position": self.position, "status": self.status,
               "round": self.round, "key": self.key, "row": self.row}
        if self.to_confirm:
            out["to_confirm"] = [{"rule": f.rule, "cite": f.cite, "result": f.result,
                                  **({"missing_facts": list(f.missing_facts)} if f.missing_facts else {}),
                                  **({"error": f.error} if f.error else {})} for f in self.to_confirm]
        return out


@dataclass(frozen=True, slots=True)
class Excluded:
    expert: str
    position: int
    key: str
    row: str
    round: int
    reasons: tuple[Reason, ...]

    def to_json(self) -> dict:
        return {"expert": self.expert, "position": self.position, "round": self.round, "key": self.key,
                "row": self.row, "reasons": [r.to_json() for r in self.reasons]}


@dataclass(frozen=True, slots=True)
class Round:
    round: int
    reason: str  # draw | redraw
    wanted: int
    found: int
    reached: int  # experts of the order this round went through
    first: int  # position where it started
    last: int  # position where it stopped (0 when it reached none)

    def to_json(self) -> dict:
        return {"round": self.round, "reason": self.reason, "wanted": self.wanted, "found": self.found,
                "reached": self.reached, "positions": [self.first, self.last]}


@dataclass(frozen=True, slots=True)
class GroupResult:
    id: str
    count: int
    wanted: int
    filters: Filters
    rounds: tuple[Round, ...]
    candidates: tuple[Candidate, ...]
    excluded: tuple[Excluded, ...]
    skipped: tuple[str, ...]  # candidates of an earlier group, passed over here

    @property
    def panel(self) -> tuple[Candidate, ...]:
        return tuple(c for c in self.candidates if c.status in ("accepted", "awaiting"))

    @property
    def backups(self) -> tuple[Candidate, ...]:
        return tuple(c for c in self.candidates if c.status == "backup")

    def to_json(self) -> dict:
        out = {"id": self.id, "count": self.count, "wanted": self.wanted}
        f = _filters_json(self.filters)
        if f:
            out["filters"] = f
        out["rounds"] = [r.to_json() for r in self.rounds]
        out["candidates"] = [c.to_json() for c in self.candidates]
        out["excluded"] = [e.to_json() for e in self.excluded]
        if self.skipped:
            out["skipped"] = list(self.skipped)
        out["selected"] = [c.expert for c in self.panel]
        out["backups"] = [c.expert for c in self.backups]
        return out


def filters_of(mf: ModeFilter) -> Filters:
    return Filters(mf.fields, mf.specialties, mf.sub_pools, mf.min_title_rank, (mf.where,) if mf.where else ())


def _describe(mf: ModeFilter) -> str:
    parts = [f"{name} 其一：{'、'.join(values)}" for name, values in
             (("fields", mf.fields), ("specialties", mf.specialties), ("sub_pools", mf.sub_pools)) if values]
    if mf.min_title_rank:
        parts.append(f"title_rank 不低于 {mf.min_title_rank}")
    if mf.where is not None:
        parts.append(f"where: {mf.where.source}")
    if mf.applies_when is not None:
        parts.append(f"适用条件成立：{mf.applies_when.source()}")
    return "；".join(parts)


def _filters_json(f: Filters) -> dict:
    out: dict[str, Any] = {}
    for name in ("fields", "specialties", "sub_pools"):
        if getattr(f, name):
            out[name] = list(getattr(f, name))
    if f.min_title_rank:
        out["min_title_rank"] = f.min_title_rank
    if f.where:
        out["where"] = [c.source for c in f.where]
    return out


@dataclass(frozen=True, slots=True)
class Provision:
    name: str
    title: str | None
    cite: str
    quote: str
    applied: str
    note: str | None = None

    def to_json(self) -> dict:
        out = {"provision": self.name}
        if self.title:
            out["title"] = self.title
        out.update({"cite": self.cite, "quote": self.quote, "applied": self.applied})
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True, slots=True)
class Applied:
    """A recusal ground or selection exclusion, applied to every expert the walk reached."""

    kind: str  # recusal | exclusion
    rule: str
    title: str | None
    strength: str
    cite: str
    quote: str
    excluded: int  # experts it left out
    to_confirm: int  # candidates for whom it is unknown
    ruling: Ruling | None = None  # the office's ruling on it, as the request records it
    waived: int = 0  # experts reached whom it concerned and the ruling (waived) set it aside for

    def to_json(self) -> dict:
        out: dict[str, Any] = {"kind": self.kind, "rule": self.rule}
        if self.title:
            out["title"] = self.title
        out.update({"strength": self.strength, "cite": self.cite, "quote": self.quote, "excluded": self.excluded,
                    "to_confirm": self.to_confirm})
        if self.ruling is not None:
            ruling = self.ruling.to_json()
            del ruling["effect"]  # per expert: whether it decided is in `waived` (and each expert's exclusion)
            out.update({"ruling": ruling, "waived": self.waived})
        return out


@dataclass(frozen=True, slots=True)
class Receipt:
    policy: tuple[str, str, str]
    as_of: str
    pool: tuple[str, int]  # sha256, number of experts
    request: str  # canonical JSON text
    seed: str
    commitment: str | None
    outcome: str
    findings: tuple[Finding, ...]
    provisions: tuple[Provision, ...]
    rules: tuple[Applied, ...]
    groups: tuple[GroupResult, ...]
    errors: tuple[str, ...] = ()
    facts: Mapping[str, Any] = field(default_factory=dict)  # the facts of the case the request states (facts:)
    protocol: Mapping[str, Any] | None = None  # drawn under a published commitment (protocol.py): it and the contributions

    @property
    def missing_facts(self) -> tuple[str, ...]:
        """The facts whose absence left the draw undetermined (only then)."""
        if self.outcome != "undetermined":
            return ()
        return tuple(sorted({m for f in self.findings for m in f.missing_facts}))

    @property
    def selected(self) -> tuple[str, ...]:
        return tuple(c.expert for g in self.groups for c in g.panel)

    @property
    def backups(self) -> tuple[str, ...]:
        return tuple(c.expert for g in self.groups for c in g.backups)

    def to_json(self) -> dict:
        out = {
            "format": FORMAT,
            "engine": dict(ENGINE),
            "policy": {"id": self.policy[0], "version": self.policy[1], "sha256": self.policy[2]},
            "as_of": self.as_of,
            "pool": {"sha256": self.pool[0], "experts": self.pool[1]},
            "request": json.loads(self.request),
            **({"facts": dict(sorted(self.facts.items()))} if self.facts else {}),
            "seed": self.seed,
            "commitment": self.commitment,
            **({"protocol": dict(self.protocol)} if self.protocol is not None else {}),
            "order": ORDER,
            "outcome": self.outcome,
            **({"missing_facts": list(self.missing_facts)} if self.missing_facts else {}),
            "selected": list(self.selected),
            "backups": list(self.backups),
            "findings": [f.to_json() for f in self.findings],
            "provisions": [p.to_json() for p in self.provisions],
            "rules": [r.to_json() for r in self.rules],
            "groups": [g.to_json() for g in self.groups],
        }
        if self.errors:
            out["errors"] = list(self.errors)
        return out

    def dumps(self, compact: bool = False) -> str:
        return dumps(self.to_json(), compact)


# -- the draw -------------------------------------------------------------------------------

@policy_calendar
def draw(policy: Policy, pool: Pool, request: Any, seed: str, commitment_hex: str | None = None,
         *, request_file: str | None = None, protocol: Mapping[str, Any] | None = None) -> Receipt:
    """Draw under `policy` from `pool` for `request` with `seed`. Pure and deterministic.

    `request` is a mapping (or a yamlio Document, to locate problems) valid under
    schemas/draw-request.schema.json; the policy must be the version in force on its date.
    Raises CaseError for a bad request, seed or commitment; LookupFailure when the policy is
    not in force on the request's date. `protocol` (from protocol.draw_committed, which derives the
    seed from the published commitment and the contributions) is recorded in the receipt as given.
    """
    req = request if isinstance(request, DrawRequest) else parse_request(request, policy, request_file)
    key = seed_bytes(seed)
    seed_hex = key.hex()
    if commitment_hex is not None:
        expected = hashlib.sha256(key).hexdigest()
        if commitment_hex.strip().lower() != expected:
            raise CaseError([problem("request_invalid", "the seed does not match the commitment", path="commitment",
                                     hint=f"SHA-256 of this seed is {expected}; use the seed whose commitment was "
                                          "published")])
        commitment_hex = expected
    in_force_on(policy, req.date, "request")
    dates_possible(pool, policy.vocabulary, req.date)
    selection = policy.selection
    assert selection is not None  # the request was parsed under the policy: mode_of refuses one without selection rules
    rules = selection.draw_for(req.mode)
    multiplier = rules.multiplier if rules else 1
    panel_facts = req.panel_facts
    findings, _, errors = judge_panel(policy, req.facts, req.date, req.rulings)
    findings = (*findings, *req.unsettled)
    provisions = [Provision("mode", req.mode.title, req.mode.cite.label, req.mode.quote,
                            f"按 {req.mode.id} 方式抽取" + (f"，监督：{req.supervisor}" if req.supervisor else
                                                          "，未写明监督" if declares_supervision(policy) else ""),
                            req.mode.note)]
    stop = None
    if any(f.result == FAILED and (f.strength == "mandatory" or _upheld(f)) for f in findings):
        stop = "refused"
    elif any(f.result in (UNKNOWN, ERROR) and f.strength == "mandatory" for f in findings):
        stop = "undetermined"  # a rule that could refuse the draw, or a filter it may impose, is unknown
    if stop is not None:
        return Receipt((policy.id, policy.version, policy.sha256), req.date, (pool.sha256, len(pool)), req.text,
                       seed_hex, commitment_hex, stop, tuple(findings), tuple(provisions), (), (), tuple(errors),
                       req.context.case, protocol)
    order = _Order(key, pool)
    assessed: dict[str, Any] = {}
    taken: set[str] = set()
    answers = req.answers
    known: set[str] = set()
    results = []
    extra = []
    for group in req.groups:
        result, more = _group(policy, req, group, order, multiplier, panel_facts, assessed, taken, answers)
        results.append(result)
        extra.extend(more)
        known.update(c.expert for c in result.candidates)
        taken.update(c.expert for c in result.candidates)
    stray = sorted(set(answers) - known)
    if stray:
        exc = invalid(f"answers name experts who are not candidates of this draw: {', '.join(stray)}",
                      req.file, "answers", "answers are for the candidates listed in the receipt")
        raise located(exc, request) if isinstance(request, Document) else exc
    findings = (*findings, *extra)
    short = any(len(g.panel) < g.count for g in results) or any(
        f.rule == "candidates" and f.result == FAILED for f in extra)
    provisions.extend(_provisions(req, results, rules, short))
    if short:
        outcome = "shortfall"
    elif all(c.status == "accepted" for g in results for c in g.panel):
        outcome = "complete"
    else:
        outcome = "drawn"
    return Receipt((policy.id, policy.version, policy.sha256), req.date, (pool.sha256, len(pool)), req.text, seed_hex,
                   commitment_hex, outcome, tuple(findings), tuple(provisions),
                   _applied(policy, results, req.rulings, assessed), tuple(results), tuple(errors), req.context.case,
                   protocol)


def _upheld(f: Finding) -> bool:
    """A hedged rule the office's ruling (in the request) upheld: it decides like a mandatory one."""
    return f.ruling is not None and f.ruling.effect == "decides" and f.ruling.ruling == "upheld"


def _applied(policy: Policy, results, rulings: Mapping[str, Ruling], assessed: Mapping[str, Any]) -> tuple[Applied, ...]:
    out = []
    for index, (kind, rule) in enumerate(expert_rules(policy)):
        excluded = sum(1 for g in results for e in g.excluded for r in e.reasons if r.kind == kind and r.rule == rule.id)
        confirm = sum(1 for g in results for c in g.candidates for f in c.to_confirm if f.rule == rule.id)
        ruling = rulings.get(rule.id)
        waived = 0
        if ruling is not None:  # experts reached whom the rule would have concerned, set aside by the ruling
            waived = sum(1 for a in assessed.values() for f in [a.findings[index][1]]
                         if f.ruling is not None and f.ruling.effect == "decides" and f.ruling.ruling == "waived")
        out.append(Applied(kind, rule.id, rule.title, rule.strength, rule.cite.label, rule.quote, excluded, confirm,
                           ruling, waived))
    return tuple(out)


def _group(policy, req, group, order, multiplier, panel_facts, assessed, taken, answers):
    rules = policy.selection.draw_for(req.mode)
    backup_count = group.backups if group.backups is not None else (rules.backup_count if rules else None)
    wanted = group.candidates or max(group.count * multiplier, group.count + (backup_count or 0))
    imposed = [(mf, filters_of(mf)) for mf in req.imposed]
    shared = req.facts
    mode_filters = req.mode.filters or None
    candidates: list[Candidate] = []
    excluded: list[Excluded] = []
    skipped: list[str] = []
    rounds: list[Round] = []
    pos = 0

    def walk(want: int, round_no: int, reason: str) -> int:
        nonlocal pos
        got, start = 0, pos
        while got < want and pos < len(order):
            key, expert = order[pos]
            pos += 1
            if expert.id in taken:
                skipped.append(expert.id)
                continue
            unmet = None
            for mf, mfilters in imposed:
                detail = mismatch(mfilters, {**expert.facts, **shared}, policy, req.date)
                if detail is not None:
                    unmet = Reason("filter", mf.id, mf.cite.label, mf.quote, title=mf.title, detail=detail)
                    break
            if unmet is not None:
                excluded.append(Excluded(expert.id, pos, key, expert.digest, round_no, (unmet,)))
                continue
            unmatched = mismatch(group.filters, expert.facts, policy, req.date)
            if unmatched is not None:
                cite = mode_filters.cite.label if mode_filters else req.mode.cite.label
                quote = mode_filters.quote if mode_filters else req.mode.quote
                excluded.append(Excluded(expert.id, pos, key, expert.digest, round_no,
                                         (Reason("filter", unmatched.split(":", 1)[0], cite, quote, detail=unmatched),)))
                continue
            a = assessed.get(expert.id)
            if a is None:
                a = assessed[expert.id] = assess(policy, expert_facts(expert.facts, expert.id, req.context, panel_facts),
                                                 req.date, req.rulings)
            if a.out:
                excluded.append(Excluded(expert.id, pos, key, expert.digest, round_no, a.excluded))
                continue
            candidates.append(Candidate(len(candidates) + 1, expert.id, pos, key, expert.digest, round_no, "backup",
                                        a.to_confirm))
            got += 1
        rounds.append(Round(round_no, reason, want, got, pos - start, start + 1 if pos > start else 0, pos))
        return got

    walk(wanted, 1, "draw")
    extra = []
    if rules is not None and rules.candidates is not None:
        ok = len(candidates) >= group.count * multiplier
        extra.append(Finding(rule="candidates", result=PASSED if ok else FAILED, strength="mandatory",
                             cite=rules.candidates.cite.label, quote=rules.candidates.quote,
                             title=rules.candidates.title,
                             values=(("group", group.id), ("needed", group.count * multiplier),
                                     ("found", len(candidates))),
                             note=rules.candidates.note))
    # contact in rank order; pass over negative answers where the policy replenishes; redraw when the list runs out
    status: dict[int, str] = {}
    seated = 0
    i = 0
    replenish = rules is not None and rules.replenish is not None
    redraw = rules is not None and rules.redraw is not None
    while True:
        while i < len(candidates) and seated < group.count:
            answer = answers.get(candidates[i].expert)
            if answer in NEGATIVE:
                status[i] = answer
                if not replenish:
                    seated += 1  # the place stays empty: the policy provides no replenishment
            else:
                status[i] = answer or "awaiting"
                seated += 1
            i += 1
        if seated >= group.count or not redraw or pos >= len(order):
            break
        if rules.max_rounds is not None and len(rounds) >= rules.max_rounds:
            break  # the text allows no further round
        if walk(multiplier * (group.count - seated), len(rounds) + 1, "redraw") == 0:
            break
    final = []
    backups_left = backup_count
    ranked = rules is not None and (rules.backups is not None or rules.replenish is not None)
    for j, c in enumerate(candidates):
        s = status.get(j)
        if s is None:
            if answers.get(c.expert) in NEGATIVE:
                s = answers[c.expert]
            elif ranked and (backups_left is None or backups_left > 0):
                s = "backup"
                backups_left = None if backups_left is None else backups_left - 1
            else:
                s = "reserve"
        final.append(Candidate(c.rank, c.expert, c.position, c.key, c.row, c.round, s, c.to_confirm))
    return GroupResult(group.id, group.count, wanted, group.filters, tuple(rounds), tuple(final), tuple(excluded),
                       tuple(skipped)), extra


def _provisions(req: DrawRequest, results, rules, short: bool) -> list[Provision]:
    out = []
    for lifted in req.lifted:
        assert lifted.applies_when is not None  # only a filter with a condition is lifted
        out.append(Provision("mandatory_filter", lifted.title, lifted.cite.label, lifted.quote,
                             f"{lifted.id}：本次抽取不适用（适用条件不成立：{lifted.applies_when.source()}）",
                             lifted.note))
    for imposed in req.imposed:
        left = sum(1 for g in results for e in g.excluded for r in e.reasons if r.kind == "filter" and r.rule == imposed.id)
        out.append(Provision("mandatory_filter", imposed.title, imposed.cite.label, imposed.quote,
                             f"{imposed.id}：按 {req.mode.id} 方式抽取的每一位专家均须符合（{_describe(imposed)}），"
                             f"不论请求是否写明；经过但不符合的 {left} 名", imposed.note))
    mf = req.mode.filters
    if mf is not None and any(_filters_json(g.filters) for g in results):
        out.append(Provision("filters", mf.title, mf.cite.label, mf.quote, "按抽取请求提出的专家条件筛选",
                             mf.note))
    if rules is None:
        return out

    def add(name: str, p, applied: str) -> None:
        if p is not None:
            out.append(Provision(name, p.title, p.cite.label, p.quote, applied, p.note))

    if rules.candidates is not None:
        add("candidates", rules.candidates,
            "；".join(f"{g.id}：需 {g.count} 名，候选 {len(g.candidates)} 名" for g in results))
    add("contact", rules.contact, "按抽取顺序联系候选专家")
    passed = sum(1 for g in results for c in g.candidates if c.status in NEGATIVE)
    if passed:
        add("replenish", rules.replenish, f"{passed} 名候选专家不能参加，由其后的候选专家按顺序递补")
    redraws = sum(1 for g in results for r in g.rounds if r.reason == "redraw")
    capped = short and rules.max_rounds is not None and any(
        len(g.rounds) >= rules.max_rounds and len(g.panel) < g.count for g in results)
    if redraws or capped:
        add("redraw", rules.redraw, "；".join(
            ([f"候选名单用尽，沿同一抽取顺序再次抽取 {redraws} 轮"] if redraws else [])
            + ([f"已抽取 {rules.max_rounds} 轮，达到规定的上限，不再抽取"] if capped else [])))
    if any(g.backups for g in results):
        add("backups", rules.backups, f"确定候补专家 {sum(len(g.backups) for g in results)} 名，按先后顺序递补")
    if short:
        add("shortfall", rules.shortfall, "库中符合条件的专家不能满足要求")
    return out


# -- verification ---------------------------------------------------------------------------

DIFFERENCE_KINDS = ("policy_changed", "pool_changed", "row_changed", "row_removed", "commitment", "differs",
                    "extra", "missing", "undrawable", "truncated")


@dataclass(frozen=True, slots=True)
class Difference:
    kind: str  # one of DIFFERENCE_KINDS: a stable code for machines
    path: str
    receipt: Any
    recomputed: Any
    message: str
    expert: str | None = None  # the expert whose row changed or went

    def to_json(self) -> dict:
        out = {"kind": self.kind, "path": self.path, "receipt": self.receipt, "recomputed": self.recomputed,
               "message": self.message}
        if self.expert is not None:
            out["expert"] = self.expert
        return out


@dataclass(frozen=True, slots=True)
class Verification:
    ok: bool
    differences: tuple[Difference, ...]
    recomputed: Receipt | None = field(default=None, compare=False)
    violations: tuple = ()  # protocol.Violation: the draw protocol broken (protocol.py)
    warnings: tuple[str, ...] = ()  # e.g. a receipt made without the protocol
    receipt_sha256: str | None = None  # what a later draw's history names this receipt by

    def to_json(self) -> dict:
        out: dict[str, Any] = {"ok": self.ok, "differences": [d.to_json() for d in self.differences],
                               "violations": [v.to_json() for v in self.violations],
                               "kinds": sorted({v.kind for v in self.violations})}
        if self.warnings:
            out["warnings"] = list(self.warnings)
        if self.receipt_sha256 is not None:
            out["receipt_sha256"] = self.receipt_sha256
        return out


MAX_DIFFERENCES = 50


def check_receipt(data: Any, file: str | None = None) -> Mapping:
    doc = data if isinstance(data, Document) else Document(data, {}, file or "<receipt>")
    return checked(doc, "receipt", "receipt (a JSON object)", "receipt_invalid")


def verify(registry, pool: Pool, receipt: Any, *, file: str | None = None, receipts: Any = None,
           records: Any = None, require_protocol: bool = False) -> Verification:
    """Recompute a receipt from the pool and the receipt's own inputs; name every difference.

    The policy is the version the receipt names, from `registry`; the pool is the file the
    caller says was drawn from. A pool edited after the draw, a policy file changed, or a
    receipt edited by hand each give differences, with the rows and fields concerned.
    The draw protocol is checked too (protocol.check: `receipts`, the earlier receipts its
    history may name; `records`, the audit log's records as dicts): each breach is a violation.
    """
    from . import protocol as _protocol
    doc = receipt if isinstance(receipt, Document) else Document(receipt, {}, file or "<receipt>")
    data = check_receipt(doc)
    _check_expressions(doc, data)
    diffs: list[Difference] = []
    policy = registry.get(data["policy"]["id"], data["policy"]["version"])
    if policy.sha256 != data["policy"]["sha256"]:
        diffs.append(Difference("policy_changed", "policy.sha256", data["policy"]["sha256"], policy.sha256,
                                f"the policy {policy.id} {policy.version} (or a file it reads) changed since the draw"))
    violations, warnings = _protocol.check(data, receipts=receipts, records=records, require=require_protocol)
    sha = _protocol.receipt_sha256(data)
    if pool.sha256 != data["pool"]["sha256"]:
        diffs.append(Difference("pool_changed", "pool.sha256", data["pool"]["sha256"], pool.sha256,
                                "the pool differs from the one drawn from"))
        diffs.extend(_row_differences(data, pool))
    if data.get("commitment") is not None:
        try:
            expected = commitment(data["seed"])
        except CaseError:
            expected = None
        if expected != data["commitment"]:
            diffs.append(Difference("commitment", "commitment", data["commitment"], expected,
                                    "the seed does not match the commitment published before the draw"))
    try:
        recomputed = draw(policy, pool, data["request"], data["seed"])
    except CaseError as exc:
        diffs.append(Difference("undrawable", "request", None, None, "the receipt's request or seed cannot be drawn: "
                                + "; ".join(p.message for p in exc.problems)))
        return Verification(False, tuple(diffs), None, tuple(violations), tuple(warnings), sha)
    mine = recomputed.to_json()
    if data.get("format") in FORMATS:
        mine["format"] = data["format"]  # a receipt of either format is recomputed by the same draw
    if "protocol" in data:
        mine["protocol"] = data["protocol"]  # checked above (protocol.check), against the seed and the commitment
    mine["commitment"] = data.get("commitment")  # checked above, against the seed
    if "engine" in data:  # the release that drew (older receipts lack it): the draw itself is what is compared
        mine["engine"] = data["engine"]
    else:
        mine.pop("engine", None)
    found: list[Difference] = []
    _compare(data, mine, "", found)
    named = {d.path for d in diffs}
    diffs.extend(d for d in found if d.path not in named)  # a difference already named is not repeated
    return Verification(not diffs and not violations, tuple(diffs[:MAX_DIFFERENCES]) + (
        (Difference("truncated", "", None, None, f"... {len(diffs) - MAX_DIFFERENCES} more differences"),)
        if len(diffs) > MAX_DIFFERENCES else ()), recomputed, tuple(violations), tuple(warnings), sha)


def _check_expressions(doc: Document, data: Mapping) -> None:
    """Refuse a receipt whose request holds an expression no draw accepts (limits.REQUEST).

    Such a receipt was not made by `draw`; recomputing it would hand the CEL core an
    expression it may not survive, so it is refused as malformed before anything is drawn.
    """
    request = data.get("request")
    if not isinstance(request, Mapping):
        return
    places: list[tuple[str | int, ...]] = [("request", "filters")]
    groups = request.get("groups")
    if isinstance(groups, list):
        places += [("request", "groups", i, "filters") for i in range(len(groups))]
    for at in places:
        filters: Any = data
        for key in at:
            filters = filters.get(key) if isinstance(filters, Mapping) else (
                filters[key] if isinstance(filters, list) and isinstance(key, int) else None)
        where = filters.get("where") if isinstance(filters, Mapping) else None
        if not isinstance(where, str):
            continue
        over = check_expression(where, REQUEST)
        if over is not None:
            message, _offset, hint = over
            raise CaseError([problem("receipt_invalid", f"the request's filter: {message}",
                                     hint="a draw refuses such a request, so no draw made this receipt",
                                     **doc.where(at + ("where",)))])


def _row_differences(data: Mapping, pool: Pool) -> list[Difference]:
    out = []
    for gi, g in enumerate(data.get("groups", ())):
        for kind in ("candidates", "excluded"):
            for j, entry in enumerate(g.get(kind, ())):
                eid = entry.get("expert")
                now = pool.by_id.get(eid)
                path = f"groups[{gi}].{kind}[{j}].row"
                if now is None:
                    out.append(Difference("row_removed", path, entry.get("row"), None,
                                          f"expert {eid} (position {entry.get('position')}) is no longer in the pool",
                                          eid))
                elif now.digest != entry.get("row"):
                    out.append(Difference("row_changed", path, entry.get("row"), now.digest,
                                          f"the row of expert {eid} (line {now.line} of {pool.file}) changed since the draw",
                                          eid))
    return out


def _compare(old: Any, new: Any, path: str, out: list[Difference]) -> None:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for k in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{k}" if path else str(k)
            if k not in new:
                out.append(Difference("extra", sub, old[k], None, "in the receipt, not in the recomputed draw"))
            elif k not in old:
                out.append(Difference("missing", sub, None, new[k], "missing from the receipt"))
            else:
                _compare(old[k], new[k], sub, out)
        return
    if isinstance(old, list) and isinstance(new, list):
        for i in range(max(len(old), len(new))):
            sub = f"{path}[{i}]"
            if i >= len(new):
                out.append(Difference("extra", sub, old[i], None, "in the receipt, not in the recomputed draw"))
            elif i >= len(old):
                out.append(Difference("missing", sub, None, new[i], "missing from the receipt"))
            else:
                _compare(old[i], new[i], sub, out)
        return
    if old != new or type(old) is not type(new):
        out.append(Difference("differs", path, old, new, "the receipt says one thing, the recomputed draw another"))
