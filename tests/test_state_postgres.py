"""The PostgreSQL state store (DESIGN §7) against the real throwaway PostgreSQL of
tests/pgfix.py: migrations, one committed transaction per journal entry, the advisory
lock and the row naming its holder, `state list/show/rm/mv/unlock/pull/push` on it,
moving a file state in, and a connection string that never reaches any output."""

from __future__ import annotations

import getpass
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from personactl.deploy.state import Resource, State
from personactl.deploy.state.postgres import SCHEMA_VERSION, PostgresStore, migrate
from personactl.errors import LockHeld, UserError
from tests.conftest import SECRETS, Result, assert_no_secrets, build_tree, run_cli
from tests.pgfix import Cluster
from tests.serverfix import LiveServer, server  # noqa: F401
from tests.test_faults import ENV, deployed, make_repo, names

DSN_ENV = "STATE_DSN"
TABLES = [
    "personactl_locks",
    "personactl_pending_creates",
    "personactl_resources",
    "personactl_schema",
    "personactl_states",
]


def pg_repo(root: Path, url: str, count: int, dsn_env: str = DSN_ENV) -> Path:
    """test_faults.make_repo's project with its state in postgres."""
    repo = make_repo(root, url, count)
    with (repo / "personactl.yaml").open("a") as handle:
        handle.write(f"    state: {{backend: postgres, dsn_env: {dsn_env}}}\n")
    return repo


def pg_cli(repo: Path, dsn: str, *args: str, timeout: float = 60) -> Result:
    return run_cli(*args, cwd=repo, env={**ENV, DSN_ENV: dsn}, timeout=timeout)


def query(dsn: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        cursor = conn.execute(sql, params)  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description else []


def store(dsn: str, env: str = "remote") -> PostgresStore:
    return PostgresStore(dsn, env, DSN_ENV)


def wait_for(check: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


# -- migrations ------------------------------------------------------------------------


def test_migrations_from_empty_and_rerun(pg_dsn: str) -> None:
    assert query(pg_dsn, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'") == []
    assert store(pg_dsn).load().empty  # first use creates the tables
    tables = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
    assert [t for (t,) in query(pg_dsn, tables)] == TABLES
    versions = "SELECT version FROM personactl_schema ORDER BY 1"
    assert query(pg_dsn, versions) == [(v,) for v in range(1, SCHEMA_VERSION + 1)]
    # re-run: by a new store, and by hand
    assert store(pg_dsn).load().empty
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        assert migrate(conn, "db") == SCHEMA_VERSION
    assert query(pg_dsn, versions) == [(v,) for v in range(1, SCHEMA_VERSION + 1)]


def test_concurrent_first_uses_migrate_once(pg_dsn: str) -> None:
    failures: list[BaseException] = []

    def first_use() -> None:
        try:
            store(pg_dsn).load()
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=first_use) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert query(pg_dsn, "SELECT count(*) FROM personactl_schema") == [(SCHEMA_VERSION,)]


def test_a_newer_schema_is_refused(pg_dsn: str) -> None:
    store(pg_dsn).load()
    query(pg_dsn, "INSERT INTO personactl_schema (version) VALUES (%s)", SCHEMA_VERSION + 1)
    with pytest.raises(UserError) as info:
        store(pg_dsn).load()
    assert info.value.problem.format() == (
        f"error: postgres state 127.0.0.1/{pg_dsn.rsplit('/', 1)[1]}: the state tables are at "
        f"schema version {SCHEMA_VERSION + 1}, newer than this personactl knows ({SCHEMA_VERSION}) "
        "(hint: upgrade personactl; nothing was changed)"
    )


# -- the journal, save, load -----------------------------------------------------------


def test_each_recorder_op_is_committed_when_it_returns(pg_dsn: str) -> None:
    db = store(pg_dsn)
    state = db.load()
    recorder = db.recorder(state)
    assert state.lineage  # made with the state, before the first entry
    rows = "SELECT address, resource_id FROM personactl_resources ORDER BY 1"
    pending = "SELECT address, body::text FROM personactl_pending_creates ORDER BY 1"
    # every read below is another connection: it sees committed rows only
    recorder.creating("a", {"persona_name": "A"})
    assert query(pg_dsn, pending) == [("a", '{"persona_name": "A"}')]
    recorder.put("a", Resource("p1", {"persona_name": "A"}))
    assert query(pg_dsn, rows) == [("a", "p1")] and query(pg_dsn, pending) == []
    recorder.creating("b", {"persona_name": "B"})
    recorder.not_created("b")
    assert query(pg_dsn, pending) == []
    recorder.put("c", Resource("p3", {}))
    recorder.remove("a")
    assert query(pg_dsn, rows) == [("c", "p3")]
    # what a killed process leaves is what the next load reads
    assert {a: r.id for a, r in store(pg_dsn).load().resources.items()} == {"c": "p3"}
    recorder.close()
    saved = store(pg_dsn).load()
    assert (saved.serial, saved.lineage) == (1, state.lineage)
    assert {a: r.id for a, r in saved.resources.items()} == {"c": "p3"}


def test_save_replaces_one_environment_and_round_trips(pg_dsn: str) -> None:
    other = State("other", {"x": Resource("px", {})})
    store(pg_dsn, "other").save(other)
    state = State("remote")
    state.resources["b"] = Resource("p2", {"layers": {"llm": {"model": "m"}}, "n": "é", "f": 0.1})
    state.resources["a"] = Resource("p1", {"x": [1, 2]}, "sha256:f", "2025-01-01T00:00:00+00:00")
    state.pending["c"] = {"persona_name": "C"}
    store(pg_dsn).save(state)
    loaded = store(pg_dsn).load()
    assert loaded.data() == state.data() and loaded.serial == 1 and loaded.lineage
    loaded.resources.pop("a")
    store(pg_dsn).save(loaded)
    again = store(pg_dsn).load()
    assert sorted(again.resources) == ["b"] and again.serial == 2
    assert again.lineage == loaded.lineage
    assert sorted(store(pg_dsn, "other").load().resources) == ["x"]  # untouched


def test_apply_commits_each_success_as_it_happens(
    tmp_path: Path,
    server: LiveServer,  # noqa: F811
    pg_dsn: str,
) -> None:
    count = 8
    repo = pg_repo(tmp_path, server.url, count)
    server.set_faults(latency_ms=150)
    proc = subprocess.Popen(
        [sys.executable, "-m", "personactl", "apply", "--auto-approve", "--parallelism", "2"],
        cwd=repo,
        env={**os.environ, **ENV, DSN_ENV: pg_dsn, "CI": "true"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: set[int] = set()

    def recorded() -> int:
        if "personactl_resources" not in {
            t for (t,) in query(pg_dsn, "SELECT tablename FROM pg_tables")
        }:
            return 0
        return int(query(pg_dsn, "SELECT count(*) FROM personactl_resources")[0][0])

    while proc.poll() is None:
        seen.add(recorded())
        time.sleep(0.02)
    out, err = proc.communicate()
    assert proc.returncode == 0, out + err
    # read from another connection mid-apply: the rows arrived one by one, not at the end
    assert len({n for n in seen if 0 < n < count}) >= 3, seen
    assert recorded() == count
    assert query(pg_dsn, "SELECT serial FROM personactl_states") == [(1,)]
    assert_no_secrets(out, err, root=repo)
    assert not (repo / ".personactl" / "state").exists()  # nothing in a file


# -- the lock ----------------------------------------------------------------------------

HOLD = """
import sys, time
from personactl.deploy.state.postgres import PostgresStore
with PostgresStore(sys.argv[1], "remote", "STATE_DSN").lock("apply"):
    print("locked", flush=True)
    time.sleep(120)
"""


def hold_lock(dsn: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, dsn], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "locked\n"
    return proc


def holder_text(pid: int) -> str:
    return f"held by {getpass.getuser()}@{socket.gethostname()} (pid {pid}) running apply since "


def test_lock_names_its_holder_and_dies_with_its_process(pg_dsn: str) -> None:
    proc = hold_lock(pg_dsn)
    try:
        started = time.monotonic()
        with pytest.raises(LockHeld) as info, store(pg_dsn).lock("apply"):
            pass
        assert time.monotonic() - started < 5  # fails fast
        message = info.value.problem.message
        assert message.startswith(f"state is locked: {holder_text(proc.pid)}")
        assert message.endswith("+00:00")  # the start time
        # unlock does not break a live lock: it names the holder
        with pytest.raises(UserError) as refused:
            store(pg_dsn).unlock()
        assert holder_text(proc.pid) in refused.value.problem.message
        assert "frees itself when the holder's session ends" in refused.value.problem.message
        another_env = store(pg_dsn, "staging")
        with another_env.lock("apply"):  # environments do not exclude each other
            pass
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    # the killed process's session ends and its lock with it: no unlock
    def free() -> bool:
        try:
            with store(pg_dsn).lock("apply"):
                return True
        except LockHeld:
            return False

    wait_for(free, "the lock outlived the process that held it", 10)
    assert query(pg_dsn, "SELECT count(*) FROM personactl_locks") == [(0,)]


def killed_holder(dsn: str) -> int:
    """The pid of a process that took the lock and was killed holding it."""
    proc = hold_lock(dsn)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    return proc.pid


def test_a_dead_sessions_row_is_cleared_by_unlock_and_overwritten_by_lock(pg_dsn: str) -> None:
    pid = killed_holder(pg_dsn)
    # the killed holder's row stays behind, naming a session that is gone
    rows = "SELECT holder_pid, operation FROM personactl_locks WHERE environment = 'remote'"
    assert query(pg_dsn, rows) == [(pid, "apply")]
    answers: list[str | None] = []

    def unlocked() -> bool:
        try:
            answers.append(store(pg_dsn).unlock())
        except UserError:  # the server has not ended the dead session yet
            return False
        return True

    wait_for(unlocked, "the lock outlived the process that held it", 10)
    said = answers[0] or ""
    assert said.startswith(holder_text(pid)), said
    assert said.endswith("; its session had ended, the record is cleared")
    assert query(pg_dsn, rows) == []
    assert store(pg_dsn).unlock() is None

    killed_holder(pg_dsn)
    mine: list[tuple[Any, ...]] = []

    def taken() -> bool:
        try:
            with store(pg_dsn).lock("state rm"):
                mine.extend(query(pg_dsn, rows))
        except LockHeld:
            return False
        return True

    wait_for(taken, "the lock outlived the process that held it", 10)
    assert mine == [(os.getpid(), "state rm")]
    assert query(pg_dsn, rows) == []


# -- the CLI on a postgres state ---------------------------------------------------------


def apply_ok(repo: Path, dsn: str) -> Result:
    result = pg_cli(repo, dsn, "apply", "--auto-approve")
    assert result.code == 0, result.both
    return result


def test_state_commands_on_postgres(
    tmp_path: Path,
    server: LiveServer,  # noqa: F811
    pg_dsn: str,
) -> None:
    repo = pg_repo(tmp_path, server.url, 3)
    assert pg_cli(repo, pg_dsn, "state", "list").out == ""
    apply_ok(repo, pg_dsn)
    ids = {p["persona_name"]: p["persona_id"] for p in deployed(server)}
    listed = pg_cli(repo, pg_dsn, "state", "list")
    assert listed.out.splitlines() == [f"{a}\t{ids[n]}" for a, n in names(3).items()]
    shown = json.loads(pg_cli(repo, pg_dsn, "state", "show", "p02").out)
    assert shown["address"] == "p02" and shown["persona_id"] == ids["Persona 02"]
    assert shown["applied"]["layers"]["llm"]["api_key"].startswith("scrypt$")
    typo = pg_cli(repo, pg_dsn, "state", "show", "p2")
    assert typo.code == 1 and "p2 is not in state" in typo.err

    moved = pg_cli(repo, pg_dsn, "state", "mv", "p03", "renamed")
    assert (moved.code, moved.err) == (0, "Moved p03 to renamed.\n")
    assert query(
        pg_dsn, "SELECT resource_id FROM personactl_resources WHERE address = 'renamed'"
    ) == [(ids["Persona 03"],)]
    removed = pg_cli(repo, pg_dsn, "state", "rm", "p01")
    assert (removed.code, removed.err) == (0, "Removed p01 from state.\n")
    assert sorted(a for (a,) in query(pg_dsn, "SELECT address FROM personactl_resources")) == [
        "p02",
        "renamed",
    ]
    assert query(pg_dsn, "SELECT serial FROM personactl_states") == [(3,)]
    unlocked = pg_cli(repo, pg_dsn, "state", "unlock")
    assert (unlocked.code, unlocked.err) == (0, "State was not locked.\n")

    proc = hold_lock(pg_dsn)
    try:
        held = pg_cli(repo, pg_dsn, "state", "unlock")
        assert held.code == 1 and holder_text(proc.pid) in held.err, held.both
        for args in (["state", "rm", "p02"], ["apply", "--auto-approve"]):
            refused = pg_cli(repo, pg_dsn, *args)
            assert refused.code == 1 and refused.err.startswith(
                f"error: state is locked: {holder_text(proc.pid)}"
            ), refused.both
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert_no_secrets(root=repo)


def pulled(repo: Path, dsn: str) -> dict[str, Any]:
    result = pg_cli(repo, dsn, "state", "pull")
    assert result.code == 0, result.both
    return dict(json.loads(result.out))


def push(repo: Path, dsn: str, data: dict[str, Any], *flags: str) -> Result:
    (repo / "s.json").write_text(json.dumps(data))
    return pg_cli(repo, dsn, "state", "push", "s.json", *flags)


def test_pull_push_lineage_serial_and_force(
    tmp_path: Path,
    server: LiveServer,  # noqa: F811
    pg_dsn: str,
) -> None:
    repo = pg_repo(tmp_path, server.url, 2)
    empty = pulled(repo, pg_dsn)
    assert (empty["lineage"], empty["serial"], empty["resources"]) == (None, 0, {})
    apply_ok(repo, pg_dsn)
    state = pulled(repo, pg_dsn)
    lineage = state["lineage"]
    assert (
        len(lineage) == 36
        and state["serial"] == 1
        and sorted(state["resources"])
        == [
            "p01",
            "p02",
        ]
    )
    assert state["resources"]["p01"]["applied"]["layers"]["tts"]["api_key"].startswith("scrypt$")
    assert_no_secrets(json.dumps(state))

    # the same lineage, edited: accepted, the serial moves on
    edited = {**state, "resources": {"p01": state["resources"]["p01"]}}
    ok = push(repo, pg_dsn, edited)
    assert ok.code == 0, ok.both
    assert ok.err == (
        f"Pushed s.json to postgres state 127.0.0.1/{pg_dsn.rsplit('/', 1)[1]} "
        f"(lineage {lineage}, serial 2).\n"
    )
    assert sorted(pulled(repo, pg_dsn)["resources"]) == ["p01"]
    # an older serial of the same lineage: refused unless --force
    older = push(repo, pg_dsn, state)
    assert older.code == 1
    assert "push refused: it holds serial 2, newer than the file's 1" in older.err
    assert sorted(pulled(repo, pg_dsn)["resources"]) == ["p01"]  # nothing changed
    # another lineage: refused unless --force
    foreign = {**state, "lineage": "0f0f0f0f-0000-4000-8000-000000000000", "serial": 9}
    refused = push(repo, pg_dsn, foreign)
    assert refused.code == 1
    assert (
        f"push refused: it holds a state of another lineage ({lineage}; "
        "the file's is 0f0f0f0f-0000-4000-8000-000000000000)"
    ) in refused.err
    assert "--force replaces the state it holds" in refused.err
    forced = push(repo, pg_dsn, foreign, "--force")
    assert forced.code == 0, forced.both
    after = pulled(repo, pg_dsn)
    assert (after["lineage"], after["serial"]) == (foreign["lineage"], 10)
    assert sorted(after["resources"]) == ["p01", "p02"]
    # a state of another environment, or not a state at all
    wrong = push(repo, pg_dsn, {**state, "environment": "prod"}, "--force")
    assert wrong.code == 1
    assert wrong.err.startswith(
        "error: s.json: not a state of environment 'remote' (it is the state of environment 'prod')"
    )
    (repo / "s.json").write_text("{nope")
    assert pg_cli(repo, pg_dsn, "state", "push", "s.json").err.startswith(
        "error: s.json: not a state of environment 'remote' (Expecting property name"
    )


def test_moving_a_file_state_to_postgres_is_three_commands(
    tmp_path: Path,
    server: LiveServer,  # noqa: F811
    pg_dsn: str,
) -> None:
    repo = make_repo(tmp_path, server.url, 3)  # its state is a file
    assert run_cli("apply", "--auto-approve", cwd=repo, env=ENV).code == 0
    made = deployed(server)
    pull = run_cli("state", "pull", cwd=repo, env=ENV)
    (repo / "s.json").write_text(pull.out)
    with (repo / "personactl.yaml").open("a") as handle:
        handle.write(f"    state: {{backend: postgres, dsn_env: {DSN_ENV}}}\n")
    pushed = pg_cli(repo, pg_dsn, "state", "push", "s.json")
    assert pushed.code == 0, pushed.both
    moved = pulled(repo, pg_dsn)
    before = json.loads(pull.out)
    assert moved["lineage"] == before["lineage"] and moved["resources"] == before["resources"]
    plan = pg_cli(repo, pg_dsn, "plan", "--detailed-exitcode")
    assert plan.code == 0 and "No changes." in plan.out, plan.both
    assert "No changes." in apply_ok(repo, pg_dsn).out
    assert deployed(server) == made  # nothing created twice
    # pushing it again, over itself: the same lineage, an older serial
    again = pg_cli(repo, pg_dsn, "state", "push", "s.json")
    assert again.code == 1 and "newer than the file's" in again.err


# -- configuration and the connection string ----------------------------------------------

PASSWORD = "pg-pw-DO-NOT-LEAK-5e1"


def test_the_dsn_never_reaches_output_or_files(
    tmp_path: Path,
    server: LiveServer,  # noqa: F811
    postgres_cluster: Cluster,
    pg_dsn: str,
) -> None:
    # trust authentication ignores the password, so this DSN connects
    host = f"{postgres_cluster.host}:{postgres_cluster.port}"
    dsn = pg_dsn.replace("postgres@", f"postgres:{PASSWORD}@")
    repo = pg_repo(tmp_path, server.url, 2)
    outputs = [
        pg_cli(repo, dsn, *args)
        for args in (
            ["plan"],
            ["apply", "--auto-approve"],
            ["state", "list"],
            ["state", "show", "p01"],
            ["state", "pull"],
            ["state", "unlock"],
            ["state", "rm", "nope"],
        )
    ]
    assert [r.code for r in outputs] == [0, 0, 0, 0, 0, 0, 1]
    bad = [
        f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/db",  # refused connection
        f"postgresql://nobody:{PASSWORD}@{host}/db",  # no such role
        f"host=127.0.0.1 password={PASSWORD} oops",  # not a connection string
        f"postgresql://postgres:{PASSWORD}@{host}/missing_db",
    ]
    failures = [pg_cli(repo, d, "state", "list") for d in bad]
    assert [r.code for r in failures] == [1, 1, 1, 1]
    assert [len(r.err.splitlines()) for r in failures] == [1, 1, 1, 1]
    assert failures[0].err.startswith(
        "error: postgres state 127.0.0.1/db: cannot connect: connection failed: "
    )
    assert 'role "nobody" does not exist' in failures[1].err
    assert failures[2].err == (
        f"error: environment variable {DSN_ENV} does not hold a valid PostgreSQL connection string "
        "(hint: postgresql://USER:PASSWORD@HOST:5432/DBNAME, or key=value pairs)\n"
    )
    assert 'database "missing_db" does not exist' in failures[3].err
    for result in outputs + failures:
        for text in (result.out, result.err):
            assert PASSWORD not in text and dsn not in text
    for path in repo.rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path
    dump = "".join(str(row) for row in query(pg_dsn, "SELECT * FROM personactl_resources"))
    dump += "".join(str(row) for row in query(pg_dsn, "SELECT * FROM personactl_states"))
    assert PASSWORD not in dump
    assert_no_secrets(*(r.both for r in outputs), dump, root=repo)


def test_scrub_masks_every_form_of_the_password() -> None:
    db = PostgresStore(f"postgresql://u:p%40ss-{PASSWORD}@h:5432/db", "remote", DSN_ENV)
    text = f"x postgresql://u:p%40ss-{PASSWORD}@h:5432/db password=p@ss-{PASSWORD} y"
    assert db.scrub(text) == "x (sensitive) password=(sensitive) y"
    assert db.where == "postgres state h/db"
    assert db.scrub("postgres://a:b@c/d password='x y'") == (
        "postgres://(sensitive)@c/d password=(sensitive)"
    )


def test_a_missing_dsn_variable_is_one_line(tmp_path: Path) -> None:
    repo = pg_repo(tmp_path, "http://127.0.0.1:9", 1)
    for args in (["plan"], ["apply", "--auto-approve"], ["state", "list"], ["state", "pull"]):
        result = run_cli(*args, cwd=repo, env=ENV)
        assert result.code == 1
        assert result.err == (
            f"error: environment variable {DSN_ENV} is not set (hint: export the PostgreSQL "
            f"connection string of the state of environment 'remote' as {DSN_ENV})\n"
        )


def test_without_psycopg_one_line_says_what_to_install(tmp_path: Path, pg_dsn: str) -> None:
    repo = pg_repo(tmp_path, "http://127.0.0.1:9", 1)
    # the real CLI in a process where psycopg cannot be imported
    code = "import sys; sys.modules['psycopg'] = None; from personactl.cli import main; main()"
    for args in (["state", "list"], ["validate"]):
        proc = subprocess.run(
            [sys.executable, "-c", code, *args],
            cwd=repo,
            env={**os.environ, **ENV, DSN_ENV: pg_dsn},
            capture_output=True,
            text=True,
            timeout=60,
        )
        if args == ["validate"]:  # needs no state: works without the extra
            assert proc.returncode == 0, proc.stderr
            continue
        assert proc.returncode == 1
        assert proc.stderr == (
            "error: a postgres state needs psycopg, which is not installed "
            "(hint: pip install 'personactl[postgres]')\n"
        )


STATE_ERRORS = [
    ("state: 5", "personactl.yaml:5:12: state must be a file path or a mapping"),
    (
        "state: {backend: s3}",
        "personactl.yaml:5:22: unknown state backend 's3' (hint: backend is file or postgres)",
    ),
    (
        "state: {backend: postgres, path: s.json}",
        "personactl.yaml:5:32: state path belongs to backend file, not postgres",
    ),
    (
        "state: {dsn_env: X}",
        "personactl.yaml:5:13: state dsn_env belongs to backend postgres, not file",
    ),
    (
        "state: {backend: postgres, dns_env: X}",
        "personactl.yaml:5:32: unknown key 'dns_env' in the state of environment 'e' "
        "(hint: did you mean 'dsn_env'?)",
    ),
    ("state: {backend: postgres, dsn_env: ''}", "personactl.yaml:5:32: state dsn_env must be "),
]


@pytest.mark.parametrize(("line", "error"), STATE_ERRORS, ids=[e[0] for e in STATE_ERRORS])
def test_state_configuration_errors(tmp_path: Path, line: str, error: str) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": "version: 1\ndefault_environment: e\n"
            f"environments:\n  e:\n    {line}\n"
        },
    )
    result = run_cli("validate", cwd=tmp_path)
    assert result.code == 1
    assert result.err.startswith(error), result.err
    assert len(result.err.splitlines()) == 1


def test_the_state_forms_load_and_validate_against_the_editor_schema(tmp_path: Path) -> None:
    import jsonschema

    from personactl.project import StateConfig, load_project
    from personactl.schema import project_json_schema

    environments = {
        "a": {},
        "b": {"state": "state/b.json"},
        "c": {"state": {"backend": "file", "path": "c.json"}},
        "d": {"state": {"backend": "postgres"}},
        "e": {"state": {"backend": "postgres", "dsn_env": "E_DSN"}},
    }
    doc = {"version": 1, "default_environment": "a", "environments": environments}
    build_tree(tmp_path, {"personactl.yaml": json.dumps(doc)})
    project = load_project(tmp_path)
    assert {n: e.state for n, e in project.environments.items()} == {
        "a": StateConfig(),
        "b": StateConfig(path="state/b.json"),
        "c": StateConfig(path="c.json"),
        "d": StateConfig("postgres"),
        "e": StateConfig("postgres", dsn_env="E_DSN"),
    }
    assert project.state_path(project.environments["c"]) == tmp_path.resolve() / "c.json"
    schema = jsonschema.Draft202012Validator(project_json_schema())
    assert list(schema.iter_errors(doc)) == []
    for wrong in ({"backend": "s3"}, {"backend": "postgres", "dns_env": "X"}, 5):
        assert list(schema.iter_errors({"environments": {"x": {"state": wrong}}}))


def test_env_of_a_dsn_env_is_a_located_error(tmp_path: Path) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": """
                version: 1
                environments:
                  local: {}
                  prod: {backend: tavus, state: {backend: postgres, dsn_env: ACME_DSN}}
                """,
            "personas/a.yaml": "persona:\n  system_prompt: \"{{ env('ACME_DSN', 'x') }}\"\n",
        },
    )
    result = run_cli("validate", cwd=tmp_path, env={"ACME_DSN": f"postgres://u:{PASSWORD}@h/d"})
    assert result.code == 1
    assert result.err.splitlines() == [
        "personas/a.yaml:2:18: env('ACME_DSN') reads a secret (ACME_DSN is the dsn_env of "
        "environment 'prod') (hint: use secret('ACME_DSN'): its value is never printed)",
        "1 error in 1 file",
    ]
    assert PASSWORD not in result.both and SECRETS
