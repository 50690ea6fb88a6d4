"""`chat`: a text conversation with a persona's custom LLM, sent as the platform sends it.

Every user line goes out with the whole conversation so far (system message first).
Replies are written as their deltas arrive; tool calls are printed, never run.  A
tool call is not kept in the history: no tool result will follow it, and an
OpenAI-compatible endpoint refuses an assistant tool_calls message left unanswered.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TextIO

from personactl.llm.check import parse_chunk
from personactl.llm.request import LlmError, LlmRequest, Message
from personactl.llm.wire import DONE, Endpoint, EndpointError
from personactl.sensitive import StreamScrubber


class ScrubbedWriter:
    """Writes streamed text with secret values masked, even one split across deltas
    (see `StreamScrubber`)."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._scrubber = StreamScrubber()

    def write(self, text: str) -> None:
        shown = self._scrubber.feed(text)
        if shown:
            self._out.write(shown)
            self._out.flush()

    def flush(self) -> None:
        self._out.write(self._scrubber.end())
        self._out.flush()


def chat(request: LlmRequest, lines: Iterable[str], out: TextIO, timeout: float) -> int:
    """Run the conversation until `lines` ends; returns the number of turns."""
    endpoint = Endpoint(request, timeout)
    history: list[Message] = []
    writer = ScrubbedWriter(out)
    turns = 0
    try:
        for line in lines:
            text = line.rstrip("\n")
            if not text.strip():
                continue
            history.append({"role": "user", "content": text})
            reply = _turn(endpoint, request.messages(*history), writer)
            if reply:
                history.append({"role": "assistant", "content": reply})
            turns += 1
    finally:
        endpoint.close()
    return turns


def _turn(endpoint: Endpoint, messages: list[Message], writer: ScrubbedWriter) -> str:
    url = endpoint.request.url
    try:
        response = endpoint.send(messages)
    except EndpointError as exc:
        raise LlmError(exc.problem.message) from None
    if not response.content_type.startswith("text/event-stream"):
        response.close()
        raise LlmError(f"{url} answered {response.content_type or 'no content type'}, not a stream")
    reply: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    try:
        for event in response.events():
            if event.data.strip() == DONE:
                break
            chunk = parse_chunk(event.data, "a chunk")
            if isinstance(chunk, str):
                raise LlmError(f"{url}: {chunk}")
            for choice in chunk.choices:
                if choice.delta.content:
                    reply.append(choice.delta.content)
                    writer.write(choice.delta.content)
                for delta in choice.delta.tool_calls or []:
                    call = calls.setdefault(delta.index, {"name": "", "arguments": ""})
                    if delta.function is not None:
                        call["name"] = call["name"] or delta.function.name or ""
                        call["arguments"] += delta.function.arguments or ""
    finally:
        response.close()
        if reply:
            writer.write("\n")
        writer.flush()
    for call in calls.values():
        writer.write(f"[tool call] {call['name']} {_compact(call['arguments'])}\n")
    writer.flush()
    return "".join(reply)


def _compact(arguments: str) -> str:
    try:
        return json.dumps(json.loads(arguments), ensure_ascii=False)
    except ValueError:
        return arguments
