"""JSON Schemas of personactl's own files, generated from the envelopes the loaders check
(`personactl.compile.envelope`): one definition, so the editor and `validate` agree.

The envelopes' `persona` / `conversation` values are the Tavus body schemas,
embedded as `$defs` (they are Jinja-rendered and layered before validation).
"""

from __future__ import annotations

import copy
from typing import Any

from personactl.compile.envelope import (
    CONVERSATION_FILE,
    GUARDRAIL_FILE,
    OBJECTIVES_FILE,
    PERSONA_FILE,
    PROJECT,
    TOOL_FILE,
    Envelope,
    Key,
)

DRAFT = "https://json-schema.org/draft/2020-12/schema"
_TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "boolean": {"type": "boolean"},
    "mapping": {"type": "object"},
    "strings": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
    "string_or_mapping": {"anyOf": [{"type": "string"}, {"type": "object"}]},
    "any": {},
}


def _key_schema(key: Key, defs: dict[str, Any], bodies: dict[str, dict[str, Any]]) -> Any:
    if key.body is not None:
        name = key.body.capitalize()
        if name not in defs:
            body = copy.deepcopy(bodies[key.body])
            defs.update(body.pop("$defs", {}))
            defs[name] = body
        return {"$ref": f"#/$defs/{name}"}
    out: dict[str, Any] = dict(_TYPES[key.shape])
    if key.description:
        out["description"] = key.description
    if key.default is not None:
        out["default"] = key.default
    if key.choices:
        out["enum"] = list(key.choices)
    if key.entries is not None:
        out["additionalProperties"] = _ref(key.entries, defs, bodies)
    if key.fields is not None:
        out["anyOf"] = [{"type": "string"}, _ref(key.fields, defs, bodies)]
    return out


def _ref(envelope: Envelope, defs: dict[str, Any], bodies: dict[str, dict[str, Any]]) -> Any:
    name = envelope.title.removeprefix("a ").removeprefix("an ").title().replace(" ", "")
    if name not in defs:
        defs[name] = {}  # claims the name before recursing
        defs[name] = _object(envelope, defs, bodies)
    return {"$ref": f"#/$defs/{name}"}


def _object(
    envelope: Envelope, defs: dict[str, Any], bodies: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {k.name: _key_schema(k, defs, bodies) for k in envelope.keys},
    }


def envelope_schema(
    envelope: Envelope, title: str, bodies: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    defs: dict[str, Any] = {}
    document: dict[str, Any] = {"$schema": DRAFT, "title": title}
    document.update(_object(envelope, defs, bodies))
    if defs:
        document["$defs"] = defs
    return document


def file_schemas(bodies: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """name -> JSON Schema of personactl.yaml and every kind of file; `bodies`: the JSON
    Schema of each body (envelope.BodyName -> schema)."""
    return {
        "project": envelope_schema(PROJECT, "personactl.yaml", bodies),
        "persona_file": envelope_schema(PERSONA_FILE, "personactl persona file", bodies),
        "objectives_file": envelope_schema(OBJECTIVES_FILE, "personactl objectives file", bodies),
        "guardrail_file": envelope_schema(GUARDRAIL_FILE, "personactl guardrail file", bodies),
        "tool_file": envelope_schema(TOOL_FILE, "personactl tool file", bodies),
        "conversation_file": envelope_schema(
            CONVERSATION_FILE, "personactl conversation file", bodies
        ),
    }


def with_draft(schema: dict[str, Any], title: str) -> dict[str, Any]:
    out = {"$schema": DRAFT, "title": title}
    out.update(schema)
    return out
