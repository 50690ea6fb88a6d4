"""A cache of compile results under .personactl/cache (as dbt's partial parsing).

Two files per environment:

- `validate-<env>.json`: what `validate` reports (problems and counts), under one key over
  the bytes of every file under personas/, objectives/, guardrails/, tools/, templates/
  and conversations/ plus personactl.yaml and the data files of `variants_from`, the
  environment's name, personactl's own code
  and Python; valid while the environment variables templates read with env() hold the
  values they had.  A hit skips loading the compiler (pydantic, jsonschema, Jinja).
- `files-<env>.json`: each source file's own compile (personactl.compile.incremental),
  under a key over what that file's compile read: its bytes, its bases', the templates it
  loaded, personactl.yaml (the environment), the code, plus the values its env() calls
  read.  After an edit only the files whose inputs changed compile again.

Secret values never matter to a compile and are in neither.  Payloads hold secret
*placeholders* (names), never values.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from personactl.compile import variants
from personactl.errors import Loc, Problem
from personactl.output import write_atomic
from personactl.project import PROJECT_FILE, Environment, Project, files_under

_CODE = Path(__file__).parent.parent  # the whole package: schema/, kinds.py, refs.py count too
DISABLE_ENV = "PERSONACTL_NO_CACHE"


@dataclass(frozen=True)
class Summary:
    """What `validate` reports."""

    problems: list[Problem]
    personas: int
    conversations: int
    resources: dict[str, int] = field(default_factory=dict)  # kind -> count, other kinds


@functools.cache
def _code_version() -> str:
    h = hashlib.sha256(f"{sys.version}\0".encode())
    for code in sorted(_CODE.rglob("*.py")):
        stat = code.stat()
        h.update(f"{code.relative_to(_CODE)}\0{stat.st_mtime_ns}\0{stat.st_size}\0".encode())
    return h.hexdigest()


class Digests:
    """sha256 of the repository's files, each read once per Digests (one per command run:
    see digests())."""

    ABSENT = "absent"  # a file looked for and not there (a base or template not yet written)

    def __init__(self, project: Project) -> None:
        self.project = project
        self.root = f"{project.root}{os.sep}"
        self._known: dict[str, str] = {}  # by path string: Path objects are slow to hash
        self.mentioning: set[str] = set()  # files whose bytes hold variants.DATA_KEY

    def sources(self) -> list[Path]:
        """personactl.yaml and every file under the source folders."""
        files = [self.project.root / PROJECT_FILE]
        for folder in self.project.source_dirs:
            # files compiling refuses (links out of the folder, devices) are not read
            files.extend(files_under(folder, self.project.root))
        return sorted(files)

    def name(self, path: Path | str) -> str:
        """`path` relative to the project root when inside it (as entries name inputs)."""
        text = str(path)
        return text[len(self.root) :] if text.startswith(self.root) else text

    def of(self, path: Path | str) -> str:
        """The sha256 of the file at `path` (relative to the root, or absolute)."""
        key = os.path.join(self.root, path)  # noqa: PTH118 - strings: thousands of calls
        found = self._known.get(key)
        if found is None:
            try:
                with open(key, "rb") as f:
                    data = f.read()
                found = hashlib.sha256(data).hexdigest()
                if variants.DATA_KEY in data:
                    self.mentioning.add(key)
            except OSError:  # missing, a directory, unreadable: compiling says which
                found = self.ABSENT
            self._known[key] = found
        return found


_digests: tuple[Project, Digests] | None = None


def digests(project: Project) -> Digests:
    """The Digests of this Project object: a command loads its project once, and the
    whole-repository key and the per-file keys then read each file once."""
    global _digests
    if _digests is None or _digests[0] is not project:
        _digests = (project, Digests(project))
    return _digests[1]


def _key(project: Project, env: Environment) -> str:
    found = digests(project)
    h = hashlib.sha256(f"{_code_version()}\0{env.name}\0".encode())
    sources = found.sources()

    def add(paths: list[Path]) -> None:
        for path in paths:
            digest = found.of(path)
            if digest == Digests.ABSENT:
                raise OSError(f"cannot read {path}")
            h.update(f"{found.name(path)}\0{digest}\0".encode())

    add(sources)
    # the data files variants_from names may live anywhere in the project (data/)
    add(variants.data_files(project, [p for p in sources if str(p) in found.mentioning]))
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
) -> None:
    """Record a compile's summary (the per-file entries are stored by store_files)."""
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
        write_atomic(_path(project, env), json.dumps(data, sort_keys=True) + "\n", durable=False)


# --- per-file entries (personactl.compile.incremental): one file per environment


def _common_key(project: Project, env: Environment) -> str:
    """What every file's compile sees: personactl's code, Python, the environment (its
    vars, overrides and api all live in personactl.yaml)."""
    found = digests(project).of(project.root / PROJECT_FILE)
    return hashlib.sha256(f"{_code_version()}\0{env.name}\0{found}".encode()).hexdigest()


def file_key(project: Project, common: str, inputs: list[str]) -> str:
    """The key of one file's entry: `common` and the bytes of every input it read
    (`inputs`: as entries.shown names them)."""
    found = digests(project)
    h = hashlib.sha256(common.encode())
    for name in inputs:
        h.update(f"\0{name}\0{found.of(name)}".encode())
    return h.hexdigest()


def env_unchanged(hashes: dict[str, Any]) -> bool:
    """Do the variables an entry's env() read still hold the values it saw?"""
    return all(_value_hash(os.environ.get(n)) == h for n, h in hashes.items())


def enabled() -> bool:
    return not os.environ.get(DISABLE_ENV)


def load_files(project: Project, env: Environment) -> tuple[str, dict[str, str]]:
    """The common key, and the entry lines (source path -> line) stored under it."""
    common = _common_key(project, env)
    try:
        text = _path(project, env, "files").read_text(encoding="utf-8")
    except (OSError, ValueError):
        return common, {}
    header, _, rest = text.partition("\n")
    if header != _files_header(common):
        return common, {}
    lines = {}
    for line in rest.splitlines():
        name, _, _ = line.partition("\t")
        lines[name] = line
    return common, lines


def _files_header(common: str) -> str:
    return json.dumps({"format": "lines-1", "key": common})


def store_files(project: Project, env: Environment, common: str, lines: list[str]) -> None:
    """`lines`: the entry line of every source file of this compile (personactl.compile.
    entries.to_line; env values as hashes): the entries of deleted files are gone."""
    with contextlib.suppress(OSError):
        text = "\n".join([_files_header(common), *lines]) + "\n"
        write_atomic(_path(project, env, "files"), text, durable=False)


def forget_files(project: Project, env: Environment) -> None:
    """Drop the per-file entries (found damaged)."""
    with contextlib.suppress(OSError):
        _path(project, env, "files").unlink()


def value_hashes(reads: dict[str, str | None]) -> dict[str, str | None]:
    return {n: _value_hash(v) for n, v in sorted(reads.items())}
