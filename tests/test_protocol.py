"""The draw protocol: each attack of issue 12 tried as an attacker would, and shown refused or exposed.

Seed grinding by the office, a request (filter, history, relations, count, participants, facts)
rewritten after the commitment, a pool row edited, a receipt relabelled for another matter, a draw
repeated under one commitment, a history invented or dropped; and receipts made before the protocol.
"""
import copy
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from components import openssl

from policy_engine import CaseError, Registry
from policy_engine.selection import protocol
from policy_engine.selection.draw import commitment, draw, verify
from policy_engine.selection.pool import load_pool, pool_from_rows
from policy_engine.yamlio import read

ROOT = Path(__file__).resolve().parent.parent
POOLS = ROOT / "fixtures" / "pools"
XC = "xin-county-iit-expert-pool"
DAY = "2026-11-20"
OFFICE = "0ff1ce" * 6 + "0ff1"  # 20 bytes
SUPERVISOR = "5afe" * 8


def hexseed(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


@pytest.fixture(scope="module")
def registry():
    return Registry.load()


@pytest.fixture(scope="module")
def policy(registry):
    return registry.in_force(XC, DAY)


@pytest.fixture(scope="module")
def pool(policy):
    return load_pool(POOLS / "xin-county-pool.csv", policy.vocabulary)


def request(**extra) -> dict:
    base = {"id": "新工信抽〔2026〕30号", "date": DAY, "mode": "random", "count": 3, "supervisor": "机关纪委",
            "matter": {"id": "XG-2026-30", "leader": "Q200", "applicant_unit": "申报单位", "participants": ["X12"]}}
    base.update(extra)
    return base


def committed(policy, pool, req, office=OFFICE, **kw):
    document = protocol.commit(policy, pool, req, commitment(office), **kw)
    return document, protocol.digest(document)


def logged(*records) -> list[dict]:
    """Audit-log records as plain dicts (Contract L's Record fields), numbered in order."""
    return [{"seq": i + 1, "kind": kind, "at": f"2026-11-20T08:0{i}:00+00:00", "request": req, "answer": ans,
             "policy": pol, "engine": {}, "prev": "0" * 64, "hash": "0" * 64}
            for i, (kind, req, ans, pol) in enumerate(records)]


def log_of(document, *receipts) -> list[dict]:
    return logged(protocol.commitment_record(document),
                  *(protocol.attempt_record({"request": r["request"]}, r, r["policy"]) for r in receipts))


def kinds(result) -> set[str]:
    return {v.kind for v in result.violations}


# -- the honest draw ---------------------------------------------------------------------------------

def test_an_honest_draw_under_the_protocol_verifies_with_its_log(registry, policy, pool):
    document, sha = committed(policy, pool, request())
    receipt = protocol.draw_committed(policy, pool, request(), document, OFFICE, SUPERVISOR).to_json()
    assert receipt["format"] == "policy-engine/draw-receipt/2" and receipt["commitment"] is None
    assert receipt["protocol"]["sha256"] == sha and receipt["protocol"]["commitment"] == document
    assert receipt["protocol"]["contributions"] == {"office": OFFICE, "supervisor": SUPERVISOR}
    result = verify(registry, pool, receipt, receipts=[], records=log_of(document, receipt), require_protocol=True)
    assert result.ok and not result.violations and not result.warnings, result.to_json()
    assert result.to_json()["kinds"] == [] and result.receipt_sha256 == protocol.receipt_sha256(receipt)


def test_the_seed_is_derived_as_documented_and_openssl_agrees(policy, pool):
    document, sha = committed(policy, pool, request())
    seed = protocol.final_seed(document, OFFICE, SUPERVISOR)
    message = f"office={OFFICE}\nsupervisor={SUPERVISOR}\n".encode()
    done = subprocess.run([openssl(), "dgst", "-sha256", "-mac", "HMAC", "-macopt", f"hexkey:{sha}"], input=message,
                          capture_output=True, check=True)
    assert done.stdout.decode().split("= ")[-1].strip() == seed
    assert sha == hashlib.sha256(json.dumps(document, ensure_ascii=False, sort_keys=True,
                                            separators=(",", ":")).encode()).hexdigest()


def test_a_public_value_named_in_advance_joins_the_seed(registry, policy, pool):
    kw = {"public_source": "中国福利彩票双色球 第2026136期开奖号码", "public_date": DAY}
    req = request()
    req.pop("supervisor")
    document, sha = committed(policy, pool, req, **kw)
    assert "supervisor" not in document["seed"] and document["seed"]["public"]["date"] == DAY
    one = protocol.final_seed(document, OFFICE, public="03 08 12 19 25 31 + 07")
    other = protocol.final_seed(document, OFFICE, public="03 08 12 19 25 31 + 08")
    assert one != other
    with pytest.raises(CaseError, match="public value"):
        protocol.final_seed(document, OFFICE)
    receipt = protocol.draw_committed(policy, pool, req, document, OFFICE, public="03 08 12 19 25 31 + 07").to_json()
    assert verify(registry, pool, receipt, records=log_of(document, receipt)).ok
    with pytest.raises(CaseError, match="known before"):
        committed(policy, pool, req, public_source="某彩票", public_date="2026-11-19")


def test_the_office_alone_cannot_commit(policy, pool):
    req = request()
    req.pop("supervisor")
    with pytest.raises(CaseError) as exc:
        protocol.commit(policy, pool, req, commitment(OFFICE))
    assert "alone" in exc.value.problems[0].message
    with pytest.raises(CaseError, match="supervisor's commitment is given but no supervisor"):
        protocol.commit(policy, pool, req, commitment(OFFICE), supervisor_commitment=commitment(SUPERVISOR))


# -- attack: seed grinding ----------------------------------------------------------------------------

def test_grinding_the_office_seed_is_useless_once_the_supervisor_contributes(registry, policy, pool):
    req = request(count=2)
    wanted = None
    # The attack of the issue: with the office's seed alone, try seeds until a chosen panel comes out.
    plain = {}
    for i in range(400):
        s = hexseed(f"office-{i}")
        plain[s] = frozenset(draw(policy, pool, req, s).selected)
    counts: dict[frozenset, int] = {}
    for panel in plain.values():
        counts[panel] = counts.get(panel, 0) + 1
    wanted = max(counts, key=lambda p: (counts[p], sorted(p)))  # the panel the office wants, and can reach alone
    ground = next(s for s, p in plain.items() if p == wanted)
    assert frozenset(draw(policy, pool, req, ground).selected) == wanted  # grinding works without the protocol
    # Under the protocol the office commits to its ground seed; the supervisor reveals afterwards.
    document, sha = committed(policy, pool, req, office=ground)
    finals = {protocol.final_seed(document, ground, hexseed(f"supervisor-{j}")) for j in range(60)}
    assert len(finals) == 60 and ground not in finals  # every contribution gives another seed, never the ground one
    panels = [frozenset(protocol.draw_committed(policy, pool, req, document, ground, hexseed(f"supervisor-{j}"))
                        .selected) for j in range(60)]
    hits = sum(p == wanted for p in panels)
    assert hits <= 60 * counts[wanted] / 400 * 4 + 3  # no better than chance: the ground seed buys nothing
    assert len(set(panels)) > 10
    # Nor can the office change its seed once the supervisor's value is known: the commitment binds it.
    with pytest.raises(CaseError, match="office's seed does not match"):
        protocol.draw_committed(policy, pool, req, document, hexseed("office-other"), SUPERVISOR)


def test_a_receipt_with_a_seed_not_from_the_published_commitments_fails(registry, policy, pool):
    req = request()
    document, sha = committed(policy, pool, req)
    honest = protocol.draw_committed(policy, pool, req, document, OFFICE, SUPERVISOR).to_json()
    records = log_of(document, honest)
    # a seed of the office's choosing, drawn plainly, with the honest protocol block pasted in
    forged = draw(policy, pool, req, hexseed("ground"), protocol=honest["protocol"]).to_json()
    result = verify(registry, pool, forged, records=records)
    assert not result.ok and "seed_mismatch" in kinds(result) and "attempt_not_logged" in kinds(result)
    # the office's contribution replaced by another (whose commitment was never published)
    other = copy.deepcopy(honest)
    other["protocol"]["contributions"]["office"] = hexseed("other")
    assert "seed_mismatch" in kinds(verify(registry, pool, other, records=records))
    # a supervisor who committed cannot swap the contribution either
    document2, _ = committed(policy, pool, req, supervisor_commitment=commitment(SUPERVISOR))
    with pytest.raises(CaseError, match="supervisor's contribution does not match"):
        protocol.final_seed(document2, OFFICE, hexseed("another"))
    assert protocol.final_seed(document2, OFFICE, SUPERVISOR) != protocol.final_seed(document, OFFICE, SUPERVISOR)


# -- attack: the request or the pool changed after the commitment ---------------------------------------

REWRITES = {
    "filters": {"filters": {"where": "expert.id != 'X13'"}},
    "history": {"history": [{"id": "新工信抽〔2026〕29号", "date": "2026-11-01", "selected": ["X13", "X19"],
                             "receipt": "ab" * 32}]},
    "relations": {"relations": {"X13": {"other_impediment": True}}},
    "count": {"count": 2},
    "participants": {"matter": {"id": "XG-2026-30", "leader": "Q200", "applicant_unit": "申报单位",
                                "participants": ["X12", "X13"]}},
}


@pytest.mark.parametrize("field", sorted(REWRITES))
def test_a_request_rewritten_after_the_commitment_is_refused_and_exposed(registry, policy, pool, field):
    document, _ = committed(policy, pool, request())
    rewritten = request(**REWRITES[field])
    with pytest.raises(CaseError, match="request_changed_after_commitment"):
        protocol.draw_committed(policy, pool, rewritten, document, OFFICE, SUPERVISOR)
    # drawn anyway with the protocol's seed and block, the receipt is exposed
    honest = protocol.draw_committed(policy, pool, request(), document, OFFICE, SUPERVISOR).to_json()
    forged = draw(policy, pool, rewritten, honest["seed"], protocol=honest["protocol"]).to_json()
    result = verify(registry, pool, forged, records=log_of(document, forged))
    assert not result.ok and "request_changed_after_commitment" in kinds(result), result.to_json()


def test_an_answer_added_later_is_not_a_change_of_the_request(registry, policy, pool):
    document, _ = committed(policy, pool, request())
    receipt = protocol.draw_committed(policy, pool, request(), document, OFFICE, SUPERVISOR)
    first = receipt.selected[0]
    replenished = draw(policy, pool, {**request(), "answers": {first: "declined"}}, receipt.seed,
                       protocol=receipt.to_json()["protocol"]).to_json()
    result = verify(registry, pool, replenished, records=log_of(document, receipt.to_json()))
    assert result.ok, result.to_json()


def test_a_pool_row_edited_after_the_commitment_is_refused_and_exposed(registry, policy, pool):
    document, _ = committed(policy, pool, request())
    rows = [(e.line, {k.split(".", 1)[1]: v for k, v in e.facts.items()}) for e in pool.experts]
    line, row = next((ln, r) for ln, r in rows if r["id"] == "X13")
    edited = pool_from_rows([(ln, {**r, "employer": "申报单位"} if r["id"] == "X13" else r) for ln, r in rows],
                            policy.vocabulary)
    assert edited.sha256 != pool.sha256
    with pytest.raises(CaseError, match="pool_changed_after_commitment"):
        protocol.draw_committed(policy, edited, request(), document, OFFICE, SUPERVISOR)
    honest = protocol.draw_committed(policy, pool, request(), document, OFFICE, SUPERVISOR).to_json()
    forged = draw(policy, edited, request(), honest["seed"], protocol=honest["protocol"]).to_json()
    result = verify(registry, edited, forged, records=log_of(document, forged))
    assert not result.ok and "pool_changed_after_commitment" in kinds(result)
    # checked against the pool as committed, the edited row is named too
    against = verify(registry, pool, forged)
    assert "pool_changed_after_commitment" in kinds(against) and any(d.kind == "pool_changed"
                                                                     for d in against.differences)


# -- attack: relabelling --------------------------------------------------------------------------------

def test_a_receipt_relabelled_for_another_matter_is_exposed(registry, policy, pool):
    document, sha = committed(policy, pool, request())
    honest = protocol.draw_committed(policy, pool, request(), document, OFFICE, SUPERVISOR).to_json()
    records = log_of(document, honest)
    relabelled = copy.deepcopy(honest)
    relabelled["request"]["id"] = "新工信抽〔2026〕31号"
    relabelled["request"]["matter"]["id"] = "XG-2026-31"
    result = verify(registry, pool, relabelled, records=records)
    assert {"matter_relabelled", "request_changed_after_commitment"} <= kinds(result)
    # relabelling the commitment inside too breaks its hash; re-hashing it makes one never published
    relabelled["protocol"]["commitment"]["request"] = copy.deepcopy(relabelled["request"])
    relabelled["protocol"]["commitment"]["request_id"] = "新工信抽〔2026〕31号"
    relabelled["protocol"]["commitment"]["matter"] = "XG-2026-31"
    assert "commitment_mismatch" in kinds(verify(registry, pool, relabelled, records=records))
    relabelled["protocol"]["sha256"] = protocol.digest(relabelled["protocol"]["commitment"])
    result = verify(registry, pool, relabelled, records=records)
    assert {"seed_mismatch", "commitment_not_logged", "attempt_not_logged"} <= kinds(result)


# -- attack: repeating a draw ---------------------------------------------------------------------------

def test_two_attempts_under_one_commitment_are_exposed(registry, policy, pool):
    document, sha = committed(policy, pool, request())
    first = protocol.draw_committed(policy, pool, request(), document, OFFICE, SUPERVISOR).to_json()
    second = protocol.draw_committed(policy, pool, request(), document, OFFICE, hexseed("again")).to_json()
    records = log_of(document, first, second)
    for receipt in (first, second):
        result = verify(registry, pool, receipt, records=records)
        assert kinds(result) == {"attempts_repeated"}, result.to_json()
    # an attempt left out of the log, or a commitment logged only after the draw
    assert kinds(verify(registry, pool, second, records=log_of(document, first))) == {"attempt_not_logged"}
    late = logged(protocol.attempt_record({"request": first["request"]}, first),
                  protocol.commitment_record(document))
    assert kinds(verify(registry, pool, first, records=late)) == {"commitment_not_logged"}
    assert kinds(verify(registry, pool, first, records=[])) == {"commitment_not_logged", "attempt_not_logged"}
    # a refusal is an attempt too: logged with the error as its answer, under the commitment
    refusal = protocol.attempt_record({"commitment": sha}, {"error": "request_invalid"})
    assert refusal[1]["commitment"] == sha and refusal[0] == "draw"


# -- history by receipt ---------------------------------------------------------------------------------

def chain(policy, pool):
    """Three draws of one pool, each history naming the earlier receipts by hash."""
    out = []
    history: list[dict] = []
    for n, day in ((12, "2026-10-10"), (15, "2026-11-01")):
        req = request(id=f"新工信抽〔2026〕{n}号", date=day, count=2, history=copy.deepcopy(history),
                      matter={"id": f"XG-2026-{n}", "leader": "Q200", "applicant_unit": "申报单位"})
        document, _ = committed(policy, pool, req, office=hexseed(f"o{n}"))
        receipt = protocol.draw_committed(policy, pool, req, document, hexseed(f"o{n}"), hexseed(f"s{n}")).to_json()
        out.append((document, receipt))
        history.append({"id": req["id"], "date": day, "selected": receipt["selected"],
                        "receipt": protocol.receipt_sha256(receipt)})
    return out, history


def test_history_names_earlier_receipts_and_cannot_be_invented_or_dropped(registry, policy, pool):
    earlier, history = chain(policy, pool)
    receipts = [r for _, r in earlier]
    req = request(history=history)
    document, _ = committed(policy, pool, req)
    receipt = protocol.draw_committed(policy, pool, req, document, OFFICE, SUPERVISOR).to_json()
    assert verify(registry, pool, receipt, receipts=receipts).ok
    # the first draw's receipt before its answers, among the receipts: the same draw, not a dropped one
    first = earlier[0][1]
    with_answers = draw(policy, pool, {**first["request"], "answers": {first["selected"][0]: "accepted"}},
                        first["seed"], protocol=first["protocol"]).to_json()
    assert verify(registry, pool, receipt, receipts=[with_answers, *receipts]).ok
    unchecked = verify(registry, pool, receipt)
    assert unchecked.ok and any("--receipts" in w for w in unchecked.warnings)
    # a history entry edited (a panel that never sat) or invented, each under its own honest commitment
    for edit in ("selected", "invented", "dropped"):
        h = copy.deepcopy(history)
        if edit == "selected":
            h[1]["selected"] = ["X01", "X02"]
        elif edit == "invented":
            h.append({"id": "新工信抽〔2026〕16号", "date": "2026-11-05", "selected": ["X13"], "receipt": "cd" * 32})
        else:
            h = h[:1]
        req = request(history=h)
        doc, _ = committed(policy, pool, req)
        forged = protocol.draw_committed(policy, pool, req, doc, OFFICE, SUPERVISOR).to_json()
        result = verify(registry, pool, forged, receipts=receipts)
        expected = "history_dropped" if edit == "dropped" else "history_mismatch"
        assert expected in kinds(result), (edit, result.to_json())
    # an entry with no receipt: refused at the commitment, and exposed in a receipt
    bare = request(history=[{"date": "2026-11-01", "selected": ["X13"]}])
    with pytest.raises(CaseError, match="names no receipt"):
        committed(policy, pool, bare)
    forged = draw(policy, pool, bare, receipt["seed"], protocol=receipt["protocol"]).to_json()
    assert "history_unreferenced" in kinds(verify(registry, pool, forged, receipts=receipts))


# -- receipts made before the protocol --------------------------------------------------------------------

def test_an_old_receipt_verifies_with_a_warning_or_fails_when_the_protocol_is_required(registry, policy, pool):
    fixture = read(ROOT / "fixtures" / XC / "draw" / "two-in-a-row-then-skip.yaml").data
    receipt = draw(policy, pool, fixture["case"], fixture["seed"]).to_json()
    old = {**receipt, "format": "policy-engine/draw-receipt/1"}
    for r in (old, receipt):
        result = verify(registry, pool, r)
        assert result.ok and result.warnings and "without the draw protocol" in result.warnings[0]
        required = verify(registry, pool, r, require_protocol=True)
        assert not required.ok and kinds(required) == {"commitment_missing"} and not required.differences
    with pytest.raises(CaseError):  # a /1 receipt cannot carry the protocol block
        verify(registry, pool, {**old, "protocol": {"commitment": {}, "sha256": "0" * 64,
                                                    "contributions": {"office": OFFICE}}})


# -- the commands ---------------------------------------------------------------------------------------

def run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "policy_engine", *args], cwd=cwd, capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_commit_draw_and_verify_draw_on_the_command_line(tmp_path):
    pool_file = str(POOLS / "xin-county-pool.csv")
    (tmp_path / "req.json").write_text(json.dumps(request(), ensure_ascii=False), encoding="utf-8")
    made = run("commit", "--policy", XC, "--pool", pool_file, "--request", "req.json", "--seed-commitment",
               commitment(OFFICE), "--out", "c.json", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    printed = json.loads(made.stdout)
    assert printed["commitment"] == protocol.digest(json.loads((tmp_path / "c.json").read_text()))
    drawn = run("draw", "--policy", XC, "--pool", pool_file, "--request", "req.json", "--commitment-file", "c.json",
                "--seed", OFFICE, "--supervisor-seed", SUPERVISOR, "--out", "r.json", cwd=tmp_path)
    assert drawn.returncode == 0, drawn.stderr
    receipt = json.loads((tmp_path / "r.json").read_text())
    records = log_of(printed["document"], receipt)
    (tmp_path / "log.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    ok = run("verify-draw", "r.json", "--pool", pool_file, "--log-records", "log.jsonl", "--require-protocol",
             "--format", "json", cwd=tmp_path)
    assert ok.returncode == 0 and json.loads(ok.stdout)["kinds"] == [], ok.stdout + ok.stderr
    # the request rewritten after the commitment: the draw refuses (4)
    (tmp_path / "req2.json").write_text(json.dumps(request(count=2), ensure_ascii=False), encoding="utf-8")
    refused = run("draw", "--policy", XC, "--pool", pool_file, "--request", "req2.json", "--commitment-file",
                  "c.json", "--seed", OFFICE, "--supervisor-seed", SUPERVISOR, cwd=tmp_path)
    assert refused.returncode == 4 and "request_changed_after_commitment" in refused.stdout
    # a second attempt logged under the same commitment: exit 1, the kind listed
    again = log_of(printed["document"], receipt, {**receipt, "seed": "00" * 32})
    (tmp_path / "log2.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in again))
    repeated = run("verify-draw", "r.json", "--pool", pool_file, "--log-records", "log2.jsonl", "--format", "json",
                   cwd=tmp_path)
    assert repeated.returncode == 1 and json.loads(repeated.stdout)["kinds"] == ["attempts_repeated"]
    # an old receipt: a warning line, exit 0; with --require-protocol, exit 1 and the kind
    old = tmp_path / "old.json"
    golden = json.loads((ROOT / "fixtures" / XC / "draw" / "two-in-a-row-then-skip.receipt.json").read_text())
    old.write_text(json.dumps({**golden, "format": "policy-engine/draw-receipt/1"}, ensure_ascii=False))
    warned = run("verify-draw", "old.json", "--pool", pool_file, cwd=tmp_path)
    assert warned.returncode == 0 and "warning: receipt policy-engine/draw-receipt/1 made without the draw protocol" \
        in warned.stderr
    strict = run("verify-draw", "old.json", "--pool", pool_file, "--require-protocol", "--format", "json", cwd=tmp_path)
    assert strict.returncode == 1 and json.loads(strict.stdout)["kinds"] == ["commitment_missing"]
