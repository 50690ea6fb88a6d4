"""Models and JSON Schemas of personactl's own files (DESIGN §2).

The envelopes' `persona` / `conversation` values are plain objects in the
models (they are Jinja-rendered and layered before validation with
`check_persona` / `check_conversation`); the editor JSON Schemas embed the
persona / conversation schemas there.
"""

from __future__ import annotations

import copy
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from ._types import StrOrStrList, choice_schema, choice_validator

BACKENDS = ("local", "tavus")
INPUT_TYPES = ("string", "integer", "number", "boolean")

Backend = Annotated[str, choice_validator(BACKENDS), choice_schema(BACKENDS)]
InputType = Annotated[str, choice_validator(INPUT_TYPES), choice_schema(INPUT_TYPES)]

Vars = dict[str, Any]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Environment(_Strict):
    backend: Backend = "local"
    api_url: str | None = Field(default=None, description="Default: https://tavusapi.com")
    api_key_env: str | None = Field(default=None, description="Default: TAVUS_API_KEY")
    state: str | None = None
    vars: Vars | None = None
    overrides: dict[str, Any] | None = Field(
        default=None, description="Deep-merged into every persona of this environment."
    )


class ProjectFile(_Strict):
    """personactl.yaml."""

    version: int = Field(ge=1, le=1)
    default_environment: str | None = None
    vars: Vars | None = None
    environments: dict[str, Environment] | None = None


class Variant(_Strict):
    vars: Vars | None = None
    persona: dict[str, Any] | None = None


class PersonaFile(_Strict):
    """A persona file under personas/."""

    name: str | None = None
    extends: StrOrStrList | None = None
    vars: Vars | None = None
    persona: dict[str, Any] | None = None
    variants: dict[str, Variant] | None = None
    allow_unknown_keys: bool | None = None


class InputSpec(_Strict):
    type: InputType = "string"
    required: bool | None = None
    default: Any = None
    description: str | None = None


class ConversationFile(_Strict):
    """A conversation template under conversations/."""

    name: str | None = None
    extends: StrOrStrList | None = None
    vars: Vars | None = None
    persona: str | None = Field(
        default=None, description="Address of a persona in this repository."
    )
    inputs: dict[str, InputSpec] | None = None
    conversation: dict[str, Any] | None = None
    allow_unknown_keys: bool | None = None


DRAFT = "https://json-schema.org/draft/2020-12/schema"


def with_draft(schema: dict[str, Any], title: str) -> dict[str, Any]:
    out = {"$schema": DRAFT, "title": title}
    out.update(schema)
    return out


def embed(
    envelope: dict[str, Any], body: dict[str, Any], name: str, pointers: list[tuple[str, ...]]
) -> dict[str, Any]:
    """Put `body` (a model schema) into `envelope` at each pointer, as a $ref to $defs/name."""
    out = copy.deepcopy(envelope)
    body = copy.deepcopy(body)
    defs = out.setdefault("$defs", {})
    defs.update(body.pop("$defs", {}))
    defs[name] = body
    for pointer in pointers:
        node: Any = out
        for part in pointer[:-1]:
            node = node[part]
        node[pointer[-1]] = {"$ref": f"#/$defs/{name}"}
    return out
