"""Checks beyond types, run on the plain payload dict.

Each check is defensive about shapes: wrong types are reported by the models,
so here anything unexpected is skipped rather than reported twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from personactl.compile.source import PMap
from personactl.errors import did_you_mean
from personactl.output import json_key
from personactl.sensitive import is_placeholder

from ._issues import Path, SchemaIssue, show

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

# ----------------------------------------------------------------------------- known values
# Open-ended names: an unknown value is a warning, never an error (Tavus adds new ones).

KNOWN_LLM_MODELS: tuple[str, ...] = (
    "tavus-gemma-4",  # the official CLI's default for a full-pipeline PAL
    "tavus-gpt-oss",
    "tavus-gpt-4.1",
    "tavus-gpt-4o",
    "tavus-gpt-4o-mini",
    "tavus-gpt-5.2",
    "tavus-gemini-2.5-flash",
    "tavus-gemini-3-flash",
    "tavus-claude-haiku-4.5",
    "tavus-glm-4.7",
    "tavus-llama",
    "tavus-llama-4",
)
KNOWN_TTS_ENGINES: tuple[str, ...] = ("cartesia", "elevenlabs", "playht", "azure")
KNOWN_STT_ENGINES: tuple[str, ...] = (
    "tavus-auto",
    "tavus-parakeet",
    "tavus-soniox",
    "tavus-whisper",
    "tavus-deepgram-medical",
    "tavus-advanced",
    "tavus-turbo",
)
KNOWN_PERCEPTION_MODELS: tuple[str, ...] = ("raven-1", "raven-0", "basic", "off")
KNOWN_TURN_DETECTION_MODELS: tuple[str, ...] = ("sparrow-1", "sparrow-0", "time-based", "timebased")
KNOWN_TRANSPORT_TYPES: tuple[str, ...] = ("livekit", "daily")

# legacy key -> current key (same layer)
LEGACY_PERCEPTION_KEYS: dict[str, str] = {
    "perception_tools": "visual_tools",
    "perception_tool_prompt": "visual_tool_prompt",
    "ambient_awareness_queries": "visual_awareness_queries",
}

JSON_TYPES = ("string", "number", "integer", "boolean", "object", "array", "null")

TOOL_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

# layer -> list-of-tools keys checked with the tool checks
TOOL_LISTS: tuple[tuple[str, str], ...] = (
    ("llm", "tools"),
    ("perception", "visual_tools"),
    ("perception", "audio_tools"),
    ("perception", "perception_tools"),
)

_OPEN_NAMES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("tts", "tts_engine", KNOWN_TTS_ENGINES),
    ("stt", "stt_engine", KNOWN_STT_ENGINES),
    ("perception", "perception_model", KNOWN_PERCEPTION_MODELS),
    ("conversational_flow", "turn_detection_model", KNOWN_TURN_DETECTION_MODELS),
    ("transport", "transport_type", KNOWN_TRANSPORT_TYPES),
)


@cache
def _meta_validators() -> dict[str, Validator]:
    # jsonschema (about 70 ms to import) only for a schema _plainly_valid cannot vouch for
    from jsonschema import Draft7Validator, Draft202012Validator

    return {
        "2020-12": Draft202012Validator(Draft202012Validator.META_SCHEMA),
        "7": Draft7Validator(Draft7Validator.META_SCHEMA),
    }


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def is_http_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


# ----------------------------------------------------------------------------- persona


def check_persona_semantics(payload: Mapping[str, Any]) -> list[SchemaIssue]:
    issues: list[SchemaIssue] = []
    issues.extend(_check_system_prompt(payload))
    issues.extend(_check_pipeline_mode(payload))
    issues.extend(_check_tool_ids(payload.get("tool_ids")))
    layers = _dict(payload.get("layers"))
    issues.extend(_check_llm(_dict(layers.get("llm"))))
    for layer, key in TOOL_LISTS:
        tools = _dict(layers.get(layer)).get(key)
        if isinstance(tools, list):
            issues.extend(check_tools(tools, ("layers", layer, key)))
    for layer, key, known in _OPEN_NAMES:
        value = _dict(layers.get(layer)).get(key)
        issues.extend(_check_known(value, ("layers", layer, key), known))
    perception = _dict(layers.get("perception"))
    for old, new in LEGACY_PERCEPTION_KEYS.items():
        if old in perception:
            issues.append(
                SchemaIssue(
                    ("layers", "perception", old),
                    f"{old!r} is a legacy raven-0 field; the current field is {new!r}",
                    f"rename it to {new!r} (raven-1)",
                    warning=True,
                    key=True,
                )
            )
    return issues


def _check_system_prompt(payload: Mapping[str, Any]) -> list[SchemaIssue]:
    mode = payload.get("pipeline_mode")
    if mode not in (None, "full"):
        return []
    prompt = payload.get("system_prompt")
    if isinstance(prompt, str) and prompt.strip():
        return []
    if prompt is not None and not isinstance(prompt, str):
        return []  # a type error, reported by the model
    why = "pipeline_mode is full" if mode else "pipeline_mode defaults to full"
    path: Path = (
        ("system_prompt",) if "system_prompt" in payload or mode is None else ("pipeline_mode",)
    )
    return [
        SchemaIssue(
            path,
            f"a non-empty system_prompt is required: {why}",
            "add a system_prompt, or set pipeline_mode: echo",
        )
    ]


# what each mode does with the prompt parts (DESIGN §3 "The current platform")
_PROMPT_PARTS = ("system_prompt", "context")


def _check_pipeline_mode(payload: Mapping[str, Any]) -> list[SchemaIssue]:
    """speech-to-speech takes no system_prompt or context (the platform refuses them);
    echo ignores them, a warning only, since real echo payloads send them.  As on the
    platform, an empty string counts as absent."""
    mode = payload.get("pipeline_mode")
    if mode == "custom":
        return [
            SchemaIssue(
                ("pipeline_mode",),
                "pipeline_mode 'custom' is not a current Tavus mode",
                "use full (with a custom llm layer), speech-to-speech or echo",
                warning=True,
            )
        ]
    if mode not in ("speech-to-speech", "echo"):
        return []
    return [
        SchemaIssue(
            (part,),
            f"{part} is not allowed with pipeline_mode {mode}"
            if mode == "speech-to-speech"
            else f"{part} is ignored with pipeline_mode echo",
            "remove it, or use pipeline_mode: full"
            if mode == "speech-to-speech"
            else "echo speaks what it is sent; the prompt is not used",
            warning=mode == "echo",
            key=True,
        )
        for part in _PROMPT_PARTS
        if isinstance(payload.get(part), str) and payload[part]
    ]


def _check_tool_ids(tool_ids: Any) -> list[SchemaIssue]:
    if not isinstance(tool_ids, list):
        return []
    return [
        SchemaIssue(
            ("tool_ids", i),
            "tool_ids entries must be non-empty strings",
            "write the registry tool's id",
        )
        for i, rid in enumerate(tool_ids)
        if isinstance(rid, str) and not rid.strip()
    ]


def _check_llm(llm: Mapping[str, Any]) -> list[SchemaIssue]:
    issues: list[SchemaIssue] = []
    base_url = llm.get("base_url")
    model = llm.get("model")
    if base_url is not None:
        if model is None:
            issues.append(
                SchemaIssue(
                    ("layers", "llm"),
                    "an llm layer with base_url needs a model",
                    "add the model name your endpoint serves",
                )
            )
        elif isinstance(model, str) and not model.strip():
            issues.append(
                SchemaIssue(("layers", "llm", "model"), "an llm layer with base_url needs a model")
            )
        if isinstance(base_url, str) and not is_placeholder(base_url) and not is_http_url(base_url):
            issues.append(
                SchemaIssue(
                    ("layers", "llm", "base_url"),
                    f"base_url must be an http(s) URL, got {show(base_url)}",
                    "e.g. https://llm.example.com/v1 (without /chat/completions)",
                )
            )
    elif model is not None:
        issues.extend(_check_known(model, ("layers", "llm", "model"), KNOWN_LLM_MODELS))
    return issues


def _check_known(value: Any, path: Path, known: tuple[str, ...]) -> list[SchemaIssue]:
    if not isinstance(value, str) or is_placeholder(value) or value in known:
        return []
    return [
        SchemaIssue(
            path,
            f"unknown {path[-1]} {show(value)}; known values: {', '.join(known)}",
            did_you_mean(value, known),
            warning=True,
        )
    ]


# ----------------------------------------------------------------------------- tools


def check_tools(tools: list[Any], base: Path) -> list[SchemaIssue]:
    """Name format and uniqueness, JSON Schema validity and `required` names of a tool list."""
    issues: list[SchemaIssue] = []
    seen: dict[str, int] = {}
    for i, tool in enumerate(tools):
        function = _dict(_dict(tool).get("function"))
        fpath: Path = (*base, i, "function")
        name = function.get("name")
        if isinstance(name, str) and not is_placeholder(name):
            if not TOOL_NAME_RE.match(name):
                issues.append(
                    SchemaIssue(
                        (*fpath, "name"),
                        f"invalid tool name {show(name)}: must match ^[A-Za-z0-9_-]{{1,64}}$",
                        "use letters, digits, '_' and '-' only, at most 64 characters",
                    )
                )
            if name in seen:
                issues.append(
                    SchemaIssue(
                        (*fpath, "name"),
                        f"duplicate tool name {name!r}",
                        f"already defined by {base[-1]}[{seen[name]}]",
                    )
                )
            else:
                seen[name] = i
        params = function.get("parameters")
        if isinstance(params, Mapping):
            issues.extend(check_parameters(params, (*fpath, "parameters")))
    return issues


def _meta_validator(schema: Mapping[str, Any]) -> Validator:
    declared = schema.get("$schema")
    if isinstance(declared, str):
        if "draft-07" in declared:
            return _meta_validators()["7"]
        if "2020-12" not in declared:
            from jsonschema import Draft202012Validator, validators

            cls = validators.validator_for(schema, default=Draft202012Validator)
            return cls(cls.META_SCHEMA)
    return _meta_validators()["2020-12"]


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _type_names(value: Any) -> bool:
    if isinstance(value, list):
        names = [v for v in value if isinstance(v, str) and v in JSON_TYPES]
        return bool(value) and len(names) == len(value) == len(set(names))
    return isinstance(value, str) and value in JSON_TYPES


def _names(value: Any) -> bool:
    return (
        isinstance(value, list)
        and all(isinstance(v, str) for v in value)
        and len(set(value)) == len(value)
    )


# Keywords whose valid values draft 7 and 2020-12 describe alike, each with a test of
# its value that implies the metaschema's (a subschema is tested by _plainly_valid).
_PLAIN_KEYWORDS: dict[str, Callable[[Any], bool]] = {
    "type": _type_names,
    "description": lambda v: isinstance(v, str),
    "title": lambda v: isinstance(v, str),
    "required": _names,
    "enum": lambda v: isinstance(v, list),
    "default": lambda _v: True,
    "additionalProperties": lambda v: isinstance(v, bool),
    "minimum": _number,
    "maximum": _number,
    "minLength": _count,
    "maxLength": _count,
    "minItems": _count,
    "maxItems": _count,
}


def _plainly_valid(schema: Any, depth: int = 0) -> bool:
    """Whether `schema` is certainly valid against its metaschema, without jsonschema:
    only the common keywords above, `properties` and `items` of such schemas, no
    `$schema`.  False means "ask jsonschema", not "invalid"."""
    if not isinstance(schema, Mapping) or depth > 32:
        return False
    for key, value in schema.items():
        if key == "properties":
            if not isinstance(value, Mapping) or not all(
                _plainly_valid(sub, depth + 1) for sub in value.values()
            ):
                return False
        elif key == "items":
            if not _plainly_valid(value, depth + 1):
                return False
        else:
            test = _PLAIN_KEYWORDS.get(key)
            if test is None or not test(value):
                return False
    return True


# check_parameters results by parameters content. Tool definitions usually come from
# shared bases, so the same schema is checked once per persona; meta-validating it
# with jsonschema is by far the most expensive check of a compile, and its result
# depends only on the content (never on the path, which is re-prefixed per call).
_PARAMS_CACHE: dict[Any, tuple[SchemaIssue, ...]] = {}
_PARAMS_CACHE_MAX = 4096
# and by identity for a compiled PMap (never changed once built; layering shares a base's
# tools among its personas): id -> (the map, kept so its id is not reused, its key)
_PARAMS_KEYS: dict[int, tuple[PMap, Any]] = {}
_ROOT = "\x00parameters"  # a path element no real schema key can equal


def _params_key(params: Mapping[str, Any]) -> Any:
    if not isinstance(params, PMap):
        return json_key(params)
    known = _PARAMS_KEYS.get(id(params))
    if known is None:
        known = (params, json_key(params))
        if len(_PARAMS_KEYS) < _PARAMS_CACHE_MAX:
            _PARAMS_KEYS[id(params)] = known
    return known[1]


def check_parameters(params: Mapping[str, Any], base: Path) -> list[SchemaIssue]:
    """A tool's `parameters`: a valid JSON Schema whose `required` names are defined."""
    try:
        key = _params_key(params)
    except TypeError:
        return _check_parameters(params, base)
    found = _PARAMS_CACHE.get(key)
    if found is None:
        found = tuple(_check_parameters(params, (_ROOT,)))
        if len(_PARAMS_CACHE) < _PARAMS_CACHE_MAX:
            _PARAMS_CACHE[key] = found
    return [replace(issue, path=(*base, *issue.path[1:])) for issue in found]


def _check_parameters(params: Mapping[str, Any], base: Path) -> list[SchemaIssue]:
    issues: list[SchemaIssue] = []
    errors = (
        []
        if _plainly_valid(params)
        else sorted(
            _meta_validator(params).iter_errors(params),
            key=lambda e: [str(p) for p in e.absolute_path],
        )
    )
    seen: set[Path] = set()
    for err in errors:
        path: Path = (*base, *err.absolute_path)
        if path in seen:
            continue
        seen.add(path)
        if path[-1] == "type" and isinstance(err.instance, str):
            issues.append(
                SchemaIssue(
                    path,
                    f"invalid JSON Schema in tool parameters: unknown type {show(err.instance)}",
                    did_you_mean(err.instance, JSON_TYPES) or f"one of: {', '.join(JSON_TYPES)}",
                )
            )
        else:
            issues.append(
                SchemaIssue(path, f"invalid JSON Schema in tool parameters: {err.message}")
            )
    kind = params.get("type")
    if not issues and kind is not None and kind != "object":
        issues.append(
            SchemaIssue(
                (*base, "type"),
                f"tool parameters should be an object schema, got type {show(kind)}",
                'use "type": "object" with "properties"',
                warning=True,
            )
        )
    for path, node in _object_schemas(params, base):
        issues.extend(_check_required(node, path))
    return issues


_COMPOSITION = ("allOf", "anyOf", "oneOf", "$ref", "patternProperties", "additionalProperties")


def _check_required(node: Mapping[str, Any], base: Path) -> list[SchemaIssue]:
    required = node.get("required")
    if not isinstance(required, list):
        return []
    props = node.get("properties")
    if not isinstance(props, Mapping):
        if props is not None or any(k in node for k in _COMPOSITION):
            return []
        props = {}
    return [
        SchemaIssue(
            (*base, "required", j),
            f"required property {name!r} is not defined in properties",
            did_you_mean(name, props) if props else "add it under properties",
        )
        for j, name in enumerate(required)
        if isinstance(name, str) and name not in props
    ]


def _object_schemas(
    node: Mapping[str, Any], path: Path
) -> Iterator[tuple[Path, Mapping[str, Any]]]:
    """Every schema node (dict) in a JSON Schema, with its path."""
    yield path, node
    for key in ("properties", "$defs", "definitions", "patternProperties"):
        sub = node.get(key)
        if isinstance(sub, Mapping):
            for name, child in sub.items():
                if isinstance(child, Mapping):
                    yield from _object_schemas(child, (*path, key, name))
    for key in ("items", "additionalProperties", "not", "if", "then", "else", "contains"):
        child = node.get(key)
        if isinstance(child, Mapping):
            yield from _object_schemas(child, (*path, key))
    for key in ("allOf", "anyOf", "oneOf", "prefixItems"):
        seq = node.get(key)
        if isinstance(seq, list):
            for j, child in enumerate(seq):
                if isinstance(child, Mapping):
                    yield from _object_schemas(child, (*path, key, j))


# ----------------------------------------------------------------------------- conversation


def check_conversation_semantics(body: Mapping[str, Any]) -> list[SchemaIssue]:
    issues: list[SchemaIssue] = []
    callback = body.get("callback_url")
    if isinstance(callback, str) and not is_placeholder(callback) and not is_http_url(callback):
        issues.append(
            SchemaIssue(
                ("callback_url",),
                f"callback_url should be an http(s) URL, got {show(callback)}",
                warning=True,
            )
        )
    return issues
