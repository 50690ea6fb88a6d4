from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from personactl.serve.app import FAULTS_ENV, Faults
from personactl.serve.store import MASK
from tests.serverfix import API_KEY, free_port, live_server, running, serve_cmd, server  # noqa: F401

PERSONA = {
    "persona_name": "Storyteller",
    "system_prompt": "Tell stories.",
    "default_replica_id": "r1",
    "layers": {"llm": {"model": "m", "api_key": "sk-secret"}},
}


@pytest.fixture
def client(server):  # noqa: F811
    with httpx.Client(base_url=server.url, headers={"x-api-key": API_KEY}) as c:
        yield c


def test_auth(server):  # noqa: F811
    for headers in ({}, {"x-api-key": "wrong"}):
        resp = httpx.get(f"{server.url}/v2/personas", headers=headers)
        assert resp.status_code == 401
        assert resp.json() == {"message": "Invalid access token"}


def test_persona_crud(client):
    created = client.post("/v2/personas", json=PERSONA).json()
    pid = created["persona_id"]
    assert created["layers"]["llm"]["api_key"] == MASK
    got = client.get(f"/v2/personas/{pid}")
    assert got.status_code == 200 and got.json() == created
    # the same object through /v2/pals, in the PAL vocabulary
    pal = client.get(f"/v2/pals/{pid}").json()
    assert pal["pal_id"] == pid and pal["pal_name"] == "Storyteller"
    assert pal["default_face_id"] == "r1" and pal["pal_type"] == "user"
    assert "persona_id" not in pal and pal["layers"] == created["layers"]

    ops = [{"op": "replace", "path": "/persona_name", "value": "New"}]
    patched = client.patch(f"/v2/personas/{pid}", json=ops)
    assert patched.status_code == 200 and patched.json()["persona_name"] == "New"
    assert client.patch(f"/v2/personas/{pid}", json=ops).status_code == 304
    bad = client.patch(f"/v2/personas/{pid}", json=[{"op": "remove", "path": "/nope"}])
    assert bad.status_code == 400 and "error" in bad.json()
    assert client.patch(f"/v2/personas/{pid}", content=b"{not json").status_code == 400

    assert client.delete(f"/v2/personas/{pid}").status_code == 200
    missing = client.get(f"/v2/personas/{pid}")
    assert missing.status_code == 404 and "error" in missing.json()
    assert client.delete(f"/v2/personas/{pid}").status_code == 404
    assert client.patch(f"/v2/personas/{pid}", json=[]).status_code == 404


def test_list_pagination_and_type_filter(client):
    ids = [client.post("/v2/personas", json={"persona_name": str(i)}).json() for i in range(12)]
    default = client.get("/v2/personas", params={"persona_type": "user"}).json()
    assert default["total_count"] == 12 and len(default["data"]) == 10  # Tavus default limit
    page2 = client.get("/v2/personas", params={"persona_type": "user", "limit": 5, "page": 3})
    assert [p["persona_id"] for p in page2.json()["data"]] == [p["persona_id"] for p in ids[10:]]
    everything = client.get("/v2/pals", params={"limit": 100}).json()
    assert everything["total_count"] == 14  # plus the two seeded system personas
    system = client.get("/v2/personas", params={"persona_type": "system"}).json()
    assert {p["persona_type"] for p in system["data"]} == {"system"}
    # page 0 is the first page (the official CLI sends it)
    first = client.get("/v2/personas", params={"persona_type": "user", "limit": 5, "page": 0})
    assert [p["persona_id"] for p in first.json()["data"]] == [p["persona_id"] for p in ids[:5]]
    for params in ({"limit": "x"}, {"page": -1}, {"persona_type": "other"}):
        assert client.get("/v2/personas", params=params).status_code == 400


def test_conversations(client, server):  # noqa: F811
    pid = client.post("/v2/personas", json=PERSONA).json()["persona_id"]
    resp = client.post("/v2/conversations", json={"persona_id": pid, "conversation_name": "Hi"})
    conv = resp.json()
    assert resp.status_code == 200 and conv["status"] == "active"
    assert conv["conversation_url"] == f"{server.url}/c/{conv['conversation_id']}"
    assert client.get(f"/v2/conversations/{conv['conversation_id']}").json() == conv
    assert client.get("/v2/conversations/cmissing").status_code == 404
    assert client.post("/v2/conversations", json={"persona_id": "pnope"}).status_code == 400


def test_faults_and_stats(client, server):  # noqa: F811
    server.reset_stats()
    server.set_faults(fail_next=[429, 503], retry_after=0.25)
    first = client.get("/v2/personas")
    assert first.status_code == 429 and first.headers["retry-after"] == "0.25"
    assert client.get("/v2/personas").status_code == 503
    assert client.get("/v2/personas").status_code == 200
    client.get("/v2/pals/pmissing")
    assert server.stats() == {
        "total": 4,
        "requests": {"GET /v2/personas": 3, "GET /v2/pals/{persona_id}": 1},
    }
    bad = httpx.post(f"{server.url}/_faults", json={"rate_429": 2})
    assert bad.status_code == 400
    assert httpx.post(f"{server.url}/_faults", json={"nope": 1}).status_code == 400


def test_rates_are_deterministic_with_a_seed(client, server):  # noqa: F811
    def statuses() -> list[int]:
        server.set_faults(rate_429=0.3, rate_5xx=0.3, seed=7)
        return [client.get("/v2/personas").status_code for _ in range(30)]

    first = statuses()
    assert first == statuses()
    assert {429, 200} <= set(first) and set(first) & {500, 502, 503}


def test_dropped_create_is_still_performed(client, server):  # noqa: F811
    server.set_faults(drop_create_response=1.0)
    assert client.post("/v2/personas", json=PERSONA).status_code == 502
    server.set_faults(drop_mode="abort")
    with pytest.raises(httpx.TransportError):
        client.post("/v2/personas", json=PERSONA)
    server.set_faults(drop_create_response=0.0)
    assert client.get("/v2/personas", params={"persona_type": "user"}).json()["total_count"] == 2


def test_envelope_get_and_latency(client, server):  # noqa: F811
    pid = client.post("/v2/personas", json=PERSONA).json()["persona_id"]
    server.set_faults(envelope_get=True, latency_ms=100)
    start = time.monotonic()
    body = client.get(f"/v2/personas/{pid}").json()
    assert time.monotonic() - start >= 0.1
    assert [p["persona_id"] for p in body["data"]] == [pid]


def test_latency_is_the_response_time_and_the_request_is_carried_out_at_once(
    client,
    server,  # noqa: F811
):
    """As a remote API: the persona exists as soon as the create arrives, and the answer
    leaves `latency_ms` after the arrival (serve's own work counts toward it)."""
    server.set_faults(latency_ms=600)
    with ThreadPoolExecutor(1) as pool:
        start = time.monotonic()
        answer = pool.submit(client.post, "/v2/personas", json=PERSONA)
        while not server.store.list_personas(10, 1, "user")[0]:
            assert time.monotonic() - start < 0.5, "the create waited for the latency"
            time.sleep(0.01)
        assert not answer.done()
        created = answer.result().json()
    assert time.monotonic() - start >= 0.6
    assert [p["persona_id"] for p in server.store.list_personas(10, 1, "user")[0]] == [
        created["persona_id"]
    ]


def test_sixteen_parallel_clients(client, server):  # noqa: F811
    server.set_faults(latency_ms=20)

    def create(i):
        return client.post("/v2/personas", json={"persona_name": str(i)}).status_code

    with ThreadPoolExecutor(16) as pool:
        assert set(pool.map(create, range(64))) == {200}
    assert client.get("/v2/personas?persona_type=user").json()["total_count"] == 64


def test_faults_from_env():
    env = {FAULTS_ENV: json.dumps({"rate_429": 0.5, "retry_after": 0.05})}
    assert Faults.from_env(env) == Faults(rate_429=0.5, retry_after=0.05)
    assert Faults.from_env({}) == Faults()
    with pytest.raises(ValueError):
        Faults.from_env({FAULTS_ENV: '{"rate_5xx": "lots"}'})


def test_no_auth_when_no_key(tmp_path):
    with live_server(tmp_path / "db.sqlite", api_key=None, seed_system=False) as live:
        resp = httpx.get(f"{live.url}/v2/personas")
        assert resp.json() == {"limit": 10, "page": 1, "data": [], "total_count": 0}


def test_serve_command(tmp_path):
    port = free_port()
    db = tmp_path / "sub" / "serve.sqlite"
    cmd = serve_cmd(port, "--db", str(db), "--api-key", "k", "--rate-429", "0")
    env = {**os.environ, FAULTS_ENV: json.dumps({"latency_ms": 1})}
    with running(cmd, port, env=env) as served:
        resp = httpx.get(f"{served.url}/v2/personas", headers={"x-api-key": "k"})
        assert resp.json()["total_count"] == 2  # the seeded system personas
        assert httpx.get(f"{served.url}/_faults").json()["latency_ms"] == 1
        assert db.exists()
