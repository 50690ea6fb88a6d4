"""The file envelopes (personactl.yaml, persona, objectives, guardrail, tool, conversation
and base files): their keys declared once, checked by the loaders here and exported as
editor JSON Schemas by `personactl.schema.files`, so the two cannot disagree."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from personactl.compile.source import BOOL_HINT, PMap
from personactl.errors import Loc, Problem, did_you_mean
from personactl.kinds import APIS

Shape = Literal["string", "integer", "boolean", "mapping", "strings", "string_or_mapping", "any"]
BackendName = Literal["local", "tavus"]
BACKENDS: tuple[BackendName, ...] = ("local", "tavus")
StateBackendName = Literal["file", "postgres"]
STATE_BACKENDS: tuple[StateBackendName, ...] = ("file", "postgres")
InputType = Literal["string", "integer", "number", "boolean"]
INPUT_TYPES: tuple[InputType, ...] = ("string", "integer", "number", "boolean")
FORMAT_VERSION = 1
# the Tavus bodies a file embeds: a persona, a conversation request, and the other kinds'
BodyName = Literal["persona", "conversation", "objectives", "guardrail", "tool"]


@dataclass(frozen=True)
class Key:
    name: str
    shape: Shape
    description: str = ""
    default: Any = None
    choices: tuple[Any, ...] = ()
    entries: Envelope | None = None  # a mapping of NAME -> this envelope
    fields: Envelope | None = None  # the mapping form of a string_or_mapping: these keys
    body: BodyName | None = None  # the Tavus body, embedded


@dataclass(frozen=True)
class Envelope:
    title: str
    keys: tuple[Key, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.keys)

    def key(self, name: str) -> Key:
        return next(k for k in self.keys if k.name == name)


_VARS = Key("vars", "mapping", "Variables for templates.")
STATE = Envelope(
    "state",
    (
        Key("backend", "string", "Where the state lives.", "file", STATE_BACKENDS),
        Key("path", "string", "State file, relative to the project (backend: file)."),
        Key(
            "dsn_env",
            "string",
            "Env var holding the PostgreSQL connection string (backend: postgres).",
            "PERSONACTL_STATE_DSN",
        ),
    ),
)
ENVIRONMENT = Envelope(
    "environment",
    (
        Key("backend", "string", "Where personas are deployed.", "local", BACKENDS),
        Key(
            "api",
            "string",
            "Endpoint family and names: personas (/v2/personas, persona_id) or pals "
            "(/v2/pals, pal_id, pal_name, default_face_id).",
            "personas",
            APIS,
        ),
        Key("api_url", "string", "Tavus-compatible API base URL.", "https://tavusapi.com"),
        Key("api_key_env", "string", "Env var holding the API key.", "TAVUS_API_KEY"),
        Key(
            "state",
            "string_or_mapping",
            "A state file relative to the project, or {backend: file|postgres, path, dsn_env}.",
            fields=STATE,
        ),
        _VARS,
        Key("overrides", "mapping", "Deep-merged into every persona of this environment."),
    ),
)
PROJECT = Envelope(
    "personactl.yaml",
    (
        Key("version", "integer", "File format version.", FORMAT_VERSION, (FORMAT_VERSION,)),
        Key("default_environment", "string", "Environment used without --env."),
        _VARS,
        Key("environments", "mapping", "Named deployment targets.", entries=ENVIRONMENT),
    ),
)
_BODY_NOTE = "Jinja-rendered, layered, then validated as the Tavus body."
_ALLOW_UNKNOWN = Key(
    "allow_unknown_keys", "boolean", "Pass unknown body keys through (warnings, not errors)."
)
_EXTENDS = Key("extends", "strings", "Base files, applied in order.")


def _variant(body: BodyName) -> Envelope:
    return Envelope("a variant", (_VARS, Key(body, "mapping", _BODY_NOTE, body=body)))


def _resource_file(title: str, folder: str, body: BodyName, each: str) -> Envelope:
    """The envelope every resource file shares (DESIGN §2, §6): name, extends, vars, the
    body under its kind's key, variants."""
    return Envelope(
        title,
        (
            Key("name", "string", f"Default: the file path under {folder}/ without .yaml."),
            _EXTENDS,
            _VARS,
            Key(body, "mapping", _BODY_NOTE, body=body),
            Key("variants", "mapping", each, entries=_variant(body)),
            Key(
                "variants_from",
                "string",
                "A data file (.csv, .yaml, .yml, .json) relative to the project: one variant "
                "per row, its columns as variables.",
            ),
            Key("variants_key", "string", "The column of variants_from holding each row's key."),
            Key(
                "matrix",
                "mapping",
                "NAME: [values]: one variant per combination (with variants_from: per row).",
            ),
            _ALLOW_UNKNOWN,
        ),
    )


VARIANT = _variant("persona")
PERSONA_FILE = _resource_file(
    "a persona file", "personas", "persona", "One deployed persona per variant."
)
OBJECTIVES_FILE = _resource_file(
    "an objectives file", "objectives", "objectives", "One deployed objective set per variant."
)
GUARDRAIL_FILE = _resource_file(
    "a guardrail file", "guardrails", "guardrail", "One deployed guardrail per variant."
)
TOOL_FILE = _resource_file("a tool file", "tools", "tool", "One deployed tool per variant.")
# by the body key of a kind (personactl.kinds.Kind.body_key)
RESOURCE_FILES: dict[str, Envelope] = {
    "persona": PERSONA_FILE,
    "objectives": OBJECTIVES_FILE,
    "guardrail": GUARDRAIL_FILE,
    "tool": TOOL_FILE,
}
INPUT = Envelope(
    "an input",
    (
        Key("type", "string", "", "string", INPUT_TYPES),
        Key("required", "boolean"),
        Key("default", "any"),
        Key("description", "string"),
    ),
)
CONVERSATION_FILE = Envelope(
    "a conversation file",
    (
        Key("name", "string", "Default: the file path under conversations/."),
        _EXTENDS,
        _VARS,
        Key("persona", "string", "Address of a persona in this repository."),
        Key("inputs", "mapping", "Declared per-conversation inputs.", entries=INPUT),
        Key("conversation", "mapping", _BODY_NOTE, body="conversation"),
        _ALLOW_UNKNOWN,
    ),
)


def check_keys(node: PMap, allowed: Iterable[str], what: str, problems: list[Problem]) -> None:
    allowed = tuple(allowed)
    for key in node:
        if key not in allowed:
            problems.append(
                Problem(
                    node.key_locs.get(key, node.loc),
                    f"unknown key '{key}' in {what}",
                    did_you_mean(key, allowed) or f"allowed: {', '.join(allowed)}",
                )
            )


def check_envelope(
    node: PMap, envelope: Envelope, problems: list[Problem], what: str | None = None
) -> None:
    """Unknown keys.  The shapes have checks of their own with more specific messages."""
    check_keys(node, envelope.names, what or envelope.title, problems)


def expect_choice(
    node: PMap,
    key: str,
    choices: Iterable[Any],
    problems: list[Problem],
    *,
    default: Any,
    near: Loc | None,
    message: str,
    hint: str,
) -> bool:
    """Whether `node[key]` (or `default`) is one of `choices`; otherwise a problem at the
    value (or `near`): `message` followed by the value."""
    value = node.get(key, default)
    if value in tuple(choices):
        return True
    problems.append(Problem(node.val_locs.get(key, near), f"{message} {value!r}", hint))
    return False


def expect_map(value: Any, loc: Loc | None, what: str, problems: list[Problem]) -> PMap:
    """`value` if it is a mapping (or absent); otherwise a problem and an empty mapping."""
    if isinstance(value, PMap):
        return value
    if value is not None:
        problems.append(Problem(loc, f"{what} must be a mapping"))
    return PMap(loc)


def expect_bool(node: PMap, key: str, problems: list[Problem]) -> bool:
    """`node[key]` if it is a boolean (absent: false); otherwise a problem and false."""
    value = node.get(key, False)
    if isinstance(value, bool):
        return value
    problems.append(
        Problem(node.val_locs.get(key, node.loc), f"{key} must be true or false", BOOL_HINT)
    )
    return False
