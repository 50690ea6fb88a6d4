"""A throwaway PostgreSQL cluster for tests: initdb in a temp dir, a free port on 127.0.0.1.

`postgres_cluster` is session-scoped: each xdist worker starts its own cluster, and
`pg_dsn` gives every test a fresh database in it (both registered for every test
module by conftest's `pytest_plugins`).  A cluster that cannot start
fails the test with PostgreSQL's own log; it never skips (`.ci/run` installs the
server when it is missing).

initdb and postgres refuse to run as root, so as root they run as the `postgres`
user (created by Debian's package), with the temp dir handed over to it.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

RUN_AS = "postgres"
_START_TRIES = 3  # a free port found by bind-and-close can be taken before postgres binds it
_names = itertools.count()


@dataclass(frozen=True)
class Cluster:
    host: str
    port: int
    user: str
    socket_dir: Path

    def dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{dbname}"


def _bindir() -> Path:
    """Debian keeps the server binaries off PATH, one folder per major version."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install -y postgresql)")
    return Path(initdb).resolve().parent


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", RUN_AS, "--", *cmd] if os.geteuid() == 0 else cmd


def _run(cmd: list[str], cwd: Path) -> None:
    proc = subprocess.run(
        _as_server_user(cmd), cwd=cwd, capture_output=True, text=True, timeout=120
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")


@contextmanager
def start_cluster() -> Iterator[Cluster]:
    """initdb, start on a free port of 127.0.0.1, yield, stop and remove everything."""
    bindir = _bindir()
    # not under pytest's tmp dirs: their 0700 parents would shut the server user out
    base = Path(tempfile.mkdtemp(prefix="personactl-pg-"))
    data, sockets, log = base / "data", base / "sockets", base / "postgres.log"
    sockets.mkdir()
    if os.geteuid() == 0:
        account = pwd.getpwnam(RUN_AS)
        for path in (base, sockets):
            os.chown(path, account.pw_uid, account.pw_gid)
    started = False
    try:
        _run(
            [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8"]
            + ["--no-sync", "--locale=C"],
            base,
        )
        for attempt in range(_START_TRIES):
            port = _free_port()
            options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
            try:
                _run(
                    [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options]
                    + ["-w", "-t", "60", "start"],
                    base,
                )
            except RuntimeError as exc:
                if attempt == _START_TRIES - 1:
                    shown = log.read_text(errors="replace") if log.exists() else ""
                    raise RuntimeError(f"{exc}\npostgres log:\n{shown}") from None
                continue
            started = True
            break
        yield Cluster("127.0.0.1", port, "postgres", sockets)
    finally:
        if started:
            _run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"], base)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    with start_cluster() as cluster:
        yield cluster


@pytest.fixture
def pg_dsn(postgres_cluster: Cluster) -> str:
    """The DSN of a database of its own for this test (in the session's cluster)."""
    import psycopg

    name = f"t{os.getpid()}_{next(_names)}"
    with psycopg.connect(postgres_cluster.dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return postgres_cluster.dsn(name)
