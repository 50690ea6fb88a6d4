"""One home for the errors personactl shows to users.

`UserError` and its subclasses are "show this to the user" errors: the CLI prints
them as one line each and exits 1.  Anything else escaping is a bug.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


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
        from personactl.sensitive import scrub  # errors must not depend on secrets at import

        return scrub(text)


class PersonactlError(Exception):
    """Root of every error personactl raises on purpose."""


class UserError(PersonactlError):
    """A mistake the user can fix; printed as one line, exit 1."""

    def __init__(self, message: str, loc: Loc | None = None, hint: str = "") -> None:
        self.problem = Problem(loc, message, hint)
        super().__init__(self.problem.format())

    @property
    def problems(self) -> list[Problem]:
        return [self.problem]


class ConfigErrors(UserError):
    """Several configuration problems found in one run, reported together."""

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

    def __str__(self) -> str:
        return "\n".join(p.format() for p in self._problems)


class ApiError(UserError):
    """The remote API refused or failed a request (after retries)."""

    def __init__(self, message: str, status: int | None = None, hint: str = "") -> None:
        self.status = status
        super().__init__(message, None, hint)


class LockHeld(UserError):
    """Another process holds the state lock."""


class StalePlan(UserError):
    """A saved plan no longer matches the deployed personas or secrets."""
