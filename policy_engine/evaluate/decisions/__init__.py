"""Decision kinds, each a combining table over the findings of its rules.

Adding a kind means adding a module with `NAME`, `OUTCOMES`, `available(policy)`,
`conditions(policy)` and `run(policy, run) -> (outcome, findings)`, and listing it in DECISIONS.
A module may also define `check(policy, facts, file)`, which rejects inputs beyond their types
(CaseError), e.g. a score above an item's maximum.

A module may define `severity(policy, verdict) -> int | None`, the hook the lighter-law rule
(governing_version rule: lighter, 从旧兼从轻) uses to compare the verdicts of two versions of
one policy for one case (engine.decide_governing). Contract:
- it orders how heavily the verdict treats the case: a larger number is heavier; an
  outcome that finds no violation (nothing to sanction, no ground) is the lowest;
- numbers from two versions of one policy must be comparable, so they come from what both
  versions declare (e.g. a sanction ladder's declared order), never from their positions alone
  where the versions' ladders differ;
- None where the verdict does not settle it (undetermined): the versions are then not
  compared and the verdict is undetermined;
- pure: it reads only the policy and the verdict.
A decision without the hook cannot be governed by rule lighter (decide_governing refuses).
"""
from . import apportion, deadline, entry, exit, gate, recusal, sanction, score
from . import applies, classify

DECISIONS = {m.NAME: m for m in (entry, exit, recusal, deadline, sanction, apportion, score, gate, classify, applies)}
