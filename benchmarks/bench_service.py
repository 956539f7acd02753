"""Benchmark: `policy-engine serve` answering single decisions over loopback HTTP.

    python benchmarks/bench_service.py [--requests 20000] [--connections 16] [--workers 1,2]
                                       [--max-seconds 60] [--seed 7]

For each --workers value: starts the real server (`python -m policy_engine serve --port 0
--workers N`) on 127.0.0.1, waits until /readyz answers, then sends --requests POST
/v1/policies/xj-iit-expert-pool/decisions/entry requests (entry cases from bench_entry.py's
generator, as_of fixed) over --connections keep-alive connections from one asyncio client
(raw HTTP/1.1, so the client costs little of the 2 cores it shares with the server). Stops
after --requests or --max-seconds, whichever comes first. Counts as an error every answer
that is not 200 with a verdict (a JSON object with an `outcome`), and every failed
connection. Prints decisions/s, p50/p99 latency, errors, and the resident memory of the
server's processes (sum of VmRSS of the server and its workers) before and after; the last
line printed is one JSON object with every figure. Loopback only: the host is fixed.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_entry import AS_OF, generate  # noqa: E402

HOST = "127.0.0.1"
PATH = f"/v1/policies/xj-iit-expert-pool/decisions/entry?as_of={AS_OF}"


def rss_kib(pid: int) -> int:
    """VmRSS of `pid` and its children (the workers), in KiB."""
    total = 0
    pids = [pid]
    try:
        pids += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def start(workers: int) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, "-m", "policy_engine", "serve", "--port", "0", "--workers", str(workers)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    line = proc.stderr.readline()
    if "serving on" not in line:
        proc.kill()
        raise SystemExit(f"the server did not start: {line}{proc.stderr.read()}")
    port = int(line.split("http://")[1].split()[0].rsplit(":", 1)[1])
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/readyz", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.2)
    if workers > 1:  # every worker has loaded its policies: ask until each has answered
        seen: set[int] = set()
        while len(seen) < workers and time.time() < deadline:
            with urllib.request.urlopen(f"http://{HOST}:{port}/healthz", timeout=2) as r:
                seen.add(json.loads(r.read())["pid"])
    return proc, port


async def client(port: int, bodies: list[bytes], counter: list[int], stop_at: float, latencies: list[float],
                 errors: list[str]) -> None:
    try:
        reader, writer = await asyncio.open_connection(HOST, port)
    except OSError as exc:
        errors.append(f"connect: {exc}")
        return
    try:
        while counter[0] > 0 and time.perf_counter() < stop_at:
            counter[0] -= 1
            body = bodies[counter[0] % len(bodies)]
            head = (f"POST {PATH} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n").encode()
            t = time.perf_counter()
            writer.write(head + body)
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            data = await reader.readexactly(length)
            latencies.append(time.perf_counter() - t)
            if not status_line.startswith(b"HTTP/1.1 200") or b'"outcome"' not in data:
                errors.append(f"{status_line.decode().strip()} {data[:200]!r}")
    except (OSError, asyncio.IncompleteReadError) as exc:
        errors.append(f"connection: {exc!r}")
    finally:
        writer.close()


async def load(port: int, bodies: list[bytes], n: int, connections: int, max_seconds: float) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    counter = [n]
    t = time.perf_counter()
    await asyncio.gather(*(client(port, bodies, counter, t + max_seconds, latencies, errors)
                           for _ in range(connections)))
    wall = time.perf_counter() - t
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {"requests": len(latencies), "seconds": round(wall, 3),
            "decisions_per_s": round(sum(1 for _ in latencies) / wall, 1),
            "p50_ms": round(q[49] * 1000, 2), "p99_ms": round(q[98] * 1000, 2),
            "errors": len(errors), "first_errors": errors[:3]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=20_000)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--max-seconds", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    bodies = [json.dumps(c, ensure_ascii=False).encode() for c in generate(1000, args.seed)]
    runs = []
    for workers in (int(w) for w in args.workers.split(",")):
        proc, port = start(workers)
        try:
            asyncio.run(load(port, bodies, min(500, args.requests), args.connections, 10))  # warm up
            before = rss_kib(proc.pid)
            result = asyncio.run(load(port, bodies, args.requests, args.connections, args.max_seconds))
            after = rss_kib(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
        result.update(workers=workers, connections=args.connections, rss_kib_before=before, rss_kib_after=after,
                      cores=os.cpu_count())
        print(f"workers {workers}: {result['requests']} decisions in {result['seconds']} s = "
              f"{result['decisions_per_s']}/s; p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms; "
              f"errors {result['errors']}; RSS {before >> 10} -> {after >> 10} MiB")
        runs.append(result)
    print(json.dumps({"benchmark": "service", "path": PATH, "runs": runs}, ensure_ascii=False))


if __name__ == "__main__":
    main()
