"""`llm check`: send the platform's request to a custom LLM and judge the stream.

Each check is one named verdict.  A stream is read once into an `Observed` (events
with their arrival times); `judge` turns that into checks without touching the
network, so every rule below is a plain function of what arrived.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import jsonschema
import pydantic
from openai.types.chat import ChatCompletionChunk

from personactl.llm.request import LlmError, LlmRequest
from personactl.llm.wire import DONE, Endpoint, EndpointError, Event, Response, snippet
from personactl.sensitive import scrub

Verdict = Literal["pass", "warn", "fail"]

# Buffering: a proxy that buffers holds every chunk until the answer is complete, so
# they arrive at once after a long wait.  An endpoint answering instantly also sends
# everything at once, hence the wait condition.
BUFFER_MIN_CHUNKS = 4
BUFFER_MAX_SPREAD = 0.010
BUFFER_MIN_WAIT = 0.250
SPEECH_WORDS_PER_SECOND = 2.5  # the pace of progressive transcripts (~150 words a minute)
SPECULATIVE_UTTERANCE = "Can you tell me a story about a brave little fox who lives in the woods?"


@dataclass(frozen=True)
class Check:
    name: str
    verdict: Verdict
    detail: str


@dataclass
class Observed:
    """What one request got back, as it arrived."""

    response: Response | None = None
    error: str = ""  # how the request or the stream failed
    events: list[Event] = field(default_factory=list)
    chunks: list[ChatCompletionChunk] = field(default_factory=list)
    bad_chunk: str = ""  # the first event that is not a chat.completion.chunk
    done: bool = False
    ttft: float | None = None  # first content or tool-call delta
    total: float | None = None
    cancelled: bool = False


def observe(endpoint: Endpoint, messages: list[dict[str, Any]], stop_at: float | None) -> Observed:
    """Send and read the stream; with `stop_at` (a perf_counter time), cancel it once the
    first token has come and that time has passed, as the platform drops a superseded
    transcript's stream."""
    seen = Observed()
    try:
        seen.response = endpoint.send(messages)
    except EndpointError as exc:
        seen.error = exc.problem.message
        return seen
    response = seen.response
    try:
        for event in response.events():
            seen.events.append(event)
            if event.data.strip() == DONE:
                seen.done = True
                break
            chunk = parse_chunk(event.data, f"chunk {len(seen.events)}")
            if isinstance(chunk, str):
                seen.bad_chunk = seen.bad_chunk or chunk
                continue
            seen.chunks.append(chunk)
            if seen.ttft is None and _has_token(chunk):
                seen.ttft = event.at
            if stop_at is not None and seen.ttft is not None and time.perf_counter() >= stop_at:
                seen.cancelled = True
                break
    except LlmError as exc:
        seen.error = exc.problem.message
    finally:
        response.close()
    seen.total = time.perf_counter() - response.started
    return seen


def parse_chunk(data: str, label: str) -> ChatCompletionChunk | str:
    """The chunk, or what is wrong with it (starting with `label`)."""
    try:
        obj = json.loads(data)
    except ValueError:
        return f"{label} is not JSON: {snippet(data, 60)}"
    if isinstance(obj, dict) and isinstance(obj.get("error"), dict):
        return f"{label} is an error: {snippet(str(obj['error'].get('message')), 120)}"
    try:
        return ChatCompletionChunk.model_validate(obj)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "chunk"
        return f"{label} is not a chat.completion.chunk: {where}: {first['msg']}"


def _has_token(chunk: ChatCompletionChunk) -> bool:
    return any(c.delta.content or c.delta.tool_calls for c in chunk.choices)


def judge(seen: Observed, tools: dict[str, dict[str, Any]]) -> list[Check]:
    if seen.response is None:
        return [Check("http_status", "fail", seen.error)]
    response = seen.response
    checks = [Check("http_status", "pass", str(response.status))]
    mime = response.content_type.split(";")[0].strip()
    checks.append(
        Check("content_type", "pass", mime)
        if mime == "text/event-stream"
        else Check("content_type", "fail", f"{mime or '(none)'}, not text/event-stream")
    )
    checks.append(_chunks_check(seen))
    if not seen.chunks:
        return checks
    checks += [
        _role_check(seen.chunks),
        _content_check(seen.chunks),
        _tool_calls_check(seen.chunks, tools),
        _finish_check(seen.chunks),
        Check("done", "pass", "data: [DONE]")
        if seen.done
        else Check("done", "warn", "the stream ended without data: [DONE]"),
        _buffering_check(seen),
    ]
    return checks


def _chunks_check(seen: Observed) -> Check:
    count = len(seen.chunks)
    if seen.bad_chunk:
        return Check("chunks", "fail", seen.bad_chunk)
    if seen.error:
        return Check("chunks", "fail", f"after {count} chunks: {seen.error}")
    if not count:
        head = seen.response.head.decode("utf-8", "replace") if seen.response else ""
        what = "a JSON body (stream: true ignored?)" if head.lstrip().startswith("{") else ""
        return Check("chunks", "fail", f"no data: events; got {what or repr(snippet(head, 80))}")
    return Check("chunks", "pass", f"{count} valid chat.completion.chunk")


def _role_check(chunks: list[ChatCompletionChunk]) -> Check:
    roles = [c.delta.role for chunk in chunks for c in chunk.choices if c.delta.role]
    if not roles:
        return Check("role", "warn", "no delta carries role 'assistant'")
    if any(r != "assistant" for r in roles):
        return Check("role", "fail", f"role {next(r for r in roles if r != 'assistant')!r}")
    return Check("role", "pass", "assistant")


def _content_check(chunks: list[ChatCompletionChunk]) -> Check:
    parts = [c.delta.content for chunk in chunks for c in chunk.choices if c.delta.content]
    if parts:
        return Check("content", "pass", f"{len(parts)} deltas, {sum(map(len, parts))} chars")
    if any(c.delta.tool_calls for chunk in chunks for c in chunk.choices):
        return Check("content", "pass", "none (the answer is a tool call)")
    return Check("content", "fail", "no content delta and no tool call")


def _finish_check(chunks: list[ChatCompletionChunk]) -> Check:
    reasons = [c.finish_reason for chunk in chunks for c in chunk.choices if c.finish_reason]
    if not reasons:
        return Check("finish_reason", "fail", "no chunk sets finish_reason")
    return Check("finish_reason", "pass", reasons[-1])


@dataclass
class _Call:
    id: str | None = None
    name: str | None = None
    arguments: str = ""


def _tool_calls_check(chunks: list[ChatCompletionChunk], tools: dict[str, dict[str, Any]]) -> Check:
    calls: dict[int, _Call] = {}
    for chunk in chunks:
        for choice in chunk.choices:
            for delta in choice.delta.tool_calls or []:
                call = calls.setdefault(delta.index, _Call())
                call.id = call.id or delta.id
                if delta.function is not None:
                    call.name = call.name or delta.function.name
                    call.arguments += delta.function.arguments or ""
    if not calls:
        return Check("tool_calls", "pass", "none")
    shown: list[str] = []
    for index, call in sorted(calls.items()):
        problem = _call_problem(call, tools)
        if problem:
            return Check("tool_calls", "fail", f"tool call {index}: {problem}")
        shown.append(f"{call.name}({call.arguments})")
    return Check("tool_calls", "pass", scrub(", ".join(shown)))


def _call_problem(call: _Call, tools: dict[str, dict[str, Any]]) -> str:
    if not call.id:
        return "no id"
    if not call.name:
        return "no function name"
    if call.name not in tools:
        return f"'{call.name}' is not a tool of this persona ({', '.join(sorted(tools)) or 'none'})"
    try:
        arguments = json.loads(call.arguments)
    except ValueError:
        return f"{call.name}: the arguments do not join into JSON: {snippet(call.arguments, 80)}"
    schema = tools[call.name] or {"type": "object"}
    error = jsonschema.exceptions.best_match(
        jsonschema.validators.validator_for(schema)(schema).iter_errors(arguments)
    )
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path)
        return f"{call.name}: arguments{' at ' + where if where else ''}: {error.message}"
    return ""


def _buffering_check(seen: Observed) -> Check:
    times = [e.at for e in seen.events]
    if len(times) < BUFFER_MIN_CHUNKS:
        return Check("buffering", "pass", f"{len(times)} events, too few to tell")
    spread = times[-1] - times[0]
    if spread < BUFFER_MAX_SPREAD and times[0] >= BUFFER_MIN_WAIT:
        return Check(
            "buffering",
            "warn",
            f"all {len(times)} events arrived within {_ms(spread)} after {_ms(times[0])}: "
            "something on the way buffers the stream (nginx: X-Accel-Buffering: no)",
        )
    return Check("buffering", "pass", f"{len(times)} events over {_ms(spread)}")


@dataclass(frozen=True)
class Speculative:
    transcripts: tuple[str, ...]
    ttft: tuple[float | None, ...]  # per transcript, seconds
    cancelled: int

    def percentiles(self) -> dict[str, float | None]:
        known = sorted(t for t in self.ttft if t is not None)
        if not known:
            return {"p50": None, "p95": None, "max": None}
        return {"p50": _rank(known, 0.50), "p95": _rank(known, 0.95), "max": known[-1]}


def _rank(values: list[float], q: float) -> float:
    """Nearest-rank percentile: a value that was measured."""
    return values[max(0, math.ceil(q * len(values)) - 1)]


@dataclass(frozen=True)
class Report:
    address: str
    url: str
    model: str
    conversation_id: str
    checks: tuple[Check, ...]
    ttft: float | None
    total: float | None
    speculative: Speculative | None = None

    @property
    def ok(self) -> bool:
        return all(c.verdict != "fail" for c in self.checks)

    def text(self) -> str:
        lines = [
            f"{self.address} -> {self.url} (model {self.model}, "
            f"conversation {self.conversation_id})"
        ]
        width = max(len(c.name) for c in self.checks)
        lines += [f"  {c.verdict}  {c.name:<{width}}  {c.detail}" for c in self.checks]
        lines.append(f"time to first token {_ms(self.ttft)}, total {_ms(self.total)}")
        if self.speculative:
            spec = self.speculative
            p = spec.percentiles()
            lines.append(
                f"speculative: {len(spec.transcripts)} transcripts, {spec.cancelled} cancelled; "
                f"TTFT p50 {_ms(p['p50'])}, p95 {_ms(p['p95'])}, max {_ms(p['max'])}"
            )
        fails = sum(c.verdict == "fail" for c in self.checks)
        warns = sum(c.verdict == "warn" for c in self.checks)
        lines.append(f"{fails} failed, {warns} warnings, {len(self.checks) - fails - warns} passed")
        return scrub("\n".join(lines) + "\n")

    def json(self) -> str:
        data: dict[str, Any] = {
            "address": self.address,
            "url": self.url,
            "model": self.model,
            "conversation_id": self.conversation_id,
            "ok": self.ok,
            "checks": [asdict(c) for c in self.checks],
            "ttft_ms": _msf(self.ttft),
            "total_ms": _msf(self.total),
        }
        if self.speculative:
            spec = self.speculative
            data["speculative"] = {
                "transcripts": list(spec.transcripts),
                "cancelled": spec.cancelled,
                "ttft_ms": [_msf(t) for t in spec.ttft],
                **{f"ttft_{k}_ms": _msf(v) for k, v in spec.percentiles().items()},
            }
        return scrub(json.dumps(data, indent=2) + "\n")


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"


def _msf(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def check(request: LlmRequest, timeout: float, speculative: int = 0) -> Report:
    """The checks of one user turn (or, with `speculative`, of its last transcript, plus
    whether every transcript was answered and the endpoint survived the cancellations)."""
    endpoint = Endpoint(request, timeout)
    try:
        if speculative:
            return _speculative(request, endpoint, speculative)
        seen = observe(endpoint, request.messages(_user(request.utterance)), None)
        return _report(request, judge(seen, request.tool_parameters()), seen)
    finally:
        endpoint.close()


def _user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def _report(
    request: LlmRequest, checks: list[Check], seen: Observed, spec: Speculative | None = None
) -> Report:
    return Report(
        request.address,
        request.url,
        request.model,
        request.conversation_id,
        tuple(checks),
        seen.ttft,
        seen.total,
        spec,
    )


def transcripts(utterance: str, n: int) -> list[str]:
    """n progressive transcripts of one utterance, each containing the one before."""
    words = utterance.split()
    if n > len(words):
        raise LlmError(
            f"--speculative {n} needs an utterance of at least {n} words (got {len(words)})"
        )
    return [" ".join(words[: round((i + 1) * len(words) / n)]) for i in range(n)]


def _speculative(request: LlmRequest, endpoint: Endpoint, n: int) -> Report:
    texts = transcripts(request.utterance, n)
    seen_all: list[Observed] = []
    due = time.perf_counter()
    for i, text in enumerate(texts):
        last = i == n - 1
        if not last:
            added = len(texts[i + 1].split()) - len(text.split())
            due += added / SPEECH_WORDS_PER_SECOND
        seen = observe(endpoint, request.messages(_user(text)), None if last else due)
        seen_all.append(seen)
        # the next transcript goes out when the speaker has said it, not before
        time.sleep(max(0.0, due - time.perf_counter()) if not last else 0)
    final = seen_all[-1]
    checks = judge(final, request.tool_parameters())
    unanswered = [
        (i + 1, s) for i, s in enumerate(seen_all[:-1]) if s.response is None or s.ttft is None
    ]
    checks.append(
        Check(
            "speculative_answers",
            "fail",
            f"transcript {unanswered[0][0]} of {n}: "
            f"{unanswered[0][1].error or unanswered[0][1].bad_chunk or 'no token'}",
        )
        if unanswered
        else Check("speculative_answers", "pass", f"all {n} transcripts answered")
    )
    cancelled = sum(s.cancelled for s in seen_all)
    alive = final.response is not None and final.ttft is not None
    checks.append(
        Check("after_cancels", "pass", f"answered after {cancelled} cancelled streams")
        if alive
        else Check(
            "after_cancels",
            "fail",
            f"no answer after {cancelled} cancelled streams: {final.error or 'no token'}",
        )
    )
    spec = Speculative(tuple(texts), tuple(s.ttft for s in seen_all), cancelled)
    return _report(request, checks, final, spec)
