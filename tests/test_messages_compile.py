"""The compile side's messages (issue 10, "Messages and output"): each asserted as the
exact line the real CLI prints, position included."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import SECRETS, assert_no_secrets, build_tree, run_cli

PROJECT = "version: 1\n"

LLM_BASE = """
persona:
  layers:
    llm:
      modle: my-model
      base_url: https://llm.example/v1
"""


def _storyteller(tmp_path: Path) -> Path:
    return build_tree(
        tmp_path,
        {
            "personactl.yaml": PROJECT,
            "personas/_bases/llm.yaml": LLM_BASE,
            "personas/storyteller.yaml": """
                extends: _bases/llm.yaml
                persona: {system_prompt: hi}
                variants: {children: {}, horror: {}, bedtime: {}, crime: {}}
            """,
            "personas/weather.yaml": """
                extends: _bases/llm.yaml
                persona: {system_prompt: hi}
            """,
        },
    )


def test_a_base_problem_is_one_line_counting_the_personas_it_reaches(tmp_path: Path) -> None:
    _storyteller(tmp_path)
    result = run_cli("validate", cwd=tmp_path)
    assert (result.code, result.out) == (1, "")
    # and not "an llm layer with base_url needs a model" once per persona: the typo is why
    assert result.err.splitlines() == [
        "personas/_bases/llm.yaml:4:7: unknown key 'modle' (in 5 personas: "
        "storyteller/bedtime, storyteller/children, storyteller/crime, and 2 more) "
        "(hint: did you mean 'model'?)",
        "1 error in 1 file",
    ]


def test_other_commands_group_base_problems_too(tmp_path: Path) -> None:
    _storyteller(tmp_path)
    result = run_cli("render", cwd=tmp_path)
    assert (result.code, result.out) == (1, "")
    assert result.err.splitlines() == [
        "personas/_bases/llm.yaml:4:7: unknown key 'modle' (in 5 personas: "
        "storyteller/bedtime, storyteller/children, storyteller/crime, and 2 more) "
        "(hint: did you mean 'model'?)",
    ]


def test_validate_total_counts_errors_warnings_and_files(tmp_path: Path) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": PROJECT,
            "personas/a.yaml": (
                "allow_unknown_keys: true\npersona:\n  system_prompt: hi\n  brand_new_field: 1\n"
            ),
            "personas/b.yaml": "persona:\n  system_prompt: hi\n  persona_nmae: b\n",
            "personas/c.yaml": "persona:\n  system_prompt: hi\n  persona_nmae: c\n",
        },
    )
    result = run_cli("validate", cwd=tmp_path)
    assert result.code == 1
    assert result.err.splitlines() == [
        "personas/a.yaml:4:3: warning: a: unknown key 'brand_new_field'",
        "personas/b.yaml:3:3: b: unknown key 'persona_nmae' (hint: did you mean 'persona_name'?)",
        "personas/c.yaml:3:3: c: unknown key 'persona_nmae' (hint: did you mean 'persona_name'?)",
        "2 errors, 1 warning in 3 files",
    ]
    github = run_cli("validate", "--format", "github", cwd=tmp_path)
    assert github.code == 1
    assert "errors" not in github.out + github.err


def test_a_missing_include_inside_a_template_is_located_in_that_template(tmp_path: Path) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": PROJECT,
            "personas/storyteller.yaml": """
                persona:
                  system_prompt: "{% include 'prompts/storyteller.md.j2' %}"
            """,
            "templates/prompts/storyteller.md.j2": "Hi.\n{% include 'missing.j2' %}\n",
        },
    )
    result = run_cli("validate", cwd=tmp_path)
    assert result.err.splitlines() == [
        "templates/prompts/storyteller.md.j2:2:1: template 'missing.j2' not found "
        "(hint: include paths are relative to templates/)",
        "1 error in 1 file",
    ]


def test_a_single_expression_keeps_its_type(example_repo: Path) -> None:
    from tests.test_plan_apply import cli, deploy

    (example_repo / "conversations/timed.yaml").write_text(
        "persona: storyteller/children\n"
        "inputs:\n"
        "  minutes: {type: integer, default: 2}\n"
        "  captions: {type: boolean, default: false}\n"
        "conversation:\n"
        "  replica_id: r1\n"
        "  conversation_name: 'Call of {{ minutes }} minutes'\n"
        "  properties:\n"
        '    max_call_duration: "{{ minutes * 60 }}"\n'
        '    enable_closed_captions: " {{ captions }} "\n'
    )
    deploy(example_repo, "storyteller/children")
    result = cli(example_repo, "conversation", "render", "timed", "--var", "minutes=3")
    body = json.loads(result.out)
    assert body["properties"] == {"max_call_duration": 180, "enable_closed_captions": False}
    assert body["conversation_name"] == "Call of 3 minutes"  # text around: a string
    # a secret() stays a placeholder string, shown masked
    render = run_cli("render", "storyteller/children", cwd=example_repo)
    assert json.loads(render.out)["layers"]["tts"]["api_key"] == "(sensitive)"


def test_a_single_expression_feeds_a_boolean_field(tmp_path: Path) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": PROJECT,
            "personas/p.yaml": """
                vars: {fast: true, words: [a, b]}
                persona:
                  system_prompt: "{{ words | join(' ') }}"
                  layers:
                    llm: {model: tavus-gpt-4o, speculative_inference: "{{ fast }}"}
            """,
        },
    )
    result = run_cli("render", "p", cwd=tmp_path)
    assert result.code == 0, result.err
    body = json.loads(result.out)
    assert body["system_prompt"] == "a b"
    assert body["layers"]["llm"]["speculative_inference"] is True


def test_a_missing_secret_is_located_and_suggests_a_near_variable(example_repo: Path) -> None:
    env = {k: SECRETS[k] for k in ("TTS_API_KEY", "INTAKE_TOOL_TOKEN")}
    env["CUSTOM_LLM_APIKEY"] = SECRETS["CUSTOM_LLM_API_KEY"]
    for attempt in ("fresh compile", "from the cache"):
        result = run_cli("plan", cwd=example_repo, env=env)
        assert result.code == 1, attempt
        assert result.err.splitlines() == [
            "personas/_bases/custom-llm.yaml:11:16: secret CUSTOM_LLM_API_KEY is not set "
            "(used by intake-assistant, storyteller/children, storyteller/crime and 2 more) "
            "(hint: did you mean 'CUSTOM_LLM_APIKEY'? It is set; otherwise "
            "export CUSTOM_LLM_API_KEY=... (plan and apply need secret values))"
        ], attempt
        assert_no_secrets(result.out, result.err)


def test_an_unquoted_secret_name_says_to_quote_it(tmp_path: Path) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": PROJECT,
            "personas/p.yaml": """
                persona:
                  system_prompt: hi
                  layers:
                    tts: {tts_engine: cartesia, api_key: "{{ secret(TTS_API_KEY) }}"}
            """,
        },
    )
    result = run_cli("validate", cwd=tmp_path)
    assert result.err.splitlines() == [
        "personas/p.yaml:4:42: secret() takes a quoted name: secret('TTS_API_KEY')",
        "1 error in 1 file",
    ]


def test_undefined_variable_suggests_a_near_one_and_var_only_where_it_exists(
    tmp_path: Path,
) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": PROJECT,
            "personas/p.yaml": """
                vars: {audience: kids}
                persona: {system_prompt: "For {{ audiense }}"}
            """,
        },
    )
    message = "personas/p.yaml:2:26: undefined variable: 'audiense' is undefined (hint: "
    for command in (["validate"], ["render"], ["plan"]):
        result = run_cli(*command, cwd=tmp_path)
        assert result.code == 1
        assert result.err.splitlines()[0] == (
            f"{message}did you mean 'audience'? otherwise declare it under vars:)"
        ), command
    preview = run_cli("preview", "p", cwd=tmp_path)
    assert preview.err.splitlines() == [
        f"{message}did you mean 'audience'? otherwise declare it under vars: or pass it with --var)"
    ]


def test_unknown_filters_and_tests_suggest_the_near_one(tmp_path: Path) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": PROJECT,
            "personas/p.yaml": """
                vars: {name: x}
                persona:
                  system_prompt: "{{ name | uper }}"
                  context: "{% if name is strng %}x{% endif %}"
            """,
        },
    )
    result = run_cli("validate", cwd=tmp_path)
    assert result.err.splitlines() == [
        "personas/p.yaml:3:18: unknown filter 'uper' (hint: did you mean 'upper'?)",
        "personas/p.yaml:4:12: unknown test 'strng' (hint: did you mean 'string'?)",
        "2 errors in 1 file",
    ]


def test_an_empty_file_is_one_line(tmp_path: Path) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": PROJECT,
            "personas/empty.yaml": "",
            "personas/comments.yaml": "# to do\n\n   \n",
            "personas/_bases/blank.yaml": "\n",
            "personas/p.yaml": "extends: _bases/blank.yaml\npersona: {system_prompt: hi}\n",
            "conversations/c.yaml": "",
        },
    )
    result = run_cli("validate", cwd=tmp_path)
    assert result.err.splitlines() == [
        "conversations/c.yaml:1:1: file is empty",
        "personas/_bases/blank.yaml:1:1: file is empty",
        "personas/comments.yaml:1:1: file is empty",
        "personas/empty.yaml:1:1: file is empty",
        "4 errors in 4 files",
    ]


def test_yaml_indentation_errors_say_which_lines_disagree(tmp_path: Path) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": PROJECT,
            "personas/deeper.yaml": "persona:\n  system_prompt: hi\n    context: x\n",
            "personas/between.yaml": (
                "persona:\n  layers:\n    llm:\n      model: m\n     base_url: x\n"
            ),
            "personas/tab.yaml": "persona:\n\tsystem_prompt: hi\n",
            "personas/colon.yaml": "persona:\n  system_prompt: note: be brief\n",
        },
    )
    result = run_cli("validate", cwd=tmp_path)
    assert result.err.splitlines() == [
        "personas/between.yaml:5:6: invalid YAML: while parsing a block mapping did not find "
        "expected key (hint: check the indentation: line 5 is indented 5 spaces, which matches "
        "no key above it (the mapping at line 3 is indented 4))",
        "personas/colon.yaml:2:22: invalid YAML: mapping values are not allowed in this context "
        "(hint: quote a value that contains ': ')",
        "personas/deeper.yaml:3:12: invalid YAML: mapping values are not allowed in this context "
        "(hint: check the indentation: line 3 is indented more than the key above it, which "
        "already has a value on its line)",
        "personas/tab.yaml:2:1: invalid YAML: while scanning for the next token found character "
        "that cannot start any token (hint: YAML indents with spaces, not tabs)",
        "4 errors in 4 files",
    ]
