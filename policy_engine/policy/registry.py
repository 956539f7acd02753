"""Every policy and version, and which version is in force on a date.

Versions of one policy are kept newest first (by the first day in force), as OpenFisca
keeps dated values; the version in force on D is the first whose window covers D.
Windows of two versions of one policy must not overlap: a date has at most one answer.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from ..dates import DateError, as_date, canonical
from ..errors import CaseError, LookupFailure, PolicyError, Problem, problem
from .loader import display, load_all
from .model import Policy, VersionRule


@dataclass(frozen=True, slots=True)
class Governing:
    """What Registry.governing found: the version asked about, the policy's rule for choosing,
    the date that rule reads from the case, and the version in force on that date."""

    asked: Policy  # in force on the date of the question; its governing_version rule applies
    rule: VersionRule | None  # None: the policy declares nothing for this decision (asked governs)
    date: str | None = None  # the selecting date from the case; None: the case does not give it
    at_date: Policy | None = None  # in force on `date`; None: date unknown, or before every version
    in_force_only: bool | None = False  # the rule's in_force_when fact: True, False, or None (unknown)


@dataclass(frozen=True, slots=True)
class Registry:
    policies: Mapping[str, tuple[Policy, ...]]  # id -> versions, newest first

    @classmethod
    def of(cls, policies: Iterable[Policy]) -> "Registry":
        by_id: dict[str, list[Policy]] = {}
        for p in policies:
            by_id.setdefault(p.id, []).append(p)
        problems: list[Problem] = []
        out = {}
        for pid, versions in sorted(by_id.items()):
            versions.sort(key=lambda p: (p.in_force.start, p.version), reverse=True)
            problems.extend(_overlaps(versions))
            out[pid] = tuple(versions)
        if problems:
            raise PolicyError(problems)
        return cls(MappingProxyType(out))

    @classmethod
    def load(cls, *paths) -> "Registry":
        """Load and verify every policy under the paths; raise PolicyError on any problem."""
        paths = paths or (default_policy_dir(),)
        policies, problems = load_all(paths)
        if problems:
            raise PolicyError(problems)
        if not policies:
            raise PolicyError([problem("no_policies", "no policy file (<id>/<version>.yaml) to load", file=display(p),
                                       hint="name the policies folder (the one holding <id>/<version>.yaml)")
                               for p in paths])
        return cls.of(policies)

    def ids(self) -> list[str]:
        return list(self.policies)

    def versions(self, policy_id: str) -> tuple[Policy, ...]:
        try:
            return self.policies[policy_id]
        except KeyError:
            import difflib
            close = difflib.get_close_matches(policy_id, list(self.policies), n=1)
            raise LookupFailure([problem(
                "unknown_policy", f"no policy has the id '{policy_id}'",
                hint=(f"did you mean '{close[0]}'? " if close else "") + "known: " + ", ".join(self.policies))]) from None

    def get(self, policy_id: str, version: str) -> Policy:
        for p in self.versions(policy_id):
            if p.version == version:
                return p
        raise LookupFailure([problem("unknown_version", f"policy '{policy_id}' has no version '{version}'",
                                     hint="versions: " + ", ".join(p.version for p in self.versions(policy_id)))])

    def in_force(self, policy_id: str, on: "_dt.date | str") -> Policy:
        """The version of `policy_id` in force on `on` (a date, or text YYYY-MM-DD)."""
        on = as_date(on)
        versions = self.versions(policy_id)
        for p in versions:
            if p.in_force.covers(on):
                return p
        windows = "; ".join(f"{p.version}: {p.in_force.describe()}" for p in versions)
        raise LookupFailure([problem(
            "not_in_force", f"no version of '{policy_id}' is in force on {on.isoformat()} (in force: {windows})",
            hint="ask about a date inside a window, or add the version in force then")])

    def governing(self, policy_id: str, decision: str, case: Any, on: "_dt.date | str",
                  file: str | None = None) -> Governing:
        """Which versions bear on `decision` for `case` asked on `on`.

        The version in force on `on` is asked; its governing_version rule for the decision
        (if any) names a date fact of the case (the date of the act): the version in force on
        that date is found here, and evaluate.engine.decide_governing decides which verdict
        stands. A date that is not a date, or later than `on`, is a CaseError at its path.
        """
        asked = self.in_force(policy_id, on)
        rule = asked.version_rule(decision)
        if rule is None:
            return Governing(asked, None)
        raw, path = _case_value(case, rule.selected_by)
        if raw is None:
            if rule.acts is not None:
                self._one_version(policy_id, rule, case, None, None, file)
            return Governing(asked, rule)
        try:
            date = canonical(raw, rule.selected_by)
        except DateError as exc:
            raise CaseError([problem("case_invalid", str(exc), file=file, path=path)]) from None
        asked_on = as_date(on).isoformat()
        if date > asked_on:
            raise CaseError([problem("case_invalid", f"{rule.selected_by} is {date}, after the date of the question "
                                                     f"{asked_on}", file=file, path=path,
                                     hint="the date that selects the version cannot be later than as_of")])
        at = next((p for p in self.versions(policy_id) if p.in_force.covers(as_date(date))), None)
        if rule.acts is not None:
            self._one_version(policy_id, rule, case, date, at, file)
        only: bool | None = False
        if rule.in_force_when is not None:
            flag, where = _case_value(case, rule.in_force_when)
            if flag is not None and not isinstance(flag, bool):
                raise CaseError([problem("case_invalid", f"{rule.in_force_when} must be true or false, got {flag!r}",
                                         file=file, path=where)])
            only = flag
        return Governing(asked, rule, date, at, only)


    def _one_version(self, policy_id: str, rule: VersionRule, case: Any, date: str | None, at: Policy | None,
                     file: str | None) -> None:
        """Refuse a case whose acts fall under different versions by their own dates (rule.acts).

        Each act is judged under the law of its own date; one verdict is given under one version,
        whose ladder, combination of acts and order of severity it uses. Acts under different
        versions (or some before every encoded version and some after) cannot be judged together
        honestly, so the case is refused (case_invalid at the first act that differs) with every
        act, its date and the version it falls under named, and the way out: one case per version.
        """
        if rule.acts is None:
            return
        records, path = _case_value(case, rule.acts)
        if not isinstance(records, list):
            return
        def window(p: Policy | None) -> str:
            return f"version {p.version}" if p is not None else "the law in force then (before every encoded version)"
        named = []
        differs = None
        first = date is None  # no selecting date: the acts must agree among themselves
        for i, record in enumerate(records):
            if not isinstance(record, Mapping) or record.get("date") is None:
                continue
            try:
                day = canonical(record["date"], f"{rule.acts}[{i}].date")
            except DateError:
                continue  # the vocabulary check reports it
            p = next((v for v in self.versions(policy_id) if v.in_force.covers(as_date(day))), None)
            named.append(f"{record.get('id', i)} ({day}: {window(p)})")
            if first:
                at, first = p, False
            elif p is not at and differs is None:
                differs = i
        if differs is None:
            return
        raise CaseError([problem(
            "case_invalid", f"{rule.acts}: the acts fall under different versions of '{policy_id}' by their own dates, "
                            f"and each act is judged under the law of its date ({rule.cite.label}); "
                            + (f"{rule.selected_by} {date} selects {window(at)}; " if date is not None else "")
                            + "the acts: " + "; ".join(named),
            file=file, path=f"{path}[{differs}].date",
            hint=f"one verdict is given under one version: split the case, one case for the acts of each version, "
                 f"each with its own {rule.selected_by}, and combine the results as the law says")])


def _case_value(case: Any, name: str) -> tuple[Any, str]:
    """The raw value of a dotted fact in a case (nested or dotted keys) and its path; None when absent."""
    if not isinstance(case, Mapping):
        return None, name
    if name in case:
        return case[name], name
    node: Any = case
    for part in name.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None, name
        node = node[part]
    return node, name


def _overlaps(versions: list[Policy]) -> list[Problem]:
    out = []
    ordered = sorted(versions, key=lambda p: p.in_force.start)
    for earlier, later in zip(ordered, ordered[1:], strict=False):
        if earlier.in_force.until is None or earlier.in_force.until >= later.in_force.start:
            out.append(problem(
                "version", f"version {earlier.version} ({earlier.in_force.describe()}) overlaps version "
                           f"{later.version} ({later.in_force.describe()})", file=earlier.file,
                hint=f"end {earlier.version} on {(later.in_force.start - _dt.timedelta(days=1)).isoformat()}, "
                     f"the day before {later.version} takes effect (in_force.until)"))
    return out


def default_policy_dir() -> Path:
    from ..resources import policy_dir
    return policy_dir()
