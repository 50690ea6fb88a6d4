"""`personactl diff`: the compiled difference between two environments (promotion review).

Two compiled repositories, address by address, compared field by field as a plan shows
them.  Nothing is read from a backend or state: this is what the *configuration* makes
different.  Secrets are compared by their placeholders (the secret's name), never by
value: the same `secret('X')` on both sides is unchanged, another name is changed, and
either is only ever shown as `(sensitive)`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from personactl import sensitive
from personactl.deploy.diff import pointer, same
from personactl.deploy.formats import ABSENT, body_lines, field_lines
from personactl.deploy.plan import matches_target
from personactl.errors import ConfigErrors, UserError, did_you_mean
from personactl.project import Project

Status = Literal["added", "changed", "removed"]
_SIGNS: dict[Status, str] = {"added": "+", "changed": "~", "removed": "-"}
_COLORS: dict[Status, str] = {"added": "green", "changed": "yellow", "removed": "red"}


@dataclass(frozen=True)
class FieldDiff:
    path: str  # JSON Pointer
    before: Any  # the value in the first environment (ABSENT: not set there); placeholders
    after: Any  # the value in the second one

    @property
    def secret_only(self) -> bool:
        """Differs only inside secrets: both sides look the same once masked."""
        return same(sensitive.mask(self.before), sensitive.mask(self.after))


@dataclass(frozen=True)
class ResourceDiff:
    address: str
    status: Status
    fields: tuple[FieldDiff, ...] = ()  # changed: the fields that differ
    body: Mapping[str, Any] | None = None  # added: the whole resource


@dataclass(frozen=True)
class EnvDiff:
    before: str  # environment names, in the order given
    after: str
    resources: tuple[ResourceDiff, ...]  # sorted by address
    unchanged: int

    @property
    def different(self) -> bool:
        return bool(self.resources)

    def counts(self) -> dict[Status, int]:
        return {s: sum(1 for r in self.resources if r.status == s) for s in _SIGNS}


def field_diffs(a: Mapping[str, Any], b: Mapping[str, Any], ptr: str = "") -> list[FieldDiff]:
    """Fields that differ, mappings walked, lists and scalars compared whole (as plans do)."""
    out: list[FieldDiff] = []
    for key in [*a, *(k for k in b if k not in a)]:
        p = pointer(ptr, key)
        av, bv = a.get(key, ABSENT), b.get(key, ABSENT)
        if isinstance(av, Mapping) and isinstance(bv, Mapping):
            out.extend(field_diffs(av, bv, p))
        elif av is ABSENT or bv is ABSENT or not same(av, bv):
            out.append(FieldDiff(p, av, bv))
    return out


def compare(
    before: str,
    after: str,
    a: Mapping[str, Mapping[str, Any]],
    b: Mapping[str, Mapping[str, Any]],
) -> EnvDiff:
    """Two environments' compiled resources (address -> body, placeholders kept)."""
    resources: list[ResourceDiff] = []
    unchanged = 0
    for address in sorted({*a, *b}):
        if address not in b:
            resources.append(ResourceDiff(address, "removed"))
        elif address not in a:
            resources.append(ResourceDiff(address, "added", body=b[address]))
        elif fields := field_diffs(a[address], b[address]):
            resources.append(ResourceDiff(address, "changed", tuple(fields)))
        else:
            unchanged += 1
    return EnvDiff(before, after, tuple(resources), unchanged)


def diff_environments(project: Project, envs: Sequence[str], targets: Sequence[str]) -> EnvDiff:
    """Compile both environments (the validate cache answers an unchanged repository) and
    compare the resources `targets` select (all when empty)."""
    from personactl.compile.compilation import compile_cached

    first, second = (project.environment(name) for name in envs)
    if first.name == second.name:
        raise UserError(
            f"diff compares two environments; both are '{first.name}'",
            hint="personactl diff --env A --env B",
        )
    results = [compile_cached(project, env.name) for env in (first, second)]
    errors = list(dict.fromkeys(p for r in results for p in r.errors))
    if errors:
        raise ConfigErrors(errors)
    chosen = [
        {a: p.payload for a, p in r.personas.items() if matches_target(a, targets)} for r in results
    ]
    known = {a for r in results for a in r.personas}
    for target in targets:
        if not any(matches_target(a, [target]) for a in known):
            raise UserError(
                f"no address '{target}' in either environment",
                hint=did_you_mean(target, known) or "run `personactl render` to list addresses",
            )
    return compare(first.name, second.name, chosen[0], chosen[1])


def _field_lines(field: FieldDiff) -> list[str]:
    if field.before is not ABSENT and field.after is not ABSENT and field.secret_only:
        return [f"~ {field.path}: {sensitive.MASK} changed"]
    return field_lines(field.path, field.before, field.after)


def _heading(diff: EnvDiff, resource: ResourceDiff) -> str:
    where = {"added": f"  (only in {diff.after})", "removed": f"  (only in {diff.before})"}
    return (
        f"{_SIGNS[resource.status]} {resource.status} {resource.address}"
        f"{where.get(resource.status, '')}"
    )


def summary_line(diff: EnvDiff) -> str:
    n = diff.counts()
    return (
        f"Diff {diff.before} -> {diff.after}: {n['added']} added, {n['changed']} changed, "
        f"{n['removed']} removed, {diff.unchanged} unchanged."
    )


def text(diff: EnvDiff, color: bool = False) -> str:
    """The plan's text style: one block per address that differs, a field per line."""
    import click

    lines = [f"Environments {diff.before} -> {diff.after}", ""]
    for resource in diff.resources:
        heading = _heading(diff, resource)
        lines.append(click.style(heading, fg=_COLORS[resource.status]) if color else heading)
        if resource.body is not None:
            body = body_lines(resource.body)
        else:
            body = [line for f in resource.fields for line in _field_lines(f)]
        lines.extend(f"    {line}" for line in body)
        lines.append("")
    if not diff.different:
        lines += [f"No differences: {diff.before} and {diff.after} compile the same.", ""]
    lines.append(summary_line(diff))
    return "\n".join(lines) + "\n"
