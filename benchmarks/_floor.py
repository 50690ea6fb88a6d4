"""The floor of a compile: the least work any tool must do to turn the repo into JSON.

- every YAML file (project, bases, persona files, conversations) parsed once with
  PyYAML's C loader (`CSafeLoader`, plus a constructor for `!append`);
- the Jinja environment personactl uses (sandboxed, StrictUndefined, FileSystemLoader
  on templates/), every distinct template string compiled once up front
  ("precompiled": not timed in `floor()`, timed separately as `precompile_s`);
- per persona: plain-dict variables and body (bases < file < variant), every
  templated string rendered once, `json.dumps` of the result.

No positions, no schema, no semantic checks: this is a lower bound, not a competitor.
Run as a script (`python benchmarks/_floor.py REPO`) it is the subprocess floor:
interpreter start-up + imports of yaml/jinja2/json + one cold pass of the work above
(`single_pass`: each distinct template compiled once, on first use).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import jinja2
import yaml
from jinja2.sandbox import ImmutableSandboxedEnvironment

MARKERS = ("{{", "{%", "{#")


class _Loader(yaml.CSafeLoader):
    pass


_Loader.add_constructor("!append", lambda loader, node: loader.construct_sequence(node))


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            if v is None:
                out.pop(k, None)
            else:
                out[k] = _merge(out.get(k), v)
        return out
    return over


def _strings(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        if any(m in value for m in MARKERS):
            out.append(value)
    elif isinstance(value, dict):
        for v in value.values():
            _strings(v, out)
    elif isinstance(value, list):
        for v in value:
            _strings(v, out)


def _render(value: Any, compiled: dict[str, jinja2.Template], variables: dict[str, Any]) -> Any:
    if isinstance(value, str):
        template = compiled.get(value)
        return template.render(variables) if template is not None else value
    if isinstance(value, dict):
        return {k: _render(v, compiled, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v, compiled, variables) for v in value]
    return value


def _env(repo: Path) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader(str(repo / "templates")),
        undefined=jinja2.StrictUndefined,
        auto_reload=False,
        cache_size=-1,
        autoescape=False,
    )
    env.globals["secret"] = lambda name: "\x00secret:" + name
    env.globals["env"] = lambda _name, default=None: default
    return env


def _load(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)


def load_all(repo: Path) -> dict[Path, Any]:
    """Every YAML file of the repository, parsed (the timed part of step 1)."""
    files = [repo / "personactl.yaml"]
    files += sorted((repo / "personas").rglob("*.yaml"))
    files += sorted((repo / "conversations").rglob("*.yaml"))
    return {p: _load(p) for p in files}


def _layered(path: Path, docs: dict[Path, Any], personas: Path, memo: dict) -> tuple:
    if path in memo:
        return memo[path]
    doc = docs[path] or {}
    variables: dict[str, Any] = {}
    body: dict[str, Any] = {}
    extends = doc.get("extends") or []
    for base in [extends] if isinstance(extends, str) else extends:
        bvars, bbody = _layered(personas / base, docs, personas, memo)
        variables.update(bvars)
        body = _merge(body, bbody)
    variables.update(doc.get("vars") or {})
    body = _merge(body, doc.get("persona") or {})
    memo[path] = (variables, body)
    return memo[path]


def targets(repo: Path, docs: dict[Path, Any]) -> list[tuple[dict, dict]]:
    """(variables, body) of every persona, plain dicts (cheap next to load and render)."""
    personas = repo / "personas"
    project = docs[repo / "personactl.yaml"]
    memo: dict = {}
    out = []
    for path in sorted(docs):
        if not path.is_relative_to(personas):
            continue
        if any(part.startswith("_") for part in path.relative_to(personas).parts):
            continue
        variables, body = _layered(path, docs, personas, memo)
        doc = docs[path]
        variants = doc.get("variants") or {"": {}}
        for variant in variants.values():
            v = {**project.get("vars", {}), **variables, **(variant.get("vars") or {})}
            out.append((v, _merge(body, variant.get("persona") or {})))
    return out


def precompile(env: ImmutableSandboxedEnvironment, work: list[tuple[dict, dict]]) -> dict:
    sources: list[str] = []
    for _, body in work:
        _strings(body, sources)
    compiled = {s: env.from_string(s) for s in set(sources)}
    # included files are compiled on first use and cached by the environment: warm them
    for name in env.list_templates():
        env.get_template(name)
    return compiled


def floor(repo: Path) -> dict[str, Any]:
    """Time the floor in this process; templates precompiled outside the timed part."""
    env = _env(repo)
    # untimed warm-up pass: discover the template strings and precompile them
    t = time.perf_counter()
    compiled = precompile(env, targets(repo, load_all(repo)))
    precompile_s = time.perf_counter() - t

    t0 = time.perf_counter()
    docs = load_all(repo)
    t1 = time.perf_counter()
    work = targets(repo, docs)
    t2 = time.perf_counter()
    size = 0
    for variables, body in work:
        size += len(json.dumps(_render(body, compiled, variables), sort_keys=True))
    t3 = time.perf_counter()
    return {
        "personas": len(work),
        "files": len(docs),
        "load_s": t1 - t0,
        "layer_s": t2 - t1,
        "render_dump_s": t3 - t2,
        "total_s": t3 - t0,
        "precompile_s": precompile_s,
        "json_bytes": size,
    }


def single_pass(repo: Path) -> dict[str, Any]:
    """The floor as one cold pass (what the subprocess floor runs): each distinct
    template string compiled once, on first use, then reused for every persona."""
    t0 = time.perf_counter()
    env = _env(repo)
    docs = load_all(repo)
    compiled: dict[str, jinja2.Template] = {}
    size = 0
    count = 0
    for variables, body in targets(repo, docs):
        sources: list[str] = []
        _strings(body, sources)
        for source in sources:
            if source not in compiled:
                compiled[source] = env.from_string(source)
        size += len(json.dumps(_render(body, compiled, variables), sort_keys=True))
        count += 1
    return {"personas": count, "total_s": time.perf_counter() - t0, "json_bytes": size}


if __name__ == "__main__":
    print(json.dumps(single_pass(Path(sys.argv[1]))))
