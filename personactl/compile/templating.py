"""Sandboxed, strict Jinja over every string of a layered document.

`secret('NAME')` renders to an opaque placeholder, never the value: compiled
payloads, plans and state can then never hold a secret.  `personactl.sensitive`
swaps placeholders for real values only at the moment a request is sent.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from personactl.compile.source import PList, PMap
from personactl.errors import Loc, Problem
from personactl.sensitive import placeholder

_MARKERS = ("{{", "{%", "{#")
# Jinja's sandbox guards attributes, not work: cap the operators that can build huge
# values from a short template ('a' * 10**9, 2**10**10) on a CI runner.
MAX_RESULT = 1_000_000


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:  # noqa: ARG002 (Jinja's signature)
        if operator == "**":
            if isinstance(right, int) and abs(right) > 512 and not -1 <= left <= 1:
                raise SecurityError(f"exponent {right} is too large for a template")
            return left**right
        for count, seq in ((left, right), (right, left)):
            if (
                isinstance(count, int)
                and isinstance(seq, (str, list, tuple))
                and count * len(seq) > MAX_RESULT
            ):
                raise SecurityError(f"a repetition longer than {MAX_RESULT:,} items")
        return left * right


class TemplateFailure(Exception):
    """Rendering one string failed; carries a ready Problem."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.format())
        self.problem = problem


class Renderer:
    """One Jinja environment per project: compiled templates are cached and shared."""

    def __init__(self, root: Path, templates_dir: Path) -> None:
        self.root = root
        self.templates_dir = templates_dir
        self.env = _BoundedSandbox(
            loader=jinja2.FileSystemLoader(str(templates_dir)),
            undefined=jinja2.StrictUndefined,
            auto_reload=False,
            cache_size=-1,
            keep_trailing_newline=False,
            autoescape=False,
        )
        self.env.globals["secret"] = _secret
        self.env.globals["env"] = self._env
        # env() values read while rendering: a cached result is only valid while they hold
        self.env_reads: dict[str, str | None] = {}
        self._compiled: dict[str, jinja2.Template] = {}

    def _env(self, name: str, default: Any = None) -> Any:
        value = os.environ.get(name)
        self.env_reads[name] = value
        if value is not None:
            return value
        if default is None:
            raise _TemplateFunctionError(
                f"environment variable {name} is not set (give env() a default to make it optional)"
            )
        return default

    def render_string(self, source: str, variables: dict[str, Any], loc: Loc | None) -> str:
        # every marker starts with "{": most strings (names, URLs) have none
        if "{" not in source or not any(m in source for m in _MARKERS):
            return source
        try:
            template = self._compiled.get(source)
            if template is None:
                template = self.env.from_string(source)
                self._compiled[source] = template
            return template.render(variables)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateFailure(self._syntax_problem(exc, loc)) from None
        except jinja2.TemplateNotFound as exc:
            raise TemplateFailure(
                Problem(
                    loc,
                    f"template not found: {exc.name}",
                    f"include paths are relative to {self._shown(self.templates_dir)}/",
                )
            ) from None
        except SecurityError as exc:
            raise TemplateFailure(
                Problem(self._runtime_loc(loc), f"sandbox violation: {exc}")
            ) from None
        except jinja2.UndefinedError as exc:
            raise TemplateFailure(
                Problem(
                    self._runtime_loc(loc),
                    f"undefined variable: {exc.message}",
                    "declare it under vars: or pass it with --var",
                )
            ) from None
        except _TemplateFunctionError as exc:
            raise TemplateFailure(Problem(self._runtime_loc(loc), str(exc))) from None
        except (TypeError, ValueError, ArithmeticError, LookupError, jinja2.TemplateError) as exc:
            raise TemplateFailure(
                Problem(self._runtime_loc(loc), f"template error: {exc}")
            ) from None

    def render_tree(
        self, value: Any, variables: dict[str, Any], problems: list[Problem], loc: Loc | None = None
    ) -> Any:
        """Render every string of a PMap/PList tree; problems are collected, not raised.

        A subtree without any template is returned as is, not copied: trees are never
        mutated once built, and bases shared by hundreds of personas render once."""
        if _is_static(value):
            return value
        if isinstance(value, str):
            try:
                return self.render_string(value, variables, loc)
            except TemplateFailure as exc:
                problems.append(exc.problem)
                return value
        if isinstance(value, PMap):
            out = PMap(value.loc)
            key_locs = value.key_locs
            val_locs = value.val_locs
            for key, item in value.items():
                item_loc = val_locs.get(key)
                out.put(
                    key,
                    self.render_tree(item, variables, problems, item_loc),
                    key_locs.get(key),
                    item_loc,
                )
            return out
        if isinstance(value, PList):
            seq = PList(value.loc)
            for item, item_loc in zip(value, value.item_locs, strict=True):
                seq.add(self.render_tree(item, variables, problems, item_loc), item_loc)
            return seq
        return value

    def _shown(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def _template_loc(
        self, filename: str | None, lineno: int | None, loc: Loc | None
    ) -> Loc | None:
        if filename and filename != "<template>":
            return Loc(self._shown(Path(filename)), lineno or 0, 1 if lineno else 0)
        if loc is not None and lineno and (lineno > 1 or loc.block):
            # an inline template: line 1 is the YAML value's own line, or the line
            # after a block scalar's `|` / `>` indicator
            return Loc(loc.path, loc.line + lineno - 1 + int(loc.block), 1)
        return loc

    def _syntax_problem(self, exc: jinja2.TemplateSyntaxError, loc: Loc | None) -> Problem:
        where = self._template_loc(exc.filename, exc.lineno, loc)
        return Problem(where, f"template syntax error: {exc.message}")

    def _runtime_loc(self, loc: Loc | None) -> Loc | None:
        """Find the template line that failed from the (Jinja-rewritten) traceback."""
        tb: TracebackType | None = sys.exc_info()[2]
        found: tuple[str, int] | None = None
        while tb is not None:
            code = tb.tb_frame.f_code
            name = code.co_filename
            if name == "<template>" or name.startswith(str(self.templates_dir)):
                found = (name, tb.tb_lineno)
            tb = tb.tb_next
        if found is None:
            return loc
        return self._template_loc(found[0], found[1], loc)


def _is_static(value: Any) -> bool:
    if isinstance(value, str):
        return "{" not in value or not any(m in value for m in _MARKERS)
    if isinstance(value, (PMap, PList)):
        if value.static is None:
            items = value.values() if isinstance(value, PMap) else value
            tagged = isinstance(value, PList) and value.append_tag
            value.static = not tagged and all(_is_static(item) for item in items)
        return value.static
    return True


class _TemplateFunctionError(Exception):
    pass


def _secret(name: str) -> str:
    if not isinstance(name, str) or not name:
        raise _TemplateFunctionError("secret() takes the name of an environment variable")
    return placeholder(name)
