"""Bad input is one located line (exit 1), never a traceback; YAML is read as YAML 1.2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from personactl.yamlload import load_text
from tests.conftest import build_tree, run_cli

BOOL_HINT = "(hint: write true or false; yes, no, on and off are strings in YAML 1.2)"
NO_CACHE = {"PERSONACTL_NO_CACHE": "1"}


# --- E: YAML 1.2 core scalars


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("yes", "yes"),
        ("No", "No"),
        ("on", "on"),
        ("OFF", "OFF"),
        ("y", "y"),
        ("n", "n"),
        ("true", True),
        ("False", False),
        ("TRUE", True),
        ("null", None),
        ("~", None),
        ("", None),
        ("0o17", 15),
        ("0x1F", 31),
        ("017", 17),
        ("-3", -3),
        ("1_000", "1_000"),
        ("1:30", "1:30"),
        ("1e3", 1000.0),
        (".5", 0.5),
        ("2024-01-02", "2024-01-02"),
        ("'yes'", "yes"),
    ],
)
def test_yaml_12_core_scalars(text: str, value: Any) -> None:
    data, problems = load_text(f"v: {text}\n", "x.yaml")
    assert problems == []
    assert data["v"] == value
    assert type(data["v"]) is type(value)


def test_yes_stays_a_string_everywhere(tmp_path: Path) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": "version: 1\nvars: {flag: yes}\n",
            "personas/a.yaml": """
            persona:
              system_prompt: "flag={{ flag }}"
              layers:
                perception: {perception_model: off}
            """,
        },
    )
    result = run_cli("render", "a", cwd=tmp_path, env=NO_CACHE)
    assert result.code == 0, result.err
    body = json.loads(result.out)
    assert body["system_prompt"] == "flag=yes"
    assert body["layers"]["perception"]["perception_model"] == "off"


def test_a_boolean_given_yes_is_a_type_error_with_a_hint(tmp_path: Path) -> None:
    build_tree(
        tmp_path,
        {
            "personactl.yaml": "version: 1\n",
            "personas/a.yaml": """
            allow_unknown_keys: yes
            persona:
              system_prompt: hi
              layers:
                llm: {model: tavus-gpt-4o, speculative_inference: on}
            """,
            "conversations/c.yaml": """
            persona: a
            inputs:
              age: {type: integer, required: yes}
            conversation: {replica_id: r1}
            """,
        },
    )
    result = run_cli("validate", cwd=tmp_path, env=NO_CACHE)
    assert result.code == 1
    assert result.err.splitlines() == [
        "conversations/c.yaml:3:34: required must be true or false " + BOOL_HINT,
        "personas/a.yaml:1:21: allow_unknown_keys must be true or false " + BOOL_HINT,
        "personas/a.yaml:5:55: a: invalid type for speculative_inference: expected boolean, "
        "got string " + BOOL_HINT,
    ]
