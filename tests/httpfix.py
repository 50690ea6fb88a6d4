"""A scripted HTTP server on 127.0.0.1 (a free port, a background thread) for the
client's edge cases that `personactl serve` cannot produce on demand: a request that
answers whatever a test function says, drops the connection, or never answers.

    with scripted(lambda req: Reply(200, {"ok": True})) as api:
        TavusBackend(api.url, "k")...
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Seen:
    """One request as the server read it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased
    body: bytes
    peer: int  # the client's port: one per connection
    target: str  # the request line's target: absolute (http://host/path) through a proxy


@dataclass(frozen=True)
class Reply:
    status: int
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Drop:
    """Close the connection without answering (after `after` seconds)."""

    after: float = 0.0


Script = Callable[[Seen], "Reply | Drop"]


@dataclass
class Scripted:
    url: str
    seen: list[Seen]


@contextmanager
def scripted(
    script: Script, port: int = 0, tls: ssl.SSLContext | None = None
) -> Iterator[Scripted]:
    """`tls`: serve https with this server context."""
    seen: list[Seen] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the API

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("content-length") or 0)
            request = Seen(
                self.command,
                parts.path,
                {k: v[-1] for k, v in parse_qs(parts.query).items()},
                {k.lower(): v for k, v in self.headers.items()},
                self.rfile.read(length),
                self.client_address[1],
                self.path,
            )
            with lock:
                seen.append(request)
            action = script(request)
            if isinstance(action, Drop):
                time.sleep(action.after)
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            payload = b"" if action.json is None else json.dumps(action.json).encode()
            self.send_response(action.status)
            for name, value in {"content-type": "application/json", **action.headers}.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PATCH = do_DELETE = _serve  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    httpd.daemon_threads = True
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        scheme = "https" if tls is not None else "http"
        yield Scripted(f"{scheme}://127.0.0.1:{httpd.server_address[1]}", seen)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def unused_port() -> int:
    """A port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
