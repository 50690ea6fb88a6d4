"""HTTP client benchmark: the client CPU of 900 persona creates from 16 threads.

    python benchmarks/http_clients.py              # 900 creates, 20 ms latency, 3 rounds
    python benchmarks/http_clients.py --rounds 5

Why the tavus backend speaks the standard library's `http.client`: in a parallel apply the
client's CPU per request decides the pace (the threads share one interpreter lock, and on
a 2-core runner the cores with the server).  Against one `personactl serve --latency-ms 20`,
each client sends the bodies an apply of the deploy benchmark's repository sends, from 16
threads with a keep-alive connection each, round by round in turn (so a burst of load hits
each alike):

- `http.client`, bare: the floor;
- personactl's own pool (`deploy/backends/connections.py`), what `apply` uses;
- urllib3 and httpx, when installed (httpx is a dev dependency; urllib3 is not one).

Reports the median wall time and client CPU (this process's user + sys) of each, and the
CPU per request.  Prints one JSON line (`RESULT ...`) at the end.
"""

from __future__ import annotations

import argparse
import http.client
import json
import resource
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _synth  # noqa: E402
from _serve import API_KEY, Server, free_port, sent_bodies  # noqa: E402

HEADERS = {"x-api-key": API_KEY, "content-type": "application/json"}
Send = Callable[[bytes], None]


def _bare(url: str) -> Callable[[], Send]:
    port = int(url.rsplit(":", 1)[1])

    def make() -> Send:
        conn = http.client.HTTPConnection("127.0.0.1", port)

        def send(body: bytes) -> None:
            conn.request("POST", "/v2/personas", body, HEADERS)
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                sys.exit(f"http.client: HTTP {resp.status}")

        return send

    return make


def _personactl(url: str) -> Callable[[], Send]:
    from personactl.deploy.backends.connections import Pool

    pool = Pool(url, {"x-api-key": API_KEY}, 30.0)
    json_body = {"content-type": "application/json"}

    def make() -> Send:
        def send(body: bytes) -> None:
            if pool.request("POST", "/v2/personas", body, json_body).status != 200:
                sys.exit("personactl pool: not HTTP 200")

        return send

    return make


def _urllib3(url: str) -> Callable[[], Send] | None:
    try:
        import urllib3
    except ImportError:
        return None
    pool = urllib3.connection_from_url(url, maxsize=16)

    def make() -> Send:
        def send(body: bytes) -> None:
            if pool.request("POST", "/v2/personas", body=body, headers=HEADERS).status != 200:
                sys.exit("urllib3: not HTTP 200")

        return send

    return make


def _httpx(url: str) -> Callable[[], Send] | None:
    try:
        import httpx
    except ImportError:
        return None
    one = httpx.Limits(max_connections=1, max_keepalive_connections=1)

    def make() -> Send:
        client = httpx.Client(base_url=url, limits=one)  # one each, as the backend had it

        def send(body: bytes) -> None:
            if client.post("/v2/personas", content=body, headers=HEADERS).status_code != 200:
                sys.exit("httpx: not HTTP 200")

        return send

    return make


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _round(make: Callable[[], Send], bodies: list[bytes], threads: int) -> tuple[float, float]:
    """(wall, client CPU) of sending every body from `threads` threads."""
    queue: Iterator[bytes] = iter(bodies)
    lock = threading.Lock()

    def work() -> None:
        send = make()
        while True:
            with lock:
                body = next(queue, None)
            if body is None:
                return
            send(body)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    cpu, t0 = _cpu(), time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.perf_counter() - t0, _cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="personactl-http-") as tmp:
        base = Path(tmp)
        port = free_port()
        _synth.generate(base / "repo", 300, 3, env_url=f"http://127.0.0.1:{port}")
        bodies = [json.dumps(b).encode() for b in sent_bodies(base / "repo")]
        server = Server(base / "serve.db", port, args.latency_ms)
        try:
            clients = {
                "http.client (bare)": _bare(server.url),
                "personactl pool": _personactl(server.url),
                "urllib3": _urllib3(server.url),
                "httpx": _httpx(server.url),
            }
            results: dict[str, list[tuple[float, float]]] = {k: [] for k in clients}
            for _ in range(args.rounds):
                for name, make in clients.items():
                    if make is not None:
                        results[name].append(_round(make, bodies, args.threads))
        finally:
            server.stop()
    n = len(bodies)
    print(
        f"\nhttp clients: {n} creates, {args.threads} threads, serve latency {args.latency_ms:g} ms"
    )
    out: dict[str, Any] = {}
    for name, runs in results.items():
        if not runs:
            print(f"  {name:22s} not installed")
            continue
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(
            f"  {name:22s} wall {wall * 1e3:6.0f} ms   client CPU {cpu * 1e3:6.0f} ms"
            f"   {cpu / n * 1e6:5.0f} us a request"
        )
        out[name] = {"wall_s": wall, "cpu_s": cpu, "cpu_per_request_us": cpu / n * 1e6}
    print("RESULT " + json.dumps(out))


if __name__ == "__main__":
    main()
