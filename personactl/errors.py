"""One home for the errors personactl shows to users.

`UserError` and its subclasses are "show this to the user" errors: the CLI prints
them as one line each and exits 1.  Anything else escaping is a bug.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field

from personactl.sensitive import scrub


@dataclass(frozen=True, order=True)
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

    def format(self) -> str:
        where = f"{self.loc}: " if self.loc else ""
        kind = "warning: " if self.warning else ""
        text = f"{where}{kind}{self.message}"
        if self.hint:
            text += f" (hint: {self.hint})"
        return scrub(text)


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """A "did you mean 'x'?" hint for the closest candidate (case-insensitive fallback), or ""."""
    pool = list(candidates)
    match = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
    if not match:
        lowered = {c.lower(): c for c in pool}
        match = [lowered[m] for m in difflib.get_close_matches(word.lower(), list(lowered), 1, 0.6)]
    return f"did you mean {match[0]!r}?" if match else ""


class PersonactlError(Exception):
    """Root of every error personactl raises on purpose."""


class UserError(PersonactlError):
    """A mistake the user can fix; printed as one line per problem, exit 1."""

    def __init__(self, message: str, loc: Loc | None = None, hint: str = "") -> None:
        self.problem = Problem(loc, message, hint)
        super().__init__(self.problem.format())

    @property
    def problems(self) -> list[Problem]:
        return [self.problem]

    def __str__(self) -> str:
        return "\n".join(p.format() for p in self.problems)


class ConfigErrors(UserError):
    """Several configuration problems found in one run, reported together, by position."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self._problems = sorted(
            # a base shared by several personas reports its own problems once
            set(p for p in problems if not p.warning),
            key=lambda p: (p.loc or Loc(""), p.message),
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
