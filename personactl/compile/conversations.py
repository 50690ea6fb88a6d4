"""Conversation templates: typed inputs -> the POST /v2/conversations body."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from personactl.compile.envelope import (
    CONVERSATION_FILE,
    INPUT,
    INPUT_TYPES,
    check_envelope,
    expect_bool,
    expect_choice,
    expect_map,
)
from personactl.compile.layers import merge_all
from personactl.compile.personas import SourceTree, default_name, source_files
from personactl.compile.source import BOOL_HINT, PMap, ScalarKind, core_scalar, locate
from personactl.compile.templating import Renderer
from personactl.errors import ConfigErrors, Loc, Problem, UserError, did_you_mean
from personactl.output import to_plain
from personactl.project import Environment, Project

_SAMPLES: dict[str, Any] = {"string": "example", "integer": 1, "number": 1.0, "boolean": True}


@dataclass(frozen=True)
class Input:
    name: str
    type: str
    required: bool
    default: Any
    loc: Loc | None
    default_loc: Loc | None = None


@dataclass(frozen=True)
class ConversationTemplate:
    name: str
    source: str
    persona: str
    persona_loc: Loc | None
    inputs: dict[str, Input]
    vars: PMap
    body: PMap
    allow_unknown: bool


def coerce(spec: Input, raw: str) -> Any:
    """A --var value typed by its declared input, read as a YAML 1.2 core scalar would be
    (so `1_0`, non-ASCII digits, `nan` and `1e309` are not numbers, `yes` no boolean)."""
    if spec.type == "string":
        return raw
    text = raw.strip()
    kinds: dict[str, tuple[ScalarKind, ...]] = {
        "integer": ("int",),
        "number": ("int", "float"),
        "boolean": ("bool",),
    }
    for kind in kinds[spec.type]:
        with contextlib.suppress(ValueError):
            value = core_scalar(kind, text)
            return float(value) if spec.type == "number" else value
    article = "an" if spec.type[0] in "aeiou" else "a"
    raise UserError(
        f"input '{spec.name}' expects {article} {spec.type}, got {raw!r}",
        loc=spec.loc,
        hint=BOOL_HINT if spec.type == "boolean" else "",
    )


def _check_default(spec: Input, problems: list[Problem]) -> None:
    value = spec.default
    ok = {
        "string": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
    }[spec.type]
    if value is not None and not ok:
        article = "an" if spec.type[0] in "aeiou" else "a"
        problems.append(
            Problem(
                spec.default_loc or spec.loc,
                f"default of input '{spec.name}' is not {article} {spec.type}",
            )
        )


def load_conversations(
    project: Project, env: Environment, problems: list[Problem]
) -> dict[str, ConversationTemplate]:
    tree = SourceTree(project, project.conversations_dir, problems, body_key="conversation")
    out: dict[str, ConversationTemplate] = {}
    for path in source_files(project.conversations_dir):
        node = tree.load(path)
        if node is None:
            continue
        check_envelope(node, CONVERSATION_FILE, problems)
        name = node.get("name", default_name(project.conversations_dir, path))
        layered = tree.layered(path, node)
        persona = node.get("persona")
        if not isinstance(persona, str) or not persona:
            problems.append(
                Problem(
                    node.val_locs.get("persona", node.loc),
                    "persona (the address of a persona) is required",
                )
            )
            persona = ""
        inputs_node = expect_map(
            node.get("inputs"), node.val_locs.get("inputs"), "inputs", problems
        )
        inputs: dict[str, Input] = {}
        for key, raw in inputs_node.items():
            loc = inputs_node.val_locs.get(key)
            spec_node = expect_map(raw, loc, f"input '{key}'", problems)
            check_envelope(spec_node, INPUT, problems, f"input '{key}'")
            kind = spec_node.get("type", "string")
            if not expect_choice(
                spec_node,
                "type",
                INPUT_TYPES,
                problems,
                default="string",
                near=loc,
                message=f"input '{key}' has unknown type",
                hint=f"types: {', '.join(INPUT_TYPES)}",
            ):
                kind = "string"
            spec = Input(
                key,
                kind,
                expect_bool(spec_node, "required", problems),
                spec_node.get("default"),
                loc,
                spec_node.val_locs.get("default"),
            )
            _check_default(spec, problems)
            inputs[key] = spec
        if name in out:
            problems.append(Problem(node.loc, f"duplicate conversation name '{name}'"))
            continue
        out[name] = ConversationTemplate(
            name=name,
            source=project.shown(path),
            persona=persona,
            persona_loc=node.val_locs.get("persona"),
            inputs=inputs,
            vars=merge_all([project.vars, env.vars, *layered.vars]),
            body=layered.persona,
            allow_unknown=layered.allow_unknown,
        )
    return out


def bind_inputs(
    template: ConversationTemplate, raw: dict[str, str], *, sample: bool = False
) -> dict[str, Any]:
    """Typed input values; `sample` fills required inputs with placeholders (for validate)."""
    problems: list[Problem] = []
    for key in raw:
        if key not in template.inputs:
            problems.append(
                Problem(
                    None,
                    f"unknown input '{key}' for conversation '{template.name}'",
                    did_you_mean(key, template.inputs)
                    or f"inputs: {', '.join(template.inputs) or 'none'}",
                )
            )
    values: dict[str, Any] = {}
    for key, spec in template.inputs.items():
        if key in raw:
            try:
                values[key] = coerce(spec, raw[key])
            except UserError as exc:
                problems.append(exc.problem)
        elif spec.default is not None:
            values[key] = spec.default
        elif sample:
            values[key] = _SAMPLES[spec.type]
        elif spec.required:
            problems.append(
                Problem(
                    None, f"missing required input '{key}' ({spec.type})", f"pass --var {key}=..."
                )
            )
        else:
            values[key] = None
    if problems:
        raise ConfigErrors(problems)
    return values


def render_body(
    template: ConversationTemplate,
    values: dict[str, Any],
    renderer: Renderer,
    problems: list[Problem],
) -> PMap:
    from personactl.schema import check_conversation

    variables = to_plain(template.vars)
    variables.update(values)
    body: PMap = renderer.render_tree(template.body, variables, problems, template.body.loc)
    for issue in check_conversation(body, allow_unknown=template.allow_unknown):
        loc = locate(body, issue.path, key=issue.key) or template.body.loc
        problems.append(
            Problem(
                loc,
                f"conversation {template.name}: {issue.message}",
                issue.hint,
                warning=issue.warning,
            )
        )
    return body
