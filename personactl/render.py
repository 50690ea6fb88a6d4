"""`render` and `preview`: compiled data to stdout or files, always masked."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from personactl import secrets
from personactl.compilation import Compilation
from personactl.conversations import bind_inputs, render_body
from personactl.errors import ConfigErrors, Problem, UserError
from personactl.output import to_json, to_yaml, write_atomic
from personactl.preview import chat_request


def select(result: Compilation, addresses: list[str]) -> dict[str, dict[str, Any]]:
    chosen = addresses or sorted(result.personas)
    return {a: result.persona(a).masked() for a in chosen}


def render_personas(
    result: Compilation, addresses: list[str], out: Path | None, fmt: str = "json"
) -> None:
    masked = select(result, addresses)
    dump = to_yaml if fmt == "yaml" else to_json
    if out is not None:
        suffix = ".yaml" if fmt == "yaml" else ".json"
        for address, body in masked.items():
            target = (out / f"{address}{suffix}").resolve()
            if not target.is_relative_to(out.resolve()):
                raise UserError(f"address {address!r} would be written outside {out}")
            write_atomic(target, dump(body))
            print(target, file=sys.stderr)
        return
    payload: Any = next(iter(masked.values())) if len(addresses) == 1 else masked
    sys.stdout.write(dump(payload))


def conversation_body(result: Compilation, name: str, raw: dict[str, str]) -> dict[str, Any]:
    """The rendered conversation body (without persona_id), errors raised."""
    template = result.conversation(name)
    values = bind_inputs(template, raw)
    problems: list[Problem] = []
    assert result.renderer is not None, "conversations need a full compile"
    body = render_body(template, values, result.renderer, problems)
    errors = [p for p in problems if not p.warning]
    if errors:
        raise ConfigErrors(errors)
    return dict(body)


def preview_request(
    result: Compilation,
    address: str,
    conversation: str | None,
    raw_vars: dict[str, str],
    utterance: str,
) -> str:
    """`result` is compiled with `raw_vars` as extra variables (see compile_project); those
    that are the conversation's declared inputs also fill the conversation."""
    persona = result.persona(address)
    context = conversational_context(result, conversation, raw_vars)
    return to_json(chat_request(persona, context, utterance))


def conversational_context(
    result: Compilation, conversation: str | None, raw_vars: dict[str, str]
) -> str | None:
    """The conversation's conversational_context (masked), filled from the `raw_vars` that
    are its declared inputs; None without a conversation."""
    if not conversation:
        return None
    inputs = result.conversation(conversation).inputs
    body = conversation_body(
        result, conversation, {k: v for k, v in raw_vars.items() if k in inputs}
    )
    context = secrets.mask(body).get("conversational_context")
    return context if isinstance(context, str) else None
