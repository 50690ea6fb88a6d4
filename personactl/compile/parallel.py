"""Compile a large repository in two processes on a multi-core machine.

A cold `validate` spends about a third of its time importing pydantic and
building its models and the rest compiling, all of it CPU-bound Python.  Forking before
those imports lets a child import and compile the second half of the persona
files while this process does the first half; the child sends back its
payloads as JSON (positions are only needed while compiling) and its problems.  Small
repositories, a process with one usable core (a one-core machine, `taskset -c 0`) and
platforms without fork() stay sequential, and any failure of the child falls back
to compiling its half here.
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

from personactl.compile.personas import (
    CompiledResource,
    compile_resources,
    duplicate_address,
    folder_of,
    source_files,
)
from personactl.compile.templating import Renderer
from personactl.errors import Loc, Problem
from personactl.kinds import PERSONAS, RESOURCE_KINDS
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


def compile_all(
    project: Project,
    env: Environment,
    renderer: Renderer,
    problems: list[Problem],
    extra_vars: Mapping[str, Any] | None = None,
) -> dict[str, CompiledResource]:
    """Every resource of every kind: personas (in two processes when worth it), then the
    other kinds (a handful of files each) here."""
    compiled = _personas(project, env, renderer, problems, extra_vars)
    for kind in RESOURCE_KINDS:
        compiled.update(compile_resources(project, env, kind, renderer, problems, extra_vars))
    return compiled


def _personas(
    project: Project,
    env: Environment,
    renderer: Renderer,
    problems: list[Problem],
    extra_vars: Mapping[str, Any] | None,
) -> dict[str, CompiledResource]:
    def compile_personas(found: list[Problem], files: list[Path]) -> dict[str, CompiledResource]:
        return compile_resources(project, env, PERSONAS, renderer, found, extra_vars, files)

    files = source_files(folder_of(project, PERSONAS))
    if not _worth_it(files):
        return compile_personas(problems, files)
    half = len(files) // 2
    mine, theirs = files[:half], files[half:]
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: compile `theirs`, send the result, exit without cleanup
        os.close(read_fd)
        code = 0
        try:
            child_problems: list[Problem] = []
            personas = compile_personas(child_problems, theirs)
            # payloads as one C-speed JSON encode: plain data, positions dropped
            payloads = json.dumps([[p.address, p.source, p.payload] for p in personas.values()])
            result = (payloads, child_problems, renderer.env_reads, renderer.ref_calls)
            encoded = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_fd, "wb") as pipe:
                pipe.write(encoded)
        except BaseException:  # noqa: BLE001 - the parent compiles this half itself
            code = 1
        os._exit(code)
    os.close(write_fd)
    compiled = compile_personas(problems, mine)
    data = _read_child(read_fd, pid)
    try:
        if data is None:
            raise ValueError("the child failed")
        payloads, child_problems, env_reads, ref_calls = pickle.loads(data)
        entries = json.loads(payloads)
    except (ValueError, pickle.UnpicklingError, EOFError):
        more = compile_personas(problems, theirs)
        return _merge(compiled, more.values(), problems)
    problems.extend(child_problems)
    renderer.env_reads.update(env_reads)
    renderer.ref_calls.update(ref_calls)
    return _merge(compiled, (CompiledResource(*entry) for entry in entries), problems)


def _merge(
    compiled: dict[str, CompiledResource], more: Any, problems: list[Problem]
) -> dict[str, CompiledResource]:
    for persona in more:
        if persona.address in compiled:
            duplicate_address(persona.address, Loc(persona.source, 1, 1), compiled, problems)
            continue
        compiled[persona.address] = persona
    return compiled
