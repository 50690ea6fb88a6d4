"""`personactl init`: copy the example repository shipped in this package."""

from __future__ import annotations

from pathlib import Path

from personactl import __version__
from personactl.errors import UserError

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


def scaffold(target: Path, *, force: bool = False) -> list[Path]:
    from personactl.schema.export import write_schemas

    target.mkdir(parents=True, exist_ok=True)
    if not force and (target / "personactl.yaml").exists():
        raise UserError(
            f"{target} already holds a personactl.yaml",
            hint="use --force to overwrite the example files",
        )
    written = []
    for rel, source in files().items():
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(source.read_bytes().replace(VERSION_MARK, __version__.encode()))
        written.append(dest)
    written.extend(write_schemas(None, target))
    return written
