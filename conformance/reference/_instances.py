"""Instances of a schema, made from the schema alone: what the schema-driven mock answers.

Why not hypothesis-jsonschema: a mock answers every request at once and the same way every
time; drawing from a strategy is slow on documents the size of OpenAI's (hundreds of nested
``anyOf`` s) and random. This walks the schema once, by JSON pointer into the effective
document (so every candidate can be checked with the contract's own compiled validator), and
builds the smallest instance that carries something: required properties only, one item per
array, the first value of an enum, the first branch of an ``anyOf``/``oneOf`` that validates.
An instance that still does not validate is reported, not served silently.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .._util import join_pointer

if TYPE_CHECKING:
    from ..contract import Contract

__all__ = ["InstanceError", "instance"]

#: How deep a schema is followed (recursive schemas end in their smallest branch).
MAX_DEPTH = 24
_STRINGS = ("x", "a", "x1", "1", "x-1", "model", "https://example.com", "2026-01-01T00:00:00Z")
_FORMATS = {
    "date-time": "2026-01-01T00:00:00Z",
    "date": "2026-01-01",
    "uri": "https://example.com",
    "url": "https://example.com",
    "email": "user@example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


#: Optional properties an instance still carries (when it stays valid): the payload a client
#: reads, so that a listing lists something (``GET /models`` of many documents requires
#: neither ``data`` nor an ``id``) and an answer has its choices.
_PAYLOAD = ("data", "id", "choices")


class InstanceError(Exception):
    """No instance of the schema at a pointer could be made (the mock cannot answer there)."""


def instance(contract: Contract, pointer: str, *, text: str = "x") -> Any:
    """An instance of the schema at ``pointer`` of ``contract``'s effective document, checked
    with the contract's validator; ``text`` fills the strings that allow any text."""
    value = _Maker(contract, text).make(pointer, 0)
    if not contract.is_valid(pointer, value):
        error = next(iter(contract.validator(pointer).iter_errors(value)), None)
        raise InstanceError(f"no valid instance of {pointer}: {error.message if error else '?'}")
    return value


class _Maker:
    def __init__(self, contract: Contract, text: str) -> None:
        self.contract = contract
        self.text = text

    def schema(self, pointer: str) -> Any:
        return self.contract.schema(pointer)

    def make(self, pointer: str, depth: int) -> Any:
        schema = self.schema(pointer)
        if schema is True or not isinstance(schema, dict):
            return self.text
        if depth > MAX_DEPTH:
            return None
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#"):
            return self.make(ref[1:], depth + 1)
        if "const" in schema:
            return schema["const"]
        enum = schema.get("enum")
        if isinstance(enum, list) and enum:
            return next((v for v in enum if v is not None), enum[0])
        for key in ("anyOf", "oneOf"):
            branches = schema.get(key)
            if isinstance(branches, list) and branches:
                return self.branch(pointer, key, branches, depth)
        if isinstance(schema.get("allOf"), list):
            parts = [join_pointer(pointer, "allOf", i) for i in range(len(schema["allOf"]))]
            merged: dict[str, Any] = {}
            values = [self.make(part, depth + 1) for part in parts]
            scalars = [v for v in values if not isinstance(v, dict)]
            if scalars and len(scalars) == len(values):
                # allOf [{$ref: FinishReason}, {anyOf: [{}, null]}]: not an object
                return next((v for v in scalars if self.contract.is_valid(pointer, v)), scalars[0])
            for value in values:
                if isinstance(value, dict):
                    merged.update(value)
            # a part may require what another part defines: made from where it is defined
            for part in parts:
                for name in self.resolved(part).get("required") or []:
                    if name not in merged:
                        where = self.property(parts, name)
                        merged[name] = self.make(where, depth + 1) if where else self.text
            return merged
        return self.typed(pointer, schema, depth)

    def resolved(self, pointer: str) -> dict[str, Any]:
        """The schema at ``pointer``, its ``$ref`` s followed."""
        schema = self.schema(pointer)
        for _ in range(MAX_DEPTH):
            if not (isinstance(schema, dict) and isinstance(schema.get("$ref"), str)):
                break
            pointer = schema["$ref"][1:]
            schema = self.schema(pointer)
        return schema if isinstance(schema, dict) else {}

    def resolved_node(self, schema: Any) -> Any:
        """``schema`` (a node, not a pointer), its ``$ref`` s followed."""
        for _ in range(MAX_DEPTH):
            if not (isinstance(schema, dict) and isinstance(schema.get("$ref"), str)):
                break
            schema = self.schema(schema["$ref"][1:])
        return schema

    def property(self, parts: list[str], name: str) -> str | None:
        """The pointer of property ``name`` in one of the allOf ``parts`` (refs followed)."""
        for part in parts:
            schema = self.schema(part)
            target = part
            for _ in range(MAX_DEPTH):
                if not (isinstance(schema, dict) and isinstance(schema.get("$ref"), str)):
                    break
                target = schema["$ref"][1:]
                schema = self.schema(target)
            if isinstance(schema, dict) and name in (schema.get("properties") or {}):
                return join_pointer(target, "properties", name)
            if isinstance(schema, dict) and isinstance(schema.get("allOf"), list):
                inner = [join_pointer(target, "allOf", i) for i in range(len(schema["allOf"]))]
                found = self.property(inner, name)
                if found:
                    return found
        return None

    def branch(self, pointer: str, key: str, branches: list[Any], depth: int) -> Any:
        """The first branch whose instance validates there (a non-null one first)."""
        order = sorted(
            range(len(branches)),
            key=lambda i: isinstance(branches[i], dict) and branches[i].get("type") == "null",
        )
        fallback: Any = None
        for i in order:
            candidate = self.make(join_pointer(pointer, key, i), depth + 1)
            if self.contract.is_valid(pointer, candidate):
                return candidate
            fallback = candidate if fallback is None else fallback
        return fallback

    def typed(self, pointer: str, schema: dict[str, Any], depth: int) -> Any:
        kinds = schema.get("type")
        kinds = kinds if isinstance(kinds, list) else [kinds] if kinds else []
        kind = next((k for k in kinds if k != "null"), kinds[0] if kinds else None)
        if kind is None:
            kind = "object" if "properties" in schema else "array" if "items" in schema else None
        if kind == "object" or (kind is None and "required" in schema):
            found = schema.get("properties")
            properties: dict[str, Any] = found if isinstance(found, dict) else {}
            out: dict[str, Any] = {}
            for name in schema.get("required") or []:
                if name in properties:
                    out[name] = self.make(join_pointer(pointer, "properties", name), depth + 1)
            # what a client reads, even where it is optional, and a fixed value that tells
            # one branch of a oneOf from the others ("type": "response.created")
            fixed = [n for n, p in properties.items() if _fixed(self.resolved_node(p))]
            for name in (*_PAYLOAD, *fixed):
                if name in properties and name not in out:
                    value = self.make(join_pointer(pointer, "properties", name), depth + 1)
                    if self.contract.is_valid(pointer, {**out, name: value}):
                        out[name] = value
            return out
        if kind == "array":
            least = _int(schema.get("minItems"), 0)
            most = _int(schema.get("maxItems"), 1)
            count = min(max(least, 1), max(most, least))
            if "items" not in schema or count == 0:
                return []
            item = join_pointer(pointer, "items")
            return [self.make(item, depth + 1) for _ in range(count)]
        if kind == "string":
            return self.string(schema)
        if kind in ("integer", "number"):
            return self.number(schema)
        if kind == "boolean":
            return False
        if kind == "null":
            return None
        return self.text

    def string(self, schema: dict[str, Any]) -> str:
        fmt = schema.get("format")
        if isinstance(fmt, str) and fmt in _FORMATS:
            return _FORMATS[fmt]
        least = _int(schema.get("minLength"), 0)
        pattern = schema.get("pattern")
        candidates = (self.text, *_STRINGS)
        for candidate in candidates:
            text = candidate.ljust(least, "x")
            if not isinstance(pattern, str) or re.search(pattern, text):
                return text
        return self.text.ljust(least, "x")

    def number(self, schema: dict[str, Any]) -> int | float:
        low = schema.get("minimum")
        if isinstance(low, (int, float)) and not isinstance(low, bool):
            return low
        above = schema.get("exclusiveMinimum")
        if isinstance(above, (int, float)) and not isinstance(above, bool):
            return above + 1
        high = schema.get("maximum")
        if isinstance(high, (int, float)) and not isinstance(high, bool) and high < 0:
            return high
        return 0


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _fixed(schema: Any) -> bool:
    """Whether ``schema`` allows one value only (``const``, a one-value ``enum``)."""
    if not isinstance(schema, dict):
        return False
    enum = schema.get("enum")
    return "const" in schema or (isinstance(enum, list) and len(enum) == 1)
