"""One test per error class: message, file and line (DESIGN §2-§3, the issue's list)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from personactl.compile.compilation import Compilation, compile_project
from personactl.errors import ConfigErrors
from personactl.project import load_project
from tests.conftest import SECRETS, assert_no_secrets, build_tree, run_cli, run_main

PROJECT = """
version: 1
vars: {company: Acme}
environments:
  local: {backend: local}
  prod:
    backend: tavus
    overrides:
      layers: {stt: {participant_pause_sensitivity: "{{ pause }}"}}
    vars: {pause: low}
"""
OK_PERSONA = "persona: {system_prompt: hi}\n"
SENSITIVITIES = "superlow, verylow, low, medium, high, veryhigh, superhigh"


def compile_tree(root: Path, files: dict[str, str], env: str | None = None) -> Compilation:
    build_tree(root, {"personactl.yaml": PROJECT, **files})
    return compile_project(root=root, env_name=env)


def errors(root: Path, files: dict[str, str], env: str | None = None) -> list[str]:
    """Every error of a compile, as `validate` prints them (sorted by position)."""
    result = compile_tree(root, files, env)
    if not result.errors:
        return []
    return [p.format() for p in ConfigErrors(result.errors).problems]


def warnings(result: Compilation) -> list[str]:
    return sorted((p.format() for p in result.warnings), key=lambda line: line.split(" ")[0])


# --------------------------------------------------------------------------- YAML


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    assert errors(
        tmp_path,
        {"personas/p.yaml": "persona:\n  system_prompt: a\n  context: x\n  system_prompt: b\n"},
    ) == ["personas/p.yaml:4:3: duplicate key 'system_prompt' (first defined at line 2)"]


def test_malformed_yaml(tmp_path: Path) -> None:
    found = errors(tmp_path, {"personas/p.yaml": "persona:\n  system_prompt: [hi\n"})
    assert len(found) == 1
    # the wording after this differs between libyaml and the pure-Python parser
    assert found[0].startswith("personas/p.yaml:3:1: invalid YAML: while parsing a flow sequence")


def test_alias_bomb(tmp_path: Path) -> None:
    lines = ["vars:", "  l0: &l0 [" + ", ".join(["lol"] * 10) + "]"]
    lines += [f"  l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]" for i in range(1, 10)]
    found = errors(tmp_path, {"personas/p.yaml": "\n".join(lines) + "\n" + OK_PERSONA})
    assert found == [
        "personas/p.yaml:1:1: YAML aliases expand to more than 1,000,000 values; refused "
        "(hint: this looks like an alias bomb)"
    ]


def test_project_file_errors(tmp_path: Path) -> None:
    build_tree(
        tmp_path,
        {"personactl.yaml": "version: 2\nenvironment: {}\nenvironments: {x: {backend: cloud}}\n"},
    )
    with pytest.raises(ConfigErrors) as exc:
        load_project(tmp_path)
    assert [p.format() for p in exc.value.problems] == [
        "personactl.yaml:1:1: default_environment is required when there is no 'local' "
        "environment (hint: environments: x)",
        "personactl.yaml:1:10: unsupported version 2 (hint: this personactl reads version: 1)",
        "personactl.yaml:2:1: unknown key 'environment' in personactl.yaml "
        "(hint: did you mean 'environments'?)",
        "personactl.yaml:3:29: unknown backend 'cloud' (hint: backend is local or tavus)",
    ]


# --------------------------------------------------------------------------- keys


def test_unknown_persona_key_did_you_mean(tmp_path: Path) -> None:
    assert errors(
        tmp_path,
        {
            "personas/p.yaml": """
                persona:
                  system_prompt: hi
                  persona_nmae: x
                  layers:
                    llm: {modle: tavus-gpt-4o}
                """
        },
    ) == [
        "personas/p.yaml:3:3: p: unknown key 'persona_nmae' (hint: did you mean 'persona_name'?)",
        "personas/p.yaml:5:11: p: unknown key 'modle' (hint: did you mean 'model'?)",
    ]


def test_unknown_file_keys_did_you_mean(tmp_path: Path) -> None:
    assert errors(
        tmp_path,
        {
            "personas/p.yaml": (
                "extend: x\npersona: {system_prompt: hi}\nvariants:\n  v: {var: {}}\n"
            ),
            "personas/_b.yaml": "persona: {}\nvars: {}\nvariants: {}\n",
            "personas/q.yaml": "extends: _b.yaml\npersona: {system_prompt: hi}\n",
            "conversations/c.yaml": "persona: q\nconversaton: {}\ninputs: {a: {typ: string}}\n",
        },
    ) == [
        "conversations/c.yaml:2:1: unknown key 'conversaton' in a conversation file "
        "(hint: did you mean 'conversation'?)",
        "conversations/c.yaml:3:14: unknown key 'typ' in input 'a' (hint: did you mean 'type'?)",
        "personas/_b.yaml:3:1: 'variants' is not allowed in a base file "
        "(hint: a base contributes extends, vars, persona, allow_unknown_keys)",
        "personas/p.yaml:1:1: unknown key 'extend' in a persona file "
        "(hint: did you mean 'extends'?)",
        "personas/p.yaml:4:7: unknown key 'var' in a variant (hint: did you mean 'vars'?)",
    ]


def test_allow_unknown_keys_makes_warnings(tmp_path: Path, capsys) -> None:
    files = {
        "personas/p.yaml": """
            allow_unknown_keys: true
            persona:
              system_prompt: hi
              brand_new_field: 1
              layers: {tts: {new_tts_option: true}}
            """
    }
    result = compile_tree(tmp_path, files)
    assert result.errors == []
    assert warnings(result) == [
        "personas/p.yaml:4:3: warning: p: unknown key 'brand_new_field'",
        "personas/p.yaml:5:18: warning: p: unknown key 'new_tts_option'",
    ]
    assert result.personas["p"].masked()["brand_new_field"] == 1
    code, _, err = run_main(capsys, "-C", str(tmp_path), "validate")
    assert code == 0
    assert "warning: p: unknown key 'brand_new_field'" in err
    # the opt-in is per file: without it the same key is an error
    (tmp_path / "personas/p.yaml").write_text("persona: {system_prompt: hi, brand_new_field: 1}\n")
    assert run_main(capsys, "-C", str(tmp_path), "validate")[0] == 1


def test_allow_unknown_keys_inherited_from_base(tmp_path: Path) -> None:
    result = compile_tree(
        tmp_path,
        {
            "personas/_b.yaml": "allow_unknown_keys: true\n",
            "personas/p.yaml": "extends: _b.yaml\npersona: {system_prompt: hi, future: x}\n",
        },
    )
    assert result.errors == []
    assert warnings(result) == ["personas/p.yaml:2:30: warning: p: unknown key 'future'"]


def test_unknown_model_name_is_a_warning(tmp_path: Path, capsys) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": PROJECT,
            "personas/p.yaml": (
                "persona:\n  system_prompt: hi\n  layers:\n"
                "    llm: {model: tavus-gpt-9}\n    tts: {tts_engine: newvoice}\n"
            ),
        },
    )
    code, out, err = run_main(capsys, "-C", str(tmp_path), "validate")
    assert code == 0
    assert out == ""
    lines = err.splitlines()
    assert lines[0].startswith(
        "personas/p.yaml:4:18: warning: p: unknown model 'tavus-gpt-9'; known values: "
    )
    assert lines[0].endswith("(hint: did you mean 'tavus-gpt-4o'?)")
    assert lines[1].startswith(
        "personas/p.yaml:5:23: warning: p: unknown tts_engine 'newvoice'; known values: "
    )
    assert lines[2] == "1 persona and 0 conversation templates are valid."


# --------------------------------------------------------------------------- extends


def test_extends_cycle(tmp_path: Path) -> None:
    assert errors(
        tmp_path,
        {
            "personas/p.yaml": "extends: [_b/x.yaml]\n" + OK_PERSONA,
            "personas/_b/x.yaml": "extends: [_b/y.yaml]\n",
            "personas/_b/y.yaml": "extends: [_b/x.yaml]\n",
        },
    ) == [
        "personas/_b/y.yaml:1:11: extends cycle: personas/p.yaml -> personas/_b/x.yaml -> "
        "personas/_b/y.yaml -> personas/_b/x.yaml"
    ]


def test_extends_self(tmp_path: Path) -> None:
    assert errors(tmp_path, {"personas/p.yaml": "extends: p.yaml\n" + OK_PERSONA}) == [
        "personas/p.yaml:1:10: extends cycle: personas/p.yaml -> personas/p.yaml"
    ]


def test_base_outside_personas(tmp_path: Path) -> None:
    assert errors(
        tmp_path,
        {
            "personas/p.yaml": "extends:\n  - ../templates/x.yaml\n  - /etc/passwd\n" + OK_PERSONA,
            "templates/x.yaml": "persona: {}\n",
        },
    ) == [
        "personas/p.yaml:2:5: base '../templates/x.yaml' is outside personas/ "
        "(hint: bases live under personas/, e.g. _bases/)",
        "personas/p.yaml:3:5: base '/etc/passwd' is outside personas/ "
        "(hint: bases live under personas/, e.g. _bases/)",
    ]


def test_missing_base(tmp_path: Path) -> None:
    assert errors(tmp_path, {"personas/p.yaml": "extends: [_nope.yaml]\n" + OK_PERSONA}) == [
        "personas/p.yaml:1:11: base '_nope.yaml' not found in personas/"
    ]


# --------------------------------------------------------------------------- Jinja


def test_undefined_variable_inline(tmp_path: Path) -> None:
    assert errors(
        tmp_path, {"personas/p.yaml": "persona:\n  system_prompt: 'Hi {{ nmae }}'\n"}
    ) == [
        "personas/p.yaml:2:18: undefined variable: 'nmae' is undefined "
        "(hint: declare it under vars:)"
    ]


def test_undefined_variable_in_block_scalar_points_at_its_line(tmp_path: Path) -> None:
    assert errors(
        tmp_path,
        {
            "personas/p.yaml": """
                persona:
                  system_prompt: |
                    You are {{ company }}'s assistant.
                    Talk about {{ topic }}.
                  context: >-
                    {{ other }}
                """
        },
    ) == [
        "personas/p.yaml:4:1: undefined variable: 'topic' is undefined "
        "(hint: declare it under vars:)",
        "personas/p.yaml:6:1: undefined variable: 'other' is undefined "
        "(hint: declare it under vars:)",
    ]


def test_undefined_attribute_is_an_error_not_empty(tmp_path: Path) -> None:
    found = errors(
        tmp_path,
        {"personas/p.yaml": "vars: {user: {}}\npersona: {system_prompt: '{{ user.name }}'}\n"},
    )
    assert found == [
        "personas/p.yaml:2:26: undefined variable: 'dict object' has no attribute 'name' "
        "(hint: declare it under vars:)"
    ]


def test_undefined_variable_in_included_template(tmp_path: Path) -> None:
    assert errors(
        tmp_path,
        {
            "personas/p.yaml": "persona:\n  system_prompt: \"{% include 'prompts/p.md.j2' %}\"\n",
            "templates/prompts/p.md.j2": "Line one.\n{% include 'partials/x.j2' %}\n",
            "templates/partials/x.j2": "ok\nok\nHello {{ missing }}\n",
        },
    ) == [
        "templates/partials/x.j2:3:1: undefined variable: 'missing' is undefined "
        "(hint: declare it under vars:)"
    ]


def test_template_syntax_error_inline(tmp_path: Path) -> None:
    assert errors(tmp_path, {"personas/p.yaml": "persona:\n  system_prompt: '{{ x '\n"}) == [
        "personas/p.yaml:2:18: template syntax error: unexpected end of template, "
        "expected 'end of print statement'."
    ]


def test_template_syntax_error_in_template_file(tmp_path: Path) -> None:
    assert errors(
        tmp_path,
        {
            "personas/p.yaml": "persona:\n  system_prompt: \"{% include 'p.j2' %}\"\n",
            "templates/p.j2": "ok\n\n{% if %}yes{% endif %}\n",
        },
    ) == [
        "templates/p.j2:3:1: template syntax error: "
        "Expected an expression, got 'end of statement block'"
    ]


def test_template_not_found(tmp_path: Path) -> None:
    assert errors(
        tmp_path, {"personas/p.yaml": "persona:\n  system_prompt: \"{% include 'nope.j2' %}\"\n"}
    ) == [
        "personas/p.yaml:2:18: template 'nope.j2' not found "
        "(hint: include paths are relative to templates/)"
    ]


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("''.__class__.__mro__", "access to attribute '__class__' of 'str' object is unsafe."),
        (
            "cycler.__init__.__globals__",
            "access to attribute '__init__' of 'type' object is unsafe.",
        ),
        ("stories.append(1)", "access to attribute 'append' of 'list' object is unsafe."),
    ],
)
def test_sandbox_violation(tmp_path: Path, expr: str, message: str) -> None:
    files = {
        "personas/p.yaml": (
            f'vars: {{stories: [a]}}\npersona:\n  system_prompt: "{{{{ {expr} }}}}"\n'
        )
    }
    assert errors(tmp_path, files) == [f"personas/p.yaml:3:18: sandbox violation: {message}"]


def test_template_cannot_include_outside_templates(tmp_path: Path) -> None:
    found = errors(
        tmp_path,
        {"personas/p.yaml": "persona:\n  system_prompt: \"{% include '../personactl.yaml' %}\"\n"},
    )
    assert found == [
        "personas/p.yaml:2:18: template '../personactl.yaml' not found "
        "(hint: include paths are relative to templates/)"
    ]


def test_env_function_without_default(tmp_path: Path) -> None:
    assert errors(
        tmp_path, {"personas/p.yaml": "persona:\n  system_prompt: \"{{ env('PCTL_UNSET') }}\"\n"}
    ) == [
        "personas/p.yaml:2:18: environment variable PCTL_UNSET is not set "
        "(give env() a default to make it optional)"
    ]


# --------------------------------------------------------------------------- semantic checks

TOOLS = """
persona:
  system_prompt: hi
  layers:
    llm:
      model: m
      base_url: https://llm.example.com/v1
      tools:
        - type: function
          function:
            name: lookup
            parameters:
              type: object
              properties:
                city: {type: strin}
              required: [city, country]
        - type: function
          function: {name: lookup, parameters: {type: object}}
        - type: function
          function: {name: "bad name!", parameters: {type: object}}
"""


def test_invalid_tool_json_schema(tmp_path: Path) -> None:
    found = errors(tmp_path, {"personas/p.yaml": TOOLS})
    assert (
        "personas/p.yaml:14:30: p: invalid JSON Schema in tool parameters: unknown type 'strin' "
        "(hint: did you mean 'string'?)"
    ) in found


def test_tool_required_not_in_properties(tmp_path: Path) -> None:
    found = errors(tmp_path, {"personas/p.yaml": TOOLS})
    assert (
        "personas/p.yaml:15:32: p: required property 'country' is not defined in properties"
    ) in found


def test_duplicate_tool_names(tmp_path: Path) -> None:
    found = errors(tmp_path, {"personas/p.yaml": TOOLS})
    assert (
        "personas/p.yaml:17:28: p: duplicate tool name 'lookup' (hint: already defined by tools[0])"
        in found
    )
    assert len(found) == 4
    assert found[3] == (
        "personas/p.yaml:19:28: p: invalid tool name 'bad name!': must match ^[A-Za-z0-9_-]{1,64}$ "
        "(hint: use letters, digits, '_' and '-' only, at most 64 characters)"
    )


def test_bad_enum_value(tmp_path: Path) -> None:
    assert errors(
        tmp_path,
        {
            "personas/p.yaml": """
                persona:
                  system_prompt: hi
                  pipeline_mode: fulll
                  layers:
                    stt: {participant_pause_sensitivity: meduim}
                """
        },
    ) == [
        "personas/p.yaml:3:18: p: invalid value 'fulll' for pipeline_mode; "
        "expected one of: full, echo, custom, speech-to-speech (hint: did you mean 'full'?)",
        f"personas/p.yaml:5:42: p: invalid value 'meduim' for participant_pause_sensitivity; "
        f"expected one of: {SENSITIVITIES} (hint: did you mean 'medium'?)",
    ]


def test_literal_api_key(tmp_path: Path) -> None:
    found = errors(
        tmp_path,
        {
            "personas/p.yaml": """
                persona:
                  system_prompt: hi
                  layers:
                    llm: {model: m, base_url: https://x.example/v1, api_key: sk-literal-123}
                    tts: {api_key: "{{ env('HOME') }}"}
                """
        },
    )
    hint = "(hint: use api_key: \"{{ secret('MY_API_KEY') }}\" and export MY_API_KEY)"
    assert found == [
        f"personas/p.yaml:4:62: literal api_key: credentials must not be written in files {hint}",
        f"personas/p.yaml:5:20: literal api_key: credentials must not be written in files {hint}",
    ]
    assert all("sk-literal-123" not in line for line in found)


def test_system_prompt_required_in_full_pipeline(tmp_path: Path) -> None:
    assert errors(tmp_path, {"personas/p.yaml": "persona: {pipeline_mode: full}\n"}) == [
        "personas/p.yaml:1:26: p: a non-empty system_prompt is required: pipeline_mode is full "
        "(hint: add a system_prompt, or set pipeline_mode: echo)"
    ]


def test_llm_base_url_checks(tmp_path: Path) -> None:
    assert errors(
        tmp_path,
        {
            "personas/p.yaml": "persona:\n  system_prompt: hi\n  layers: {llm: {base_url: ftp://x}}\n"
        },
    ) == [
        "personas/p.yaml:3:17: p: an llm layer with base_url needs a model "
        "(hint: add the model name your endpoint serves)",
        "personas/p.yaml:3:28: p: base_url must be an http(s) URL, got 'ftp://x' "
        "(hint: e.g. https://llm.example.com/v1 (without /chat/completions))",
    ]


# --------------------------------------------------------------------------- through layers


def test_bad_value_from_a_base_points_at_the_base(tmp_path: Path) -> None:
    assert errors(
        tmp_path,
        {
            "personas/_bases/b.yaml": (
                "persona:\n  layers:\n    stt:\n      participant_pause_sensitivity: loud\n"
            ),
            "personas/p.yaml": "extends: [_bases/b.yaml]\n" + OK_PERSONA,
        },
    ) == [
        f"personas/_bases/b.yaml:4:38: p: invalid value 'loud' for participant_pause_sensitivity; "
        f"expected one of: {SENSITIVITIES}"
    ]


def test_unknown_key_from_a_base_points_at_the_base(tmp_path: Path) -> None:
    assert errors(
        tmp_path,
        {
            "personas/_b.yaml": "persona:\n  layers: {llm: {modle: x}}\n",
            "personas/p.yaml": "extends: _b.yaml\n" + OK_PERSONA,
        },
    ) == ["personas/_b.yaml:2:18: p: unknown key 'modle' (hint: did you mean 'model'?)"]


def test_bad_value_from_a_variant_points_at_the_variant(tmp_path: Path) -> None:
    assert errors(
        tmp_path,
        {
            "personas/p.yaml": """
                persona: {system_prompt: hi}
                variants:
                  fine: {}
                  broken:
                    persona:
                      layers: {stt: {participant_interrupt_sensitivity: 7}}
                """
        },
    ) == [
        "personas/p.yaml:6:57: p/broken: invalid value 7 for participant_interrupt_sensitivity; "
        f"expected one of: {SENSITIVITIES}"
    ]


def test_template_error_from_a_base_with_variant_vars(tmp_path: Path) -> None:
    # the template is in the base; the variable is missing only in one variant's view
    assert errors(
        tmp_path,
        {
            "personas/_b.yaml": "persona:\n  system_prompt: 'for {{ audience }}'\n",
            "personas/p.yaml": (
                "extends: _b.yaml\nvariants:\n  a: {vars: {audience: kids}}\n  b: {}\n"
            ),
        },
    ) == [
        "personas/_b.yaml:2:18: undefined variable: 'audience' is undefined "
        "(hint: declare it under vars:)"
    ]


def test_bad_value_from_environment_overrides(tmp_path: Path) -> None:
    files = {"personas/p.yaml": "vars: {pause: loud}\n" + OK_PERSONA}
    assert errors(tmp_path, files) == []
    assert errors(tmp_path, files, env="prod") == [
        f"personactl.yaml:8:53: p: invalid value 'loud' for participant_pause_sensitivity; "
        f"expected one of: {SENSITIVITIES}"
    ]


# --------------------------------------------------------------------------- conversations


def test_conversation_errors(tmp_path: Path) -> None:
    assert errors(
        tmp_path,
        {
            "personas/storyteller.yaml": OK_PERSONA + "variants: {children: {}}\n",
            "conversations/c.yaml": """
                persona: storyteller/childern
                inputs:
                  age: {type: integer, default: eight}
                  mood: {type: float}
                conversation:
                  conversation_name: "{{ age }} {{ nope }}"
                  properties: {max_call_duration: long}
                """,
            "conversations/d.yaml": "inputs: {}\n",
        },
    ) == [
        "conversations/c.yaml:1:10: persona 'storyteller/childern' is not defined "
        "(hint: did you mean 'storyteller/children'?)",
        "conversations/c.yaml:3:33: default of input 'age' is not an integer",
        "conversations/c.yaml:4:16: input 'mood' has unknown type 'float' "
        "(hint: types: string, integer, number, boolean)",
        "conversations/c.yaml:6:22: undefined variable: 'nope' is undefined "
        "(hint: declare it under vars:)",
        "conversations/c.yaml:7:35: conversation c: invalid type for max_call_duration: "
        "expected integer, got string",
        "conversations/d.yaml:1:1: persona (the address of a persona) is required",
    ]


# --------------------------------------------------------------------------- the CLI


BROKEN = {
    "personas/a.yaml": "persona:\n  system_prompt: '{{ nope }}'\n  persona_nmae: x\n",
    "personas/b.yaml": "persona:\n  system_prompt: hi\n  system_prompt: again\n",
    "personas/c.yaml": "persona: {system_prompt: hi, layers: {llm: {api_key: sk-plain}}}\n",
    "conversations/x.yaml": "persona: nobody\n",
}


def test_validate_reports_every_error_at_once_and_exits_1(tmp_path: Path) -> None:
    build_tree(tmp_path, {"personactl.yaml": PROJECT, **BROKEN})
    result = run_cli("validate", cwd=tmp_path)
    assert result.code == 1
    assert result.out == ""
    assert result.err.splitlines() == [
        "conversations/x.yaml:1:10: persona 'nobody' is not defined",
        "personas/a.yaml:2:18: undefined variable: 'nope' is undefined "
        "(hint: declare it under vars:)",
        "personas/a.yaml:3:3: a: unknown key 'persona_nmae' (hint: did you mean 'persona_name'?)",
        "personas/b.yaml:3:3: duplicate key 'system_prompt' (first defined at line 2)",
        "personas/c.yaml:1:54: literal api_key: credentials must not be written in files "
        "(hint: use api_key: \"{{ secret('MY_API_KEY') }}\" and export MY_API_KEY)",
        "5 errors in 4 files",
    ]
    assert "Traceback" not in result.err


@pytest.mark.parametrize("command", [["validate"], ["render"], ["preview", "a"]])
def test_every_compiling_command_reports_config_errors(tmp_path: Path, capsys, command) -> None:
    build_tree(tmp_path, {"personactl.yaml": PROJECT, **BROKEN})
    code, out, err = run_main(capsys, "-C", str(tmp_path), *command)
    assert code == 1
    assert out == ""
    lines = err.splitlines()
    if command == ["validate"]:  # and a total
        assert lines.pop() == "5 errors in 4 files"
    assert len(lines) == 5
    assert "Traceback" not in err


def test_errors_never_show_secret_values(tmp_path: Path) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": PROJECT,
            "personas/p.yaml": """
                persona:
                  system_prompt: "{{ secret('CUSTOM_LLM_API_KEY') }} {{ nope }}"
                  layers:
                    llm:
                      model: m
                      base_url: https://x.example/v1
                      api_key: "{{ secret('CUSTOM_LLM_API_KEY') }}"
                    stt: {participant_pause_sensitivity: "{{ secret('TTS_API_KEY') }}"}
                    tts:
                      api_key: "{{ secret('TTS_API_KEY') }}"
                      tts_engine: "{{ secret('TTS_API_KEY') }}x"
                """,
        },
    )
    result = run_cli("validate", cwd=tmp_path, env=SECRETS)
    assert result.code == 1
    assert "undefined variable: 'nope' is undefined" in result.err
    assert "participant_pause_sensitivity" in result.err
    assert_no_secrets(result.out, result.err, root=tmp_path)


def test_problems_of_a_shared_base_are_reported_once(tmp_path: Path) -> None:
    assert errors(
        tmp_path,
        {
            "personas/_b.yaml": "var: {}\npersona:\n  system_prompt: 'hi {{ nope }}'\n",
            "personas/_c.yaml": "extends: _b.yaml\n",
            "personas/p.yaml": "extends: _b.yaml\nvariants: {x: {}, y: {}}\n",
            "personas/q.yaml": "extends: _c.yaml\n",
        },
    ) == [
        "personas/_b.yaml:1:1: unknown key 'var' in a base file (hint: did you mean 'vars'?)",
        "personas/_b.yaml:3:18: undefined variable: 'nope' is undefined "
        "(hint: declare it under vars:)",
    ]


def test_file_only_keys_in_a_conversation_base(tmp_path: Path) -> None:
    assert errors(
        tmp_path,
        {
            "personas/p.yaml": OK_PERSONA,
            "conversations/_b.yaml": "persona: p\ninputs: {}\n",
            "conversations/c.yaml": "extends: _b.yaml\npersona: p\n",
        },
    ) == [
        "conversations/_b.yaml:1:1: 'persona' is not allowed in a base file "
        "(hint: a base contributes extends, vars, conversation, allow_unknown_keys)",
        "conversations/_b.yaml:2:1: 'inputs' is not allowed in a base file "
        "(hint: a base contributes extends, vars, conversation, allow_unknown_keys)",
    ]


def test_every_validate_error_is_path_line_col(tmp_path: Path, capsys) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": PROJECT,
            **BROKEN,
            "personas/d.yaml": "persona: [\n",
            "personas/e.yaml": "- a list\n",
            "personas/f.yaml": "extends: [_x.yaml, ../y.yaml, 3]\n",
            "personas/g.yaml": "persona:\n  system_prompt: |\n    {% for %}\n",
            "conversations/h.yaml": "persona: a\ninputs: [x]\n",
        },
    )
    (tmp_path / "personas" / "latin.yaml").write_bytes(b"\xff\xfe")
    code, out, err = run_main(capsys, "-C", str(tmp_path), "validate")
    assert (code, out) == (1, "")
    *lines, total = err.splitlines()
    assert re.fullmatch(r"\d+ errors in \d+ files", total)
    assert len(lines) >= 12
    # every environment is checked: prod's overrides give the broken `f` a body of its own
    pattern = re.compile(r"^(personactl\.yaml|(personas|conversations)/[\w./-]+\.yaml):\d+:\d+: \S")
    assert [line for line in lines if not pattern.match(line)] == []


def test_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    assert errors(
        tmp_path,
        {
            "personas/list.yaml": "- a\n- b\n",
            "personas/_base.yaml": "just a string\n",
            "personas/p.yaml": "extends: _base.yaml\n" + OK_PERSONA,
        },
    ) == [
        "personas/_base.yaml:1:1: the file must be a mapping",
        "personas/list.yaml:1:1: the file must be a mapping",
    ]
