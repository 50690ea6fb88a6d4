"""The chat-completions request the platform sends to a persona's custom LLM, ready to send.

This is the one module of `personactl.llm` that imports the rest of personactl: the
messages, model and tools come from `preview`'s `chat_request` (so `llm check` sends
exactly what `preview` prints), and the api key, headers and extra_body get their real
secret values here, right before the wire.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from typing import Any

from personactl import sensitive
from personactl.compile.compilation import Compilation
from personactl.compile.preview import chat_request, conversational_context
from personactl.errors import UserError
from personactl.sensitive import scrub

# The reference says the conversation id arrives "as a request header" without naming
# it; an X- header with a hyphen survives proxies that drop underscores (nginx does).
CONVERSATION_HEADER = "X-Conversation-Id"

Message = dict[str, Any]
# the llm layer's fields that go on the wire as they are, secrets resolved
_WIRE_FIELDS = ("base_url", "api_key", "headers", "extra_body", "default_query")


class LlmError(UserError):
    """A persona without a custom LLM, or an endpoint that failed: one line, exit 1."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message, hint=hint)


@dataclass(frozen=True)
class LlmRequest:
    address: str
    base_url: str
    model: str
    system: Message  # the system message, as preview builds it
    utterance: str
    tools: list[dict[str, Any]]
    headers: dict[str, str]  # the persona's headers and the conversation id, real values
    extra_body: dict[str, Any]
    query: dict[str, Any]  # default_query: URL parameters on every request
    api_key: str = field(repr=False)

    @property
    def url(self) -> str:
        """The endpoint as shown to users (a secret base_url stays masked)."""
        return scrub(self.base_url.rstrip("/") + "/chat/completions")

    @property
    def conversation_id(self) -> str:
        return self.headers[CONVERSATION_HEADER]

    def messages(self, *turns: Message) -> list[Message]:
        return [self.system, *turns]

    def tool_parameters(self) -> dict[str, dict[str, Any]]:
        """Each tool's name -> its JSON Schema of arguments."""
        out: dict[str, dict[str, Any]] = {}
        for tool in self.tools:
            function = tool.get("function") or {}
            out[str(function.get("name"))] = dict(function.get("parameters") or {})
        return out


def build_request(
    result: Compilation,
    address: str,
    conversation: str | None,
    raw_vars: dict[str, str],
    utterance: str = "Hello!",
) -> LlmRequest:
    """`result` is compiled with `raw_vars` as extra variables, as for `preview`."""
    persona = result.persona(address)
    llm = dict((persona.payload.get("layers") or {}).get("llm") or {})
    if not llm.get("base_url"):
        raise LlmError(
            f"persona '{address}' has no custom LLM (layers.llm.base_url is not set)",
            hint="llm check and chat talk to a persona's own OpenAI-compatible endpoint",
        )
    body = chat_request(persona, conversational_context(result, conversation, raw_vars), utterance)
    wire = {k: llm.get(k) for k in _WIRE_FIELDS}
    missing = sorted(n for n in sensitive.names(wire) if n not in os.environ)
    if missing:
        raise LlmError(
            f"secret {', '.join(missing)} is not set in the environment",
            hint=f"export it: the request to the custom LLM of '{address}' sends it",
        )
    real = sensitive.resolve(wire)
    headers = {str(k): str(v) for k, v in (real["headers"] or {}).items()}
    headers[CONVERSATION_HEADER] = "c" + uuid.uuid4().hex[:12]
    api_key = str(real["api_key"] or "")
    return LlmRequest(
        address=address,
        base_url=str(real["base_url"]),
        model=str(body["model"]),
        system=body["messages"][0],
        utterance=utterance,
        tools=list(body.get("tools") or []),
        headers=headers,
        extra_body=dict(real["extra_body"] or {}),
        query=dict(real["default_query"] or {}),
        api_key=api_key,
    )
