"""A real `personactl serve` (uvicorn on 127.0.0.1, free port) in a background thread.

Use `live_server(db_path, ...)` as a context manager, or import the `server`
fixture into a test module (`from tests.serverfix import server`).  `running(cmd, port)`
runs a server as a process of its own instead (`serve_cmd` spells `personactl serve`).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
import uvicorn

from personactl.serve.app import Faults, create_app
from personactl.serve.store import Store

API_KEY = "test-key-0123456789"


@dataclass
class LiveServer:
    url: str
    store: Store
    api_key: str | None

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        """Change fault settings on the running server (via POST /_faults)."""
        resp = httpx.post(f"{self.url}/_faults", json=changes)
        resp.raise_for_status()
        return dict(resp.json())

    def stats(self) -> dict[str, Any]:
        return dict(httpx.get(f"{self.url}/_stats").json())

    def reset_stats(self) -> None:
        httpx.delete(f"{self.url}/_stats").raise_for_status()


@contextmanager
def live_server(
    db_path: Path,
    *,
    api_key: str | None = API_KEY,
    faults: Faults | None = None,
    seed_system: bool = True,
) -> Iterator[LiveServer]:
    store = Store(db_path, seed_system=seed_system)
    app = create_app(store, api_key, faults or Faults())
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on such sockets, and
    # without it every response stalls ~40 ms on delayed ACKs
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))  # bound here, so the port cannot be taken meanwhile
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="critical", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", store, api_key)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        store.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with live_server(tmp_path / "serve.sqlite") as live:
        yield live


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_cmd(port: int, *args: str) -> list[str]:
    return [sys.executable, "-m", "personactl", "serve", "--port", str(port), *args]


@dataclass
class Running:
    """A server process, its address, and where its output goes."""

    url: str
    proc: subprocess.Popen[bytes]
    log: IO[bytes]
    printed: str | None = None  # all it printed, once stopped

    def output(self) -> str:
        """What it printed (so far, while it runs), stdout and stderr together."""
        if self.printed is not None:
            return self.printed
        self.log.seek(0)
        return self.log.read().decode(errors="replace")


@contextmanager
def running(
    cmd: list[str], port: int, *, env: Mapping[str, str] | None = None, timeout: float = 30.0
) -> Iterator[Running]:
    """`cmd`, a server listening on `port`, once GET /_stats answers there; terminated
    after the block.  Its output goes to a file (a pipe nobody reads would fill and stall
    a server that logs every request); it fails the test, with that output, if it dies
    or does not answer in `timeout` seconds."""
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        server = Running(f"http://127.0.0.1:{port}", proc, log)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    httpx.get(f"{server.url}/_stats")
                    break
                except httpx.TransportError:
                    assert proc.poll() is None, server.output()
                    assert time.monotonic() < deadline, f"server did not start\n{server.output()}"
                    time.sleep(0.05)
            yield server
        finally:
            proc.terminate()
            proc.wait(10)
            server.printed = server.output()
