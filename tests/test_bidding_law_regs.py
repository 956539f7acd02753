"""The 招标投标法实施条例 policy (policies/bidding-law-regs): what its goldens cannot sweep.

- 第四十八条第二款 超过三分之一: every committee size and count, so the boundary (exactly one
  third does not call for an extension) holds beyond the sizes the goldens pick;
- 第七十一条's ladder: 责令改正 with every listed act, the ban only when 情节严重 and not
  特别严重, disqualification when 特别严重; 第七十二条 alone never orders 责令改正;
- the replacement of a 特殊招标项目's expert (第四十六条第二款 依照前款规定进行) is checked, not drawn;
- source.txt is the shared regulation, unedited.
"""
import hashlib
from pathlib import Path

import pytest

from policy_engine import CaseError, Registry, check_panel, decide, draw, load_pool

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "policies" / "bidding-law-regs"
SEED = "7d1f0c2a9b3e4d5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7"


@pytest.fixture(scope="module")
def policy():
    return Registry.load(ROOT / "policies").get("bidding-law-regs", "2019-03-02")


@pytest.fixture(scope="module")
def pool(policy):
    return load_pool(ROOT / "fixtures" / "pools" / "bidding-pool.csv", policy.vocabulary)


def _time_rule(verdict):
    return next(f for f in verdict.findings if f.rule == "evaluation-time-extended")


def test_more_than_one_third_is_strict_for_every_committee_size(policy):
    for size in range(1, 26):
        for count in range(0, size + 1):
            case = {"bidding": {"committee_size": size, "members_finding_time_insufficient": count,
                                "evaluation_time_extended": False, "member_replaced": []}}
            verdict = decide(policy, "gate", case, "2026-05-12")
            must_extend = count * 3 > size  # 超过三分之一: one third itself is not more than one third
            assert _time_rule(verdict).result == ("failed" if must_extend else "not_applicable"), (size, count)
            assert verdict.outcome == ("blocked" if must_extend else "may_proceed"), (size, count)


def test_an_extension_settles_the_rule_and_its_absence_is_unknown(policy):
    base = {"committee_size": 9, "members_finding_time_insufficient": 4, "member_replaced": []}
    assert decide(policy, "gate", {"bidding": {**base, "evaluation_time_extended": True}}, "2026-05-12").outcome \
        == "may_proceed"
    unknown = decide(policy, "gate", {"bidding": base}, "2026-05-12")
    assert unknown.outcome == "undetermined" and "bidding.evaluation_time_extended" in unknown.missing_facts


ACTS = ("failed_to_recuse", "left_post", "ignored_tender_criteria", "private_contact_with_bidder",
        "sought_award_intention_or_bias", "no_rejection_of_void_bid", "improper_clarification",
        "other_partial_conduct")


def _conduct(**on):
    return {name: on.get(name, False) for name in ACTS + ("accepted_property_from_bidder",)}


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("serious, especially, outcome", [
    (False, False, "rectification"),
    (True, False, "rectification+evaluation-ban"),
    (True, True, "rectification+disqualification"),
    (False, True, "rectification+disqualification"),
])
def test_each_listed_act_climbs_the_ladder_by_its_circumstances(policy, act, serious, especially, outcome):
    case = {"expert": {"id": "B13", "conduct": _conduct(**{act: True})},
            "accountability": {"circumstances_serious": serious},
            "bidding": {"circumstances_especially_serious": especially}}
    assert decide(policy, "sanction", case, "2026-07-01").outcome == outcome


def test_article_72_alone_is_not_ordered_to_rectify_and_needs_no_circumstances(policy):
    case = {"expert": {"id": "B13", "conduct": _conduct(accepted_property_from_bidder=True)},
            "bidding": {"crime_constituted": False}}
    verdict = decide(policy, "sanction", case, "2026-07-01")
    assert verdict.outcome == "disqualification" and not verdict.missing_facts
    measures = {f.rule for f in verdict.findings if f.result == "applies"}
    assert {"property-confiscated", "fined", "disqualified-for-property", "never-again"} <= measures
    assert "ordered-to-rectify" not in measures and "criminal-liability" not in measures
    crime = decide(policy, "sanction", {**case, "bidding": {"crime_constituted": True}}, "2026-07-01")
    assert next(f for f in crime.findings if f.rule == "criminal-liability").result == "applies"


def test_a_special_projects_replacement_is_checked_with_its_reason_and_not_drawn(policy, pool):
    panel = {"date": "2026-04-20", "mode": "special-project-replacement", "members": [{"id": "B16"}],
             "matter": {"required_fields": ["电气工程"]},
             "relations": {"B16": {"staff_of_supervising_department": False, "interest_with_bidder": False}},
             "panel": {"replacement_reason": "health"},
             "facts": {"bidding": {"tender_required_by_law": True, "special_project_ground": "highly_specialised",
                                   "random_draw_unsuitable": True}}}
    assert check_panel(policy, pool, panel).outcome == "compliant"
    unlawful = check_panel(policy, pool, {**panel, "panel": {**panel["panel"], "replacement_reason": "none"}})
    assert unlawful.outcome == "non_compliant"
    assert next(f for f in unlawful.findings if f.rule == "replacement-on-lawful-ground").result == "failed"
    project = panel["facts"]["bidding"]
    not_special = check_panel(policy, pool, {**panel, "facts": {"bidding": {**project, "random_draw_unsuitable": False}}})
    assert next(f for f in not_special.findings if f.rule == "special-project-ground").result == "failed"
    # 第四十六条 binds 依法必须进行招标的项目 only: for another project neither rule applies
    free = {**panel, "panel": {"replacement_reason": "none"},
            "facts": {"bidding": {**project, "tender_required_by_law": False, "random_draw_unsuitable": False}}}
    verdict = check_panel(policy, pool, free)
    assert verdict.outcome == "compliant"
    assert {f.rule: f.result for f in verdict.findings}["replacement-on-lawful-ground"] == "not_applicable"
    unstated = {k: v for k, v in project.items() if k != "tender_required_by_law"}
    unknown = check_panel(policy, pool, {**free, "facts": {"bidding": {**unstated, "random_draw_unsuitable": False}}})
    assert unknown.outcome == "undetermined" and unknown.missing_facts == ("bidding.tender_required_by_law",)
    with pytest.raises(CaseError) as info:
        request = {k: v for k, v in panel.items() if k != "members"}
        draw(policy, pool, {**request, "count": 1, "supervisor": "市住房城乡建设局"}, SEED)
    message = info.value.problems[0].message
    assert "not drawn by lot" in message and "第四十六条第二款" in message  # the mode's article and words
    assert "更换评标委员会的专家成员应当依照前款规定进行" in message


def test_the_source_is_the_text_the_policy_pins():
    """The copy is the received text, unedited: its sha256 is the one the policy records (and the
    text the regulations' index lists under the same name was compared byte for byte when copied)."""
    text = (POLICY / "source.txt").read_bytes()
    assert hashlib.sha256(text).hexdigest() in (POLICY / "2019-03-02.yaml").read_text(encoding="utf-8")
