"""`ref('ADDRESS')` (DESIGN §6 "References"): errors at the ref()'s file:line:col, cycles,
and render/validate without state: `(known after apply)`, or the deployed id."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from personactl import refs
from personactl.compile.compilation import compile_project
from tests.conftest import SECRETS, assert_no_secrets, build_tree

PROJECT = "version: 1\n"


def validate_errors(cli_run, root: Path) -> list[str]:
    result = cli_run("validate", cwd=root)
    assert (result.code, result.out) == (1, "")
    *problems, total = result.err.splitlines()
    assert re.fullmatch(r"\d+ errors? in \d+ files?", total), total  # validate's total
    return problems


def test_unknown_addresses_are_errors_at_the_ref(cli_run, tmp_path: Path) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": PROJECT,
            "personas/a.yaml": """
                persona:
                  system_prompt: "{% include 'p.j2' %}"
                  objectives_id: "{{ ref('objectives:intak') }}"
                  context: |
                    first line
                    {{ ref('tools:lookup') }}
            """,
            "templates/p.j2": "Hello.\n{{ ref('guardrails:no-diagnosys') }}\n",
            "objectives/intake.yaml": (
                "objectives: {data: [{objective_name: a, objective_prompt: p}]}\n"
            ),
            "guardrails/no-diagnosis.yaml": (
                "guardrail: {guardrail_name: g, guardrail_prompt: Never.}\n"
            ),
        },
    )
    assert validate_errors(cli_run, tmp_path) == [
        "personas/a.yaml:3:18: ref('objectives:intak'): no such address in this repository "
        "(hint: did you mean 'objectives:intake'?)",
        "personas/a.yaml:6:1: ref('tools:lookup'): no such address in this repository "
        "(hint: run `personactl list` to see every address)",
        "templates/p.j2:2:1: ref('guardrails:no-diagnosys'): no such address in this "
        "repository (hint: did you mean 'guardrails:no-diagnosis'?)",
    ]


def test_ref_takes_an_address(cli_run, tmp_path: Path) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": PROJECT,
            "personas/a.yaml": "persona:\n  system_prompt: '{{ ref(3) }}'\n",
        },
    )
    assert validate_errors(cli_run, tmp_path) == [
        "personas/a.yaml:2:18: ref() takes the address of a resource of this repository "
        "(hint: e.g. ref('tools:get_weather'); `personactl list` shows every address)"
    ]


def test_cycles_are_errors_naming_their_members(cli_run, tmp_path: Path) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": PROJECT,
            "personas/a.yaml": """
                persona:
                  system_prompt: hi
                  objectives_id: "{{ ref('personas:b') }}"
            """,
            "personas/b.yaml": """
                persona:
                  system_prompt: hi
                  tool_ids: ["{{ ref('tools:t') }}"]
            """,
            "tools/t.yaml": """
                tool:
                  name: t
                  description: "Calls {{ ref('a') }}"
            """,
            "guardrails/g.yaml": """
                guardrail:
                  guardrail_name: g
                  guardrail_prompt: "{{ ref('guardrails:g') }}"
            """,
        },
    )
    hint = "(hint: resources are created in reference order: remove one of these ref()s)"
    assert validate_errors(cli_run, tmp_path) == [
        f"guardrails/g.yaml:3:21: reference cycle: guardrails:g -> guardrails:g {hint}",
        f"personas/a.yaml:3:18: reference cycle: a -> b -> tools:t -> a {hint}",
    ]


def test_compiled_payloads_keep_placeholders_and_expose_the_graph(example_repo: Path) -> None:
    result = compile_project(root=example_repo)
    assert result.errors == []
    intake = result.resource("personas:intake-assistant")
    assert intake.payload["objectives_id"] == refs.placeholder("objectives:intake")
    assert result.references("intake-assistant") == {
        "objectives:intake",
        "guardrails:no-diagnosis",
        "tools:lookup_patient",
    }
    assert result.references("tools:lookup_patient") == set()
    assert result.references("storyteller/children") == set()


def _state(repo: Path, ids: dict[str, tuple[str, str]]) -> None:
    """A state file as apply writes it: address -> (id field, id)."""
    resources = {a: {field: rid, "applied": {}} for a, (field, rid) in ids.items()}
    path = repo / ".personactl" / "state" / "local.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({"format_version": 1, "environment": "local", "resources": resources})
    )


def test_render_shows_known_after_apply_then_deployed_ids(cli_run, example_repo: Path) -> None:
    before = cli_run("render", "intake-assistant", cwd=example_repo, env=SECRETS)
    assert before.code == 0, before.err
    body = json.loads(before.out)
    assert body["objectives_id"] == "(known after apply)"
    assert body["guardrail_ids"] == ["(known after apply)"]
    assert body["tool_ids"] == ["(known after apply)"]
    assert not (example_repo / ".personactl" / "state").exists()  # render wrote no state

    _state(
        example_repo,
        {
            "objectives:intake": ("objectives_id", "o-1234"),
            "tools:lookup_patient": ("tool_id", "t-5678"),
        },
    )
    after = cli_run("render", cwd=example_repo, env=SECRETS)
    assert after.code == 0, after.err
    data = json.loads(after.out)
    intake = data["intake-assistant"]
    assert intake["objectives_id"] == "o-1234"
    assert intake["guardrail_ids"] == ["(known after apply)"]
    assert intake["tool_ids"] == ["t-5678"]
    assert "\\u0000" not in after.out  # no placeholder is ever shown
    validate = cli_run("validate", cwd=example_repo, env=SECRETS)
    assert validate.code == 0, validate.err
    assert_no_secrets(before.out, before.err, after.out, after.err, root=example_repo)


def test_an_unreadable_state_is_a_warning_for_render(cli_run, example_repo: Path) -> None:
    path = example_repo / ".personactl" / "state" / "local.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    result = cli_run("render", "intake-assistant", cwd=example_repo)
    assert result.code == 0
    assert json.loads(result.out)["objectives_id"] == "(known after apply)"
    assert result.err.startswith("warning: ")
    assert "references are shown as (known after apply)" in result.err


@pytest.mark.parametrize("address", ["tools:lookup_patient", "personas:intake-assistant"])
def test_render_takes_any_address(cli_run, example_repo: Path, address: str) -> None:
    result = cli_run("render", address, cwd=example_repo, env=SECRETS)
    assert result.code == 0, result.err
    assert json.loads(result.out)
    assert_no_secrets(result.out, result.err, root=example_repo)


def test_conversation_render_resolves_refs(cli_run, example_repo: Path) -> None:
    maya = example_repo / "conversations" / "maya.yaml"
    maya.write_text(
        maya.read_text().replace(
            "conversation:\n",
            "conversation:\n  custom_greeting: \"{{ ref('tools:lookup_patient') }}\"\n",
        )
    )
    _state(example_repo, {"storyteller/children": ("persona_id", "p-1")})
    args = ("conversation", "render", "maya", "--var", "user_name=Maya")
    before = cli_run(*args, cwd=example_repo)
    assert before.code == 0, before.err
    assert json.loads(before.out)["custom_greeting"] == "(known after apply)"
    refused = cli_run("conversation", "create", "maya", "--var", "user_name=Maya", cwd=example_repo)
    assert (refused.code, refused.out) == (1, "")
    assert refused.err == (
        "error: conversation maya references tools:lookup_patient, not deployed in environment "
        "'local' (hint: run `personactl apply` first)\n"
    )
    _state(
        example_repo,
        {"storyteller/children": ("persona_id", "p-1"), "tools:lookup_patient": ("tool_id", "t-9")},
    )
    after = json.loads(cli_run(*args, cwd=example_repo).out)
    assert (after["custom_greeting"], after["persona_id"]) == ("t-9", "p-1")


def test_references_are_found_whatever_json_escapes_in_the_address() -> None:
    """An address from a file named `café.yaml` is written `caf\\u00e9` in JSON text."""
    from personactl import refs

    quoted = refs.placeholder('x"y')
    payload = {"a": refs.placeholder("café/v1"), "b": ["id " + quoted]}
    assert refs.targets(payload) == {"café/v1", 'x"y'}
    assert refs.resolve(payload, {"café/v1": "p1", 'x"y': "p2"}) == {"a": "p1", "b": ["id p2"]}
