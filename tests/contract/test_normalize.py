from __future__ import annotations

from conformance.contract._normalize import normalize_schema, stringify_keys


def _norm(schema: dict) -> dict:
    normalize_schema(schema)
    return schema


def test_nullable_adds_null_to_type_and_enum() -> None:
    assert _norm({"type": "string", "enum": ["a"], "nullable": True}) == {
        "type": ["string", "null"],
        "enum": ["a", None],
    }


def test_nullable_without_type_wraps_in_anyof() -> None:
    assert _norm({"$ref": "#/x", "nullable": True, "x-k": 1}) == {
        "anyOf": [{"$ref": "#/x"}, {"type": "null"}],
        "x-k": 1,
    }


def test_nullable_false_is_dropped() -> None:
    assert _norm({"type": "integer", "nullable": False}) == {"type": "integer"}


def test_boolean_exclusive_bounds_become_numeric() -> None:
    assert _norm(
        {
            "type": "number",
            "minimum": 0,
            "exclusiveMinimum": True,
            "maximum": 1,
            "exclusiveMaximum": False,
        }
    ) == {"type": "number", "exclusiveMinimum": 0, "maximum": 1}


def test_nested_schemas_are_normalised() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "integer", "nullable": True}},
        "items": {"oneOf": [{"type": "string", "nullable": True}]},
        "additionalProperties": {"type": "boolean", "nullable": True},
    }
    _norm(schema)
    assert schema["properties"]["a"]["type"] == ["integer", "null"]
    assert schema["items"]["oneOf"][0]["type"] == ["string", "null"]
    assert schema["additionalProperties"]["type"] == ["boolean", "null"]


def test_type_null_is_kept_as_the_null_type() -> None:
    assert _norm({"type": "null"}) == {"type": "null"}


def test_yaml_integer_keys_become_strings() -> None:
    assert stringify_keys({200: {"a": [{1: 2}]}}) == {"200": {"a": [{"1": 2}]}}
