"""policy-engine: expert-pool regulations as versioned YAML policies, answered with citations.

    from policy_engine import Registry, decide
    registry = Registry.load("policies")
    policy = registry.in_force("xj-iit-expert-pool", "2026-11-23")
    verdict = decide(policy, "entry", {"expert": {...}}, "2026-11-23")
    print(verdict.outcome, verdict.dumps())
"""
from .decisions import DECISIONS
from .engine import as_date, decide
from .errors import CaseError, EngineError, LookupFailure, PolicyError, Problem
from .loader import check_policy, load_all, load_policy
from .model import Policy
from .registry import Registry
from .verdict import Finding, Verdict

__all__ = [
    "DECISIONS", "CaseError", "EngineError", "Finding", "LookupFailure", "Policy", "PolicyError", "Problem",
    "Registry", "Verdict", "as_date", "check_policy", "decide", "load_all", "load_policy",
]
