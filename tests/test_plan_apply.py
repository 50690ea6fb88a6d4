"""plan / apply end to end through the real CLI: the `local` backend and the `tavus`
backend against a real `personactl serve` over HTTP."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from personactl import digests
from personactl.kinds import PERSONAS
from personactl.serve.store import Store
from tests.conftest import SECRETS, Result, assert_no_secrets, run_cli
from tests.serverfix import API_KEY, server  # noqa: F401

ENV = dict(SECRETS)
ADDRESSES = [
    "intake-assistant",
    "storyteller/children",
    "storyteller/crime",
    "storyteller/horror",
    "weather-assistant",
]
# every address of the example, in the plan's order (by address)
ALL_ADDRESSES = sorted(
    [*ADDRESSES, "objectives:intake", "guardrails:no-diagnosis", "tools:lookup_patient"]
)
PERSONA_ID = re.compile(r"\bp[0-9a-f]{12}\b")


def cli(repo: Path, *args: str, env: dict[str, str] | None = None, code: int | None = 0) -> Result:
    """Run personactl in repo (stdin is never a TTY); check no secret leaked anywhere."""
    r = run_cli(*args, cwd=repo, env={**ENV, **(env or {})}, input="")
    assert_no_secrets(r.out, r.err, root=repo)
    if code is not None:
        assert r.code == code, r.both
    return r


def apply_all(repo: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return cli(repo, "apply", "--auto-approve", *args, env=env)


def deploy(repo: Path, *targets: str, env_name: str | None = None) -> None:
    """Set-up in process (no subprocess): plan and apply everything, or these targets."""
    from personactl.deploy.engine import apply
    from personactl.project import load_project

    outcome = apply(load_project(repo), env_name, targets=targets, environ=ENV).outcome
    assert not outcome.failed and not outcome.warnings, outcome


def state_ids(repo: Path, env: str = "local") -> dict[str, str]:
    """address -> persona_id of the personas in state (the example's other kinds left out)."""
    data = json.loads((repo / ".personactl" / "state" / f"{env}.json").read_text())
    return {a: r["persona_id"] for a, r in data["resources"].items() if ":" not in a}


def local_store(repo: Path) -> Store:
    return Store(repo / ".personactl" / "local.db")


def deployed(repo: Path) -> dict[str, dict]:
    store = local_store(repo)
    try:
        items, _ = store.list_personas(100, 1, "user")
    finally:
        store.close()
    return {p["persona_id"]: p for p in items}


def patch_deployed(repo: Path, persona_id: str, ops: list[dict]) -> None:
    """A change made outside personactl (the Tavus dashboard, another tool)."""
    store = local_store(repo)
    try:
        store.patch_persona(persona_id, ops)
    finally:
        store.close()


def mask_ids(text: str) -> str:
    return PERSONA_ID.sub("<persona_id>", text)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def plan_json(repo: Path, *args: str, env: dict[str, str] | None = None) -> dict:
    return json.loads(cli(repo, "plan", "--format", "json", *args, env=env).out)


# -- the basic loop -------------------------------------------------------------------


def test_create_then_second_plan_is_empty(example_repo):
    repo = example_repo
    r = cli(repo, "plan", "--detailed-exitcode", code=2)
    for address in ALL_ADDRESSES:
        assert f"+ create {address}" in r.out
    assert "Plan: 8 to create, 0 to update, 0 to delete." in r.out
    assert "(sensitive)" in r.out

    r = apply_all(repo)
    assert "8 created, 0 updated, 0 deleted, 0 failed" in r.out
    ids = state_ids(repo)
    assert sorted(ids) == ADDRESSES
    live = deployed(repo)
    assert set(ids.values()) == set(live)
    children = live[ids["storyteller/children"]]
    assert children["persona_name"] == "Mert the Children's Storyteller"
    assert "telling stories to children" in children["system_prompt"]

    r = cli(repo, "plan", "--detailed-exitcode", code=0)
    assert "Plan: 0 to create, 0 to update, 0 to delete." in r.out
    assert "No changes" in r.out
    # and apply with nothing to do changes nothing
    r = apply_all(repo)
    assert state_ids(repo) == ids
    assert deployed(repo) == live


def test_plan_json_shape_and_out_file(example_repo):
    repo = example_repo
    data = plan_json(repo)
    assert data["format_version"] == 1
    assert data["environment"] == "local"
    assert data["summary"] == {"create": 8, "update": 0, "delete": 0}
    assert [c["address"] for c in data["changes"]] == ALL_ADDRESSES
    for change in data["changes"]:
        assert change["action"] == "create"
        assert change.get("persona_id", change.get("id")) is None
        assert "fingerprint" in change
        assert all(op["op"] == "add" for op in change["patch"])
    by_address = {c["address"]: c for c in data["changes"]}
    patch = {op["path"]: op["value"] for op in by_address["storyteller/children"]["patch"]}
    assert patch["/layers"]["llm"]["api_key"] == "(sensitive)"
    assert patch["/persona_name"] == "Mert the Children's Storyteller"

    r = cli(repo, "plan", "--out", "plan.json")
    assert "Plan: 8 to create" in r.out  # text on stdout
    saved = json.loads((repo / "plan.json").read_text())
    assert saved["format_version"] == 1 and saved["summary"]["create"] == 8

    # a JSON plan of updates carries persona_id, the fingerprint and a masked RFC 6902 patch
    deploy(repo)
    ids = state_ids(repo)
    edit(repo / "personas" / "weather-assistant.yaml", "Weather Assistant", "Weather Helper")
    data = plan_json(repo, env={"TTS_API_KEY": "tts-rotated-DO-NOT-LEAK"})
    assert data["summary"] == {"create": 0, "update": 5, "delete": 0}
    weather = next(c for c in data["changes"] if c["address"] == "weather-assistant")
    assert weather["persona_id"] == ids["weather-assistant"]
    assert weather["fingerprint"].startswith("sha256:")
    assert weather["patch"] == [
        {"op": "replace", "path": "/layers/tts/api_key", "value": "(sensitive)"},
        {"op": "replace", "path": "/persona_name", "value": "Weather Helper"},
    ]
    assert "tts-rotated-DO-NOT-LEAK" not in json.dumps(data)


def test_minimal_patch_line_diff_and_removed_key(example_repo):
    repo = example_repo
    deploy(repo)
    ids = state_ids(repo)
    before = deployed(repo)
    edit(
        repo / "templates" / "prompts" / "storyteller.md.j2",
        "You are a storyteller.",
        "You are a storyteller.\nYou never rush.",
    )
    edit(
        repo / "personas" / "storyteller.yaml", "    llm:\n      speculative_inference: true\n", ""
    )
    edit(repo / "personas" / "storyteller.yaml", "      stt_engine: tavus-advanced\n", "")

    r = cli(repo, "plan", "--detailed-exitcode", "--target", "storyteller/children", code=2)
    assert "~ update storyteller/children (" + ids["storyteller/children"] + ")" in r.out
    assert "- /layers/llm/speculative_inference: true" in r.out
    assert "- /layers/stt/stt_engine: " in r.out
    assert "~ /system_prompt:" in r.out
    # a line diff, not two walls of text
    assert "-You are a storyteller. You like telling stories to children.\n" in r.out
    assert "+You are a storyteller.\n" in r.out
    assert "+You never rush. You like telling stories to children.\n" in r.out
    assert "         Reply in brief utterances" in r.out  # unchanged context line
    assert r.out.count("Reply in brief utterances") == 1
    assert "Plan: 0 to create, 1 to update, 0 to delete." in r.out

    change = plan_json(repo, "--target", "storyteller/children")["changes"][0]
    assert sorted(change["patch"], key=lambda op: op["path"]) == [
        {"op": "remove", "path": "/layers/llm/speculative_inference"},
        {"op": "remove", "path": "/layers/stt/stt_engine"},
        {
            "op": "replace",
            "path": "/system_prompt",
            "value": "You are a storyteller.\nYou never rush. You like telling stories to children."
            "\nReply in brief utterances, and ask prompting questions to the user as you tell "
            "your stories to keep them engaged.",
        },
    ]

    apply_all(repo, "--target", "storyteller")
    after = deployed(repo)
    child = after[ids["storyteller/children"]]
    assert "speculative_inference" not in child["layers"]["llm"]
    assert "stt_engine" not in child["layers"]["stt"]
    assert child["system_prompt"].startswith("You are a storyteller.\nYou never rush.")
    # unrelated persona untouched; server-side fields kept
    assert after[ids["weather-assistant"]] == before[ids["weather-assistant"]]
    assert child["created_at"] == before[ids["storyteller/children"]]["created_at"]
    cli(repo, "plan", "--detailed-exitcode", code=0)


def test_no_false_diff_from_server_fields_and_defaults(example_repo):
    repo = example_repo
    deploy(repo)
    ids = state_ids(repo)
    # the API fills in defaults and server-side fields nobody declared
    patch_deployed(
        repo,
        ids["weather-assistant"],
        [
            {"op": "add", "path": "/default_replica_id", "value": "r79e1c033f"},
            {"op": "add", "path": "/layers/tts/voice_settings/speed", "value": 0.5},
            {"op": "add", "path": "/layers/stt", "value": {"stt_engine": "tavus-turbo"}},
        ],
    )
    cli(repo, "plan", "--detailed-exitcode", code=0)


def test_drift_is_shown_as_such_and_resolved(example_repo):
    repo = example_repo
    deploy(repo)
    pid = state_ids(repo)["weather-assistant"]
    patch_deployed(
        repo, pid, [{"op": "replace", "path": "/persona_name", "value": "Dashboard Edit"}]
    )
    r = cli(repo, "plan", "--detailed-exitcode", code=2)
    assert "drift" in r.out
    assert (
        '~ /persona_name: "Dashboard Edit" -> "Weather Assistant"  (changed outside personactl)'
        in r.out
    )
    assert "Plan: 0 to create, 1 to update, 0 to delete." in r.out
    change = plan_json(repo)["changes"][0]
    assert change["drift"] == ["/persona_name"]
    deploy(repo)
    assert deployed(repo)[pid]["persona_name"] == "Weather Assistant"
    cli(repo, "plan", "--detailed-exitcode", code=0)


def test_secret_change_is_a_sensitive_update(example_repo):
    repo = example_repo
    deploy(repo)
    rotated = {"CUSTOM_LLM_API_KEY": "sk-llm-rotated-DO-NOT-LEAK"}
    r = cli(repo, "plan", "--detailed-exitcode", env=rotated, code=2)
    assert r.out.count('~ /layers/llm/api_key: "(sensitive)" -> "(sensitive)"') == 5
    assert "Plan: 0 to create, 5 to update, 0 to delete." in r.out
    assert "sk-llm-rotated-DO-NOT-LEAK" not in r.both
    apply_all(repo, env=rotated)
    cli(repo, "plan", "--detailed-exitcode", env=rotated, code=0)
    assert (
        "sk-llm-rotated-DO-NOT-LEAK"
        not in (repo / ".personactl" / "state" / "local.json").read_text()
    )
    # the old value is a change again
    cli(repo, "plan", "--detailed-exitcode", code=2)


def test_missing_secret_is_an_error_at_plan_time(example_repo):
    r = run_cli(
        "plan",
        cwd=example_repo,
        env={k: SECRETS[k] for k in ("TTS_API_KEY", "INTAKE_TOOL_TOKEN")},
    )
    assert r.code == 1
    assert r.err.splitlines() == [
        "personas/_bases/custom-llm.yaml:11:16: "
        "secret CUSTOM_LLM_API_KEY is not set (used by intake-assistant, storyteller/children, "
        "storyteller/crime and 2 more) (hint: export CUSTOM_LLM_API_KEY=... "
        "(plan and apply need secret values))"
    ]
    assert_no_secrets(r.out, r.err, root=example_repo)


def test_persona_deleted_remotely_is_a_create(example_repo):
    repo = example_repo
    deploy(repo)
    old = state_ids(repo)["weather-assistant"]
    store = local_store(repo)
    store.delete_persona(old)
    store.close()
    r = cli(repo, "plan", "--detailed-exitcode", code=2)
    assert "+ create weather-assistant" in r.out
    assert "Plan: 1 to create, 0 to update, 0 to delete." in r.out
    deploy(repo)
    new = state_ids(repo)["weather-assistant"]
    assert new != old and new in deployed(repo)
    cli(repo, "plan", "--detailed-exitcode", code=0)


def test_unmanaged_personas_are_never_touched(example_repo):
    repo = example_repo
    deploy(repo)
    store = local_store(repo)
    stranger = store.create_persona(
        {"persona_name": "Weather Assistant", "system_prompt": "Not ours."}
    )["persona_id"]
    store.close()
    # a managed persona leaves the configuration
    (repo / "personas" / "weather-assistant.yaml").unlink()
    r = cli(repo, "plan", "--detailed-exitcode", code=0)
    assert stranger not in r.both
    assert "weather-assistant" in r.out and "--prune" in r.out  # kept, with a note
    r = cli(repo, "plan", "--prune", "--detailed-exitcode", code=2)
    assert stranger not in r.out
    assert "- delete weather-assistant" in r.out
    assert "Plan: 0 to create, 0 to update, 1 to delete." in r.out
    managed = state_ids(repo)["weather-assistant"]
    r = apply_all(repo, "--prune")
    assert "1 deleted" in r.out
    live = deployed(repo)
    assert stranger in live and managed not in live
    assert "weather-assistant" not in state_ids(repo)
    cli(repo, "plan", "--prune", "--detailed-exitcode", code=0)


def test_targets_select_addresses_and_file_prefixes(example_repo):
    repo = example_repo
    r = cli(repo, "plan", "--target", "storyteller")
    assert r.out.count("+ create storyteller/") == 3 and "weather-assistant" not in r.out
    r = cli(repo, "plan", "--target", "storyteller/horror", "--target", "weather-assistant")
    assert "+ create storyteller/horror" in r.out and "+ create weather-assistant" in r.out
    assert "Plan: 2 to create" in r.out
    r = cli(repo, "plan", "--target", "storyteler", code=1)
    assert "storyteler" in r.err
    apply_all(repo, "--target", "storyteller/crime")
    assert list(state_ids(repo)) == ["storyteller/crime"]
    r = cli(repo, "plan", "--format", "json", "--target", "storyteller")
    assert json.loads(r.out)["summary"] == {"create": 2, "update": 0, "delete": 0}


def test_apply_without_tty_refuses_without_auto_approve(example_repo):
    repo = example_repo
    r = cli(repo, "apply", code=1)
    assert "--auto-approve" in r.err
    assert deployed(repo) == {}
    assert not (repo / ".personactl" / "state" / "local.json").exists()


def test_destroy_threshold(example_repo):
    repo = example_repo
    for i in range(3):
        (repo / "personas" / f"extra{i}.yaml").write_text(
            f"persona:\n  persona_name: Extra {i}\n  system_prompt: Hi.\n"
        )
    deploy(repo)
    assert len(state_ids(repo)) == 8
    for i in range(3):
        (repo / "personas" / f"extra{i}.yaml").unlink()
    # 3 deletes: not more than 3, allowed
    (repo / "personas" / "_keep").mkdir()
    r = cli(repo, "plan", "--prune")
    assert "Plan: 0 to create, 0 to update, 3 to delete." in r.out
    # 4 of 11 (> 3 and > 20%) is refused without --allow-destroy, nothing changed
    (repo / "personas" / "weather-assistant.yaml").rename(
        repo / "personas" / "_keep" / "weather-assistant.yaml"
    )
    before = deployed(repo)
    r = cli(repo, "apply", "--auto-approve", "--prune", code=1)
    assert "--allow-destroy" in r.err and "4 of 11" in r.err
    assert deployed(repo) == before and len(state_ids(repo)) == 8
    cli(repo, "plan", "--prune", "--out", "four.json")
    r = cli(repo, "apply", "four.json", code=1)
    assert "--allow-destroy" in r.err
    assert deployed(repo) == before
    r = cli(repo, "apply", "four.json", "--allow-destroy")
    assert "4 deleted" in r.out
    assert len(deployed(repo)) == 4 and len(state_ids(repo)) == 4


@pytest.mark.parametrize(
    ("deletes", "managed", "refused"),
    [
        (3, 3, False),
        (3, 4, False),
        (4, 4, True),
        (4, 20, False),
        (4, 19, True),
        (5, 25, False),
        (6, 25, True),
        (0, 0, False),
    ],
)
def test_destroy_threshold_rule(deletes, managed, refused):
    """Refused only when more than 3 *and* more than 20% of the managed personas go."""
    from personactl.deploy.engine import check_destroy
    from personactl.deploy.plan import Change, Plan
    from personactl.errors import UserError

    changes = [Change(f"p{i}", "delete", f"p{i}", [], None) for i in range(deletes)]
    plan = Plan("local", "local", changes, managed)
    check_destroy(plan, allow_destroy=True)
    if refused:
        with pytest.raises(UserError, match="--allow-destroy"):
            check_destroy(plan, allow_destroy=False)
    else:
        check_destroy(plan, allow_destroy=False)


def test_destroy_threshold_counts_share(example_repo):
    """4 deletes of 25 managed (16%) is under the 20% share: allowed."""
    repo = example_repo
    for i in range(20):
        (repo / "personas" / f"extra{i:02}.yaml").write_text(
            f"persona:\n  persona_name: Extra {i}\n  system_prompt: Hi.\n"
        )
    deploy(repo)
    assert len(state_ids(repo)) == 25
    for i in range(4):
        (repo / "personas" / f"extra{i:02}.yaml").unlink()
    r = apply_all(repo, "--prune")
    assert "4 deleted" in r.out


# -- saved plans ------------------------------------------------------------------------


def test_apply_planfile_applies_exactly_that_plan(example_repo):
    repo = example_repo
    cli(repo, "plan", "--target", "weather-assistant", "--out", "plan.json")
    assert_no_secrets((repo / "plan.json").read_text())
    # a later config change is not part of the saved plan
    edit(repo / "personas" / "storyteller.yaml", "Mert the Crime", "Mort the Crime")
    r = cli(repo, "apply", "plan.json")
    assert "1 created" in r.out
    assert list(state_ids(repo)) == ["weather-assistant"]
    r = cli(repo, "apply", "plan.json", code=1)  # applied already: refused, and said so
    assert "plan already applied" in r.err
    assert list(state_ids(repo)) == ["weather-assistant"] and len(deployed(repo)) == 1
    r = cli(repo, "apply", "plan.json", "--target", "x", code=1)


def test_apply_planfile_refuses_when_persona_changed_since_plan(example_repo):
    repo = example_repo
    deploy(repo)
    ids = state_ids(repo)
    edit(repo / "personas" / "weather-assistant.yaml", "Weather Assistant", "Weather Helper")
    cli(repo, "plan", "--out", "plan.json", "--detailed-exitcode", code=2)
    patch_deployed(
        repo,
        ids["weather-assistant"],
        [{"op": "replace", "path": "/context", "value": "Changed meanwhile."}],
    )
    before = deployed(repo)
    state_before = (repo / ".personactl" / "state" / "local.json").read_text()
    r = cli(repo, "apply", "plan.json", code=1)
    assert "weather-assistant" in r.err and "changed" in r.err
    assert deployed(repo) == before
    assert (repo / ".personactl" / "state" / "local.json").read_text() == state_before
    # a fresh plan goes through
    cli(repo, "plan", "--out", "plan.json")
    cli(repo, "apply", "plan.json")
    assert deployed(repo)[ids["weather-assistant"]]["persona_name"] == "Weather Helper"


def test_apply_planfile_refuses_when_deleted_since_plan(example_repo):
    repo = example_repo
    deploy(repo)
    edit(repo / "personas" / "weather-assistant.yaml", "Weather Assistant", "Weather Helper")
    cli(repo, "plan", "--out", "plan.json")
    store = local_store(repo)
    store.delete_persona(state_ids(repo)["weather-assistant"])
    store.close()
    r = cli(repo, "apply", "plan.json", code=1)
    assert "weather-assistant" in r.err


def test_apply_planfile_refuses_when_secret_changed(example_repo):
    repo = example_repo
    deploy(repo)
    edit(repo / "personas" / "weather-assistant.yaml", "Weather Assistant", "Weather Helper")
    cli(repo, "plan", "--out", "plan.json")
    before = deployed(repo)
    r = cli(repo, "apply", "plan.json", env={"TTS_API_KEY": "tts-other-DO-NOT-LEAK"}, code=1)
    assert "TTS_API_KEY" in r.err and "tts-other-DO-NOT-LEAK" not in r.both
    assert deployed(repo) == before
    r = run_cli("apply", "plan.json", cwd=repo, env={"TTS_API_KEY": SECRETS["TTS_API_KEY"]})
    assert r.code == 1 and "CUSTOM_LLM_API_KEY" in r.err
    assert deployed(repo) == before
    cli(repo, "apply", "plan.json")


def test_apply_planfile_refuses_other_environment(example_repo):
    repo = example_repo
    cli(repo, "plan", "--out", "plan.json")
    with (repo / "personactl.yaml").open("a") as handle:
        handle.write("  staging:\n    backend: local\n")
    r = cli(repo, "--env", "staging", "apply", "plan.json", code=1)
    assert "local" in r.err and "staging" in r.err


def test_lock_held_fails_fast_naming_holder(example_repo):
    repo = example_repo
    lock = repo / ".personactl" / "state" / "local.json.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(
        json.dumps(
            {
                "holder": "ci-bot@runner-7",
                "pid": 4242,
                "operation": "apply",
                "started_at": "2024-05-01T10:00:00+00:00",
            }
        )
    )
    r = cli(repo, "apply", "--auto-approve", code=1)
    assert "ci-bot@runner-7" in r.err and "apply" in r.err and "2024-05-01T10:00:00" in r.err
    assert "state unlock" in r.err
    assert deployed(repo) == {}
    r = cli(repo, "state", "unlock")
    assert "ci-bot@runner-7" in r.err
    assert not lock.exists()
    deploy(repo)
    assert not lock.exists()  # released after the apply


# -- snapshots of the text and markdown plans -----------------------------------------


def _changed_example(repo: Path) -> None:
    """Apply, then change the example repo in every way a plan shows."""
    deploy(repo)
    ids = state_ids(repo)
    edit(
        repo / "templates" / "prompts" / "storyteller.md.j2",
        "You are a storyteller.",
        "You are a storyteller.\nYou never rush.",
    )
    edit(repo / "personas" / "storyteller.yaml", "      stt_engine: tavus-advanced\n", "")
    edit(repo / "personas" / "weather-assistant.yaml", "Weather Assistant", "Weather Helper")
    edit(repo / "personas" / "weather-assistant.yaml", "enum: [celsius, fahrenheit]", "enum: [c]")
    patch_deployed(
        repo,
        ids["storyteller/horror"],
        [{"op": "replace", "path": "/context", "value": "Edited in the dashboard."}],
    )
    store = local_store(repo)
    store.delete_persona(ids["storyteller/crime"])
    store.close()


def test_text_plan_snapshot(example_repo, snapshot):
    r = cli(example_repo, "plan")
    assert r.out == snapshot(name="create")
    _changed_example(example_repo)
    r = cli(example_repo, "plan", env={"TTS_API_KEY": "tts-rotated-DO-NOT-LEAK"})
    assert mask_ids(r.out) == snapshot(name="update")


def test_markdown_plan_snapshot(example_repo, snapshot):
    r = cli(example_repo, "plan", "--format", "markdown")
    assert r.out == snapshot(name="create")
    _changed_example(example_repo)
    r = cli(
        example_repo,
        "plan",
        "--format",
        "markdown",
        env={"TTS_API_KEY": "tts-rotated-DO-NOT-LEAK"},
    )
    assert mask_ids(r.out) == snapshot(name="update")


# -- the tavus backend over real HTTP ------------------------------------------------------


def use_server(repo: Path, url: str) -> dict[str, str]:
    with (repo / "personactl.yaml").open("a") as handle:
        handle.write(
            f"  test:\n    backend: tavus\n    api_url: {url}\n    api_key_env: SOME_VAR\n"
        )
    return {"SOME_VAR": API_KEY}


def test_tavus_backend_full_loop(example_repo, server):  # noqa: F811
    repo = example_repo
    key = use_server(repo, server.url)
    r = cli(repo, "--env", "test", "plan", "--detailed-exitcode", env=key, code=2)
    assert "Plan: 8 to create, 0 to update, 0 to delete." in r.out
    assert API_KEY not in r.both

    r = cli(repo, "--env", "test", "apply", "--auto-approve", env=key)
    assert "8 created" in r.out and "warning" not in r.err
    ids = state_ids(repo, "test")
    assert sorted(ids) == ADDRESSES
    remote = {p["persona_id"]: p for p in server.store.list_personas(100, 1, "user")[0]}
    assert set(remote) == set(ids.values())
    raw = server.store._get_raw(server.store._db, PERSONAS, ids["weather-assistant"])
    # the real value went over the wire: the server keeps only its salted digest
    assert digests.verify(SECRETS["CUSTOM_LLM_API_KEY"], raw["layers"]["llm"]["api_key"])

    server.reset_stats()
    cli(repo, "--env", "test", "plan", "--detailed-exitcode", env=key, code=0)
    # one paginated list per kind, no GET per resource
    assert server.stats()["requests"] == {
        f"GET /v2/{kind}": 1 for kind in ("personas", "objectives", "guardrails", "tools")
    }

    # update through a JSON Patch, saved plan applied over HTTP
    edit(repo / "personas" / "weather-assistant.yaml", "Weather Assistant", "Weather Helper")
    cli(repo, "--env", "test", "plan", "--out", "plan.json", env=key)
    server.reset_stats()
    r = cli(repo, "--env", "test", "apply", "plan.json", env=key)
    assert "1 updated" in r.out
    assert server.stats()["requests"].get("PATCH /v2/personas/{persona_id}", 1) == 1
    assert server.store.get_persona(ids["weather-assistant"])["persona_name"] == "Weather Helper"

    # stale saved plan over HTTP
    edit(repo / "personas" / "weather-assistant.yaml", "Weather Helper", "Weather Buddy")
    cli(repo, "--env", "test", "plan", "--out", "plan.json", env=key)
    server.store.patch_persona(
        ids["weather-assistant"], [{"op": "replace", "path": "/context", "value": "meanwhile"}]
    )
    r = cli(repo, "--env", "test", "apply", "plan.json", env=key, code=1)
    assert "weather-assistant" in r.err
    assert server.store.get_persona(ids["weather-assistant"])["persona_name"] == "Weather Helper"

    # prune over HTTP; the server's system personas and strangers are never touched
    stranger = server.store.create_persona({"persona_name": "Not managed"})["persona_id"]
    (repo / "personas" / "weather-assistant.yaml").unlink()
    r = cli(repo, "--env", "test", "plan", "--prune", env=key)
    assert "- delete weather-assistant" in r.out and "p5e1ec7ed0001" not in r.out
    assert stranger not in r.out
    r = cli(repo, "--env", "test", "apply", "--auto-approve", "--prune", env=key)
    assert "1 deleted" in r.out
    assert server.store.get_persona(ids["weather-assistant"]) is None
    assert server.store.get_persona(stranger) is not None
    assert server.store.get_persona("p5e1ec7ed0001") is not None
    cli(repo, "--env", "test", "plan", "--prune", "--detailed-exitcode", env=key, code=0)
    assert not (repo / ".personactl" / "local.db").exists()


def test_tavus_backend_wrong_api_key(example_repo, server):  # noqa: F811
    repo = example_repo
    use_server(repo, server.url)
    wrong = "wrong-key-DO-NOT-PRINT-31337"
    r = cli(repo, "--env", "test", "plan", env={"SOME_VAR": wrong}, code=1)
    assert wrong not in r.both
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, r.err
    assert "SOME_VAR" in lines[0] and "Traceback" not in r.err
    r = cli(repo, "--env", "test", "apply", "--auto-approve", env={"SOME_VAR": wrong}, code=1)
    assert wrong not in r.both and len(r.err.strip().splitlines()) == 1
    assert not state_ids_exists(repo, "test") or state_ids(repo, "test") == {}


def test_tavus_backend_missing_api_key(example_repo, server):  # noqa: F811
    use_server(example_repo, server.url)
    r = cli(example_repo, "--env", "test", "plan", code=1)
    assert "SOME_VAR" in r.err and len(r.err.strip().splitlines()) == 1


def state_ids_exists(repo: Path, env: str) -> bool:
    return (repo / ".personactl" / "state" / f"{env}.json").exists()


def test_no_changes_in_every_format(example_repo):
    repo = example_repo
    deploy(repo)
    for fmt in ("text", "markdown"):
        r = cli(repo, "plan", "--format", fmt, "--detailed-exitcode")
        assert "No changes" in r.out
    r = cli(repo, "plan", "--format", "json", "--detailed-exitcode")
    assert json.loads(r.out)["changes"] == []


def test_apply_saves_state_once_after_read_back(example_repo, monkeypatch):
    from personactl.deploy.state.file import FileStore

    saves: list[dict[str, str]] = []
    real_save = FileStore.save

    def counting_save(self, state):
        saves.append({a: r.fingerprint for a, r in state.resources.items()})
        real_save(self, state)

    monkeypatch.setattr(FileStore, "save", counting_save)
    deploy(example_repo)
    assert len(saves) == 1  # the journal covered the creates until this one save
    assert saves[0] and all(saves[0].values())  # with the read-back fingerprints
    assert not (example_repo / ".personactl" / "state" / "local.json.journal").exists()
