"""What the deploy benchmarks share: `personactl serve` as a subprocess, its request
counters (/_stats), and timed runs of the CLI (not a test fixture)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

API_KEY = "bench-key-0123456789"
SECRETS = {"CUSTOM_LLM_API_KEY": "sk-bench-llm", "TTS_API_KEY": "sk-bench-tts"}
PAGE_SIZE = 100  # TavusBackend's list page size


def bench_env(environ: dict[str, str]) -> dict[str, str]:
    """The CLI's environment: the API key and secrets of the synthetic repository, no
    colour, and no compile cache (each command compiles, as in a fresh CI checkout)."""
    return {
        **environ,
        "BENCH_KEY": API_KEY,
        **SECRETS,
        "NO_COLOR": "1",
        "PERSONACTL_NO_CACHE": "1",
    }


def console_script() -> str:
    """The venv's `personactl` entry point, with personactl's bytecode written first: an
    installed personactl has it, and under PYTHONDONTWRITEBYTECODE (or right after an
    edit) every start would otherwise compile the changed modules again."""
    candidate = Path(sys.executable).parent / "personactl"
    if not candidate.exists():
        sys.exit("personactl is not installed in this environment (pip install -e .)")
    import compileall

    import personactl

    compileall.compile_dir(Path(personactl.__file__).parent, quiet=1)
    return str(candidate)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`personactl serve` on a fresh database; stopped by pid.  Started with
    `--no-access-log`: the benchmarks measure the client, and a log line per request
    would be a sixth of the server's CPU, taken from the cores the client shares."""

    def __init__(self, db: Path, port: int, latency_ms: float) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = open(db.with_suffix(".log"), "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "personactl",
                "serve",
                "--port",
                str(port),
                "--db",
                str(db),
                "--latency-ms",
                str(latency_ms),
                "--api-key",
                API_KEY,
                "--no-access-log",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                self.stats()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    sys.exit(f"server did not start; see {self.log.name}")
                time.sleep(0.05)

    def _call(self, method: str) -> dict[str, Any]:
        req = urllib.request.Request(self.url + "/_stats", method=method)
        with urllib.request.urlopen(req, timeout=10) as resp:
            return dict(json.load(resp))

    def stats(self) -> dict[str, Any]:
        return self._call("GET")

    def reset(self) -> None:
        self._call("DELETE")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def run(cmd: list[str], env: dict[str, str], ok: tuple[int, ...] = (0,)) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode not in ok:
        sys.exit(
            f"{' '.join(cmd)} exited {proc.returncode}:\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return wall, proc.stdout + proc.stderr


def breakdown(stats: dict[str, Any]) -> dict[str, int]:
    req = stats.get("requests", {})
    return {
        "total": int(stats.get("total", 0)),
        "list": int(req.get("GET /v2/personas", 0)),
        "create": int(req.get("POST /v2/personas", 0)),
        "get_one": int(req.get("GET /v2/personas/{persona_id}", 0)),
        "patch": int(req.get("PATCH /v2/personas/{persona_id}", 0)),
        "delete": int(req.get("DELETE /v2/personas/{persona_id}", 0)),
    }


def timed_rss(
    cmd: list[str], env: dict[str, str], ok: tuple[int, ...] = (0,)
) -> tuple[float, int | None, str]:
    """`run` under /usr/bin/time: (wall seconds, peak RSS in KiB or None, output).

    Not os.wait4/RUSAGE_CHILDREN: Linux carries the (v)forking parent's high-water
    mark into the child's ru_maxrss, so a child of a big process looks big."""
    gnu_time = Path("/usr/bin/time")
    if not gnu_time.exists():
        wall, out = run(cmd, env, ok)
        return wall, None, out
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as f:
        wall, out = run([str(gnu_time), "-f", "%M", "-o", f.name, *cmd], env, ok)
        text = f.read().strip().splitlines()
    return wall, int(text[-1]) if text and text[-1].isdigit() else None, out


def bare_creates(url: str, bodies: list[dict[str, Any]], parallelism: int) -> float:
    """Seconds for a bare HTTP client (the standard library's http.client, the cheapest
    there is: `parallelism` threads with a keep-alive connection each) to POST every body
    to /v2/personas: what the server itself allows, with none of personactl's work
    (compile, plan, journal, read-back) and little of an HTTP library's."""
    import http.client
    import threading
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    payloads = iter([json.dumps(body).encode() for body in bodies])
    lock = threading.Lock()
    headers = {"x-api-key": API_KEY, "content-type": "application/json"}

    def worker() -> None:
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port)
        try:
            while True:
                with lock:
                    payload = next(payloads, None)
                if payload is None:
                    return
                conn.request("POST", "/v2/personas", payload, headers)
                resp = conn.getresponse()
                text = resp.read()
                if resp.status >= 400:
                    sys.exit(f"bare create: HTTP {resp.status}: {text[:500]!r}")
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(parallelism)]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - t0


def sent_bodies(repo: Path, env_name: str = "bench") -> list[dict[str, Any]]:
    """The persona bodies an apply of `repo` sends: compiled, secrets resolved."""
    from personactl import sensitive
    from personactl.compile.compilation import compile_project

    comp = compile_project(root=repo, env_name=env_name)
    return [sensitive.resolve(r.payload, SECRETS) for r in comp.resources.values()]
