"""The embedded `local` backend: the same Store `personactl serve` uses, without HTTP."""

from __future__ import annotations

import os
from collections.abc import Iterator

from personactl.deploy.backends.base import JSON
from personactl.errors import ApiError
from personactl.serve.store import NotFound, Store

_PAGE = 100


class LocalBackend:
    name = "local"

    def __init__(self, db_path: str | os.PathLike[str]) -> None:
        self.store = Store(db_path)

    def __repr__(self) -> str:
        return "LocalBackend()"

    def list_personas(self) -> Iterator[JSON]:
        page = 1
        while True:
            items, total = self.store.list_personas(_PAGE, page, "user")
            yield from items
            if len(items) < _PAGE or page * _PAGE >= total:
                return
            page += 1

    def get_persona(self, persona_id: str) -> JSON | None:
        return self.store.get_persona(persona_id)

    def create_persona(self, payload: JSON) -> JSON:
        try:
            return self.store.create_persona(payload)
        except ValueError as exc:
            raise ApiError(f"create persona failed: {exc}", 400) from exc

    def patch_persona(self, persona_id: str, ops: list[JSON]) -> None:
        try:
            self.store.patch_persona(persona_id, ops)
        except NotFound as exc:
            raise ApiError(f"patch persona {persona_id} failed: not found", 404) from exc
        except ValueError as exc:
            raise ApiError(f"patch persona {persona_id} failed: {exc}", 400) from exc

    def delete_persona(self, persona_id: str) -> None:
        self.store.delete_persona(persona_id)

    def create_conversation(self, body: JSON) -> JSON:
        try:
            return self.store.create_conversation(body)
        except ValueError as exc:
            raise ApiError(f"create conversation failed: {exc}", 400) from exc

    def request_count(self) -> int:
        return 0

    def close(self) -> None:
        self.store.close()
