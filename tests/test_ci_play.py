"""Plays CI (DESIGN §7): fresh clones of a persona repository — no `.personactl/`, an
empty HOME, `CI=true` — applying against one PostgreSQL state and a real `personactl
serve` on 127.0.0.1 (the tavus backend over HTTP).

Runs in turn: the second creates nothing.  Two at once: one fails fast naming the
holder.  One killed with SIGKILL mid-apply: the next succeeds, with no unlock and no
duplicates.
"""

from __future__ import annotations

import getpass
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import SECRETS, assert_no_secrets, build_tree
from tests.serverfix import free_port, running, serve_cmd
from tests.test_faults import BASE

API_KEY = "ci-tavus-key-0123456789"
PASSWORD = "ci-state-pw-DO-NOT-LEAK"  # in the DSN; trust authentication ignores it


@dataclass
class Serve:
    """A `personactl serve` subprocess."""

    url: str
    proc: subprocess.Popen[bytes]

    def faults(self, **changes: Any) -> None:
        httpx.post(f"{self.url}/_faults", json=changes).raise_for_status()

    def requests(self, route: str) -> int:
        return int(httpx.get(f"{self.url}/_stats").json()["requests"].get(route, 0))

    def reset_stats(self) -> None:
        httpx.delete(f"{self.url}/_stats").raise_for_status()

    def persona_names(self) -> Counter[str]:
        resp = httpx.get(
            f"{self.url}/v2/personas",
            params={"limit": 1000, "page": 1, "persona_type": "user"},
            headers={"x-api-key": API_KEY},
        )
        resp.raise_for_status()
        return Counter(p["persona_name"] for p in resp.json()["data"])


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    port = free_port()
    args = ["--db", str(tmp_path / "serve.sqlite"), "--api-key", API_KEY]
    with running(serve_cmd(port, *args), port) as served:
        yield Serve(served.url, served.proc)


@dataclass
class Repo:
    origin: Path
    names: list[str]  # persona_name of every configured persona


def persona_repo(root: Path, url: str, count: int) -> Repo:
    """A git repository as a team keeps it: prod on the API at `url`, state in postgres."""
    files = {
        "personactl.yaml": f"""
            version: 1
            default_environment: prod
            environments:
              prod:
                backend: tavus
                api_url: {url}
                state: {{backend: postgres, dsn_env: PERSONACTL_STATE_DSN}}
            """,
        ".gitignore": ".personactl/\n",
        "personas/_bases/base.yaml": BASE,
    }
    for i in range(1, count + 1):
        files[f"personas/p{i:02d}.yaml"] = f"""
            extends: [_bases/base.yaml]
            persona:
              persona_name: Persona {i:02d}
              system_prompt: You are persona number {i}.
            """
    origin = build_tree(root / "origin", files)
    git(origin, "init", "-q", "-b", "main")
    commit(origin, "personas")
    return Repo(origin, [f"Persona {i:02d}" for i in range(1, count + 1)])


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", message)


def fresh_clone(repo: Repo, root: Path, name: str) -> Path:
    """A checkout as a runner makes one: nothing but what git holds."""
    dest = root / name
    git(root, "clone", "-q", str(repo.origin), str(dest))
    assert not (dest / ".personactl").exists()
    return dest


def runner_env(root: Path, dsn: str) -> dict[str, str]:
    """What a CI job has: PATH, an empty HOME, CI=true and the repository's secrets."""
    home = root / "empty-home"
    home.mkdir(exist_ok=True)
    assert not any(home.iterdir())
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "CI": "true",
        "NO_COLOR": "1",
        "TAVUS_API_KEY": API_KEY,
        "PERSONACTL_STATE_DSN": dsn,
        **SECRETS,
    }


def apply_in(checkout: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "personactl", "apply", "--auto-approve", *args],
        cwd=checkout,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(proc: subprocess.Popen[str], code: int = 0) -> str:
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == code, out + err
    assert PASSWORD not in out + err
    assert_no_secrets(out, err)
    return out + err


def state_dsn(pg_dsn: str) -> str:
    return pg_dsn.replace("postgres@", f"postgres:{PASSWORD}@")


def recorded(dsn: str) -> int:
    """Resources committed to the shared state so far (read by another connection)."""
    with psycopg.connect(dsn) as conn:
        exists = conn.execute("SELECT to_regclass('personactl_resources')").fetchone()
        if not exists or exists[0] is None:
            return 0
        row = conn.execute("SELECT count(*) FROM personactl_resources").fetchone()
    return int(row[0]) if row else 0


def wait_until(check: Any, proc: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 120
    while not check():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_fresh_clones_applying_in_turn_create_each_persona_once(
    tmp_path: Path, serve: Serve, pg_dsn: str
) -> None:
    repo = persona_repo(tmp_path, serve.url, 6)
    env = runner_env(tmp_path, state_dsn(pg_dsn))
    first = fresh_clone(repo, tmp_path, "run-1")
    out = finished(apply_in(first, env))
    assert "Apply complete: 6 created, 0 updated, 0 deleted" in out, out
    assert serve.requests("POST /v2/personas") == 6
    assert serve.persona_names() == Counter(repo.names)

    serve.reset_stats()
    second = fresh_clone(repo, tmp_path, "run-2")
    out = finished(apply_in(second, env))
    assert "No changes." in out, out
    assert serve.requests("POST /v2/personas") == 0  # the second run creates nothing
    assert serve.requests("PATCH /v2/personas/{persona_id}") == 0
    assert serve.persona_names() == Counter(repo.names)

    # the next push to main: one persona changed, a third fresh runner updates just it
    (repo.origin / "personas" / "p03.yaml").write_text(
        (repo.origin / "personas" / "p03.yaml").read_text().replace("number 3", "three")
    )
    commit(repo.origin, "p03 speaks differently")
    serve.reset_stats()
    out = finished(apply_in(fresh_clone(repo, tmp_path, "run-3"), env))
    assert "Apply complete: 0 created, 1 updated, 0 deleted" in out, out
    assert serve.requests("POST /v2/personas") == 0
    assert serve.requests("PATCH /v2/personas/{persona_id}") == 1
    assert serve.persona_names() == Counter(repo.names)
    for checkout in (first, second):
        assert_no_secrets(root=checkout)
    assert not list(first.glob(".personactl/state*"))  # the state is in the database only


def test_two_at_once_one_fails_fast_naming_the_holder(
    tmp_path: Path, serve: Serve, pg_dsn: str
) -> None:
    count = 10
    repo = persona_repo(tmp_path, serve.url, count)
    env = runner_env(tmp_path, state_dsn(pg_dsn))
    laptop, ci = fresh_clone(repo, tmp_path, "laptop"), fresh_clone(repo, tmp_path, "ci")
    serve.faults(latency_ms=400)  # the first apply holds the lock for several seconds
    holder = apply_in(laptop, env, "--parallelism", "1")
    wait_until(lambda: serve.requests("POST /v2/personas") >= 1, holder, "no create was sent")
    started = time.monotonic()
    refused = finished(apply_in(ci, env), code=1)
    took = time.monotonic() - started
    assert holder.poll() is None, "the holder finished before the second apply asked"
    user, host = getpass.getuser(), socket.gethostname()
    held = f"held by {user}@{host} (pid {holder.pid}) running apply"
    line = re.escape(f"error: state is locked: {held}")
    assert re.search(rf"^{line} since \d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00 ", refused, re.M), (
        refused
    )
    assert took < 20, f"the refused apply took {took:.1f} s"  # it did not wait for the lock
    finished(holder)
    assert serve.requests("POST /v2/personas") == count  # the refused run sent nothing
    assert serve.persona_names() == Counter(repo.names)
    serve.faults(latency_ms=0)
    assert "No changes." in finished(apply_in(ci, env))


def test_a_killed_apply_is_finished_by_the_next_run_without_unlock(
    tmp_path: Path, serve: Serve, pg_dsn: str
) -> None:
    count = 10
    dsn = state_dsn(pg_dsn)
    repo = persona_repo(tmp_path, serve.url, count)
    env = runner_env(tmp_path, dsn)
    serve.faults(latency_ms=200)
    killed = apply_in(fresh_clone(repo, tmp_path, "cancelled"), env, "--parallelism", "2")
    try:
        wait_until(lambda: recorded(dsn) >= 3, killed, "nothing was recorded")
    finally:
        killed.send_signal(signal.SIGKILL)  # a cancelled runner: no cleanup at all
        killed.communicate(timeout=30)
    assert killed.returncode == -signal.SIGKILL
    done = recorded(dsn)
    assert 3 <= done < count, "killed too late to test anything"
    time.sleep(0.5)  # requests already in flight reach the server
    serve.faults(latency_ms=0)
    out = finished(apply_in(fresh_clone(repo, tmp_path, "next"), env))  # no `state unlock`
    assert "Apply complete:" in out, out
    assert serve.persona_names() == Counter(repo.names)  # each once: no duplicates
    assert recorded(dsn) == count
    assert "No changes." in finished(apply_in(fresh_clone(repo, tmp_path, "after"), env))
