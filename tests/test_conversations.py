"""`personactl conversation render|create`: typed inputs, persona_id from state."""

from __future__ import annotations

import json
import re

from tests.conftest import SECRETS
from tests.serverfix import API_KEY, server  # noqa: F401
from tests.test_plan_apply import cli, deploy, local_store, state_ids, use_server


def test_render_needs_a_deployed_persona(example_repo):
    r = cli(example_repo, "conversation", "render", "maya", "--var", "user_name=Maya", code=1)
    assert "storyteller/children" in r.err and "not deployed" in r.err
    assert "apply" in r.err and "Traceback" not in r.err
    assert r.out == ""


def test_render_and_create_on_local(example_repo):
    repo = example_repo
    deploy(repo, "storyteller/children")
    pid = state_ids(repo)["storyteller/children"]

    r = cli(repo, "conversation", "render", "maya", "--var", "user_name=Maya")
    body = json.loads(r.out)
    assert body["persona_id"] == pid
    assert body["conversation_name"] == "Story time with Maya"
    assert body["replica_id"] == "r123456789"
    assert body["callback_url"] == "https://example.com/webhook"  # from the base
    assert body["properties"]["max_call_duration"] == 1800
    assert body["conversational_context"] == (
        "You are talking to Maya. They are 8 years old. They like listening to fairy tales stories."
    )

    r = cli(repo, "conversation", "render", "maya", "--var", "user_name=Maya", "--var", "age=9")
    assert "They are 9 years old." in json.loads(r.out)["conversational_context"]

    r = cli(repo, "conversation", "create", "maya", "--var", "user_name=Maya")
    found = dict(re.findall(r"^(conversation_id|conversation_url): (\S+)$", r.out, re.M))
    assert re.fullmatch(r"c[0-9a-f]{12}", found["conversation_id"])
    # the local backend has no rooms: a local url, not a remote-looking one
    assert found["conversation_url"] == f"local://conversations/{found['conversation_id']}"
    store = local_store(repo)
    try:
        sent = store.get_conversation(found["conversation_id"])
    finally:
        store.close()
    assert sent["persona_id"] == pid
    assert sent["conversation_name"] == "Story time with Maya"


def test_input_errors(example_repo):
    repo = example_repo
    deploy(repo, "storyteller/children")
    r = cli(
        repo,
        "conversation",
        "render",
        "maya",
        "--var",
        "user_name=Maya",
        "--var",
        "age=eight",
        code=1,
    )
    assert "age" in r.err and "integer" in r.err
    assert r.out == ""
    r = cli(repo, "conversation", "render", "maya", code=1)
    assert "user_name" in r.err and "required" in r.err
    r = cli(
        repo, "conversation", "render", "maya", "--var", "user_name=M", "--var", "agee=3", code=1
    )
    assert "agee" in r.err
    r = cli(repo, "conversation", "create", "maya", "--var", "age=eight", code=1)
    assert "age" in r.err and "user_name" in r.err
    r = cli(repo, "conversation", "render", "mayo", "--var", "user_name=M", code=1)
    assert "mayo" in r.err and "maya" in r.err


def test_create_against_the_real_server(example_repo, server):  # noqa: F811
    repo = example_repo
    key = use_server(repo, server.url)
    cli(repo, "--env", "test", "apply", "--auto-approve", "--target", "storyteller", env=key)
    pid = state_ids(repo, "test")["storyteller/children"]

    r = cli(
        repo, "--env", "test", "conversation", "render", "maya", "--var", "user_name=Ana", env=key
    )
    assert json.loads(r.out)["persona_id"] == pid

    r = cli(
        repo,
        "--env",
        "test",
        "conversation",
        "create",
        "maya",
        "--var",
        "user_name=Ana",
        "--var",
        "genre=spooky",
        env=key,
    )
    found = dict(re.findall(r"^(conversation_id|conversation_url): (\S+)$", r.out, re.M))
    assert set(found) == {"conversation_id", "conversation_url"}
    sent = server.store.get_conversation(found["conversation_id"])
    assert sent["persona_id"] == pid
    assert sent["conversation_url"] == found["conversation_url"]
    assert "spooky stories" in sent["conversational_context"]
    assert API_KEY not in r.both

    # the local environment has no deployment: a clear error, nothing sent
    r = cli(repo, "conversation", "create", "maya", "--var", "user_name=Ana", code=1)
    assert "not deployed" in r.err and "local" in r.err


def test_wrong_api_key_on_create(example_repo, server):  # noqa: F811
    repo = example_repo
    key = use_server(repo, server.url)
    cli(repo, "--env", "test", "apply", "--auto-approve", "--target", "storyteller", env=key)
    wrong = {"SOME_VAR": "nope-DO-NOT-PRINT-5150"}
    r = cli(
        repo,
        "--env",
        "test",
        "conversation",
        "create",
        "maya",
        "--var",
        "user_name=A",
        env=wrong,
        code=1,
    )
    assert "nope-DO-NOT-PRINT-5150" not in r.both
    assert len(r.err.strip().splitlines()) == 1 and "SOME_VAR" in r.err
    assert SECRETS["CUSTOM_LLM_API_KEY"] not in r.both
