"""Schema of Tavus personas and conversation requests, and personactl's files.

Public API: `SchemaIssue`, `check_persona`, `check_conversation`, `check_body` (any
kind), `persona_json_schema`, `conversation_json_schema`, `project_json_schema`,
`persona_file_json_schema`, `conversation_file_json_schema`, `file_json_schemas`,
`SENSITIVE_KEYS`, `SECRET_FIELDS`, and the models `Persona`, `Layers`,
`Conversation`, `ConversationProperties`.

Importing this package does not import pydantic: a valid body is recognised by
`quick`; the models (`models`) load only to word what is wrong with one, or for the
JSON Schemas and the model classes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import quick
from ._issues import Path, SchemaIssue
from .objective_checks import check_objectives_semantics
from .quick import BodyKind
from .semantic import (
    KNOWN_LLM_MODELS,
    KNOWN_PERCEPTION_MODELS,
    KNOWN_STT_ENGINES,
    KNOWN_TTS_ENGINES,
    KNOWN_TURN_DETECTION_MODELS,
    check_conversation_semantics,
    check_persona_semantics,
)
from .tool_checks import AUTH_SECRETS, check_tool_semantics

if TYPE_CHECKING:
    from .models import Conversation, ConversationProperties, Layers, Persona

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

_SEMANTICS: dict[BodyKind, Callable[[Any], list[SchemaIssue]] | None] = {
    "personas": check_persona_semantics,
    "conversations": check_conversation_semantics,
    "objectives": check_objectives_semantics,
    "guardrails": None,
    "tools": check_tool_semantics,
}


def _check(kind: BodyKind, payload: Any, allow_unknown: bool) -> list[SchemaIssue]:
    if quick.valid(kind, payload):
        issues: list[SchemaIssue] = []
    else:
        from . import models  # pydantic: only for a body with something to report

        issues = models.issues(kind, payload, allow_unknown)
    semantics = _SEMANTICS[kind]
    if isinstance(payload, dict) and semantics is not None:
        issues.extend(semantics(payload))
    return issues


def check_persona(payload: dict[str, Any], *, allow_unknown: bool = False) -> list[SchemaIssue]:
    """All problems of a persona object: type errors, unknown keys, semantic checks."""
    return _check("personas", payload, allow_unknown)


def check_body(
    kind: str, payload: dict[str, Any], *, allow_unknown: bool = False
) -> list[SchemaIssue]:
    """All problems of the body of a resource of `kind` (personactl.kinds.KindName)."""
    if kind not in _SEMANTICS or kind == "conversations":
        raise ValueError(f"no resource kind {kind!r}")
    body_kind: BodyKind = kind  # type: ignore[assignment]  # checked just above
    return _check(body_kind, payload, allow_unknown)


def check_conversation(body: dict[str, Any], *, allow_unknown: bool = False) -> list[SchemaIssue]:
    """All problems of a POST /v2/conversations body."""
    return _check("conversations", body, allow_unknown)


def _json_schema(name: str) -> dict[str, Any]:
    from . import models

    return models.json_schema(name)


def persona_json_schema() -> dict[str, Any]:
    """JSON Schema of the persona object."""
    return _json_schema("persona")


def conversation_json_schema() -> dict[str, Any]:
    """JSON Schema of the conversation request body."""
    return _json_schema("conversation")


def project_json_schema() -> dict[str, Any]:
    """JSON Schema of personactl.yaml."""
    return _json_schema("project")


def persona_file_json_schema() -> dict[str, Any]:
    """JSON Schema of a persona file (personas/*.yaml)."""
    return _json_schema("persona_file")


def conversation_file_json_schema() -> dict[str, Any]:
    """JSON Schema of a conversation template (conversations/*.yaml)."""
    return _json_schema("conversation_file")


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
    return {name: _json_schema(key) for name, key in names.items()}


_MODEL_NAMES = frozenset({"Conversation", "ConversationProperties", "Layers", "Persona"})


def __getattr__(name: str) -> Any:
    """The model classes, loaded (with pydantic) on first use."""
    if name in _MODEL_NAMES:
        from . import models

        return getattr(models, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
