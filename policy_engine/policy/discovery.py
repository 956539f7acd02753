"""A registry that loads a policy when it is asked for.

Answering a question about one policy needs that policy's versions only; loading and
verifying every bundled policy (each quote checked against its source) costs several times
more than the answer. `discover(paths)` finds the policy folders (a policy's id is its
folder's name, which the loader checks) and loads the versions of an id, verified as
`Registry.load` would, the first time the id is used. A problem in one policy is reported
when that policy is asked for, not when another is. `Registry.load` still loads everything
at once, for `check`, `list` and the golden cases.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator, Mapping

from ..errors import PolicyError, Problem
from .loader import _Cache, check_policy, discover as _find
from .model import Policy
from .registry import Registry


class PolicyFolders(Mapping[str, tuple[Policy, ...]]):
    """id -> versions (newest first), each id loaded and verified on first access."""

    def __init__(self, paths: Iterable) -> None:
        found = _find(paths)
        self._files: dict[str, list[Path]] = {}
        for file in found.policies:
            self._files.setdefault(file.parent.name, []).append(file)
        # What the walk could not read: inside a policy's folder it is that policy's problem,
        # reported when the policy is asked for; anywhere else (an unreadable or empty folder,
        # _shared/) it may concern every policy, so it is reported now.
        self._walk_problems: dict[str, list[Problem]] = {}
        general: list[Problem] = []
        for found_problem in found.problems:
            owner = Path(found_problem.file).parent.name if found_problem.file else None
            if owner in self._files:
                self._walk_problems.setdefault(owner, []).append(found_problem)
            else:
                general.append(found_problem)
        if general:
            raise PolicyError(general)
        self._loaded: dict[str, tuple[Policy, ...]] = {}
        self._cache = _Cache()  # sources and vocabularies shared by the ids loaded

    def __getitem__(self, policy_id: str) -> tuple[Policy, ...]:
        if policy_id not in self._loaded:
            files = self._files[policy_id]  # KeyError: Registry.versions names the ids known
            policies: list[Policy] = []
            problems: list[Problem] = list(self._walk_problems.get(policy_id, ()))
            for file in files:
                policy, found = check_policy(file, self._cache)
                problems.extend(found)
                if policy is not None:
                    policies.append(policy)
            if problems:
                raise PolicyError(problems)
            self._loaded[policy_id] = Registry.of(policies).policies.get(policy_id, ())
        return self._loaded[policy_id]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._files))

    def __len__(self) -> int:
        return len(self._files)

    def __contains__(self, policy_id: object) -> bool:
        return policy_id in self._files


def discover(*paths) -> Registry:
    """A registry of the policies under the paths (files or folders), loaded on demand."""
    if not paths:
        from .registry import default_policy_dir
        paths = (default_policy_dir(),)
    return Registry(PolicyFolders(paths))


__all__ = ["PolicyFolders", "discover"]
