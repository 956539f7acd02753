"""Benchmark: verdicts per second for each kind of decision, on fresh cases, against the reference path.

    python benchmarks/bench_decisions.py [--cases 20000] [--seed 7] [--only exit,deadline]
    python benchmarks/bench_decisions.py --memory 1000000      # entry decisions, resident memory
    python benchmarks/bench_decisions.py --events 4000         # one exit case with a long history

Cases are made from the bundled golden fixtures of each policy and decision (their cases are
the seeds): each generated case is a seed with its dates moved back by up to five years
(never after the date of the question), whole numbers moved, booleans flipped, values of
enums redrawn and, for event histories, the events repeated at other dates up to a history
of 5 to 40 events (exit). So the cases are fresh (the caches start empty and most cases are new to
them) and exercise every branch the fixtures do.

For each decision: the engine's rate (Verdict objects), with compact JSON text, and the
reference path's rate (cel_core_only: the case checked by check_case, each condition by the
CEL core, no rule cached) over the same cases, timed in alternating blocks so the load of a
shared machine weighs on both; each path on its own fresh load of the policies. Every case's
verdict must be the same bytes through both paths, or the benchmark stops.

--memory N decides N generated entry cases (benchmarks/bench_entry.py) and prints the resident
memory every tenth of the way: it must stay flat (the caches are bounded).
--events N times one exit decision over a history of N events, against the same history
of N/10 (a linear cost gives a ratio near 10).

The last line is one JSON object with the figures.
"""
from __future__ import annotations

import argparse
import copy
import datetime as dt
import gc
import json
import random
import resource
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from policy_engine import Registry  # noqa: E402
from policy_engine.errors import EngineError  # noqa: E402
from policy_engine.evaluate.engine import decide_governing  # noqa: E402
from policy_engine.evaluate.evaluate import cel_core_only  # noqa: E402

# (policy, decision, event histories grown to 5-40 events) measured by default.
DEFAULT = [("xj-iit-expert-pool", "entry", False), ("xj-iit-expert-pool", "exit", True),
           ("xj-iit-expert-pool", "recusal", False), ("gov-sanctions-law", "sanction", False),
           ("xj-iit-expert-pool", "deadline", False)]


def seeds(policy: str, decision: str) -> list[dict]:
    folder = ROOT / "fixtures" / policy / decision
    out = []
    for f in sorted(folder.glob("*.yaml")):
        data = yaml.safe_load(f.read_text(encoding="utf-8"))
        if isinstance(data.get("case"), dict) and "rulings" not in data["case"]:
            out.append(data)
    if not out:
        raise SystemExit(f"no fixture cases for {policy} {decision}")
    return out


def _shift(value, rng: random.Random, as_of: dt.date, floor: dt.date | None = None):
    if isinstance(value, dt.date):
        value = value.isoformat()
    given = dt.date.fromisoformat(value)
    day = given - dt.timedelta(days=rng.randrange(0, 365 * 5))
    if floor is not None:  # a date stays under the version the seed's does
        day = max(day, min(floor, given))
    return min(day, as_of).isoformat()


def _is_date(value) -> bool:
    if isinstance(value, dt.date):
        return True
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        try:
            dt.date.fromisoformat(value)
            return True
        except ValueError:
            return False
    return False


def vary(value, rng: random.Random, as_of: dt.date, enums: dict, floor: dt.date | None, grow: bool,
         key: str = ""):
    """A perturbed copy of a case's value (see the module's text)."""
    if isinstance(value, dict):
        return {k: vary(v, rng, as_of, enums, floor, grow, k) for k, v in value.items()}
    if isinstance(value, list):
        items = [vary(v, rng, as_of, enums, floor, grow, key) for v in value]
        if grow and value and all(isinstance(v, dict) and "date" in v for v in value):  # an event history
            want = rng.randrange(5, 41)
            while len(items) < want:
                items.append(vary(rng.choice(value), rng, as_of, enums, floor, grow, key))
        return items
    if isinstance(value, bool):
        return (not value) if rng.random() < 0.15 else value
    if isinstance(value, int):
        return max(0, value + rng.randrange(-3, 4))
    if _is_date(value):
        return _shift(value, rng, as_of, floor)
    if isinstance(value, str) and key != "kind" and value in enums.get(key, ()) and rng.random() < 0.3:
        return rng.choice(enums[key])
    return value


def enum_values(policy) -> dict[str, list[str]]:
    """Enum values by the last part of a fact's or event field's name."""
    out: dict[str, list[str]] = {}
    for name, fact in policy.vocabulary.facts.items():
        if fact.values:
            out.setdefault(name.rsplit(".", 1)[-1], list(fact.values))
        for kind in fact.kinds.values():
            for field in kind.fields.values():
                if field.values:
                    out.setdefault(field.name, list(field.values))
    return out


def generate(registry, policy_id: str, decision: str, n: int, seed: int, grow: bool = False) -> list[tuple[str, dict]]:
    rng = random.Random(f"{seed}-{policy_id}-{decision}")
    base = [d for d in seeds(policy_id, decision)  # seeds the engine answers (not those showing a refusal)
            if not answer(registry, policy_id, decision, str(d["as_of"]), d["case"]).startswith("refused")]
    enums = enum_values(registry.versions(policy_id)[-1])
    out = []
    while len(out) < n:
        data = rng.choice(base)
        as_of = dt.date.fromisoformat(str(data["as_of"]))
        # where a date of the act chooses the version (governing_version), dates stay under the version
        # the seed's are (a case whose acts span two versions is refused, rightly, and measures nothing)
        policy = registry.in_force(policy_id, as_of)
        floor = policy.in_force.start if policy.version_rule(decision) is not None else None
        out.append((as_of.isoformat(), vary(copy.deepcopy(data["case"]), rng, as_of, enums, floor, grow)))
    return out


def answer(registry, policy_id: str, decision: str, as_of: str, case: dict) -> str:
    try:
        return decide_governing(registry, policy_id, decision, case, as_of)[0].dumps(compact=True)
    except EngineError as exc:
        return f"refused {exc.code}"


def measure(policy_id: str, decision: str, grow: bool, n: int, seed: int, block: int = 1000) -> dict:
    fast_registry, core_registry = Registry.load(), Registry.load()
    cases = generate(Registry.load(), policy_id, decision, n, seed, grow)
    spent = {"engine": 0.0, "reference": 0.0}
    refused = 0
    gc.collect()
    for i in range(0, n, block):
        chunk = cases[i:i + block]
        with cel_core_only():
            t = time.perf_counter()
            core = [answer(core_registry, policy_id, decision, a, c) for a, c in chunk]
            spent["reference"] += time.perf_counter() - t
        t = time.perf_counter()
        fast = [answer(fast_registry, policy_id, decision, a, c) for a, c in chunk]
        spent["engine"] += time.perf_counter() - t
        for j, (a, b) in enumerate(zip(fast, core)):
            if a != b:
                raise SystemExit(f"{policy_id} {decision}: case {i + j} differs between the paths:\n{chunk[j]}")
        refused += sum(a.startswith("refused") for a in fast)
    objects = _rate(fast_registry, policy_id, decision, cases)
    return {"policy": policy_id, "decision": decision, "cases": n, "refused": refused,
            "verdicts_per_s": round(objects), "with_compact_json_per_s": round(n / spent["engine"]),
            "reference_with_compact_json_per_s": round(n / spent["reference"]),
            "speedup": round(spent["reference"] / spent["engine"], 2)}


def _rate(registry, policy_id: str, decision: str, cases) -> float:
    """Verdict objects per second (no text), on the warm engine (the same cases once more)."""
    def run():
        for a, c in cases:
            try:
                decide_governing(registry, policy_id, decision, c, a)
            except EngineError:
                pass
    t = time.perf_counter()
    run()
    return len(cases) / (time.perf_counter() - t)


def rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory(n: int, seed: int) -> dict:
    from bench_entry import AS_OF, generate as entry_cases
    from policy_engine import decide
    policy = Registry.load().in_force("xj-iit-expert-pool", dt.date.fromisoformat(AS_OF))
    step = max(n // 10, 1)
    marks = []
    t = time.perf_counter()
    for start in range(0, n, step):
        for case in entry_cases(min(step, n - start), seed + start):
            decide(policy, "entry", case, AS_OF).dumps(compact=True)
        marks.append(round(rss_mib(), 1))
        print(f"{start + step:>9,} decisions: {marks[-1]:.1f} MiB resident", flush=True)
    return {"decisions": n, "rss_mib": marks, "growth_after_first_tenth_mib": round(marks[-1] - marks[0], 1),
            "seconds": round(time.perf_counter() - t, 1)}


def events(n: int) -> dict:
    registry = Registry.load()
    policy = registry.in_force("xj-iit-expert-pool", dt.date(2026, 9, 15))
    rng = random.Random(n)

    def history(k: int) -> dict:
        start = dt.date(2010, 1, 1)
        evs = []
        for i in range(k):
            evs.append({"kind": "invitation", "date": (start + dt.timedelta(days=i % 5000)).isoformat(),
                        "response": rng.choice(["accepted", "declined", "no_timely_reply"]),
                        "attendance": rng.choice(["attended", "absent"])})
        return {"expert": {"birth_date": "1970-01-01", "events": evs}}

    from policy_engine import decide
    out = {}
    for k in (n // 10, n):
        case = history(k)
        t = time.perf_counter()
        verdict = decide(policy, "exit", case, "2026-09-15")
        out[k] = time.perf_counter() - t
        print(f"exit over {k:,} events: {out[k] * 1000:.1f} ms ({verdict.outcome})")
    return {"events": n, "ms": round(out[n] * 1000, 1), "ms_tenth": round(out[n // 10] * 1000, 1),
            "ratio": round(out[n] / out[n // 10], 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--only", help="decisions to measure, e.g. exit,deadline (default: all five)")
    ap.add_argument("--memory", type=int, metavar="N", help="resident memory over N entry decisions instead")
    ap.add_argument("--events", type=int, metavar="N", help="one exit decision over N events instead")
    args = ap.parse_args()
    if args.memory:
        print(json.dumps(memory(args.memory, args.seed)))
        return
    if args.events:
        print(json.dumps(events(args.events)))
        return
    wanted = set(args.only.split(",")) if args.only else None
    results = []
    print(f"python {sys.version.split()[0]}, {args.cases} generated cases per decision, seed {args.seed}")
    for policy_id, decision, grow in DEFAULT:
        if wanted and decision not in wanted:
            continue
        r = measure(policy_id, decision, grow, args.cases, args.seed)
        results.append(r)
        print(f"{decision:>9} ({policy_id}): {r['verdicts_per_s']:>8,} verdicts/s, "
              f"{r['with_compact_json_per_s']:>7,}/s with compact JSON, reference {r['reference_with_compact_json_per_s']:>6,}/s "
              f"({r['speedup']}x), {r['refused']} refused", flush=True)
    print(json.dumps({"decisions": results}))


if __name__ == "__main__":
    main()
