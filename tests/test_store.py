from __future__ import annotations

import re
import threading

import pytest

from personactl.deploy.backends.local import LocalBackend
from personactl.errors import ApiError
from personactl.kinds import PERSONAS
from personactl.serve.store import MASK, NotFound, Store

PERSONA = {
    "persona_name": "Storyteller",
    "system_prompt": "Tell stories.",
    "pipeline_mode": "full",
    "default_replica_id": "r1",
    "layers": {"llm": {"model": "m", "api_key": "sk-llm-secret"}, "tts": {"api_key": "tts-key"}},
}


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "nested" / "db.sqlite")
    yield s
    s.close()


def test_create_assigns_server_fields(store):
    p = store.create_persona({**PERSONA, "persona_id": "pforged", "created_at": "x"})
    assert re.fullmatch(r"p[0-9a-f]{12}", p["persona_id"])
    assert p["persona_type"] == "user"
    assert p["created_at"] == p["updated_at"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", p["created_at"])
    assert store.get_persona(p["persona_id"]) == p


def test_secrets_are_stored_as_hashes_and_masked_on_read(store, tmp_path):
    pid = store.create_persona(PERSONA)["persona_id"]
    assert store.get_persona(pid)["layers"]["llm"]["api_key"] == MASK
    assert store.get_persona(pid)["layers"]["tts"]["api_key"] == MASK
    # re-sending the same key changes nothing (304); a new key is a change
    same = [{"op": "replace", "path": "/layers/llm/api_key", "value": "sk-llm-secret"}]
    assert store.patch_persona(pid, same) is False
    new = [{"op": "replace", "path": "/layers/llm/api_key", "value": "sk-llm-rotated"}]
    assert store.patch_persona(pid, new) is True
    # no secret value in the database file
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert b"sk-llm-" not in path.read_bytes()


def test_list_pages_in_creation_order_and_filters_type(tmp_path):
    store = Store(tmp_path / "db.sqlite", seed_system=True)
    ids = [store.create_persona({"persona_name": f"n{i}"})["persona_id"] for i in range(5)]
    page1, total = store.list_personas(limit=2, page=1, persona_type="user")
    page3, _ = store.list_personas(limit=2, page=3, persona_type="user")
    assert total == 5
    assert [p["persona_id"] for p in page1] == ids[:2]
    assert [p["persona_id"] for p in page3] == ids[4:]
    assert store.list_personas(limit=10, page=4, persona_type="user")[0] == []
    system, n_system = store.list_personas(persona_type="system")
    assert n_system == 2 and all(p["persona_type"] == "system" for p in system)
    assert store.list_personas()[1] == 7
    with pytest.raises(ValueError):
        store.list_personas(limit=0)
    store.close()


def test_seeding_is_idempotent(tmp_path):
    Store(tmp_path / "db.sqlite", seed_system=True).close()
    store = Store(tmp_path / "db.sqlite", seed_system=True)
    assert store.list_personas(persona_type="system")[1] == 2
    store.close()


def test_patch_applies_and_detects_no_change(store):
    p = store.create_persona(PERSONA)
    pid = p["persona_id"]
    ops = [
        {"op": "replace", "path": "/persona_name", "value": "Renamed"},
        {"op": "add", "path": "/layers/stt", "value": {"hotwords": "Tavus"}},
        {"op": "remove", "path": "/default_replica_id"},
    ]
    assert store.patch_persona(pid, ops) is True
    after = store.get_persona(pid)
    assert after["persona_name"] == "Renamed"
    assert after["layers"]["stt"] == {"hotwords": "Tavus"}
    assert "default_replica_id" not in after
    assert after["updated_at"] >= p["updated_at"]
    same = [{"op": "replace", "path": "/persona_name", "value": "Renamed"}]
    assert store.patch_persona(pid, same) is False
    assert store.patch_persona(pid, []) is False


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "replace", "path": "/persona_id", "value": "pother"}],
        [{"op": "remove", "path": "/created_at"}],
        [{"op": "replace", "path": "/missing/deep", "value": 1}],
        [{"op": "test", "path": "/persona_name", "value": "nope"}],
        [{"op": "frobnicate", "path": "/x"}],
        [{"path": "/x"}],
        [{"op": "replace", "path": "", "value": [1]}],
        {"op": "replace"},
    ],
)
def test_invalid_patches_are_value_errors(store, ops):
    pid = store.create_persona(PERSONA)["persona_id"]
    before = store.get_persona(pid)
    with pytest.raises(ValueError):
        store.patch_persona(pid, ops)
    assert store.get_persona(pid) == before


def test_patch_and_delete_missing(store):
    with pytest.raises(NotFound):
        store.patch_persona("pmissing", [])
    assert store.delete_persona("pmissing") is False
    pid = store.create_persona(PERSONA)["persona_id"]
    assert store.delete_persona(pid) is True
    assert store.get_persona(pid) is None


def test_conversations(store):
    pid = store.create_persona(PERSONA)["persona_id"]
    conv = store.create_conversation(
        {"persona_id": pid, "conversation_name": "Hi", "conversational_context": "ctx"},
        url_base="http://127.0.0.1:9/c/",
    )
    assert re.fullmatch(r"c[0-9a-f]{12}", conv["conversation_id"])
    assert conv["conversation_url"] == f"http://127.0.0.1:9/c/{conv['conversation_id']}"
    assert conv["status"] == "active"
    assert conv["replica_id"] == "r1"  # the persona's default replica
    assert conv["conversational_context"] == "ctx"
    assert store.get_conversation(conv["conversation_id"]) == conv
    assert store.get_conversation("cmissing") is None
    for bad in ({}, {"persona_id": "pmissing"}):
        with pytest.raises(ValueError):
            store.create_conversation(bad)
    no_replica = store.create_persona({"persona_name": "x"})["persona_id"]
    with pytest.raises(ValueError, match="replica_id"):
        store.create_conversation({"persona_id": no_replica})


def test_concurrent_writers(store):
    def work():
        for _ in range(10):
            pid = store.create_persona(PERSONA)["persona_id"]
            store.patch_persona(pid, [{"op": "add", "path": "/context", "value": "c"}])

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.list_personas()[1] == 80


def test_local_backend(tmp_path):
    backend = LocalBackend(tmp_path / "local.sqlite")
    assert backend.name == "local"
    created = [backend.create(PERSONAS, {"persona_name": f"n{i}"}) for i in range(205)]
    listed = list(backend.list_all(PERSONAS))
    assert [p["persona_id"] for p in listed] == [p["persona_id"] for p in created]
    pid = created[0]["persona_id"]
    backend.patch(PERSONAS, pid, [{"op": "replace", "path": "/persona_name", "value": "x"}])
    backend.patch(PERSONAS, pid, [{"op": "replace", "path": "/persona_name", "value": "x"}])
    assert (backend.get(PERSONAS, pid) or {})["persona_name"] == "x"
    with pytest.raises(ApiError) as err:
        backend.patch(PERSONAS, pid, [{"op": "remove", "path": "/nope"}])
    assert err.value.status == 400
    with pytest.raises(ApiError) as err:
        backend.patch(PERSONAS, "pmissing", [])
    assert err.value.status == 404
    backend.delete(PERSONAS, pid)
    backend.delete(PERSONAS, pid)  # already gone: success
    assert backend.get(PERSONAS, pid) is None
    with pytest.raises(ApiError):
        backend.create_conversation({"persona_id": pid})
    assert backend.request_count() == 0
    backend.close()
