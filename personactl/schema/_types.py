"""Reusable field types for the schema models.

Fields that take more than one shape (a number or a word, a string or a list)
use plain validators that raise one `PydanticCustomError` with a context the
issue converter turns into a one-line message; pydantic's own union errors would
report every union member separately.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

CHOICE_ERROR = "personactl_choice"
TYPE_ERROR = "personactl_type"


def type_name(value: object) -> str:
    """The JSON name of a Python value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _type_error(expected: str, value: object, *, boolean: bool = False) -> PydanticCustomError:
    """`boolean`: the field is a boolean, so a word like `yes` gets the YAML 1.2 hint."""
    return PydanticCustomError(
        TYPE_ERROR,
        "expected {expected}, got {actual}",
        {"expected": expected, "actual": type_name(value), "boolean": boolean},
    )


def choice_validator(values: tuple[str, ...]) -> PlainValidator:
    """A validator taking exactly one of `values` (case-sensitive, as the API does)."""
    allowed = frozenset(values)

    def validate(value: Any) -> str:
        if isinstance(value, str) and value in allowed:
            return value
        raise PydanticCustomError(
            CHOICE_ERROR,
            "invalid value; expected one of: {expected}",
            {"expected": ", ".join(values)},
        )

    return PlainValidator(validate)


def choice_schema(values: tuple[str, ...]) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "enum": list(values)})


def _bool_like(value: Any) -> bool | str:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value
    raise _type_error('boolean (or the string "true"/"false")', value, boolean=True)


def _str_or_str_list(value: Any) -> str | list[str]:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    if isinstance(value, list):
        bad = next(v for v in value if not isinstance(v, str))
        raise PydanticCustomError(
            TYPE_ERROR,
            "expected {expected}, got a list containing {actual}",
            {"expected": "string or list of strings", "actual": type_name(bad)},
        )
    raise _type_error("string or list of strings", value)


SPEED_WORDS = ("slowest", "slow", "normal", "fast", "fastest")


def _speed(value: Any) -> float | str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value in SPEED_WORDS:
        return value
    raise PydanticCustomError(
        CHOICE_ERROR,
        "invalid value; expected a number or one of: {expected}",
        {"expected": ", ".join(SPEED_WORDS), "number": True},
    )


def _plain(fn: Callable[[Any], Any]) -> PlainValidator:
    return PlainValidator(fn)


BoolLike = Annotated[
    bool | str,
    _plain(_bool_like),
    WithJsonSchema({"anyOf": [{"type": "boolean"}, {"type": "string", "enum": ["true", "false"]}]}),
]
"""A boolean; the strings "true"/"false" are accepted too, as real payloads send them."""

StrOrStrList = Annotated[
    str | list[str],
    _plain(_str_or_str_list),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}),
]

Speed = Annotated[
    float | str,
    _plain(_speed),
    WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string", "enum": list(SPEED_WORDS)}]}),
]

LEVELS = ("low", "medium", "high")
Level = Annotated[str, choice_validator(LEVELS), choice_schema(LEVELS)]

SENSITIVITIES = ("superlow", "verylow", "low", "medium", "high", "veryhigh", "superhigh")
Sensitivity = Annotated[str, choice_validator(SENSITIVITIES), choice_schema(SENSITIVITIES)]

ACTIVE_LISTENING = ("off", "low", "medium", "high")
ActiveListening = Annotated[
    str, choice_validator(ACTIVE_LISTENING), choice_schema(ACTIVE_LISTENING)
]

# "custom" is the community OpenAPI copy's; the current platform has speech-to-speech
PIPELINE_MODES = ("full", "echo", "custom", "speech-to-speech")
PipelineMode = Annotated[str, choice_validator(PIPELINE_MODES), choice_schema(PIPELINE_MODES)]

TOOL_TYPES = ("function",)
ToolType = Annotated[str, choice_validator(TOOL_TYPES), choice_schema(TOOL_TYPES)]

RETRIEVAL_STRATEGIES = ("speed", "balanced", "quality")
RetrievalStrategy = Annotated[
    str, choice_validator(RETRIEVAL_STRATEGIES), choice_schema(RETRIEVAL_STRATEGIES)
]

StrList = list[str]
JsonObject = dict[str, Any]
