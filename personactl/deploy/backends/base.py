"""The small interface plan/apply talk to; two real implementations (local, tavus)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from personactl.errors import ApiError

JSON = dict[str, Any]


class CreateOutcomeUnknown(ApiError):
    """A create was sent but its response was lost (transport error, 5xx).

    It may or may not have happened: the caller reconciles by listing before any
    retry, since a blind retry of a POST could create a duplicate.
    """


class Backend(Protocol):
    """A Tavus-compatible persona store.

    Every method raises `personactl.errors.ApiError` on failure (after retries).
    Persona dicts are the API's JSON objects (with `persona_id`, `created_at`, ...).
    """

    name: str

    def list_personas(self) -> Iterator[JSON]:
        """Every persona of the account (`persona_type=user` only), page by page."""
        ...

    def get_persona(self, persona_id: str) -> JSON | None:
        """One persona, or None when it does not exist (404)."""
        ...

    def create_persona(self, payload: JSON) -> JSON:
        """POST /v2/personas; returns the created persona (with `persona_id`)."""
        ...

    def patch_persona(self, persona_id: str, ops: list[JSON]) -> None:
        """PATCH /v2/personas/{id} with an RFC 6902 patch; 304 (no change) is success."""
        ...

    def delete_persona(self, persona_id: str) -> None:
        """DELETE /v2/personas/{id}; a persona already gone is success."""
        ...

    def create_conversation(self, body: JSON) -> JSON:
        """POST /v2/conversations; returns at least conversation_id and conversation_url."""
        ...

    def request_count(self) -> int:
        """HTTP requests made so far (0 for backends without HTTP); for benchmarks."""
        ...

    def close(self) -> None: ...
