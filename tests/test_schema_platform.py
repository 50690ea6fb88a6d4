"""The current persona/PAL object (DESIGN §3 "The current platform", "YAML scalars"): the
fields of the official Tavus CLI's models, the pipeline-mode rules, both vocabularies, and
the same rules through the CLI with every error's file, line and column."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from personactl.compile.source import BOOL_HINT
from personactl.schema import (
    SchemaIssue,
    check_persona,
    persona_json_schema,
    project_json_schema,
)
from tests.conftest import Result, build_tree, run_cli


def errors(issues: list[SchemaIssue]) -> list[SchemaIssue]:
    return [i for i in issues if not i.warning]


def secret(name: str) -> str:
    return f"\x00personactl-secret:{name}\x00"


# A PAL as today's docs and the official CLI (tavus-cli 0.11.0) build it: every field of
# PalCreate and every current layer, each with a value of its documented type.
DOCS_PAL: dict[str, Any] = {
    "pal_name": "Intake Assistant",
    "system_prompt": "You help patients check in.",
    "greeting": "Hi! Let's get you checked in.",
    "context": "The clinic opens at 9.",
    "pipeline_mode": "full",
    "default_face_id": "r90bbd427f71",
    "memories": ["prefers short answers"],
    "objectives_id": "o1234567890",
    "guardrail_ids": ["g12345", "g67890"],
    "guardrail_tags": ["medical", "safety"],
    "document_ids": ["d1"],
    "document_tags": ["kb"],
    "tool_ids": ["t1", "t2"],
    "is_template": False,
    "layers": {
        "llm": {
            "model": "tavus-gemma-4",
            "speculative_inference": True,
            "disable_vision": True,
            "enable_llm_proxy": False,
            "model_name": "gemma",
            "is_custom": False,
            "endpoint": "https://llm.example.com/v1",
        },
        "tts": {"tts_engine": "cartesia", "voice_settings": {"speed": 0.5}},
        "stt": {"stt_engine": "tavus-auto", "hotwords": "Ozempic", "smart_turn_detection": True},
        "perception": {"perception_model": "off", "tool_prompt": "Watch for an ID card."},
        "conversational_flow": {
            "turn_detection_model": "sparrow-1",
            "turn_taking_patience": "medium",
            "turn_commitment": "high",
            "face_interruptibility": "low",
            "active_listening": "high",
            "voice_isolation": "near",
            "noise_cancellation": "on",
            "idle_engagement": "off",
            "wake_phrase": "hey clinic",
            "sleep_phrase": "goodbye",
        },
        "sts": {"model": "sts-1", "voice": {"id": "v1"}},
        "transport": {"transport_type": "daily"},
        "conferencing": {"username": "Clinic", "allowlist": ["a@b.example"], "whitelabel": True},
        "capabilities": {
            "mcp_enabled": True,
            "search_enabled": False,
            "activity_log_enabled": True,
            "search_results_prompt_injection_prevention_enabled": True,
        },
        "knowledge_base": {
            "rag_score_threshold": 0.7,
            "rag_n_chunks": 5,
            "rag_surrounding_chunk_radius": 1,
            "enable_rag_observability_app_messages": False,
            "use_procedure_goalchain": True,
        },
    },
}

SPEECH_TO_SPEECH: dict[str, Any] = {
    "pal_name": "s2s",
    "pipeline_mode": "speech-to-speech",
    "greeting": "Hello!",
    "default_face_id": "r1",
    "tool_ids": ["t1"],
    "layers": {"sts": {"voice": "alloy"}},
}


def test_a_body_from_todays_docs_validates() -> None:
    assert check_persona(DOCS_PAL) == []
    assert check_persona(SPEECH_TO_SPEECH) == []


def test_new_fields_are_typed() -> None:
    cases: list[tuple[tuple[str | int, ...], Any]] = [
        (("greeting",), 1),
        (("memories",), "one"),
        (("guardrail_ids",), "g1"),
        (("guardrail_tags",), [1]),
        (("tool_ids",), "t1"),
        (("layers", "llm", "disable_vision"), "true"),
        (("layers", "conferencing", "allowlist"), "a@b.example"),
        (("layers", "knowledge_base", "rag_n_chunks"), "5"),
        (("layers", "knowledge_base", "rag_score_threshold"), "high"),
        (("layers", "capabilities", "mcp_enabled"), 1),
    ]
    for path, bad in cases:
        body = copy.deepcopy(DOCS_PAL)
        node: Any = body
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = bad
        found = errors(check_persona(body))
        assert [i.path[: len(path)] for i in found] == [path], (path, found)
        assert found[0].message.startswith("invalid type"), found


def test_unknown_keys_in_new_layers_say_did_you_mean() -> None:
    body = copy.deepcopy(DOCS_PAL)
    body["layers"]["capabilities"]["search_enable"] = True
    body["layers"]["knowledge_base"] = {"rag_chunks": 3}
    found = {i.path: i.hint for i in errors(check_persona(body))}
    assert found[("layers", "capabilities", "search_enable")] == "did you mean 'search_enabled'?"
    assert found[("layers", "knowledge_base", "rag_chunks")] == "did you mean 'rag_n_chunks'?"
    body = {"system_prompt": "x", "conferencing": {"whitelabel": True}}
    (issue,) = errors(check_persona(body))
    assert issue.path == ("conferencing",) and "put it under layers" in issue.hint


def test_sts_is_free_form() -> None:
    body = {"pipeline_mode": "speech-to-speech", "layers": {"sts": {"anything": {"goes": [1]}}}}
    assert check_persona(body) == []


def test_tool_ids_at_most_50() -> None:
    assert check_persona({"system_prompt": "x", "tool_ids": [f"t{i}" for i in range(50)]}) == []
    (issue,) = check_persona({"system_prompt": "x", "tool_ids": [f"t{i}" for i in range(51)]})
    assert issue.path == ("tool_ids",) and not issue.warning
    assert issue.message == "tool_ids takes at most 50 entries, got 51"
    (issue,) = check_persona({"system_prompt": "x", "tool_ids": ["t1", " "]})
    assert issue.path == ("tool_ids", 1) and "non-empty" in issue.message


def test_speech_to_speech_takes_no_prompt() -> None:
    body = {**SPEECH_TO_SPEECH, "system_prompt": "You are x.", "context": "ctx"}
    found = check_persona(body)
    assert [(i.path, i.warning, i.key) for i in found] == [
        (("system_prompt",), False, True),
        (("context",), False, True),
    ]
    assert found[0].message == "system_prompt is not allowed with pipeline_mode speech-to-speech"
    # as on the platform, an empty string is no prompt
    assert check_persona({**SPEECH_TO_SPEECH, "system_prompt": "", "context": ""}) == []


def test_echo_ignores_a_prompt_with_a_warning() -> None:
    body = {"pipeline_mode": "echo", "system_prompt": "You are x.", "context": "ctx"}
    found = check_persona(body)
    assert all(i.warning for i in found)
    assert [i.path for i in found] == [("system_prompt",), ("context",)]
    assert found[1].message == "context is ignored with pipeline_mode echo"
    assert check_persona({"pipeline_mode": "echo", "system_prompt": "", "context": ""}) == []


def test_pipeline_modes() -> None:
    (issue,) = check_persona({"pipeline_mode": "custom", "system_prompt": "x"})
    assert issue.warning and issue.path == ("pipeline_mode",)
    (issue,) = errors(check_persona({"pipeline_mode": "s2s"}))
    assert "speech-to-speech" in issue.message


def test_both_vocabularies_in_a_body() -> None:
    personas = {
        "persona_name": "A",
        "system_prompt": "x",
        "default_replica_id": "r1",
        "layers": {"conversational_flow": {"replica_interruptibility": "low"}},
    }
    pals = {
        "pal_name": "A",
        "system_prompt": "x",
        "default_face_id": "r1",
        "layers": {"conversational_flow": {"face_interruptibility": "low"}},
    }
    assert check_persona(personas) == [] and check_persona(pals) == []
    pals["layers"]["conversational_flow"]["face_interruptibility"] = "max"
    (issue,) = check_persona(pals)
    assert issue.path == ("layers", "conversational_flow", "face_interruptibility")
    assert "expected one of: low, medium, high" in issue.message


def test_yaml_words_stay_strings() -> None:
    body = {"system_prompt": "x", "layers": {"perception": {"perception_model": "off"}}}
    assert check_persona(body) == []
    for path, bad in [
        (("is_template",), "yes"),
        (("layers", "tts", "tts_emotion_control"), "yes"),
        (("layers", "llm", "disable_vision"), "on"),
    ]:
        body = {"system_prompt": "x", "layers": {"tts": {}, "llm": {}}}
        node: Any = body
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = bad
        (issue,) = check_persona(body)
        assert issue.path == path and issue.hint == BOOL_HINT, issue


def test_json_schemas_know_the_new_fields() -> None:
    schema = persona_json_schema()
    props = schema["properties"]
    for name in ("greeting", "tool_ids", "guardrail_ids", "memories", "pal_name"):
        assert name in props
    assert props["tool_ids"]["anyOf"][0]["maxItems"] == 50
    layers = schema["$defs"]["Layers"]["properties"]
    assert {"sts", "conferencing", "capabilities", "knowledge_base"} <= set(layers)
    project = json.dumps(project_json_schema())
    assert '"personas", "pals"' in project


# ----------------------------------------------------------------------------- through the CLI


def project(tmp_path: Path, files: dict[str, str], envs: str = "") -> Path:
    """A repository with a local environment (and `envs`, YAML under environments:)."""
    yaml = "version: 1\nenvironments:\n  local: {backend: local}\n" + envs
    return build_tree(tmp_path / "repo", {"personactl.yaml": yaml, **files})


def validate(repo: Path) -> Result:
    return run_cli("validate", cwd=repo)


def test_cli_speech_to_speech_prompt_is_an_error_at_its_key(tmp_path: Path) -> None:
    repo = project(
        tmp_path,
        {
            "personas/s2s.yaml": """
                persona:
                  pal_name: S2S
                  pipeline_mode: speech-to-speech
                  system_prompt: You are a voice.
                """,
            "personas/echo.yaml": """
                persona:
                  pipeline_mode: echo
                  system_prompt: ignored
                  context: ignored too
                """,
        },
    )
    result = validate(repo)
    assert result.code == 1, result.both
    assert (
        "personas/s2s.yaml:4:3: s2s: system_prompt is not allowed with pipeline_mode "
        "speech-to-speech (hint: remove it, or use pipeline_mode: full)"
    ) in result.err
    assert "personas/echo.yaml:3:3: warning: echo: system_prompt is ignored" in result.err
    assert "personas/echo.yaml:4:3: warning: echo: context is ignored" in result.err


def test_cli_tool_ids_over_50_and_an_empty_id(tmp_path: Path) -> None:
    ids = "\n".join(f"      - t{i}" for i in range(51))
    repo = project(
        tmp_path,
        {
            "personas/many.yaml": f"persona:\n  system_prompt: x\n  tool_ids:\n{ids}\n",
            "personas/empty.yaml": 'persona:\n  system_prompt: x\n  tool_ids: [t1, ""]\n',
        },
    )
    result = validate(repo)
    assert result.code == 1
    assert "personas/many.yaml:4:7: many: tool_ids takes at most 50 entries, got 51" in result.err
    assert "personas/empty.yaml:3:18: empty: tool_ids entries must be non-empty" in result.err


def test_cli_yaml_scalars(tmp_path: Path) -> None:
    repo = project(
        tmp_path,
        {
            "personas/ok.yaml": """
                persona:
                  system_prompt: x
                  layers:
                    perception: {perception_model: off}
                """,
            "personas/yes.yaml": """
                persona:
                  system_prompt: x
                  is_template: yes
                """,
        },
    )
    result = validate(repo)
    assert result.code == 1
    assert result.err.splitlines() == [
        "personas/yes.yaml:3:16: yes: invalid type for is_template: expected boolean, got string "
        f"(hint: {BOOL_HINT})",
        "1 error in 1 file",
    ]
    (repo / "personas/yes.yaml").unlink()
    render = run_cli("render", "ok", cwd=repo)
    assert json.loads(render.out)["layers"]["perception"]["perception_model"] == "off"


def test_cli_both_names_in_one_file_is_an_error_at_the_second(tmp_path: Path) -> None:
    repo = project(
        tmp_path,
        {
            "personas/two.yaml": """
                persona:
                  persona_name: Two
                  system_prompt: x
                  default_face_id: r1
                  pal_name: Also two
                """,
            "personas/variant.yaml": """
                persona:
                  system_prompt: x
                  default_replica_id: r1
                variants:
                  a:
                    persona:
                      default_face_id: r2
                """,
            "personas/flow.yaml": """
                persona:
                  system_prompt: x
                  layers:
                    conversational_flow:
                      pal_interruptibility: low
                      face_interruptibility: high
                """,
        },
    )
    result = validate(repo)
    assert result.code == 1
    *problems, total = result.err.splitlines()
    assert total == "3 errors in 3 files"
    lines = sorted(problems)
    assert lines[0].startswith(
        "personas/flow.yaml:6:7: 'face_interruptibility' and 'pal_interruptibility' (line 5) "
        "are two names of one field (hint: use one of them in a file: "
        "replica_interruptibility (personas) or face_interruptibility (PALs)"
    )
    assert lines[1].startswith(
        "personas/two.yaml:5:3: 'pal_name' and 'persona_name' (line 2) are two names of one field"
    )
    assert lines[2].startswith(
        "personas/variant.yaml:7:7: 'default_face_id' and 'default_replica_id' (line 3)"
    )
    assert len(lines) == 3


def test_cli_names_from_different_files_layer(tmp_path: Path) -> None:
    """A base in one vocabulary, a file in the other: the later layer wins, as for any
    field, and the body is sent in the environment's vocabulary."""
    repo = project(
        tmp_path,
        {
            "personas/_bases/b.yaml": """
                persona:
                  persona_name: Base
                  default_replica_id: r-base
                  layers: {conversational_flow: {replica_interruptibility: high}}
                """,
            "personas/a.yaml": """
                extends: [_bases/b.yaml]
                persona:
                  pal_name: Alpha
                  system_prompt: x
                  layers: {conversational_flow: {pal_interruptibility: low}}
                variants:
                  v:
                    persona: {default_face_id: r-variant}
                """,
        },
        envs="  pals: {backend: local, api: pals}\n",
    )
    local = run_cli("render", "a/v", cwd=repo)
    assert local.code == 0, local.both
    assert json.loads(local.out) == {
        "persona_name": "Alpha",
        "default_replica_id": "r-variant",
        "layers": {"conversational_flow": {"replica_interruptibility": "low"}},
        "system_prompt": "x",
    }
    pals = run_cli("--env", "pals", "render", "a/v", cwd=repo)
    assert json.loads(pals.out) == {
        "pal_name": "Alpha",
        "default_face_id": "r-variant",
        "layers": {"conversational_flow": {"face_interruptibility": "low"}},
        "system_prompt": "x",
    }


def test_cli_errors_point_at_the_file_after_renaming(tmp_path: Path) -> None:
    """Positions survive both renamings: a bad value under a PAL name is reported where
    it was written, in an environment of either api."""
    repo = project(
        tmp_path,
        {
            "personas/p.yaml": """
                persona:
                  pal_name: 3
                  system_prompt: x
                """,
        },
        envs="  pals: {backend: local, api: pals}\n",
    )
    for env in ("local", "pals"):
        result = run_cli("--env", env, "validate", cwd=repo)
        assert result.code == 1
        assert "personas/p.yaml:2:13: p: invalid type for" in result.err, result.err


def test_cli_overrides_and_api_key_are_checked(tmp_path: Path) -> None:
    repo = project(
        tmp_path,
        {"personas/p.yaml": "persona: {system_prompt: x}\n"},
        envs=(
            "  prod:\n"
            "    backend: local\n"
            "    overrides: {persona_name: P, pal_name: Q}\n"
            "  odd:\n"
            "    api: pal\n"
        ),
    )
    result = validate(repo)
    assert result.code == 1
    assert "personactl.yaml:8:10: unknown api 'pal' (hint: did you mean 'pals'?)" in result.err
    (repo / "personactl.yaml").write_text(
        (repo / "personactl.yaml").read_text().replace("    api: pal\n", "    api: pals\n")
    )
    result = validate(repo)
    assert result.code == 1
    assert (
        "personactl.yaml:6:34: 'pal_name' and 'persona_name' (line 6) are two names of one field"
    ) in result.err


@pytest.mark.parametrize("api", ["personas", "pals"])
def test_cli_docs_body_round_trips(tmp_path: Path, api: str) -> None:
    """Today's docs body (as a persona file) validates and renders as written, in the
    environment's vocabulary."""
    body = copy.deepcopy(DOCS_PAL)
    repo = project(
        tmp_path,
        {"personas/intake.yaml": json.dumps({"persona": body})},
        envs=f"  target: {{backend: local, api: {api}}}\n",
    )
    result = run_cli("--env", "target", "render", "intake", cwd=repo)
    assert result.code == 0, result.both
    assert result.err == ""
    rendered = json.loads(result.out)
    if api == "personas":
        body["persona_name"] = body.pop("pal_name")
        body["default_replica_id"] = body.pop("default_face_id")
        flow = body["layers"]["conversational_flow"]
        flow["replica_interruptibility"] = flow.pop("face_interruptibility")
    assert rendered == body
