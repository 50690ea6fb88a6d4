"""Ctrl-C during apply (DESIGN §5): the real CLI in a subprocess against a real server.

The first SIGINT starts no new change, lets those in flight finish and be recorded,
reports what was done and what was not, and exits 130; the second abandons the
requests in flight, which stay journaled as pending for the next apply to find.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from personactl.deploy.state.file import FileStore
from tests.conftest import assert_no_secrets
from tests.serverfix import LiveServer, server  # noqa: F401
from tests.test_faults import ENV, apply, assert_converged, deployed, make_repo, state_file

COUNT = 12
MANY = 25  # enough for more than ten not started after an interrupt
PARALLELISM = 2


def start_apply(repo: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "personactl", "apply", "--auto-approve"]
        + ["--parallelism", str(PARALLELISM)],
        cwd=repo,
        env={**os.environ, **ENV, "CI": "true"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def creates(live: LiveServer) -> int:
    return int(live.stats()["requests"].get("POST /v2/personas", 0))


def wait_for_creates(live: LiveServer, proc: subprocess.Popen[str], at_least: int) -> int:
    deadline = time.monotonic() + 60
    while (seen := creates(live)) < at_least:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "apply sent no creates"
        time.sleep(0.01)
    return seen


def test_first_interrupt_finishes_in_flight_and_starts_nothing_new(
    tmp_path: Path,
    server: LiveServer,  # noqa: F811
) -> None:
    repo = make_repo(tmp_path, server.url, MANY)
    server.set_faults(latency_ms=250)
    proc = start_apply(repo)
    at_signal = wait_for_creates(server, proc, 3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    sent = creates(server)
    # in flight at the signal: at most one per worker (one may have been on its way)
    assert at_signal <= sent <= at_signal + PARALLELISM and sent < MANY
    made = deployed(server)
    assert len(made) == sent
    state = FileStore(state_file(repo), "remote").load()
    # every persona the server has is in state, and nothing is left pending
    assert sorted(r.id for r in state.resources.values()) == sorted(p["persona_id"] for p in made)
    assert state.pending == {}
    assert "SIGINT: starting no new change; waiting for those in flight to finish" in err
    summary = (
        f"Apply interrupted: {sent} created, 0 updated, 0 deleted, 0 failed; "
        f"{MANY - sent} not started."
    )
    assert summary in out.splitlines()
    # past ten addresses the rest is counted: the line stays readable
    not_started = [f"create {a}" for a in sorted(set(names(MANY)) - set(state.resources))]
    assert (
        f"Not started (run apply again to finish): {', '.join(not_started[:10])}, "
        f"… and {len(not_started) - 10} more"
    ) in err.splitlines()
    assert re.search(rf"^\[{sent}/{MANY} [\d.]+s\] p\d\d: created$", err, re.M)
    assert_no_secrets(out, err, root=repo)

    server.set_faults(latency_ms=0)
    again = apply(repo)
    assert f"Apply complete: {MANY - sent} created" in again.out, again.both
    assert_converged(repo, server, MANY)


def test_second_interrupt_abandons_in_flight_creates_as_pending(
    tmp_path: Path,
    server: LiveServer,  # noqa: F811
) -> None:
    repo = make_repo(tmp_path, server.url, COUNT)
    server.set_faults(latency_ms=3000)
    proc = start_apply(repo)
    wait_for_creates(server, proc, PARALLELISM)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    second = time.monotonic()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    assert time.monotonic() - second < 2.5  # did not wait out the 3 s requests
    assert (
        f"Apply interrupted: 0 created, 0 updated, 0 deleted, 0 failed; "
        f"{PARALLELISM} abandoned in flight, {COUNT - PARALLELISM} not started."
    ) in out.splitlines()
    assert "Abandoned in flight (the next apply finds any that happened): create p" in err
    pending = FileStore(state_file(repo), "remote").load().pending
    assert len(pending) == PARALLELISM
    assert_no_secrets(out, err, root=repo)

    server.set_faults(latency_ms=0)
    time.sleep(3.2)  # the abandoned requests may still complete on the server
    again = apply(repo)
    assert again.code == 0, again.both
    assert_converged(repo, server, COUNT)


def names(count: int) -> list[str]:
    return [f"p{i:02d}" for i in range(1, count + 1)]
