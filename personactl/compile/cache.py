"""A cache of `validate` results under .personactl/cache (as dbt's partial parsing).

The key covers everything a result depends on: the bytes of every file under
personas/, objectives/, guardrails/, tools/, templates/ and conversations/ plus
personactl.yaml and the data files of `variants_from`, the environment's
name, personactl's own code, and the values of environment variables templates
read with env().  Secret values never matter to validation and are not part of
it.  A hit skips loading the compiler (pydantic, jsonschema, Jinja) entirely.

Two files per environment: `validate-<env>.json` (problems and counts, all
`validate` needs) and, for an error-free compile, `personas-<env>.json` (the
compiled payloads of every kind, for plan/apply/import).  Payloads hold secret
*placeholders* (names), never values.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from personactl.compile import variants
from personactl.errors import Loc, Problem
from personactl.kinds import KIND_NAMES
from personactl.output import write_atomic
from personactl.project import PROJECT_FILE, Environment, Project

_CODE = Path(__file__).parent.parent  # the whole package: schema/, kinds.py, refs.py count too
DISABLE_ENV = "PERSONACTL_NO_CACHE"


@dataclass(frozen=True)
class Summary:
    """What `validate` reports."""

    problems: list[Problem]
    personas: int
    conversations: int
    resources: dict[str, int] = field(default_factory=dict)  # kind -> count, other kinds


def _key(project: Project, env: Environment) -> str:
    h = hashlib.sha256(f"{sys.version}\0{env.name}\0".encode())
    for code in sorted(_CODE.rglob("*.py")):
        stat = code.stat()
        h.update(f"{code.relative_to(_CODE)}\0{stat.st_mtime_ns}\0{stat.st_size}\0".encode())
    files = [project.root / PROJECT_FILE]
    for folder in project.source_dirs:
        if folder.is_dir():
            # files compiling refuses (links out of the folder, devices) are not read
            files.extend(
                p for p in folder.rglob("*") if p.is_file() and project.confined(p, folder)
            )
    # the data files variants_from names may live anywhere in the project (data/)
    files.extend(variants.data_files(project, files))
    for path in sorted(set(files)):
        h.update(f"{path.relative_to(project.root)}\0".encode())
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def _value_hash(value: str | None) -> str | None:
    return None if value is None else hashlib.sha256(value.encode()).hexdigest()


def _path(project: Project, env: Environment, kind: str = "validate") -> Path:
    return project.workdir / "cache" / f"{kind}-{env.name}.json"


def _read(path: Path, key: str) -> dict[str, Any] | None:
    """The JSON object in `path` if it was written under `key`; anything else is ignored.
    A cache is never trusted: a file of another shape is as good as none."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return raw if isinstance(raw, dict) and raw.get("key") == key else None


def _entry_ok(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("source"), str)
        and isinstance(entry.get("payload"), dict)
        and entry.get("kind", "personas") in KIND_NAMES
    )


def load_personas(project: Project, env: Environment, key: str) -> dict[str, Any] | None:
    """address -> {"source", "payload", "kind"} from an error-free compile with this key."""
    raw = _read(_path(project, env, "personas"), key) if key else None
    personas = raw.get("personas") if raw else None
    if not isinstance(personas, dict) or not all(map(_entry_ok, personas.values())):
        return None
    return personas


def _problem(entry: Any) -> Problem:
    """A cached problem; TypeError/KeyError/ValueError when it is not one."""
    loc = entry.get("loc")
    if loc is not None:
        path, line, col = loc
        if not (isinstance(path, str) and isinstance(line, int) and isinstance(col, int)):
            raise TypeError(loc)
    fields = (entry["message"], entry.get("hint", ""), entry.get("warning", False))
    if not (isinstance(fields[0], str) and isinstance(fields[1], str)):
        raise TypeError(entry)
    subjects = entry.get("subjects", [])
    if not all(isinstance(s, str) for s in subjects):
        raise TypeError(entry)
    return Problem(
        Loc(*loc) if loc else None, fields[0], fields[1], fields[2] is True, tuple(subjects)
    )


def load(project: Project, env: Environment) -> tuple[str, Summary | None]:
    """The cache key, and the cached summary when it is still valid."""
    if os.environ.get(DISABLE_ENV):
        return "", None
    try:
        key = _key(project, env)
    except OSError:  # an unreadable file: compiling reports it where it is
        return "", None
    raw = _read(_path(project, env), key)
    if raw is None:
        return key, None
    try:
        reads = raw.get("env_reads", {})
        for name, digest in reads.items():
            if _value_hash(os.environ.get(name)) != digest:
                return key, None
        problems = [_problem(p) for p in raw.get("problems", [])]
        counts = raw.get("personas", 0), raw.get("conversations", 0)
        resources = dict(raw.get("resources", {}))
        if not all(isinstance(n, int) for n in (*counts, *resources.values())):
            raise TypeError(counts)
    except (TypeError, KeyError, ValueError, AttributeError):
        return key, None
    return key, Summary(problems, *counts, resources)


def store(
    project: Project,
    env: Environment,
    key: str,
    summary: Summary,
    env_reads: dict[str, str | None],
    personas: dict[str, Any] | None = None,
) -> None:
    """Record a compile; `personas` (address -> {"source", "payload", "kind"}, every kind)
    only if error-free."""
    if not key:
        return
    data: dict[str, Any] = {
        "key": key,
        "env_reads": {n: _value_hash(v) for n, v in sorted(env_reads.items())},
        "personas": summary.personas,
        "conversations": summary.conversations,
        "resources": summary.resources,
        "problems": [
            {
                "loc": [p.loc.path, p.loc.line, p.loc.col] if p.loc else None,
                "message": p.message,
                "hint": p.hint,
                "warning": p.warning,
                "subjects": list(p.subjects),
            }
            for p in summary.problems
        ],
    }
    with contextlib.suppress(OSError):  # a read-only checkout still works, uncached
        # payloads first: a reader trusts them only through the summary's key
        if personas is not None:
            write_atomic(
                _path(project, env, "personas"),
                # key order as compiled (the file's order): plans read from the cache
                # must list fields exactly as a fresh compile does
                json.dumps({"key": key, "personas": personas}) + "\n",
            )
        write_atomic(_path(project, env), json.dumps(data, sort_keys=True) + "\n")
