"""Schema of Tavus personas and conversation requests, and personactl's files.

Public API: `SchemaIssue`, `check_persona`, `check_conversation`, `check_body` (any
kind), `persona_json_schema`, `conversation_json_schema`, `project_json_schema`,
`persona_file_json_schema`, `conversation_file_json_schema`, `file_json_schemas`,
`SENSITIVE_KEYS`, `SECRET_FIELDS`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import cache
from typing import Any

from pydantic import BaseModel, ValidationError

from personactl.errors import did_you_mean

from ._issues import Path, SchemaIssue, convert
from .conversation import Conversation, ConversationProperties
from .guardrail import Guardrail
from .objectives import ObjectiveSet, check_objectives_semantics
from .persona import LAYER_MODELS, Layers, Persona
from .semantic import (
    KNOWN_LLM_MODELS,
    KNOWN_PERCEPTION_MODELS,
    KNOWN_STT_ENGINES,
    KNOWN_TTS_ENGINES,
    KNOWN_TURN_DETECTION_MODELS,
    check_conversation_semantics,
    check_persona_semantics,
)
from .tool import AUTH_SECRETS, RegistryTool, check_tool_semantics

__all__ = [
    "KNOWN_LLM_MODELS",
    "KNOWN_PERCEPTION_MODELS",
    "KNOWN_STT_ENGINES",
    "KNOWN_TTS_ENGINES",
    "KNOWN_TURN_DETECTION_MODELS",
    "SECRET_FIELDS",
    "SENSITIVE_KEYS",
    "Conversation",
    "ConversationProperties",
    "Layers",
    "Persona",
    "SchemaIssue",
    "check_body",
    "check_conversation",
    "check_persona",
    "conversation_file_json_schema",
    "conversation_json_schema",
    "file_json_schemas",
    "persona_file_json_schema",
    "persona_json_schema",
    "project_json_schema",
]

SENSITIVE_KEYS: frozenset[str] = frozenset(
    {
        "api_key",  # layers.llm.api_key, layers.tts.api_key
        "livekit_room_token",  # conversation properties (LiveKit transport)
        "Authorization",  # layers.llm.headers
        "authorization",
        "x-api-key",
        "X-Api-Key",
    }
)
"""Key names whose values are secrets."""

SECRET_FIELDS: dict[str, tuple[tuple[Path, frozenset[str]], ...]] = {
    "personas": (((), SENSITIVE_KEYS),),
    "objectives": (((), SENSITIVE_KEYS),),
    "guardrails": (((), SENSITIVE_KEYS),),
    "tools": (((), SENSITIVE_KEYS), (("delivery", "api", "auth"), AUTH_SECRETS)),
}
"""Per kind: (where in the body, key names) of values that must come from secret()."""

_LAYER_FIELDS: dict[str, list[str]] = {}
for _layer, _model in LAYER_MODELS.items():
    for _field in _model.model_fields:
        _LAYER_FIELDS.setdefault(_field, []).append(_layer)


def _persona_elsewhere(parent: Path, key: str) -> str:
    """A hint for an unknown key that is valid somewhere else in a persona."""
    if parent == () and key in LAYER_MODELS:
        return f"{key!r} is a layer: put it under layers"
    if parent == ("layers",):
        hint = did_you_mean(key, LAYER_MODELS)
        if hint:
            return hint
    layers = [layer for layer in _LAYER_FIELDS.get(key, []) if ("layers", layer) != parent]
    if layers:
        return f"{key!r} is a field of " + " / ".join(f"layers.{layer}" for layer in layers)
    if parent == () and key in Conversation.model_fields:
        return f"{key!r} belongs in a conversation request, not in the persona"
    return ""


def _conversation_elsewhere(parent: Path, key: str) -> str:
    if parent == () and key in ConversationProperties.model_fields:
        return f"{key!r} goes under properties"
    return ""


def _check(
    model: type[BaseModel], payload: Any, allow_unknown: bool, elsewhere: Any
) -> list[SchemaIssue]:
    if not isinstance(payload, dict):
        return [SchemaIssue((), "expected an object")]
    try:
        model.model_validate(payload)
    except ValidationError as exc:
        return convert(exc, model, allow_unknown, elsewhere)
    return []


def check_persona(payload: dict[str, Any], *, allow_unknown: bool = False) -> list[SchemaIssue]:
    """All problems of a persona object: type errors, unknown keys, semantic checks."""
    issues = _check(Persona, payload, allow_unknown, _persona_elsewhere)
    if isinstance(payload, dict):
        issues.extend(check_persona_semantics(payload))
    return issues


def check_body(
    kind: str, payload: dict[str, Any], *, allow_unknown: bool = False
) -> list[SchemaIssue]:
    """All problems of the body of a resource of `kind` (personactl.kinds.KindName)."""
    if kind == "personas":
        return check_persona(payload, allow_unknown=allow_unknown)
    model, semantics = _RESOURCE_CHECKS[kind]
    issues = _check(model, payload, allow_unknown, None)
    if isinstance(payload, dict) and semantics is not None:
        issues.extend(semantics(payload))
    return issues


_RESOURCE_CHECKS: dict[str, tuple[type[BaseModel], Callable[[Any], list[SchemaIssue]] | None]] = {
    "objectives": (ObjectiveSet, check_objectives_semantics),
    "guardrails": (Guardrail, None),
    "tools": (RegistryTool, check_tool_semantics),
}


def check_conversation(body: dict[str, Any], *, allow_unknown: bool = False) -> list[SchemaIssue]:
    """All problems of a POST /v2/conversations body."""
    issues = _check(Conversation, body, allow_unknown, _conversation_elsewhere)
    if isinstance(body, dict):
        issues.extend(check_conversation_semantics(body))
    return issues


@cache
def _schemas() -> dict[str, dict[str, Any]]:
    # the file-format models only matter to `personactl schema`: not loaded by a compile
    from .files import file_schemas, with_draft

    persona_body = Persona.model_json_schema()
    conversation_body = Conversation.model_json_schema()
    bodies = {
        "persona": persona_body,
        "conversation": conversation_body,
        "objectives": ObjectiveSet.model_json_schema(),
        "guardrail": Guardrail.model_json_schema(),
        "tool": RegistryTool.model_json_schema(),
    }
    return {
        "persona": with_draft(persona_body, "Tavus persona"),
        "conversation": with_draft(conversation_body, "Tavus conversation request"),
        **file_schemas(bodies),
    }


def persona_json_schema() -> dict[str, Any]:
    """JSON Schema of the persona object."""
    return copy.deepcopy(_schemas()["persona"])


def conversation_json_schema() -> dict[str, Any]:
    """JSON Schema of the conversation request body."""
    return copy.deepcopy(_schemas()["conversation"])


def project_json_schema() -> dict[str, Any]:
    """JSON Schema of personactl.yaml."""
    return copy.deepcopy(_schemas()["project"])


def persona_file_json_schema() -> dict[str, Any]:
    """JSON Schema of a persona file (personas/*.yaml)."""
    return copy.deepcopy(_schemas()["persona_file"])


def conversation_file_json_schema() -> dict[str, Any]:
    """JSON Schema of a conversation template (conversations/*.yaml)."""
    return copy.deepcopy(_schemas()["conversation_file"])


def file_json_schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema, for every file format (what `personactl schema` writes)."""
    names = {
        "persona-file.json": "persona_file",
        "conversation-file.json": "conversation_file",
        "personactl.json": "project",
        "objectives-file.json": "objectives_file",
        "guardrail-file.json": "guardrail_file",
        "tool-file.json": "tool_file",
    }
    return {name: copy.deepcopy(_schemas()[key]) for name, key in names.items()}
