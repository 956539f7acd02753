"""engine.decide_many: decide() for many cases of one policy, decision and date.

Each verdict is the bytes decide() gives for its case alone; a refused case is its CaseError
in its place and the cases after it are decided; the checks shared by all (version in force,
decision offered) refuse at once. The batch command and the service decide through it."""
import datetime as dt
import json

import pytest
import yaml

from policy_engine import CaseError, LookupFailure, Registry, decide, decide_many
from policy_engine.batch import Decider, Defaults
from policy_engine.report.golden import SELECTION, default_fixture_dir, fixture_files

REGISTRY = Registry.load()
FIXTURES = default_fixture_dir()


def fixture_groups():
    """The decide fixtures' cases grouped by policy version, decision and date (each group decided at once)."""
    groups: dict = {}
    for f in fixture_files(FIXTURES):
        if f.parent.name in SELECTION:
            continue
        data = yaml.safe_load(f.read_text(encoding="utf-8"))
        day = dt.date.fromisoformat(str(data["as_of"]))
        try:
            policy = REGISTRY.in_force(data["policy"], day)
        except LookupFailure:
            continue
        if policy.version_rule(data["decision"]) is not None:
            continue
        groups.setdefault((policy.id, policy.version, data["decision"], day), (policy, [])) [1].append(data.get("case"))
    return list(groups.items())


GROUPS = fixture_groups()


def one(policy, decision, case, day):
    try:
        return decide(policy, decision, case, day).dumps()
    except CaseError as exc:
        return ("refused", exc.code, str(exc))


def test_every_fixture_group_gives_what_decide_gives_case_by_case():
    assert len(GROUPS) > 50
    for (pid, version, decision, day), (policy, cases) in GROUPS:
        cases = cases + [{"no_such": {"fact": 1}}] + cases  # a refusal in the middle stops nothing
        got = [v.dumps() if not isinstance(v, CaseError) else ("refused", v.code, str(v))
               for v in decide_many(policy, decision, cases, day)]
        assert got == [one(policy, decision, c, day) for c in cases], (pid, decision, day)


def test_what_holds_for_every_case_refuses_at_once():
    xj = REGISTRY.in_force("xj-iit-expert-pool", dt.date(2026, 11, 23))
    with pytest.raises(LookupFailure, match="not on 2019-01-01"):
        next(decide_many(xj, "entry", [{}], "2019-01-01"))
    with pytest.raises(LookupFailure, match="no apportion rules"):
        next(decide_many(xj, "apportion", [{}], "2026-11-23"))


def test_it_is_lazy():
    xj = REGISTRY.in_force("xj-iit-expert-pool", dt.date(2026, 11, 23))

    def cases():
        yield {"expert": {"birth_date": "1960-01-01"}}
        raise AssertionError("the second case was read before the first verdict was asked for")
    assert next(decide_many(xj, "entry", cases(), "2026-11-23")).decision == "entry"


def test_the_batch_decider_groups_runs_and_gives_the_records_of_one_by_one():
    decider = Decider(REGISTRY, Defaults(None, None, None, None), "<test>")
    xj_case = {"expert": {"birth_date": "1960-01-01", "title_rank": "senior"}}
    items = [
        (1, json.dumps({"policy": "xj-iit-expert-pool", "decision": "entry", "as_of": "2026-11-23", "case": xj_case})),
        (2, json.dumps({"policy": "xj-iit-expert-pool", "decision": "entry", "as_of": "2026-11-23", "case": {"x": 1}})),
        (3, json.dumps({"policy": "xj-iit-expert-pool", "decision": "exit", "as_of": "2026-11-23", "case": xj_case})),
        (4, json.dumps({"policy": "gov-sanctions-law", "decision": "sanction", "as_of": "2026-11-23", "case": {}})),
        (5, json.dumps({"policy": "xj-iit-expert-pool", "decision": "entry", "as_of": "2019-01-01", "case": xj_case})),
        (6, "{not json"),
        (7, json.dumps({"policy": "xj-iit-expert-pool", "decision": "entry", "as_of": "2026-11-23", "case": xj_case})),
    ]
    items = [(n, text.encode("utf-8")) for n, text in items]
    together = decider.records(items)
    alone = [Decider(REGISTRY, Defaults(None, None, None, None), "<test>").record(n, p) for n, p in items]
    assert together == alone
    assert [r.status == "refused" for r in together] == [False, True, False, False, True, True, False]
