"""Checks of the file envelopes' own keys (not the Tavus payload), with did-you-mean hints."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from personactl.compile.source import PMap
from personactl.errors import Loc, Problem, did_you_mean


def check_keys(node: PMap, allowed: Iterable[str], what: str, problems: list[Problem]) -> None:
    allowed = tuple(allowed)
    for key in node:
        if key not in allowed:
            problems.append(
                Problem(
                    node.key_locs.get(key, node.loc),
                    f"unknown key '{key}' in {what}",
                    did_you_mean(key, allowed) or f"allowed: {', '.join(allowed)}",
                )
            )


def expect_map(value: Any, loc: Loc | None, what: str, problems: list[Problem]) -> PMap:
    """`value` if it is a mapping (or absent); otherwise a problem and an empty mapping."""
    if isinstance(value, PMap):
        return value
    if value is not None:
        problems.append(Problem(loc, f"{what} must be a mapping"))
    return PMap(loc)
