"""personactl.compile.source: positions, strict keys, refused constructs, alias bombs."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

from personactl.compile.source import MAX_EXPANDED_NODES, PList, PMap, load_file, load_text, locate
from personactl.errors import Loc


def messages(problems) -> list[str]:
    return [p.format() for p in problems]


def test_positions_of_keys_values_and_items() -> None:
    data, problems = load_text(
        "persona:\n  persona_name: Mert\n  tools:\n    - a\n    - {b: 1}\n", "p.yaml"
    )
    assert problems == []
    assert isinstance(data, PMap)
    persona = data["persona"]
    assert isinstance(persona, PMap)
    assert persona.key_locs["persona_name"] == Loc("p.yaml", 2, 3)
    assert persona.val_locs["persona_name"] == Loc("p.yaml", 2, 17)
    tools = persona["tools"]
    assert isinstance(tools, PList)
    assert tools.item_locs == [Loc("p.yaml", 4, 7), Loc("p.yaml", 5, 7)]
    assert locate(data, ("persona", "tools", 1, "b")) == Loc("p.yaml", 5, 11)
    assert locate(data, ("persona", "persona_name"), key=True) == Loc("p.yaml", 2, 3)
    # a path that does not exist: the deepest known ancestor
    assert locate(data, ("persona", "missing", "deeper")) == Loc("p.yaml", 2, 3)


def test_plain_json_values() -> None:
    data, problems = load_text(
        "on: yes\nn: 3\nf: 1.5\nb: true\nz: null\nd: 2024-01-02\ns: '007'\n", "x.yaml"
    )
    assert problems == []
    # keys stay as written (`on:` is not a boolean), YAML 1.2 values too (`yes` is a
    # string, DESIGN §3); dates keep their text
    assert dict(data) == {
        "on": "yes",
        "n": 3,
        "f": 1.5,
        "b": True,
        "z": None,
        "d": "2024-01-02",
        "s": "007",
    }


def test_block_scalars_are_marked() -> None:
    data, _ = load_text("a: |\n  text\nb: >-\n  text\nc: text\n", "x.yaml")
    assert data.val_locs["a"].block and data.val_locs["b"].block
    assert not data.val_locs["c"].block
    # the marker does not change what a location is
    assert data.val_locs["a"] == Loc("x.yaml", 1, 4)


def test_duplicate_keys_are_errors() -> None:
    data, problems = load_text("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n", "dup.yaml")
    assert messages(problems) == [
        "dup.yaml:4:3: duplicate key 'c' (first defined at line 3)",
        "dup.yaml:5:1: duplicate key 'a' (first defined at line 1)",
    ]
    assert data["a"] == 1  # the first one is kept, not silently the last


def test_malformed_yaml() -> None:
    data, problems = load_text("persona:\n  name: [a, b\n  other: 1\n", "bad.yaml")
    assert data is None
    assert len(problems) == 1
    text = problems[0].format()
    assert text.startswith("bad.yaml:3:")
    assert "invalid YAML:" in text


def test_tab_indentation_is_malformed_yaml() -> None:
    _, problems = load_text("persona:\n\tname: x\n", "tab.yaml")
    assert messages(problems)[0].startswith("tab.yaml:2:1: invalid YAML: ")


def test_multiple_documents_refused() -> None:
    data, problems = load_text("a: 1\n---\nb: 2\n", "multi.yaml")
    assert data is None
    assert messages(problems) == [
        "multi.yaml:2:1: invalid YAML: expected a single document in the stream "
        "but found another document"
    ]


def test_empty_document() -> None:
    assert load_text("", "e.yaml") == (None, [])
    assert load_text("# only a comment\n", "e.yaml") == (None, [])


def test_merge_keys_refused() -> None:
    _, problems = load_text("base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n", "m.yaml")
    assert messages(problems) == [
        "m.yaml:3:3: YAML merge keys (<<) are not supported "
        "(hint: use extends: or an anchor on the whole value)"
    ]


def test_unknown_tags_refused() -> None:
    _, problems = load_text("a: !foo x\nb: !!python/name:os.system x\nc: !foo {k: 1}\n", "t.yaml")
    assert messages(problems) == [
        "t.yaml:1:4: could not determine a constructor for the tag '!foo'",
        "t.yaml:2:4: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/name:os.system'",
        "t.yaml:3:4: unsupported YAML tag !foo",
    ]


def test_append_tag() -> None:
    data, problems = load_text("tools: !append [a, b]\nother: [c]\n", "a.yaml")
    assert problems == []
    assert data["tools"].append_tag is True
    assert data["other"].append_tag is False
    assert data["tools"] == ["a", "b"]


def test_non_scalar_keys_refused() -> None:
    _, problems = load_text("? [a, b]\n: 1\n", "k.yaml")
    assert messages(problems) == ["k.yaml:1:3: mapping keys must be plain strings"]


def test_plain_aliases_work() -> None:
    data, problems = load_text("a: &x {k: [1, 2]}\nb: *x\n", "al.yaml")
    assert problems == []
    assert data["b"] == {"k": [1, 2]}


def test_recursive_alias_refused() -> None:
    data, problems = load_text("a: &a\n  b: *a\n", "rec.yaml")
    assert data is None
    assert messages(problems) == ["rec.yaml:1:4: recursive YAML alias"]


def _bomb(levels: int = 12, width: int = 10) -> str:
    lines = ["l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_refused_quickly_without_memory() -> None:
    text = _bomb()  # 10**12 values once expanded, ~1 KB on disk
    tracemalloc.start()
    started = time.perf_counter()
    try:
        data, problems = load_text(text, "bomb.yaml")
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert data is None
    assert messages(problems) == [
        f"bomb.yaml:1:1: YAML aliases expand to more than {MAX_EXPANDED_NODES:,} values; "
        "refused (hint: this looks like an alias bomb)"
    ]
    assert elapsed < 2.0
    assert peak < 20_000_000


def test_large_but_honest_document_loads() -> None:
    text = "items:\n" + "".join(f"  - {{k: {i}}}\n" for i in range(2000))
    data, problems = load_text(text, "big.yaml")
    assert problems == []
    assert len(data["items"]) == 2000


def test_load_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes(b"a: caf\xe9\n")
    assert messages(load_file(path, "personas/latin.yaml")[1]) == [
        "personas/latin.yaml:1:1: file is not valid UTF-8"
    ]
