"""Benchmark: `policy-engine decide --cases` over N generated entry cases for xj-iit-expert-pool.

    python benchmarks/bench_batch.py [--n 1000000] [--jobs 1,2] [--seed 7]

Writes N cases as JSON lines to a temporary file (the generator of bench_entry.py, in
blocks, so memory stays flat), then runs the command line once per --jobs value, reading
its output from a pipe (SHA-256 and line count; nothing is kept). For each run: wall time,
cases per second, and the peak resident memory of the largest process of the run (the
command or one of its workers: wait4's rusage of the command, which includes the workers
it reaped), and the CPU time of the command and its workers (user + system), which a busy
machine disturbs less than the wall time. Also the time of one single `decide` of one case, for comparison with a shell
loop. The runs must agree byte for byte and give one record per case, or the benchmark
fails. The last line printed is one JSON object with every figure.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_entry import AS_OF, generate  # noqa: E402

POLICY = "xj-iit-expert-pool"
BLOCK = 10_000


def write_cases(path: Path, n: int, seed: int) -> int:
    """N cases, written in blocks of BLOCK (each block its own seed); returns the bytes written."""
    with open(path, "w", encoding="utf-8") as fh:
        for start in range(0, n, BLOCK):
            count = min(BLOCK, n - start)
            for i, case in enumerate(generate(count, seed * 1_000_003 + start)):
                case["expert"]["id"] = f"E{start + i:07d}"
                fh.write(json.dumps(case, ensure_ascii=False, separators=(",", ":")))
                fh.write("\n")
    return path.stat().st_size


def run(cases: Path, jobs: int) -> dict:
    cmd = [sys.executable, str(ROOT / "cli.py"), "decide", "--policy", POLICY, "--decision", "entry",
           "--as-of", AS_OF, "--cases", str(cases), "--jobs", str(jobs)]
    digest = hashlib.sha256()
    lines = 0
    with tempfile.TemporaryFile() as err:
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
        while True:
            block = proc.stdout.read(1 << 20)
            if not block:
                break
            digest.update(block)
            lines += block.count(b"\n")
        proc.stdout.close()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        summary = err.read().decode("utf-8", "replace").strip().splitlines()
    return {"jobs": jobs, "exit_code": proc.returncode, "wall_s": round(wall, 2), "records": lines,
            "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2), "sha256": digest.hexdigest(),
            "summary": summary[-1] if summary else ""}


def single_decide(cases: Path, times: int = 3) -> float:
    """Median wall time of one `decide` of one case (what a shell loop pays per case)."""
    with open(cases, encoding="utf-8") as fh:
        first = fh.readline()
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as one:
        one.write(first)
    walls = []
    try:
        for _ in range(times):
            t = time.perf_counter()
            subprocess.run([sys.executable, str(ROOT / "cli.py"), "decide", "--policy", POLICY, "--decision", "entry",
                            "--as-of", AS_OF, "--compact", one.name], check=True, capture_output=True)
            walls.append(time.perf_counter() - t)
    finally:
        os.unlink(one.name)
    return statistics.median(walls)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000, help="cases to generate (default 1,000,000)")
    ap.add_argument("--jobs", default="1,2", help="comma-separated --jobs values to run (default 1,2)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    jobs = [int(j) for j in args.jobs.split(",")]

    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        cases = Path(tmp) / "cases.jsonl"
        t = time.perf_counter()
        size = write_cases(cases, args.n, args.seed)
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the "
              f"start; {args.n:,} cases, {size / 2**20:,.0f} MiB of JSON lines, generated in "
              f"{time.perf_counter() - t:.1f} s", flush=True)
        single = single_decide(cases)
        print(f"one `decide` of one case (a shell loop's cost per case): {single:.2f} s", flush=True)
        runs = []
        for j in jobs:
            r = run(cases, j)
            r["cases_per_s"] = round(args.n / r["wall_s"]) if r["wall_s"] else None
            r["cases_per_cpu_s"] = round(args.n / r["cpu_s"]) if r["cpu_s"] else None
            runs.append(r)
            print(f"--jobs {j}: {r['wall_s']:>8.1f} s wall, {r['cases_per_s']:>7,} cases/s, "
                  f"{r['cpu_s']:.1f} s CPU ({r['cases_per_cpu_s']:,} cases per CPU-second), peak RSS "
                  f"{r['peak_rss_mib']:>6.1f} MiB, {r['records']:,} records, exit {r['exit_code']}\n    {r['summary']}",
                  flush=True)
    problems = [f"--jobs {r['jobs']}: {r['records']:,} records for {args.n:,} cases" for r in runs if r["records"] != args.n]
    problems += [f"--jobs {r['jobs']}: exit code {r['exit_code']}" for r in runs if r["exit_code"] != 0]
    identical = len({r["sha256"] for r in runs}) == 1
    if not identical:
        problems.append("the runs' outputs differ")
    print(json.dumps({"n": args.n, "python": sys.version.split()[0], "cores": os.cpu_count(),
                      "load_average_end": round(os.getloadavg()[0], 2),
                      "single_decide_s": round(single, 3), "identical_output": identical, "runs": runs,
                      "problems": problems}, ensure_ascii=False))
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
