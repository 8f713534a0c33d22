"""Finding the schemas inside an OpenAPI document, with their JSON pointers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .._util import join_pointer

__all__ = [
    "SCHEMA_LIST_KEYWORDS",
    "SCHEMA_MAP_KEYWORDS",
    "SCHEMA_SINGLE_KEYWORDS",
    "branches",
    "documented_values",
    "followed",
    "iter_schema_roots",
    "iter_subschemas",
    "resolve_pointer",
]

SCHEMA_SINGLE_KEYWORDS = frozenset(
    {
        "additionalProperties",
        "items",
        "not",
        "if",
        "then",
        "else",
        "contains",
        "propertyNames",
        "unevaluatedItems",
        "unevaluatedProperties",
        "additionalItems",
        "contentSchema",
    }
)
SCHEMA_LIST_KEYWORDS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems", "items"})
SCHEMA_MAP_KEYWORDS = frozenset(
    {"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"}
)
#: Keys whose values are data, not OpenAPI structure.
_DATA_KEYS = frozenset({"example", "examples", "default", "enum", "const", "value"})


def resolve_pointer(document: Any, pointer: str) -> Any:
    """The node at a JSON pointer (``""`` is the root); ``KeyError`` if there is none."""
    node = document
    if pointer in ("", "#"):
        return node
    for raw in pointer.lstrip("#").split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            try:
                node = node[int(token)]
            except (ValueError, IndexError):
                raise KeyError(pointer) from None
        elif isinstance(node, dict) and token in node:
            node = node[token]
        else:
            raise KeyError(pointer)
    return node


def iter_subschemas(schema: Any, pointer: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``schema`` and every schema nested in it (pre-order), with pointers."""
    if not isinstance(schema, dict):
        return
    yield pointer, schema
    for key, value in schema.items():
        if key in SCHEMA_MAP_KEYWORDS and isinstance(value, dict):
            for name, sub in value.items():
                yield from iter_subschemas(sub, join_pointer(pointer, key, name))
        elif key in SCHEMA_LIST_KEYWORDS and isinstance(value, list):
            for i, sub in enumerate(value):
                yield from iter_subschemas(sub, join_pointer(pointer, key, i))
        elif key in SCHEMA_SINGLE_KEYWORDS and isinstance(value, dict):
            yield from iter_subschemas(value, join_pointer(pointer, key))


def iter_schema_roots(document: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield the top-level schemas of an OpenAPI document: ``components/schemas/*`` and every
    ``schema``/``itemSchema`` of a media type, parameter or header (including those under
    ``x-`` keys, such as apidog's ``x-200:Streaming`` responses)."""

    def walk(node: Any, pointer: str) -> Iterator[tuple[str, dict[str, Any]]]:
        if isinstance(node, dict):
            for key, value in node.items():
                if not isinstance(key, str):
                    continue
                if key in {"schema", "itemSchema"} and isinstance(value, dict):
                    yield join_pointer(pointer, key), value
                elif key in _DATA_KEYS:
                    continue
                else:
                    yield from walk(value, join_pointer(pointer, key))
        elif isinstance(node, list):
            for i, item in enumerate(node):
                yield from walk(item, join_pointer(pointer, i))

    if not isinstance(document, dict):
        return
    components = document.get("components")
    if isinstance(components, dict) and isinstance(components.get("schemas"), dict):
        for name, schema in components["schemas"].items():
            if isinstance(schema, dict):
                yield join_pointer("/components/schemas", name), schema
    for key in ("paths", "webhooks", "components"):
        if key in document:
            yield from walk(
                {k: v for k, v in document[key].items() if k != "schemas"}
                if key == "components" and isinstance(document[key], dict)
                else document[key],
                "/" + key,
            )


# -- following a schema through its references and branches (a Contract's schemas) --------


def followed(contract: Any, location: str) -> tuple[Any, str]:
    """The schema at ``location`` and where it is, its ``$ref`` s followed (None where
    nothing is)."""
    try:
        node = contract.schema(location)
        for _ in range(16):
            if not (isinstance(node, dict) and isinstance(node.get("$ref"), str)):
                break
            ref = node["$ref"]
            location = ref[1:] if ref.startswith("#") else ref
            node = contract.schema(location)
    except (KeyError, LookupError, TypeError):
        return None, location
    return node, location


def branches(node: dict[str, Any], location: str, keywords: tuple[str, ...]) -> list[str]:
    """The locations of ``node``'s subschemas under ``keywords`` (``allOf``, ``anyOf``...)."""
    return [
        f"{location}/{keyword}/{index}"
        for keyword in keywords
        if isinstance(node.get(keyword), list)
        for index in range(len(node[keyword]))
    ]


def documented_values(contract: Any, location: str, depth: int = 0) -> list[Any]:
    """The values a schema documents (``const``, ``enum``, ``examples``, ``example``,
    ``default``; through ``$ref`` and its ``anyOf``/``oneOf`` branches), in that order."""
    node, location = followed(contract, location)
    if not isinstance(node, dict) or depth > 8:
        return []
    values: list[Any] = []
    if "const" in node:
        values.append(node["const"])
    for key in ("enum", "examples"):
        if isinstance(node.get(key), list):
            values += node[key]
    for key in ("example", "default"):
        if key in node:
            values.append(node[key])
    for branch in branches(node, location, ("anyOf", "oneOf", "allOf")):
        values += documented_values(contract, branch, depth + 1)
    return values
