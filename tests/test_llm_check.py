"""`personactl llm check`: the real CLI, the real openai client, a real streaming server."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.conftest import SECRETS, Result, assert_no_secrets, build_tree, run_cli
from tests.llmserver import LlmServer, llm_fixture  # noqa: F401 (the llm fixture)

KEY = SECRETS["CUSTOM_LLM_API_KEY"]


def check(repo: Path, server: LlmServer, behaviour: str, *args: str, **kw: str) -> Result:
    persona = kw.get("persona", "weather-assistant")
    result = run_cli(
        "llm",
        "check",
        persona,
        "--var",
        f"llm_base_url={server.base_url(behaviour)}",
        *args,
        cwd=repo,
        env=SECRETS,
    )
    assert_no_secrets(result.out, result.err)
    return result


def verdicts(result: Result) -> dict[str, str]:
    data = json.loads(result.out)
    return {c["name"]: c["verdict"] for c in data["checks"]}


def checks_json(repo: Path, server: LlmServer, behaviour: str, *args: str) -> dict[str, str]:
    return verdicts(check(repo, server, behaviour, "--format", "json", *args))


def test_good_stream_passes_and_sends_the_platform_request(
    example_repo: Path, llm: LlmServer
) -> None:
    result = check(example_repo, llm, "good")
    assert result.code == 0, result.err
    for name in ("http_status", "content_type", "chunks", "role", "content", "finish_reason"):
        assert f"pass  {name}" in result.out
    assert "pass  done" in result.out and "time to first token" in result.out

    [received] = llm.received
    assert received.path == "/good/v1/chat/completions"
    assert received.headers["authorization"] == f"Bearer {KEY}"
    assert received.headers["x-conversation-id"].startswith("c")
    assert received.headers["x-conversation-id"] in result.out
    preview = json.loads(run_cli("preview", "weather-assistant", cwd=example_repo, env=SECRETS).out)
    assert received.body == preview  # exactly what preview prints


def test_json_output_and_timings(example_repo: Path, llm: LlmServer) -> None:
    result = check(example_repo, llm, "good", "--format", "json")
    data = json.loads(result.out)
    assert data["ok"] is True and data["address"] == "weather-assistant"
    assert data["url"] == llm.base_url("good") + "/chat/completions"
    assert 0 < data["ttft_ms"] <= data["total_ms"]
    assert all(c["verdict"] == "pass" for c in data["checks"])


def test_missing_done_is_a_warning(example_repo: Path, llm: LlmServer) -> None:
    result = check(example_repo, llm, "no-done")
    assert result.code == 0
    assert "warn  done           the stream ended without data: [DONE]" in result.out


@pytest.mark.parametrize(
    ("behaviour", "failed", "detail"),
    [
        ("no-finish", "finish_reason", "no chunk sets finish_reason"),
        ("not-json", "chunks", "chunk 2 is not JSON: this is not json"),
        ("not-a-chunk", "chunks", "chunk 2 is not a chat.completion.chunk: id: Field required"),
        ("json", "content_type", "application/json, not text/event-stream"),
        ("tool-bad-json", "tool_calls", "the arguments do not join into JSON"),
        ("tool-bad-schema", "tool_calls", "'location' is a required property"),
        ("tool-no-id", "tool_calls", "tool call 0: no id"),
        ("tool-unknown", "tool_calls", "'launch_rockets' is not a tool of this persona"),
    ],
)
def test_broken_streams_fail_the_named_check(
    example_repo: Path, llm: LlmServer, behaviour: str, failed: str, detail: str
) -> None:
    result = check(example_repo, llm, behaviour)
    assert result.code == 1
    [line] = [ln for ln in result.out.splitlines() if ln.startswith(f"  fail  {failed} ")]
    assert detail in line
    assert "Traceback" not in result.err


def test_a_json_answer_has_no_chunks(example_repo: Path, llm: LlmServer) -> None:
    result = checks_json(example_repo, llm, "json")
    assert result == {"http_status": "pass", "content_type": "fail", "chunks": "fail"}


def test_good_tool_call_deltas(example_repo: Path, llm: LlmServer) -> None:
    result = check(example_repo, llm, "tool")
    assert result.code == 0, result.out
    assert (
        'pass  tool_calls     get_current_weather({"location": "Paris, FR", "unit": "celsius"})'
        in result.out
    )
    assert "pass  content        none (the answer is a tool call)" in result.out
    assert llm.received[0].body["tools"][0]["function"]["name"] == "get_current_weather"


def test_missing_role_is_a_warning(example_repo: Path, llm: LlmServer) -> None:
    assert checks_json(example_repo, llm, "no-role")["role"] == "warn"


def test_slow_first_token_is_measured_and_can_time_out(example_repo: Path, llm: LlmServer) -> None:
    data = json.loads(check(example_repo, llm, "slow-first", "--format", "json").out)
    assert data["ok"] and data["ttft_ms"] >= 550

    stalled = check(example_repo, llm, "stall", "--timeout", "0.3")
    assert stalled.code == 1
    assert "fail  chunks" in stalled.out and "stalled for 0.3 s" in stalled.out


def test_buffering_proxy_is_a_warning(example_repo: Path, llm: LlmServer) -> None:
    result = check(example_repo, llm, "buffered")
    assert result.code == 0
    assert "warn  buffering" in result.out and "buffers the stream" in result.out
    assert "pass  buffering" in check(example_repo, llm, "slow-first").out


def test_http_500_is_one_line(example_repo: Path, llm: LlmServer) -> None:
    result = check(example_repo, llm, "500")
    assert result.code == 1
    [fail] = [ln for ln in result.out.splitlines() if ln.startswith("  fail")]
    assert fail.endswith(
        f"HTTP 500 from {llm.base_url('500')}/chat/completions: "
        '{"error":{"message":"the model is down"}}'
    )
    assert len(llm.received) == 1  # no retries: the check reports what the endpoint does


def test_a_401_echoing_the_key_never_shows_it(example_repo: Path, llm: LlmServer) -> None:
    for fmt in ("text", "json"):
        result = check(example_repo, llm, "401-echo", "--format", fmt)
        assert result.code == 1
        assert "HTTP 401" in result.out and "Bearer (sensitive)" in result.out


def test_refused_connection_is_one_line(example_repo: Path) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    result = run_cli(
        "llm",
        "check",
        "weather-assistant",
        "--var",
        f"llm_base_url=http://127.0.0.1:{port}/v1",
        cwd=example_repo,
        env=SECRETS,
    )
    assert result.code == 1
    assert (
        f"fail  http_status  cannot connect to http://127.0.0.1:{port}/v1/chat/completions: "
        "connection refused" in result.out
    )
    assert "Traceback" not in result.err
    assert_no_secrets(result.out, result.err)


def test_speculative_cancels_superseded_streams(example_repo: Path, llm: LlmServer) -> None:
    result = check(
        example_repo,
        llm,
        "slow-stream",
        "--speculative",
        "3",
        "--utterance",
        "tell me a story",
        "--format",
        "json",
    )
    data = json.loads(result.out)
    assert result.code == 0, result.out
    assert data["speculative"]["transcripts"] == ["tell", "tell me a", "tell me a story"]
    assert data["speculative"]["cancelled"] == 2
    assert all(t is not None for t in data["speculative"]["ttft_ms"])
    assert data["speculative"]["ttft_p50_ms"] <= data["speculative"]["ttft_max_ms"]
    assert {c["name"]: c["verdict"] for c in data["checks"]}["after_cancels"] == "pass"
    # the server saw the progressive transcripts, each containing the one before, and
    # the client closing the two superseded streams; one conversation id for the turn
    sent = [r.body["messages"][-1]["content"] for r in llm.received]
    assert sent == ["tell", "tell me a", "tell me a story"]
    assert sorted(llm.wait_for_cancels(2)) == ["tell", "tell me a"]
    assert len({r.headers["x-conversation-id"] for r in llm.received}) == 1


def test_speculative_text_reports_percentiles(example_repo: Path, llm: LlmServer) -> None:
    result = check(example_repo, llm, "good", "-s", "2", "--utterance", "hi there")
    assert result.code == 0, result.out
    assert "speculative: 2 transcripts" in result.out and "TTFT p50" in result.out
    assert "pass  speculative_answers  all 2 transcripts answered" in result.out


def test_speculative_fails_when_the_endpoint_does(example_repo: Path, llm: LlmServer) -> None:
    result = checks_json(example_repo, llm, "500", "-s", "2", "--utterance", "hi there")
    assert result["speculative_answers"] == "fail" and result["after_cancels"] == "fail"


def test_speculative_needs_enough_words(example_repo: Path, llm: LlmServer) -> None:
    result = check(example_repo, llm, "good", "-s", "4", "--utterance", "hi there")
    assert result.code == 1
    assert result.err == "error: --speculative 4 needs an utterance of at least 4 words (got 2)\n"


def test_conversation_context_and_persona_headers(tmp_path: Path, llm: LlmServer) -> None:
    repo = build_tree(
        tmp_path / "repo",
        {
            "personactl.yaml": "version: 1\n",
            "personas/p.yaml": f"""
                persona:
                  system_prompt: You are terse.
                  layers:
                    llm:
                      model: my-model
                      base_url: {llm.base_url("good")}
                      api_key: "{{{{ secret('CUSTOM_LLM_API_KEY') }}}}"
                      headers:
                        X-Team: storytellers
                        X-Upstream-Key: "{{{{ secret('TTS_API_KEY') }}}}"
                      extra_body: {{temperature: 0.2}}
            """,
            "conversations/c.yaml": """
                persona: p
                inputs: {who: {type: string, required: true}}
                conversation:
                  conversational_context: You are talking to {{ who }}.
            """,
        },
    )
    result = run_cli(
        "llm", "check", "p", "--conversation", "c", "--var", "who=Maya",
        cwd=repo, env=SECRETS,
    )  # fmt: skip
    assert result.code == 0, result.out + result.err
    assert_no_secrets(result.out, result.err)
    [received] = llm.received
    assert received.headers["x-team"] == "storytellers"
    assert received.headers["x-upstream-key"] == SECRETS["TTS_API_KEY"]
    assert received.body["temperature"] == 0.2
    assert received.body["model"] == "my-model" and "tools" not in received.body
    assert received.body["messages"][0] == {
        "role": "system",
        "content": "You are terse.\n\nYou are talking to Maya.",
    }


def test_persona_without_custom_llm_is_one_error(tmp_path: Path) -> None:
    repo = build_tree(
        tmp_path / "repo",
        {
            "personactl.yaml": "version: 1\n",
            "personas/plain.yaml": "persona: {system_prompt: Hi, layers: {tts: {}}}",
        },
    )
    for args in (("llm", "check", "plain"), ("chat", "plain")):
        result = run_cli(*args, cwd=repo, input="hi\n")
        assert result.code == 1
        assert result.err == (
            "error: persona 'plain' has no custom LLM (layers.llm.base_url is not set) "
            "(hint: llm check and chat talk to a persona's own OpenAI-compatible endpoint)\n"
        )


def test_missing_secret_is_one_error(example_repo: Path, llm: LlmServer) -> None:
    result = run_cli(
        "llm", "check", "weather-assistant", "--var", f"llm_base_url={llm.base_url('good')}",
        cwd=example_repo,
    )  # fmt: skip
    assert result.code == 1
    assert result.err.startswith("error: secret CUSTOM_LLM_API_KEY is not set in the environment")
    assert llm.received == []
