"""The pydantic-free quick check (personactl.schema.quick) never accepts what the models
refuse, accepts the real bodies, and keeps a valid compile from importing pydantic."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from personactl.compile.compilation import compile_project
from personactl.schema import models, quick
from personactl.schema.quick import BodyKind
from personactl.schema.tool import ToolAuth
from personactl.schema.tool_checks import AUTH_KEYS
from tests.conftest import EXAMPLE_DIRS, REPO, build_tree

KINDS: tuple[BodyKind, ...] = ("personas", "conversations", "objectives", "guardrails", "tools")

# values of every JSON type and of the shapes the models special-case
REPLACEMENTS: list[Any] = [
    None, True, False, 0, 1, -1, 2**70, 1.5, float("nan"), float("inf"),
    "", "x", "true", "True", "low", "full", "function", "https://x.example",
    [], ["x"], [1], [None], {}, {"k": "v"}, {"k": 1}, {1: "v"},
]  # fmt: skip

CONVERSATIONS: list[dict[str, Any]] = [
    {"persona_id": "p1", "conversation_name": "c", "properties": {"max_call_duration": 60}},
    {"replica_id": "r1", "custom_greeting": "hi", "memory_stores": ["m"]},
]


def _corpus(repo: Path) -> list[tuple[BodyKind, Any]]:
    bodies: list[tuple[BodyKind, Any]] = []
    for env in ("local", "prod"):
        result = compile_project(root=repo, env_name=env)
        assert not result.errors, [p.format() for p in result.errors]
        bodies += [(r.kind, r.payload) for r in result.resources.values()]  # type: ignore[misc]
    bodies += [("conversations", body) for body in CONVERSATIONS]
    return bodies


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, (*path, i))


def _mutants(body: Any) -> Iterator[Any]:
    """The body with one node replaced, removed, or given an unknown key."""
    for path in _paths(body):
        if not path:
            continue
        for new in REPLACEMENTS:
            mutant = copy.deepcopy(body)
            parent = mutant
            for part in path[:-1]:
                parent = parent[part]
            parent[path[-1]] = new
            yield mutant
        mutant = copy.deepcopy(body)
        parent = mutant
        for part in path[:-1]:
            parent = parent[part]
        del parent[path[-1]]
        yield mutant
    for path in _paths(body):
        mutant = copy.deepcopy(body)
        node = mutant
        for part in path:
            node = node[part]
        if isinstance(node, dict):
            node["zz_unknown"] = "x"
            yield mutant


def _plain(value: Any) -> Any:
    """Plain dicts and lists (the compiled bodies are PMap/PList)."""
    return json.loads(json.dumps(value))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[BodyKind, Any]]:
    repo = tmp_path_factory.mktemp("quick") / "repo"
    repo.mkdir()
    for name in ("personactl.yaml", *EXAMPLE_DIRS):
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, repo / name)
    return _corpus(repo)


def test_bodies_json_is_what_the_models_give() -> None:
    on_disk = json.loads(quick.BODIES_FILE.read_text())
    assert on_disk == json.loads(json.dumps(models.body_schemas())), (
        "personactl/schema/bodies.json is stale: run `python -m personactl.schema.models`"
    )


@pytest.mark.parametrize("kind", KINDS)
def test_every_keyword_of_the_body_schemas_is_understood(kind: BodyKind) -> None:
    quick.checker(kind)  # raises quick.Unsupported for a keyword it would have to skip


def test_the_auth_keys_are_the_auth_model_fields() -> None:
    assert set(ToolAuth.model_fields) == {"type", *AUTH_KEYS}


def test_real_bodies_take_the_quick_path(corpus: list[tuple[BodyKind, Any]]) -> None:
    kinds = {kind for kind, _ in corpus}
    assert kinds == set(KINDS)
    for kind, body in corpus:
        assert models.issues(kind, body, False) == []
        assert quick.valid(kind, body), (kind, body)  # PMap bodies as compiled
        assert quick.valid(kind, _plain(body))


def test_quick_never_accepts_what_the_models_refuse(corpus: list[tuple[BodyKind, Any]]) -> None:
    checked = refused = 0
    for kind, body in corpus:
        for mutant in _mutants(_plain(body)):
            checked += 1
            if quick.valid(kind, mutant):
                assert models.issues(kind, mutant, False) == [], (kind, mutant)
            else:
                refused += 1
    assert checked > 5000 and refused > checked // 2  # the mutations do bite


@pytest.mark.parametrize("kind", KINDS)
def test_not_an_object_is_never_quick(kind: BodyKind) -> None:
    for value in ([], "x", None, 1, {1: "x"}):
        assert not quick.valid(kind, value)


def test_a_valid_compile_does_not_import_pydantic(tmp_path: Path) -> None:
    repo = build_tree(
        tmp_path,
        {
            "personactl.yaml": "version: 1\nenvironments:\n  local: {backend: local}\n",
            "personas/a.yaml": "persona:\n  persona_name: A\n  system_prompt: Hi.\n"
            "  layers: {llm: {model: tavus-gpt-4o}, tts: {tts_engine: cartesia}}\n",
            "personas/b.yaml": "persona:\n  persona_name: B\n  layers: {llm: {modle: x}}\n",
        },
    )
    code = (
        "import sys\n"
        "from personactl.compile.compilation import compile_project\n"
        "from pathlib import Path\n"
        "r = compile_project(root=Path(sys.argv[1]))\n"
        "print(sorted(p.format() for p in r.errors))\n"
        "print('pydantic' in sys.modules)\n"
    )
    (repo / "personas" / "b.yaml").rename(tmp_path / "b.yaml")
    out = subprocess.run([sys.executable, "-c", code, str(repo)], capture_output=True, text=True)
    assert out.stdout.splitlines() == ["[]", "False"], out.stderr
    # a body with a mistake loads the models, which word it
    (tmp_path / "b.yaml").rename(repo / "personas" / "b.yaml")
    out = subprocess.run([sys.executable, "-c", code, str(repo)], capture_output=True, text=True)
    errors, imported = out.stdout.splitlines()
    assert "unknown key 'modle'" in errors and "did you mean 'model'?" in errors
    assert imported == "True"
