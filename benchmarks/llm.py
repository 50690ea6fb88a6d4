"""personactl's own overhead in `llm check`, so the TTFT it reports is the endpoint's.

    python benchmarks/llm.py                 # 9 runs, 5000-chunk stream
    python benchmarks/llm.py --runs 3 --chunks 500

Against a local OpenAI-compatible server (Starlette + uvicorn in a thread, on
127.0.0.1) that answers instantly with a whole stream in one body:

- start-up: wall time from spawning `personactl llm check` to the server receiving
  the request (import, compile of the example repository, request build, openai
  client), next to `python -c pass`, `personactl --version`, `personactl preview`
  (the same compile, no openai) and `python -c "import openai"` for what it is made of;
- TTFT floor: the time to first token `llm check` reports against this instant
  server, in-process: what personactl and the openai client add to the endpoint's;
- per chunk: `llm.check` in-process on an N-chunk stream, minus reading the same
  response's bytes with no parsing (the floor), divided by N: what personactl adds
  to each chunk (SSE split, JSON, chunk model validation, the checks).

Prints a table, then one JSON line (`RESULT ...`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

REPO = Path(__file__).resolve().parent.parent
SECRETS = {"CUSTOM_LLM_API_KEY": "sk-bench-llm", "TTS_API_KEY": "sk-bench-tts"}


def sse(chunks: int) -> str:
    def one(delta: dict[str, object], finish: str | None = None) -> str:
        body = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(body)}\n\n"

    words = [one({"content": f" w{i}"}) for i in range(chunks - 2)]
    return (
        one({"role": "assistant", "content": ""})
        + "".join(words)
        + one({}, "stop")
        + ("data: [DONE]\n\n")
    )


@contextmanager
def instant_server(chunks: int) -> Iterator[tuple[str, list[float]]]:
    body = sse(chunks)
    arrivals: list[float] = []

    async def completions(request: Request) -> Response:
        arrivals.append(time.time())
        await request.body()
        return Response(body, media_type="text/event-stream")

    app = Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1", arrivals
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def example_repo(tmp: Path) -> Path:
    dest = tmp / "repo"
    dest.mkdir()
    for name in (
        "personactl.yaml",
        "personas",
        "objectives",
        "guardrails",
        "tools",
        "templates",
        "conversations",
    ):
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dest / name)
    return dest


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def startup(repo: Path, url: str, arrivals: list[float], runs: int) -> list[float]:
    env = {**os.environ, **SECRETS, "PERSONACTL_NO_CACHE": "1"}
    cmd = [sys.executable, "-m", "personactl", "llm", "check", "weather-assistant"]
    out: list[float] = []
    for _ in range(runs):
        start = time.time()
        subprocess.run(
            [*cmd, "--var", f"llm_base_url={url}"], env=env, cwd=repo, capture_output=True
        )
        out.append(arrivals[-1] - start)
    return out


def per_chunk(repo: Path, url: str, chunks: int, runs: int) -> tuple[float, float, float]:
    """Seconds per chunk: llm.check on the stream, and the bare read of its bytes; and
    the median TTFT check reported."""
    os.environ.update(SECRETS)
    from personactl.compile.compilation import compile_project
    from personactl.llm import build_request, check
    from personactl.llm.wire import Endpoint

    extra = {"llm_base_url": url}
    request = build_request(compile_project(root=repo, extra_vars=extra), "weather-assistant",
                            None, extra)  # fmt: skip
    checked: list[float] = []
    floor: list[float] = []
    ttft: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        report = check(request, 30)
        checked.append(time.perf_counter() - start)
        assert report.ok and report.ttft is not None, report.text()
        ttft.append(report.ttft)
        endpoint = Endpoint(request, 30)
        start = time.perf_counter()
        response = endpoint.send(request.messages({"role": "user", "content": "Hello!"}))
        for _chunk in response._stream.response.iter_bytes():
            pass
        response.close()
        floor.append(time.perf_counter() - start)
        endpoint.close()
    per = statistics.median(checked) / chunks, statistics.median(floor) / chunks
    return *per, statistics.median(ttft)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--chunks", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo = example_repo(Path(tmp))
        env = {**os.environ, **SECRETS}
        with instant_server(args.chunks) as (url, arrivals):
            first = startup(repo, url, arrivals, args.runs)
            checked, floor, ttft = per_chunk(repo, url, args.chunks, args.runs)
        bare = [timed([sys.executable, "-c", "pass"], env, repo) for _ in range(args.runs)]
        version = [
            timed([sys.executable, "-m", "personactl", "--version"], env, repo)
            for _ in range(args.runs)
        ]
        preview = [
            timed([sys.executable, "-m", "personactl", "preview", "weather-assistant"], env, repo)
            for _ in range(args.runs)
        ]
        openai = [
            timed([sys.executable, "-c", "import openai"], env, repo) for _ in range(args.runs)
        ]
    result = {
        "runs": args.runs,
        "chunks": args.chunks,
        "start_to_request_ms": round(statistics.median(first) * 1000, 1),
        "python_pass_ms": round(statistics.median(bare) * 1000, 1),
        "version_ms": round(statistics.median(version) * 1000, 1),
        "preview_ms": round(statistics.median(preview) * 1000, 1),
        "import_openai_ms": round(statistics.median(openai) * 1000, 1),
        "ttft_instant_ms": round(ttft * 1000, 2),
        "per_chunk_us": round(checked * 1e6, 1),
        "per_chunk_floor_us": round(floor * 1e6, 1),
        "per_chunk_overhead_us": round((checked - floor) * 1e6, 1),
    }
    print(f"{'command start -> request received':40} {result['start_to_request_ms']:>8} ms")
    print(f"{'  python -c pass':40} {result['python_pass_ms']:>8} ms")
    print(f"{'  personactl --version':40} {result['version_ms']:>8} ms")
    print(f"{'  personactl preview (same compile)':40} {result['preview_ms']:>8} ms")
    print(f"{'  import openai':40} {result['import_openai_ms']:>8} ms")
    print(f"{'TTFT reported, instant server':40} {result['ttft_instant_ms']:>8} ms")
    print(f"{'per chunk, llm check':40} {result['per_chunk_us']:>8} us")
    print(f"{'per chunk, bare read (floor)':40} {result['per_chunk_floor_us']:>8} us")
    print(f"{'per chunk, personactl overhead':40} {result['per_chunk_overhead_us']:>8} us")
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
