"""The small interface plan/apply talk to; two real implementations (local, tavus)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from personactl.errors import ApiError
from personactl.kinds import Kind

JSON = dict[str, Any]


@dataclass(frozen=True)
class Encoded:
    """A request body already encoded as JSON, secrets filled in: apply fills a create's
    placeholders into the text its plan encoded, instead of walking the body for a copy
    that the HTTP client would encode again."""

    text: str

    def value(self) -> JSON:
        decoded: JSON = json.loads(self.text)
        return decoded


class CreateOutcomeUnknown(ApiError):
    """A create was sent but its response was lost (transport error, 5xx).

    It may or may not have happened: the caller reconciles by listing before any
    retry, since a blind retry of a POST could create a duplicate.
    """


class DraftConflict(ApiError):
    """A PATCH answered 409 `maker_changes`: the persona has an unsaved draft in PAL
    Maker.  Sent again with `force=True`, the draft is discarded."""


class Backend(Protocol):
    """A Tavus-compatible API, one collection per resource kind (see personactl.kinds).

    Every method raises `personactl.errors.ApiError` on failure (after retries).
    Resources are the API's JSON objects (with their id field, `created_at`, ...).
    """

    name: str

    def list_all(self, kind: Kind, expected: int = 0) -> Iterator[JSON]:
        """Every resource of the account's own (`kind.list_filter`), page by page.
        `expected`: how many there are at least, as far as the caller knows (the pages
        they fill can be asked for at once)."""
        ...

    def get(self, kind: Kind, rid: str) -> JSON | None:
        """One resource, or None when it does not exist (404)."""
        ...

    def create(self, kind: Kind, payload: JSON | Encoded) -> JSON:
        """POST the collection; returns the created resource (with its id field)."""
        ...

    def patch(self, kind: Kind, rid: str, ops: list[JSON] | JSON, force: bool = False) -> bool:
        """PATCH one resource: an RFC 6902 patch, or a partial object for a kind whose
        `patch_style` is "partial"; 304 (no change) is success.  Raises DraftConflict for
        a persona with an unsaved draft unless `force` (`?force=true`), which discards
        it; returns whether a draft was discarded."""
        ...

    def delete(self, kind: Kind, rid: str) -> None:
        """DELETE one resource; one already gone is success."""
        ...

    def create_conversation(self, body: JSON) -> JSON:
        """POST /v2/conversations; returns at least conversation_id and conversation_url."""
        ...

    def request_count(self) -> int:
        """HTTP requests made so far (0 for backends without HTTP); for benchmarks."""
        ...

    def close(self) -> None: ...
