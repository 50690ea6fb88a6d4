"""Sensitive values: placeholders in compiled data, real values only on the wire.

A compiled payload holds `\\x00personactl-secret:NAME\\x00` where a template
called `secret('NAME')`.  Display code masks such strings as `(sensitive)`;
state and plans keep salted hashes; `resolve` substitutes the environment's
values right before a request is sent.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

MASK = "(sensitive)"
_PREFIX = "\x00personactl-secret:"
_PLACEHOLDER = re.compile("\x00personactl-secret:([^\x00]*)\x00")


class MissingSecret(LookupError):
    """`resolve` needed a secret that the environment does not hold (a user error: the CLI
    prints it as one line; plan/apply check for every missing name before they start)."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        super().__init__(
            f"secret {', '.join(names)} is not set in the environment "
            "(hint: export it before plan/apply; validate and render work without it)"
        )


def placeholder(name: str) -> str:
    return f"{_PREFIX}{name}\x00"


def is_pure_secret(value: Any) -> bool:
    return isinstance(value, str) and _PLACEHOLDER.fullmatch(value) is not None


# The same placeholders as json.dumps writes them: one C-speed encode answers
# "where are the secrets" for a whole payload without a Python-level walk.
_ENCODED = re.compile(r"\\u0000personactl-secret:([^\\]*)\\u0000")


def contains(value: Any) -> bool:
    """Whether any string inside `value` holds a secret placeholder."""
    if isinstance(value, str):
        return _PREFIX in value
    return names(value) != set()


def names(value: Any) -> set[str]:
    """Every secret name referenced anywhere in a payload."""
    if isinstance(value, str):
        return set(_PLACEHOLDER.findall(value))
    try:
        return set(_ENCODED.findall(json.dumps(value)))
    except (TypeError, ValueError):  # not JSON data: walk it
        found: set[str] = set()
        _walk_strings(value, lambda s: found.update(_PLACEHOLDER.findall(s)))
        return found


# Values this process has resolved for a request: an API may echo a request body
# back in an error, and no message personactl prints may carry one.
_RESOLVED: set[str] = set()
_MIN_REDACTED = 4  # shorter values would blank out ordinary words


def scrub(text: str) -> str:
    """Message text with secret placeholders, and any secret value sent so far, masked."""
    if _PREFIX in text:
        text = _PLACEHOLDER.sub(MASK, text)
    for value in _RESOLVED:
        if value in text:
            text = text.replace(value, MASK)
    return text


def mask(value: Any) -> Any:
    """A copy safe to show or store: every string touched by a secret becomes (sensitive)."""
    if isinstance(value, str):
        return MASK if _PREFIX in value else value
    if isinstance(value, dict):
        return {k: mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    return value


def resolve(value: Any, environ: Mapping[str, str] | None = None) -> Any:
    """A copy with real secret values, for the request body only. Missing names are errors."""
    source = os.environ if environ is None else environ
    missing = sorted(n for n in names(value) if n not in source)
    if missing:
        raise MissingSecret(missing)

    def value_of(match: re.Match[str]) -> str:
        value = source[match.group(1)]
        if len(value) >= _MIN_REDACTED:
            _RESOLVED.add(value)
        return value

    def sub(text: str) -> str:
        return _PLACEHOLDER.sub(value_of, text)

    return _map_strings(value, sub)


def _map_strings(value: Any, fn: Any) -> Any:
    if isinstance(value, str):
        return fn(value) if _PREFIX in value else value
    if isinstance(value, dict):
        return {k: _map_strings(v, fn) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_strings(v, fn) for v in value]
    return value


def _walk_strings(value: Any, fn: Any) -> None:
    if isinstance(value, str):
        if _PREFIX in value:
            fn(value)
    elif isinstance(value, dict):
        for v in value.values():
            _walk_strings(v, fn)
    elif isinstance(value, list):
        for v in value:
            _walk_strings(v, fn)
