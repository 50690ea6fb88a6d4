"""Every resource kind in the store, `personactl serve` and both backends: ids and
vocabularies, the platform's list shape, sealed and masked credentials, PATCH styles,
and PAL Maker drafts (409 maker_changes, ?force=true)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import httpx
import pytest

from personactl import digests
from personactl.deploy.backends.base import DraftConflict
from personactl.deploy.backends.local import LocalBackend
from personactl.deploy.backends.tavus import TavusBackend
from personactl.errors import ApiError
from personactl.kinds import GUARDRAILS, OBJECTIVES, PALS, PERSONAS, TOOLS, Kind
from personactl.serve.store import MASK, Conflict, Store
from tests.serverfix import API_KEY, server  # noqa: F401

TOKEN = "tool-token-DO-NOT-LEAK-1c0ffee"
HEADER = "Bearer llm-header-DO-NOT-LEAK-42"
OBJECTIVE_SET = {
    "name": "intake",
    "data": [{"objective_name": "greet", "objective_prompt": "Greet the caller."}],
    "allow_loops": False,
}
GUARDRAIL = {"guardrail_name": "no_diagnosis", "guardrail_prompt": "Never diagnose."}
TOOL = {
    "name": "get_weather",
    "description": "Weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    "delivery": {
        "api": {
            "url": "https://api.example.com/weather/{city}",
            "headers": {"Accept": "application/json", "X-Api-Key": "hdr-DO-NOT-LEAK"},
            "auth": {"type": "bearer", "token": TOKEN},
        }
    },
}
BODIES: dict[str, dict] = {"objectives": OBJECTIVE_SET, "guardrails": GUARDRAIL, "tools": TOOL}
LEAKS = (TOKEN, HEADER, "hdr-DO-NOT-LEAK", "cb-DO-NOT-LEAK", "lk-DO-NOT-LEAK")


@pytest.fixture
def store(tmp_path: Path):
    s = Store(tmp_path / "db.sqlite", seed_system=True)
    yield s
    s.close()


def assert_sealed_on_disk(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not [leak for leak in LEAKS if leak.encode() in data], path


# -- ids, vocabularies, lists -----------------------------------------------------------


@pytest.mark.parametrize("kind", [OBJECTIVES, GUARDRAILS, TOOLS], ids=lambda k: k.name)
def test_each_kind_round_trips_with_its_id_field(store: Store, kind: Kind) -> None:
    created = store.create(kind, {**BODIES[kind.name], kind.id_field: "forged"})
    rid = kind.id_of(created)
    assert rid and rid != "forged" and created[kind.id_field] == rid
    assert store.get(kind, rid) == created
    assert created["created_at"] == created["updated_at"]
    mine, total = store.list_resources(kind, 10, 1, "user")
    assert [kind.id_of(r) for r in mine] == [rid] and total == 1
    system, n_system = store.list_resources(kind, 10, 1, "system")
    assert n_system == 1 and kind.id_of(system[0]) != rid  # the seeded one
    assert store.list_resources(kind, 10, 0)[1] == 2  # every owner; page 0 is page 1
    assert store.delete(kind, rid) and store.get(kind, rid) is None
    assert not store.delete(kind, rid)


def test_guardrails_answer_uuid_and_objectives_their_name(store: Store) -> None:
    guardrail = store.create(GUARDRAILS, GUARDRAIL)
    assert guardrail["uuid"] == guardrail["guardrail_id"]
    objectives = store.create(OBJECTIVES, OBJECTIVE_SET)
    assert objectives["objectives_name"] == "intake"
    listed = store.list_resources(OBJECTIVES, 10, 1, "user")[0]
    assert listed[0]["objectives_name"] == "intake"
    with pytest.raises(ValueError, match="uuid is read-only"):
        store.patch(
            GUARDRAILS, guardrail["guardrail_id"], [{"op": "add", "path": "/uuid", "value": "x"}]
        )


def test_personas_and_pals_are_one_store_in_two_vocabularies(store: Store) -> None:
    pal = store.create(PALS, {"pal_name": "Maya", "default_face_id": "r1", "tool_ids": ["t1"]})
    pid = pal["pal_id"]
    assert pal["pal_type"] == "user" and "persona_id" not in pal
    persona = store.get(PERSONAS, pid) or {}
    assert persona["persona_name"] == "Maya" and persona["default_replica_id"] == "r1"
    # either vocabulary in a patch path, on either route
    store.patch(PALS, pid, [{"op": "replace", "path": "/persona_name", "value": "A"}])
    store.patch(PERSONAS, pid, [{"op": "replace", "path": "/default_face_id", "value": "r2"}])
    assert (store.get(PALS, pid) or {})["pal_name"] == "A"
    assert (store.get(PERSONAS, pid) or {})["default_replica_id"] == "r2"
    with pytest.raises(ValueError, match="both persona_name and pal_name"):
        store.create(PALS, {"pal_name": "x", "persona_name": "y"})
    with pytest.raises(ValueError, match="persona_id is read-only"):
        store.patch(PALS, pid, [{"op": "replace", "path": "/pal_id", "value": "pother"}])


@pytest.mark.parametrize(
    ("kind", "body", "message"),
    [
        (OBJECTIVES, {"name": "x"}, "data is required"),
        (OBJECTIVES, {"data": "x"}, "invalid type for data"),
        (GUARDRAILS, {"guardrail_name": "x"}, "guardrail_prompt is required"),
        (GUARDRAILS, {**GUARDRAIL, "app_message": 1}, "invalid type for app_message"),
        (TOOLS, {"description": "x"}, "name is required"),
        (TOOLS, {**TOOL, "tags": "a"}, "invalid type for tags"),
    ],
)
def test_bodies_of_the_wrong_shape_are_refused(
    store: Store, kind: Kind, body: dict, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        store.create(kind, body)
    assert store.list_resources(kind, 10, 1, "user")[1] == 0


# -- credentials -----------------------------------------------------------------------


def test_tool_credentials_are_sealed_masked_and_never_echoed_back(
    store: Store, tmp_path: Path
) -> None:
    tool = store.create(TOOLS, TOOL)
    assert TOOL["delivery"]["api"]["auth"]["token"] == TOKEN  # the caller's body is untouched
    tid = tool["tool_id"]
    api = tool["delivery"]["api"]
    assert api["auth"] == {"type": "bearer", "token": MASK}
    assert api["headers"] == {"Accept": "application/json", "X-Api-Key": MASK}
    raw = store._get_raw(store._db, TOOLS, tid) or {}
    assert digests.verify(TOKEN, raw["delivery"]["api"]["auth"]["token"])
    # the platform refuses its scrub placeholder echoed back (create, partial, JSON Patch)
    echoed = json.loads(json.dumps(TOOL).replace(TOKEN, MASK))
    with pytest.raises(ValueError, match="looks like the scrub placeholder"):
        store.create(TOOLS, echoed)
    with pytest.raises(ValueError, match=r"delivery\.api\.auth\.token looks like"):
        store.patch(TOOLS, tid, {"delivery": tool["delivery"]})
    mask_op = {"op": "replace", "path": "/delivery/api/auth/token", "value": MASK}
    with pytest.raises(ValueError, match="looks like the scrub placeholder"):
        store.patch(TOOLS, tid, [mask_op])
    # omitted, the secret is kept; re-sent unchanged, nothing changes; a new one is a change
    delivery = json.loads(json.dumps(TOOL["delivery"]))
    del delivery["api"]["auth"]["token"]
    delivery["api"]["url"] = "https://api.example.com/v2/weather/{city}"
    assert store.patch(TOOLS, tid, {"delivery": delivery}).changed
    kept = (store._get_raw(store._db, TOOLS, tid) or {})["delivery"]["api"]["auth"]["token"]
    assert digests.verify(TOKEN, kept)
    same = [{"op": "replace", "path": "/delivery/api/auth/token", "value": TOKEN}]
    assert not store.patch(TOOLS, tid, same).changed
    rotated = [{"op": "replace", "path": "/delivery/api/auth/token", "value": "new-token"}]
    assert store.patch(TOOLS, tid, rotated).changed
    assert_sealed_on_disk(tmp_path)


def test_persona_credential_headers_and_conversation_tokens_are_sealed(
    store: Store, tmp_path: Path
) -> None:
    headers = {"Authorization": HEADER, "X-Org": "acme"}
    persona = store.create(PERSONAS, {"persona_name": "p", "layers": {"llm": {"headers": headers}}})
    assert persona["layers"]["llm"]["headers"] == {"Authorization": MASK, "X-Org": "acme"}
    pid = persona["persona_id"]
    # the mask written back keeps the sealed value; the same value changes nothing
    back = [{"op": "replace", "path": "/layers/llm/headers/Authorization", "value": MASK}]
    assert not store.patch(PERSONAS, pid, back).changed
    again = [{"op": "replace", "path": "/layers/llm/headers/Authorization", "value": HEADER}]
    assert not store.patch(PERSONAS, pid, again).changed
    conversation = store.create_conversation(
        {
            "persona_id": pid,
            "replica_id": "r1",
            "callback_url": "https://hooks.example.com/cb?token=cb-DO-NOT-LEAK",
            "properties": {"livekit_ws_url": "wss://x", "livekit_room_token": "lk-DO-NOT-LEAK"},
        }
    )
    assert conversation["callback_url"] == MASK
    assert conversation["properties"] == {"livekit_ws_url": "wss://x", "livekit_room_token": MASK}
    assert store.get_conversation(conversation["conversation_id"]) == conversation
    assert_sealed_on_disk(tmp_path)


def test_an_older_database_is_migrated_and_its_seals_still_verify(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    legacy = "sealed-sha256:" + hashlib.sha256(b"sk-old").hexdigest()
    body = {"persona_id": "pold", "persona_name": "Old", "persona_type": "user"}
    body["layers"] = {"llm": {"api_key": legacy}}
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE personas (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
            " persona_id TEXT NOT NULL UNIQUE, persona_type TEXT NOT NULL, body TEXT NOT NULL)"
        )
        db.execute("INSERT INTO personas VALUES (1, 'pold', 'user', ?)", (json.dumps(body),))
    store = Store(path)
    try:
        assert (store.get(PERSONAS, "pold") or {})["layers"]["llm"]["api_key"] == MASK
        same = [{"op": "replace", "path": "/layers/llm/api_key", "value": "sk-old"}]
        assert not store.patch(PERSONAS, "pold", same).changed
        assert store.list_personas(10, 1, "user")[1] == 1
    finally:
        store.close()


# -- drafts ------------------------------------------------------------------------------


def test_a_draft_refuses_patches_until_forced(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "local.db")
    pid = backend.create(PALS, {"pal_name": "Maya"})["pal_id"]
    assert backend.store.set_draft(pid) and backend.store.drafts() == [pid]
    ops = [{"op": "replace", "path": "/pal_name", "value": "New"}]
    with pytest.raises(DraftConflict) as err:
        backend.patch(PALS, pid, ops)
    assert err.value.status == 409 and pid in str(err.value)
    with pytest.raises(Conflict):
        backend.store.patch(PERSONAS, pid, ops)
    assert (backend.get(PALS, pid) or {})["pal_name"] == "Maya"
    assert backend.patch(PALS, pid, ops, force=True) is True  # the draft was discarded
    assert backend.store.drafts() == []
    assert (backend.get(PALS, pid) or {})["pal_name"] == "New"
    assert backend.patch(PALS, pid, ops) is False
    assert not backend.store.set_draft("pmissing")
    backend.close()


# -- the local backend -------------------------------------------------------------------


@pytest.mark.parametrize("kind", [OBJECTIVES, GUARDRAILS, TOOLS], ids=lambda k: k.name)
def test_local_backend_serves_every_kind(tmp_path: Path, kind: Kind) -> None:
    store = Store(tmp_path / "local.db", seed_system=True)  # system resources are not listed
    store.close()
    backend = LocalBackend(tmp_path / "local.db")
    created = [backend.create(kind, BODIES[kind.name]) for _ in range(3)]
    ids = [kind.id_of(r) for r in created]
    assert [kind.id_of(r) for r in backend.list_all(kind)] == ids
    rid = ids[0] or ""
    field = kind.name_field
    backend.patch(kind, rid, [{"op": "replace", "path": f"/{field}", "value": "renamed"}])
    assert (backend.get(kind, rid) or {})[field] == "renamed"
    with pytest.raises(ApiError) as err:
        backend.patch(kind, "missing", [])
    assert err.value.status == 404
    with pytest.raises(ApiError) as err:
        backend.create(kind, {})
    assert err.value.status == 400
    backend.delete(kind, rid)
    backend.delete(kind, rid)
    assert backend.get(kind, rid) is None
    backend.close()


# -- over HTTP -------------------------------------------------------------------------------


@pytest.fixture
def client(server):  # noqa: F811
    with httpx.Client(base_url=server.url, headers={"x-api-key": API_KEY}) as c:
        yield c


def test_http_list_shape_owner_filters_and_trailing_slashes(client: httpx.Client) -> None:
    created = [client.post("/v2/objectives/", json=OBJECTIVE_SET).json() for _ in range(3)]
    assert all("objectives_id" in o for o in created)
    page = client.get("/v2/objectives", params={"limit": 2, "page": 0, "sort": "ascending"})
    body = page.json()
    assert body["limit"] == 2 and body["page"] == 1 and body["total_count"] == 3
    assert [o["objectives_id"] for o in body["data"]] == [o["objectives_id"] for o in created[:2]]
    desc = client.get("/v2/objectives", params={"type": "user", "sort": "desc"}).json()
    assert desc["data"][0]["objectives_id"] == created[-1]["objectives_id"]
    assert client.get("/v2/objectives", params={"type": "all"}).json()["total_count"] == 4
    assert client.get("/v2/objectives/", params={"type": "system"}).json()["total_count"] == 1
    for params in ({"type": "mine"}, {"sort": "up"}, {"page": -1}):
        assert client.get("/v2/objectives", params=params).status_code == 400
    pals = client.get("/v2/pals", params={"pal_type": "system"}).json()["data"]
    assert {p["pal_type"] for p in pals} == {"system"} and "pal_id" in pals[0]
    gid = client.post("/v2/guardrails/", json={**GUARDRAIL, "tags": ["b", "a"]}).json()["uuid"]
    assert client.get(f"/v2/guardrails/{gid}").json()["guardrail_id"] == gid
    assert client.get("/v2/guardrails/tags").json() == {"tags": ["a", "b"], "total_count": 2}
    assert client.post("/v2/objectives/validate", json={"name": "x"}).status_code == 400
    assert client.get("/v2/faces").json()["total_count"] == 1


def test_http_drafts_answer_409_until_forced(client: httpx.Client, server) -> None:  # noqa: F811
    pid = client.post("/v2/pals", json={"pal_name": "Maya"}).json()["pal_id"]
    assert httpx.post(f"{server.url}/_faults", json={"drafts": ["pnope"]}).status_code == 400
    assert server.set_faults(drafts=[pid])["drafts"] == [pid]
    ops = [{"op": "replace", "path": "/pal_name", "value": "New"}]
    refused = client.patch(f"/v2/pals/{pid}", json=ops)
    assert refused.status_code == 409
    assert refused.json()["conflict"] == "maker_changes" and refused.json()["pal_id"] == pid
    assert server.set_faults(latency_ms=0)["drafts"] == [pid]  # other settings keep it
    forced = client.patch(f"/v2/pals/{pid}", params={"force": "true"}, json=ops)
    assert forced.status_code == 200 and forced.json()["discarded_maker_changes"] is True
    assert forced.json()["pal_name"] == "New"
    assert server.set_faults()["drafts"] == []
    assert client.patch(f"/v2/pals/{pid}", json=ops).status_code == 304


def test_tavus_backend_forces_drafts_and_patches_tools_as_partial_objects(
    server,  # noqa: F811
) -> None:
    backend = TavusBackend(server.url, API_KEY, max_retries=0)
    try:
        pid = backend.create(PERSONAS, {"persona_name": "Maya"})["persona_id"]
        server.set_faults(drafts=[pid])
        ops = [{"op": "replace", "path": "/persona_name", "value": "New"}]
        with pytest.raises(DraftConflict) as err:
            backend.patch(PERSONAS, pid, ops)
        assert err.value.status == 409 and "--discard-drafts" in err.value.problem.hint
        assert backend.patch(PERSONAS, pid, ops, force=True) is True
        assert backend.patch(PERSONAS, pid, ops) is False  # 304

        tid = backend.create(TOOLS, TOOL)["tool_id"]
        sealed = server.store._get_raw(server.store._db, TOOLS, tid) or {}
        # an update as apply sends it for tools: the new value of each changed field
        delivery = json.loads(json.dumps(TOOL["delivery"]))
        delivery["api"]["url"] = "https://x.example/w"
        server.reset_stats()
        assert backend.patch(TOOLS, tid, {"delivery": delivery}) is False
        assert server.stats()["requests"] == {"PATCH /v2/tools/{tool_id}": 1}
        raw = server.store._get_raw(server.store._db, TOOLS, tid) or {}
        assert raw["delivery"]["api"]["url"] == "https://x.example/w"
        # the same token: its seal is kept as it was
        assert raw["delivery"]["api"]["auth"] == sealed["delivery"]["api"]["auth"]
        for kind in (OBJECTIVES, GUARDRAILS, TOOLS):
            rid = kind.id_of(backend.create(kind, BODIES[kind.name]))
            assert rid in [kind.id_of(r) for r in backend.list_all(kind)]  # type=user
            assert len(list(backend.list_all(kind))) == (2 if kind is TOOLS else 1)
    finally:
        backend.close()
