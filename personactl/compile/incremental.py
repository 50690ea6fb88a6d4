"""Incremental compile, as dbt's partial parsing: every source file (personas and the other
kinds) compiles on its own into a FileResult, cached per file and environment
(personactl.compile.cache) under a key over everything that compile read; only the files
whose inputs changed compile again.  The checks across files run on the merged results
every time: duplicate addresses here, ref() (compile/references.py) and conversations in
compile_project.  Merging in file order gives exactly what one full compile gives.

`PERSONACTL_DEBUG_COMPILE=1` prints `compiled K of N files (env): a.yaml, ...` to stderr, and
how many Jinja renders ran (the rest were reused).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from personactl.compile import cache, entries
from personactl.compile import parallel as fanout
from personactl.compile.personas import (
    CompiledResource,
    FileResult,
    compile_files,
    duplicate_address,
    folder_of,
    kind_prologue,
    source_files,
)
from personactl.compile.templating import RefCall, Renderer
from personactl.errors import Problem
from personactl.kinds import PERSONAS, RESOURCE_KINDS, Kind
from personactl.project import Environment, Project

DEBUG_ENV = "PERSONACTL_DEBUG_COMPILE"
KINDS: tuple[Kind, ...] = (PERSONAS, *RESOURCE_KINDS)  # the order resources compile in


def sources(project: Project) -> list[tuple[Kind, Path]]:
    return [(kind, p) for kind in KINDS for p in source_files(folder_of(project, kind))]


class Stored:
    """The cached entries of one environment, checked against the files as they are."""

    def __init__(self, project: Project, env: Environment) -> None:
        self.project = project
        self.common, self.lines = cache.load_files(project, env)
        self.valid: dict[Path, str] = {}  # path -> its cache line, when valid

    def get(self, path: Path) -> FileResult | None:
        """The cached compile of `path` if none of its inputs changed."""
        line = self.lines.get(entries.shown(self.project.root, path))
        parsed = entries.from_line(line) if line is not None else None
        if line is None or parsed is None:
            return None
        raw = parsed[1]
        try:
            if not isinstance(raw.get("inputs"), list):
                return None
            if raw.get("key") != cache.file_key(self.project, self.common, raw["inputs"]):
                return None
            if not cache.env_unchanged(raw["env"]):
                return None
            found = entries.decode(path, raw, self.project.root, with_inputs=False)
        except (entries.BadEntry, TypeError, AttributeError):
            return None
        # the entry holds hashes: the values are the current ones, which match them
        found.env_reads = {name: os.environ.get(name) for name in found.env_reads}
        self.valid[path] = line
        return found

    def line(self, path: Path, result: FileResult) -> str:
        kept = self.valid.get(path)
        if kept is not None:  # served from the cache and not compiled since: as it was
            return kept
        data = entries.encode(result, self.project.root)
        data["env"] = cache.value_hashes(result.env_reads)
        data["key"] = cache.file_key(self.project, self.common, data["inputs"])
        return entries.to_line(entries.shown(self.project.root, path), data)


def compile_all(
    project: Project,
    env: Environment,
    renderer: Renderer,
    problems: list[Problem],
    extra_vars: Mapping[str, Any] | None = None,
    *,
    cached: bool = False,
) -> dict[str, CompiledResource]:
    """Every resource of every kind, merged in file order; with `cached` (and no
    `extra_vars`, which no entry is keyed on), unchanged files come from the cache.
    Leaves the merged env() reads, ref() calls and secret() names on `renderer`."""
    files = sources(project)
    stored = Stored(project, env) if cached and not extra_vars and cache.enabled() else None
    results: dict[Path, FileResult] = {}
    if stored is not None:
        for _kind, path in files:
            if (found := stored.get(path)) is not None:
                results[path] = found
    missing = [(kind, path) for kind, path in files if path not in results]
    results.update(fanout.compile_missing(project, env, renderer, missing, extra_vars))
    compiled = {path for _kind, path in missing}
    secrets = _in_secret_order(project, env, renderer, files, results, extra_vars, compiled)
    resources = _merge(env, files, results, renderer, problems)
    renderer.secret_calls = secrets
    if stored is not None and (compiled or len(stored.lines) != len(files)):
        for path in compiled:
            stored.valid.pop(path, None)
        lines = [stored.line(p, results[p]) for _k, p in files]
        cache.store_files(project, env, stored.common, lines)
    if os.environ.get(DEBUG_ENV):
        names = [project.shown(p) for _k, p in files if p in compiled]
        print(
            f"compiled {len(names)} of {len(files)} files ({env.name}): {', '.join(names)}",
            file=sys.stderr,
        )
        print(
            f"compiled with {renderer.renders} Jinja renders in this process ({env.name})",
            file=sys.stderr,
        )
    return resources


def from_cache(project: Project, env: Environment) -> dict[str, CompiledResource] | None:
    """Every resource from the cache, when every file's entry is valid (else None)."""
    if not cache.enabled():
        return None
    stored = Stored(project, env)
    files = sources(project)
    results = {}
    for _kind, path in files:
        if (found := stored.get(path)) is None:
            return None
        results[path] = found
    resources: dict[str, CompiledResource] = {}
    problems: list[Problem] = []
    for _kind, path in files:
        _merge_file(results[path], resources, {}, problems)
    return resources


def _in_secret_order(
    project: Project,
    env: Environment,
    renderer: Renderer,
    files: list[tuple[Kind, Path]],
    results: dict[Path, FileResult],
    extra_vars: Mapping[str, Any] | None,
    compiled: set[Path],
) -> set[str]:
    """env() refuses a name an earlier file passed to secret(): a file whose refusals differ
    from those it was compiled under (cached, or compiled in the other process) compiles
    again, in order.  Returns every secret() name."""
    secrets: set[str] = set()
    for kind, path in files:
        result = results[path]
        if any(renderer.refusal(n, secrets) != why for n, why in result.env_asked.items()):
            result = compile_files(project, env, kind, renderer, [path], extra_vars, secrets)[0]
            results[path] = result
            compiled.add(path)
        secrets |= result.secret_calls
    return secrets


def _merge(
    env: Environment,
    files: list[tuple[Kind, Path]],
    results: dict[Path, FileResult],
    renderer: Renderer,
    problems: list[Problem],
) -> dict[str, CompiledResource]:
    """The files' results in order, as one compile over all of them reports them: a
    target whose address an earlier file defined is a duplicate, its rendering dropped."""
    resources: dict[str, CompiledResource] = {}
    ref_calls: dict[RefCall, None] = {}
    env_reads: dict[str, str | None] = {}
    for kind in KINDS:
        kind_prologue(env, kind, problems)
        for path in (p for k, p in files if k is kind):
            _merge_file(results[path], resources, ref_calls, problems)
            env_reads.update(results[path].env_reads)
    renderer.env_reads, renderer.ref_calls = env_reads, ref_calls
    return resources


def _merge_file(
    result: FileResult,
    resources: dict[str, CompiledResource],
    ref_calls: dict[RefCall, None],
    problems: list[Problem],
) -> None:
    cuts = result.cuts
    problems.extend(result.problems[: cuts[0].problem if cuts else None])
    for i, cut in enumerate(cuts):
        end = cuts[i + 1] if i + 1 < len(cuts) else None
        end_problem = end.problem if end else len(result.problems)
        if cut.address is None:
            problems.extend(result.problems[cut.problem : end_problem])
            continue
        problems.extend(result.problems[cut.problem : cut.rendered])
        if cut.address in resources:
            duplicate_address(cut.address, cut.loc, resources, problems)
            continue
        problems.extend(result.problems[cut.rendered : end_problem])
        end_ref = end.ref if end else len(result.ref_calls)
        ref_calls.update(dict.fromkeys(result.ref_calls[cut.ref : end_ref]))
        resources[cut.address] = result.resources[cut.address]
