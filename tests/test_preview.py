"""`preview`: the first-turn chat-completions request a custom LLM receives."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import SECRETS, assert_no_secrets, build_tree, run_cli, run_main

STORYTELLER_PROMPT = (
    "You are a storyteller. You like telling stories to children.\n"
    "Reply in brief utterances, and ask prompting questions to the user as you tell your "
    "stories to keep them engaged."
)
STORYTELLER_CONTEXT = (
    "Here are some of your favorite stories: Little Red Riding Hood, The Ugly Duckling, "
    "The Three Little Pigs"
)


def preview(capsys, repo: Path, *args: str) -> dict:
    code, out, err = run_main(capsys, "-C", str(repo), "preview", *args)
    assert code == 0, err
    return json.loads(out)


def test_preview_with_tools(example_repo: Path, capsys) -> None:
    request = preview(capsys, example_repo, "weather-assistant")
    assert list(request) == ["messages", "model", "stream", "tools"]
    assert request["model"] == "custom_model_here"
    assert request["stream"] is True
    assert request["messages"] == [
        {
            "role": "system",
            "content": "You are a helpful assistant at Acme.\n\n"
            "Help users get the weather for a given location.",
        },
        {"role": "user", "content": "Hello!"},
    ]
    assert [t["function"]["name"] for t in request["tools"]] == ["get_current_weather"]
    assert request["tools"][0]["function"]["parameters"]["required"] == ["location"]


def test_preview_with_conversation(example_repo: Path) -> None:
    result = run_cli(
        "preview",
        "storyteller/children",
        "--conversation",
        "maya",
        "--var",
        "user_name=Maya",
        "--var",
        "age=9",
        "--utterance",
        "Tell me a story!",
        cwd=example_repo,
        env=SECRETS,
    )
    assert result.code == 0, result.err
    assert result.err == ""
    request = json.loads(result.out)
    assert request == {
        "model": "custom_model_here",
        "stream": True,
        "messages": [
            {
                "role": "system",
                "content": f"{STORYTELLER_PROMPT}\n\n{STORYTELLER_CONTEXT}\n\n"
                "You are talking to Maya. They are 9 years old. "
                "They like listening to fairy tales stories.",
            },
            {"role": "user", "content": "Tell me a story!"},
        ],
    }
    assert "tools" not in request
    assert_no_secrets(result.out, result.err)


def test_preview_without_conversation(example_repo: Path, capsys) -> None:
    request = preview(capsys, example_repo, "storyteller/children")
    assert request["messages"][0]["content"] == f"{STORYTELLER_PROMPT}\n\n{STORYTELLER_CONTEXT}"


def test_preview_output_is_canonical_json(example_repo: Path, capsys) -> None:
    _, out, _ = run_main(capsys, "-C", str(example_repo), "preview", "weather-assistant")
    assert out == json.dumps(json.loads(out), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_preview_input_types(example_repo: Path, capsys) -> None:
    code, out, err = run_main(
        capsys,
        "-C",
        str(example_repo),
        "preview",
        "storyteller/children",
        "--conversation",
        "maya",
        "--var",
        "user_name=Maya",
        "--var",
        "age=eight",
    )
    assert (code, out) == (1, "")
    assert err == "conversations/maya.yaml:7:8: input 'age' expects an integer, got 'eight'\n"


def test_preview_missing_and_unknown_inputs(example_repo: Path, capsys) -> None:
    code, out, err = run_main(
        capsys,
        "-C",
        str(example_repo),
        "preview",
        "storyteller/children",
        "--conversation",
        "maya",
        "--var",
        "user=Maya",
    )
    assert (code, out) == (1, "")
    # `user` is not an input: in preview it is a variable for the persona's templates
    assert err.splitlines() == [
        "error: missing required input 'user_name' (string) (hint: pass --var user_name=...)",
    ]


def test_preview_vars_override_persona_variables(example_repo: Path, capsys) -> None:
    code, out, _ = run_main(
        capsys,
        "-C",
        str(example_repo),
        "preview",
        "storyteller/children",
        "--var",
        "audience=teenagers",
    )
    assert code == 0
    system = json.loads(out)["messages"][0]["content"]
    assert system.startswith("You are a storyteller. You like telling stories to teenagers.")


def test_preview_unknown_address(example_repo: Path, capsys) -> None:
    code, out, err = run_main(capsys, "-C", str(example_repo), "preview", "storyteller")
    assert (code, out) == (1, "")
    assert err.startswith("error: no persona 'storyteller' in this repository")


def test_preview_defaults_and_empty_parts(cli_run, tmp_path: Path, capsys) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": "version: 1\n",
            "personas/plain.yaml": "persona: {system_prompt: '  Be brief.  ', context: ''}\n",
            "personas/secretive.yaml": """
                persona:
                  system_prompt: "Use {{ secret('CUSTOM_LLM_API_KEY') }}"
                  context: Public context.
                  layers: {llm: {model: tavus-gpt-4o, api_key: "{{ secret('TTS_API_KEY') }}"}}
                """,
            "conversations/c.yaml": """
                persona: plain
                inputs: {topic: {type: string, default: cats}}
                conversation: {conversational_context: "", conversation_name: "{{ topic }}"}
                """,
        },
    )
    plain = preview(capsys, tmp_path, "plain", "--conversation", "c")
    assert plain["model"] == "tavus-gpt-4o"  # Tavus' default LLM
    assert plain["messages"][0] == {"role": "system", "content": "Be brief."}
    secretive = preview(capsys, tmp_path, "secretive")
    assert secretive["messages"][0]["content"] == "(sensitive)\n\nPublic context."
    result = cli_run("preview", "secretive", cwd=tmp_path, env=SECRETS)
    assert_no_secrets(result.out, result.err)
