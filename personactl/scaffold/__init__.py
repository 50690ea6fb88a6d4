"""`personactl init`: copy the example repository shipped in this package."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from personactl import __version__
from personactl.errors import UserError
from personactl.output import listing

_HERE = Path(__file__).parent
# Files whose name in the package differs from the name they get in the project
# (a `.gitignore` inside a package is easily lost by packaging tools).
_RENAMES = {"gitignore": ".gitignore"}
# Replaced by the version writing the files: the CI workflow installs exactly that one.
VERSION_MARK = b"@PERSONACTL_VERSION@"


def files() -> dict[str, Path]:
    """Project-relative name -> packaged source file."""
    out: dict[str, Path] = {}
    for path in sorted(_HERE.rglob("*")):
        if not path.is_file() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
            continue
        rel = path.relative_to(_HERE).as_posix()
        out[_RENAMES.get(rel, rel)] = path
    return out


@dataclass(frozen=True)
class Scaffolded:
    written: list[Path]
    overwritten: list[str]  # project-relative names of example files that existed


def scaffold(target: Path, *, force: bool = False) -> Scaffolded:
    """The example files and the editor schemas their modelines point at (committed with
    them: the scaffold's .gitignore keeps .personactl/schema/, so they work after a clone).
    An example file already there is overwritten only with `force`."""
    from personactl.schema.export import write_schemas

    existing = [rel for rel in files() if (target / rel).exists()]
    if existing and not force:
        n = len(existing)
        raise UserError(
            f"{target}: init would overwrite {n} {'file' if n == 1 else 'files'}: "
            f"{listing(existing)}",
            hint="pass --force to overwrite them",
        )
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for rel, source in files().items():
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(source.read_bytes().replace(VERSION_MARK, __version__.encode()))
        written.append(dest)
    written.extend(write_schemas(None, target))
    return Scaffolded(written, existing)
