"""The repository's names without compiling anything: for shell completion.

A completion runs on every Tab, so it reads what names a resource and nothing else: the
files that define resources (as `compile_personas` finds them), each file's `name` and
its `variants` keys.  No template is rendered and no schema checked; a file that does not
parse is named by its path (validate reports it).  What a file names is kept in
`.personactl/cache/names.json` under its size and mtime, so a Tab in a repository of a
thousand personas re-reads only the files that changed.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from personactl.compile.personas import default_name, source_files
from personactl.compile.source import load_file
from personactl.kinds import PERSONAS, RESOURCE_KINDS
from personactl.output import write_atomic
from personactl.project import PROJECT_FILE, WORKDIR

_CACHE = f"{WORKDIR}/cache/names.json"
_CACHE_VERSION = 1


def _names_in(path: Path, folder: Path) -> list[str]:
    """[name, *variants] of one defining file."""
    data, _problems = load_file(path, path.name)
    node = data if isinstance(data, dict) else {}
    name = node.get("name")
    variants = node.get("variants")
    return [
        name if isinstance(name, str) and name else default_name(folder, path),
        *(variants if isinstance(variants, dict) else ()),
    ]


class _Names:
    """File -> [name, *variants], from the cache when the file's size and mtime match."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cache: dict[str, Any] = {}
        self.fresh: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):  # no cache yet, or a damaged one
            loaded = json.loads((root / _CACHE).read_text(encoding="utf-8"))
            files = loaded.get("files") if isinstance(loaded, dict) else None
            if isinstance(files, dict) and loaded.get("version") == _CACHE_VERSION:
                self.cache = files

    def of(self, folder: Path) -> list[list[str]]:
        out = []
        for path in source_files(folder):
            stat = path.stat()
            key, stamp = path.relative_to(self.root).as_posix(), [stat.st_size, stat.st_mtime_ns]
            entry = self.cache.get(key)
            if not (isinstance(entry, list) and entry[:1] == [stamp] and len(entry) == 2):
                entry = [stamp, _names_in(path, folder)]
            self.fresh[key] = entry
            out.append(entry[1])
        return out

    def save(self) -> None:
        """Keep what was read, in a repository that has its working folder already."""
        if self.fresh == self.cache or not (self.root / WORKDIR).is_dir():
            return
        text = json.dumps({"version": _CACHE_VERSION, "files": self.fresh}, sort_keys=True)
        with contextlib.suppress(OSError):  # a read-only checkout still completes
            write_atomic(self.root / _CACHE, text)


def addresses(root: Path) -> list[str]:
    """Every address of the repository at `root`, all kinds, sorted."""
    names = _Names(root)
    found: list[str] = []
    for kind in (PERSONAS, *RESOURCE_KINDS):
        for name, *variants in names.of(root / kind.folder):
            if variants:
                found.extend(f"{kind.prefix()}{name}/{v}" for v in variants)
            else:
                found.append(f"{kind.prefix()}{name}")
    names.save()
    return sorted(found)


def conversation_names(root: Path) -> list[str]:
    """Every conversation template's name, sorted."""
    folder = root / "conversations"
    return sorted(_names_in(path, folder)[0] for path in source_files(folder))


def environment_names(root: Path) -> list[str]:
    """The environments of personactl.yaml, sorted (none when it does not parse)."""
    data, _problems = load_file(root / PROJECT_FILE, PROJECT_FILE)
    environments = data.get("environments") if isinstance(data, dict) else None
    return sorted(environments) if isinstance(environments, dict) else []
