"""The embedded `local` backend: the same Store `personactl serve` uses, without HTTP."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from personactl.backends.base import JSON
from personactl.errors import ApiError
from personactl.store import NotFound, Store

_PAGE = 100


class LocalBackend:
    name = "local"

    def __init__(self, db_path: str | os.PathLike[str]) -> None:
        self.db_path = db_path
        with self._database():
            self.store = Store(db_path)

    @contextmanager
    def _database(self) -> Iterator[None]:
        """A corrupt, read-only or locked database file is the user's to fix: one line."""
        try:
            yield
        except sqlite3.Error as exc:
            raise ApiError(
                f"{self.db_path}: the local backend's database failed: {exc}",
                hint="make the file writable, or move it away to start with an empty one",
            ) from None

    def __repr__(self) -> str:
        return "LocalBackend()"

    def list_personas(self) -> Iterator[JSON]:
        page = 1
        while True:
            with self._database():
                items, total = self.store.list_personas(_PAGE, page, "user")
            yield from items
            if len(items) < _PAGE or page * _PAGE >= total:
                return
            page += 1

    def get_persona(self, persona_id: str) -> JSON | None:
        with self._database():
            return self.store.get_persona(persona_id)

    def create_persona(self, payload: JSON) -> JSON:
        with self._database():
            try:
                return self.store.create_persona(payload)
            except ValueError as exc:
                raise ApiError(f"create persona failed: {exc}", 400) from exc

    def patch_persona(self, persona_id: str, ops: list[JSON]) -> None:
        with self._database():
            try:
                self.store.patch_persona(persona_id, ops)
            except NotFound as exc:
                raise ApiError(f"patch persona {persona_id} failed: not found", 404) from exc
            except ValueError as exc:
                raise ApiError(f"patch persona {persona_id} failed: {exc}", 400) from exc

    def delete_persona(self, persona_id: str) -> None:
        with self._database():
            self.store.delete_persona(persona_id)

    def create_conversation(self, body: JSON) -> JSON:
        with self._database():
            try:
                return self.store.create_conversation(body)
            except ValueError as exc:
                raise ApiError(f"create conversation failed: {exc}", 400) from exc

    def request_count(self) -> int:
        return 0

    def close(self) -> None:
        self.store.close()
