"""HTTP/1.1 exchanges over the standard library's `http.client`, for the tavus backend.

A pool of keep-alive connections, each lent to one request at a time, the most recently
returned first (its connection is still warm); one found closed by the server while it
was idle is replaced before anything is sent on it.  Requests go through the proxy that
HTTP(S)_PROXY names for the API's scheme unless NO_PROXY lists its host (as curl does);
TLS verifies against SSL_CERT_FILE or SSL_CERT_DIR when set, else certifi's bundle.

Why not urllib3 or httpx, which wrap the same kind of connection: in a parallel apply the
client's CPU per request is what decides how fast the creates go (16 threads share one
interpreter lock, and on a 2-core runner they share the cores with everything else).
Measured for 900 creates from 16 threads (README "Speed"): httpx 1.9 s of CPU, urllib3
0.55 s, http.client 0.35 s.

Every transport failure is a `TransportError` that says whether the request can have
left this machine (`sent`): a refused or unresolvable host, a connect timeout, a failed
TLS handshake or proxy tunnel are not; a lost or late answer is.
"""

from __future__ import annotations

import base64
import http.client
import os
import select
import socket
import ssl
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import certifi

# Idle connections kept: more than any parallelism apply runs with plus the list pages
# fetched ahead; connections are opened only as requests need them.
MAX_IDLE = 64


class TransportError(Exception):
    """No answer: `label` says what failed in words, `sent` whether the request may
    have reached the server."""

    def __init__(self, label: str, cause: BaseException, *, sent: bool) -> None:
        super().__init__(f"{label}: {cause}")
        self.label = label
        self.sent = sent


@dataclass(frozen=True)
class Answer:
    """One HTTP response, read whole."""

    what: str  # "METHOD /path", for messages
    status: int
    content: bytes
    retry_after: str | None  # the Retry-After header, if any


def _tls_context() -> ssl.SSLContext:
    """One verifying context for every connection."""
    cafile = os.environ.get("SSL_CERT_FILE")
    capath = os.environ.get("SSL_CERT_DIR")
    if cafile and Path(cafile).is_file():
        return ssl.create_default_context(cafile=cafile)
    if capath and Path(capath).is_dir():
        return ssl.create_default_context(capath=capath)
    return ssl.create_default_context(cafile=certifi.where())


@dataclass(frozen=True)
class _Proxy:
    host: str
    port: int
    headers: dict[str, str]  # Proxy-Authorization from the proxy URL's user:password


def _proxy_for(scheme: str, netloc: str) -> _Proxy | None:
    if not any(name.lower().endswith("_proxy") for name in os.environ):
        return None  # the usual case, without importing urllib.request (tens of ms)
    import urllib.request

    url = urllib.request.getproxies_environment().get(scheme)
    if not url or urllib.request.proxy_bypass(netloc):
        return None
    parts = urlsplit(url if "://" in url else f"http://{url}")
    headers = {}
    if parts.username is not None:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        headers["Proxy-Authorization"] = "Basic " + base64.b64encode(credentials).decode()
    return _Proxy(parts.hostname or "", parts.port or 80, headers)


def _dropped(sock: socket.socket) -> bool:
    """Whether an idle keep-alive connection has something to read: the server closed
    it (or broke the protocol); either way it cannot carry a request."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([sock], [], [], 0)[0])


def _connect_failure(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "connect timed out"
    if isinstance(exc, ssl.SSLError):
        return "TLS error"
    if str(exc).startswith("Tunnel connection failed"):
        return "proxy error"
    return "cannot connect"


class Pool:
    """Connections to the host of `base_url`; safe to share between threads."""

    def __init__(self, base_url: str, headers: Mapping[str, str], timeout: float) -> None:
        parts = urlsplit(base_url)  # checked by the project (api_url_problem)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if self._https else 80)
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._prefix = parts.path.rstrip("/")
        self._headers = dict(headers)
        self._timeout = timeout
        self._tls = _tls_context() if self._https else None
        self._proxy = _proxy_for(parts.scheme, parts.netloc)
        if self._proxy is not None and not self._https:
            self._headers.update(self._proxy.headers)  # a plain-http proxy reads them
        self._lock = threading.Lock()
        self._idle: list[http.client.HTTPConnection] = []

    def _new(self) -> http.client.HTTPConnection:
        proxy = self._proxy
        host, port = (self._host, self._port) if proxy is None else (proxy.host, proxy.port)
        if not self._https:
            return http.client.HTTPConnection(host, port, timeout=self._timeout)
        conn = http.client.HTTPSConnection(host, port, timeout=self._timeout, context=self._tls)
        if proxy is not None:
            conn.set_tunnel(self._host, self._port, headers=proxy.headers)  # CONNECT
        return conn

    @contextmanager
    def _lend(self) -> Iterator[http.client.HTTPConnection]:
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is not None and conn.sock is not None and _dropped(conn.sock):
            conn.close()  # reconnected below, before anything is sent
        conn = conn or self._new()
        try:
            yield conn
        except BaseException:
            conn.close()  # in an unknown state: never lent again
            raise
        with self._lock:
            if len(self._idle) < MAX_IDLE:
                self._idle.append(conn)
                return
        conn.close()

    def request(
        self,
        method: str,
        path_and_query: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """One exchange, no retries.  A header http.client refuses (a line break in a
        value) raises its ValueError before anything is sent."""
        target = self._prefix + path_and_query
        if self._proxy is not None and not self._https:
            target = self._origin + target  # absolute-form, for the proxy
        sent_headers: dict[str, Any] = {**self._headers, **(headers or {})}
        with self._lend() as conn:
            if conn.sock is None:
                try:
                    conn.connect()
                except OSError as exc:  # refused, unresolvable, timed out, TLS, proxy
                    raise TransportError(_connect_failure(exc), exc, sent=False) from exc
                # http.client sends the headers and the body in two writes: without this,
                # Nagle holds the body back until the server acknowledges the headers,
                # which a delayed ACK can put off for 40 ms and more
                if isinstance(conn.sock, socket.socket):
                    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                conn.request(method, target, body=body, headers=sent_headers)
                resp = conn.getresponse()
                content = resp.read()
            except TimeoutError as exc:
                raise TransportError("read timed out", exc, sent=True) from exc
            except (OSError, http.client.HTTPException) as exc:
                raise TransportError("connection lost", exc, sent=True) from exc
        what = f"{method} {path_and_query.partition('?')[0]}"
        return Answer(what, resp.status, content, resp.getheader("retry-after"))

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
