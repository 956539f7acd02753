"""Benchmark: whole-process runs of the command line, as a user or a script calls it.

    python benchmarks/bench_cli.py [--runs 15] [--root PROJECT]

Each command is run --runs times as its own process (`python3 cli.py ...` from the project
root given, default this checkout), after one untimed warm-up run (so the file cache and the
.pyc files are warm: PYTHONDONTWRITEBYTECODE is removed from the environment of the runs, as
an installed package has its bytecode compiled by pip). For each: wall time (median, min, max) and the CPU time the process used
(user + system; less sensitive than wall time to other load on the machine), in seconds.

Commands timed:
  python   python3 -c pass (the interpreter's own start: the floor, and a gauge of the machine's load)
  import   python3 -c "import policy_engine"
  decide   decide --policy xj-iit-expert-pool --decision entry on a bundled golden case, the
           policy taken from the cache of verified policies (filled by the warm-up run; the
           cache is a folder of its own, in a temporary folder)
  cold     the same decide with the cache off (POLICY_ENGINE_CACHE=off): the policy loaded and
           verified from its files, every time
  list     list (loads and verifies every bundled policy)

Every run must exit 0, and decide must print the stored golden verdict's outcome.
The last line printed is one JSON object with every figure.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
CASE = Path("fixtures/xj-iit-expert-pool/entry/eligible-senior-engineer.yaml")


def commands(root: Path) -> dict[str, list[str]]:
    return {
        "python": [sys.executable, "-c", "pass"],
        "import": [sys.executable, "-c", "import policy_engine"],
        "decide": [sys.executable, "cli.py", "decide", "--policy", "xj-iit-expert-pool", "--decision", "entry",
                   "--as-of", "2026-11-23", str(CASE)],
        "cold": [sys.executable, "cli.py", "decide", "--policy", "xj-iit-expert-pool", "--decision", "entry",
                 "--as-of", "2026-11-23", str(CASE)],
        "list": [sys.executable, "cli.py", "list"],
    }


def once(argv: list[str], root: Path, env: dict) -> tuple[float, float, str]:
    """One run: wall time, CPU time of the process, its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(argv, cwd=root, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {out.returncode}:\n{out.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out.stdout


def figures(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 4), "min": round(min(values), 4),
            "max": round(max(values), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--root", type=Path, default=HERE, help="project checkout to time (default: this one)")
    args = parser.parse_args()
    root = args.root.resolve()
    # PYTHONDONTWRITEBYTECODE would make every run compile the package's source again (0.25 s);
    # an installed package has its bytecode (pip compiles it), and the warm-up run writes it here.
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "POLICY_ENGINE_POLICIES", "PYTHONDONTWRITEBYTECODE")}
    env["PYTHONPATH"] = str(root)  # the checkout's package, whatever is installed
    import tempfile
    cache = tempfile.mkdtemp(prefix="bench-cli-cache-")
    golden = json.loads((root / CASE.with_name(CASE.stem + ".verdict.json")).read_text(encoding="utf-8"))
    result: dict = {"root": str(root), "runs": args.runs, "python": sys.version.split()[0],
                    "cpus": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2)}
    for name, argv in commands(root).items():
        run_env = {**env, "POLICY_ENGINE_CACHE": "off" if name == "cold" else cache}
        once(argv, root, run_env)  # warm-up (fills the cache for decide)
        walls, cpus = [], []
        for _ in range(args.runs):
            wall, cpu, stdout = once(argv, root, run_env)
            if name in ("decide", "cold") and json.loads(stdout)["outcome"] != golden["outcome"]:
                raise SystemExit(f"decide printed {json.loads(stdout)['outcome']}, the golden verdict says "
                                 f"{golden['outcome']}")
            walls.append(wall)
            cpus.append(cpu)
        result[name] = {"wall_s": figures(walls), "cpu_s": figures(cpus)}
        print(f"{name:7s} wall median {result[name]['wall_s']['median']:.3f} s "
              f"(min {result[name]['wall_s']['min']:.3f}, max {result[name]['wall_s']['max']:.3f}); "
              f"cpu median {result[name]['cpu_s']['median']:.3f} s")
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
