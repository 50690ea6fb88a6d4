"""Layering (DESIGN §2): merge rules, variable precedence, variants, names, overrides."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from personactl.compile.compilation import Compilation, compile_project
from personactl.compile.layers import merge, merge_all
from personactl.compile.source import load_text
from personactl.errors import Loc
from tests.conftest import build_tree

PROJECT = """
version: 1
vars: {company: Acme, tier: dev, who: project}
environments:
  local: {backend: local}
  prod:
    backend: tavus
    vars: {tier: prod, who: env}
    overrides:
      persona_name: "{{ company }} {{ tier }}"
      layers: {llm: {base_url: https://prod.example/v1}}
"""


def compile_tree(root: Path, files: dict[str, str], env: str | None = None) -> Compilation:
    build_tree(root, {"personactl.yaml": PROJECT, **files})
    return compile_project(root=root, env_name=env)


def ok(result: Compilation) -> dict[str, dict]:
    assert [p.format() for p in result.errors] == []
    return {address: p.masked() for address, p in result.personas.items()}


def y(text: str):
    data, problems = load_text(text, "t.yaml")
    assert problems == []
    return data


# --------------------------------------------------------------------------- merge rules


def test_mappings_merge_deeply() -> None:
    base = y("a: {b: 1, c: {d: 2, e: 3}}\nf: 4\n")
    over = y("a: {c: {e: 30, g: 5}}\n")
    assert merge(base, over) == {"a": {"b": 1, "c": {"d": 2, "e": 30, "g": 5}}, "f": 4}


def test_scalars_and_lists_replace() -> None:
    base = y("s: one\nl: [1, 2, 3]\nm: {x: 1}\n")
    over = y("s: two\nl: [9]\nm: scalar\n")
    assert merge(base, over) == {"s": "two", "l": [9], "m": "scalar"}


def test_null_removes() -> None:
    base = y("a: {b: 1, c: 2}\nd: 3\n")
    over = y("a: {b: null}\nd: null\ne: null\n")
    assert merge(base, over) == {"a": {"c": 2}}


def test_append_extends_inherited_list() -> None:
    base = y("tools: [a, b]\n")
    assert merge(base, y("tools: !append [c]\n")) == {"tools": ["a", "b", "c"]}
    # nothing inherited: the list itself
    assert merge(y("{}"), y("tools: !append [c]\n")) == {"tools": ["c"]}
    # appended twice through three layers
    three = merge_all([base, y("tools: !append [c]\n"), y("tools: !append [d]\n")])
    assert three == {"tools": ["a", "b", "c", "d"]}


def test_nulls_inside_new_values_are_dropped() -> None:
    assert merge(y("{}"), y("a: {b: null, c: 1}\n")) == {"a": {"c": 1}}


def test_merge_does_not_mutate_inputs() -> None:
    base = y("a: {b: 1}\nl: [1]\n")
    over = y("a: {c: 2}\nl: !append [2]\n")
    before = (copy.deepcopy(dict(base)), copy.deepcopy(dict(over)))
    merge(base, over)
    assert (dict(base), dict(over)) == before


def test_merge_keeps_positions_of_the_winning_layer() -> None:
    base, _ = load_text("a:\n  b: 1\n  c: 2\n", "base.yaml")
    over, _ = load_text("a: {c: 3}\n", "over.yaml")
    merged = merge(base, over)
    assert merged["a"].val_locs["b"] == Loc("base.yaml", 2, 6)
    assert merged["a"].val_locs["c"] == Loc("over.yaml", 1, 8)
    appended = merge(
        *(load_text(t, f)[0] for t, f in [("l: [x]\n", "b"), ("l: !append [y]\n", "o")])
    )
    assert appended["l"].item_locs == [Loc("b", 1, 5), Loc("o", 1, 13)]


# --------------------------------------------------------------------------- persona files

BASES = {
    "personas/_bases/root.yaml": """
        vars: {who: root-base, level: root}
        persona:
          persona_name: root
          system_prompt: "I am {{ who }} at {{ company }} ({{ tier }}), level {{ level }}"
          context: from root
          layers:
            llm:
              model: tavus-gpt-4o
              tools:
                - {type: function, function: {name: one}}
            stt: {participant_pause_sensitivity: low}
        """,
    "personas/_bases/mid.yaml": """
        extends: _bases/root.yaml
        vars: {who: mid-base}
        persona:
          persona_name: mid
          layers: {stt: {participant_interrupt_sensitivity: high}}
        """,
}


def test_bases_file_variant_order(tmp_path: Path) -> None:
    personas = ok(
        compile_tree(
            tmp_path,
            {
                **BASES,
                "personas/p.yaml": """
                    extends: [_bases/mid.yaml]
                    vars: {who: file}
                    persona:
                      context: null
                      layers:
                        llm:
                          tools: !append [{type: function, function: {name: two}}]
                    variants:
                      plain: {}
                      more:
                        vars: {who: variant}
                        persona:
                          persona_name: more
                          layers:
                            llm:
                              tools: !append [{type: function, function: {name: three}}]
                      fewer:
                        persona:
                          layers:
                            llm: {tools: [{type: function, function: {name: only}}]}
                            stt: {participant_pause_sensitivity: null}
                """,
            },
        )
    )
    assert sorted(personas) == ["p/fewer", "p/more", "p/plain"]
    plain, more, fewer = personas["p/plain"], personas["p/more"], personas["p/fewer"]
    assert plain["persona_name"] == "mid"
    assert "context" not in plain  # null removed the base's context
    assert plain["system_prompt"] == "I am file at Acme (dev), level root"
    assert [t["function"]["name"] for t in plain["layers"]["llm"]["tools"]] == ["one", "two"]
    assert plain["layers"]["stt"] == {
        "participant_pause_sensitivity": "low",
        "participant_interrupt_sensitivity": "high",
    }
    assert more["persona_name"] == "more"
    assert more["system_prompt"] == "I am variant at Acme (dev), level root"
    tools = [t["function"]["name"] for t in more["layers"]["llm"]["tools"]]
    assert tools == ["one", "two", "three"]
    assert [t["function"]["name"] for t in fewer["layers"]["llm"]["tools"]] == ["only"]
    assert fewer["layers"]["stt"] == {"participant_interrupt_sensitivity": "high"}


def test_extends_order_later_base_wins(tmp_path: Path) -> None:
    personas = ok(
        compile_tree(
            tmp_path,
            {
                "personas/_a.yaml": (
                    "vars: {x: a}\npersona: {system_prompt: 'a {{ x }}', context: a}\n"
                ),
                "personas/_b.yaml": "vars: {x: b}\npersona: {context: b}\n",
                "personas/p.yaml": "extends: [_a.yaml, _b.yaml]\n",
            },
        )
    )
    assert personas["p"]["system_prompt"] == "a b"
    assert personas["p"]["context"] == "b"


@pytest.mark.parametrize(
    ("layers", "expected"),
    [
        ({}, "project"),
        ({"env": "prod"}, "env"),
        ({"env": "prod", "base": True}, "base"),
        ({"env": "prod", "base": True, "file": True}, "file"),
        ({"env": "prod", "base": True, "file": True, "variant": True}, "variant"),
        ({"base": True, "variant": True}, "variant"),
    ],
)
def test_variable_precedence(tmp_path: Path, layers: dict, expected: str) -> None:
    file_vars = "vars: {who: file}\n" if layers.get("file") else ""
    variant_vars = "    vars: {who: variant}\n" if layers.get("variant") else "    {}\n"
    files = {
        "personas/_base.yaml": "vars: {who: base}\n" if layers.get("base") else "{}\n",
        "personas/p.yaml": (
            "extends: [_base.yaml]\n"
            + file_vars
            + "persona:\n  system_prompt: 'who={{ who }}'\n  layers: {llm: {model: m}}\n"
            + "variants:\n  v:\n"
            + variant_vars
        ),
    }
    personas = ok(compile_tree(tmp_path, files, env=layers.get("env")))
    assert personas["p/v"]["system_prompt"] == f"who={expected}"


def test_environment_overrides_apply_last(tmp_path: Path) -> None:
    files = {
        "personas/p.yaml": """
            persona:
              persona_name: from file
              system_prompt: hi
              layers: {llm: {model: m, base_url: https://dev.example/v1}}
            variants:
              v:
                persona: {persona_name: from variant}
            """
    }
    local = ok(compile_tree(tmp_path, files))["p/v"]
    assert local["persona_name"] == "from variant"
    assert local["layers"]["llm"]["base_url"] == "https://dev.example/v1"
    prod = ok(compile_project(root=tmp_path, env_name="prod"))["p/v"]
    # overrides beat the variant, and are themselves templates rendered with env vars
    assert prod["persona_name"] == "Acme prod"
    assert prod["layers"]["llm"] == {"model": "m", "base_url": "https://prod.example/v1"}


def test_variants_addressing_and_names(tmp_path: Path) -> None:
    result = compile_tree(
        tmp_path,
        {
            "personas/storyteller.yaml": """
                persona: {system_prompt: "{{ personactl.address }} in {{ personactl.environment }}"}
                variants:
                  children: {}
                  horror: {}
                """,
            "personas/renamed.yaml": "name: custom\npersona: {system_prompt: hi}\n",
            "personas/team/helper.yaml": "persona: {system_prompt: hi}\n",
            "personas/_private/not-a-persona.yaml": "persona: {system_prompt: hi}\n",
            "personas/_base.yaml": "persona: {system_prompt: hi}\n",
            "personas/notes.txt": "not yaml\n",
        },
    )
    personas = ok(result)
    assert sorted(personas) == [
        "custom",
        "storyteller/children",
        "storyteller/horror",
        "team/helper",
    ]
    assert "storyteller" not in personas
    assert personas["storyteller/horror"]["system_prompt"] == "storyteller/horror in local"
    assert result.personas["custom"].source == "personas/renamed.yaml"


def test_duplicate_address(tmp_path: Path) -> None:
    result = compile_tree(
        tmp_path,
        {
            "personas/a.yaml": "name: b\npersona: {system_prompt: hi}\n",
            "personas/b.yaml": "persona: {system_prompt: hi}\n",
        },
    )
    assert [p.format() for p in result.errors] == [
        "personas/b.yaml:1:1: duplicate persona address 'b' (hint: also defined in personas/a.yaml)"
    ]


def test_shared_base_is_not_mutated_between_personas(tmp_path: Path) -> None:
    personas = ok(
        compile_tree(
            tmp_path,
            {
                "personas/_base.yaml": (
                    "persona:\n  system_prompt: hi\n  layers: {llm: {tools: []}}\n"
                ),
                "personas/a.yaml": (
                    "extends: _base.yaml\npersona:\n  layers:\n    llm:\n      tools: !append\n"
                    "        - {type: function, function: {name: a}}\n"
                ),
                "personas/b.yaml": "extends: _base.yaml\n",
            },
        )
    )
    assert len(personas["a"]["layers"]["llm"]["tools"]) == 1
    assert personas["b"]["layers"]["llm"]["tools"] == []


def test_conversation_bases_layer_like_personas(tmp_path: Path) -> None:
    result = compile_tree(
        tmp_path,
        {
            "personas/p.yaml": "persona: {system_prompt: hi}\n",
            "conversations/_bases/d.yaml": """
                vars: {greeting: Hello}
                conversation:
                  callback_url: https://example.com/hook
                  properties: {max_call_duration: 60, language: english}
                """,
            "conversations/c.yaml": """
                extends: [_bases/d.yaml]
                persona: p
                conversation:
                  conversation_name: "{{ greeting }} {{ company }}"
                  properties: {max_call_duration: 120, language: null}
                """,
        },
    )
    ok(result)
    template = result.conversations["c"]
    assert dict(template.body) == {
        "callback_url": "https://example.com/hook",
        "properties": {"max_call_duration": 120},
        "conversation_name": "{{ greeting }} {{ company }}",
    }
    assert template.vars["greeting"] == "Hello"
