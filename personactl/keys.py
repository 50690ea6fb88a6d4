"""Checks of the file envelopes' own keys (not the Tavus payload), with did-you-mean hints."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from personactl.errors import Loc, Problem
from personactl.yamlload import BOOL_HINT, PMap


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""


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


def expect_bool(node: PMap, key: str, problems: list[Problem]) -> bool:
    """`node[key]` if it is a boolean (absent: false); otherwise a problem and false."""
    value = node.get(key, False)
    if isinstance(value, bool):
        return value
    problems.append(
        Problem(node.val_locs.get(key, node.loc), f"{key} must be true or false", BOOL_HINT)
    )
    return False
