"""The office's rulings in a draw request: a ruling on a hedged exclusion or panel rule counts in the
draw as it does in a panel check (evaluate/rulings.py), and the receipt, which records the request,
stays verifiable.

The example: 新疆工业和信息化专家库管理办法 第十四条 原则上每位专家每年度参与评审工作不超过10次,
waived by the pool's managing body for one matter (fixtures/xj-iit-expert-pool/draw/
ten-reviews-waived-for-this-matter.yaml).
"""
from __future__ import annotations

import copy
from pathlib import Path

import pytest

from policy_engine import CaseError, Registry, draw, load_pool, verify
from policy_engine.report.render import render_receipt
from policy_engine.yamlio import parse

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "xj-iit-expert-pool" / "draw" / "ten-reviews-waived-for-this-matter.yaml"


@pytest.fixture(scope="module")
def setting():
    registry = Registry.load(ROOT / "policies")
    fixture = parse(FIXTURE.read_text(encoding="utf-8"), str(FIXTURE)).data
    policy = registry.get(fixture["policy"], "2025-04-21")
    pool = load_pool(FIXTURE.parent / fixture["pool"], policy.vocabulary)
    return registry, policy, pool, fixture["case"], fixture["seed"]


def reasons(receipt) -> dict[str, list[str]]:
    return {e.expert: [r.rule for r in e.reasons] for g in receipt.groups for e in g.excluded}


def rule(receipt, rid: str) -> dict:
    return next(r for r in receipt.to_json()["rules"] if r["rule"] == rid)


def test_a_waived_yearly_cap_lets_the_expert_over_it_be_drawn(setting):
    registry, policy, pool, request, seed = setting
    without = {k: v for k, v in request.items() if k != "rulings"}
    before = draw(policy, pool, without, seed)
    assert reasons(before)["E002"] == ["yearly-review-cap"] and "ruling" not in rule(before, "yearly-review-cap")
    after = draw(policy, pool, request, seed)
    assert "E002" not in reasons(after) and "E002" in after.selected
    r = rule(after, "yearly-review-cap")
    assert (r["excluded"], r["waived"], r["ruling"]["ruling"], r["ruling"]["body"]) == (
        0, 1, "waived", "自治区工业和信息化厅专家库管理部门")
    assert after.to_json()["request"]["rulings"][0]["rule"] == "yearly-review-cap"
    text = render_receipt(after, policy)
    assert "决定本案不适用本条（放宽）：据此未跳过 1 名" in text


def test_an_upheld_ruling_leaves_the_draw_as_the_rule_gives_it(setting):
    _, policy, pool, request, seed = setting
    upheld = copy.deepcopy(request)
    upheld["rulings"][0]["ruling"] = "upheld"
    receipt = draw(policy, pool, upheld, seed)
    assert reasons(receipt)["E002"] == ["yearly-review-cap"] and rule(receipt, "yearly-review-cap")["waived"] == 0


def test_the_receipt_with_a_ruling_verifies_and_one_stripped_of_it_does_not(setting):
    registry, policy, pool, request, seed = setting
    out = draw(policy, pool, request, seed).to_json()
    assert verify(registry, pool, out).ok
    forged = copy.deepcopy(out)
    del forged["request"]["rulings"]  # the ruling taken out, the result kept: recomputing shows it
    check = verify(registry, pool, forged)
    assert not check.ok and check.differences


@pytest.mark.parametrize("change,words", [
    ({"rule": "random-only"}, "mandatory with no relaxation"),
    ({"rule": "age"}, "is not judged in a draw"),
    ({"rule": "yearly-review-cap-x"}, "did you mean 'yearly-review-cap'"),
    ({"date": "2026-11-21"}, "after the date of the question"),
    ({"ruling": "granted"}, "upheld, waived"),
])
def test_a_wrong_ruling_is_refused_at_its_path(setting, change, words):
    _, policy, pool, request, seed = setting
    bad = copy.deepcopy(request)
    bad["rulings"][0].update(change)
    with pytest.raises(CaseError) as info:
        draw(policy, pool, bad, seed)
    hit = [p for p in info.value.problems if words in p.render()]
    assert hit, [p.render() for p in info.value.problems]
    assert hit[0].path is not None and hit[0].path.startswith("rulings[0]")
