"""Decision kinds, each a combining table over the findings of its rules.

Adding a kind means adding a module with `NAME`, `OUTCOMES`, `available(policy)`,
`conditions(policy)` and `run(policy, run) -> (outcome, findings)`, and listing it in DECISIONS.
A module may also define `check(policy, facts, file)`, which rejects inputs beyond their types
(CaseError), e.g. a score above an item's maximum.
"""
from . import apportion, deadline, entry, exit, gate, recusal, sanction, score
from . import applies, classify

DECISIONS = {m.NAME: m for m in (entry, exit, recusal, deadline, sanction, apportion, score, gate, classify, applies)}
