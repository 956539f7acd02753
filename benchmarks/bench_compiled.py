"""Benchmark: the 004 entry decision with the conditions compiled to Python, against the CEL core.

    python benchmarks/bench_compiled.py [--cases 100000] [--seed 7] [--profile]

Both paths run in one process on the same freshly generated cases (bench_entry.generate:
about 3 % of the cases lack a fact) and must give the same verdict bytes for every case;
any difference aborts the benchmark. Each path runs on its own fresh policy load (empty
caches: no Finding or Step memoised, no condition compiled, before its first case), and the
two are timed in alternating blocks of cases, so that a shared machine's load weighs on both. Prints the rates, their
ratio and single-decision medians; with --profile, where the compiled path's time goes.
The last line is one JSON object with the figures.
"""
from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import io
import json
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_entry import AS_OF, generate  # noqa: E402
from policy_engine import Registry, decide  # noqa: E402
from policy_engine.evaluate.evaluate import cel_core_only  # noqa: E402

POLICY = "xj-iit-expert-pool"


def fresh_policy():
    """The policy loaded anew (no plans, no memoised findings, no compiled functions)."""
    return Registry.load().in_force(POLICY, dt.date.fromisoformat(AS_OF))


def rates(cases, block: int = 2000) -> tuple[float, float]:
    """Verdicts per second, CEL core and compiled, over the same cases, timed in alternating
    blocks (so that the load of a shared machine weighs on both alike), each path on its own
    fresh policy: the first cases of each path pay for its compiling."""
    core_policy, compiled_policy = fresh_policy(), fresh_policy()
    spent = {"core": 0.0, "compiled": 0.0}
    gc.collect()
    for i in range(0, len(cases), block):
        chunk = cases[i:i + block]
        with cel_core_only():
            t = time.perf_counter()
            for c in chunk:
                decide(core_policy, "entry", c, AS_OF)
            spent["core"] += time.perf_counter() - t
        t = time.perf_counter()
        for c in chunk:
            decide(compiled_policy, "entry", c, AS_OF)
        spent["compiled"] += time.perf_counter() - t
    return len(cases) / spent["core"], len(cases) / spent["compiled"]


def medians_us(cases) -> tuple[float, float]:
    """Single-decision medians, CEL core and compiled, each case timed by both in turn (so that
    the load of a shared machine weighs on both alike); each path on its own fresh policy."""
    core_policy, compiled_policy = fresh_policy(), fresh_policy()
    core, compiled = [], []
    for c in cases:
        with cel_core_only():
            t0 = time.perf_counter_ns()
            decide(core_policy, "entry", c, AS_OF)
            core.append(time.perf_counter_ns() - t0)
        t0 = time.perf_counter_ns()
        decide(compiled_policy, "entry", c, AS_OF)
        compiled.append(time.perf_counter_ns() - t0)
    return statistics.median(core) / 1000, statistics.median(compiled) / 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--profile", action="store_true", help="profile the compiled path and print the top functions")
    args = ap.parse_args()

    cases = generate(args.cases, args.seed)
    check = cases[: min(len(cases), 5000)]
    policy = fresh_policy()
    for c in check:
        with cel_core_only():
            core = decide(policy, "entry", c, AS_OF).dumps()
        if decide(policy, "entry", c, AS_OF).dumps() != core:
            sys.exit(f"the compiled path and the CEL core disagree on {c}; not timing")

    core_rate, compiled_rate = rates(cases)
    core_median, compiled_median = medians_us(generate(5000, args.seed + 1))

    print(f"python {sys.version.split()[0]}, {args.cases} fresh cases, seed {args.seed}, "
          f"verdict bytes identical on {len(check)}")
    print(f"CEL core:  {core_rate:>10,.0f} verdicts/s   median {core_median:6.1f} us")
    print(f"compiled:  {compiled_rate:>10,.0f} verdicts/s   median {compiled_median:6.1f} us")
    print(f"speed-up:  {compiled_rate / core_rate:>10.2f}x")
    if args.profile:
        policy = fresh_policy()
        profiler = cProfile.Profile()
        profiler.enable()
        for c in cases:
            decide(policy, "entry", c, AS_OF)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
        print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:6000])
    print(json.dumps({"benchmark": "compiled", "cases": args.cases, "seed": args.seed,
                      "core_verdicts_per_s": round(core_rate), "compiled_verdicts_per_s": round(compiled_rate),
                      "speedup": round(compiled_rate / core_rate, 2), "core_median_us": round(core_median, 1),
                      "compiled_median_us": round(compiled_median, 1)}, sort_keys=True))


if __name__ == "__main__":
    main()
