"""`validate` across environments, and its output formats (text, GitHub annotations, JSON).

Each environment is compiled (or served from its own cache entry, see personactl.compile.cache);
a problem found in several is reported once.  When a project has more than one
environment and a problem is found in only some of them, its message ends with
` [env: prod]` (or ` [env: prod, staging]`), so a typo in one environment's overrides
says where it bites.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from personactl.compile import cache
from personactl.errors import Loc, Problem
from personactl.kinds import KIND_NAMES
from personactl.project import Environment, Project

Format = Literal["text", "github", "json"]
FORMATS: tuple[Format, ...] = ("text", "github", "json")


# a kind's name for one and for several
_NOUNS = {
    "personas": ("persona", "personas"),
    "objectives": ("objective set", "objective sets"),
    "guardrails": ("guardrail", "guardrails"),
    "tools": ("tool", "tools"),
}


def _count(n: int, nouns: tuple[str, str]) -> str:
    return f"{n} {nouns[0] if n == 1 else nouns[1]}"


@dataclass(frozen=True)
class Report:
    problems: list[Problem]  # each once, in the order found; env-specific ones say so
    personas: int
    conversations: int
    resources: dict[str, int] = field(default_factory=dict)  # kind -> count, other kinds

    def counts(self) -> str:
        """`3 personas, 1 tool and 2 conversation templates` (kinds the repository has)."""
        parts = [_count(self.personas, _NOUNS["personas"])]
        # in the kinds' own order: the cache stores the counts with sorted keys
        parts += [
            _count(self.resources[kind], _NOUNS[kind])
            for kind in KIND_NAMES
            if kind in self.resources
        ]
        templates = _count(self.conversations, ("conversation template", "conversation templates"))
        return f"{', '.join(parts)} and {templates}"

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if not p.warning]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.warning]


def summary_of(project: Project, env: Environment) -> cache.Summary:
    """What `validate` reports for one environment, from the cache when inputs are unchanged."""
    key, summary = cache.load(project, env)
    if summary is None:
        from personactl.compile.compilation import compile_incremental, remember

        result = compile_incremental(project, env.name, bodies=False)
        remember(result, key)
        summary = result.summary()
    return summary


def validate(project: Project, env_name: str | None = None) -> Report:
    """One environment when named, else every environment of the project."""
    envs = (
        [project.environment(env_name)]
        if env_name
        else [project.environments[name] for name in project.environments]
    )
    summaries = {env.name: summary_of(project, env) for env in envs}
    first = summaries[envs[0].name]
    return Report(merge(summaries), first.personas, first.conversations, first.resources)


def merge(summaries: Mapping[str, cache.Summary]) -> list[Problem]:
    """Every problem once; one found in only some environments names them."""
    found_in: dict[Problem, list[str]] = {}
    for name, summary in summaries.items():
        for problem in summary.problems:
            envs = found_in.setdefault(problem, [])
            if name not in envs:
                envs.append(name)
    return [
        p
        if len(envs) == len(summaries)
        else replace(p, message=f"{p.message} [env: {', '.join(envs)}]")
        for p, envs in found_in.items()
    ]


def by_position(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.loc or Loc(""), _text_of(p)))


def _text_of(problem: Problem) -> str:
    """The message as the text format shows it, without position and severity."""
    return problem.text()


def _escape(text: str, *, prop: bool = False) -> str:
    # GitHub's workflow-command escaping; properties also escape their separators
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def github(problems: list[Problem]) -> str:
    """`::error file=F,line=L,col=C::message` per problem (warnings as `::warning`)."""
    lines = []
    for p in by_position(problems):
        props = []
        if p.loc is not None:
            props.append(f"file={_escape(p.loc.path, prop=True)}")
            if p.loc.line:
                props += [f"line={p.loc.line}", f"col={p.loc.col or 1}"]
        where = f" {','.join(props)}" if props else ""
        kind = "warning" if p.warning else "error"
        lines.append(f"::{kind}{where}::{_escape(_text_of(p))}\n")
    return "".join(lines)


def as_json(problems: list[Problem]) -> str:
    """One JSON array of {file, line, col, severity, message}."""
    rows = [
        {
            "file": p.loc.path if p.loc else None,
            "line": (p.loc.line or None) if p.loc else None,
            "col": (p.loc.col or 1 if p.loc.line else None) if p.loc else None,
            "severity": "warning" if p.warning else "error",
            "message": _text_of(p),
        }
        for p in by_position(problems)
    ]
    return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
