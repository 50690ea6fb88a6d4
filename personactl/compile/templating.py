"""Sandboxed, strict Jinja over every string of a layered document.

`secret('NAME')` renders to an opaque placeholder, never the value: compiled
payloads, plans and state can then never hold a secret.  `personactl.sensitive`
swaps placeholders for real values only at the moment a request is sent.
`ref('ADDRESS')` renders to a reference placeholder (`personactl.refs`) and is
recorded with the template position that called it, so a compile can check the
address and the reference graph once every resource is known.
"""

from __future__ import annotations

import functools
import os
import re
import string
import sys
import time
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import jinja2
from jinja2 import meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import generate_lorem_ipsum
from jinja2.visitor import NodeTransformer

from personactl import refs
from personactl.compile.source import PList, PMap
from personactl.errors import Loc, Problem, did_you_mean
from personactl.kinds import canonical
from personactl.output import json_key
from personactl.project import confined
from personactl.sensitive import placeholder

_MARKERS = ("{{", "{%", "{#")

# Templates arrive through pull requests and run in CI next to secrets: Jinja's sandbox
# guards attributes, not work, so rendering has a budget enforced inside the sandbox.
# The limits are far above any real prompt (a few kB, rendered in about a millisecond).
MAX_RESULT = 1_000_000  # characters (or items) of any one value a template builds
MAX_BUILT = 20_000_000  # characters of every value one persona's templates build, in all
# CPU time of the rendering thread (not wall time: a busy CI machine must not fail a
# template that is merely descheduled) to render one persona (or conversation body)
MAX_SECONDS = 0.5
CLOCK_EVERY = 16  # budget ticks between reads of the CPU clock
MAX_NESTING = 64  # macro calls, includes and extends inside one another
MAX_INT_BITS = 16_384  # a number a template computes (about 4,900 digits)
MAX_RANGE = 100_000  # numbers in one range()
_LIMITS_HINT = (
    f"templates render in under {MAX_SECONDS} s per persona, values of up to "
    f"{MAX_RESULT:,} characters, {MAX_BUILT:,} in all"
)
# A rendered string is reused for a later value with the same source and the same values
# of every variable it (or a template it includes) reads, unless it calls one of these:
# ref() records its caller, env() may be refused once secret() has seen the name,
# lipsum() and the random filter are random.
_UNREPEATABLE = frozenset({"ref", "env", "lipsum"})
_RANDOM_FILTERS = frozenset({"random"})
MAX_REUSED = 16_384  # rendered strings kept for reuse per renderer
MAX_REUSED_CHARS = 100_000  # longer results are rendered again rather than kept
_MISSING = ("missing",)  # the key of a variable a template reads but nobody defined
_T = TypeVar("_T")
_FORMAT_WIDTH = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(\*|\d+)?(?:\.(\*|\d+))?")


class LimitExceeded(SecurityError):
    """A template went over its budget; `spent`: the rest of the document is not rendered."""

    def __init__(self, message: str, *, spent: bool = False) -> None:
        super().__init__(message)
        self.spent = spent


def _size(value: Any, limit: int = MAX_RESULT) -> int:
    """About how many characters `value` takes once printed; stops counting past `limit`."""
    total = 0
    stack = [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, bool) or not isinstance(item, (int, list, tuple, set, dict)):
            total += 1
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 1
        elif isinstance(item, dict):
            total += 1
            stack.extend(item.keys())
            stack.extend(item.values())
        else:
            total += 1
            stack.extend(item)
    return total


def _too_long(estimate: int) -> None:
    if estimate > MAX_RESULT:
        raise LimitExceeded(f"a value longer than {MAX_RESULT:,} characters")


def _field_count_and_widths(fmt: str, percent: bool) -> tuple[int, int, bool]:
    """Fields of a format string, the sum of the widths/precisions it writes, and whether
    a width comes from an argument (`*` or a nested `{}`)."""
    if percent:
        found = _FORMAT_WIDTH.findall(fmt)
        parts = [p for pair in found for p in pair]
        return len(found), sum(int(p) for p in parts if p.isdigit()), "*" in parts
    fields = widths = 0
    nested = False
    try:
        for _text, field, spec, _conv in string.Formatter().parse(fmt):
            if field is not None:
                fields += 1
                widths += sum(int(n) for n in re.findall(r"\d+", spec or ""))
                nested = nested or "{" in (spec or "")
    except ValueError:  # malformed: the real call says so
        pass
    return fields, widths, nested


def _format_estimate(fmt: Any, args: Any, percent: bool) -> int:
    if not isinstance(fmt, str):
        return 0
    values = list(args.values()) if isinstance(args, dict) else list(args)
    fields, widths, from_args = _field_count_and_widths(fmt, percent)
    largest = max((_size(v) for v in values), default=0)
    estimate = len(fmt) + fields * largest + widths
    if from_args:  # a width taken from the arguments: the largest number among them
        estimate += max((abs(v) for v in values if isinstance(v, int)), default=0)
    return estimate


def _join_estimate(items: Any, sep: Any) -> int:
    return _size(items) + len(str(sep)) * len(items)


def _width(value: Any, width: Any = 0, *_: Any, **__: Any) -> int:
    return max(len(str(value)), width if isinstance(width, int) else 0)


def _indent(s: Any, width: Any = 4, *_: Any, **__: Any) -> int:
    text = str(s)
    step = width if isinstance(width, int) else len(str(width))
    return len(text) + (text.count("\n") + 1) * step


def _replace(s: Any, old: Any, new: Any, count: Any = None, *_: Any) -> int:
    text, old = str(s), str(old)
    hits = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return len(text) + hits * len(str(new))


def _wordwrap(s: Any, width: Any = 79, _long: Any = True, wrapstring: Any = None, *_: Any) -> int:
    text = str(s)
    lines = len(text) // max(width if isinstance(width, int) else 1, 1) + text.count("\n") + 1
    return len(text) + lines * len(str(wrapstring or "\n"))


def _filled(value: Any, count: Any = 0, fill_with: Any = None, *_: Any) -> int:
    extra = count if isinstance(count, int) else 0
    return _size(value) + extra * _size(fill_with)


def _sliced(value: Any, slices: Any = 0, *_: Any, **__: Any) -> int:
    return _size(value) + (slices if isinstance(slices, int) else 0)


def _numeric_sum(iterable: Any, attribute: Any = None, start: Any = 0) -> int:  # noqa: ARG001
    if not isinstance(start, (int, float)):
        # sum(start=[]) concatenates: quadratic time for a list of lists
        raise LimitExceeded("sum() adds numbers; use join for strings")
    return 0


# The size of a filter's (or str method's) result, estimated before it is computed:
# only for those whose result can be much larger than their input.
_FILTER_ESTIMATES: dict[str, Callable[..., int]] = {
    "center": _width,
    "indent": _indent,
    "replace": _replace,
    "wordwrap": _wordwrap,
    "format": lambda value, *args, **kwargs: _format_estimate(value, kwargs or args, True),
    "join": lambda value, d="", *_, **__: _join_estimate(value, d),
    "batch": _filled,
    "slice": _sliced,
    "sum": _numeric_sum,
}
_STR_METHOD_ESTIMATES: dict[str, Callable[..., int]] = {
    "center": _width,
    "ljust": _width,
    "rjust": _width,
    "zfill": _width,
    "expandtabs": lambda s, tabsize=8: len(s) * (1 + max(tabsize, 0)),
    "replace": _replace,
    "join": lambda sep, items: _join_estimate(items, sep),
    "format": lambda fmt, *args, **kwargs: _format_estimate(fmt, [*args, *kwargs.values()], False),
    "format_map": lambda fmt, mapping: _format_estimate(fmt, mapping, False),
}


class _Metered(NodeTransformer):
    """Routes the two kinds of template code no hook sees through budget filters: a
    `for` loop (an empty body calls nothing) and `~` (which joins without a call)."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, "_metered_iter", [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        items = nodes.Tuple(node.nodes, "load", lineno=node.lineno)
        return nodes.Filter(items, "_metered_concat", [], [], None, None, lineno=node.lineno)


class _Budget:
    """What one document's templates may still spend."""

    def __init__(self) -> None:
        self.deadline = time.thread_time() + MAX_SECONDS
        self.built = 0
        self.depth = 0
        self.spent = False
        self.ticks = 0

    def tick(self) -> None:
        # the thread's CPU clock is a system call: read it every CLOCK_EVERY ticks (a
        # tick is a bounded step: a loop turn, a call, a value built)
        self.ticks += 1
        if self.ticks % CLOCK_EVERY == 0 and time.thread_time() > self.deadline:
            self.spent = True
            raise LimitExceeded(
                f"rendering took longer than {MAX_SECONDS} s (a loop too large?)", spent=True
            )

    def add(self, value: _T) -> _T:
        """Account for a value a template built; refuse it when too large."""
        size = _size(value)
        _too_long(size)
        self._build(size)
        return value

    def charge(self, spent: _Reused) -> None:
        """Account for a render reused instead of repeated, as if it had run again."""
        self.deadline -= spent.seconds
        self._build(spent.built)

    def _build(self, size: int) -> None:
        self.built += size
        if self.built > MAX_BUILT:
            self.spent = True
            raise LimitExceeded(
                f"the templates built more than {MAX_BUILT:,} characters in all", spent=True
            )
        self.tick()


@dataclass(frozen=True)
class _Reused:
    """A rendered string and what rendering it cost (charged to the budget on reuse)."""

    text: str
    seconds: float
    built: int
    printed: Any  # the last `{{ }}` value: a single expression's native type (_native)


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, templates_dir: Path, **options: Any) -> None:
        super().__init__(**options)
        self.templates_dir = str(templates_dir)
        self.budget = _Budget()
        self.loaded: set[str] = set()  # template names loaded since Renderer.start_file
        self.filters = {name: self._guard(name, f) for name, f in self.filters.items()}
        self.filters["_metered_iter"] = self._metered_iter
        self.filters["_metered_concat"] = self._metered_concat
        self.globals["range"] = self._range
        self.globals["lipsum"] = self._lipsum
        self.finalize = self._finalize
        self.printed: Any = None

    # --- the hooks

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        metered: nodes.Template = _Metered().visit(tree)
        return metered

    def concat(self, chunks: Iterable[str]) -> str:  # type: ignore[override]
        # every rendered template, macro body and {% set %} block is joined here
        budget = self.budget
        total = 0
        parts = []
        for chunk in chunks:
            total += len(chunk)
            _too_long(total)
            budget.tick()
            parts.append(chunk)
        return budget.add("".join(parts))

    # pass_context: Jinja then prints constants at run time too (`{{ 5 }}` is not folded
    # into the template's text), so every `{{ }}` comes through here
    @jinja2.pass_context
    def _finalize(self, _context: Context, value: Any) -> Any:
        # `{{ value }}` prints it: check its size before str() builds the text
        _too_long(_size(value))
        self.printed = value  # before it becomes text: see Renderer._native
        return value

    def _metered_iter(self, items: Any) -> Iterator[Any]:
        tick = self.budget.tick
        for item in items:
            tick()
            yield item

    def _metered_concat(self, items: tuple[Any, ...]) -> str:
        _too_long(_size(items))
        return self.budget.add("".join(map(str, items)))

    def _guard(self, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        estimate = _FILTER_ESTIMATES.get(name)
        skip = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0

        @functools.wraps(func)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            self.budget.tick()
            if name == "join":
                args = _listed(args, skip)
            if len(args) > skip:
                _too_long(_size(args[skip]))
            if estimate is not None and len(args) > skip:
                self._check_estimate(estimate, args[skip:], kwargs)
            return self.budget.add(func(*args, **kwargs))

        return guarded

    @staticmethod
    def _check_estimate(estimate: Callable[..., int], args: Any, kwargs: dict[str, Any]) -> None:
        try:
            size = estimate(*args, **kwargs)
        except (TypeError, ValueError):  # wrong arguments: the real call says which
            return
        _too_long(size)

    def call(
        __self,  # noqa: N805 - Jinja passes every argument through, positionally
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        budget = __self.budget
        budget.tick()
        method = getattr(__obj, "__wrapped__", __obj)  # the sandbox wraps str.format
        owner = getattr(method, "__self__", None)
        if isinstance(owner, str):
            estimate = _STR_METHOD_ESTIMATES.get(getattr(method, "__name__", ""))
            if estimate is not None:
                if method.__name__ == "join":
                    args = _listed(args, 0)
                __self._check_estimate(estimate, (owner, *args), kwargs)
        if budget.depth >= MAX_NESTING:
            raise LimitExceeded(_nesting_message())
        budget.depth += 1
        try:
            result = super().call(__context, __obj, *args, **kwargs)
        finally:
            budget.depth -= 1
        return budget.add(result)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        self.budget.tick()
        both_ints = isinstance(left, int) and isinstance(right, int)
        if operator == "**" and both_ints and right > 0 and abs(left) > 1:
            _big_number(left.bit_length() * right)
        elif operator == "*" and both_ints:
            _big_number(left.bit_length() + right.bit_length())
        elif operator == "*":
            for count, seq in ((left, right), (right, left)):
                if (
                    isinstance(count, int)
                    and isinstance(seq, (str, list, tuple))
                    and count * _size(seq) > MAX_RESULT
                ):
                    raise LimitExceeded(f"a repetition longer than {MAX_RESULT:,} items")
        elif operator == "+" and not both_ints:
            _too_long(_size(left) + _size(right))
        elif operator == "%" and isinstance(left, str):
            args = right if isinstance(right, (tuple, dict)) else (right,)
            _too_long(_format_estimate(left, args, True))
        return self.budget.add(super().call_binop(context, operator, left, right))

    def get_template(self, *args: Any, **kwargs: Any) -> jinja2.Template:
        # include/import/extends: count the templates already rendering on this stack
        self.budget.tick()
        frame = sys._getframe(1)
        depth = 0
        while frame is not None:
            name = frame.f_code.co_filename
            if name == "<template>" or name.startswith(self.templates_dir):
                depth += 1
                if depth > MAX_NESTING:
                    raise LimitExceeded(_nesting_message())
            frame = frame.f_back  # type: ignore[assignment]
        return super().get_template(*args, **kwargs)

    def _load_template(
        self, name: str, globals: MutableMapping[str, Any] | None
    ) -> jinja2.Template:
        # every include/import/extends passes here, Jinja's cache or not (select_template
        # too): a compile's inputs are the templates its files loaded (or tried to)
        self.loaded.add(name)
        return super()._load_template(name, globals)

    # --- bounded globals

    def _range(self, *args: int) -> range:
        numbers = range(*args)
        # len() of a range of huge numbers overflows; compare without it
        step = numbers.step
        if abs(numbers.stop - numbers.start) // abs(step) > MAX_RANGE:
            raise LimitExceeded(f"a range of more than {MAX_RANGE:,} numbers")
        return numbers

    def _lipsum(self, n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:  # noqa: A002
        _too_long(n * max * 12)  # a word and its separator: at most 12 characters
        return self.budget.add(generate_lorem_ipsum(n, html, min, max))


def _listed(args: tuple[Any, ...], index: int) -> tuple[Any, ...]:
    """`args` with the items to join as a list: a generator's size is known only once run."""
    if len(args) <= index or isinstance(args[index], (list, tuple, str)):
        return args
    try:
        items = list(args[index])
    except TypeError:  # not iterable: the real call says so
        return args
    return (*args[:index], items, *args[index + 1 :])


def _nesting_message() -> str:
    return (
        f"templates nested deeper than {MAX_NESTING} levels "
        "(a recursive macro, include or extends?)"
    )


def _big_number(bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise LimitExceeded(f"a number larger than {MAX_INT_BITS:,} bits")


class _ConfinedLoader(jinja2.FileSystemLoader):
    """Templates are files inside templates/ (itself inside the project): a symlink
    out of it (to /proc/self/environ, say) is refused before it is opened.  (Jinja's
    own loader opens regular files only.)"""

    def __init__(self, root: Path, templates_dir: Path) -> None:
        super().__init__(str(templates_dir))
        self.root = root.resolve()
        self.folder = templates_dir

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        path = self.folder.joinpath(*jinja2.loaders.split_template_path(template))
        if (path.exists() or path.is_symlink()) and not confined(path, self.folder, self.root):
            raise SecurityError(
                f"template '{template}' is not a file inside templates/ (a symlink out of it?)"
            )
        return super().get_source(environment, template)


class TemplateFailure(Exception):
    """Rendering one string failed; carries a ready Problem."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.format())
        self.problem = problem


@dataclass(frozen=True)
class RefCall:
    """One `ref()` a template made: from the resource being rendered (None outside one,
    in a conversation), to an address, at the template position of the call."""

    owner: str | None
    target: str
    loc: Loc | None


class Renderer:
    """One Jinja environment per project: compiled templates are cached and shared."""

    def __init__(
        self,
        root: Path,
        templates_dir: Path,
        secret_env_names: Callable[[], dict[str, str]] | None = None,
    ) -> None:
        """`secret_env_names`: name -> why, of variables env() must not read (called once,
        on the first env(): most repositories never call it)."""
        self.root = root
        self.templates_dir = templates_dir
        self._secret_env_source = secret_env_names
        self._secret_env: dict[str, str] | None = None
        # names secret() was called with so far: env() may not read them afterwards
        self.secret_calls: set[str] = set()
        self.env = _BoundedSandbox(
            templates_dir,
            loader=_ConfinedLoader(root, templates_dir),
            undefined=jinja2.StrictUndefined,
            auto_reload=False,
            cache_size=-1,
            keep_trailing_newline=False,
            autoescape=False,
        )
        self.env.globals["secret"] = self._secret
        self.env.globals["env"] = self._env
        self.env.globals["ref"] = self._ref
        # env() values read while rendering: a cached result is only valid while they hold
        self.env_reads: dict[str, str | None] = {}
        # every name env() was asked for -> why it was refused (None: it was read)
        self.env_asked: dict[str, str | None] = {}
        # every ref() made, in order (a dict as an ordered set)
        self.ref_calls: dict[RefCall, None] = {}
        # the running command takes --var (preview, conversation, llm): hints may say so
        self.var_option = False
        self._value_loc: Loc | None = None  # of the YAML value being rendered
        self._compiled: dict[str, jinja2.Template] = {}
        # template source (and file under templates/) -> the variables its output depends
        # on, None when it cannot be reused (see _UNREPEATABLE)
        self._reads: dict[str, frozenset[str] | None] = {}
        self._file_reads: dict[str, frozenset[str] | None] = {}
        self._reused: dict[tuple[Any, ...], _Reused] = {}
        self.renders = 0  # Jinja renders run (not reused): PERSONACTL_DEBUG_COMPILE shows it

    def start_file(self, secret_calls: set[str]) -> None:
        """Record what one source file's compile reads from here on (env_reads, env_asked,
        ref_calls, template_paths), `secret_calls` made before it."""
        self.env_reads = {}
        self.env_asked = {}
        self.ref_calls = {}
        self.env.loaded = set()
        self.secret_calls = set(secret_calls)

    def template_paths(self) -> set[Path]:
        """The template files loaded (or looked for) since start_file."""
        return {self.templates_dir.joinpath(*name.split("/")) for name in self.env.loaded}

    def refusal(self, name: str, secret_calls: set[str]) -> str | None:
        """Why env(name) is refused after `secret_calls` (None: it is read)."""
        if self._secret_env is None:
            source = self._secret_env_source
            self._secret_env = source() if source is not None else {}
        why = self._secret_env.get(name)
        if why is None and name in secret_calls:
            why = "used with secret()"
        return why

    def _env(self, name: str, default: Any = None) -> Any:
        why = self.refusal(name, self.secret_calls)
        self.env_asked[name] = why
        if why is not None:
            raise _TemplateFunctionError(
                f"env('{name}') reads a secret ({name} is {why})",
                f"use secret('{name}'): its value is never printed",
            )
        value = os.environ.get(name)
        self.env_reads[name] = value
        if value is not None:
            return value
        if default is None:
            raise _TemplateFunctionError(
                f"environment variable {name} is not set (give env() a default to make it optional)"
            )
        return default

    def _secret(self, name: str) -> str:
        if isinstance(name, jinja2.Undefined):  # secret(TTS_API_KEY): a variable, unset
            unquoted = getattr(name, "_undefined_name", None) or "NAME"
            raise _TemplateFunctionError(f"secret() takes a quoted name: secret('{unquoted}')")
        if not isinstance(name, str) or not name:
            raise _TemplateFunctionError("secret() takes the name of an environment variable")
        self.secret_calls.add(name)  # a computed name too: later env() calls are refused
        return placeholder(name)

    @jinja2.pass_context
    def _ref(self, context: Context, address: Any) -> str:
        if not isinstance(address, str) or not address:
            raise _TemplateFunctionError(
                "ref() takes the address of a resource of this repository",
                "e.g. ref('tools:get_weather'); `personactl list` shows every address",
            )
        meta = context.get("personactl")
        owner = meta.get("address") if isinstance(meta, dict) else None
        target = canonical(address)
        self.ref_calls[RefCall(owner, target, self._call_loc())] = None
        return refs.placeholder(target)

    def _call_loc(self) -> Loc | None:
        """The template position of the running call (the innermost template frame)."""
        frame = sys._getframe(1)
        while frame is not None:
            template = frame.f_globals.get("__jinja_template__")
            if isinstance(template, jinja2.Template):
                line = template.get_corresponding_lineno(frame.f_lineno)
                return self._template_loc(template.filename, line, self._value_loc)
            frame = frame.f_back  # type: ignore[assignment]
        return self._value_loc

    def render_string(self, source: str, variables: dict[str, Any], loc: Loc | None) -> str:
        """One string, with a budget of its own."""
        self.env.budget = _Budget()
        return self._render_string(source, variables, loc)

    def _render_string(self, source: str, variables: dict[str, Any], loc: Loc | None) -> str:
        # every marker starts with "{": most strings (names, URLs) have none
        if "{" not in source or not any(m in source for m in _MARKERS):
            return source
        try:
            return self._rendered(source, variables, loc)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateFailure(self._syntax_problem(exc, loc)) from None
        except jinja2.TemplateNotFound as exc:
            raise TemplateFailure(
                Problem(
                    # the include/import/extends that asked for it: a template file's line
                    self._runtime_loc(loc),
                    f"template '{exc.name}' not found",
                    f"include paths are relative to {self._shown(self.templates_dir)}/",
                )
            ) from None
        except LimitExceeded as exc:
            raise TemplateFailure(
                Problem(self._runtime_loc(loc), f"sandbox violation: {exc}", _LIMITS_HINT)
            ) from None
        except SecurityError as exc:
            raise TemplateFailure(
                Problem(self._runtime_loc(loc), f"sandbox violation: {exc}")
            ) from None
        except RecursionError:  # a last resort: MAX_NESTING stops recursion far earlier
            raise TemplateFailure(
                Problem(self._runtime_loc(loc), f"sandbox violation: {_nesting_message()}")
            ) from None
        except jinja2.UndefinedError as exc:
            raise TemplateFailure(
                Problem(
                    self._runtime_loc(loc),
                    f"undefined variable: {exc.message}",
                    self._undefined_hint(exc.message or "", variables),
                )
            ) from None
        except _TemplateFunctionError as exc:
            raise TemplateFailure(Problem(self._runtime_loc(loc), str(exc), exc.hint)) from None
        except (TypeError, ValueError, ArithmeticError, LookupError, jinja2.TemplateError) as exc:
            # an unknown test inside {% if %} is only found when the branch runs
            unknown = _unknown_name(str(exc), self.env)
            message, hint = unknown or (f"template error: {exc}", "")
            raise TemplateFailure(Problem(self._runtime_loc(loc), message, hint)) from None

    def _undefined_hint(self, message: str, variables: dict[str, Any]) -> str:
        """A near variable's name when there is one; --var only where the command has it."""
        declare = (
            "declare it under vars: or pass it with --var"
            if self.var_option
            else ("declare it under vars:")
        )
        unknown = _UNDEFINED.match(message)
        near = did_you_mean(unknown.group(1), variables) if unknown else ""
        return f"{near} otherwise {declare}" if near else declare

    def _rendered(self, source: str, variables: dict[str, Any], loc: Loc | None) -> str:
        """`source` rendered: compiled once, and reused for the same inputs."""
        template = self._compiled.get(source)
        if template is None:
            # parsed once for both: what it reads (before compiling, which may fold
            # constants in the tree) and the code (from_string would parse it again)
            tree = self.env.parse(source)
            try:
                reads = self._inputs(tree, ())
            except jinja2.TemplateSyntaxError:  # an unknown filter: the compile says where
                reads = None
            code = self.env.compile(tree)
            template = self.env.template_class.from_code(
                self.env, code, self.env.make_globals(None), None
            )
            self._compiled[source] = template
            self._reads.setdefault(source, reads)
        budget = self.env.budget
        key = self._reuse_key(source, variables)
        if key is not None and (reused := self._reused.get(key)) is not None:
            budget.charge(reused)
            self.env.printed = reused.printed
            return reused.text
        self._value_loc = loc
        started, built = time.thread_time(), budget.built
        self.renders += 1
        text = template.render(variables)
        if key is not None and len(text) <= MAX_REUSED_CHARS and len(self._reused) < MAX_REUSED:
            spent = time.thread_time() - started
            self._reused[key] = _Reused(text, spent, budget.built - built, self.env.printed)
        return text

    def _reuse_key(self, source: str, variables: dict[str, Any]) -> tuple[Any, ...] | None:
        """What a render of `source` depends on, or None when it must run each time."""
        if source not in self._reads:
            self._reads[source] = self._inputs(self.env.parse(source), ())
        reads = self._reads[source]
        if reads is None:
            return None
        try:
            return (source, *(json_key(variables.get(n, _MISSING)) for n in sorted(reads)))
        except TypeError:  # a value without a key (a --var of an odd type): render it
            return None

    def _inputs(self, tree: nodes.Template, including: tuple[str, ...]) -> frozenset[str] | None:
        """The variables a template reads, with those of the templates it includes,
        imports or extends (by constant name); None if it calls an _UNREPEATABLE."""
        names = set(meta.find_undeclared_variables(tree))
        if names & _UNREPEATABLE or any(
            f.name in _RANDOM_FILTERS for f in tree.find_all(nodes.Filter)
        ):
            return None
        loads = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)
        for node in tree.find_all(loads):
            source = getattr(node, "template", None)
            name = source.value if isinstance(source, nodes.Const) else None
            if not isinstance(name, str):
                return None
            if name in including:  # recursion: the nesting limit stops the render
                continue
            if name not in self._file_reads:
                try:
                    text = self.env.loader.get_source(self.env, name)[0]  # type: ignore[union-attr]
                    found = self._inputs(self.env.parse(text), (*including, name))
                except (jinja2.TemplateError, OSError):  # the render reports it
                    found = None
                self._file_reads[name] = found
            found = self._file_reads[name]
            if found is None:
                return None
            names |= found
        return frozenset(names)

    def render_tree(
        self, value: Any, variables: dict[str, Any], problems: list[Problem], loc: Loc | None = None
    ) -> Any:
        """Render every string of a PMap/PList tree; problems are collected, not raised.

        The tree (one persona or conversation body) shares one budget (MAX_SECONDS,
        MAX_BUILT).  A subtree without any template is returned as is, not copied: trees
        are never mutated once built, and bases shared by hundreds of personas render once."""
        self.env.budget = _Budget()
        return self._render_tree(value, variables, problems, loc)

    def _render_tree(
        self, value: Any, variables: dict[str, Any], problems: list[Problem], loc: Loc | None
    ) -> Any:
        if _is_static(value) or self.env.budget.spent:  # spent: one problem, not one per string
            return value
        if isinstance(value, str):
            try:
                self.env.printed = None
                text = self._render_string(value, variables, loc)
                return self._native(value, text)
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
                    self._render_tree(item, variables, problems, item_loc),
                    key_locs.get(key),
                    item_loc,
                )
            return out
        if isinstance(value, PList):
            seq = PList(value.loc)
            for item, item_loc in zip(value, value.item_locs, strict=True):
                seq.add(self._render_tree(item, variables, problems, item_loc), item_loc)
            return seq
        return value

    def _native(self, source: str, text: str) -> Any:
        """A value that is one `{{ expression }}` and nothing else keeps the expression's
        type (`"{{ minutes * 60 }}"` is a number); any other template gives text."""
        value = self.env.printed
        typed = isinstance(value, (bool, int, float, list, tuple, dict))
        if typed and _SINGLE.match(source) and _plain(value):
            return list(value) if isinstance(value, tuple) else value
        return text

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
        unknown = _unknown_name(exc.message or "", self.env)
        if unknown is not None:
            return Problem(where, *unknown)
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


def is_template(text: str) -> bool:
    """Whether a string holds Jinja (and is rendered), as render_tree decides."""
    return not _is_static(text)


_NO_SUCH = re.compile(r"No (filter|test) named '([^']+)'")


def _unknown_name(message: str, env: jinja2.Environment) -> tuple[str, str] | None:
    """`unknown filter 'uper'` and a did-you-mean, for Jinja's "No filter named ..."."""
    found = _NO_SUCH.match(message)
    if found is None:
        return None
    what, name = found.groups()
    known = env.filters if what == "filter" else env.tests
    return f"unknown {what} '{name}'", did_you_mean(name, (k for k in known if k[0] != "_"))


_UNDEFINED = re.compile(r"'([^']+)' is undefined\Z")
# one `{{ ... }}` with only whitespace around it and no other template marker inside
_SINGLE = re.compile(r"\s*\{\{(?:(?!\}\}|\{\{|\{%|\{#).)*\}\}\s*\Z", re.DOTALL)


def _plain(value: Any) -> bool:
    """JSON data: what a payload field can hold (not a macro, a range, a loop cycler)."""
    if isinstance(value, (list, tuple)):
        return all(_plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return value is None or isinstance(value, (str, bool, int, float))


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
    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint
