"""Benchmark: drawing a panel from a generated 100,000-expert pool, with recusal and rotation data.

    python benchmarks/bench_draw.py [--experts 100000] [--runs 15] [--seed 11]

Generates a pool (CSV, in a temporary folder) whose experts carry fields, title ranks,
employers, legal entities, relatives and economic interests (so the recusal grounds have
something to find), and a history of 60 earlier draws this year (so rotation and the
yearly cap exclude some experts). Then, for one process on one core:

  - load: reading and validating the CSV, row digests and the pool digest (once per pool);
    then, as the command line does, gc.freeze() so the collector does not rescan the pool
  - the first draw after loading (as one `policy-engine draw` command does it)
  - draw: 5 experts under 004 (3x candidates, recusal, yearly cap) and under 001
    (rotation, recusal), each with a different seed per run; median and worst run
  - verify: recomputing one receipt from the pool

Every receipt is checked before timing is reported: it verifies, it has 5 selected and
the candidates the policy asks for, and no selected expert is excluded by a rule.
The target (DESIGN.md) is a draw under 200 ms.
"""
from __future__ import annotations

import argparse
import csv
import gc
import hashlib
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from policy_engine import Registry  # noqa: E402
from policy_engine.selection.draw import draw, verify  # noqa: E402
from policy_engine.selection.pool import load_pool  # noqa: E402

DAY = "2026-11-20"
FIELDS = ("装备制造", "新材料", "信息产业", "石化化工", "煤化工", "冶金", "建材", "纺织服装", "新能源", "节能环保",
          "生物医药", "民爆", "法律法规", "综合经济", "轻工", "园区管理", "无线电", "采矿", "数字经济", "安全生产")
RANKS = ("intermediate", "associate_senior", "associate_senior", "senior", "senior")


def make_pool(path: Path, n: int, rng: random.Random) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "name", "birth_date", "title_rank", "fields", "employer", "legal_entity",
                    "employer_affiliated_units", "close_relatives", "major_interest_persons",
                    "major_economic_interest_units"])
        for i in range(n):
            fields = ";".join(rng.sample(FIELDS, 1 if rng.random() < 0.8 else 2))
            w.writerow([
                f"E{i:06d}", f"专家{i}", f"{rng.randrange(1957, 1995)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
                rng.choice(RANKS), fields, f"单位{rng.randrange(5000)}", f"法人{rng.randrange(3000)}",
                "申报公司" if rng.random() < 0.01 else "",
                "P100" if rng.random() < 0.01 else "",
                "", "申报公司" if rng.random() < 0.01 else "",
            ])


def history(n: int, rng: random.Random) -> list[dict]:
    """60 earlier draws this year; a few experts sit in many of them (rotation, the yearly cap)."""
    busy = [f"E{rng.randrange(n):06d}" for _ in range(40)]
    out = []
    for k in range(60):
        selected = set(rng.sample(busy, 3)) | {f"E{rng.randrange(n):06d}" for _ in range(2)}
        out.append({"id": f"H{k}", "date": f"2026-{1 + k * 10 // 60:02d}-{1 + k % 28:02d}", "selected": sorted(selected)})
    return sorted(out, key=lambda h: h["date"])


def request(hist: list[dict], field: str | None) -> dict:
    out = {"date": DAY, "mode": "random", "count": 5, "supervisor": "纪检部门", "panel": {"approved": True}, "history": hist,
           "matter": {"leader": "P100", "leader_legal_entity": "法人7", "applicant_unit": "申报公司",
                      "participants": ["E000001", "E000002"], "partner_units": [], "review_date": "2026-11-30",
                      "recusal_requests": []}}
    if field:
        out["filters"] = {"fields": [field]}
    return out


def check(receipt, policy) -> None:
    assert receipt.outcome in ("drawn", "complete"), receipt.outcome
    assert len(receipt.selected) == 5
    group = receipt.groups[0]
    multiplier = policy.selection.draw.multiplier if policy.selection.draw else 1
    assert len(group.candidates) >= 5 * multiplier
    excluded = {e.expert for e in group.excluded}
    assert not excluded & set(receipt.selected)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    registry = Registry.load()
    xj = registry.in_force("xj-iit-expert-pool", DAY)
    xc = registry.in_force("xin-county-iit-expert-pool", DAY)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pool.csv"
        make_pool(path, args.experts, rng)
        t = time.perf_counter()
        pool = load_pool(path, xj.vocabulary)
        load = time.perf_counter() - t
    gc.freeze()  # as the command line does after loading: the loaded pool is not rescanned by the collector
    hist = history(args.experts, rng)
    print(f"python {sys.version.split()[0]}, pool of {len(pool):,} experts, {len(hist)} earlier draws in the history")
    print(f"load and validate the pool (CSV, digests):   {load * 1000:8.0f} ms")
    seeds = [hashlib.sha256(f"bench-{i}".encode()).hexdigest() for i in range(args.runs)]
    t = time.perf_counter()
    check(draw(xj, pool, request(hist, None), hashlib.sha256(b"first").hexdigest()), xj)
    print(f"first draw after loading (004, 5 of all):    {(time.perf_counter() - t) * 1000:8.0f} ms")
    figures: dict = {"benchmark": "draw", "experts": args.experts, "load_ms": round(load * 1000)}
    for label, policy, field in (("004, 5 of all, 3x candidates", xj, None),
                                 ("004, 5 of one field (装备制造)", xj, "装备制造"),
                                 ("001, 5 of all, rotation", xc, None)):
        times = []
        for s in seeds:
            req = request(hist, field)
            t = time.perf_counter()
            receipt = draw(policy, pool, req, s)
            times.append(time.perf_counter() - t)
            check(receipt, policy)
        figures[f"{label} median_ms"] = round(statistics.median(times) * 1000, 1)
        excluded = sum(len(g.excluded) for g in receipt.groups)
        print(f"draw {label:34s} median {statistics.median(times) * 1000:6.1f} ms, worst {max(times) * 1000:6.1f} ms "
              f"({args.runs} seeds; last run reached {receipt.groups[0].rounds[0].reached}, excluded {excluded})")
    t = time.perf_counter()
    result = verify(registry, pool, receipt.to_json())
    print(f"verify one receipt:                          {(time.perf_counter() - t) * 1000:8.0f} ms  (ok: {result.ok})")
    assert result.ok
    figures["verify_ms"] = round((time.perf_counter() - t) * 1000)
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
