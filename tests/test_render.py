"""`render`: compiled personas of the example repository, output shapes, determinism, masking."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from personactl.compile.compilation import compile_project
from personactl.output import to_json
from tests.conftest import REPO, SECRETS, assert_no_secrets, build_tree, run_cli

EXAMPLE_PERSONAS = [
    "intake-assistant",
    "storyteller/children",
    "storyteller/crime",
    "storyteller/horror",
    "weather-assistant",
]
# every kind, sorted as render keys them
EXAMPLE_ADDRESSES = sorted(
    [*EXAMPLE_PERSONAS, "objectives:intake", "guardrails:no-diagnosis", "tools:lookup_patient"]
)


@pytest.fixture(scope="module")
def example_compiled():
    result = compile_project(root=REPO)
    assert [p.format() for p in result.problems] == []
    return result


def test_example_addresses(example_compiled) -> None:
    assert sorted(example_compiled.personas) == EXAMPLE_PERSONAS
    assert sorted(example_compiled.resources) == EXAMPLE_ADDRESSES


@pytest.mark.parametrize("address", EXAMPLE_PERSONAS)
def test_example_persona_snapshot(example_compiled, address: str, snapshot) -> None:
    assert to_json(example_compiled.personas[address].masked()) == snapshot


def test_example_prod_snapshot(snapshot) -> None:
    result = compile_project(root=REPO, env_name="prod")
    assert result.errors == []
    rendered = {a: p.masked() for a, p in sorted(result.personas.items())}
    for body in rendered.values():
        assert body["layers"]["llm"]["base_url"] == "https://llm.acme.example/v1"
    assert to_json(rendered["weather-assistant"]) == snapshot


def test_render_masks_sensitive_values(example_compiled) -> None:
    for persona in example_compiled.personas.values():
        body = persona.masked()
        assert body["layers"]["llm"]["api_key"] == "(sensitive)"
        assert body["layers"]["tts"]["api_key"] == "(sensitive)"


def test_render_all_one_and_several(cli_run, example_repo: Path) -> None:
    everything = run_cli("render", cwd=example_repo, env=SECRETS)
    assert everything.code == 0, everything.err
    assert everything.err == ""
    data = json.loads(everything.out)
    assert list(data) == EXAMPLE_ADDRESSES  # keyed by address, sorted
    assert everything.out == to_json(data)

    one = cli_run("render", "storyteller/horror", cwd=example_repo, env=SECRETS)
    assert one.code == 0
    assert json.loads(one.out) == data["storyteller/horror"]  # the object itself, no key
    assert json.loads(one.out)["persona_name"] == "Mert the Horror Storyteller"

    several = cli_run(
        "render", "weather-assistant", "storyteller/crime", cwd=example_repo, env=SECRETS
    )
    assert several.code == 0
    assert list(json.loads(several.out)) == ["storyteller/crime", "weather-assistant"]
    assert_no_secrets(everything.out, one.out, several.out, everything.err, root=example_repo)


def test_render_yaml(cli_run, example_repo: Path) -> None:
    as_json = cli_run("render", cwd=example_repo)
    as_yaml = cli_run("render", "--format", "yaml", cwd=example_repo)
    assert as_yaml.code == 0
    assert yaml.safe_load(as_yaml.out) == json.loads(as_json.out)
    assert as_yaml.out.startswith("guardrails:no-diagnosis:\n")
    one = cli_run("render", "--format", "yaml", "weather-assistant", cwd=example_repo)
    assert one.out.startswith("context: Help users get the weather for a given location.\n")
    assert "api_key: (sensitive)\n" in one.out


def test_render_out_writes_one_file_per_address(
    cli_run, example_repo: Path, tmp_path: Path
) -> None:
    out = tmp_path / "compiled"
    result = cli_run("render", "--out", str(out), cwd=example_repo, env=SECRETS)
    assert result.code == 0, result.err
    assert result.out == ""
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == [f"{a}.json" for a in EXAMPLE_ADDRESSES]
    single = cli_run("render", "storyteller/children", cwd=example_repo)
    assert (out / "storyteller" / "children.json").read_text() == single.out
    assert_no_secrets(result.out, result.err, root=out)


def test_render_out_selected_and_yaml(cli_run, example_repo: Path) -> None:
    result = cli_run(
        "render", "weather-assistant", "--out", "o", "--format", "yaml", cwd=example_repo
    )
    assert result.code == 0, result.err
    assert [p.name for p in (example_repo / "o").iterdir()] == ["weather-assistant.yaml"]


def test_render_unknown_address(cli_run, example_repo: Path) -> None:
    result = cli_run("render", "storyteller", cwd=example_repo)
    assert result.code == 1
    assert result.out == ""
    assert result.err.startswith("error: no persona 'storyteller' in this repository (hint: ")
    assert "Traceback" not in result.err
    result = cli_run("render", "weather-assistent", cwd=example_repo)
    assert result.err == (
        "error: no persona 'weather-assistent' in this repository "
        "(hint: did you mean 'weather-assistant'?)\n"
    )


def test_render_is_byte_identical(cli_run, example_repo: Path, tmp_path: Path) -> None:
    first = run_cli("render", cwd=example_repo, env=SECRETS)
    second = cli_run("render", cwd=example_repo, env=SECRETS)
    assert first.out == second.out
    # another cwd (-C), another hash seed, another environment order and no secrets set
    env = dict(reversed(list(os.environ.items())))
    env.update({"PYTHONHASHSEED": "12345", "LC_ALL": "C", "TZ": "Pacific/Auckland"})
    for name in SECRETS:
        env.pop(name, None)
    proc = subprocess.run(
        [sys.executable, "-m", "personactl", "-C", str(example_repo), "render"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == first.out.encode()
    # --out files are byte-identical to the single-address render
    cli_run("render", "--out", str(tmp_path / "a"), cwd=example_repo)
    cli_run("-C", str(example_repo), "render", "--out", str(tmp_path / "b"), cwd=tmp_path)
    for address in EXAMPLE_ADDRESSES:
        a = (tmp_path / "a" / f"{address}.json").read_bytes()
        assert a == (tmp_path / "b" / f"{address}.json").read_bytes()


def test_render_unicode_and_key_order(cli_run, tmp_path: Path) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": "version: 1\n",
            "personas/p.yaml": """
                persona:
                  system_prompt: "Grüß dich, {{ name }} 👋"
                  persona_name: Zoë
                  context: ""
                vars: {name: Ünal}
                """,
        },
    )
    result = cli_run("render", "p", cwd=tmp_path)
    assert result.code == 0, result.err
    assert result.out == (
        "{\n"
        '  "context": "",\n'
        '  "persona_name": "Zoë",\n'
        '  "system_prompt": "Grüß dich, Ünal 👋"\n'
        "}\n"
    )


def test_secret_anywhere_is_masked(cli_run, tmp_path: Path) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": "version: 1\n",
            "personas/p.yaml": """
                persona:
                  system_prompt: "Token: {{ secret('CUSTOM_LLM_API_KEY') }}"
                  layers:
                    llm:
                      model: m
                      base_url: https://llm.example.com/v1
                      api_key: "{{ secret('CUSTOM_LLM_API_KEY') }}"
                      headers: {Authorization: "{{ secret('TTS_API_KEY') }}"}
                """,
        },
    )
    result = cli_run("render", "p", cwd=tmp_path, env=SECRETS)
    assert result.code == 0, result.err
    body = json.loads(result.out)
    assert body["system_prompt"] == "(sensitive)"
    assert body["layers"]["llm"]["api_key"] == "(sensitive)"
    yaml_out = cli_run("render", "--format", "yaml", cwd=tmp_path, env=SECRETS)
    out_dir = cli_run("render", "--out", "out", cwd=tmp_path, env=SECRETS)
    assert out_dir.code == 0
    assert_no_secrets(result.out, result.err, yaml_out.out, yaml_out.err, root=tmp_path)
    assert "\x00" not in result.out + yaml_out.out
