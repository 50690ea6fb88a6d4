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
import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from personactl.compile.personas import default_name, source_files
from personactl.compile.source import PMap, load_file
from personactl.errors import UserError
from personactl.kinds import PERSONAS, RESOURCE_KINDS
from personactl.output import write_atomic
from personactl.project import PROJECT_FILE, WORKDIR, Project, load_project

_CACHE = f"{WORKDIR}/cache/names.json"
_CACHE_VERSION = 1


def _names_in(path: Path, folder: Path, project: Callable[[], Project]) -> tuple[list[str], bool]:
    """[name, *variants] of one defining file, and whether they depend on a data file
    (`variants_from`, `matrix`: not cached under the file's own stamp)."""
    data, _problems = load_file(path, path.name)
    node = data if isinstance(data, PMap) else PMap()
    raw = node.get("name")
    name = raw if isinstance(raw, str) and raw else default_name(folder, path)
    if any(key in node for key in ("variants_from", "matrix")):
        from personactl.compile import variants  # imports the compiler: only for such files

        with contextlib.suppress(UserError):  # no readable personactl.yaml: no variants
            made = variants.targets(project(), node, name, [])
            return [name, *(t.address.removeprefix(f"{name}/") for t in made)], True
        return [name], True
    found = node.get("variants")
    return [name, *(found if isinstance(found, dict) else ())], False


class _Names:
    """File -> [name, *variants], from the cache when the file's size and mtime match."""

    def __init__(self, root: Path) -> None:
        self.root = root
        # loaded for the first file whose variants come from data, then kept
        self.project = functools.cache(lambda: load_project(root))
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
                names, from_data = _names_in(path, folder, self.project)
                entry = [None if from_data else stamp, names]
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
        for name, *keys in names.of(root / kind.folder):
            if keys:
                found.extend(f"{kind.prefix()}{name}/{v}" for v in keys)
            else:
                found.append(f"{kind.prefix()}{name}")
    names.save()
    return sorted(found)


def conversation_names(root: Path) -> list[str]:
    """Every conversation template's name, sorted."""
    folder = root / "conversations"
    return sorted(
        _names_in(path, folder, lambda: load_project(root))[0][0] for path in source_files(folder)
    )


def environment_names(root: Path) -> list[str]:
    """The environments of personactl.yaml, sorted (none when it does not parse)."""
    data, _problems = load_file(root / PROJECT_FILE, PROJECT_FILE)
    environments = data.get("environments") if isinstance(data, dict) else None
    return sorted(environments) if isinstance(environments, dict) else []
