"""The resource kinds personactl manages, one small description each.

Everything kind-specific that the deploy engine (state, diff, plan, apply,
read-back, import) and the backends need lives here: the collection path, the
id and display-name fields, the list filter that keeps the account's own
resources, how a PATCH is sent, and the repository folder and body key.  The
engine itself never names a kind; adding one is adding a `Kind` here (and its
schema).  Personas are one kind seen through the environment's `api:`
(`/v2/personas` with `persona_id`, or `/v2/pals` with `pal_id`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

KindName = Literal["personas", "objectives", "guardrails", "tools"]
Api = Literal["personas", "pals"]
APIS: tuple[Api, ...] = ("personas", "pals")
# how an update is sent: an RFC 6902 patch, or a partial object of the changed fields
PatchStyle = Literal["json-patch", "partial"]


@dataclass(frozen=True)
class Kind:
    name: KindName
    # repository folder and the body key of its files
    folder: str
    body_key: str
    # the API
    collection: str  # e.g. /v2/personas
    id_fields: tuple[str, ...]  # the id field, then what some servers answer instead
    name_field: str  # the display name, e.g. persona_name
    type_field: str | None  # e.g. persona_type: "system" entries are the platform's own
    list_filter: tuple[tuple[str, str], ...]  # query parameters of a list of user resources
    patch_style: PatchStyle = "json-patch"

    @property
    def id_field(self) -> str:
        return self.id_fields[0]

    def id_of(self, resource: Mapping[str, Any]) -> str | None:
        """The resource's id, under whichever of the id fields the server used."""
        for name in self.id_fields:
            value = resource.get(name)
            if isinstance(value, str) and value:
                return value
        return None

    def prefix(self) -> str:
        """The address prefix: `tools:`; personas have none."""
        return "" if self.name == "personas" else f"{self.name}:"


PERSONAS = Kind(
    name="personas",
    folder="personas",
    body_key="persona",
    collection="/v2/personas",
    # pal_id: a state or plan written for `api: pals` reads back after a switch
    id_fields=("persona_id", "pal_id"),
    name_field="persona_name",
    type_field="persona_type",
    list_filter=(("persona_type", "user"),),
)
PALS = Kind(
    name="personas",
    folder="personas",
    body_key="persona",
    collection="/v2/pals",
    id_fields=("pal_id", "persona_id"),
    name_field="pal_name",
    type_field="pal_type",
    list_filter=(("pal_type", "user"),),
)
OBJECTIVES = Kind(
    name="objectives",
    folder="objectives",
    body_key="objectives",
    collection="/v2/objectives",
    id_fields=("objectives_id", "uuid"),
    name_field="name",
    type_field=None,
    list_filter=(("type", "user"),),
)
GUARDRAILS = Kind(
    name="guardrails",
    folder="guardrails",
    body_key="guardrail",
    collection="/v2/guardrails",
    id_fields=("guardrail_id", "uuid"),
    name_field="guardrail_name",
    type_field=None,
    list_filter=(("type", "user"),),
)
TOOLS = Kind(
    name="tools",
    folder="tools",
    body_key="tool",
    collection="/v2/tools",
    id_fields=("tool_id", "uuid"),
    name_field="name",
    type_field=None,
    list_filter=(("type", "user"),),
    patch_style="partial",
)

# Resource kinds other than personas, in dependency order: personas may reference any.
RESOURCE_KINDS: tuple[Kind, ...] = (OBJECTIVES, GUARDRAILS, TOOLS)
# Every kind a repository holds, in the order `personactl list` shows them.
KIND_NAMES: tuple[KindName, ...] = ("personas", *(k.name for k in RESOURCE_KINDS))
_BY_NAME: dict[str, Kind] = {k.name: k for k in RESOURCE_KINDS}


def personas_kind(api: Api = "personas") -> Kind:
    return PALS if api == "pals" else PERSONAS


def split_address(address: str) -> tuple[KindName, str]:
    """`tools:get_weather` -> ("tools", "get_weather"); a bare or `personas:` address is a
    persona."""
    prefix, sep, rest = address.partition(":")
    if sep and prefix in _BY_NAME:
        return _BY_NAME[prefix].name, rest
    if sep and prefix == "personas":
        return "personas", rest
    return "personas", address


def canonical(address: str) -> str:
    """The address as personactl keys it: `personas:storyteller` is `storyteller`."""
    name, path = split_address(address)
    return path if name == "personas" else address


def kind_of(address: str, api: Api = "personas") -> Kind:
    """The kind an address names: `KIND:PATH`, or a bare persona address."""
    name, _path = split_address(address)
    return _BY_NAME[name] if name in _BY_NAME else personas_kind(api)
