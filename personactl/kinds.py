"""The resource kinds personactl manages, one small description each.

Everything kind-specific that the deploy engine (state, diff, plan, apply,
read-back, import) and the backends need lives here: the collection path, the
id and display-name fields, the list filter that keeps the account's own
resources, and which keys hold credentials.  The engine itself never names a
kind; adding one is adding a `Kind` here (and its schema and folder).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

KindName = Literal["personas"]


@dataclass(frozen=True)
class Kind:
    name: KindName
    # repository folder and the body key of its files
    folder: str
    body_key: str
    # the API
    collection: str  # e.g. /v2/personas
    id_field: str  # e.g. persona_id
    name_field: str  # the display name, e.g. persona_name
    type_field: str | None  # e.g. persona_type: "system" entries are the platform's own
    list_filter: tuple[tuple[str, str], ...]  # query parameters of a list of user resources

    def shown(self, address: str) -> str:
        """How messages name one resource of this kind."""
        return address


PERSONAS = Kind(
    name="personas",
    folder="personas",
    body_key="persona",
    collection="/v2/personas",
    id_field="persona_id",
    name_field="persona_name",
    type_field="persona_type",
    list_filter=(("persona_type", "user"),),
)

KINDS: dict[KindName, Kind] = {PERSONAS.name: PERSONAS}


def kind_of(address: str) -> Kind:
    """The kind an address names: `KIND:PATH`, or a bare persona address."""
    prefix, sep, _rest = address.partition(":")
    if sep and prefix in KINDS:
        return KINDS[prefix]  # type: ignore[index]
    return PERSONAS
