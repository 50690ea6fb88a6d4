"""The `tavus` backend against a real `personactl serve` with injected faults.

Every test drives the real CLI in a subprocess over HTTP (DESIGN §5, "API use"):
retries honour Retry-After, a lost create response never duplicates a persona,
a partial failure keeps its successes and a rerun converges, the state lock fails
fast, a wrong key is one clear line, and a process killed mid-apply leaves a
readable state.  After each, no secret value is in any output or file.
"""

from __future__ import annotations

import base64
import getpass
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from starlette.responses import JSONResponse

import personactl.serve.app
from personactl.deploy.state.file import FileStore
from personactl.serve.app import Faults
from tests.conftest import SECRETS, Result, assert_no_secrets, build_tree, run_cli
from tests.serverfix import API_KEY, LiveServer, live_server, server  # noqa: F401

ENV = {"X": API_KEY, **SECRETS}

BASE = """
persona:
  pipeline_mode: full
  layers:
    llm:
      model: custom_model_here
      base_url: https://llm.example.com/v1
      api_key: "{{ secret('CUSTOM_LLM_API_KEY') }}"
    tts:
      api_key: "{{ secret('TTS_API_KEY') }}"
      tts_engine: elevenlabs
      external_voice_id: house-voice
"""


def make_repo(root: Path, url: str, count: int) -> Path:
    """A project whose default environment is the server at `url`, with personas p01..pNN."""
    files = {
        "personactl.yaml": f"""
            version: 1
            default_environment: remote
            environments:
              remote:
                backend: tavus
                api_url: {url}
                api_key_env: X
            """,
        "personas/_bases/base.yaml": BASE,
    }
    for i in range(1, count + 1):
        files[f"personas/p{i:02d}.yaml"] = f"""
            extends: [_bases/base.yaml]
            persona:
              persona_name: Persona {i:02d}
              system_prompt: You are persona number {i}.
            """
    return build_tree(root / "repo", files)


def names(count: int) -> dict[str, str]:
    """address -> persona_name of make_repo's personas."""
    return {f"p{i:02d}": f"Persona {i:02d}" for i in range(1, count + 1)}


def cli(repo: Path, *args: str, timeout: float = 60) -> Result:
    return run_cli(*args, cwd=repo, env=ENV, timeout=timeout)


def apply(repo: Path, *args: str) -> Result:
    return cli(repo, "apply", "--auto-approve", *args)


def deployed(live: LiveServer) -> list[dict[str, Any]]:
    """Every user persona in the server's store (read directly, not over HTTP)."""
    items, _total = live.store.list_personas(1000, 1, "user")
    return items


def state_file(repo: Path) -> Path:
    return repo / ".personactl" / "state" / "remote.json"


def assert_converged(repo: Path, live: LiveServer, count: int) -> None:
    """Exactly one persona per address on the server, state maps each to it, plan is empty."""
    expected = names(count)
    personas = deployed(live)
    by_name = Counter(p["persona_name"] for p in personas)
    assert by_name == Counter(expected.values()), by_name  # no duplicates, nothing missing
    ids = {p["persona_name"]: p["persona_id"] for p in personas}
    state = FileStore(state_file(repo), "remote").load()
    assert {a: r.id for a, r in state.resources.items()} == {a: ids[n] for a, n in expected.items()}
    live.set_faults(**Faults().to_dict())  # a clean server for the checking plan
    plan = cli(repo, "plan", "--detailed-exitcode")
    assert plan.code == 0, plan.both
    assert "No changes." in plan.out
    assert_no_secrets(plan.out, plan.err, root=repo)


# -- 429 and 5xx ---------------------------------------------------------------------


def test_429_and_5xx_are_retried(tmp_path: Path, server: LiveServer) -> None:  # noqa: F811
    repo = make_repo(tmp_path, server.url, 6)
    # seeded: the same requests fail on every run; Retry-After kept small
    server.set_faults(rate_429=0.25, rate_5xx=0.15, retry_after=0.05, seed=7)
    result = apply(repo)
    assert result.code == 0, result.both
    assert "Apply complete: 6 created, 0 updated, 0 deleted, 0 failed." in result.out
    assert server.stats()["total"] > 8  # the faults did fire and were retried
    assert_no_secrets(result.out, result.err, root=repo)
    assert_converged(repo, server, 6)


def test_retry_after_is_honoured(tmp_path: Path, server: LiveServer) -> None:  # noqa: F811
    repo = make_repo(tmp_path, server.url, 1)
    # the first request (the plan's list) is refused with Retry-After: 1.5
    server.set_faults(fail_next=[429], retry_after=1.5)
    start = time.monotonic()
    result = apply(repo)
    elapsed = time.monotonic() - start
    assert result.code == 0, result.both
    assert elapsed >= 1.5
    assert server.stats()["requests"]["GET /v2/personas"] >= 2
    assert_no_secrets(result.out, result.err, root=repo)
    assert_converged(repo, server, 1)


# -- lost create responses -------------------------------------------------------------


@pytest.mark.parametrize("mode", ["502", "abort"])
def test_lost_create_response_never_duplicates(
    tmp_path: Path,
    server: LiveServer,  # noqa: F811
    mode: str,
) -> None:
    repo = make_repo(tmp_path, server.url, 5)
    # every create is performed, and every create's response is lost
    server.set_faults(drop_create_response=1.0, drop_mode=mode)
    result = apply(repo)
    assert result.code == 0, result.both
    assert "5 created" in result.out
    assert server.stats()["requests"]["POST /v2/personas"] == 5  # reconciled, never resent
    assert_no_secrets(result.out, result.err, root=repo)
    assert_converged(repo, server, 5)


def test_lost_create_response_with_a_secret_inside_a_list(
    tmp_path: Path,
    server: LiveServer,  # noqa: F811
) -> None:
    """A secret inside a list (a tool's header) is sent resolved and read back as
    sent or masked: finding the lost create must not compare it."""
    repo = make_repo(tmp_path, server.url, 2)
    build_tree(
        repo,
        {
            "personas/p02.yaml": """
                extends: [_bases/base.yaml]
                persona:
                  persona_name: Persona 02
                  system_prompt: You are persona number 2.
                  layers:
                    llm:
                      tools:
                        - type: function
                          function:
                            name: lookup
                            description: "Look things up with {{ secret('TTS_API_KEY') }}"
                            parameters: {type: object, properties: {}}
                """
        },
    )
    server.set_faults(drop_create_response=1.0, drop_mode="502")
    result = apply(repo)
    assert result.code == 0, result.both
    assert "warning" not in result.err  # nothing reported as not kept
    assert server.stats()["requests"]["POST /v2/personas"] == 2
    assert_no_secrets(result.out, result.err, root=repo)
    assert_converged(repo, server, 2)


def test_lost_create_that_the_api_rewrote_is_found_by_name_and_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An API that normalises a value on the way in and whose create response is lost:
    the persona no longer equals what was sent, yet it is found, not created twice."""
    original = personactl.serve.app.create_persona

    async def rewriting_create(request: Any, ctl: Any) -> Any:
        body = json.loads(await request.body())
        body["system_prompt"] = body["system_prompt"].upper()  # "normalised" by the API
        request._body = json.dumps(body).encode()
        return await original(request, ctl)

    monkeypatch.setattr(personactl.serve.app, "create_persona", rewriting_create)
    with live_server(tmp_path / "serve.sqlite") as live:
        repo = make_repo(tmp_path, live.url, 3)
        live.set_faults(drop_create_response=1.0, drop_mode="502")
        result = apply(repo)
        assert result.code == 0, result.both
        assert live.stats()["requests"]["POST /v2/personas"] == 3  # never resent
        names = sorted(p["persona_name"] for p in deployed(live))
        assert names == ["Persona 01", "Persona 02", "Persona 03"]
        live.set_faults(drop_create_response=0.0)
        planned = cli(repo, "plan")
        assert "Plan: 0 to create, 3 to update, 0 to delete." in planned.out  # the rewrite shows
        assert_no_secrets(result.out, result.err, planned.out, root=repo)


def test_some_create_responses_lost(tmp_path: Path, server: LiveServer) -> None:  # noqa: F811
    repo = make_repo(tmp_path, server.url, 8)
    server.set_faults(drop_create_response=0.5, seed=3, rate_5xx=0.1)
    result = apply(repo, "--parallelism", "4")
    assert result.code == 0, result.both
    assert_no_secrets(result.out, result.err, root=repo)
    assert_converged(repo, server, 8)


def test_updates_and_deletes_under_429_and_5xx(
    tmp_path: Path,
    server: LiveServer,  # noqa: F811
) -> None:
    repo = make_repo(tmp_path, server.url, 6)
    first = apply(repo)
    assert first.code == 0, first.both
    for i in (1, 2, 3):
        page = repo / f"personas/p{i:02d}.yaml"
        page.write_text(page.read_text().replace("You are", "Now you are"))
    (repo / "personas/p06.yaml").unlink()
    server.set_faults(rate_429=0.2, rate_5xx=0.2, retry_after=0.05, seed=11)
    result = apply(repo, "--prune")
    assert result.code == 0, result.both
    assert "Apply complete: 0 created, 3 updated, 1 deleted, 0 failed." in result.out
    prompts = {p["persona_name"]: p["system_prompt"] for p in deployed(server)}
    assert prompts["Persona 01"] == "Now you are persona number 1."
    assert prompts["Persona 04"] == "You are persona number 4."
    assert_no_secrets(first.out, first.err, result.out, result.err, root=repo)
    assert_converged(repo, server, 5)


# -- partial failure -----------------------------------------------------------------


@pytest.fixture
def rejecting_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A server that answers 400 to creates of persona names in `.rejected` (a set)."""
    rejected: set[str] = set()
    original = personactl.serve.app.create_persona

    async def create_persona(request: Any, ctl: Any) -> Any:
        body = json.loads(await request.body())
        if isinstance(body, dict) and body.get("persona_name") in rejected:
            return personactl.serve.app._error(400, f"invalid persona {body['persona_name']}")
        return await original(request, ctl)

    monkeypatch.setattr(personactl.serve.app, "create_persona", create_persona)
    with live_server(tmp_path / "serve.sqlite") as live:
        live.rejected = rejected  # type: ignore[attr-defined]
        yield live


def test_partial_failure_keeps_successes_and_rerun_converges(
    tmp_path: Path, rejecting_server: Any
) -> None:
    live = rejecting_server
    repo = make_repo(tmp_path, live.url, 6)
    live.rejected.update({"Persona 02", "Persona 05"})
    result = apply(repo)
    assert result.code == 1, result.both
    assert "4 created" in result.out and "2 failed" in result.out
    for address in ("p02", "p05"):
        assert f"{address}: create failed" in result.err
    assert "p02 (" in result.err and "p05 (" in result.err  # the final summary names both
    assert "HTTP 400" in result.err
    state = FileStore(state_file(repo), "remote").load()
    assert sorted(state.resources) == ["p01", "p03", "p04", "p06"]
    assert state.pending == {}  # refused creates: nothing to look for on the rerun
    assert len(deployed(live)) == 4
    assert_no_secrets(result.out, result.err, root=repo)

    live.rejected.clear()  # the cause is fixed
    rerun = apply(repo)
    assert rerun.code == 0, rerun.both
    assert "Apply complete: 2 created, 0 updated, 0 deleted, 0 failed." in rerun.out
    assert_no_secrets(rerun.out, rerun.err, root=repo)
    assert_converged(repo, live, 6)


def echoes(text: str) -> str:
    """What a careless API says about a request body: quoted whole, JSON-escaped,
    URL-encoded, base64-encoded (three alignments), cut at 200 characters, and cut just
    inside each secret value it holds (an API that cuts its echo at N characters)."""
    cuts = [text[: text.index(v) + 10] for v in SECRETS.values() if v in text]
    return " | ".join(
        [
            f"bad request: {text}",
            f"json: {json.dumps(text)}",
            f"url: {quote(text)}",
            f"form: {quote_plus(text)}",
            *(f"base64: {b64(pad + text)}" for pad in ("", "x", "xy")),
            f"cut: {text[:200]}",
            *(f"cut: {cut}" for cut in cuts),
        ]
    )


@pytest.fixture
def echoing_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A server that refuses creates, patches and conversations in `.echo` (a set) with a
    400 whose message echoes the request body in every encoding (see `echoes`); the
    conversations it does start have the callback_url echoed into the conversation_url."""
    app = personactl.serve.app
    echo: set[str] = {"create", "patch", "conversation"}
    names = {
        "create": "create_persona",
        "patch": "patch_resource",
        "conversation": "create_conversation",
    }

    def echoing(what: str) -> Any:
        original = getattr(app, names[what])

        async def handler(request: Any, ctl: Any) -> Any:
            text = (await request.body()).decode()
            if what in echo:
                return app._error(400, echoes(text))
            answer = await original(request, ctl)
            if what != "conversation":
                return answer
            data = json.loads(answer.body)
            callback = json.loads(text).get("callback_url", "")
            data["conversation_url"] += "?" + "&".join(
                [f"cb={quote(callback, safe='')}", f"raw={callback}", f"b64={b64(callback)}"]
            )
            return JSONResponse(data)

        return handler

    for what, name in names.items():
        monkeypatch.setattr(app, name, echoing(what))
    with live_server(tmp_path / "serve.sqlite") as live:
        live.echo = echo  # type: ignore[attr-defined]
        yield live


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_an_api_echoing_the_request_never_prints_a_secret(
    tmp_path: Path, echoing_server: Any
) -> None:
    repo = make_repo(tmp_path, echoing_server.url, 2)
    result = apply(repo)
    assert result.code == 1
    assert "bad request: {" in result.err  # the echo is shown...
    assert "(sensitive)" in result.err  # ...with the secret values masked
    assert_no_secrets(result.out, result.err, root=repo)


SECRET_PROMPT = """
extends: [_bases/base.yaml]
persona:
  persona_name: Persona 01
  system_prompt: >-
    Sign every answer with {{ secret('TTS_API_KEY') }};
    never {{ secret('CUSTOM_LLM_API_KEY') }}.
"""


def test_an_api_echoing_every_encoding_leaks_nothing(tmp_path: Path, echoing_server: Any) -> None:
    """plan, apply (creates and patches) and conversation create against an API that echoes
    request bodies JSON-escaped, URL-encoded, base64-encoded and cut: no representation of a
    secret in any output, file or the server's database."""
    live = echoing_server
    repo = make_repo(tmp_path, live.url, 2)
    build_tree(
        repo,
        {
            "personas/p01.yaml": SECRET_PROMPT,
            "conversations/talk.yaml": """
                persona: p01
                conversation:
                  replica_id: r1
                  callback_url: "https://hooks.example.com/cb?token={{ secret('TTS_API_KEY') }}"
            """,
        },
    )
    outputs: list[str] = []

    def run(*args: str, code: int) -> Result:
        result = cli(repo, *args)
        assert result.code == code, result.both
        outputs.extend((result.out, result.err))
        return result

    planned = run("plan", code=0)
    assert "Plan: 2 to create, 0 to update, 0 to delete." in planned.out
    refused = run("apply", "--auto-approve", code=1)
    assert (
        refused.err.count("create failed: POST /v2/personas failed: HTTP 400: bad request: {") == 2
    )
    for kind in ("json", "url", "form", "base64", "cut"):
        assert f" | {kind}: " in refused.err  # each echo is shown, masked
    assert len(deployed(live)) == 0
    # nothing refused was stored (what is accepted below holds a prompt made with a secret,
    # which the serve store keeps as sent: swept up to here)
    assert_no_secrets(*outputs, root=repo, databases=[tmp_path / "serve.sqlite"])

    live.echo.clear()
    run("apply", "--auto-approve", code=0)
    (repo / "personas/p01.yaml").write_text(SECRET_PROMPT.replace("Sign", "Close"))
    live.echo.add("patch")
    patched = run("apply", "--auto-approve", code=1)
    assert "p01: update failed: PATCH /v2/personas/" in patched.err
    assert "HTTP 400: bad request: [" in patched.err
    assert run("plan", code=0).out.count("(sensitive)") >= 1

    live.echo.add("conversation")
    echoed = run("conversation", "create", "talk", code=1)
    assert "POST /v2/conversations failed: HTTP 400: bad request: {" in echoed.err
    live.echo.clear()
    started = run("conversation", "create", "talk", code=0)
    [conversation_id, url] = started.out.splitlines()
    assert re.fullmatch(r"conversation_id: c[0-9a-f]{12}", conversation_id)
    assert url.split("?", 1)[1] == (
        "cb=https%3A%2F%2Fhooks.example.com%2Fcb%3Ftoken%3D(sensitive)"
        "&raw=https://hooks.example.com/cb?token=(sensitive)"
        "&b64=aHR0cHM6Ly9ob29rcy5leGFtcGxlLmNvbS9jYj90b2tlbj1(sensitive)"
    )
    assert_no_secrets(*outputs, root=repo)


# -- the state lock --------------------------------------------------------------------


def popen_apply(repo: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "personactl", "apply", "--auto-approve", *args],
        cwd=repo,
        env={**os.environ, **ENV},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(predicate: Any, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


def test_concurrent_apply_fails_fast_naming_the_holder(
    tmp_path: Path,
    server: LiveServer,  # noqa: F811
) -> None:
    repo = make_repo(tmp_path, server.url, 6)
    server.set_faults(latency_ms=400)
    lock = state_file(repo).with_name("remote.json.lock")
    first = popen_apply(repo, "--parallelism", "1")
    try:
        wait_for(lock.exists)
        start = time.monotonic()
        second = apply(repo)
        elapsed = time.monotonic() - start
        assert first.poll() is None, "the first apply finished too early for this test"
    finally:
        out, err = first.communicate(timeout=60)
    assert first.returncode == 0, out + err
    assert second.code == 1, second.both
    assert elapsed < 5
    line = second.err.strip()
    assert len(line.splitlines()) == 1, line
    assert "state is locked" in line
    assert f"{getpass.getuser()}@{socket.gethostname()}" in line
    assert f"pid {first.pid}" in line
    assert "apply" in line
    assert "since 20" in line  # an ISO start time
    assert "state unlock" in line
    assert not lock.exists()
    assert_no_secrets(out, err, second.out, second.err, root=repo)
    assert_converged(repo, server, 6)


# -- a wrong API key -------------------------------------------------------------------


@pytest.mark.parametrize("command", [["plan"], ["apply", "--auto-approve"]])
def test_wrong_api_key_is_one_clear_line(
    tmp_path: Path,
    server: LiveServer,  # noqa: F811
    command: list[str],
) -> None:
    repo = make_repo(tmp_path, server.url, 2)
    wrong = "wrong-key-abcdef123456"
    result = run_cli(*command, cwd=repo, env={**ENV, "X": wrong})
    assert result.code == 1, result.both
    assert result.out == ""
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert "authentication failed" in result.err and "$X" in result.err
    assert "401" in result.err
    assert "Traceback" not in result.err
    assert wrong not in result.both and API_KEY not in result.both
    assert deployed(server) == []
    assert_no_secrets(result.out, result.err, root=repo)


# -- killed mid-apply ------------------------------------------------------------------


@pytest.mark.parametrize("moment", ["recorded", "unrecorded-create"])
def test_killed_apply_leaves_readable_state_and_rerun_converges(
    tmp_path: Path,
    server: LiveServer,  # noqa: F811
    moment: str,
) -> None:
    """SIGKILL mid-apply.  "unrecorded-create": at a moment when the server has made a
    persona whose creation the killed process had not recorded yet (its response was
    lost and it was listing to find it), the case that duplicates a naive rerun."""
    count = 12
    repo = make_repo(tmp_path, server.url, count)
    if moment == "recorded":
        server.set_faults(latency_ms=200)
    else:
        server.set_faults(latency_ms=150, drop_create_response=1.0, drop_mode="abort")
    path = state_file(repo)
    journal = path.with_name("remote.json.journal")

    def recorded() -> int:
        if not journal.exists():
            return 0
        return sum('"op": "put"' in line for line in journal.read_text().splitlines())

    def due() -> bool:
        done = recorded()
        if moment == "recorded":
            return done >= 4
        return done >= 2 and len(deployed(server)) > done

    proc = popen_apply(repo, "--parallelism", "2")
    try:
        wait_for(due)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    time.sleep(0.4)  # let requests already in flight finish on the server
    # the state file is absent or whole, and the journal replays every recorded success
    if path.exists():
        json.loads(path.read_text())
    state = FileStore(path, "remote").load()
    assert len(state.resources) >= 2
    if moment == "unrecorded-create":
        assert state.pending  # the create in flight, to be looked for before resending
    assert len(state.resources) < count, "killed too late to test anything"

    held = cli(repo, "apply", "--auto-approve")
    assert held.code == 1, held.both  # the killed process's lock is left behind
    assert "state is locked" in held.err and "no longer running" in held.err
    unlock = cli(repo, "state", "unlock")
    assert unlock.code == 0, unlock.both
    server.set_faults(**Faults().to_dict())
    if moment == "unrecorded-create":
        planned = cli(repo, "plan")
        assert "an interrupted apply sent this create" in planned.out, planned.both
    rerun = apply(repo)
    assert rerun.code == 0, rerun.both
    assert_no_secrets(rerun.out, rerun.err, root=repo)
    assert_converged(repo, server, count)
