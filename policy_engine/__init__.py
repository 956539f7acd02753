"""policy-engine: expert-pool regulations as versioned YAML policies, answered with citations.

    from policy_engine import Registry, decide
    registry = Registry.load("policies")
    policy = registry.in_force("xj-iit-expert-pool", "2026-11-23")
    verdict = decide(policy, "entry", {"expert": {...}}, "2026-11-23")
    print(verdict.outcome, verdict.dumps())

    pool = load_pool("pool.csv", policy.vocabulary)
    receipt = draw(policy, pool, {"date": "2026-11-23", "mode": "random", "count": 5, ...}, seed)
    verify(registry, pool, receipt.to_json()).ok
    check_panel(policy, pool, {"date": ..., "mode": ..., "members": [...]}).outcome
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Names are imported on first use (PEP 562): a one-case `decide` does not pay for the draw,
# pool and panel modules, and `import policy_engine` stays cheap for every front end.
_EXPORTS = {
    "DECISIONS": "evaluate.decisions",
    "Receipt": "selection.draw", "Verification": "selection.draw", "commitment": "selection.draw",
    "draw": "selection.draw", "new_seed": "selection.draw", "verify": "selection.draw",
    "as_date": "evaluate.engine", "decide": "evaluate.engine", "decide_governing": "evaluate.engine",
    "decide_many": "evaluate.engine",
    "CaseError": "errors", "EngineError": "errors", "LookupFailure": "errors", "PolicyError": "errors",
    "Problem": "errors",
    "check_policy": "policy.loader", "load_all": "policy.loader", "load_policy": "policy.loader",
    "Policy": "policy.model",
    "check_panel": "selection.panel",
    "Pool": "selection.pool", "load_pool": "selection.pool",
    "Registry": "policy.registry",
    "Finding": "evaluate.verdict", "Verdict": "evaluate.verdict",
}

if TYPE_CHECKING:
    from .evaluate.decisions import DECISIONS
    from .selection.draw import Receipt, Verification, commitment, draw, new_seed, verify
    from .evaluate.engine import as_date, decide, decide_governing, decide_many
    from .errors import CaseError, EngineError, LookupFailure, PolicyError, Problem
    from .policy.loader import check_policy, load_all, load_policy
    from .policy.model import Policy
    from .selection.panel import check_panel
    from .selection.pool import Pool, load_pool
    from .policy.registry import Registry
    from .evaluate.verdict import Finding, Verdict


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'policy_engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups find it without this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "DECISIONS", "CaseError", "EngineError", "Finding", "LookupFailure", "Policy", "PolicyError", "Pool", "Problem",
    "Receipt", "Registry", "Verdict", "Verification", "as_date", "check_panel", "check_policy", "commitment", "decide",
    "decide_governing", "decide_many", "draw", "load_all", "load_policy", "load_pool", "new_seed", "verify",
]
