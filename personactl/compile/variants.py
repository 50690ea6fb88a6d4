"""Variants from data (as Terraform's for_each): `variants_from:` a CSV, YAML or JSON file
makes one variant per row, `matrix:` one per combination of its lists, and both together
their cross product.  A row's columns (and the matrix values) are variables at the
variant's level, below the explicit `variants:` entry of the same key (DESIGN §2).

Every data file is read through `load_rows`, and `data_path` names the one a resource
file depends on: the caches key on it (personactl.compile.cache)."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from personactl.compile.envelope import expect_map
from personactl.compile.source import MAX_FILE_BYTES, PList, PMap, core_scalar, load_file, load_text
from personactl.errors import Loc, Problem, did_you_mean
from personactl.project import Project

# a bound on the variants one file generates (rows x matrix combinations): each is a
# persona compiled, planned and deployed; more is a mistake, not a fleet
MAX_VARIANTS = 100_000
FORMATS = {".csv": "csv", ".yaml": "yaml", ".yml": "yaml", ".json": "json"}
DATA_KEYS = ("variants_from", "variants_key", "matrix")
DATA_KEY = b"variants_from"  # a resource file without these bytes reads no data file
_NEEDS_KEY = "variants_key: COLUMN names the column holding each row's variant key"
_KEY_HINT = "a variant key is one address segment: no '/', not empty, '.' or '..'"
# one CSV cell (RFC 4180): quoted ("" is a quote inside) or plain up to , or a line end
_CELL = re.compile(r'"((?:[^"]|"")*)"|([^,"\r\n]*)')
_LINE_END = re.compile(r"\r\n|\n|\r")
# `matrix:` as [(variable, [(address segment, value, position)...])...]
_Matrix = list[tuple[str, list[tuple[str, Any, Loc | None]]]]


@dataclass(frozen=True)
class Row:
    key: str
    vars: PMap  # column -> value, each with its position in the data file
    loc: Loc  # the row's first line: errors about the persona it makes point here


VarSource = Literal["data", "matrix", "variant"]


@dataclass(frozen=True)
class Target:
    """One resource a file compiles to."""

    address: str
    variant: PMap  # the explicit `variants:` entry (empty when there is none)
    vars: tuple[Any, ...]  # the variant level, lowest first: row, matrix values, variant vars
    row: Loc | None = None  # the data row it came from
    # which of those each entry of `vars` is (personactl explain names them)
    sources: tuple[VarSource, ...] = ()


class _Bad(Exception):
    """A data file problem that ends reading it."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def blame(target: Target, body: PMap, path: tuple[str | int, ...]) -> Loc | None:
    """Where a schema problem at `path` of `target`'s body is reported: at its data row
    when a template wrote the value (the row's variables feed it), else None (where the
    value is written).  A problem of the file itself is not one per row."""
    from personactl.compile.templating import _is_static  # compiling has loaded it

    if target.row is None:
        return None
    node: Any = body
    for part in path:
        inside = (isinstance(node, PMap) and isinstance(part, str) and part in node) or (
            isinstance(node, PList) and isinstance(part, int) and 0 <= part < len(node)
        )
        if not inside:
            return None
        node = node[part]
        if isinstance(node, str):
            return None if _is_static(node) else target.row
    return None


def data_path(project: Project, node: PMap) -> Path | None:
    """The data file a resource file's `variants_from` names (None: no such key, or not
    a string); whether it may be read is load_rows' business."""
    raw = node.get("variants_from")
    return project.root / raw if isinstance(raw, str) and raw else None


def data_files(project: Project, files: list[Path]) -> list[Path]:
    """The readable data files that the resource files among `files` name: the whole-
    repository cache hashes them with the sources.  `files`: those whose bytes mention
    DATA_KEY (the cache has read them already): only they are parsed."""
    found: set[Path] = set()
    for file in files:
        if file.suffix != ".yaml":  # resource files are *.yaml (personas.source_files)
            continue
        data, _problems = load_file(file, file.name)
        path = data_path(project, data) if isinstance(data, PMap) else None
        if path is not None and path.is_file() and project.confined(path, project.root):
            found.add(path)
    return sorted(found)


def targets(project: Project, node: PMap, name: str, problems: list[Problem]) -> list[Target]:
    """What the resource file `node` named `name` compiles to: one target without
    variants, one per explicit variant, or one per generated key (explicit entries
    layered on the generated ones of the same key)."""
    variants = expect_map(node.get("variants"), node.val_locs.get("variants"), "variants", problems)
    explicit = {
        key: expect_map(variants[key], variants.val_locs.get(key), "a variant", problems)
        for key in variants
    }
    generated = _generated(project, node, problems)
    if generated is None:
        if not explicit:
            return [Target(name, PMap(), ())]
        return [
            Target(f"{name}/{k}", v, (v.get("vars"),), sources=("variant",))
            for k, v in explicit.items()
        ]
    keys = {t.address for t in generated}  # empty after a problem: that one is reported
    for key in explicit if generated else ():
        if key not in keys:
            source = node.get("variants_from") or "matrix"
            problems.append(
                Problem(
                    variants.key_locs.get(key, variants.loc),
                    f"variant '{key}' is not one of the variants {source} makes",
                    did_you_mean(key, keys)
                    or "an explicit variant refines a generated one of the same key",
                )
            )
    return [
        Target(
            f"{name}/{t.address}",
            explicit.get(t.address, PMap()),
            (*t.vars, explicit.get(t.address, PMap()).get("vars")),
            t.row,
            (*t.sources, "variant"),
        )
        for t in generated
    ]


def _generated(project: Project, node: PMap, problems: list[Problem]) -> list[Target] | None:
    """Targets keyed by the variant key alone (None: the file generates none); an empty
    list after a problem."""
    if not any(k in node for k in DATA_KEYS):
        return None
    if "variants_key" in node and "variants_from" not in node:
        problems.append(
            Problem(
                node.key_locs.get("variants_key"),
                "variants_key without variants_from",
                "variants_key names the column of variants_from's rows that keys them",
            )
        )
        return []
    rows: list[Row | None] = [None]  # without variants_from: the matrix alone
    if "variants_from" in node:
        loaded = _rows_of(project, node, problems)
        if loaded is None:
            return []
        rows = list(loaded)
    matrix = _matrix(node, problems)
    if matrix is None:
        return []
    total = len(rows) * math.prod(len(values) for _name, values in matrix)
    if total > MAX_VARIANTS:
        where = node.key_locs.get("matrix") or node.key_locs.get("variants_from")
        problems.append(
            Problem(
                where,
                f"{total:,} variants; personactl makes at most {MAX_VARIANTS:,} from one file",
                "split the data into several files",
            )
        )
        return []
    return list(_product(rows, matrix))


def _product(rows: list[Row | None], matrix: _Matrix) -> Iterator[Target]:
    for row in rows:
        for combo in itertools.product(*(values for _name, values in matrix)):
            values = PMap()
            for (name, _values), (_text, value, loc) in zip(matrix, combo, strict=True):
                values.put(name, value, loc, loc)
            segments = ([row.key] if row else []) + [text for text, _v, _l in combo]
            if row:
                yield Target(
                    "/".join(segments), PMap(), (row.vars, values), row.loc, ("data", "matrix")
                )
            else:
                yield Target("/".join(segments), PMap(), (values,), None, ("matrix",))


def _rows_of(project: Project, node: PMap, problems: list[Problem]) -> list[Row] | None:
    raw = node.get("variants_from")
    where = node.val_locs.get("variants_from")
    path = data_path(project, node)
    key = node.get("variants_key")
    if path is None:
        problems.append(Problem(where, "variants_from takes a file path, e.g. data/tenants.csv"))
        return None
    if key is not None and (not isinstance(key, str) or not key):
        problems.append(
            Problem(node.val_locs.get("variants_key"), "variants_key takes a column name")
        )
        return None
    if not project.confined(path, project.root):
        problems.append(
            Problem(
                where,
                f"data file '{raw}' is outside the project (a symlink out of it?); refused",
                "data files live in the repository, e.g. data/tenants.csv",
            )
        )
        return None
    if not path.is_file():
        what = "not a regular file" if path.exists() else "not found"
        hint = "the path is relative to the project root (the folder of personactl.yaml)"
        problems.append(Problem(where, f"data file '{raw}' {what}", hint))
        return None
    if path.suffix.lower() not in FORMATS:
        problems.append(
            Problem(
                where,
                f"data file '{raw}' is not .csv, .yaml, .yml or .json",
                "personactl reads the format from the extension",
            )
        )
        return None
    if key is None and FORMATS[path.suffix.lower()] == "csv":
        problems.append(Problem(where, "a CSV data file needs variants_key", _NEEDS_KEY))
        return None
    rows, found = load_rows(project, path, key)
    problems.extend(found)
    return None if found else rows


def load_rows(project: Project, path: Path, key: str | None) -> tuple[list[Row], list[Problem]]:
    """The rows of the data file at `path` (inside the project), keyed by column `key`
    (a YAML/JSON mapping is keyed by its keys); every read of a data file is this one."""
    shown = project.shown(path)
    try:
        if FORMATS[path.suffix.lower()] == "csv":
            rows = _csv_rows(path, shown, key)
        else:
            rows = _document_rows(path, shown, key)
    except _Bad as exc:
        return [], [exc.problem]
    if not rows:
        return [], [Problem(Loc(shown, 1, 1), "the data file has no rows", "one row per variant")]
    return rows, []


def _read_text(path: Path, shown: str) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise _Bad(
                Problem(
                    Loc(shown, 1, 1),
                    f"file is {size / 2**20:.1f} MB; personactl reads data files of up to "
                    f"{MAX_FILE_BYTES // 2**20} MB",
                    "split it into several files",
                )
            )
        return path.read_text(encoding="utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise _Bad(Problem(Loc(shown, 1, 1), "file is not valid UTF-8")) from None
    except OSError as exc:
        raise _Bad(Problem(Loc(shown, 1, 1), f"cannot read file: {exc.strerror}")) from None


def _csv_records(text: str, shown: str) -> Iterator[tuple[int, list[tuple[str, bool, Loc]]]]:
    """(line, [(text, quoted, position)...]) for each non-blank record of a CSV text."""
    pos, line, line_start = 0, 1, 0
    while pos < len(text):
        start_line, cells = line, []
        while True:
            cell = _CELL.match(text, pos)
            assert cell is not None  # the plain alternative matches the empty string
            loc = Loc(shown, line, pos - line_start + 1)
            if cell.group(1) is not None:
                value, quoted = cell.group(1).replace('""', '"'), True
                for end in _LINE_END.finditer(cell.group(0)):
                    line, line_start = line + 1, pos + end.end()
            else:
                value, quoted = cell.group(2), False
            pos = cell.end()
            cells.append((value, quoted, loc))
            if pos < len(text) and text[pos] == '"':
                here = Loc(shown, line, pos - line_start + 1)
                message = (
                    "unterminated quoted cell" if loc.col == here.col else "a quote inside a cell"
                )
                raise _Bad(
                    Problem(
                        here,
                        f"invalid CSV: {message}",
                        'quote the whole cell and double quotes inside: "a ""b"""',
                    )
                )
            if pos < len(text) and text[pos] == ",":
                pos += 1
                continue
            line_end = _LINE_END.match(text, pos)
            if line_end is None and pos < len(text):  # text after a closing quote
                here = Loc(shown, line, pos - line_start + 1)
                raise _Bad(
                    Problem(
                        here, "invalid CSV: text after a closing quote", "put a comma between cells"
                    )
                )
            if line_end is not None:
                pos, line, line_start = line_end.end(), line + 1, line_end.end()
            break
        if cells != [("", False, cells[0][2])]:  # a blank line is no record
            yield start_line, cells


def _csv_rows(path: Path, shown: str, key: str | None) -> list[Row]:
    records = _csv_records(_read_text(path, shown), shown)
    header = next(records, None)
    if header is None:
        raise _Bad(
            Problem(Loc(shown, 1, 1), "the data file is empty", "the first line names the columns")
        )
    columns = _columns(header[1])
    if key is not None and key not in columns:
        raise _Bad(
            Problem(
                Loc(shown, header[0], 1),
                f"no column '{key}' (variants_key)",
                did_you_mean(key, columns) or f"columns: {', '.join(columns)}",
            )
        )
    rows: list[Row] = []
    seen: dict[str, int] = {}
    for line, cells in records:
        loc = Loc(shown, line, 1)
        if len(cells) != len(columns):
            raise _Bad(
                Problem(
                    loc,
                    f"row has {len(cells)} cells, the header {len(columns)}",
                    "one cell per column; quote cells that hold a comma",
                )
            )
        row = PMap(loc)
        for column, (text, quoted, cell_loc) in zip(columns, cells, strict=True):
            if column == key:
                row.put(column, text if quoted else text.strip(), cell_loc, cell_loc)
            elif quoted or text.strip():  # an empty cell leaves the variable as inherited
                row.put(column, text if quoted else _typed(text.strip()), cell_loc, cell_loc)
        rows.append(_keyed(row.get(key or ""), row, loc, key, seen, len(rows)))
    return rows


def _columns(cells: list[tuple[str, bool, Loc]]) -> list[str]:
    columns: list[str] = []
    for text, _quoted, loc in cells:
        name = text.strip()
        if not name:
            raise _Bad(Problem(loc, "empty column name", "the first line names every column"))
        if name in columns:
            raise _Bad(Problem(loc, f"duplicate column '{name}'"))
        columns.append(name)
    return columns


def _typed(text: str) -> Any:
    """A plain CSV cell as a YAML 1.2 core scalar (null, bool, int, float), else the text."""
    for kind in ("null", "bool", "int", "float"):
        try:
            return core_scalar(kind, text)  # type: ignore[arg-type]
        except ValueError:
            continue
    return text


def _document_rows(path: Path, shown: str, key: str | None) -> list[Row]:
    data, problems = load_text(_read_text(path, shown), shown)  # JSON is YAML 1.2 too
    if problems:
        first = problems[0]
        if path.suffix.lower() == ".json":
            message = first.message.replace("invalid YAML:", "invalid JSON:", 1)
            first = Problem(first.loc, message, first.hint)
        raise _Bad(first)
    if isinstance(data, PList):
        return _list_rows(data, shown, key)
    if isinstance(data, PMap):
        return _mapping_rows(data, shown, key)
    message = "the data file is empty" if data is None else "the data file holds a scalar"
    raise _Bad(Problem(Loc(shown, 1, 1), message, "a list of rows, or a mapping of key -> row"))


def _list_rows(data: PList, shown: str, key: str | None) -> list[Row]:
    if key is None:
        raise _Bad(Problem(data.loc, "a list of rows needs variants_key", _NEEDS_KEY))
    rows: list[Row] = []
    seen: dict[str, int] = {}
    for item, loc in zip(data, data.item_locs, strict=True):
        where = loc or Loc(shown, 1, 1)
        if not isinstance(item, PMap):
            raise _Bad(Problem(where, "a row must be a mapping of column -> value"))
        rows.append(_keyed(item.get(key), item, where, key, seen, len(rows)))
    return rows


def _mapping_rows(data: PMap, shown: str, key: str | None) -> list[Row]:
    """key -> row: each key is its row's variant key (bound to `key` too, when given)."""
    rows: list[Row] = []
    seen: dict[str, int] = {}
    for name, item in data.items():
        where = data.key_locs.get(name) or Loc(shown, 1, 1)
        if item is not None and not isinstance(item, PMap):
            raise _Bad(Problem(data.val_locs.get(name, where), "a row must be a mapping"))
        row = PMap(where)
        if key is not None:
            if item is not None and key in item:
                raise _Bad(
                    Problem(
                        item.key_locs.get(key, where),
                        f"'{key}' is this row's key; drop the column",
                        "in a mapping of rows, each key is its row's variants_key",
                    )
                )
            row.put(key, name, where, where)
        given = item if isinstance(item, PMap) else PMap(where)  # `acme:` alone: no columns
        for column, value in given.items():
            row.put(column, value, given.key_locs.get(column), given.val_locs.get(column))
        rows.append(_keyed(name, row, where, key or "the key", seen, len(rows)))
    return rows


def _keyed(
    value: Any, row: PMap, loc: Loc, key: str | None, seen: dict[str, int], count: int
) -> Row:
    """The row keyed by `value` (its key column), or _Bad for a missing, empty, invalid or
    repeated key, and past MAX_VARIANTS rows."""
    if count >= MAX_VARIANTS:
        raise _Bad(
            Problem(
                loc,
                f"more than {MAX_VARIANTS:,} rows; refused",
                "split the data into several files",
            )
        )
    if value is None:
        raise _Bad(
            Problem(loc, f"row has no {key}", f"every row needs its variant key in column '{key}'")
        )
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _Bad(Problem(loc, f"{key} must be a string, not {type(value).__name__}", _KEY_HINT))
    text = str(value)
    if not text:
        raise _Bad(
            Problem(loc, f"empty {key}", f"every row needs its variant key in column '{key}'")
        )
    if bad := _segment_problem(text):
        raise _Bad(Problem(loc, f"variant key {text!r} {bad}", _KEY_HINT))
    if text in seen:
        raise _Bad(Problem(loc, f"duplicate variant key '{text}'", f"first at line {seen[text]}"))
    seen[text] = loc.line
    return Row(text, row, loc)


def _matrix(node: PMap, problems: list[Problem]) -> _Matrix | None:
    """`matrix:` (none: []), or None after a problem."""
    raw = expect_map(node.get("matrix"), node.val_locs.get("matrix"), "matrix", problems)
    if "matrix" in node and not isinstance(node.get("matrix"), PMap):
        return None
    if "matrix" in node and not raw:
        problems.append(Problem(raw.loc, "matrix names no list", "e.g. language: [en, es]"))
        return None
    out: _Matrix = []
    ok = True
    for name, values in raw.items():
        where = raw.val_locs.get(name)
        if not isinstance(values, PList) or not values:
            problems.append(
                Problem(
                    where, f"matrix '{name}' must be a non-empty list", "e.g. language: [en, es]"
                )
            )
            ok = False
            continue
        items: list[tuple[str, Any, Loc | None]] = []
        for value, loc in zip(values, values.item_locs, strict=True):
            text = _segment(value)
            bad = "is not a string or number" if text is None else _segment_problem(text)
            if bad or text is None:
                problems.append(Problem(loc or where, f"matrix value {value!r} {bad}", _KEY_HINT))
                ok = False
            elif text in (t for t, _v, _l in items):
                problems.append(
                    Problem(loc or where, f"duplicate matrix value {value!r} in '{name}'")
                )
                ok = False
            else:
                items.append((text, value, loc))
        out.append((name, items))
    return out if ok else None


def _segment(value: Any) -> str | None:
    """How a matrix value reads in an address."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    return None


def _segment_problem(text: str) -> str:
    """Why `text` cannot be one segment of an address ("" if it can)."""
    from personactl.compile.personas import address_problem  # personas imports this module

    return "contains '/'" if "/" in text else address_problem(text)
