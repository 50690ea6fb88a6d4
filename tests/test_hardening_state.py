"""Saved plans, state and journals cannot talk personactl into duplicates or lost state
(issue 12): a damaged plan or state is one clear line with nothing sent, a damaged journal
line is skipped, a journal left by a killed run is folded into the state file by the next
run, and a lost create never adopts a persona that existed before it was sent."""

from __future__ import annotations

import json
import os
import sqlite3
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Result, assert_no_secrets
from tests.serverfix import LiveServer, server  # noqa: F401
from tests.test_faults import apply, cli, deployed, make_repo, state_file

Damage = Callable[[Any], Any]


def deployed_repo(tmp_path: Path, live: LiveServer, count: int = 2) -> Path:
    repo = make_repo(tmp_path, live.url, count)
    first = apply(repo)
    assert first.code == 0, first.both
    return repo


def personas_on(live: LiveServer) -> dict[str, str]:
    """persona_id -> system_prompt of every user persona on the server."""
    return {p["persona_id"]: p["system_prompt"] for p in deployed(live)}


def one_line(result: Result) -> str:
    assert result.code == 1, result.both
    assert "Traceback" not in result.err
    [line] = result.err.splitlines()
    return line


# -- saved plans ---------------------------------------------------------------------


def _change(index: int, **edits: Any) -> Damage:
    def damage(plan: Any) -> Any:
        change = plan["changes"][index]
        for key, value in edits.items():
            if value is None:
                del change[key]
            else:
                change[key] = value
        return plan

    return damage


PLAN_DAMAGE: dict[str, tuple[Damage, str]] = {
    "explode": (
        _change(0, action="explode"),
        "changes/0/action: Input should be 'create', 'update' or 'delete'",
    ),
    "no-address": (_change(0, address=None), "changes/0/address: Field required"),
    "no-execute": (_change(0, execute=None), "changes/0/execute: Field required"),
    "execute-string": (_change(0, execute="x"), "changes/0/execute: Input should be an object"),
    "fingerprint-number": (
        _change(0, fingerprint=5),
        "changes/0/fingerprint: Input should be a valid string",
    ),
    "ops-string": (
        _change(0, execute={"ops": "x"}),
        "changes/0/execute/ops: Input should be a valid list",
    ),
    "id-number": (_change(0, persona_id=5), "p01: persona_id must be a string"),
    "no-id": (_change(0, persona_id=None), "p01: an update needs its persona_id"),
    "list": (lambda _plan: [], "the file: Input should be an object"),
    "changes-string": (
        lambda plan: {**plan, "changes": "x"},
        "changes: Input should be a valid list",
    ),
    "version": (lambda plan: {**plan, "format_version": 99}, "plan format_version 99 is not 1"),
}


@pytest.mark.parametrize("name", list(PLAN_DAMAGE))
def test_a_damaged_saved_plan_is_refused_with_nothing_sent(
    tmp_path: Path,
    server: LiveServer,  # noqa: F811
    name: str,
) -> None:
    repo = deployed_repo(tmp_path, server)
    page = repo / "personas/p01.yaml"
    page.write_text(page.read_text().replace("You are", "Now you are"))
    (repo / "personas/p02.yaml").unlink()
    planned = cli(repo, "plan", "--prune", "--out", "plan.json")
    assert "Plan: 0 to create, 1 to update, 1 to delete." in planned.out, planned.both
    damage, detail = PLAN_DAMAGE[name]
    saved = repo / "plan.json"
    saved.write_text(json.dumps(damage(json.loads(saved.read_text()))))
    before = personas_on(server)
    server.reset_stats()

    result = cli(repo, "apply", "plan.json", "--auto-approve")
    assert one_line(result) == (
        f"error: plan.json: not a personactl plan ({detail}) "
        "(hint: make one with `personactl plan --out FILE`; nothing was changed)"
    )
    assert result.out == ""
    assert server.stats()["total"] == 0  # not a request: no list, no PATCH, no DELETE
    assert personas_on(server) == before
    assert_no_secrets(result.out, result.err, root=repo)


# -- state with the right shape and wrong values -------------------------------------


def _resource(address: str, value: Any) -> Damage:
    def damage(state: Any) -> Any:
        state["resources"][address]["persona_id"] = value
        return state

    return damage


def _shared_id(state: Any) -> Any:
    state["resources"]["p02"]["persona_id"] = state["resources"]["p01"]["persona_id"]
    return state


STATE_DAMAGE: dict[str, tuple[Damage, str]] = {
    "id-number": (_resource("p01", 5), "p01: persona_id must be a non-empty string, not 5"),
    "id-null": (_resource("p01", None), "p01: persona_id must be a non-empty string, not None"),
    "id-empty": (_resource("p02", ""), "p02: persona_id must be a non-empty string, not ''"),
    "shared-id": (_shared_id, "p02 and p01 share id {p01}"),
    "version": (lambda state: {**state, "format_version": 99}, "format_version 99 is not 1"),
    "environment": (
        lambda state: {**state, "environment": "prod"},
        "it is the state of environment 'prod'",
    ),
}


@pytest.mark.parametrize("command", ["plan", "apply"])
@pytest.mark.parametrize("name", list(STATE_DAMAGE))
def test_state_with_wrong_values_is_one_line_and_nothing_is_sent(
    tmp_path: Path,
    server: LiveServer,  # noqa: F811
    name: str,
    command: str,
) -> None:
    repo = deployed_repo(tmp_path, server)
    (repo / "personas/p03.yaml").write_text(
        (repo / "personas/p02.yaml").read_text().replace("02", "03")
    )  # a create is due: a state read wrongly would send one (or a duplicate)
    path = state_file(repo)
    raw = json.loads(path.read_text())
    ids = {a: r["persona_id"] for a, r in raw["resources"].items()}
    damage, detail = STATE_DAMAGE[name]
    path.write_text(json.dumps(damage(raw)))
    damaged = path.read_text()
    server.reset_stats()

    result = cli(repo, *(["apply", "--auto-approve"] if command == "apply" else ["plan"]))
    assert one_line(result) == (
        f"error: .personactl/state/remote.json: state is unreadable ({detail.format(**ids)}) "
        "(hint: restore it from version control or a backup; nothing was sent)"
    )
    assert server.stats()["total"] == 0
    assert len(deployed(server)) == 2
    assert path.read_text() == damaged  # left for the user to restore
    assert_no_secrets(result.out, result.err, root=repo)


# -- journals ------------------------------------------------------------------------


def journal(repo: Path) -> Path:
    return state_file(repo).with_name("remote.json.journal")


def _stale_state_and_journal(repo: Path, *bad: str) -> dict[str, str]:
    """As a run killed after its last journal write leaves it: the state file without p02,
    the journal with p02's put (among `bad` lines).  Returns the real address -> id."""
    path = state_file(repo)
    raw = json.loads(path.read_text())
    ids = {a: r["persona_id"] for a, r in raw["resources"].items()}
    p02 = raw["resources"].pop("p02")
    path.write_text(json.dumps(raw))
    put = {"op": "put", "address": "p02", "resource": p02}
    journal(repo).write_text("".join(f"{line}\n" for line in (*bad, json.dumps(put))))
    return ids


def saved_ids(repo: Path) -> dict[str, str]:
    raw = json.loads(state_file(repo).read_text())
    return {a: r["persona_id"] for a, r in raw["resources"].items()}


@pytest.mark.parametrize(
    "command",
    [["apply", "--auto-approve"], ["plan"], ["state", "list"]],
    ids=["apply", "plan", "state-list"],
)
def test_a_journal_left_by_a_killed_run_is_folded_into_the_state_file(
    tmp_path: Path,
    server: LiveServer,  # noqa: F811
    command: list[str],
) -> None:
    repo = deployed_repo(tmp_path, server)
    ids = _stale_state_and_journal(repo)
    server.reset_stats()

    result = cli(repo, *command)
    assert result.code == 0, result.both
    if command[0] != "state":
        assert "No changes." in result.out  # p02 is known: not created again
    assert server.stats()["requests"].get("POST /v2/personas", 0) == 0
    assert saved_ids(repo) == ids  # the state file alone is complete now
    assert not journal(repo).exists()
    assert sorted(p.name for p in state_file(repo).parent.iterdir()) == ["remote.json"]
    assert_no_secrets(result.out, result.err, root=repo)


def test_a_journal_is_not_folded_while_another_run_holds_the_lock(
    tmp_path: Path,
    server: LiveServer,  # noqa: F811
) -> None:
    """A running apply appends to its journal: a plan meanwhile reads it, never removes it."""
    repo = deployed_repo(tmp_path, server)
    _stale_state_and_journal(repo)
    stale, lines = state_file(repo).read_text(), journal(repo).read_text()
    lock = state_file(repo).with_name("remote.json.lock")
    lock.write_text(
        json.dumps({"holder": "ci@elsewhere", "pid": os.getpid(), "operation": "apply"})
    )

    result = cli(repo, "plan")
    assert result.code == 0, result.both
    assert "No changes." in result.out  # the journal was read
    assert (state_file(repo).read_text(), journal(repo).read_text()) == (stale, lines)
    assert lock.exists()


def test_damaged_journal_lines_are_skipped(
    tmp_path: Path,
    server: LiveServer,  # noqa: F811
) -> None:
    repo = deployed_repo(tmp_path, server, 3)
    ids = saved_ids(repo)
    bad = [
        "not json",
        "[]",
        "5",
        '{"op": "put"}',
        '{"op": "explode", "address": "p01"}',
        '{"op": "put", "address": "p01", "resource": {"persona_id": 5}}',
        '{"op": "put", "address": "p01", "resource": null}',
        json.dumps({"op": "put", "address": "p03", "resource": {"persona_id": ids["p01"]}}),
        '{"op": "rm", "address": 7}',
        '{"op": "creating", "address": "p04", "body": "x"}',
        '{"op": "creating", "address": ["p04"], "body": {}}',
        '{"op": "put", "addr',  # torn
    ]
    _stale_state_and_journal(repo, *bad)
    server.reset_stats()

    listed = cli(repo, "state", "list")
    assert listed.code == 0, listed.both
    assert [line.split()[:2] for line in listed.out.splitlines()] == [
        [a, ids[a]] for a in ("p01", "p02", "p03")
    ]
    assert saved_ids(repo) == ids
    assert "pending_creates" not in json.loads(state_file(repo).read_text())
    planned = cli(repo, "plan", "--detailed-exitcode")
    assert planned.code == 0 and "No changes." in planned.out, planned.both
    assert server.stats()["requests"].get("POST /v2/personas", 0) == 0
    assert_no_secrets(listed.out, listed.err, planned.out, planned.err, root=repo)


# -- lost creates ----------------------------------------------------------------------


def test_a_lost_create_never_adopts_an_identical_persona_made_before_it(
    tmp_path: Path,
    server: LiveServer,  # noqa: F811
) -> None:
    """An unmanaged persona equal in every field sent, created before the send: the run
    finds its own create (made after the send), never the older one, and orphans nothing."""
    repo = make_repo(tmp_path, server.url, 1)
    rendered = cli(repo, "render", "p01")
    assert rendered.code == 0, rendered.both
    twin = server.store.create_persona(json.loads(rendered.out))["persona_id"]
    with sqlite3.connect(tmp_path / "serve.sqlite") as db:  # made long before the send
        db.execute(
            "UPDATE resources SET body = json_set(body, '$.created_at', ?)"
            " WHERE kind = 'personas' AND rid = ?",
            ("2020-01-01T00:00:00.000Z", twin),
        )
    server.set_faults(drop_create_response=1.0, drop_mode="502")

    result = apply(repo)
    assert result.code == 0, result.both
    assert "Apply complete: 1 created, 0 updated, 0 deleted, 0 failed." in result.out
    assert server.stats()["requests"]["POST /v2/personas"] == 1  # found, never resent
    personas = deployed(server)
    assert Counter(p["persona_name"] for p in personas) == {"Persona 01": 2}  # twin + ours
    [ours] = [p["persona_id"] for p in personas if p["persona_id"] != twin]
    assert saved_ids(repo) == {"p01": ours}  # the new one is managed: not orphaned
    server.set_faults(drop_create_response=0.0)
    rerun = cli(repo, "plan", "--detailed-exitcode")
    assert rerun.code == 0 and "No changes." in rerun.out, rerun.both
    assert_no_secrets(result.out, result.err, rerun.out, root=repo)
