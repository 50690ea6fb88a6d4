"""Deterministic serialisation for everything personactl prints or writes."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

# The closed sets of output formats (here, light, so the CLI can declare its options
# without importing the code that writes them).
PlanFormat = Literal["text", "json", "markdown"]
PLAN_FORMATS: tuple[PlanFormat, ...] = ("text", "json", "markdown")
RenderFormat = Literal["json", "yaml"]
PreviewFormat = Literal["json", "text"]
PREVIEW_FORMATS: tuple[PreviewFormat, ...] = ("json", "text")


def listing(items: Sequence[str], limit: int = 10, sep: str = ", ") -> str:
    """Items for a message, joined with `sep`, past `limit` the rest counted
    (`a, b, c, … and 57 more`): a message stays one readable line."""
    if len(items) <= limit:
        return sep.join(items)
    return sep.join(items[:limit]) + f"{sep}… and {len(items) - limit} more"


def to_json(data: Any) -> str:
    """Byte-identical across runs and machines: sorted keys, fixed indent, trailing newline."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def dumps_with(data: Mapping[str, Any], encoded: Mapping[str, str]) -> str:
    """`json.dumps(data)` where the value of each key in `encoded` is the JSON text given
    (already encoded elsewhere: not encoded again).  Those keys come last."""
    head = json.dumps({k: v for k, v in data.items() if k not in encoded})
    tail = ", ".join(f"{json.dumps(k)}: {text}" for k, text in encoded.items())
    if not tail:
        return head
    return f"{head[:-1]}, {tail}}}" if head != "{}" else f"{{{tail}}}"


def to_json_rows(data: Mapping[str, Any]) -> str:
    """A JSON object with each entry of its object-valued members on one line.

    For large files diffed in git (the state): a change to one entry is a one-line
    diff, and each line is encoded by the C encoder (indent forces the pure-Python
    one, about 5x slower).  Deterministic like `to_json`: sorted keys, fixed layout.
    """

    dump = json.JSONEncoder(sort_keys=True, ensure_ascii=False).encode
    members = []
    for key, value in sorted(data.items()):
        if isinstance(value, dict) and value:
            rows = ",\n".join(f"    {dump(k)}: {dump(v)}" for k, v in sorted(value.items()))
            members.append(f"  {dump(key)}: {{\n{rows}\n  }}")
        else:
            members.append(f"  {dump(key)}: {dump(value)}")
    return "{\n" + ",\n".join(members) + "\n}\n" if members else "{}\n"


def to_yaml(data: Any) -> str:
    """Deterministic YAML; a multi-line string (a prompt) as a `|` block, read as written."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
        # PyYAML falls back to a quoted scalar when a block cannot hold the string exactly
        # (trailing spaces on a line, control characters)
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    return str(
        yaml.dump(
            to_plain(data),
            Dumper=Dumper,
            sort_keys=True,
            allow_unicode=True,
            default_flow_style=False,
            width=100,
        )
    )


def to_plain(value: Any) -> Any:
    """`value` with dict/list subclasses (the loader's PMap/PList) as plain dicts and lists:
    for YAML output, and for Jinja variables, whose messages and sandbox checks name the type."""
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    return value


def json_key(value: Any) -> Any:
    """A hashable, exact key for a JSON-like value (TypeError when there is none).

    Types are part of the key (True vs 1, 1 vs 1.0 must not share results); list
    subclasses count as lists and dict subclasses as dicts.
    """
    if value.__class__ is str:  # the common case: a str is never equal to the tuples below
        return value
    if isinstance(value, dict):
        return (dict, tuple((k.__class__, k, json_key(v)) for k, v in value.items()))
    if isinstance(value, list):
        return (list, tuple(json_key(v) for v in value))
    if isinstance(value, float):  # by repr: -0.0 and 0.0 print differently in messages
        return (value.__class__, repr(value))
    if isinstance(value, (str, int)) or value is None:  # bool is an int subclass
        return (value.__class__, value)
    raise TypeError(f"no cache key for {type(value).__name__}")


def _umask() -> int:
    # no getter before Python 3.13 (os.umask sets it): set and restore at once
    current = os.umask(0o077)
    os.umask(current)
    return current


def write_atomic(path: Path, text: str, *, shared: bool = False, durable: bool = True) -> None:
    """Write via a temp file, fsync and rename: readers see the old or the new file, never half.

    The file is private (0600, mkstemp's) unless `shared`: then 0666 less the umask, as
    any tool's output (rendered JSON, schemas, plans: nothing a secret reaches).  Not
    `durable`: no fsync, for a cache (a power cut may leave it empty: only a miss)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if shared:
            os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
