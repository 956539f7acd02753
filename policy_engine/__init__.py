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
from .evaluate.decisions import DECISIONS
from .selection.draw import Receipt, Verification, commitment, draw, new_seed, verify
from .evaluate.engine import as_date, decide, decide_governing
from .errors import CaseError, EngineError, LookupFailure, PolicyError, Problem
from .policy.loader import check_policy, load_all, load_policy
from .policy.model import Policy
from .selection.panel import check_panel
from .selection.pool import Pool, load_pool
from .policy.registry import Registry
from .evaluate.verdict import Finding, Verdict

__all__ = [
    "DECISIONS", "CaseError", "EngineError", "Finding", "LookupFailure", "Policy", "PolicyError", "Pool", "Problem",
    "Receipt", "Registry", "Verdict", "Verification", "as_date", "check_panel", "check_policy", "commitment", "decide",
    "decide_governing", "draw", "load_all", "load_policy", "load_pool", "new_seed", "verify",
]
