"""Compile many files in two processes on a multi-core machine.

A cold `validate` spends about a third of its time importing pydantic and
building its models and the rest compiling, all of it CPU-bound Python.  Forking before
those imports lets a child import and compile the second half of the persona
files to compile (all of them cold, the changed ones when incremental) while this
process does the first half; the child sends back its files' results as JSON
(personactl.compile.entries: positions are only needed while compiling).  Few files,
a process with one usable core (a one-core machine, `taskset -c 0`) and platforms
without fork() stay sequential, and any failure of the child falls back to compiling
its half here.
"""

from __future__ import annotations

import json
import os
import pickle
import select
import signal
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from personactl.compile.entries import BadEntry, decode, encode
from personactl.compile.personas import FileResult, compile_files
from personactl.compile.templating import Renderer
from personactl.kinds import PERSONAS, RESOURCE_KINDS, Kind
from personactl.project import Environment, Project

# Below this many persona files the fork costs more than it saves.
MIN_FILES = 128


# A child that has not answered by then is stuck (fork copies locks held by other
# threads): it is killed and its half compiled here.
CHILD_TIMEOUT_S = 120.0


def usable_cpus() -> int:
    """CPUs this process may run on: `taskset -c 0` or a container's cpuset leave
    os.cpu_count() at the machine's count, and a fork there only competes for the core."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _worth_it(files: list[Path]) -> bool:
    return (
        len(files) >= MIN_FILES
        and usable_cpus() > 1
        and hasattr(os, "fork")
        # forking a multi-threaded process (a library caller's server) is not safe
        and threading.active_count() == 1
    )


def _read_child(read_fd: int, pid: int) -> bytes | None:
    """Everything the child wrote, or None if it failed or did not finish in time."""
    chunks = []
    deadline = time.monotonic() + CHILD_TIMEOUT_S
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([pipe], [], [], left)[0]:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return None
            chunk = pipe.read(1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    return b"".join(chunks) if os.waitstatus_to_exitcode(status) == 0 else None


def compile_missing(
    project: Project,
    env: Environment,
    renderer: Renderer,
    files: list[tuple[Kind, Path]],
    extra_vars: Mapping[str, Any] | None = None,
) -> dict[Path, FileResult]:
    """Each of `files` compiled on its own: persona files in two processes when there are
    many, the other kinds (a handful of files each) here."""
    persona_files = [path for kind, path in files if kind is PERSONAS]
    results = {r.path: r for r in _personas(project, env, renderer, persona_files, extra_vars)}
    for kind in RESOURCE_KINDS:
        mine = [path for k, path in files if k is kind]
        if mine:
            for r in compile_files(project, env, kind, renderer, mine, extra_vars):
                results[r.path] = r
    return results


def _personas(
    project: Project,
    env: Environment,
    renderer: Renderer,
    files: list[Path],
    extra_vars: Mapping[str, Any] | None,
) -> list[FileResult]:
    def compile_personas(chosen: list[Path]) -> list[FileResult]:
        return compile_files(project, env, PERSONAS, renderer, chosen, extra_vars)

    if not _worth_it(files):
        return compile_personas(files)
    half = len(files) // 2
    mine, theirs = files[:half], files[half:]
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: compile `theirs`, send the result, exit without cleanup
        os.close(read_fd)
        code = 0
        try:
            # plain data as one C-speed JSON encode, positions dropped
            sent = json.dumps([encode(r, project.root) for r in compile_personas(theirs)])
            encoded = pickle.dumps(sent, protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_fd, "wb") as pipe:
                pipe.write(encoded)
        except BaseException:  # noqa: BLE001 - the parent compiles this half itself
            code = 1
        os._exit(code)
    os.close(write_fd)
    compiled = compile_personas(mine)
    data = _read_child(read_fd, pid)
    try:
        if data is None:
            raise ValueError("the child failed")
        received = json.loads(pickle.loads(data))
        more = [decode(path, raw, project.root) for path, raw in zip(theirs, received, strict=True)]
    except (ValueError, pickle.UnpicklingError, EOFError, TypeError, BadEntry):
        more = compile_personas(theirs)
    return [*compiled, *more]
