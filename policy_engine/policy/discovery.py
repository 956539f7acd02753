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
from ..textio import recording
from .cache import PolicyCache
from .loader import _Cache, check_policy, discover as _find
from .model import Policy
from .registry import Registry


class PolicyFolders(Mapping[str, tuple[Policy, ...]]):
    """id -> versions (newest first), each id loaded and verified on first access."""

    def __init__(self, paths: Iterable, cache: PolicyCache | None = None) -> None:
        found = _find(paths)
        self._stored = cache
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
            walk_problems = self._walk_problems.get(policy_id, ())
            stored = self._stored.get(policy_id, files) if self._stored and not walk_problems else None
            if stored is not None:
                self._loaded[policy_id] = stored
                return stored
            policies: list[Policy] = []
            problems: list[Problem] = list(walk_problems)
            # With a cache, each id gets its own reads (a fresh _Cache), so the files recorded
            # are all the files its versions rest on, not only those no earlier id had read.
            shared = _Cache() if self._stored else self._cache
            with recording() as inputs:
                for file in files:
                    policy, found = check_policy(file, shared)
                    problems.extend(found)
                    if policy is not None:
                        policies.append(policy)
            if problems:
                raise PolicyError(problems)
            self._loaded[policy_id] = Registry.of(policies).policies.get(policy_id, ())
            if self._stored:
                self._stored.put(policy_id, files, self._loaded[policy_id], inputs)
        return self._loaded[policy_id]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._files))

    def __len__(self) -> int:
        return len(self._files)

    def __contains__(self, policy_id: object) -> bool:
        return policy_id in self._files


def discover(*paths, cache: PolicyCache | None = None) -> Registry:
    """A registry of the policies under the paths (files or folders), loaded on demand.

    With a `cache`, a policy loaded and verified before from the same files by the same
    engine is taken from it (policy/cache.py); anything else is loaded from its files.
    """
    if not paths:
        from .registry import default_policy_dir
        paths = (default_policy_dir(),)
    return Registry(PolicyFolders(paths, cache))


__all__ = ["PolicyFolders", "discover"]
