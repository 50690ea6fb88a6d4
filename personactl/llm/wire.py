"""One streamed chat-completions request, sent with the official `openai` client.

The call is the platform's own (`client.chat.completions.create(model, messages,
extra_headers, stream=True, tools)`); the stream is then read as raw server-sent
events from `Stream.response`, not through the client's iterator, because the checks
need what the iterator hides: each chunk's arrival time, non-JSON data, `[DONE]`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import httpx2  # the transport of openai 3: its errors are what a broken stream raises
import openai

from personactl.llm.request import LlmError, LlmRequest, Message
from personactl.sensitive import scrub

DONE = "[DONE]"


@dataclass(frozen=True)
class Event:
    at: float  # seconds since the request was sent
    data: str


class EndpointError(LlmError):
    """The endpoint gave no stream: refused, timed out, or answered 4xx/5xx."""

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class Endpoint:
    """A persona's custom LLM behind one openai client (connections are reused)."""

    def __init__(self, request: LlmRequest, timeout: float) -> None:
        self.request = request
        self.timeout = timeout
        self._client = openai.OpenAI(
            api_key=request.api_key,
            base_url=request.base_url,
            default_query=request.query or None,
            timeout=timeout,
            max_retries=0,  # a check reports what the endpoint does, not what a retry hides
        )

    def send(self, messages: list[Message]) -> Response:
        req = self.request
        started = time.perf_counter()
        try:
            stream = self._client.chat.completions.create(
                model=req.model,
                messages=cast(Any, messages),
                extra_headers=req.headers,
                stream=True,
                tools=cast(Any, req.tools) if req.tools else openai.omit,
                extra_body=req.extra_body or None,
            )
        except openai.APIStatusError as exc:
            raise EndpointError(
                f"HTTP {exc.status_code} from {req.url}: {snippet(exc.response.text)}",
                exc.status_code,
            ) from None
        except openai.APITimeoutError:
            raise EndpointError(f"no answer from {req.url} within {self.timeout:g} s") from None
        except openai.APIConnectionError as exc:
            raise EndpointError(f"cannot connect to {req.url}: {_cause(exc)}") from None
        return Response(stream, started, self.timeout, req.url)

    def close(self) -> None:
        self._client.close()


class Response:
    """An answered request: status and content type known, the body not read yet."""

    def __init__(self, stream: Any, started: float, timeout: float, url: str) -> None:
        self._stream = stream
        self.started = started
        self.timeout = timeout
        self.url = url
        self.status: int = stream.response.status_code
        self.content_type: str = stream.response.headers.get("content-type", "")
        self.head = b""  # the body's first bytes, to name what came instead of events

    def events(self) -> Iterator[Event]:
        """The data of each server-sent event as it arrives; a broken stream is an
        LlmError naming how it broke."""
        data: list[str] = []
        pending = b""
        try:
            for chunk in self._stream.response.iter_bytes():
                now = time.perf_counter() - self.started
                if len(self.head) < 200:
                    self.head += chunk[:200]
                lines = (pending + chunk).split(b"\n")
                pending = lines.pop()
                for raw in lines:
                    line = raw.rstrip(b"\r").decode("utf-8", "replace")
                    if not line:
                        if data:
                            yield Event(now, "\n".join(data))
                            data = []
                    elif line.startswith("data:"):
                        value = line[5:]
                        data.append(value[1:] if value.startswith(" ") else value)
                    # other fields (event:, id:, retry:) and comments carry no chunk
        except httpx2.TimeoutException:
            raise LlmError(f"the stream from {self.url} stalled for {self.timeout:g} s") from None
        except (httpx2.HTTPError, OSError) as exc:
            raise LlmError(f"the stream from {self.url} broke: {_describe(exc)}") from None
        tail = pending.decode("utf-8", "replace").rstrip("\r")
        if tail.startswith("data:"):
            data.append(tail[5:].lstrip(" "))
        if data:  # a last event without its blank line
            yield Event(time.perf_counter() - self.started, "\n".join(data))

    def close(self) -> None:
        """Closing an unfinished stream drops its connection: the endpoint sees a cancel."""
        self._stream.close()


def snippet(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return scrub(flat if len(flat) <= limit else flat[:limit] + "...") or "(empty body)"


def _cause(exc: BaseException) -> str:
    """The transport error under an openai error: 'connection refused', not a repr chain."""
    inner: BaseException = exc
    while inner.__cause__ is not None:
        inner = inner.__cause__
    return _describe(inner)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError) or "refused" in str(exc).lower():
        return "connection refused"
    return scrub(str(exc) or type(exc).__name__)
