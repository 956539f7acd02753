"""decide(): one policy, one decision, one case, one date -> one Verdict. Pure."""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterable, Iterator, Mapping

from ..dates import as_date  # re-exported: policy_engine.as_date
from .decisions import DECISIONS
from ..errors import EngineError, LookupFailure, problem
from .evaluate import Run, plan, reference_only
from . import rulings as _rulings
from ..policy.expr import Bound, bind
from ..policy.fastcase import CaseTable
from ..policy.limits import check_case_size
from ..policy.model import Policy
from ..policy.registry import Registry
from .verdict import Verdict, VersionChoice
from ..policy.vocabulary import check_case
from ..policy.workdays import policy_calendar, using


_CASE_TABLE = "(case table)"  # Policy.plans key of its CaseTable (policy/fastcase.py)


def decide_many(policy: Policy, decision: str, cases: Iterable[Any], as_of: Any, *,
                case_file: str | None = None) -> Iterator["Verdict | EngineError"]:
    """decide() for each case of `cases`, in order, lazily: each a Verdict, or the EngineError
    (CaseError) that refuses that case alone, so one bad case does not stop the others.

    What holds for every case is checked once, before the first: the version is in force on
    `as_of`, the decision is one it answers (LookupFailure, raised at once). Each verdict is
    the same bytes as decide() gives for its case. The batch command and the service's
    POST /v1/decisions decide runs of cases that share a policy, decision and date this way.
    """
    day = as_date(as_of)
    kind = _lookup(policy, decision, day)
    calendar = policy.calendar
    for case in cases:
        try:
            with using(calendar):
                verdict = _decide(policy, kind, decision, case, day, case_file)
        except EngineError as exc:
            yield exc
        else:
            yield verdict


def _lookup(policy: Policy, decision: str, selecting):
    """The decision's module, once the version is known to be in force on `selecting` and to answer it."""
    if not policy.in_force.covers(selecting):
        raise LookupFailure([problem(
            "not_in_force", f"{policy.id} version {policy.version} is in force {policy.in_force.describe()}, "
                            f"not on {selecting.isoformat()}",
            hint="use Registry.in_force(policy_id, date) to pick the version in force")])
    kind = DECISIONS.get(decision)
    if kind is None or not kind.available(policy):
        offered = ", ".join(policy.decisions()) or "none"
        known = "" if kind is not None else f"'{decision}' is not a decision kind; "
        raise LookupFailure([problem(
            "unsupported_decision", f"{known}{policy.id} {policy.version} has no {decision} rules (it answers: {offered})",
            hint="decisions: " + ", ".join(DECISIONS))])
    return kind


@policy_calendar
def decide(policy: Policy, decision: str, case: Mapping[str, Any] | None, as_of: Any,
           *, case_file: str | None = None, in_force_on: Any = None) -> Verdict:
    """Answer `decision` for `case` under `policy`, as the law stood on `as_of`.

    The policy must be in force on `as_of` (use Registry.in_force to pick the version),
    or on `in_force_on` where another date selects the version (the date of the act: see
    decide_governing); `as_of` stays the date the question is asked about;
    the case is validated against the policy's vocabulary first (CaseError on any bad
    value, with its path). Missing facts are not errors: they make rules unknown.
    """
    day = as_date(as_of)
    kind = _lookup(policy, decision, day if in_force_on is None else as_date(in_force_on))
    return _decide(policy, kind, decision, case, day, case_file)


def _decide(policy: Policy, kind, decision: str, case: Any, day, case_file: str | None) -> Verdict:
    """decide() once the version and the decision are settled (under the policy's calendar)."""
    iso = day.isoformat()
    quick = None
    if type(case) is dict and _rulings.KEY not in case and not reference_only():  # most cases: the table knows them valid
        table = policy.plans.get(_CASE_TABLE)
        if table is None:
            table = policy.plans.setdefault(_CASE_TABLE, CaseTable(policy.vocabulary))
        quick = table.check(case, iso)
    if quick is not None:
        facts, variables = quick
        raw_rulings: Any = None
        rulings: dict = {}
        bound = Bound(variables)
    else:  # the checks that word every problem
        check_case_size(case, case_file)  # before anything walks it: a case's cost is bounded, whatever its origin
        case, raw_rulings = _rulings.split(case)
        facts = check_case(case, policy.vocabulary, case_file, as_of=iso)
        rulings = _rulings.read(raw_rulings, policy, iso, case_file)
        bound = bind(facts, policy.vocabulary.facts, iso)
    checker = getattr(kind, "check", None)
    if checker is not None:  # inputs a decision rejects beyond their types (a score above an item's maximum)
        checker(policy, facts, case_file)
    compiled = policy.plans.get(decision)
    if compiled is None:
        compiled = policy.plans.setdefault(decision, plan(kind.conditions(policy)))
    state = Run(bound, facts, iso, compiled, rulings)
    outcome, findings, *more = kind.run(policy, state)  # a sanction ladder adds its adjusted result
    if rulings:  # only from the slow path, where raw_rulings is the list read
        assert raw_rulings is not None
        _rulings.check_judged(rulings, findings, decision, raw_rulings, case_file)
    missing = sorted({m for f in findings for m in f.missing_facts})
    return Verdict(
        policy=(policy.id, policy.version, policy.sha256), decision=decision, as_of=iso, outcome=outcome,
        findings=findings, missing_facts=tuple(missing), trace=tuple(state.trace), errors=tuple(state.errors),
        adjusted=more[0] if more else None,
    )


def decide_governing(registry: "Registry", policy_id: str, decision: str, case: Mapping[str, Any] | None, as_of: Any,
                     *, case_file: str | None = None) -> tuple[Verdict, Policy]:
    """decide() under the version that governs the case, and that version.

    Without a governing_version rule for the decision, the version in force on `as_of`
    answers and the verdict carries no `version`. With one (policy.model.VersionRule), the
    verdict's `version` names the date that chose, the rule, its article and the versions
    considered:

    - the selecting fact is absent: the version in force on as_of is evaluated, the outcome
      is undetermined and the fact is missing (under `lighter` its outcome is the ceiling);
    - `in_force`: the version in force on the selecting date answers; before every encoded
      version it is refused (LookupFailure): the law then in force governs and is not encoded;
    - `lighter` (从旧兼从轻): the version in force on the selecting date answers unless the
      version in force on as_of gives a lighter result by the decision's `severity` hook
      (decisions/__init__.py); equal or unknown severity keeps the old law's verdict (an
      unknown one made undetermined). Before every encoded version: undetermined, governing
      earlier_law, with the encoded version's outcome as the ceiling. The engine does not
      pretend the new law simply applies: it applies only where it is lighter, which cannot
      be known without the earlier law.
    """
    g = registry.governing(policy_id, decision, case, as_of, case_file)
    asked, rule = g.asked, g.rule
    if rule is None:
        return decide(asked, decision, case, as_of, case_file=case_file), asked
    iso = as_date(as_of).isoformat()
    common = dict(rule=rule.rule, cite=rule.cite.label, quote=rule.quote)
    if g.date is None:
        verdict = decide(asked, decision, case, as_of, case_file=case_file)
        ceiling = verdict.outcome if rule.rule == "lighter" and verdict.outcome != "undetermined" else None
        choice = VersionChoice(rule.selected_by, iso, version=asked.version, considered=(asked.version,),
                               governing="unknown", ceiling=ceiling,
                               note=f"{rule.selected_by} is unknown: the version that governs cannot be chosen", **common)
        return replace(verdict, outcome="undetermined", adjusted=None, version=choice,
                       missing_facts=tuple(sorted({*verdict.missing_facts, rule.selected_by}))), asked
    at = g.at_date
    if at is None:
        windows = "; ".join(f"{p.version}: {p.in_force.describe()}" for p in registry.versions(policy_id))
        if rule.rule != "lighter":
            raise LookupFailure([problem(
                "not_in_force", f"{rule.selected_by} is {g.date}: the law in force then governs ({rule.cite.label}), "
                                f"and no version of '{policy_id}' was in force on that date (in force: {windows})",
                hint="encode the version in force on that date")])
        verdict = decide(asked, decision, case, as_of, case_file=case_file)
        if g.in_force_only:  # the law of that date governs alone: this version is no ceiling
            choice = VersionChoice(
                rule.selected_by, g.date, version=asked.version, considered=(asked.version,), governing="earlier_law",
                note=f"{rule.in_force_when} holds: the law in force on {g.date} governs alone ({rule.cite.label}); "
                     f"it is not encoded (in force: {windows})", **dict(common, rule="in_force"))
            return replace(verdict, outcome="undetermined", adjusted=None, version=choice), asked
        open_ = g.in_force_only is None and rule.in_force_when is not None
        choice = VersionChoice(
            rule.selected_by, g.date, version=asked.version, considered=(asked.version,), governing="earlier_law",
            ceiling=verdict.outcome if verdict.outcome != "undetermined" and not open_ else None,
            note=f"{g.date} precedes every encoded version ({windows}): the law in force then governs unless this "
                 f"version treats the case more lightly ({rule.cite.label}); that law is not encoded, so this "
                 f"version's result is only the most that can apply"
                 + (f"; {rule.in_force_when} is unknown, and where it holds the law then in force governs alone"
                    if open_ else ""), **common)
        missing = tuple(sorted({*verdict.missing_facts, rule.in_force_when})) if open_ else verdict.missing_facts
        return replace(verdict, outcome="undetermined", adjusted=None, version=choice, missing_facts=missing), asked
    if rule.rule == "lighter" and at is not asked and g.in_force_only is None:
        # in_force_when unknown: the law of the date alone, or the lighter of the two? Only equal results settle it.
        assert rule.in_force_when is not None  # in_force_only is None only where the rule names the fact
        old = decide(at, decision, case, as_of, case_file=case_file, in_force_on=g.date)
        new = decide(asked, decision, case, as_of, case_file=case_file)
        choice = VersionChoice(rule.selected_by, g.date, version=at.version, considered=(at.version, asked.version),
                               note=f"{rule.in_force_when} is unknown: under {at.version} the outcome is {old.outcome}, "
                                    f"under {asked.version} {new.outcome}", **common)
        if old.outcome == new.outcome:
            return replace(old, version=choice), at
        return replace(old, outcome="undetermined", adjusted=None, version=choice,
                       missing_facts=tuple(sorted({*old.missing_facts, rule.in_force_when}))), at
    if rule.rule != "lighter" or at is asked or g.in_force_only:
        verdict = decide(at, decision, case, as_of, case_file=case_file, in_force_on=g.date)
        note = (f"the version in force on {g.date} is the one in force on {iso}" if at is asked else
                f"{rule.in_force_when} holds: the version in force on {g.date} governs alone" if g.in_force_only
                else f"the version in force on {g.date} governs")
        return replace(verdict, version=VersionChoice(
            rule.selected_by, g.date, version=at.version, considered=(at.version,), note=note,
            **dict(common, rule="in_force" if g.in_force_only else rule.rule))), at
    kind = DECISIONS.get(decision)
    severity = getattr(kind, "severity", None)
    if severity is None:
        raise LookupFailure([problem(
            "unsupported_decision", f"{asked.id} {asked.version} chooses the lighter version for {decision} "
                                    f"({rule.cite.label}), but {decision} has no order of severity",
            hint="the decision module must define severity(policy, verdict) (see decisions/__init__.py)")])
    old = decide(at, decision, case, as_of, case_file=case_file, in_force_on=g.date)
    new = decide(asked, decision, case, as_of, case_file=case_file)
    s_old, s_new = severity(at, old), severity(asked, new)
    considered = (at.version, asked.version)
    if s_old is not None and s_new is not None and s_new < s_old:
        return replace(new, version=VersionChoice(
            rule.selected_by, g.date, version=asked.version, considered=considered,
            note=f"the version in force on {g.date} ({at.version}) gives {old.outcome}; this version treats the "
                 f"case more lightly ({new.outcome}) and applies", **common)), asked
    if s_old is None or s_new is None:
        return replace(old, outcome="undetermined", adjusted=None, version=VersionChoice(
            rule.selected_by, g.date, version=at.version, considered=considered,
            note=f"under {at.version} the outcome is {old.outcome}, under {asked.version} {new.outcome}: "
                 f"which is lighter cannot be told until both are settled", **common)), at
    return replace(old, version=VersionChoice(
        rule.selected_by, g.date, version=at.version, considered=considered,
        note=f"the version in force on {g.date} governs ({old.outcome}); {asked.version} is not lighter "
             f"({new.outcome})", **common)), at
