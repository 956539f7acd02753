"""The source index module, imported when first used.

Loading a policy from its files needs the source index (quotes are verified against the text);
answering a question with a policy taken from the cache of verified policies does not, and
importing the index (its patterns and classes) is a tenth of such a process. The loaders name
`sources.<function>` through this object, which imports the module on first access.
"""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class _LazyModule:
    """A module imported when one of its attributes is first read (here: policy.sources)."""

    __slots__ = ("_module",)

    def __init__(self) -> None:
        self._module: ModuleType | None = None

    def __getattr__(self, name: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module("policy_engine.policy.sources")
        return getattr(self._module, name)


sources: Any = _LazyModule()
