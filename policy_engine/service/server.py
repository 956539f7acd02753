"""Running the application under uvicorn: one process, or several sharing one listening socket.

The socket is bound here, before any worker starts, so `--port 0` picks a free port and the
line printed on stderr names it (`serving on http://127.0.0.1:PORT`). SIGTERM and SIGINT stop
accepting connections and let the requests in flight finish (at most GRACE seconds), in every
worker.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import sys

from ..policy.registry import Registry
from .app import ENV_SETTINGS, create_app

GRACE = 30  # seconds the requests in flight get to finish after SIGTERM / SIGINT


def _stopped(signum, frame) -> None:
    """The signal once uvicorn has stopped: nothing left to do."""


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve(registry: Registry, policy_dirs: tuple[str, ...], host: str, port: int, workers: int = 1, *,
          time_limit: float, access_log: bool = False, log_url: str | None = None) -> int:
    """Serve until SIGTERM / SIGINT; the exit status (0 after a graceful stop)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    sock = bind(host, port)
    actual = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    ids = registry.ids()
    print(f"policy-engine: serving on http://{shown}:{actual} ({len(ids)} policies, "
          f"{sum(len(registry.versions(i)) for i in ids)} versions; {workers} worker{'s' if workers > 1 else ''}); "
          "Ctrl-C or SIGTERM stops after the requests in flight", file=sys.stderr, flush=True)
    common = dict(host=host, port=actual, lifespan="off", access_log=access_log, log_level="warning",
                  timeout_graceful_shutdown=GRACE, server_header=False)
    # uvicorn handles SIGTERM / SIGINT (stop accepting, finish what is in flight) and raises the
    # signal again once stopped, to the handler found at start: this one, so a graceful stop exits 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _stopped)
    if workers == 1:
        log = None
        if log_url:
            from ..audit.log import AuditLog
            log = AuditLog.open(log_url)
        config = uvicorn.Config(create_app(registry, log=log, time_limit=time_limit), **common)
        uvicorn.Server(config).run(sockets=[sock])
        return 0
    # Each worker is a new process that loads (and verifies) the policies itself.
    os.environ[ENV_SETTINGS] = json.dumps({"policies": [os.path.abspath(p) for p in policy_dirs],
                                           "time_limit": time_limit, "log": log_url})
    config = uvicorn.Config("policy_engine.service.app:from_environment", factory=True, workers=workers,
                            **common)
    Multiprocess(config, sockets=[sock]).run()
    return 0
