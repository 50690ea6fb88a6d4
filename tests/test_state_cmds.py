"""`personactl state list|show|rm|mv|unlock`, `import`, the state file and its lock."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from personactl.deploy.state import Resource, State
from personactl.deploy.state.file import FileStore
from personactl.errors import LockHeld
from personactl.kinds import kind_of
from tests.conftest import SECRETS
from tests.test_plan_apply import (
    ALL_ADDRESSES,
    apply_all,
    cli,
    deploy,
    deployed,
    local_store,
    plan_json,
    state_ids,
)


def load_state(path, env):
    return FileStore(path, env).load()


def save(path, state):
    FileStore(path, state.environment).save(state)


def locked(path, operation):
    return FileStore(path, "env").lock(operation)


SERVER_FIELDS = ("persona_id", "persona_type", "created_at", "updated_at")


def state_file(repo: Path, env: str = "local") -> Path:
    return repo / ".personactl" / "state" / f"{env}.json"


def test_list_show_and_file_contents(example_repo):
    repo = example_repo
    r = cli(repo, "state", "list")
    assert r.out == ""
    deploy(repo)
    ids = state_ids(repo)
    r = cli(repo, "state", "list")
    lines = r.out.splitlines()
    entries = json.loads(state_file(repo).read_text())["resources"]
    every = {a: e[kind_of(a).id_field] for a, e in entries.items()}
    assert [line.split() for line in lines] == [[a, every[a]] for a in ALL_ADDRESSES]

    r = cli(repo, "state", "show", "weather-assistant")
    shown = json.loads(r.out)
    assert shown["address"] == "weather-assistant"
    assert shown["persona_id"] == ids["weather-assistant"]
    llm = shown["applied"]["layers"]["llm"]
    assert llm["model"] == "custom_model_here"
    assert llm["api_key"].startswith("scrypt$")

    r = cli(repo, "state", "show", "weather-asistant", code=1)
    assert "weather-asistant" in r.err and "weather-assistant" in r.err  # did you mean

    data = json.loads(state_file(repo).read_text())
    assert data["environment"] == "local"
    assert set(data["resources"]) == set(ALL_ADDRESSES)
    text = state_file(repo).read_text()
    for value in SECRETS.values():
        assert value not in text
    # no temp files, journal or lock left behind
    leftovers = sorted(p.name for p in state_file(repo).parent.iterdir())
    assert leftovers == ["local.json"]


def test_state_path_from_environment(example_repo):
    repo = example_repo
    with (repo / "personactl.yaml").open("a") as handle:
        handle.write("  staging:\n    backend: local\n    state: state/staging.json\n")
    apply_all(repo, "--env", "staging", "--target", "weather-assistant")
    assert json.loads((repo / "state" / "staging.json").read_text())["environment"] == "staging"
    r = cli(repo, "--env", "staging", "state", "list")
    assert r.out.split()[0] == "weather-assistant"
    assert cli(repo, "state", "list").out == ""  # the local environment's state is separate


def test_rm_forgets_without_deleting(example_repo):
    repo = example_repo
    deploy(repo)
    ids = state_ids(repo)
    r = cli(repo, "state", "rm", "weather-assistant")
    assert "weather-assistant" in r.err
    assert "weather-assistant" not in state_ids(repo)
    assert ids["weather-assistant"] in deployed(repo)  # left alone
    # no longer managed: a fresh create, the old persona untouched even with --prune
    r = cli(repo, "plan", "--prune")
    assert "+ create weather-assistant" in r.out
    # the old persona is only named as the one `import` would adopt (DESIGN §5, adoption)
    old = ids["weather-assistant"]
    assert f"`personactl import weather-assistant {old}` adopts it instead" in r.out
    assert f"({old})" not in r.out
    assert "Plan: 1 to create, 0 to update, 0 to delete." in r.out
    r = cli(repo, "state", "rm", "weather-assistant", code=1)
    assert "not in state" in r.err


def test_mv_after_renaming_a_file(example_repo):
    repo = example_repo
    deploy(repo)
    ids = state_ids(repo)
    (repo / "personas" / "weather-assistant.yaml").rename(repo / "personas" / "weather.yaml")
    # without mv: a delete (with --prune) plus a create
    r = cli(repo, "plan", "--prune")
    assert "- delete weather-assistant" in r.out and "+ create weather" in r.out
    cli(repo, "state", "mv", "weather-assistant", "weather")
    assert state_ids(repo)["weather"] == ids["weather-assistant"]
    assert "weather-assistant" not in state_ids(repo)
    cli(repo, "plan", "--prune", "--detailed-exitcode", code=0)
    # errors: unknown source, taken destination
    r = cli(repo, "state", "mv", "weather-assistant", "x", code=1)
    assert "weather-assistant" in r.err
    r = cli(repo, "state", "mv", "weather", "storyteller/crime", code=1)
    assert "storyteller/crime" in r.err
    assert state_ids(repo)["weather"] == ids["weather-assistant"]


def test_unlock(example_repo):
    repo = example_repo
    r = cli(repo, "state", "unlock")
    assert "not locked" in r.err
    lock = state_file(repo).with_name("local.json.lock")
    lock.parent.mkdir(parents=True)
    lock.write_text("garbage, not JSON")
    r = cli(repo, "apply", "--auto-approve", code=1)
    assert "lock" in r.err
    cli(repo, "state", "unlock")
    assert not lock.exists()


def test_state_commands_respect_the_lock(example_repo):
    repo = example_repo
    deploy(repo)
    with locked(state_file(repo), "apply"):
        r = cli(repo, "state", "rm", "weather-assistant", code=1)
        assert "apply" in r.err and f"pid {os.getpid()}" in r.err
        r = cli(repo, "import", "weather-assistant", "pdoesnotexist", code=1)
        assert "locked" in r.err
    assert "weather-assistant" in state_ids(repo)


# -- import ---------------------------------------------------------------------------


def test_import_then_plan_shows_only_real_differences(example_repo):
    repo = example_repo
    deploy(repo)
    pid = state_ids(repo)["weather-assistant"]
    cli(repo, "state", "rm", "weather-assistant")
    store = local_store(repo)
    store.patch_persona(
        pid,
        [
            {"op": "replace", "path": "/persona_name", "value": "Adopted"},
            {"op": "add", "path": "/default_replica_id", "value": "r1"},  # never declared
        ],
    )
    store.close()

    r = cli(repo, "import", "weather-assistant", pid)
    assert pid in r.err
    assert state_ids(repo)["weather-assistant"] == pid
    change = plan_json(repo, "--target", "weather-assistant")["changes"][0]
    assert change["action"] == "update" and change["persona_id"] == pid
    paths = {op["path"] for op in change["patch"]}
    assert "/persona_name" in paths
    # secrets cannot be read back: they are sent (masked in the plan); nothing else differs
    assert paths - {"/persona_name"} <= {"/layers/llm/api_key", "/layers/tts/api_key"}
    assert not any(field in json.dumps(change["patch"]) for field in SERVER_FIELDS)
    assert not change["drift"]
    deploy(repo)
    assert state_ids(repo)["weather-assistant"] == pid
    assert deployed(repo)[pid]["persona_name"] == "Weather Assistant"
    assert deployed(repo)[pid]["default_replica_id"] == "r1"  # never declared, left alone
    cli(repo, "plan", "--detailed-exitcode", code=0)


def test_import_errors(example_repo):
    repo = example_repo
    deploy(repo, "storyteller")
    ids = state_ids(repo)
    store = local_store(repo)
    stray = store.create_persona({"persona_name": "stray"})["persona_id"]
    store.close()
    r = cli(repo, "import", "nosuch", stray, code=1)
    assert "nosuch" in r.err
    r = cli(repo, "import", "weather-assistant", "pmissing000000", code=1)
    assert "pmissing000000" in r.err
    r = cli(repo, "import", "storyteller/crime", stray, code=1)
    assert "already managed" in r.err and ids["storyteller/crime"] in r.err
    r = cli(repo, "import", "weather-assistant", ids["storyteller/crime"], code=1)
    assert "already managed" in r.err and "storyteller/crime" in r.err
    assert state_ids(repo) == ids
    cli(repo, "import", "weather-assistant", stray)
    assert state_ids(repo)["weather-assistant"] == stray


# -- the state file (in process) --------------------------------------------------------


def test_journal_syncs_a_create_intent_before_it_is_sent(tmp_path, monkeypatch):
    """The intent of a create is on disk before the recorder returns (the create is
    sent next); an outcome is written through to the OS at once (a killed process loses
    nothing) and reaches the disk with the next fsync, at the latest when recording ends."""
    path = tmp_path / "state" / "env.json"
    store = FileStore(path, "env")
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    recorder = store.recorder(State("env"))

    def journaled() -> list[str]:
        return [json.loads(line)["op"] for line in store.journal_path.read_text().splitlines()]

    recorder.creating("a", {"persona_name": "a"})
    assert journaled() == ["creating"] and len(synced) == 1
    recorder.put("a", Resource("p1", {"persona_name": "a"}))
    recorder.remove("b")
    assert journaled() == ["creating", "put", "rm"] and len(synced) == 1
    recorder.creating("c", {"persona_name": "c"})  # one fsync covers every line before it
    assert len(synced) == 2
    recorder.put("c", Resource("p3", {"persona_name": "c"}))
    recorder.close()
    assert len(synced) >= 3  # the journal's last line, then the state file itself
    assert not store.journal_path.exists()
    assert sorted(store.load().resources) == ["a", "c"]


def test_journal_lines_take_the_texts_planning_encoded(tmp_path):
    """A create's body and applied payload go into the journal as the JSON text the plan
    made of them: the lines read back as the entries they stand for."""
    from personactl.output import dumps_with

    store = FileStore(tmp_path / "env.json", "env")
    recorder = store.recorder(State("env"))
    body = {"persona_name": 'a "quoted" é', "layers": {"llm": {"model": "m"}}}
    applied = {**body, "layers": {"llm": {"model": "m", "api_key": "scrypt$..."}}}
    recorder.creating("a", body, json.dumps(body))
    recorder.put("a", Resource("p1", applied, "", "2026-12-02"), json.dumps(applied))
    lines = [json.loads(line) for line in store.journal_path.read_text().splitlines()]
    assert lines == [
        {"op": "creating", "address": "a", "body": body},
        {
            "op": "put",
            "address": "a",
            "resource": {
                "persona_id": "p1",
                "applied": applied,
                "fingerprint": "",
                "updated_at": "2026-12-02",
            },
        },
    ]
    recorder.close()
    assert store.load().resources["a"].applied == applied
    assert dumps_with({}, {"k": "[1]"}) == '{"k": [1]}' and dumps_with({"a": 1}, {}) == '{"a": 1}'


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "state" / "env.json"
    state = State("env")
    state.resources["a"] = Resource("p1", {"x": 1})
    save(path, state)
    good = path.read_text()
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))

    def broken_replace(_self, _target):
        raise OSError("disk full")

    monkeypatch.setattr(Path, "replace", broken_replace)
    state.resources["b"] = Resource("p2", {})
    with pytest.raises(OSError, match="disk full"):
        save(path, state)
    assert synced  # the temp file was fsynced before the rename
    assert path.read_text() == good  # readers see the old file, never half a new one
    assert sorted(p.name for p in path.parent.iterdir()) == ["env.json"]
    monkeypatch.undo()
    save(path, state)
    assert set(load_state(path, "env").resources) == {"a", "b"}


def test_journal_replayed_after_a_killed_apply(tmp_path):
    path = tmp_path / "env.json"
    state = State("env")
    save(path, state)
    recorder = FileStore(path, "env").recorder(state)
    recorder.put("a", Resource("p1", {"k": "v"}))
    recorder.remove("missing")
    # killed here: no close(), the state file was never rewritten
    with path.with_name("env.json.journal").open("a") as handle:
        handle.write('{"op": "put", "addr')  # a torn last line
    assert load_state(path, "env").resources["a"].id == "p1"


def test_unreadable_state_is_a_clear_error(example_repo):
    repo = example_repo
    state_file(repo).parent.mkdir(parents=True)
    state_file(repo).write_text("{not json")
    r = cli(repo, "state", "list", code=1)
    assert "local.json" in r.err and "Traceback" not in r.err


def test_lock_names_holder_in_process(tmp_path):
    path = tmp_path / "env.json"
    with locked(path, "apply"), pytest.raises(LockHeld) as info, locked(path, "apply"):
        pass
    message = info.value.problem.message
    assert "apply" in message and f"pid {os.getpid()}" in message and "since" in message
    assert not path.with_name("env.json.lock").exists()


def test_state_file_is_one_resource_per_line_and_deterministic(tmp_path):
    path = tmp_path / "env.json"
    state = State("env")
    state.resources["b"] = Resource("p2", {"layers": {"llm": {"model": "m"}}, "name": "é"})
    state.resources["a"] = Resource("p1", {"x": [1, 2]}, "sha256:f", "2025-01-01T00:00:00+00:00")
    save(path, state)
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    at = lines.index('  "resources": {')
    assert lines[at + 1].startswith('    "a": {"applied": {"x": [1, 2]}')
    assert lines[at + 2].startswith('    "b": {"applied": {"layers"')
    assert json.loads(text)["resources"]["b"]["applied"]["name"] == "é"
    again = load_state(path, "env")
    again.serial -= 1  # the same content saved again is byte-identical
    save(path, again)
    assert path.read_text(encoding="utf-8") == text
