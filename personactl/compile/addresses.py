"""The repository's names without compiling anything: for shell completion.

A completion runs on every Tab, so it reads what names a resource and nothing else: the
files that define resources (as `compile_personas` finds them), each file's `name` and
its `variants` keys.  No template is rendered and no schema checked; a file that does not
parse is skipped (validate reports it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from personactl.compile.personas import default_name, source_files
from personactl.compile.source import load_file
from personactl.kinds import PERSONAS, RESOURCE_KINDS
from personactl.project import PROJECT_FILE


def _file_names(folder: Path) -> list[tuple[str, Any]]:
    """(name, the file's mapping or None) for each defining file of `folder`."""
    out: list[tuple[str, Any]] = []
    for path in source_files(folder):
        data, _problems = load_file(path, path.name)
        node = data if isinstance(data, dict) else {}
        name = node.get("name")
        out.append((name if isinstance(name, str) and name else default_name(folder, path), node))
    return out


def addresses(root: Path) -> list[str]:
    """Every address of the repository at `root`, all kinds, sorted."""
    found: list[str] = []
    for kind in (PERSONAS, *RESOURCE_KINDS):
        for name, node in _file_names(root / kind.folder):
            variants = node.get("variants")
            if isinstance(variants, dict) and variants:
                found.extend(f"{kind.prefix()}{name}/{v}" for v in variants)
            else:
                found.append(f"{kind.prefix()}{name}")
    return sorted(found)


def conversation_names(root: Path) -> list[str]:
    """Every conversation template's name, sorted."""
    return sorted(name for name, _node in _file_names(root / "conversations"))


def environment_names(root: Path) -> list[str]:
    """The environments of personactl.yaml, sorted (none when it does not parse)."""
    data, _problems = load_file(root / PROJECT_FILE, PROJECT_FILE)
    environments = data.get("environments") if isinstance(data, dict) else None
    return sorted(environments) if isinstance(environments, dict) else []
