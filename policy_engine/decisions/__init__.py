"""Decision kinds, each a combining table over the findings of its rules.

Adding a kind means adding a module with `NAME`, `OUTCOMES`, `available(policy)`,
`conditions(policy)` and `run(policy, run) -> (outcome, findings)`, and listing it in DECISIONS.
"""
from . import deadline, entry, exit, recusal

DECISIONS = {m.NAME: m for m in (entry, exit, recusal, deadline)}
