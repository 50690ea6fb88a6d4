"""Objectives, guardrails and tools compile like personas (DESIGN §6): files, envelopes,
schemas and checks from the official models, every error at its file:line:col."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from personactl.compile import parallel as fanout
from personactl.compile.compilation import compile_project
from personactl.output import to_json
from tests.conftest import REPO, SECRETS, assert_no_secrets, build_tree

PROJECT = "version: 1\n"
EXAMPLE_RESOURCES = ["guardrails:no-diagnosis", "objectives:intake", "tools:lookup_patient"]


def errors(cli_run, root: Path) -> list[str]:
    result = cli_run("validate", cwd=root)
    assert result.code == 1 and result.out == ""
    assert "Traceback" not in result.err
    *problems, total = result.err.splitlines()
    # validate ends with a total (tests/test_messages_compile.py checks its wording)
    assert re.fullmatch(r"\d+ errors?(, \d+ warnings?)? in \d+ files?", total), total
    return problems


# -- the example ------------------------------------------------------------------------


@pytest.mark.parametrize("address", EXAMPLE_RESOURCES)
def test_example_resource_snapshot(address: str, snapshot) -> None:
    result = compile_project(root=REPO)
    assert [p.format() for p in result.problems] == []
    resource = result.resources[address]
    assert resource.kind == address.split(":")[0]
    assert to_json(resource.masked()) == snapshot


def test_tool_credential_is_masked_and_never_printed(cli_run, example_repo: Path) -> None:
    env = SECRETS
    for args in (
        ["validate"],
        ["render"],
        ["render", "tools:lookup_patient"],
        ["render", "--format", "yaml", "tools:lookup_patient"],
        ["render", "--out", "out"],
        ["list"],
        ["schema"],
    ):
        result = cli_run(*args, cwd=example_repo, env=env)
        assert result.code == 0, (args, result.err)
        assert_no_secrets(result.out, result.err, root=example_repo)
    shown = json.loads(cli_run("render", "tools:lookup_patient", cwd=example_repo, env=env).out)
    assert shown["delivery"]["api"]["auth"] == {"type": "bearer", "token": "(sensitive)"}
    written = json.loads((example_repo / "out" / "tools:lookup_patient.json").read_text())
    assert written == shown


# -- envelopes --------------------------------------------------------------------------


def test_envelope_bases_and_variants_work_for_every_kind(tmp_path: Path) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": "version: 1\nvars: {company: Acme}\n",
            "tools/_bases/http.yaml": """
                vars: {host: api.example.com}
                tool:
                  description: "{{ company }}'s weather."
                  delivery: {api: {url: "https://{{ host }}/weather", method: GET}}
            """,
            "tools/get_weather.yaml": """
                extends: [_bases/http.yaml]
                tool: {name: get_weather}
                variants:
                  eu:
                    vars: {host: eu.example.com}
                  us:
                    tool: {description: US weather.}
            """,
            "guardrails/safety/no-advice.yaml": """
                name: no-advice
                guardrail: {guardrail_name: no_advice, guardrail_prompt: Never advise.}
            """,
        },
    )
    result = compile_project(root=tmp_path)
    assert [p.format() for p in result.problems] == []
    assert sorted(result.resources) == [
        "guardrails:no-advice",
        "tools:get_weather/eu",
        "tools:get_weather/us",
    ]
    eu = result.resources["tools:get_weather/eu"]
    assert (eu.kind, eu.source) == ("tools", "tools/get_weather.yaml")
    assert eu.payload["delivery"]["api"]["url"] == "https://eu.example.com/weather"
    assert eu.payload["description"] == "Acme's weather."
    assert result.resources["tools:get_weather/us"].payload["description"] == "US weather."
    assert result.personas == {}


def test_envelope_errors_are_located(cli_run, tmp_path: Path) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": PROJECT,
            "tools/t.yaml": """
                toool: {name: t}
                extends: [../personas/x.yaml]
            """,
            "objectives/_base.yaml": "name: base\nobjectives: {}\n",
            "objectives/o.yaml": """
                extends: _base.yaml
                objectives: {data: [{objective_name: a, objective_prompt: p}]}
                variants: {v: {persona: {}}}
            """,
            "personas/p.yaml": "name: 'tools:p'\npersona: {system_prompt: hi}\n",
        },
    )
    assert errors(cli_run, tmp_path) == [
        "objectives/_base.yaml:1:1: 'name' is not allowed in a base file "
        "(hint: a base contributes extends, vars, objectives, allow_unknown_keys)",
        "objectives/o.yaml:3:16: unknown key 'persona' in a variant "
        "(hint: allowed: vars, objectives)",
        "personas/p.yaml:1:7: name 'tools:p' starts with a kind's prefix; name it without ':'",
        "tools/t.yaml:1:1: tools:t: missing required key 'description'",
        "tools/t.yaml:1:1: tools:t: missing required key 'name'",
        "tools/t.yaml:1:1: unknown key 'toool' in a tool file (hint: did you mean 'tool'?)",
        "tools/t.yaml:2:11: base '../personas/x.yaml' is outside tools/ "
        "(hint: bases live under tools/, e.g. _bases/)",
    ]


# -- objectives -------------------------------------------------------------------------

OBJECTIVES = """
    objectives:
      name: Flow
      data:
        - objective_name: greet user
          objective_prompt: Say hello.
          next_required_objective: ask
        - objective_name: ask
          objective_prompt: Ask.
          next_required_objective: finsh
          next_conditional_objectives: {greet user: never}
        - objective_name: ask
          objective_prompt: Again.
          next_conditional_objectives:
            nowhere: always
        - objective_name: loop
          objective_prompt: Loop.
          next_required_objective: loop
          modality: smell
          confirmation_mode: sometimes
"""


def test_objective_rules(cli_run, tmp_path: Path) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": PROJECT,
            "objectives/flow.yaml": OBJECTIVES,
            "objectives/empty.yaml": "objectives: {name: Empty, data: []}\n",
        },
    )
    known = "(hint: objectives: greet user, ask, loop)"
    assert errors(cli_run, tmp_path) == [
        "objectives/empty.yaml:1:33: objectives:empty: invalid value for data: "
        "List should have at least 1 item after validation, not 0",
        "objectives/flow.yaml:4:23: objectives:flow: invalid objective_name 'greet user': "
        "use only letters, digits and underscores",
        f"objectives/flow.yaml:9:32: objectives:flow: objective 'ask' references 'finsh', "
        f"which is not in this set {known}",
        "objectives/flow.yaml:10:7: objectives:flow: an objective has either "
        "next_required_objective or next_conditional_objectives, not both",
        "objectives/flow.yaml:11:23: objectives:flow: duplicate objective_name 'ask' "
        "(hint: already the name of data[1])",
        f"objectives/flow.yaml:14:9: objectives:flow: objective 'ask' references 'nowhere', "
        f"which is not in this set {known}",
        "objectives/flow.yaml:17:32: objectives:flow: objective 'loop' names itself as next",
        "objectives/flow.yaml:18:17: objectives:flow: invalid value 'smell' for modality; "
        "expected one of: verbal, visual, audio",
        "objectives/flow.yaml:19:26: objectives:flow: invalid value 'sometimes' for "
        "confirmation_mode; expected one of: manual, auto",
    ]


# -- guardrails -------------------------------------------------------------------------


def test_guardrail_rules(cli_run, tmp_path: Path) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": PROJECT,
            "guardrails/g.yaml": """
                guardrail:
                  guardrail_name: g
                  tags: [medical, ""]
                  modality: smell
                  app_message: yes
                  guardrails_prompt: old name
            """,
        },
    )
    assert errors(cli_run, tmp_path) == [
        # no "missing required key 'guardrail_prompt'": the misspelled key below is its cause
        "guardrails/g.yaml:3:19: guardrails:g: invalid value for tags[1]: "
        "String should have at least 1 character",
        "guardrails/g.yaml:4:13: guardrails:g: invalid value 'smell' for modality; "
        "expected one of: verbal, visual, audio",
        "guardrails/g.yaml:5:16: guardrails:g: invalid type for app_message: expected boolean, "
        "got string (hint: write true or false; yes, no, on and off are strings in YAML 1.2)",
        "guardrails/g.yaml:6:3: guardrails:g: unknown key 'guardrails_prompt' "
        "(hint: did you mean 'guardrail_prompt'?)",
    ]


# -- tools ------------------------------------------------------------------------------


def test_tool_rules(cli_run, tmp_path: Path) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": PROJECT,
            "tools/t.yaml": """
                tool:
                  name: 1bad-name
                  description: A tool.
                  parameters:
                    type: object
                    properties:
                      city: {type: string}
                      tavus_x: {type: string}
                  delivery:
                    app_message: true
                    api:
                      url: "http://api.example.com/{city}/{zip}/{tavus_id}"
                      method: GET
                      timeout: 0
                      body_template: {q: "{city}"}
            """,
            "tools/vision.yaml": """
                tool:
                  name: look
                  description: Looks.
                  origin: vision
                  on_call: silent
                  on_resolve: generate_response
                  delivery: {}
            """,
            "tools/filler.yaml": """
                tool:
                  name: filler
                  description: Filler.
                  on_call: static_filler
                  delivery:
                    api:
                      url: https://api.example.com/x
                      timeout: 61
                      auth:
                        type: oauth2_client_credentials
                        token_url: http://auth.example.com/token
                        client_id: me
                        client_secret: "{{ secret('OAUTH_SECRET') }}"
            """,
            "tools/hmac.yaml": """
                tool:
                  name: signed
                  description: Signed.
                  parameters: {type: object, properties: {id: {type: string}}}
                  delivery:
                    api:
                      url: "https://api.example.com/{id}"
                      query_params: {a: b}
                      auth: {type: hmac, secret: "{{ secret('HMAC_SECRET') }}"}
            """,
            "tools/basic.yaml": """
                tool:
                  name: basic
                  description: Basic.
                  delivery:
                    api:
                      url: https://api.example.com/
                      auth: {type: basic, username: u, token: "{{ secret('T') }}"}
            """,
        },
    )
    assert errors(cli_run, tmp_path) == [
        "tools/basic.yaml:7:13: tools:basic: auth type basic needs password",
        "tools/basic.yaml:7:40: tools:basic: token does not apply to auth type basic",
        "tools/filler.yaml:4:12: tools:filler: on_call: static_filler needs a non-empty "
        "static_filler (hint: add static_filler: the words said while the tool runs)",
        "tools/filler.yaml:8:16: tools:filler: timeout must be <= 60.0, got 61",
        "tools/filler.yaml:11:20: tools:filler: token_url must be an https:// URL, "
        "got 'http://auth.example.com/token'",
        "tools/hmac.yaml:9:20: tools:hmac: auth type hmac signs the request as sent: "
        "query_params, url placeholders cannot be used with it",
        "tools/t.yaml:2:9: tools:t: invalid tool name '1bad-name': must match "
        "^[a-zA-Z_][a-zA-Z0-9_]{0,63}$ (hint: a letter or '_' first, then letters, digits "
        "and '_' (no '-'), at most 64)",
        "tools/t.yaml:8:7: tools:t: parameter 'tavus_x': names starting with 'tavus_' are "
        "reserved for Tavus system placeholders",
        "tools/t.yaml:10:5: tools:t: delivery must enable exactly one channel: app_message "
        "or api, not both",
        "tools/t.yaml:12:12: tools:t: placeholder {zip} is not a parameter of the tool "
        "(hint: declare zip under parameters.properties)",
        "tools/t.yaml:12:12: tools:t: url must be an https:// URL, "
        "got 'http://api.example.com/{city}/{zip}/{tavus_id}'",
        "tools/t.yaml:14:16: tools:t: timeout must be > 0.0, got 0",
        "tools/t.yaml:15:7: tools:t: a GET request has no body: body_template does not apply "
        "(hint: use query_params, or method: POST)",
        "tools/vision.yaml:5:3: tools:vision: on_call does not apply to vision tools "
        "(hint: remove it)",
        "tools/vision.yaml:6:15: tools:vision: on_resolve must be fire_and_forget for vision tools",
        "tools/vision.yaml:7:13: tools:vision: delivery must enable a channel: "
        "app_message: true, or api",
    ]


@pytest.mark.parametrize(
    ("auth", "key"),
    [
        ("{type: bearer, token: hunter2-literal}", "token"),
        ("{type: basic, username: u, password: hunter2-literal}", "password"),
        ("{type: api_key, name: X-Key, value: hunter2-literal}", "value"),
        ("{type: hmac, secret: hunter2-literal}", "secret"),
        (
            "{type: oauth2_client_credentials, token_url: 'https://a.example/t', client_id: c,"
            " client_secret: hunter2-literal}",
            "client_secret",
        ),
    ],
)
def test_tool_credentials_must_come_from_secret(
    cli_run, tmp_path: Path, auth: str, key: str
) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": PROJECT,
            "tools/t.yaml": f"""
                tool:
                  name: t
                  description: T.
                  delivery:
                    api:
                      url: https://api.example.com/
                      headers: {{Authorization: Bearer hunter2-literal}}
                      auth: {auth}
            """,
        },
    )
    lines = errors(cli_run, tmp_path)
    col = 13 + auth.index(f" {key}: ") + len(key) + 3
    assert lines == [
        "tools/t.yaml:7:32: literal Authorization: credentials must not be written in files "
        "(hint: use Authorization: \"{{ secret('MY_AUTHORIZATION') }}\" and export "
        "MY_AUTHORIZATION)",
        f"tools/t.yaml:8:{col}: literal {key}: credentials must not be written in files "
        f"(hint: use {key}: \"{{{{ secret('MY_{key.upper()}') }}}}\" and export "
        f"MY_{key.upper()})",
    ]
    assert all("hunter2" not in line for line in lines)


# -- the validate cache and the two-process compile -------------------------------------


def test_the_cache_key_covers_the_new_folders(cli_run, example_repo: Path) -> None:
    first = cli_run("validate", cwd=example_repo)
    assert first.code == 0, first.err
    tool = example_repo / "tools" / "lookup_patient.yaml"
    tool.write_text(tool.read_text().replace("timeout: 10", "timeout: 100"))
    assert errors(cli_run, example_repo) == [
        "tools/lookup_patient.yaml:18:16: tools:lookup_patient: timeout must be <= 60.0, got 100"
    ]
    (example_repo / "guardrails" / "no-diagnosis.yaml").unlink()
    tool.write_text(tool.read_text().replace("timeout: 100", "timeout: 10"))
    assert errors(cli_run, example_repo) == [
        "personas/intake-assistant.yaml:13:19: ref('guardrails:no-diagnosis'): no such address "
        "in this repository (hint: run `personactl list` to see every address)"
    ]


def test_plan_reads_every_kind_from_the_cache(example_repo: Path) -> None:
    from personactl.compile.compilation import compile_cached
    from personactl.project import load_project

    project = load_project(example_repo)
    fresh = compile_cached(project)
    assert fresh.renderer is not None  # compiled, and remembered
    cached = compile_cached(project)
    assert cached.renderer is None  # from .personactl/cache
    assert {a: (r.kind, r.source) for a, r in cached.resources.items()} == {
        a: (r.kind, r.source) for a, r in fresh.resources.items()
    }
    assert cached.references("intake-assistant") == fresh.references("intake-assistant")


def test_forked_compile_keeps_refs_and_kinds(tmp_path: Path, monkeypatch) -> None:
    files = {"personactl.yaml": PROJECT, "tools/t.yaml": "tool: {name: t, description: T.}\n"}
    for i in range(6):
        target = "tools:t" if i else "tools:x"
        files[f"personas/p{i}.yaml"] = (
            f"persona:\n  system_prompt: hi\n  tool_ids: [\"{{{{ ref('{target}') }}}}\"]\n"
        )
    build_tree(tmp_path, files)
    monkeypatch.setattr(fanout, "MIN_FILES", 2)
    monkeypatch.setattr(fanout, "usable_cpus", lambda: 2)
    forked = compile_project(root=tmp_path)
    assert sorted(forked.resources) == [*(f"p{i}" for i in range(6)), "tools:t"]
    assert forked.references("p5") == {"tools:t"}
    assert [p.format() for p in forked.errors] == [
        "personas/p0.yaml:3:14: ref('tools:x'): no such address in this repository "
        "(hint: did you mean 'tools:t'?)"
    ]


# -- editor schemas ---------------------------------------------------------------------


def test_schema_writes_a_schema_per_kind(tmp_path: Path, capsys) -> None:
    from tests.conftest import run_main

    out = tmp_path / "schemas"
    assert run_main(capsys, "schema", "--out", str(out))[0] == 0
    load = lambda name: jsonschema.Draft202012Validator(  # noqa: E731
        json.loads((out / name).read_text())
    )
    tool = load("tool-file.json")
    good = {"tool": {"name": "t", "description": "d", "delivery": {"app_message": True}}}
    assert list(tool.iter_errors(good)) == []
    assert list(tool.iter_errors({"tool": {"name": "t", "description": "d", "tols": []}}))
    assert list(tool.iter_errors({"tool": {"name": "t", "description": "d", "origin": "x"}}))
    guardrail = load("guardrail-file.json")
    assert list(guardrail.iter_errors({"guardrail": {"guardrail_name": "g"}}))
    objectives = load("objectives-file.json")
    assert list(objectives.iter_errors({"variants": {"v": {"objectives": {"data": "x"}}}}))


def test_env_of_a_tool_secret_is_refused(cli_run, example_repo: Path) -> None:
    (example_repo / "templates" / "leak.j2").write_text("{{ env('INTAKE_TOOL_TOKEN') }}\n")
    (example_repo / "personas" / "leaky.yaml").write_text(
        "persona:\n  system_prompt: \"{% include 'leak.j2' %}\"\n"
    )
    result = cli_run("validate", cwd=example_repo, env=SECRETS)
    assert result.code == 1
    assert (
        "templates/leak.j2:1:1: env('INTAKE_TOOL_TOKEN') reads a secret "
        "(INTAKE_TOOL_TOKEN is used with secret())"
    ) in result.err
    assert_no_secrets(result.out, result.err, root=example_repo)
