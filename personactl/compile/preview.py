"""The first-turn chat-completions request Tavus sends to a persona's custom LLM.

Tavus concatenates the three prompt parts into one system message, in this
order and skipping empty parts, separated by a blank line:

    system_prompt  (the persona: what it is)
    context        (the persona: what it has)
    conversational_context  (the conversation: who it is talking to)

then sends `model`, `stream: true`, the llm layer's `tools` and the messages.
"""

from __future__ import annotations

from typing import Any

from personactl import sensitive
from personactl.compile.compilation import Compilation
from personactl.compile.personas import CompiledPersona
from personactl.output import PreviewFormat, to_json

SEPARATOR = "\n\n"
DEFAULT_MODEL = "tavus-gpt-4o"  # Tavus' default LLM when a persona names none


def system_message(persona: dict[str, Any], conversational_context: str | None) -> str:
    parts = (persona.get("system_prompt"), persona.get("context"), conversational_context)
    return SEPARATOR.join(p.strip() for p in parts if isinstance(p, str) and p.strip())


def chat_request(
    persona: CompiledPersona, conversational_context: str | None = None, utterance: str = "Hello!"
) -> dict[str, Any]:
    body = sensitive.mask(persona.payload)
    llm = (body.get("layers") or {}).get("llm") or {}
    request: dict[str, Any] = {
        "model": llm.get("model", DEFAULT_MODEL),
        "stream": True,
        "messages": [
            {"role": "system", "content": system_message(body, conversational_context)},
            {"role": "user", "content": utterance},
        ],
    }
    if llm.get("tools"):
        request["tools"] = llm["tools"]
    return request


def preview_request(
    result: Compilation,
    address: str,
    conversation: str | None,
    raw_vars: dict[str, str],
    utterance: str,
    fmt: PreviewFormat = "json",
) -> str:
    """`result` is compiled with `raw_vars` as extra variables (see compile_project); those
    that are the conversation's declared inputs also fill the conversation."""
    persona = result.persona(address)
    context = conversational_context(result, conversation, raw_vars)
    request = chat_request(persona, context, utterance)
    return as_text(request) if fmt == "text" else to_json(request)


def _signature(tool: Any) -> str:
    """A tool as `name(param, optional?)`: what the model is offered, on one line."""
    function = tool.get("function", {}) if isinstance(tool, dict) else {}
    parameters = function.get("parameters") or {}
    required = set(parameters.get("required") or [])
    names = [p if p in required else f"{p}?" for p in parameters.get("properties") or {}]
    return f"{function.get('name', '?')}({', '.join(names)})"


def as_text(request: dict[str, Any]) -> str:
    """The request for reading: model and tools on a line each, then every message's
    text as it is (the system message's sections, blank lines included)."""
    lines = [f"model: {request['model']}" + ("  (streamed)" if request.get("stream") else "")]
    if request.get("tools"):
        lines.append("tools: " + ", ".join(_signature(t) for t in request["tools"]))
    for message in request["messages"]:
        lines += ["", f"--- {message['role']} ---", message["content"]]
    return "\n".join(lines) + "\n"


def conversational_context(
    result: Compilation, conversation: str | None, raw_vars: dict[str, str]
) -> str | None:
    """The conversation's conversational_context (masked), filled from the `raw_vars` that
    are its declared inputs; None without a conversation."""
    if not conversation:
        return None
    inputs = result.conversation(conversation).inputs
    body = result.conversation_body(
        conversation, {k: v for k, v in raw_vars.items() if k in inputs}
    )
    context = sensitive.mask(body).get("conversational_context")
    return context if isinstance(context, str) else None
