"""The embedded `local` backend: the same Store `personactl serve` uses, without HTTP."""

from __future__ import annotations

import os
from collections.abc import Iterator

from personactl.deploy.backends.base import JSON
from personactl.errors import ApiError
from personactl.kinds import PERSONAS, Kind
from personactl.serve.store import NotFound, Store

_PAGE = 100


class LocalBackend:
    name = "local"

    def __init__(self, db_path: str | os.PathLike[str]) -> None:
        self.store = Store(db_path)

    def __repr__(self) -> str:
        return "LocalBackend()"

    @staticmethod
    def _supported(kind: Kind) -> None:
        if kind is not PERSONAS:
            raise ApiError(f"the local backend does not store {kind.name} yet", 400)

    def list_all(self, kind: Kind) -> Iterator[JSON]:
        self._supported(kind)
        page = 1
        while True:
            items, total = self.store.list_personas(_PAGE, page, "user")
            yield from items
            if len(items) < _PAGE or page * _PAGE >= total:
                return
            page += 1

    def get(self, kind: Kind, rid: str) -> JSON | None:
        self._supported(kind)
        return self.store.get_persona(rid)

    def create(self, kind: Kind, payload: JSON) -> JSON:
        self._supported(kind)
        try:
            return self.store.create_persona(payload)
        except ValueError as exc:
            raise ApiError(f"create persona failed: {exc}", 400) from exc

    def patch(self, kind: Kind, rid: str, ops: list[JSON]) -> None:
        self._supported(kind)
        try:
            self.store.patch_persona(rid, ops)
        except NotFound as exc:
            raise ApiError(f"patch persona {rid} failed: not found", 404) from exc
        except ValueError as exc:
            raise ApiError(f"patch persona {rid} failed: {exc}", 400) from exc

    def delete(self, kind: Kind, rid: str) -> None:
        self._supported(kind)
        self.store.delete_persona(rid)

    def create_conversation(self, body: JSON) -> JSON:
        try:
            return self.store.create_conversation(body)
        except ValueError as exc:
            raise ApiError(f"create conversation failed: {exc}", 400) from exc

    def request_count(self) -> int:
        return 0

    def close(self) -> None:
        self.store.close()
