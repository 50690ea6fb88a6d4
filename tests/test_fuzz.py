"""Fuzzing YAML loading, layering and rendering: exit 0 or 1 (never 3, a bug), no secret in
any output or file, bounded time.  Derandomized: CI sees the same 200 examples each run."""

from __future__ import annotations

import json
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from personactl.compile.source import load_text
from tests.conftest import SECRETS, assert_no_secrets, build_tree, run_main

FUZZ = settings(
    max_examples=200,
    deadline=None,  # time is asserted per example below, with room for a loaded CI runner
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
LOCATED = re.compile(r"^\S+:\d+:\d+: ")

KEYS = st.sampled_from(
    [
        "persona",
        "system_prompt",
        "context",
        "layers",
        "llm",
        "tts",
        "model",
        "api_key",
        "speculative_inference",
        "vars",
        "name",
        "extends",
        "variants",
        "kid",
        "allow_unknown_keys",
        "x",
    ]
)
# scalars where YAML 1.1/1.2, tags, aliases, Jinja and secrets meet
VOCABULARY = st.sampled_from(
    [
        "yes",
        "on",
        "true",
        "False",
        ".nan",
        "-.inf",
        "1_000",
        "0o17",
        "1e309",
        "12",
        "!!float x",
        "!!int 1_0",
        "!!bool yes",
        "!!timestamp x",
        "!!binary aGk=",
        "~",
        "",
        "&a 1",
        "[_bases/b.yaml]",
        "!append [1]",
        "'{{ x }}'",
        "\"{{ secret('CUSTOM_LLM_API_KEY') }}\"",
        "\"{{ env('CUSTOM_LLM_API_KEY') }}\"",
        "\"{{ env('TAVUS_API_KEY', 'd') }}\"",
        "\"{{ env('HOME', 'h') }}\"",
        "\"{% include 'p.j2' %}\"",
        '"{{ undefined_var }}"',
        '"{{ kid }}-{{ personactl.address }}"',
        "\"{{ 'a' * 10**7 }}\"",
        '"{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}"',
        '"{{ ((10**512)**512)**512 }}"',
        '"{{ x"',
        "[1, [2, [3]]]",
        "{a: 1, a: 2}",
        "<<: x",
        '"\\0"',
    ]
)
SCALARS = st.one_of(
    VOCABULARY,
    VOCABULARY,
    # any printable string, as a valid double-quoted scalar
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12).map(
        lambda t: json.dumps(t, ensure_ascii=False)
    ),
    st.sampled_from(["a", "b c", "x-1"]),
)

TREES = st.recursive(
    SCALARS,
    lambda children: st.dictionaries(KEYS, children, max_size=4) | st.lists(children, max_size=3),
    max_leaves=14,
)
TEMPLATES = st.lists(
    st.sampled_from(
        [
            "hi ",
            "{{ kid }}",
            "{{ secret('TTS_API_KEY') }}",
            "{{ env('TTS_API_KEY', '') }}",
            "{% include 'p.j2' %}",
            "{% macro m(s) %}{{ m(s ~ s) }}{% endmacro %}{{ m('x') }}",
            "{{ '%999999999d'|format(1) }}",
            "{{ lipsum(n=100000) }}",
            "{% if %}",
            "{{ x }}",
            "\n",
        ]
    ),
    max_size=4,
).map("".join)


PROMPTS = SCALARS | st.sampled_from(["Tell stories.", "'{{ kid }} {{ x | default(1) }}'"])
BODY = st.fixed_dictionaries(
    {},
    optional={
        "system_prompt": PROMPTS,
        "context": PROMPTS,
        "layers": st.dictionaries(st.sampled_from(["llm", "tts", "stt"]), TREES, max_size=2),
        "pipeline_mode": st.sampled_from(["full", "echo", "yes"]),
        "x": TREES,
    },
)
PERSONA_FILES = st.fixed_dictionaries(
    {"persona": BODY},
    optional={
        "vars": st.dictionaries(KEYS, TREES, max_size=3),
        "extends": st.sampled_from(["[_bases/b.yaml]", "_bases/b.yaml", "[nope.yaml]", "[../x]"]),
        "variants": st.dictionaries(
            st.sampled_from(["v1", "v2", "..", "on"]),
            st.fixed_dictionaries({}, optional={"vars": TREES, "persona": BODY}),
            max_size=2,
        ),
        "allow_unknown_keys": SCALARS,
        "name": st.sampled_from(["p", "a/b", '"a\\0b"', "../up", "yes"]),
    },
)
BASE_FILES = (
    st.fixed_dictionaries(
        {}, optional={"persona": BODY, "vars": st.dictionaries(KEYS, TREES, max_size=2)}
    )
    | TREES
)


def emit(node: Any, indent: int = 0) -> str:
    """YAML text for a generated tree: block mappings, flow lists, scalars as written."""
    if isinstance(node, dict) and node:
        pad = "  " * indent
        return "\n" + "".join(f"{pad}{k}: {emit(v, indent + 1)}\n" for k, v in node.items())
    return flow(node)


def flow(node: Any) -> str:
    if isinstance(node, dict):
        return "{" + ", ".join(f"{k}: {flow(v)}" for k, v in node.items()) + "}"
    if isinstance(node, list):
        return "[" + ", ".join(flow(v) for v in node) + "]"
    return str(node)


def _files(persona: Any, base: Any, template: str, cut: int | None) -> dict[str, str]:
    text = emit(persona).lstrip("\n") + "\n"
    if cut is not None:  # now and then, broken YAML syntax somewhere
        text = text[: cut % len(text)] + "]: *x '" + text[cut % len(text) :]
    return {
        "personactl.yaml": "version: 1\nvars: {kid: yes}\n",
        "personas/a.yaml": text,
        "personas/_bases/b.yaml": emit(base).lstrip("\n") + "\n",
        "templates/p.j2": template,
    }


@FUZZ
@given(text=st.text(max_size=200))
def test_any_text_loads_or_is_located_problems(text: str) -> None:
    data, problems = load_text(text, "f.yaml")
    for problem in problems:
        assert LOCATED.match(problem.format()), problem.format()
        assert "\n" not in problem.format()


@FUZZ
@given(
    persona=PERSONA_FILES,
    base=BASE_FILES,
    template=TEMPLATES,
    cut=st.none() | st.none() | st.none() | st.integers(0, 500),
)
def test_compile_commands_exit_0_or_1_without_secrets(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    persona: Any,
    base: Any,
    template: str,
    cut: int | None,
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TAVUS_API_KEY", "tk-DO-NOT-LEAK-0c1d")
    monkeypatch.setenv("PERSONACTL_NO_CACHE", "1")
    with tempfile.TemporaryDirectory() as tmp:
        root = build_tree(Path(tmp), _files(persona, base, template, cut))
        monkeypatch.chdir(root)
        for args in (["validate"], ["render", "--out", "out"]):
            started = time.monotonic()
            code, out, err = run_main(capsys, *args)
            elapsed = time.monotonic() - started
            assert code in (0, 1), err
            assert elapsed < 10, (args, elapsed)
            assert "tk-DO-NOT-LEAK" not in out + err
            assert_no_secrets(out, err)
            if code == 1:  # every error line is one line; located where there is a place
                assert err.strip(), "an error exit without a message"
        assert_no_secrets(root=root)
