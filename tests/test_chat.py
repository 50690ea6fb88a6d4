"""`personactl chat`: a piped conversation with a real streaming server."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import SECRETS, Result, assert_no_secrets, run_cli
from tests.llmserver import LlmServer, llm_fixture  # noqa: F401 (the llm fixture)


def chat(repo: Path, server: LlmServer, behaviour: str, lines: str, *args: str) -> Result:
    result = run_cli(
        "chat",
        "weather-assistant",
        "--var",
        f"llm_base_url={server.base_url(behaviour)}",
        *args,
        cwd=repo,
        env=SECRETS,
        input=lines,
    )
    assert_no_secrets(result.out, result.err)
    return result


def test_each_turn_carries_the_whole_history(example_repo: Path, llm: LlmServer) -> None:
    result = chat(example_repo, llm, "echo", "hi\n\nhow are you?\n")
    assert result.code == 0, result.err
    assert result.out == ("(2 messages) you said: hi\n(4 messages) you said: how are you?\n")
    assert result.err == ""  # no prompt or banner without a terminal
    first, second = (r.body["messages"] for r in llm.received)
    assert [m["role"] for m in second] == ["system", "user", "assistant", "user"]
    assert second[:2] == first
    assert second[2] == {"role": "assistant", "content": "(2 messages) you said: hi"}
    assert second[3] == {"role": "user", "content": "how are you?"}
    assert all(r.body["stream"] is True for r in llm.received)
    assert len({r.headers["x-conversation-id"] for r in llm.received}) == 1


def test_conversation_context(example_repo: Path, llm: LlmServer) -> None:
    result = run_cli(
        "chat", "storyteller/children", "--conversation", "maya", "--var", "user_name=Maya",
        "--var", f"llm_base_url={llm.base_url('echo')}",
        cwd=example_repo, env=SECRETS, input="hello\n",
    )  # fmt: skip
    assert result.code == 0, result.err
    system = llm.received[0].body["messages"][0]
    assert system["role"] == "system" and "You are talking to Maya." in system["content"]


def test_tool_calls_are_printed_not_run(example_repo: Path, llm: LlmServer) -> None:
    result = chat(example_repo, llm, "tool", "weather in Paris?\nand now?\n")
    assert result.code == 0, result.err
    call = '[tool call] get_current_weather {"location": "Paris, FR", "unit": "celsius"}\n'
    assert result.out == call * 2
    # a tool call has no result to follow it, so the history keeps only the user turns
    assert [m["role"] for m in llm.received[1].body["messages"]] == ["system", "user", "user"]


def test_a_key_split_across_deltas_is_masked(example_repo: Path, llm: LlmServer) -> None:
    result = chat(example_repo, llm, "leak", "what is my key?\n")
    assert result.code == 0, result.err
    assert result.out == "key is (sensitive)!\n"


def test_failing_endpoint_is_one_line(example_repo: Path, llm: LlmServer) -> None:
    result = chat(example_repo, llm, "500", "hi\n")
    assert result.code == 1
    assert result.err == (
        f"error: HTTP 500 from {llm.base_url('500')}/chat/completions: "
        '{"error":{"message":"the model is down"}}\n'
    )
    broken = chat(example_repo, llm, "not-json", "hi\n")
    assert broken.code == 1
    assert broken.err == (
        f"error: {llm.base_url('not-json')}/chat/completions: a chunk is not JSON: "
        "this is not json\n"
    )
    echoed = chat(example_repo, llm, "401-echo", "hi\n")
    assert echoed.code == 1 and "Bearer (sensitive)" in echoed.err


def test_a_json_answer_is_not_a_stream(example_repo: Path, llm: LlmServer) -> None:
    result = chat(example_repo, llm, "json", "hi\n")
    assert result.code == 1
    assert result.err.endswith("answered application/json, not a stream\n")


def test_empty_input_sends_nothing(example_repo: Path, llm: LlmServer) -> None:
    result = chat(example_repo, llm, "echo", "")
    assert result.code == 0 and result.out == ""
    assert llm.received == []
