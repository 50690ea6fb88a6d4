"""One source file's compile (personactl.compile.personas.FileResult) as plain JSON data and
back: the per-file entries of the incremental cache, and what the forked compile's child
sends.  Decoding trusts nothing: an entry of another shape raises BadEntry."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from personactl.compile.personas import CompiledResource, Cut, FileResult
from personactl.compile.templating import RefCall
from personactl.errors import Loc, Problem
from personactl.kinds import KIND_NAMES


class BadEntry(Exception):
    """A cached or received entry that is not one this code wrote."""


def _loc(loc: Loc | None) -> list[Any] | None:
    return None if loc is None else [loc.path, loc.line, loc.col]


def _unloc(raw: Any) -> Loc | None:
    if raw is None:
        return None
    path, line, col = raw
    if not (isinstance(path, str) and isinstance(line, int) and isinstance(col, int)):
        raise BadEntry(raw)
    return Loc(path, line, col)


def _str(value: Any, *, optional: bool = False) -> Any:
    if isinstance(value, str) or (optional and value is None):
        return value
    raise BadEntry(value)


def shown(root: Path, path: Path) -> str:
    """`path` as the entry names it: relative to the project root when inside it (string
    operations: pathlib's are slow at thousands of inputs)."""
    prefix, text = f"{root}{os.sep}", str(path)
    return text[len(prefix) :] if text.startswith(prefix) else text


def encode(result: FileResult, root: Path) -> dict[str, Any]:
    """Everything but the cache key (personactl.compile.cache adds it); payloads keep the
    compiled key order (plans list fields in it)."""
    return {
        "inputs": sorted(shown(root, p) for p in result.inputs),
        "env": result.env_reads,
        "asked": result.env_asked,
        "secrets": sorted(result.secret_calls),
        "problems": [
            [_loc(p.loc), p.message, p.hint, p.warning, list(p.subjects)] for p in result.problems
        ],
        "cuts": [[c.problem, c.ref, c.address, _loc(c.loc), c.rendered] for c in result.cuts],
        "refs": [[c.owner, c.target, _loc(c.loc)] for c in result.ref_calls],
        "resources": [[r.address, r.source, r.kind, r.payload] for r in result.resources.values()],
    }


def decode(path: Path, raw: Any, root: Path, *, with_inputs: bool = True) -> FileResult:
    """The FileResult an entry holds (env values as the entry has them: hashes in the
    cache, values from the child; inputs only `with_inputs`); BadEntry when it is not
    one."""
    try:
        out = FileResult(path)
        out.inputs = {root / _str(p) for p in raw["inputs"]} if with_inputs else set()
        out.env_reads = {_str(k): _str(v, optional=True) for k, v in raw["env"].items()}
        out.env_asked = {_str(k): _str(v, optional=True) for k, v in raw["asked"].items()}
        out.secret_calls = {_str(s) for s in raw["secrets"]}
        for loc, message, hint, warning, subjects in raw["problems"]:
            about = tuple(_str(s) for s in subjects)
            out.problems.append(
                Problem(_unloc(loc), _str(message), _str(hint), warning is True, about)
            )
        for problem, ref, address, loc, rendered in raw["cuts"]:
            if not all(isinstance(n, int) for n in (problem, ref, rendered)):
                raise BadEntry(raw["cuts"])
            out.cuts.append(Cut(problem, ref, _str(address, optional=True), _unloc(loc), rendered))
        for owner, target, loc in raw["refs"]:
            out.ref_calls.append(RefCall(_str(owner, optional=True), _str(target), _unloc(loc)))
        for address, source, kind, payload in raw["resources"]:
            if kind not in KIND_NAMES or not isinstance(payload, dict):
                raise BadEntry(kind)
            out.resources[_str(address)] = CompiledResource(address, _str(source), payload, kind)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise BadEntry(str(exc)) from None
    return out
