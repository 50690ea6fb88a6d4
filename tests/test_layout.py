"""The package layout is the pipeline: no module imports a higher stage, no import cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "personactl"

# Lowest first.  A module may import its own stage and any stage below it.
STAGES = [
    ("sensitive", "digests"),
    ("errors",),
    ("output", "kinds", "refs"),
    ("compile.source", "compile.envelope", "project"),
    ("schema", "compile"),
    ("serve.store",),
    ("deploy",),
    ("serve", "llm"),
    ("cli", "scaffold", "__main__"),
]


def _module(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join(parts)


def _rank(module: str) -> int:
    """The stage of `module` (a path inside the package): its longest matching prefix."""
    best, best_len = -1, -1
    for rank, names in enumerate(STAGES):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > best_len:
                best, best_len = rank, len(name)
    return best


def _imports(path: Path, *, top_only: bool = False) -> set[str]:
    """personactl modules imported by `path` (lazy imports inside functions count too,
    unless `top_only`), as paths inside the package."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = _module(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    nodes = tree.body if top_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("personactl."))
        elif isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - node.level + 1] + [node.module or ""]
            found.add("personactl." + ".".join(base).strip("."))
        elif isinstance(node, ast.ImportFrom) and node.module == "personactl":
            found.update(f"personactl.{a.name}" for a in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("personactl."):
            found.add(str(node.module))
    return {m.removeprefix("personactl.") for m in found if m != "personactl"}


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _module(p) or "personactl")
def test_no_module_imports_a_higher_stage(path: Path) -> None:
    me = _module(path)
    if not me:
        return  # personactl/__init__.py: the public API, above everything
    mine = _rank(me)
    assert mine >= 0, f"{me} has no stage in STAGES"
    higher = sorted(m for m in _imports(path) if _rank(m) > mine)
    assert higher == [], f"{me} imports higher stages: {higher}"


def test_no_import_cycle_at_module_level() -> None:
    graph = {_module(p): _imports(p, top_only=True) for p in MODULES}
    state: dict[str, int] = {}  # 1: on the stack, 2: done

    def visit(node: str, stack: list[str]) -> None:
        if state.get(node) == 1:
            raise AssertionError("import cycle: " + " -> ".join([*stack, node]))
        if state.get(node) == 2:
            return
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if dep in graph and dep != node:
                visit(dep, [*stack, node])
        state[node] = 2

    for node in sorted(graph):
        visit(node, [])
