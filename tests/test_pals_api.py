"""`api: pals` end to end (DESIGN §3 "The current platform", §5): a real `personactl serve`
on 127.0.0.1; render, plan, apply, state, import and conversations in the PAL vocabulary,
and every persona request on /v2/pals."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import SECRETS, Result, assert_no_secrets, build_tree, run_cli
from tests.serverfix import API_KEY, LiveServer, live_server

ENV = {"X": API_KEY, **SECRETS}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with live_server(tmp_path / "serve.sqlite") as live:
        yield live


def make_repo(tmp_path: Path, url: str, api: str = "pals") -> Path:
    return build_tree(
        tmp_path / "repo",
        {
            "personactl.yaml": f"""
                version: 1
                default_environment: remote
                environments:
                  remote:
                    backend: tavus
                    api: {api}
                    api_url: {url}
                    api_key_env: X
                  local: {{backend: local, api: pals}}
                """,
            "personas/_bases/voice.yaml": """
                persona:
                  default_replica_id: r-base
                  layers:
                    conversational_flow: {replica_interruptibility: high}
                """,
            "personas/intake.yaml": """
                extends: [_bases/voice.yaml]
                persona:
                  pal_name: Intake
                  system_prompt: You check patients in.
                  greeting: Hello!
                  tool_ids: [t1]
                  layers:
                    llm:
                      model: intake-llm
                      base_url: https://llm.example.com/v1
                      api_key: "{{ secret('CUSTOM_LLM_API_KEY') }}"
                    conversational_flow: {pal_interruptibility: low}
                """,
            "conversations/hello.yaml": """
                persona: intake
                conversation:
                  conversation_name: Hello
                """,
        },
    )


def cli(repo: Path, *args: str) -> Result:
    result = run_cli(*args, cwd=repo, env=ENV)
    assert_no_secrets(result.out, result.err)
    return result


def requests_seen(server: LiveServer) -> dict[str, int]:
    return dict(server.stats()["requests"])


def state_data(repo: Path, env: str = "remote") -> dict[str, Any]:
    return dict(json.loads((repo / f".personactl/state/{env}.json").read_text()))


def test_pals_environment_end_to_end(tmp_path: Path, server: LiveServer) -> None:
    repo = make_repo(tmp_path, server.url)

    render = cli(repo, "render", "intake")
    assert render.code == 0, render.both
    body = json.loads(render.out)
    assert body["pal_name"] == "Intake" and body["default_face_id"] == "r-base"
    assert body["layers"]["conversational_flow"] == {"face_interruptibility": "low"}
    assert body["layers"]["llm"]["api_key"] == "(sensitive)"
    assert not {"persona_name", "default_replica_id"} & set(body)

    plan = cli(repo, "plan", "--format", "json")
    assert plan.code == 0, plan.both
    data = json.loads(plan.out)
    assert data["api"] == "pals"
    (change,) = data["changes"]
    assert change["action"] == "create" and "pal_id" in change and "persona_id" not in change
    text = cli(repo, "plan")
    assert text.out.startswith("Environment remote (backend tavus, api pals)\n")
    assert '+ /pal_name: "Intake"' in text.out

    server.reset_stats()
    applied = cli(repo, "apply", "--auto-approve")
    assert applied.code == 0, applied.both
    seen = requests_seen(server)
    assert seen.get("POST /v2/pals") == 1
    assert not any("/v2/personas" in route for route in seen), seen

    entry = state_data(repo)["resources"]["intake"]
    pid = entry["pal_id"]
    assert "persona_id" not in entry
    assert cli(repo, "state", "list").out == f"intake\t{pid}\n"
    shown = json.loads(cli(repo, "state", "show", "intake").out)
    assert shown["pal_id"] == pid and "persona_id" not in shown

    # the server saw a PAL: the one store keeps it as a persona, /v2/pals answers as a PAL
    stored = server.store.get_persona(pid)
    assert stored is not None and stored["persona_name"] == "Intake"
    assert stored["layers"]["conversational_flow"] == {"replica_interruptibility": "low"}
    pal = httpx.get(f"{server.url}/v2/pals/{pid}", headers={"x-api-key": API_KEY}).json()
    assert pal["pal_id"] == pid and pal["pal_name"] == "Intake"

    again = cli(repo, "plan", "--detailed-exitcode")
    assert again.code == 0, again.both  # read back in the PAL vocabulary: no changes

    intake = repo / "personas/intake.yaml"
    intake.write_text(intake.read_text().replace("pal_name: Intake", "pal_name: Front desk"))
    update = json.loads(cli(repo, "plan", "--format", "json").out)
    (change,) = update["changes"]
    assert change["action"] == "update" and change["pal_id"] == pid
    assert change["patch"] == [{"op": "replace", "path": "/pal_name", "value": "Front desk"}]
    text = cli(repo, "plan").out
    assert f"~ update intake ({pid})" in text

    saved = repo / "plan.json"
    assert cli(repo, "plan", "--out", str(saved)).code == 0
    server.reset_stats()
    done = cli(repo, "apply", str(saved))
    assert done.code == 0, done.both
    assert requests_seen(server).get("PATCH /v2/pals/{persona_id}") == 1
    assert server.store.get_persona(pid)["persona_name"] == "Front desk"  # type: ignore[index]

    # conversations keep persona_id: /v2/conversations is not aliased
    conv = json.loads(cli(repo, "conversation", "render", "hello").out)
    assert conv == {"conversation_name": "Hello", "persona_id": pid}
    created = cli(repo, "conversation", "create", "hello")
    assert created.code == 0, created.both
    assert "conversation_id: c" in created.out

    assert_no_secrets(root=repo)
    assert_no_secrets(*(json.dumps(p) for p in server.store.list_personas(100, 1)[0]))


def test_import_adopts_a_pal(tmp_path: Path, server: LiveServer) -> None:
    repo = make_repo(tmp_path, server.url)
    made = httpx.post(
        f"{server.url}/v2/pals",
        headers={"x-api-key": API_KEY},
        json={"pal_name": "Intake", "system_prompt": "You check patients in."},
    ).json()
    pid = made["pal_id"]
    result = cli(repo, "import", "intake", pid)
    assert result.code == 0, result.both
    assert state_data(repo)["resources"]["intake"]["pal_id"] == pid
    assert json.loads(cli(repo, "state", "show", "intake").out)["pal_id"] == pid
    assert cli(repo, "state", "rm", "intake").code == 0
    # a system PAL (pal_type: system on /v2/pals) is refused
    system = cli(repo, "import", "intake", "p5e1ec7ed0001")
    assert system.code == 1 and "system persona" in system.err


def test_switching_api_keeps_state(tmp_path: Path, server: LiveServer) -> None:
    """A state written with pal_id reads under api: personas (and back): reading takes
    either field, writing uses the environment's."""
    repo = make_repo(tmp_path, server.url)
    assert cli(repo, "apply", "--auto-approve").code == 0
    pid = state_data(repo)["resources"]["intake"]["pal_id"]

    project = repo / "personactl.yaml"
    project.write_text(
        project.read_text().replace("api: pals\n    api_url", "api: personas\n    api_url")
    )
    assert "api: personas" in project.read_text()
    render = json.loads(cli(repo, "render", "intake").out)
    assert render["persona_name"] == "Intake" and "pal_name" not in render
    server.reset_stats()
    plan = cli(repo, "plan", "--detailed-exitcode")
    assert plan.code == 0, plan.both  # the same object, read as a persona: no changes
    assert "GET /v2/personas" in requests_seen(server)
    assert cli(repo, "state", "list").out == f"intake\t{pid}\n"
    assert cli(repo, "state", "mv", "intake", "front").code == 0
    entry = state_data(repo)["resources"]["front"]
    assert entry["persona_id"] == pid and "pal_id" not in entry


def test_a_saved_plan_for_the_other_api_is_refused(tmp_path: Path, server: LiveServer) -> None:
    repo = make_repo(tmp_path, server.url)
    saved = repo / "plan.json"
    assert cli(repo, "plan", "--out", str(saved)).code == 0
    project = repo / "personactl.yaml"
    project.write_text(
        project.read_text().replace("api: pals\n    api_url", "api: personas\n    api_url")
    )
    server.reset_stats()
    result = cli(repo, "apply", str(saved))
    assert result.code == 1
    assert "was planned for api: pals; environment 'remote' now has api: personas" in result.err
    assert requests_seen(server) == {}


def test_local_backend_speaks_pals(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "https://unused.example")
    result = cli(repo, "--env", "local", "apply", "--auto-approve")
    assert result.code == 0, result.both
    entry = state_data(repo, "local")["resources"]["intake"]
    assert set(entry) >= {"pal_id", "applied", "fingerprint"} and "persona_id" not in entry
    assert entry["fingerprint"]  # read back through the PAL vocabulary
    plan = cli(repo, "--env", "local", "plan", "--detailed-exitcode")
    assert plan.code == 0, plan.both
    intake = repo / "personas/intake.yaml"
    intake.write_text(
        intake.read_text().replace("pal_interruptibility: low", "pal_interruptibility: medium")
    )
    change = json.loads(cli(repo, "--env", "local", "plan", "--format", "json").out)["changes"][0]
    assert change["patch"] == [
        {
            "op": "replace",
            "path": "/layers/conversational_flow/face_interruptibility",
            "value": "medium",
        }
    ]
    assert cli(repo, "--env", "local", "apply", "--auto-approve").code == 0
    assert cli(repo, "--env", "local", "plan", "--detailed-exitcode").code == 0
    assert_no_secrets(root=repo)


def test_serve_pals_routes(server: LiveServer) -> None:
    """/v2/pals over the /v2/personas store: PAL names in and out, pal_type filter, JSON
    Patch paths in PAL names."""
    client = httpx.Client(base_url=server.url, headers={"x-api-key": API_KEY})
    made = client.post(
        "/v2/pals",
        json={
            "pal_name": "P",
            "system_prompt": "x",
            "default_face_id": "r1",
            "layers": {"conversational_flow": {"face_interruptibility": "low"}},
        },
    ).json()
    pid = made["pal_id"]
    assert made["pal_type"] == "user" and made["default_face_id"] == "r1"
    assert not {"persona_id", "persona_name", "persona_type", "default_replica_id"} & set(made)
    persona = client.get(f"/v2/personas/{pid}").json()
    assert persona["persona_name"] == "P" and persona["default_replica_id"] == "r1"
    assert persona["layers"]["conversational_flow"] == {"replica_interruptibility": "low"}

    listed = client.get("/v2/pals", params={"pal_type": "user", "limit": 5, "page": 1}).json()
    assert [p["pal_id"] for p in listed["data"]] == [pid] and listed["total_count"] == 1
    assert client.get("/v2/pals", params={"pal_type": "nope"}).status_code == 400

    ops = [
        {"op": "replace", "path": "/pal_name", "value": "Q"},
        {
            "op": "replace",
            "path": "/layers/conversational_flow/face_interruptibility",
            "value": "high",
        },
    ]
    patched = client.patch(f"/v2/pals/{pid}", json=ops)
    assert patched.status_code == 200, patched.text
    assert patched.json()["pal_name"] == "Q"
    assert patched.json()["layers"]["conversational_flow"] == {"face_interruptibility": "high"}
    assert client.get(f"/v2/personas/{pid}").json()["persona_name"] == "Q"
    assert client.delete(f"/v2/pals/{pid}").status_code == 200
    assert client.get(f"/v2/personas/{pid}").status_code == 404
