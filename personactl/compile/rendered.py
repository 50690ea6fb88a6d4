"""Rendered files: what `render --out DIR` writes, and whether a committed DIR is stale.

`render --check --out DIR` (the `personactl-render-check` pre-commit hook) compares DIR
with what `render --out DIR` would write, byte for byte, without writing anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from personactl.errors import Loc, Problem, UserError
from personactl.output import RenderFormat, to_json, to_yaml


def rendered_files(
    masked: Mapping[str, Any], out: Path, fmt: RenderFormat
) -> dict[Path, tuple[str, str]]:
    """DIR/<address>.<fmt> (resolved) -> (the path as the user wrote it, the text)."""
    dump = to_yaml if fmt == "yaml" else to_json
    root = out.resolve()
    files: dict[Path, tuple[str, str]] = {}
    for address, body in masked.items():
        target = (out / f"{address}.{fmt}").resolve()
        if not target.is_relative_to(root):
            raise UserError(f"address {address!r} would be written outside {out}")
        files[target] = ((out / f"{address}.{fmt}").as_posix(), dump(body))
    return files


def _first_difference(old: str, new: str) -> int:
    """The 1-based line where `old` stops matching `new`."""
    old_lines, new_lines = old.splitlines(), new.splitlines()
    for number, (a, b) in enumerate(zip(old_lines, new_lines, strict=False), start=1):
        if a != b:
            return number
    return min(len(old_lines), len(new_lines)) + 1


def stale(
    files: Mapping[Path, tuple[str, str]], out: Path, fmt: RenderFormat, *, every: bool
) -> list[Problem]:
    """One problem per file of `files` that DIR lacks or holds otherwise; with `every`
    (all addresses rendered), also each DIR/**/*.<fmt> that no address renders to."""
    problems: list[Problem] = []
    for path, (shown, text) in sorted(files.items()):
        try:
            current = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            problems.append(Problem(Loc(shown), "missing: not rendered yet"))
            continue
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(Loc(shown), f"cannot be read: {exc}"))
            continue
        if current != text:
            at = Loc(shown, _first_difference(current, text), 1)
            problems.append(Problem(at, "stale: differs from the compiled persona"))
    if every and out.is_dir():
        root = out.resolve()
        for path in sorted(root.rglob(f"*.{fmt}")):
            if path.is_file() and path not in files:
                shown = (out / path.relative_to(root)).as_posix()
                problems.append(Problem(Loc(shown), "stale: no persona renders to it any more"))
    return problems
