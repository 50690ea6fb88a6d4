"""One home for the errors personactl shows to users.

`UserError` and its subclasses are "show this to the user" errors: the CLI prints
them as one line each and exits 1.  Anything else escaping is a bug.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from personactl.sensitive import scrub


@dataclass(frozen=True, order=True, slots=True)
class Loc:
    """A source position: file path (as shown to users), 1-based line and column."""

    path: str
    line: int = 0
    col: int = 0
    # The value is a YAML block scalar (`|` / `>`): its text starts on the line after
    # `line`, which is where the indicator is.  Used to map template line numbers.
    block: bool = field(default=False, compare=False, repr=False)

    def __str__(self) -> str:
        if self.line:
            return f"{self.path}:{self.line}:{self.col or 1}"
        return self.path


@dataclass(frozen=True)
class Problem:
    """One diagnostic: an error or a warning at a source position."""

    loc: Loc | None
    message: str
    hint: str = ""
    warning: bool = False
    # the addresses of the resources the problem is found in (a resource's schema check),
    # several when one line of a shared base breaks them all (see `grouped`)
    subjects: tuple[str, ...] = ()

    def format(self, *, labelled: bool = True) -> str:
        """The line users see: `path:line:col: message (hint: ...)` (DESIGN §4), or,
        without a position, `error: message` / `warning: message`.  The one place that
        decides the label; `label()` tells the CLI which word to colour.  An exception's
        own text is not `labelled` (a library caller knows it caught an error)."""
        where = f"{self.loc}: " if self.loc else ""
        label = self.label() if labelled or self.warning else ""
        return f"{where}{label}: {self.text()}" if label else f"{where}{self.text()}"

    def label(self) -> str:
        """`warning`, `error` for an unlocated error (its position says it otherwise), or ""."""
        return "warning" if self.warning else "" if self.loc else "error"

    def text(self) -> str:
        """The message with its subjects and hint, without position or label (annotations)."""
        text = self.message
        if len(self.subjects) == 1:
            text = f"{self.subjects[0]}: {self.message}"
        elif self.subjects:
            text += f" ({_reach(self.subjects)})"
        if self.hint:
            text += f" (hint: {self.hint})"
        return scrub(text)


SHOWN_SUBJECTS = 3  # addresses a grouped problem names before "and N more"


def _reach(subjects: tuple[str, ...]) -> str:
    """`in 5 personas: a, b, c, and 2 more` (`tools:x` addresses count as tools)."""
    kinds = {s.partition(":")[0] if ":" in s else "personas" for s in subjects}
    noun = kinds.pop() if len(kinds) == 1 else "resources"
    shown = ", ".join(subjects[:SHOWN_SUBJECTS])
    more = len(subjects) - SHOWN_SUBJECTS
    return f"in {len(subjects)} {noun}: {shown}" + (f", and {more} more" if more > 0 else "")


def grouped(problems: Iterable[Problem]) -> list[Problem]:
    """Each problem once, in order; one found at the same position in several resources
    (a line of a shared base) becomes one problem naming them all."""
    groups: dict[Problem, list[str]] = {}
    for p in problems:
        subjects = groups.setdefault(replace(p, subjects=()), [])
        subjects.extend(s for s in p.subjects if s not in subjects)
    return [replace(p, subjects=tuple(s)) for p, s in groups.items()]


def total(problems: Iterable[Problem]) -> str:
    """`3 errors, 1 warning in 2 files` (the files of the located problems)."""
    found = list(problems)
    errors = sum(1 for p in found if not p.warning)
    warnings = len(found) - errors
    parts = [_counted(errors, "error")] + ([_counted(warnings, "warning")] if warnings else [])
    files = {p.loc.path for p in found if p.loc is not None}
    where = f" in {_counted(len(files), 'file')}" if files else ""
    return ", ".join(parts) + where


def _counted(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def did_you_mean(word: str, candidates: Iterable[str], cutoff: float = 0.6) -> str:
    """A "did you mean 'x'?" hint for the closest candidate (case-insensitive fallback), or "".

    A higher `cutoff` for a large pool of unrelated names (environment variables)."""
    pool = list(candidates)
    match = difflib.get_close_matches(word, pool, n=1, cutoff=cutoff)
    if not match:
        lowered = {c.lower(): c for c in pool}
        close = difflib.get_close_matches(word.lower(), list(lowered), 1, cutoff)
        match = [lowered[m] for m in close]
    return f"did you mean {match[0]!r}?" if match else ""


class PersonactlError(Exception):
    """Root of every error personactl raises on purpose."""


class UserError(PersonactlError):
    """A mistake the user can fix; printed as one line per problem, exit 1."""

    def __init__(self, message: str, loc: Loc | None = None, hint: str = "") -> None:
        self.problem = Problem(loc, message, hint)
        super().__init__(self.problem.format(labelled=False))

    @property
    def problems(self) -> list[Problem]:
        return [self.problem]

    def __str__(self) -> str:
        return "\n".join(p.format(labelled=False) for p in self.problems)


class ConfigErrors(UserError):
    """Several configuration problems found in one run, reported together, by position."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        # a base shared by several personas reports each of its problems once
        self._problems = grouped(
            sorted(
                set(p for p in problems if not p.warning),
                key=lambda p: (p.loc or Loc(""), p.format()),
            )
        )
        first = self._problems[0] if self._problems else Problem(None, "invalid configuration")
        super().__init__(first.message, first.loc, first.hint)

    @property
    def problems(self) -> list[Problem]:
        return self._problems


class ApiError(UserError):
    """The remote API refused or failed a request (after retries)."""

    def __init__(self, message: str, status: int | None = None, hint: str = "") -> None:
        self.status = status
        super().__init__(message, None, hint)


class LockHeld(UserError):
    """Another process holds the state lock."""


class StalePlan(UserError):
    """A saved plan no longer matches the deployed resources or secrets: every reason,
    then the refusal."""

    def __init__(self, reasons: Iterable[Problem], plan_command: str = "personactl plan") -> None:
        self._problems = [
            *reasons,
            Problem(
                None,
                "refusing to apply a stale plan; nothing was changed",
                f"run `{plan_command}` again",
            ),
        ]
        super().__init__("plan is stale")

    @property
    def problems(self) -> list[Problem]:
        return self._problems
