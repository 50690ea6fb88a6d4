"""The pydantic side of the schema: the models' own check of a body (and the messages
of what is wrong), their JSON Schemas, and `bodies.json`, the body schemas the quick
path evaluates without importing pydantic.

    python -m personactl.schema.models     # rewrite personactl/schema/bodies.json
"""

from __future__ import annotations

import copy
import sys
from functools import cache
from pathlib import Path as FsPath
from typing import Any

from pydantic import BaseModel, ValidationError

from personactl.errors import did_you_mean
from personactl.output import to_json, write_atomic

from ._convert import convert
from ._issues import Path, SchemaIssue
from .conversation import Conversation, ConversationProperties
from .guardrail import Guardrail
from .objectives import ObjectiveSet
from .persona import LAYER_MODELS, Layers, Persona
from .quick import BODIES_FILE, BodyKind
from .tool import RegistryTool

__all__ = ["Conversation", "ConversationProperties", "Layers", "Persona", "issues"]

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


_MODELS: dict[BodyKind, tuple[type[BaseModel], Any]] = {
    "personas": (Persona, _persona_elsewhere),
    "conversations": (Conversation, _conversation_elsewhere),
    "objectives": (ObjectiveSet, None),
    "guardrails": (Guardrail, None),
    "tools": (RegistryTool, None),
}


def issues(kind: BodyKind, payload: Any, allow_unknown: bool) -> list[SchemaIssue]:
    """What the model of `kind` finds wrong with `payload` (shape only; semantics apart)."""
    if not isinstance(payload, dict):
        return [SchemaIssue((), "expected an object")]
    model, elsewhere = _MODELS[kind]
    try:
        model.model_validate(payload)
    except ValidationError as exc:
        return convert(exc, model, allow_unknown, elsewhere)
    return []


def body_schemas() -> dict[str, dict[str, Any]]:
    """Kind -> the JSON Schema of its body, as the models give it (validation mode)."""
    return {kind: model.model_json_schema() for kind, (model, _) in _MODELS.items()}


@cache
def _schemas() -> dict[str, dict[str, Any]]:
    # the file-format models only matter to `personactl schema`: not loaded by a compile
    from .files import file_schemas, with_draft

    bodies = body_schemas()
    return {
        "persona": with_draft(bodies["personas"], "Tavus persona"),
        "conversation": with_draft(bodies["conversations"], "Tavus conversation request"),
        **file_schemas(
            {
                "persona": bodies["personas"],
                "conversation": bodies["conversations"],
                "objectives": bodies["objectives"],
                "guardrail": bodies["guardrails"],
                "tool": bodies["tools"],
            }
        ),
    }


def json_schema(name: str) -> dict[str, Any]:
    """A copy of one of the JSON Schemas (`persona`, `project`, `persona_file`, ...)."""
    return copy.deepcopy(_schemas()[name])


def write_bodies(path: FsPath = BODIES_FILE) -> None:
    write_atomic(path, to_json(body_schemas()), shared=True)


if __name__ == "__main__":
    write_bodies()
    print(f"wrote {BODIES_FILE}", file=sys.stderr)
