"""The loader and the exported editor schemas come from one definition: they agree.

Each case is run through `personactl validate` (the loader) and through the JSON
Schema that `personactl schema` exports for that file (jsonschema); both must
accept it or both must refuse it.
"""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from personactl import schema
from personactl.compile.compilation import compile_project
from personactl.errors import UserError
from tests.conftest import build_tree

PROJECT_OK = "version: 1\n"
PERSONA_OK = "persona:\n  persona_name: A\n  system_prompt: hi\n"

PROJECT_CASES = {
    "minimal": ("version: 1\n", True),
    "no version (defaults to 1)": ("default_environment: local\n", True),
    "version 2": ("version: 2\n", False),
    "unknown key": ("version: 1\nenvironmnets: {}\n", False),
    "environments": (
        "environments:\n  local: {backend: local}\n  prod: {backend: tavus, api_url: https://x}\n"
        "default_environment: local\n",
        True,
    ),
    "unknown backend": (
        "environments:\n  local: {backend: aws}\ndefault_environment: local\n",
        False,
    ),
    "unknown environment key": (
        "environments:\n  local: {backend: local, region: eu}\ndefault_environment: local\n",
        False,
    ),
    "vars": ("vars: {company: Acme}\n", True),
}

PERSONA_CASES = {
    "plain": (PERSONA_OK, True),
    "extends string": ("extends: _b.yaml\n" + PERSONA_OK, True),
    "variants": (PERSONA_OK + "variants:\n  a: {vars: {x: 1}}\n", True),
    "unknown variant key": (PERSONA_OK + "variants:\n  a: {varz: {x: 1}}\n", False),
    "unknown file key": (PERSONA_OK + "varz: {}\n", False),
    "allow_unknown_keys true": (PERSONA_OK + "allow_unknown_keys: true\n", True),
    "allow_unknown_keys 'yes'": (PERSONA_OK + "allow_unknown_keys: 'yes'\n", False),
    "variants_from": (PERSONA_OK + "variants_from: data/t.csv\nvariants_key: id\n", True),
    "variants_from not a path": (PERSONA_OK + "variants_from: [data/t.csv]\n", False),
    "variants_key not a string": (
        PERSONA_OK + "variants_from: data/t.csv\nvariants_key: [id]\n",
        False,
    ),
    "matrix": (PERSONA_OK + "matrix: {language: [en, es]}\n", True),
    "matrix not a mapping": (PERSONA_OK + "matrix: [en, es]\n", False),
}

CONVERSATION_CASES = {
    "plain": ("persona: p\nconversation: {conversation_name: x}\n", True),
    "inputs": (
        "persona: p\ninputs:\n  age: {type: integer, default: 8}\nconversation: {}\n",
        True,
    ),
    "unknown input type": ("persona: p\ninputs:\n  age: {type: int}\nconversation: {}\n", False),
    "unknown input key": ("persona: p\ninputs:\n  age: {kind: integer}\nconversation: {}\n", False),
    "required not a boolean": (
        "persona: p\ninputs:\n  age: {type: integer, required: 'yes', default: 1}\n",
        False,
    ),
}


def _loader_accepts(root: Path) -> bool:
    try:
        result = compile_project(root=root)
    except UserError:
        return False
    return not result.errors


def _schema_accepts(document: dict, text: str) -> bool:
    try:
        jsonschema.validate(yaml.safe_load(text) or {}, document)
    except jsonschema.ValidationError:
        return False
    return True


@pytest.mark.parametrize("case", sorted(PROJECT_CASES))
def test_project_file(tmp_path: Path, case: str) -> None:
    text, valid = PROJECT_CASES[case]
    build_tree(tmp_path, {"personactl.yaml": text})
    assert _loader_accepts(tmp_path) is valid
    assert _schema_accepts(schema.project_json_schema(), text) is valid


@pytest.mark.parametrize("case", sorted(PERSONA_CASES))
def test_persona_file(tmp_path: Path, case: str) -> None:
    text, valid = PERSONA_CASES[case]
    build_tree(
        tmp_path,
        {
            "personactl.yaml": PROJECT_OK,
            "personas/p.yaml": text,
            "personas/_b.yaml": "vars: {}\n",
            "data/t.csv": "id\na\n",
        },
    )
    assert _loader_accepts(tmp_path) is valid
    assert _schema_accepts(schema.persona_file_json_schema(), text) is valid


@pytest.mark.parametrize("case", sorted(CONVERSATION_CASES))
def test_conversation_file(tmp_path: Path, case: str) -> None:
    text, valid = CONVERSATION_CASES[case]
    build_tree(
        tmp_path,
        {
            "personactl.yaml": PROJECT_OK,
            "personas/p.yaml": PERSONA_OK,
            "conversations/c.yaml": text,
        },
    )
    assert _loader_accepts(tmp_path) is valid
    assert _schema_accepts(schema.conversation_file_json_schema(), text) is valid
