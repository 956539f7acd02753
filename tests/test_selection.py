"""Pools, draws, receipts, verification and panel checks: bad input, tampering, determinism."""
import copy
import hashlib
import hmac
import json
import subprocess
from pathlib import Path

import pytest
from components import openssl

from policy_engine import CaseError, LookupFailure, Registry
from policy_engine.selection.draw import FORMAT, commitment, draw, new_seed, order_key, verify
from policy_engine.selection.panel import check_panel
from policy_engine.selection.pool import load_pool, pool_from_json_lines
from policy_engine.selection.selection import context
from policy_engine.yamlio import read

ROOT = Path(__file__).resolve().parent.parent
POOLS = ROOT / "fixtures" / "pools"
XJ, XC, GY, CF = ("xj-iit-expert-pool", "xin-county-iit-expert-pool", "guiyang-petition-expert-pool",
                  "chifeng-decision-expert-pool")
DAY = "2026-11-20"
SEED = "5eed" * 16


@pytest.fixture(scope="module")
def registry():
    return Registry.load()


@pytest.fixture(scope="module")
def xj(registry):
    return registry.in_force(XJ, DAY)


@pytest.fixture(scope="module")
def xj_pool(xj):
    return load_pool(POOLS / "xj-pool.csv", xj.vocabulary)


def fixture_case(policy_id: str, decision: str, name: str) -> dict:
    return read(ROOT / "fixtures" / policy_id / decision / f"{name}.yaml").data


def request(**extra) -> dict:
    base = {"date": DAY, "mode": "random", "count": 2, "supervisor": "厅机关纪委", "panel": {"approved": True},
            "matter": {"leader": "P100", "leader_legal_entity": "甲集团", "applicant_unit": "申报公司", "participants": []}}
    base.update(extra)
    return base


# -- pools ---------------------------------------------------------------------------------

def test_pool_digest_ignores_row_order_and_format(xj, xj_pool):
    shuffled = load_pool(POOLS / "xj-pool-shuffled.jsonl", xj.vocabulary)
    assert xj_pool.sha256 == shuffled.sha256 and len(xj_pool) == len(shuffled) == 36
    assert [e.id for e in xj_pool.experts] != [e.id for e in shuffled.experts]


def test_pool_digest_changes_with_any_fact(xj, tmp_path):
    text = (POOLS / "xj-pool.csv").read_text(encoding="utf-8")
    edited = tmp_path / "pool.csv"
    edited.write_text(text.replace("E005,", "E005,", 1).replace("1961-02-02", "1961-02-03", 1), encoding="utf-8")
    assert load_pool(edited, xj.vocabulary).sha256 != load_pool(POOLS / "xj-pool.csv", xj.vocabulary).sha256


def test_empty_list_cell_is_an_empty_list(xj_pool):
    assert xj_pool.by_id["E002"].facts["expert.close_relatives"] == []
    assert xj_pool.by_id["E001"].facts["expert.fields"] == ["装备制造", "新材料"]


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("text, line, column, words", [
    ("id,nmae\nE1,甲\n", 1, 2, ["'nmae'", "did you mean 'name'"]),
    ("id,birth_date\nE1,1970-01-01\nE2,1970-13-01\n", 3, 2, ["YYYY-MM-DD"]),
    ("id,title_rank\nE1,seniour\n", 2, 2, ["'seniour'", "senior"]),
    ("id,academician\nE1,maybe\n", 2, 2, ["true or false"]),
    ("id,years_in_field\nE1,8.5\n", 2, 2, ["whole number"]),
    ("id,name\nE1,甲\nE1,乙\n", 3, None, ["'E1'", "line 2"]),
    ("name\n甲\n", 1, None, ["no id column"]),
    ("id,events\nE1,x\n", 1, 2, ["event history", "JSON lines"]),
    ("id,name\nE1,甲,多余\n", 2, None, ["3 cells", "header 2"]),
    ("id,name,name\nE1,甲,乙\n", 1, 3, ["appears twice"]),
    ("id,name\n,甲\n", 2, None, ["no expert id"]),
])
def test_bad_csv_rows_are_named_by_line(xj, tmp_path, text, line, column, words):
    with pytest.raises(CaseError) as exc:
        load_pool(write(tmp_path, "pool.csv", text), xj.vocabulary)
    p = exc.value.problems[0]
    assert p.code == "pool_invalid" and p.line == line and p.file.endswith("pool.csv")
    if column is not None:
        assert p.column == column
    rendered = p.render()
    for word in words:
        assert word in rendered, rendered


@pytest.mark.parametrize("text, line, words", [
    ('{"id": "E1"}\n{"id": "E2", "birth_date": "1970/01/01"}\n', 2, ["expert.birth_date", "YYYY-MM-DD"]),
    ('{"id": "E1"}\nnot json\n', 2, ["not valid JSON"]),
    ('{"id": "E1", "titel_rank": "senior"}\n', 1, ["titel_rank"]),
    ('["E1"]\n', 1, ["JSON object"]),
])
def test_bad_json_lines_are_named_by_line(xj, tmp_path, text, line, words):
    with pytest.raises(CaseError) as exc:
        load_pool(write(tmp_path, "pool.jsonl", text), xj.vocabulary)
    p = exc.value.problems[0]
    assert p.code == "pool_invalid" and p.line == line
    for word in words:
        assert word in p.render()


def test_json_lines_pool_takes_event_histories(xj):
    pool = pool_from_json_lines('{"id": "E1", "events": [{"kind": "evaluation", "date": "2026-01-05", "grade": "poor"}]}\n',
                                xj.vocabulary, "inline")
    assert pool.by_id["E1"].facts["expert.events"][0]["grade"] == "poor"


@pytest.mark.parametrize("name, data, words", [
    ("pool.txt", b"id\nE1\n", [".csv or .jsonl"]),
    ("pool.csv", "id,name\nE1,甲\n".encode("gbk"), ["not UTF-8"]),
    ("pool.csv", b"", ["empty"]),
])
def test_unreadable_pools(xj, tmp_path, name, data, words):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(CaseError) as exc:
        load_pool(path, xj.vocabulary)
    assert any(w in exc.value.problems[0].render() for w in words)


def test_many_bad_rows_are_capped(xj, tmp_path):
    rows = "".join(f"E{i},not-a-date\n" for i in range(300))
    with pytest.raises(CaseError) as exc:
        load_pool(write(tmp_path, "pool.csv", "id,birth_date\n" + rows), xj.vocabulary)
    assert 100 <= len(exc.value.problems) <= 102
    assert any("and more problems" in p.message for p in exc.value.problems)


# -- the order -------------------------------------------------------------------------------

def test_order_key_is_hmac_sha256_of_the_id_under_the_seed():
    assert order_key(SEED, "E0042") == hmac.new(bytes.fromhex(SEED), b"E0042", hashlib.sha256).hexdigest()


def test_order_key_matches_the_openssl_command_in_the_docs():
    """The README's check of a draw's order without this program gives the receipt's key. Needs the
    openssl command and FAILS without it, with the reason and the fix (tests/components.py): a
    skip would read as a pass, and the README's command would go unchecked."""
    done = subprocess.run([openssl(), "dgst", "-sha256", "-mac", "HMAC", "-macopt", f"hexkey:{SEED}"],
                          input=b"E0042", capture_output=True)
    assert done.returncode == 0, f"the README's openssl command failed: {done.stderr.decode(errors='replace')}"
    assert done.stdout.decode().strip().endswith(order_key(SEED, "E0042"))


def test_receipt_keys_are_ascending_and_recomputable(xj, xj_pool):
    receipt = draw(xj, xj_pool, request(count=5), SEED).to_json()
    reached = sorted([*receipt["groups"][0]["candidates"], *receipt["groups"][0]["excluded"]], key=lambda e: e["position"])
    assert [e["position"] for e in reached] == list(range(1, len(reached) + 1))
    assert [e["key"] for e in reached] == sorted(e["key"] for e in reached)
    assert all(e["key"] == order_key(SEED, e["expert"]) for e in reached)
    assert all(e["row"] == xj_pool.by_id[e["expert"]].digest for e in reached)


def test_same_seed_same_panel_from_a_shuffled_pool(xj, xj_pool):
    shuffled = load_pool(POOLS / "xj-pool-shuffled.jsonl", xj.vocabulary)
    assert draw(xj, xj_pool, request(count=5), SEED).dumps() == draw(xj, shuffled, request(count=5), SEED).dumps()
    one = ROOT / "fixtures" / XJ / "draw" / "five-experts-fifteen-candidates.receipt.json"
    two = ROOT / "fixtures" / XJ / "draw" / "same-panel-from-shuffled-pool.receipt.json"
    assert one.read_text(encoding="utf-8") == two.read_text(encoding="utf-8")


def test_another_seed_another_order(xj, xj_pool):
    a = draw(xj, xj_pool, request(count=5), SEED)
    b = draw(xj, xj_pool, request(count=5), "beef" * 16)
    assert a.selected != b.selected


def test_draw_does_not_modify_the_request(xj, xj_pool):
    req = request(count=3, answers={})
    before = copy.deepcopy(req)
    draw(xj, xj_pool, req, SEED)
    assert req == before


# -- seeds and commitments -----------------------------------------------------------------------

@pytest.mark.parametrize("seed, words", [("abcd", ["2 bytes", "at least 16"]), ("zz" * 16, ["not hexadecimal"])])
def test_bad_seeds(xj, xj_pool, seed, words):
    with pytest.raises(CaseError) as exc:
        draw(xj, xj_pool, request(), seed)
    assert all(w in exc.value.problems[0].render() for w in words)


def test_commitment_is_checked_and_recorded(xj, xj_pool):
    seed = new_seed()
    assert len(seed) == 64 and seed != new_seed()
    receipt = draw(xj, xj_pool, request(), seed, commitment(seed))
    assert receipt.commitment == hashlib.sha256(bytes.fromhex(seed)).hexdigest()
    with pytest.raises(CaseError) as exc:
        draw(xj, xj_pool, request(), seed, commitment(SEED))
    assert "does not match the commitment" in exc.value.problems[0].message


# -- requests ------------------------------------------------------------------------------------

@pytest.mark.parametrize("policy_id, changes, words", [
    (XJ, {"mode": "randon"}, ["'randon' is not a selection mode", "did you mean 'random'"]),
    (GY, {"mode": "designated"}, ["not drawn by lot", "check-panel"]),
    (XJ, {"groups": [{"id": "a", "count": 1}]}, []),  # count and groups together: schema
    (XJ, {"candidates": 5}, ["fewer than 2 x 3"]),
    (XJ, {"history": [{"date": "2026-12-01", "selected": ["E001"]}]}, ["after this request"]),
    (XJ, {"answers": {"E999": "declined"}}, ["not candidates", "E999"]),
    (XJ, {"matter": {"leader": 7}}, ["matter.leader", "expected text"]),
    (XJ, {"relations": {"E001": {"other_impedimnet": True}}}, ["relations.E001.other_impedimnet"]),
    (XJ, {"filters": {"where": "expert.years_in_feild >= 8"}}, ["unknown fact", "years_in_field"]),
    (XJ, {"answers": {"E001": "maybe"}}, ['"maybe"', "no_answer"]),
    (XJ, {"panel": {}}, ["mode 'random' requires panel.approved", "第十三条第（一）项", "审核通过的进行随机抽取"]),
    (XJ, {"panel": {"approved": True, "mode_id": "random"}}, ["panel.mode_id are computed"]),
])
def test_bad_requests_are_refused_with_the_path(registry, xj_pool, policy_id, changes, words):
    policy = registry.in_force(policy_id, DAY)
    with pytest.raises(CaseError) as exc:
        draw(policy, xj_pool, request(**changes), SEED)
    rendered = "\n".join(p.render() for p in exc.value.problems)
    assert exc.value.problems[0].code in ("request_invalid", "unsupported_decision")
    for word in words:
        assert word in rendered, rendered


def test_a_draw_outside_the_policy_window_is_refused(xj, xj_pool):
    with pytest.raises(LookupFailure):
        draw(xj, xj_pool, request(date="2027-05-21"), SEED)


def test_request_problems_carry_the_line_of_the_yaml_file(xj, xj_pool, tmp_path):
    path = write(tmp_path, "request.yaml", "date: '2026-11-20'\nmode: random\ncount: 2\nsupervisor: 纪委\n"
                                           "matter:\n  leader: P100\n  participants: nobody\n")
    with pytest.raises(CaseError) as exc:
        draw(xj, xj_pool, read(path), SEED)
    p = exc.value.problems[0]
    assert (p.line, p.path) == (7, "matter.participants")


def test_history_gives_runs_of_selection_and_yearly_counts(xj):
    ctx = context({"date": DAY, "history": [
        {"date": "2025-12-30", "selected": ["A", "B", "C"]},
        {"date": "2026-03-01", "selected": ["A", "B"]},
        {"date": "2026-06-01", "selected": ["A", "C"]},
        {"date": "2026-09-01", "selected": ["A", "C"]},
    ]}, xj, None)
    assert dict(ctx.streak) == {"A": 4, "C": 2}
    assert dict(ctx.this_year) == {"A": 3, "B": 1, "C": 2}


def test_an_expert_at_ten_this_year_is_passed_over_and_nine_is_not(xj, xj_pool):
    history = [{"date": f"2026-{m:02d}-01", "selected": ["E002"] + (["E004"] if m < 10 else [])} for m in range(1, 11)]
    receipt = draw(xj, xj_pool, request(count=3, candidates=36, filters={"fields": ["装备制造"]}, history=history), SEED)
    group = receipt.groups[0]
    capped = [e for e in group.excluded if e.expert == "E002"]
    assert capped and capped[0].reasons[0].rule == "yearly-review-cap" and capped[0].reasons[0].strength == "generally"
    assert "E004" in [c.expert for c in group.candidates]


def test_answers_replace_in_order_and_redraw_continues_the_order(xj, xj_pool):
    first = draw(xj, xj_pool, request(count=1), SEED)
    order = [c.expert for c in first.groups[0].candidates]
    assert len(order) == 3
    second = draw(xj, xj_pool, request(count=1, answers={order[0]: "declined", order[1]: "accepted"}), SEED)
    assert second.selected == (order[1],) and second.outcome == "complete"
    third = draw(xj, xj_pool, request(count=1, answers={e: "no_answer" for e in order}), SEED)
    group = third.groups[0]
    assert [r.reason for r in group.rounds] == ["draw", "redraw"]
    assert group.rounds[1].first == group.rounds[0].last + 1
    assert third.selected[0] not in order and third.outcome == "drawn"


# -- verification ----------------------------------------------------------------------------------

def golden_receipts():
    return sorted((ROOT / "fixtures").rglob("*.receipt.json"))


@pytest.mark.parametrize("path", golden_receipts(), ids=lambda p: f"{p.parent.parent.name}/{p.stem}")
def test_every_golden_receipt_verifies_and_matches_its_schema(registry, path):
    data = json.loads(path.read_text(encoding="utf-8"))
    schema = json.loads((ROOT / "schemas" / "receipt.schema.json").read_text(encoding="utf-8"))
    from policy_engine.policy.schema import validator
    errors = list(validator("receipt").iter_errors(data))
    assert not errors, errors[0].message
    assert data["format"] == FORMAT and FORMAT in schema["properties"]["format"]["enum"]
    fixture = read(path.with_name(path.name.replace(".receipt.json", ".yaml"))).data
    policy = registry.get(data["policy"]["id"], data["policy"]["version"])
    pool = load_pool(path.parent / fixture["pool"], policy.vocabulary)
    result = verify(registry, pool, data)
    assert result.ok, [d.to_json() for d in result.differences]


@pytest.fixture
def receipt(xj, xj_pool):
    return draw(xj, xj_pool, request(count=3), SEED).to_json()


def test_a_pool_edited_after_the_draw_is_named_by_row(registry, xj, receipt, tmp_path):
    first = receipt["selected"][0]
    text = (POOLS / "xj-pool.csv").read_text(encoding="utf-8")
    lines = text.splitlines(True)
    lines = [line.replace("法人", "法人X", 1) if line.startswith(first + ",") else line for line in lines]
    pool = load_pool(write(tmp_path, "pool.csv", "".join(lines)), xj.vocabulary)
    result = verify(registry, pool, receipt)
    assert not result.ok
    kinds = {(d.kind, d.expert) for d in result.differences}
    assert ("pool_changed", None) in kinds and ("row_changed", first) in kinds


def test_a_row_removed_after_the_draw_is_named(registry, xj, receipt, tmp_path):
    first = receipt["selected"][0]
    text = "".join(line for line in (POOLS / "xj-pool.csv").read_text(encoding="utf-8").splitlines(True)
                   if not line.startswith(first + ","))
    result = verify(registry, load_pool(write(tmp_path, "pool.csv", text), xj.vocabulary), receipt)
    assert ("row_removed", first) in {(d.kind, d.expert) for d in result.differences}
    assert any(d.path == "selected[0]" for d in result.differences)


@pytest.mark.parametrize("edit, path", [
    (lambda r: r["selected"].reverse(), "selected[0]"),
    (lambda r: r["groups"][0]["candidates"][1].update(expert="E999"), "groups[0].candidates[1].expert"),
    (lambda r: r["groups"][0]["candidates"][0].update(key="0" * 64), "groups[0].candidates[0].key"),
    (lambda r: r.update(outcome="complete"), "outcome"),
    (lambda r: r["request"].update(count=2), "groups[0].count"),
    (lambda r: r["policy"].update(sha256="0" * 64), "policy.sha256"),
    (lambda r: r.update(commitment="0" * 64), "commitment"),
    (lambda r: r.update(seed="ab" * 32), "selected[0]"),
])
def test_a_receipt_edited_by_hand_fails_with_the_difference_named(registry, xj_pool, receipt, edit, path):
    assert verify(registry, xj_pool, receipt).ok
    edited = copy.deepcopy(receipt)
    edit(edited)
    result = verify(registry, xj_pool, edited)
    assert not result.ok
    assert path in [d.path for d in result.differences], [d.path for d in result.differences]


def test_a_malformed_receipt_is_refused(registry, xj_pool, receipt):
    del receipt["seed"]
    with pytest.raises(CaseError) as exc:
        verify(registry, xj_pool, receipt)
    assert exc.value.problems[0].code == "receipt_invalid" and "'seed'" in exc.value.problems[0].message


# -- panels ----------------------------------------------------------------------------------------

def test_computed_panel_facts_cannot_be_given(registry):
    policy = registry.in_force(GY, DAY)
    pool = load_pool(POOLS / "guiyang-pool.csv", policy.vocabulary)
    panel = fixture_case(GY, "panel", "designated-with-approval")["case"]
    panel = dict(panel, panel={"approved": True, "size": 3})
    with pytest.raises(CaseError) as exc:
        check_panel(policy, pool, panel)
    assert "panel.size" in exc.value.problems[0].message and "computed" in exc.value.problems[0].message


def test_pool_members_take_their_facts_from_the_pool(registry):
    policy = registry.in_force(GY, DAY)
    pool = load_pool(POOLS / "guiyang-pool.csv", policy.vocabulary)
    panel = fixture_case(GY, "panel", "designated-with-approval")["case"]
    panel = dict(panel, members=[{"id": "G01", "expert": {"employer": "单位2"}}])
    with pytest.raises(CaseError) as exc:
        check_panel(policy, pool, panel)
    assert exc.value.problems[0].path == "members[0].expert"


def test_a_member_not_in_the_pool_is_named(registry):
    policy = registry.in_force(GY, DAY)
    pool = load_pool(POOLS / "guiyang-pool.csv", policy.vocabulary)
    panel = dict(fixture_case(GY, "panel", "designated-with-approval")["case"], members=[{"id": "G99"}])
    with pytest.raises(CaseError) as exc:
        check_panel(policy, pool, panel)
    assert "G99 is not in the pool" in exc.value.problems[0].message


def test_a_policy_without_selection_rules_is_refused(registry):
    policy = registry.in_force("chongqing-petition-responsibility", DAY)
    from policy_engine.selection.pool import Pool
    from types import MappingProxyType
    with pytest.raises(CaseError) as exc:
        check_panel(policy, Pool("none", (), MappingProxyType({}), ""), {"date": DAY, "mode": "x", "members": []})
    assert exc.value.problems[0].code == "unsupported_decision"
