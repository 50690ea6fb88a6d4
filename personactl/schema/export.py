"""`personactl schema`: JSON Schemas of the file formats, for editors (yaml-language-server)."""

from __future__ import annotations

from pathlib import Path

from personactl.output import to_json, write_atomic
from personactl.project import WORKDIR, root_or_none


def write_schemas(out: Path | None, project_dir: Path | None) -> list[Path]:
    from personactl import schema

    if out is None:
        root = project_dir if project_dir is not None else root_or_none()
        out = (root / WORKDIR / "schema") if root is not None else Path.cwd()
    written = []
    for name, document in schema.file_json_schemas().items():
        path = out / name
        write_atomic(path, to_json(document), shared=True)
        written.append(path)
    return written
