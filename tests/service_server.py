"""Starting the real `policy-engine serve` process on a loopback port, and talking HTTP to it.

Used by tests/test_service*.py and tests/test_packaging.py (the service run from the installed wheel).
A server that cannot start fails the test with its stderr, never skips it.
"""
from __future__ import annotations

import http.client
import json
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


class Server:
    def __init__(self, cmd: list, cwd=ROOT, env=None, timeout: float = 120):
        self.proc = subprocess.Popen([*map(str, cmd), "--port", "0"], cwd=cwd, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        first: list[str] = []
        reader = threading.Thread(target=lambda: first.append(self.proc.stderr.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        line = first[0] if first else ""
        if "serving on http://" not in line:
            self.proc.kill()
            out, err = self.proc.communicate(timeout=30)
            pytest.fail(f"the server did not start: {' '.join(map(str, cmd))}\n{line}{err}\n{out}")
        self.banner = line
        self.port = int(line.split("http://", 1)[1].split()[0].rsplit(":", 1)[1])
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + timeout
        while True:  # a worker process may still be loading its policies
            try:
                if self.get("/readyz")[0] == 200:
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                pytest.fail(f"the server never became ready: {self.proc.stderr.read()}")
            time.sleep(0.1)

    def request(self, method: str, path: str, body=None, ctype: str = "application/json", timeout: float = 120):
        data = body if body is None or isinstance(body, bytes) else json.dumps(body, ensure_ascii=False, default=str).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": ctype} if data is not None else {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.headers.get("content-type"), r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get("content-type"), exc.read()

    def get(self, path: str):
        status, _, raw = self.request("GET", path)
        return status, json.loads(raw)

    def post(self, path: str, body, ctype: str = "application/json"):
        status, _, raw = self.request("POST", path, body, ctype)
        return status, json.loads(raw)

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def stop(self, sig=signal.SIGTERM, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail("the server did not stop within a minute of SIGTERM")
        finally:
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream:
                    stream.close()
