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
from .decisions import DECISIONS
from .draw import Receipt, Verification, commitment, draw, new_seed, verify
from .engine import as_date, decide
from .errors import CaseError, EngineError, LookupFailure, PolicyError, Problem
from .loader import check_policy, load_all, load_policy
from .model import Policy
from .panel import check_panel
from .pool import Pool, load_pool
from .registry import Registry
from .verdict import Finding, Verdict

__all__ = [
    "DECISIONS", "CaseError", "EngineError", "Finding", "LookupFailure", "Policy", "PolicyError", "Pool", "Problem",
    "Receipt", "Registry", "Verdict", "Verification", "as_date", "check_panel", "check_policy", "commitment", "decide",
    "draw", "load_all", "load_policy", "load_pool", "new_seed", "verify",
]
