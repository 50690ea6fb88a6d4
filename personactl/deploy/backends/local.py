"""The embedded `local` backend: the same Store `personactl serve` uses, without HTTP."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from personactl import sensitive
from personactl.deploy.backends.base import JSON, DraftConflict, Encoded
from personactl.digests import digest
from personactl.errors import ApiError
from personactl.kinds import Kind
from personactl.serve.store import Conflict, NotFound, Store

_PAGE = 100
LOCAL_CONVERSATIONS = "local://conversations"


class LocalBackend:
    name = "local"

    def __init__(self, db_path: str | os.PathLike[str]) -> None:
        self.db_path = db_path
        with self._database():
            # no room exists behind a local conversation: its url says so, rather than
            # looking like a remote one that could be joined
            self.store = Store(db_path, conversation_url_base=LOCAL_CONVERSATIONS)

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

    def list_all(self, kind: Kind, expected: int = 0) -> Iterator[JSON]:  # noqa: ARG002
        """The account's own resources, as `kind.list_filter` asks of the API."""
        page = 1
        while True:
            with self._database():
                items, total = self.store.list_resources(kind, _PAGE, page, "user")
            yield from items
            if len(items) < _PAGE or page * _PAGE >= total:
                return
            page += 1

    def get(self, kind: Kind, rid: str) -> JSON | None:
        with self._database():
            return self.store.get(kind, rid)

    def create(self, kind: Kind, payload: JSON | Encoded) -> JSON:
        if isinstance(payload, Encoded):
            payload = payload.value()
        with self._database():
            try:
                return self.store.create(kind, _sealed(payload))
            except ValueError as exc:
                raise ApiError(f"create {_singular(kind)} failed: {exc}", 400) from exc

    def patch(self, kind: Kind, rid: str, ops: list[JSON] | JSON, force: bool = False) -> bool:
        what = f"patch {_singular(kind)} {rid} failed"
        with self._database():
            try:
                return self.store.patch(kind, rid, _sealed(ops), force=force).discarded_draft
            except NotFound as exc:
                raise ApiError(f"{what}: not found", 404) from exc
            except Conflict as exc:
                raise DraftConflict(f"{what}: {exc}", 409) from exc
            except ValueError as exc:
                raise ApiError(f"{what}: {exc}", 400) from exc

    def delete(self, kind: Kind, rid: str) -> None:
        with self._database():
            self.store.delete(kind, rid)

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


def _singular(kind: Kind) -> str:
    return kind.name.removesuffix("s")


def _sealed(value: Any) -> Any:
    """`value` with every string that holds a secret() value kept only as a digest.

    This database sits inside the repository; unlike `serve`, the embedded backend sees
    which values were resolved from secrets (sensitive.remember), so a prompt or header
    built with secret() is sealed too, not only the fields the API treats as credentials.
    Plans never compare such strings with what is deployed (state keeps their digests)."""
    if isinstance(value, str):
        return digest(value) if sensitive.carries_secret(value) else value
    if isinstance(value, dict):
        return {k: _sealed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_sealed(v) for v in value]
    return value
