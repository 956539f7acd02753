"""The office's rulings a case records: the case key `rulings`, read and checked here.

A hedged rule (一般/原则上 → generally, 可以 → discretionary, or a rule whose `unless` has a
`may_exempt` relaxation such as 可适当放宽…但需经…审核认定) leaves the outcome to the body
the text names; the verdict says needs_review (may_exit, may_recuse …) until the case
records what that body ruled:

    rulings:
      - {rule: title, ruling: waived, date: 2026-06-20, body: 市司法局, reference: 赤司审〔2026〕3号}

`ruling` is `upheld` (the rule holds against the case: 不予放宽, 决定解除) or `waived` (the
rule is set aside for this case: 经审核认定放宽, 决定不予解除). See evaluate._ruled for how a
ruling changes a finding. Every problem is a case error located at its path
(rulings[0].rule …): a rule the policy does not have, a rule that is mandatory with no
relaxation (nothing to rule on), two rulings on one rule, a date after the date of the
question, a rule the question asked does not judge.

A ruling counts wherever its rule is judged: in the decision's own run, in the inner runs
(per person in apportion, the exit triggers an evaluation feeds in score), in a panel
check, whose request may carry `rulings` too (selection/panel.py), and in a draw, whose
request may carry them on its panel rules, recusal grounds and exclusions
(selection/draw.py: the receipt records the request, so verify recomputes the draw with them).
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from ..dates import DateError, canonical
from ..errors import CaseError, Problem, problem
from ..policy.model import Policy, Rule
from .verdict import RULINGS, Finding, Ruling

KEY = "rulings"
_FIELDS = ("rule", "ruling", "date", "body", "reference")


def policy_rules(policy: Policy) -> dict[str, Rule]:
    """Every rule of the policy by id (criteria, term limits, triggers, grounds, deadlines, gates,
    sanction ladders, apportionment, selection, evaluation feeds)."""
    groups: list[Iterable[Rule]] = [policy.criteria, policy.term.limits if policy.term else (), policy.triggers,
                                    policy.grounds, policy.deadlines, policy.gates]
    s = policy.sanctions
    if s is not None:
        groups += [s.grounds, s.also, s.provisions, [b.rule for lv in s.levels for b in lv.branches]]
    if policy.apportionment is not None:
        groups.append([r for r, _ in policy.apportionment.rules])
    if policy.selection is not None:
        groups += [policy.selection.exclusions, policy.selection.panel]
    if policy.scoring is not None:
        groups.append(policy.scoring.feeds)
    out: dict[str, Rule] = {}
    for group in groups:
        for rule in group:
            out.setdefault(rule.id, rule)
    return out


def hedged(rule: Rule) -> bool:
    """A rule the office can rule on: generally/discretionary, or with a may_exempt relaxation."""
    return rule.strength != "mandatory" or any(u.effect == "may_exempt" for u in rule.unless)


def split(case: Any) -> tuple[Any, Any]:
    """(the case without `rulings`, the raw rulings or None); anything not a mapping is left to check_case."""
    if isinstance(case, Mapping) and KEY in case:
        return {k: v for k, v in case.items() if k != KEY}, case[KEY]
    return case, None


def read(raw: Any, policy: Policy, as_of: str, file: str | None) -> dict[str, Ruling]:
    """The rulings by rule id; CaseError listing every problem, each at its path."""
    if raw is None:
        return {}
    problems: list[Problem] = []

    def bad(path: str, message: str, hint: str | None = None) -> None:
        problems.append(problem("case_invalid", message, file=file, path=path, hint=hint))

    if not isinstance(raw, list):
        bad(KEY, "rulings must be a list of {rule, ruling, date, body}",
            hint="e.g. rulings: [{rule: <rule id>, ruling: waived, date: 2026-06-20, body: <the deciding body>}]")
        raise CaseError(problems)
    rules = policy_rules(policy)
    out: dict[str, Ruling] = {}
    for i, item in enumerate(raw):
        at = f"{KEY}[{i}]"
        if not isinstance(item, Mapping):
            bad(at, "a ruling must be a mapping {rule, ruling, date, body}")
            continue
        before = len(problems)
        for key in item:
            if key not in _FIELDS:
                bad(f"{at}.{key}", f"a ruling has no field '{key}'", hint="fields: " + ", ".join(_FIELDS))
        rid, verdict, date, body = item.get("rule"), item.get("ruling"), item.get("date"), item.get("body")
        reference = item.get("reference")
        if not isinstance(rid, str) or rid not in rules:
            import difflib
            close = difflib.get_close_matches(str(rid), list(rules), n=1)
            bad(f"{at}.rule", f"{policy.id} {policy.version} has no rule '{rid}'",
                hint=(f"did you mean '{close[0]}'? " if close else "") + "name the id of a rule of the policy")
        elif not hedged(rules[rid]):
            bad(f"{at}.rule", f"rule '{rid}' is mandatory with no relaxation (可…放宽) in {rules[rid].cite.label}: "
                              f"there is no hedge to rule on",
                hint="record rulings only on generally (一般/原则上) or discretionary (可以) rules, "
                     "or rules whose unless has effect may_exempt")
        elif rid in out or any(isinstance(o, Mapping) and o.get("rule") == rid for o in raw[:i]):
            bad(f"{at}.rule", f"a second ruling on rule '{rid}'", hint="record one ruling per rule: the one in force")
        if verdict not in RULINGS:
            bad(f"{at}.ruling", f"ruling must be one of {', '.join(RULINGS)}, got {verdict!r}",
                hint="upheld: the rule holds against the case; waived: the office set it aside for this case")
        day = None
        try:
            day = canonical(date, "the ruling's date")
        except DateError as exc:
            bad(f"{at}.date", str(exc))
        if day is not None and day > as_of:
            on = f", on rule '{rid}' ({rules[rid].cite.label})" if isinstance(rid, str) and rid in rules else ""
            bad(f"{at}.date", f"the ruling is dated {day}, after the date of the question {as_of}{on}",
                hint="a ruling counts only from its date: ask as of that date or later")
        if not isinstance(body, str) or not body.strip():
            bad(f"{at}.body", "name the body that ruled (body: <name>)")
        if reference is not None and not isinstance(reference, str):
            bad(f"{at}.reference", "reference must be text (the document number of the ruling)")
        if len(problems) == before:
            assert isinstance(rid, str) and isinstance(verdict, str) and day is not None and isinstance(body, str)
            out[rid] = Ruling(rid, verdict, day, body, reference)
    if problems:
        raise CaseError(problems)
    return out


def check_judged(rulings: Mapping[str, Ruling], findings: Iterable[Finding], decision: str, raw: list,
                 file: str | None) -> None:
    """Every ruling names a rule this decision judged; a ruling on another question's rule is an error."""
    judged = {f.rule for f in findings}
    problems = [problem("case_invalid", f"rule '{rid}' is not judged by the {decision} question",
                        file=file, path=f"{KEY}[{i}].rule",
                        hint="ask the question that judges it, or leave the ruling out of this case")
                for i, item in enumerate(raw) if isinstance(item, Mapping)
                for rid in [item.get("rule")] if rid in rulings and rid not in judged]
    if problems:
        raise CaseError(problems)
