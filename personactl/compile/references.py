"""The reference graph that `ref()` builds (DESIGN §6 "References"), checked once every
resource of the repository is compiled: an unknown address is an error at the `ref()`
that named it; a cycle is an error naming its members."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from personactl import refs
from personactl.compile.personas import CompiledResource
from personactl.compile.templating import RefCall
from personactl.errors import Loc, Problem, did_you_mean

LIST_HINT = "run `personactl list` to see every address"


def graph(
    resources: Mapping[str, CompiledResource], calls: Iterable[RefCall]
) -> dict[str, set[str]]:
    """address -> the addresses its payload references (known ones only), for the
    resources that called ref(): only ref() makes the placeholders, so the others (most
    of a large repository) need no scan."""
    owners = sorted({c.owner for c in calls if c.owner is not None and c.owner in resources})
    return {a: refs.targets(resources[a].payload) & resources.keys() for a in owners}


def check(
    resources: Mapping[str, CompiledResource], calls: Iterable[RefCall], problems: list[Problem]
) -> None:
    calls = list(calls)
    for call in calls:
        if call.target not in resources:
            problems.append(
                Problem(
                    call.loc,
                    f"ref('{call.target}'): no such address in this repository",
                    did_you_mean(call.target, resources) or LIST_HINT,
                )
            )
    for cycle in cycles(graph(resources, calls)):
        where = next(
            (c.loc for c in calls if c.owner == cycle[0] and c.target == cycle[1]),
            Loc(resources[cycle[0]].source, 1, 1),
        )
        problems.append(
            Problem(
                where,
                f"reference cycle: {' -> '.join(cycle)}",
                "resources are created in reference order: remove one of these ref()s",
            )
        )


def cycles(edges: Mapping[str, set[str]]) -> list[list[str]]:
    """Each cycle once, as a path from its least member back to it (iterative DFS)."""
    found: dict[frozenset[str], list[str]] = {}
    done: set[str] = set()
    for start in sorted(edges):
        if start in done:
            continue
        path: list[str] = [start]
        on_path = {start}
        stack = [iter(sorted(edges[start]))]  # a target outside `edges` has no edges
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                stack.pop()
                done.add(path[-1])
                on_path.discard(path.pop())
            elif nxt in on_path:
                loop = path[path.index(nxt) :]
                first = loop.index(min(loop))
                ordered = [*loop[first:], *loop[:first]]
                found.setdefault(frozenset(loop), [*ordered, ordered[0]])
            elif nxt not in done:
                path.append(nxt)
                on_path.add(nxt)
                stack.append(iter(sorted(edges.get(nxt, ()))))
    return sorted(found.values())
