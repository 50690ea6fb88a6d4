"""The jsonschema-free check of common tool parameter schemas agrees with jsonschema."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft7Validator, Draft202012Validator

from personactl.schema.semantic import _plainly_valid, check_parameters

PLAIN: list[dict[str, Any]] = [
    {},
    {"type": "object"},
    {"type": ["string", "null"], "description": "d", "title": "t"},
    {
        "type": "object",
        "properties": {
            "order_id": {"type": "string", "description": "The order number"},
            "verbose": {"type": "boolean", "default": False},
            "n": {"type": "integer", "minimum": 0, "maximum": 2.5},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "kind": {"enum": ["a", 1, None]},
        },
        "required": ["order_id"],
        "additionalProperties": False,
    },
]
NOT_PLAIN: list[Any] = [
    {"type": "strin"},
    {"type": []},
    {"type": ["string", "string"]},
    {"required": ["a", "a"]},
    {"required": "a"},
    {"minLength": -1},
    {"minLength": True},
    {"minimum": "1"},
    {"enum": "a"},
    {"description": 3},
    {"properties": {"a": {"type": "nope"}}},
    {"items": [{"type": "string"}]},
    {"$schema": "http://json-schema.org/draft-07/schema#"},
    {"pattern": "["},
    {"additionalProperties": {"type": "string"}},
]


@pytest.mark.parametrize("schema", PLAIN)
def test_plain_schemas_are_valid_for_jsonschema(schema: dict[str, Any]) -> None:
    assert _plainly_valid(schema)
    for cls in (Draft7Validator, Draft202012Validator):
        assert list(cls(cls.META_SCHEMA).iter_errors(schema)) == []


@pytest.mark.parametrize("schema", NOT_PLAIN)
def test_other_schemas_go_to_jsonschema(schema: Any) -> None:
    assert not _plainly_valid(schema)


def test_invalid_schema_still_reported() -> None:
    issues = check_parameters({"type": "object", "properties": {"a": {"type": "strin"}}}, ("p",))
    assert [i.path for i in issues] == [("p", "properties", "a", "type")]
    assert "unknown type" in issues[0].message
