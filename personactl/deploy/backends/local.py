"""The embedded `local` backend: the same Store `personactl serve` uses, without HTTP.

The store keeps personas in the personas vocabulary; the PALs kind (`api: pals`) reads
and writes them in the PAL one, as `/v2/pals` does (personactl.compile.vocabulary).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from personactl.compile.vocabulary import as_api, patch
from personactl.deploy.backends.base import JSON
from personactl.errors import ApiError
from personactl.kinds import PALS, PERSONAS, Kind
from personactl.serve.store import NotFound, Store

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

    @staticmethod
    def _supported(kind: Kind) -> None:
        if kind is not PERSONAS and kind is not PALS:
            raise ApiError(f"the local backend does not store {kind.name} yet", 400)

    @staticmethod
    def _out(kind: Kind, persona: Any) -> Any:
        """A stored persona as the kind's endpoint answers it."""
        return as_api(persona, "pals") if kind is PALS else persona

    def list_all(self, kind: Kind) -> Iterator[JSON]:
        self._supported(kind)
        page = 1
        while True:
            with self._database():
                items, total = self.store.list_personas(_PAGE, page, "user")
            yield from (self._out(kind, item) for item in items)
            if len(items) < _PAGE or page * _PAGE >= total:
                return
            page += 1

    def get(self, kind: Kind, rid: str) -> JSON | None:
        self._supported(kind)
        with self._database():
            found: JSON | None = self._out(kind, self.store.get_persona(rid))
        return found

    def create(self, kind: Kind, payload: JSON) -> JSON:
        self._supported(kind)
        with self._database():
            try:
                created: JSON = self._out(
                    kind, self.store.create_persona(as_api(payload, "personas"))
                )
            except ValueError as exc:
                raise ApiError(f"create persona failed: {exc}", 400) from exc
        return created

    def patch(self, kind: Kind, rid: str, ops: list[JSON] | JSON) -> None:
        self._supported(kind)
        if not isinstance(ops, list):
            raise ApiError(f"patch persona {rid} failed: a persona takes a JSON Patch", 400)
        with self._database():
            try:
                self.store.patch_persona(rid, patch(ops, "personas"))
            except NotFound as exc:
                raise ApiError(f"patch persona {rid} failed: not found", 404) from exc
            except ValueError as exc:
                raise ApiError(f"patch persona {rid} failed: {exc}", 400) from exc

    def delete(self, kind: Kind, rid: str) -> None:
        self._supported(kind)
        with self._database():
            self.store.delete_persona(rid)

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
