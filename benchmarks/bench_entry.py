"""Benchmark: the 004 entry decision over generated cases, against the same rules in Python.

    python benchmarks/bench_entry.py [--cases 100000] [--seed 7]

Prints, for one process on one core:
  - load: loading and verifying every bundled policy (quotes checked against sources)
  - engine: full verdicts per second (case validated, CEL evaluated, Verdict built),
    and with the verdict serialised to JSON as well
  - hand-written: the same ten criteria written directly in Python, returning the list of
    failed rules
  - the ratio, and the median latency of a single in-process decision

Before timing, every case's engine verdict is compared with the hand-written answer
(the set of failed and unknown criteria); any disagreement aborts the benchmark.
"""
from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from policy_engine import Registry, decide  # noqa: E402
from policy_engine.policy.functions import age_at  # noqa: E402

AS_OF = "2026-11-23"
ATTESTED = ("political_standing", "familiar_with_field_rules", "field_expertise", "professional_ethics",
            "analytic_ability", "availability", "health")
RANKS = ("none", "junior", "intermediate", "associate_senior", "senior")


def generate(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    start = dt.date(1950, 1, 1).toordinal()
    cases = []
    for i in range(n):
        birth = dt.date.fromordinal(start + rng.randrange(0, 365 * 50)).isoformat()
        expert = {
            "id": f"E{i:06d}",
            "birth_date": birth,
            "title_rank": rng.choice(RANKS),
            "registered_qualification": rng.random() < 0.2,
            "senior_management_expert": rng.random() < 0.05,
            "years_in_field": rng.randrange(0, 35),
            "recommended_by_employer": rng.random() < 0.95,
            "records": {"academic_misconduct": rng.random() < 0.02, "bad_credit": rng.random() < 0.02,
                        "misconduct": rng.random() < 0.02},
            "attested": {k: rng.random() < 0.97 for k in ATTESTED},
        }
        if rng.random() < 0.03:  # some cases lack a fact
            del expert[rng.choice(["birth_date", "title_rank", "recommended_by_employer"])]
        cases.append({"expert": expert})
    return cases


def hand_written(case: dict, as_of: str) -> list[str]:
    """The 004 第五条 criteria, directly in Python: the ids of the criteria not met.

    Unknowns follow the engine's three-valued logic, so both sides answer the same question.
    """
    e = case["expert"]
    a = e.get("attested", {})
    r = e.get("records", {})
    failed = []
    if not a["political_standing"]:
        failed.append("political-quality")
    if r["academic_misconduct"] or r["bad_credit"] or r["misconduct"]:
        failed.append("clean-record")
    if not a["familiar_with_field_rules"]:
        failed.append("familiar-with-rules")
    if not a["field_expertise"]:
        failed.append("field-standing")
    if not a["professional_ethics"]:
        failed.append("ethics")
    rank = e.get("title_rank")
    met = (rank in ("associate_senior", "senior")) or e["registered_qualification"] or e["years_in_field"] >= 8
    if not met and not e["senior_management_expert"]:
        failed.append("title-or-experience" if rank is not None else "title-or-experience?")
    if not a["analytic_ability"]:
        failed.append("analytic-ability")
    if not (a["availability"] and a["health"]):
        failed.append("time-health-willingness")
    birth = e.get("birth_date")
    if birth is None:
        failed.append("age?")
    elif age_at(birth, as_of) > 65:
        failed.append("age")
    rec = e.get("recommended_by_employer")
    if rec is None:
        failed.append("employer-recommendation?")
    elif not rec:
        failed.append("employer-recommendation")
    return failed


def engine_answer(verdict) -> list[str]:
    out = []
    for f in verdict.findings:
        if f.result == "failed":
            out.append(f.rule)
        elif f.result == "unknown":
            out.append(f.rule + "?")
    return out


def rate(fn, cases) -> float:
    gc.collect()
    t = time.perf_counter()
    for c in cases:
        fn(c)
    return len(cases) / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    t = time.perf_counter()
    registry = Registry.load()
    load_s = time.perf_counter() - t
    policy = registry.in_force("xj-iit-expert-pool", dt.date.fromisoformat(AS_OF))
    cases = generate(args.cases, args.seed)

    disagreements = 0
    outcomes: dict[str, int] = {}
    for c in cases:
        v = decide(policy, "entry", c, AS_OF)
        outcomes[v.outcome] = outcomes.get(v.outcome, 0) + 1
        if sorted(engine_answer(v)) != sorted(hand_written(c, AS_OF)):
            disagreements += 1
            if disagreements <= 3:
                print("DISAGREE", c, engine_answer(v), hand_written(c, AS_OF), file=sys.stderr)
    if disagreements:
        sys.exit(f"{disagreements} cases disagree; not timing")

    engine = rate(lambda c: decide(policy, "entry", c, AS_OF), cases)
    engine_json = rate(lambda c: decide(policy, "entry", c, AS_OF).dumps(), cases)
    engine_compact = rate(lambda c: decide(policy, "entry", c, AS_OF).dumps(compact=True), cases)
    hand = rate(lambda c: hand_written(c, AS_OF), cases)

    lat = []
    for c in cases[:5000]:
        t0 = time.perf_counter_ns()
        decide(policy, "entry", c, AS_OF)
        lat.append(time.perf_counter_ns() - t0)

    print(f"python {sys.version.split()[0]}, {args.cases} cases, seed {args.seed}, outcomes {dict(sorted(outcomes.items()))}")
    print(f"load and verify all policies: {load_s * 1000:.0f} ms")
    print(f"engine (Verdict objects):      {engine:>10,.0f} verdicts/s")
    print(f"engine (+ JSON text, indented): {engine_json:>9,.0f} verdicts/s")
    print(f"engine (+ JSON text, compact):  {engine_compact:>9,.0f} verdicts/s")
    print(f"hand-written Python:           {hand:>10,.0f} cases/s")
    print(f"ratio hand/engine:             {hand / engine:>10.1f}x")
    print(f"single decision, median:       {statistics.median(lat) / 1000:>10.1f} us "
          f"(p99 {statistics.quantiles(lat, n=100)[98] / 1000:.1f} us)")
    print(json.dumps({"benchmark": "entry", "cases": args.cases, "seed": args.seed,
                      "verdicts_per_s": round(engine), "indented_json_per_s": round(engine_json),
                      "compact_json_per_s": round(engine_compact), "hand_written_per_s": round(hand),
                      "ratio": round(hand / engine, 1), "median_us": round(statistics.median(lat) / 1000, 1),
                      "p99_us": round(statistics.quantiles(lat, n=100)[98] / 1000, 1)}))


if __name__ == "__main__":
    main()
