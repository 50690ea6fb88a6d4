"""The official Tavus CLI (`tavus-cli` from the package index) as a real client of
`personactl serve`: every command runs in a subprocess against the server started by
`personactl serve` on 127.0.0.1, and the server's state is checked after it.

The CLI is installed into a throwaway venv once per test session (shared by the xdist
workers through a lock); it is never a project dependency.  No install, no pass.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from personactl.kinds import PERSONAS, TOOLS
from personactl.serve.store import Store
from tests.serverfix import free_port, running, serve_cmd

API_KEY = "cli-test-key-5e1ec7"
TOOL_TOKEN = "sk-tool-DO-NOT-LEAK-93be1f"


@pytest.fixture(scope="session")
def tavus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `tavus` executable of a venv with tavus-cli, installed once per session."""
    base = tmp_path_factory.getbasetemp()
    # this session's folder: under xdist, the parent of the workers' own folders
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    venv = shared / "tavus-cli-venv"
    exe = venv / "bin" / "tavus"
    with (shared / "tavus-cli-venv.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not exe.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            install = subprocess.run(
                [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "tavus-cli"],
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert install.returncode == 0, f"pip install tavus-cli failed:\n{install.stderr}"
    assert exe.exists(), "tavus-cli installed no `tavus` executable"
    return exe


@dataclass
class Serve:
    url: str
    db: Path

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", headers={"x-api-key": API_KEY})

    def store(self) -> Store:
        """The server's database, read directly (WAL lets a second connection in)."""
        return Store(self.db)


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    """`personactl serve` as a subprocess on a free port."""
    port = free_port()
    db = tmp_path_factory.mktemp("serve") / "serve.db"
    with running(serve_cmd(port, "--db", str(db), "--api-key", API_KEY), port) as served:
        yield Serve(served.url, db)


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def cli(tavus: Path, serve: Serve, tmp_path: Path) -> Any:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),  # no user config, no keyring: the key comes from the env
        "TAVUS_API_KEY": API_KEY,
        "TAVUS_PUBLIC_API_BASE_URL": f"{serve.url}/v2",
        "COLUMNS": "200",
    }

    def run(*args: str, code: int = 0) -> Run:
        proc = subprocess.run(
            [str(tavus), *args],
            cwd=tmp_path,  # an empty folder: no .env is read
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        result = Run(proc.returncode, proc.stdout, proc.stderr)
        assert result.code == code, f"tavus {' '.join(args)}: exit {result.code}\n{proc.stderr}"
        return result

    return run


def test_pal_create_list_get_patch_delete(cli: Any, serve: Serve, tmp_path: Path) -> None:
    created = cli(
        *("pal", "create", "--name", "Story Teller", "--system-prompt", "You tell stories."),
        *("--greeting", "Hi!", "--context", "ctx", "--face-id", "r123", "--memory", "likes dogs"),
        *("--objectives-id", "o1", "--guardrail-id", "g1", "--guardrail-tag", "safety"),
        *("--document-id", "d1", "--document-tag", "kb", "--tool-id", "t1", "--template"),
    ).json()
    pid = created["pal_id"]
    assert created["pal_name"] == "Story Teller" and created["default_face_id"] == "r123"
    # one store: the same object through /v2/personas, in the persona vocabulary
    persona = serve.get(f"/v2/personas/{pid}").json()
    assert persona["persona_name"] == "Story Teller"
    assert persona["default_replica_id"] == "r123"
    assert persona["tool_ids"] == ["t1"] and persona["memories"] == ["likes dogs"]
    assert persona["layers"]["llm"] == {"model": "tavus-gemma-4", "speculative_inference": True}

    table = cli("pal", "list").out  # GET /v2/pals?limit=25&page=0
    assert pid in table and "Story Teller" in table
    mine = cli("pal", "list", "--json", "--limit", "100", "--page", "1", "--pal-type", "user")
    assert pid in [p["pal_id"] for p in mine.json()["data"]]
    assert {p["pal_type"] for p in mine.json()["data"]} == {"user"}
    first = cli("pal", "list", "--json", "--limit", "100").json()  # page=0: the first page
    assert (
        first["data"]
        == cli("pal", "list", "--json", "--limit", "100", "--page", "1").json()["data"]
    )
    assert first["total_count"] == len(first["data"])  # with the seeded system personas

    assert cli("pal", "get", pid).json()["pal_name"] == "Story Teller"
    assert cli("pal", "get", pid, "--include-settings").json()["pal_id"] == pid

    renamed = cli("pal", "patch", pid, "--path", "/pal_name", "--value", "New Name").json()
    assert renamed["pal_name"] == "New Name"
    flow = '{"turn_commitment": "high"}'
    cli(
        "pal", "patch", pid, "--op", "add", "--path", "/layers/conversational_flow", "--value", flow
    )
    ops = tmp_path / "ops.json"
    ops.write_text(json.dumps([{"op": "replace", "path": "/default_face_id", "value": "r9"}]))
    cli("pal", "patch", pid, "--path", "/", "--patch-file", str(ops))  # --path is required
    store = serve.store()
    try:
        stored = store.get(PERSONAS, pid) or {}
    finally:
        store.close()
    assert stored["persona_name"] == "New Name" and stored["default_replica_id"] == "r9"
    assert stored["layers"]["conversational_flow"] == {"turn_commitment": "high"}

    cli("pal", "delete", pid)
    assert serve.get(f"/v2/personas/{pid}").status_code == 404
    gone = cli("pal", "get", pid, code=1)
    assert "failed with 404" in gone.out + gone.err


def test_pal_patch_of_a_draft_is_a_409(cli: Any, serve: Serve) -> None:
    pid = cli("pal", "create", "--name", "has-maker-draft", "--system-prompt", "p").json()["pal_id"]
    httpx.post(f"{serve.url}/_faults", json={"drafts": [pid]}).raise_for_status()
    refused = cli("pal", "patch", pid, "--path", "/pal_name", "--value", "x", code=1)
    assert "failed with 409" in refused.out + refused.err
    assert serve.get(f"/v2/pals/{pid}").json()["pal_name"] == "has-maker-draft"
    cli("pal", "delete", pid)


def test_objectives(cli: Any, serve: Serve, tmp_path: Path) -> None:
    body = tmp_path / "obj.json"
    body.write_text(cli("objective", "example").out)
    cli("objective", "validate", "--file", str(body))
    created = cli("objective", "create", "--file", str(body)).json()  # POST /v2/objectives/
    oid = created["objectives_id"]
    assert oid in cli("objective", "list").out
    assert cli("objective", "get", oid).json()["name"] == "support_intake"
    ops = tmp_path / "ops.json"
    ops.write_text(
        json.dumps([{"op": "replace", "path": "/data/0/objective_prompt", "value": "Hi"}])
    )
    cli("objective", "patch", oid, "--file", str(ops))
    assert serve.get(f"/v2/objectives/{oid}").json()["data"][0]["objective_prompt"] == "Hi"
    cli("objective", "delete", oid)
    assert serve.get(f"/v2/objectives/{oid}").status_code == 404


def test_guardrails(cli: Any, serve: Serve) -> None:
    created = cli(
        *("guardrail", "create", "--name", "no_diagnosis", "--prompt", "Never diagnose."),
        *("--tag", "medical", "--tag", "safety"),
    ).json()
    gid = created["uuid"]
    assert created["guardrail_id"] == gid
    assert gid in cli("guardrail", "list").out
    assert cli("guardrail", "get", gid, "--verbose").json()["guardrail_name"] == "no_diagnosis"
    cli("guardrail", "patch", gid, "--prompt", "Never, ever diagnose.", "--tag", "medical")
    got = serve.get(f"/v2/guardrails/{gid}").json()
    assert got["guardrail_prompt"] == "Never, ever diagnose." and got["tags"] == ["medical"]
    cli("guardrail", "delete", gid)
    assert serve.get(f"/v2/guardrails/{gid}").status_code == 404


def test_tools_with_a_credential_and_attach(cli: Any, serve: Serve, tmp_path: Path) -> None:
    example = json.loads(cli("tool", "example", "--delivery", "http").out)
    example["delivery"]["api"]["auth"]["token"] = TOOL_TOKEN
    body = tmp_path / "tool.json"
    body.write_text(json.dumps(example))
    created = cli("tool", "create", "--file", str(body)).json()
    tid = created["tool_id"]
    assert created["delivery"]["api"]["auth"]["token"] == "********"
    assert tid in cli("tool", "list").out
    assert cli("tool", "get", tid).json()["delivery"]["api"]["auth"] == {
        "type": "bearer",
        "token": "********",
    }
    fields = tmp_path / "fields.json"
    fields.write_text(json.dumps({"description": "Current weather for a city."}))
    cli("tool", "patch", tid, "--file", str(fields))  # a partial object, not JSON Patch
    assert serve.get(f"/v2/tools/{tid}").json()["description"] == "Current weather for a city."

    pid = cli("pal", "create", "--name", "with tools", "--system-prompt", "p").json()["pal_id"]
    cli("pal", "tools", "attach", pid, tid)
    assert serve.get(f"/v2/personas/{pid}").json()["tool_ids"] == [tid]
    assert tid in cli("pal", "tools", "list", pid).out
    cli("pal", "tools", "detach", pid, tid)
    assert serve.get(f"/v2/personas/{pid}").json()["tool_ids"] == []

    # the credential is in the server's database only sealed, yet still verifies
    store = serve.store()
    try:
        raw = store._get_raw(store._db, TOOLS, tid) or {}
    finally:
        store.close()
    assert raw["delivery"]["api"]["auth"]["token"].startswith("scrypt$")
    for path in serve.db.parent.iterdir():
        assert TOOL_TOKEN.encode() not in path.read_bytes(), path
    cli("tool", "delete", tid)
    cli("pal", "delete", pid)
    assert serve.get(f"/v2/tools/{tid}").status_code == 404


def test_doctor(cli: Any) -> None:
    assert "Network check passed" in cli("doctor").out  # GET /v2/pals and /v2/faces
