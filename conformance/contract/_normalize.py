"""Mechanical normalisation of an OpenAPI document's schemas to JSON Schema 2020-12.

Only what each OAS version says, nothing the errata decide:

- ``nullable: true`` (OAS 3.0) adds ``"null"`` to ``type`` (and ``None`` to ``enum``); a schema
  without ``type`` (a ``$ref``, a combinator) becomes ``anyOf: [schema, {type: null}]``. It is
  also honoured in 3.1/3.2 documents, which still use it in the wild (the official OpenAI
  document does), as schemathesis does.
- boolean ``exclusiveMinimum``/``exclusiveMaximum`` (OAS 3.0, draft 4) become the numeric form.
- ``type: 'null'`` in a 3.0 document is not an OAS 3.0 type; it is read as JSON Schema's null
  type (the only reading that makes sense) and ``conformance lint`` reports it.
- mapping keys become strings (YAML reads an unquoted ``200:`` as an integer).
"""

from __future__ import annotations

import copy
from typing import Any

from ._walk import (
    SCHEMA_LIST_KEYWORDS,
    SCHEMA_MAP_KEYWORDS,
    SCHEMA_SINGLE_KEYWORDS,
    iter_schema_roots,
)

__all__ = ["normalize_document", "normalize_schema", "optional_null_is_absent", "stringify_keys"]


def stringify_keys(data: Any) -> Any:
    """A copy of JSON-like ``data`` whose mapping keys are all strings."""
    if isinstance(data, dict):
        return {str(k): stringify_keys(v) for k, v in data.items()}
    if isinstance(data, list):
        return [stringify_keys(v) for v in data]
    return data


def _subschemas(schema: dict[str, Any]) -> list[Any]:
    """The direct subschemas of ``schema`` (under properties, items, allOf, not, ...)."""
    out: list[Any] = []
    for key, value in schema.items():
        if key in SCHEMA_MAP_KEYWORDS and isinstance(value, dict):
            out += value.values()
        elif key in SCHEMA_LIST_KEYWORDS and isinstance(value, list):
            out += value
        elif key in SCHEMA_SINGLE_KEYWORDS and isinstance(value, dict):
            out.append(value)
    return out


def normalize_schema(schema: Any) -> None:
    """Rewrite one schema (and its subschemas) to 2020-12, in place."""
    if not isinstance(schema, dict):
        return
    for sub in _subschemas(schema):
        normalize_schema(sub)
    for bound, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        flag = schema.get(exclusive)
        if isinstance(flag, bool):
            del schema[exclusive]
            if flag and bound in schema:
                schema[exclusive] = schema.pop(bound)
    if "nullable" in schema:
        nullable = schema.pop("nullable")
        if nullable is True:
            _add_null(schema)


def _add_null(schema: dict[str, Any]) -> None:
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if "null" not in types:
            schema["type"] = [*types, "null"]
        enum = schema.get("enum")
        if isinstance(enum, list) and None not in enum:
            schema["enum"] = [*enum, None]
        return
    inner = {k: v for k, v in schema.items() if not k.startswith("x-")}
    for key in inner:
        del schema[key]
    schema["anyOf"] = [inner, {"type": "null"}]


def optional_null_is_absent(document: Any) -> None:
    """Let every optional property (not in its schema's ``required``) be ``null``, in place:
    the reading of APIs whose servers and clients treat ``null`` as "absent" (a profile
    switch, ``null_is_absent``), for requests and responses alike."""
    for _pointer, schema in list(iter_schema_roots(document)):
        _optional_null(schema)


def _optional_null(schema: Any) -> None:
    if not isinstance(schema, dict):
        return
    for sub in _subschemas(schema):
        _optional_null(sub)
    properties = schema.get("properties")
    if isinstance(properties, dict):
        required = schema.get("required")
        required = set(required) if isinstance(required, list) else set()
        for name, prop in properties.items():
            if name not in required and isinstance(prop, dict) and prop and not _accepts_null(prop):
                _add_null(prop)


def _accepts_null(schema: dict[str, Any]) -> bool:
    """Whether ``schema`` already lets ``null`` through on its face (a type list with null, a
    null branch, null in its enum): wrapping it again would only blur its error messages."""
    types = schema.get("type")
    if types == "null" or (isinstance(types, list) and "null" in types):
        return True
    enum = schema.get("enum")
    if isinstance(enum, list) and None in enum:
        return True
    branches = [*schema.get("anyOf", []), *schema.get("oneOf", [])]
    return any(isinstance(b, dict) and _accepts_null(b) for b in branches)


def normalize_document(document: Any) -> Any:
    """A copy of ``document`` whose every schema is JSON Schema 2020-12."""
    result = copy.deepcopy(document)
    for _pointer, schema in list(iter_schema_roots(result)):
        normalize_schema(schema)
    return result
