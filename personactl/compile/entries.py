"""One source file's compile (personactl.compile.personas.FileResult) as plain JSON data and
back: the per-file entries of the incremental cache, and what the forked compile's child
sends.  Decoding trusts nothing: an entry of another shape raises BadEntry.

In the cache an entry is one line, `name TAB head TAB bodies`: the head (everything but
the bodies, with a checksum of them) is parsed when the file's key is checked; the
bodies, most of the bytes, only when a command reads them; an entry still valid is
written back as the line it was."""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from personactl.compile.personas import CompiledResource, Cut, FileResult
from personactl.compile.templating import RefCall
from personactl.errors import Loc, Problem, UserError
from personactl.kinds import KIND_NAMES


class BadEntry(Exception):
    """A cached or received entry that is not one this code wrote."""


class DamagedCache(UserError):
    """A cache line whose bodies, checksum and all, are not what this code wrote: found
    only when they are read, after the line was accepted (an edit by hand)."""

    def __init__(self) -> None:
        super().__init__(
            "the compile cache under .personactl/cache is damaged",
            hint="delete .personactl/cache: it is rebuilt by the next command",
        )


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
        bodies = _Bodies(raw["bodies"]) if "bodies" in raw else None
        for i, (address, source, kind, *payload) in enumerate(raw["resources"]):
            body: Any = bodies.loader(i) if bodies is not None else payload[0]
            if kind not in KIND_NAMES or not (callable(body) or isinstance(body, dict)):
                raise BadEntry(kind)
            out.resources[_str(address)] = CompiledResource(address, _str(source), body, kind)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise BadEntry(str(exc)) from None
    return out


class _Bodies:
    """The bodies of one cache line, parsed together on the first one asked for.  The
    checksum was verified when the line was accepted, so they are the text written."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.parsed: list[Any] | None = None

    def loader(self, i: int) -> Callable[[], dict[str, Any]]:
        def load() -> dict[str, Any]:
            try:
                if self.parsed is None:
                    self.parsed = json.loads(self.text)
                body = self.parsed[i]
            except (ValueError, TypeError, IndexError, KeyError):
                raise DamagedCache() from None
            if not isinstance(body, dict):
                raise DamagedCache()
            return body

        return load


def to_line(name: str, data: dict[str, Any]) -> str:
    """An entry (`encode`'s, with the cache's key and env hashes) as one cache line."""
    bodies = json.dumps([payload for *_, payload in data["resources"]], separators=(",", ":"))
    head = {**data, "resources": [r[:3] for r in data["resources"]], "crc": _crc(bodies)}
    return f"{name}\t{json.dumps(head, separators=(',', ':'))}\t{bodies}"


def from_line(line: str) -> tuple[str, dict[str, Any]] | None:
    """(name, raw entry with its bodies unparsed), or None for a line of another shape."""
    parts = line.split("\t")  # JSON text escapes tabs: only the two separators are raw
    if len(parts) != 3:
        return None
    name, head, bodies = parts
    try:
        raw = json.loads(head)
    except ValueError:
        return None
    if not isinstance(raw, dict) or raw.get("crc") != _crc(bodies):
        return None
    raw["bodies"] = bodies
    return name, raw


def _crc(text: str) -> int:
    return zlib.crc32(text.encode())
