"""A PostgreSQL server of the tests' own, for the audit log's PostgreSQL tests.

Made from the distribution's binaries (Debian's postgresql package puts initdb and pg_ctl in
/usr/lib/postgresql/<version>/bin; .ci/run installs the package when they are missing): a new
cluster in a temporary folder (initdb, trust authentication, user `audit`), started with pg_ctl on
a free loopback port with its socket in that folder, stopped and removed afterwards. PostgreSQL
refuses to run as root: as root, the commands run as the `postgres` user through runuser.

A server that cannot start FAILS the tests that need it, with the reason (never a skip).
"""
from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile

import pytest

USER = "audit"
INSTALL = "apt-get install postgresql (Debian/Ubuntu; .ci/run does this when initdb is missing)"


def bindir() -> str | None:
    """The folder of initdb and pg_ctl: the newest /usr/lib/postgresql/<version>/bin, else the PATH's."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: [int(x) if x.isdigit() else 0 for x in p.split("/")[4].split(".")])
    if found:
        return os.path.dirname(found[-1])
    on_path = shutil.which("initdb")
    return os.path.dirname(os.path.realpath(on_path)) if on_path else None


def missing() -> str | None:
    """Why a PostgreSQL server cannot be started here, or None."""
    where = bindir()
    if where is None or not os.access(os.path.join(where, "pg_ctl"), os.X_OK):
        return f"PostgreSQL's initdb and pg_ctl are not installed. Fix: {INSTALL}"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return ("running as root, and there is no postgres user to run the server as (PostgreSQL refuses "
                    f"root). Fix: {INSTALL}, which creates that user")
        if shutil.which("runuser") is None:
            return "running as root, and the runuser command (util-linux) is missing to start PostgreSQL as postgres"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "the psycopg driver is not installed. Fix: python3 -m pip install -e '.[test]' (or '.[postgres]')"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One cluster: start() -> the URL of its `postgres` database as user audit; stop()."""

    def __init__(self) -> None:
        # as root the server runs as postgres, which must reach the folder: /tmp, not a private $TMPDIR
        self.folder = tempfile.mkdtemp(prefix="audit-pg-", dir="/tmp" if os.geteuid() == 0 else None)
        self.data = os.path.join(self.folder, "data")
        self.port = _free_port()
        self.bin = bindir() or ""
        self.started = False

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        command = [os.path.join(self.bin, args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def start(self) -> str:
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        os.chmod(self.folder, 0o700)
        made = self._run("initdb", "-D", self.data, "-A", "trust", "-U", USER, "-E", "UTF8", "--locale=C",
                         "--no-sync")
        if made.returncode != 0:
            raise RuntimeError(f"initdb failed ({made.returncode}): {made.stderr.strip() or made.stdout.strip()}")
        log = os.path.join(self.folder, "server.log")
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60")
        started = self._run("pg_ctl", "-D", self.data, "-l", log, "-w", "-t", "60", "-o", options, "start")
        if started.returncode != 0:
            try:
                with open(log, encoding="utf-8", errors="replace") as handle:
                    tail = handle.read()[-2000:]
            except OSError:
                tail = ""
            raise RuntimeError(f"pg_ctl start failed ({started.returncode}): {started.stderr.strip()} {tail}")
        self.started = True
        return self.url("postgres")

    def url(self, database: str) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        try:
            if self.started:
                self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop", timeout=60)
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server():
    reason = missing()
    if reason:
        pytest.fail(f"the PostgreSQL audit-log tests cannot start a server: {reason}", pytrace=False)
    server = Server()
    try:
        server.start()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        server.stop()
        pytest.fail(f"the PostgreSQL audit-log tests cannot start a server: {exc}", pytrace=False)
    yield server
    server.stop()


_databases = itertools.count(1)


def pg_database(server: Server) -> str:
    import psycopg
    name = f"audit_{os.getpid()}_{next(_databases)}"
    with psycopg.connect(server.url("postgres"), autocommit=True) as db:
        db.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
    return server.url(name)
