"""A real OpenAI-compatible streaming chat-completions server for the custom-LLM tests.

Starlette + SSE, run by uvicorn on 127.0.0.1 (a free port) in a background thread.
The first path segment picks a scripted behaviour, so one server serves them all:
a persona with `base_url: {url}/good/v1` is answered at `/good/v1/chat/completions`.
Tests get it as the `llm` fixture (`from tests.llmserver import llm_fixture`).
Every request is recorded (path, headers, JSON body); streams that the client closed
before their end are counted as cancelled.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

SSE = "text/event-stream"


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # lower-case names
    body: dict[str, Any]


@dataclass
class LlmServer:
    url: str
    received: list[Received] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)  # last user message of each
    completed: list[str] = field(default_factory=list)

    def base_url(self, behaviour: str) -> str:
        return f"{self.url}/{behaviour}/v1"

    def wait_for_cancels(self, count: int, within: float = 5.0) -> list[str]:
        deadline = time.monotonic() + within
        while len(self.cancelled) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return list(self.cancelled)


def chunk(delta: dict[str, Any], finish: str | None = None, model: str = "m") -> str:
    body = {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body)}\n\n"


DONE = "data: [DONE]\n\n"
WORDS = ["Once", " upon", " a", " time."]


def _text(words: list[str], finish: str | None = "stop") -> list[str]:
    return [
        chunk({"role": "assistant", "content": ""}),
        *[chunk({"content": w}) for w in words],
        chunk({}, finish),
    ]


def _tool(pieces: list[str], call_id: str | None = "call_1", name: str = "get_current_weather"):
    first: dict[str, Any] = {
        "index": 0,
        "type": "function",
        "function": {"name": name, "arguments": ""},
    }
    if call_id:
        first["id"] = call_id
    return [
        chunk({"role": "assistant", "tool_calls": [first]}),
        *[chunk({"tool_calls": [{"index": 0, "function": {"arguments": p}}]}) for p in pieces],
        chunk({}, "tool_calls"),
        DONE,
    ]


SCRIPTS: dict[str, list[str]] = {
    "good": [*_text(WORDS), DONE],
    "no-done": _text(WORDS),
    "no-finish": [*_text(WORDS, None), DONE],
    "not-json": [chunk({"role": "assistant"}), "data: this is not json\n\n", DONE],
    "not-a-chunk": [chunk({"role": "assistant"}), 'data: {"choices": []}\n\n', DONE],
    "no-role": [chunk({"content": "Hi"}), chunk({}, "stop"), DONE],
    "tool": _tool(['{"loca', 'tion": "Paris, ', 'FR", "unit": "celsius"}']),
    "tool-bad-json": _tool(['{"location": "Par']),
    "tool-bad-schema": _tool(['{"unit": "kelvin"}']),
    "tool-no-id": _tool(['{"location": "Paris"}'], call_id=None),
    "tool-unknown": _tool(["{}"], name="launch_rockets"),
}


class _Behaviours:
    def __init__(self, live: LlmServer) -> None:
        self.live = live

    async def handle(self, request: Request) -> Response:
        body = json.loads(await request.body())
        behaviour = request.path_params["behaviour"]
        self.live.received.append(
            Received(request.url.path, {k.lower(): v for k, v in request.headers.items()}, body)
        )
        last = str(body["messages"][-1]["content"])
        if behaviour == "500":
            return JSONResponse({"error": {"message": "the model is down"}}, status_code=500)
        if behaviour == "401-echo":  # echoes the credentials, as careless servers do
            return JSONResponse(
                {"error": f"bad key: {request.headers.get('authorization')}"}, status_code=401
            )
        if behaviour == "json":
            return JSONResponse(
                {
                    "id": "chatcmpl-test",
                    "object": "chat.completion",
                    "created": 1700000000,
                    "model": "m",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "Hi"},
                            "finish_reason": "stop",
                        }
                    ],
                }
            )
        if behaviour == "buffered":  # a proxy that holds the answer until it is complete
            await asyncio.sleep(0.4)
            return Response("".join(SCRIPTS["good"]), media_type=SSE)
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        return StreamingResponse(self._stream(behaviour, body, last, key), media_type=SSE)

    async def _stream(
        self, behaviour: str, body: dict[str, Any], last: str, key: str
    ) -> AsyncIterator[str]:
        finished = False
        try:
            async for part in self._parts(behaviour, body, last, key):
                yield part
            finished = True
        finally:
            (self.live.completed if finished else self.live.cancelled).append(last)

    async def _parts(
        self, behaviour: str, body: dict[str, Any], last: str, key: str
    ) -> AsyncIterator[str]:
        if behaviour == "echo":  # the reply names the turn and how many messages came
            words = [f"({len(body['messages'])} messages)", f" you said: {last}"]
            for part in [*_text(words), DONE]:
                yield part
            return
        if behaviour == "leak":  # a reply carrying the api key, split across two deltas
            half = len(key) // 2
            for part in [*_text(["key is ", key[:half], key[half:], "!"]), DONE]:
                yield part
            return
        if behaviour == "slow-first":
            await asyncio.sleep(0.6)
        if behaviour == "stall":
            yield chunk({"role": "assistant", "content": "Hm"})
            await asyncio.sleep(30)
        if behaviour == "slow-stream":  # long answers, to be cancelled by the next transcript
            yield chunk({"role": "assistant", "content": ""})
            for i in range(60):
                await asyncio.sleep(0.05)
                yield chunk({"content": f" w{i}"})
            yield chunk({}, "stop")
            yield DONE
            return
        parts = SCRIPTS.get(behaviour, SCRIPTS["good"])
        for i, part in enumerate(parts):
            if i:  # spread over time, as a model streams; nothing after the last part
                await asyncio.sleep(0.005)
            yield part


@contextmanager
def llm_server() -> Iterator[LlmServer]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    live = LlmServer(f"http://127.0.0.1:{sock.getsockname()[1]}")
    app = Starlette(
        routes=[
            Route("/{behaviour}/v1/chat/completions", _Behaviours(live).handle, methods=["POST"])
        ]
    )
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="critical", lifespan="off", timeout_graceful_shutdown=2)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the LLM test server did not start")
        time.sleep(0.01)
    try:
        yield live
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(name="llm")
def llm_fixture() -> Iterator[LlmServer]:
    """Import `llm_fixture` into a test module to get the `llm` fixture."""
    with llm_server() as live:
        yield live
