"""`ref('ADDRESS')`: the deployed id of another resource of the repository.

A compiled payload holds `\\x00personactl-ref:ADDRESS\\x00` where a template
called `ref('ADDRESS')` (as `secret()` leaves a placeholder, see sensitive.py).
`render`/`validate` show the id from the environment's state, or
`(known after apply)`; plan and apply substitute real ids, in dependency order.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from typing import Any

from personactl.sensitive import encoded_placeholders, json_unescaped, map_strings

KNOWN_AFTER_APPLY = "(known after apply)"
_PREFIX = "\x00personactl-ref:"
_PLACEHOLDER = re.compile("\x00personactl-ref:([^\x00]*)\x00")
_ENCODED = encoded_placeholders("ref")  # an address may hold what JSON escapes (café)


def placeholder(address: str) -> str:
    return f"{_PREFIX}{address}\x00"


def shown(value: Any) -> Any:
    """A copy for people: references not resolved yet read `(known after apply)`."""
    return resolve(value, {})


def targets(value: Any) -> set[str]:
    """Every address referenced anywhere in a payload."""
    if isinstance(value, str):
        return set(_PLACEHOLDER.findall(value))
    return targets_in_json(json.dumps(value))


def targets_in_json(text: str) -> set[str]:
    """Every address referenced in a payload encoded by `json.dumps`."""
    return {json_unescaped(raw) for raw in _ENCODED.findall(text)}


def resolve(value: Any, ids: Mapping[str, str], missing: str | None = KNOWN_AFTER_APPLY) -> Any:
    """A copy with each reference replaced by its id; one not in `ids` becomes `missing`,
    or stays a placeholder when `missing` is None (for apply to fill in later).  A value
    with no reference is returned as is (one C-speed scan instead of a copy)."""
    with contextlib.suppress(TypeError, ValueError):  # not JSON data (a sentinel): walk it
        if not targets(value):
            return value

    def one(match: re.Match[str]) -> str:
        found = ids.get(match.group(1))
        if found is not None:
            return found
        return match.group(0) if missing is None else missing

    def sub(text: str) -> str:
        return _PLACEHOLDER.sub(one, text)

    return map_strings(value, sub, _PREFIX)
