"""What a document asks of every request's headers: the header its security scheme puts the
key in (OAS Security Scheme Object: ``apiKey`` ``in: header``, else ``Authorization``), and the
values of the header parameters it requires (Anthropic's ``anthropic-version``)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ._walk import followed

if TYPE_CHECKING:
    from ._model import Contract, Operation

__all__ = ["AUTHORIZATION", "auth_header", "header_values"]

AUTHORIZATION = "Authorization"
#: What a document may name and give and still be sent: an RFC 9110 token for the name, visible
#: ASCII and spaces (at most 256 of them) for the value; anything else a document says (a line
#: break, a control character) is not sent at all.
_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}")
_VALUE = re.compile(r"[\x20-\x7e]{1,256}")


def _node(contract: Contract, pointer: str) -> Any:
    try:
        node, _ = followed(contract, pointer)
    except (KeyError, LookupError, ValueError):
        return None
    return node


def auth_header(contract: Contract, operation: Operation | None = None) -> str:
    """The header the key goes in for ``operation`` (the profile's main one by default): the
    name of its first security requirement's ``apiKey`` scheme ``in: header``; else
    ``Authorization`` (``http`` bearer or basic, OAuth 2, OpenID Connect, or none said)."""
    operation = operation or contract.operation()
    for requirement in operation.security:
        for name in requirement:
            scheme = _node(contract, f"/components/securitySchemes/{name}")
            if not isinstance(scheme, dict):
                continue
            if scheme.get("type") == "apiKey" and scheme.get("in") == "header":
                header = scheme.get("name")
                if isinstance(header, str) and _NAME.fullmatch(header.strip()):
                    return header.strip()
            return AUTHORIZATION
    return AUTHORIZATION


def header_values(
    contract: Contract, operation: Operation | None = None
) -> tuple[tuple[str, str], ...]:
    """(name, value) of each header parameter ``operation`` requires that the document gives a
    value for (its ``example``, else its schema's ``default``, ``const``, ``example`` or first
    ``enum``): what a client of the document sends with every request."""
    operation = operation or contract.operation()
    item = operation.location.rsplit("/", 1)[0]
    found: dict[str, tuple[str, str]] = {}
    for location in (f"{item}/parameters", f"{operation.location}/parameters"):
        listed = _node(contract, location)
        for index in range(len(listed) if isinstance(listed, list) else 0):
            parameter, where = followed(contract, f"{location}/{index}")
            if not isinstance(parameter, dict) or parameter.get("in") != "header":
                continue
            name = parameter.get("name")
            if not (isinstance(name, str) and parameter.get("required") is True):
                continue
            if not _NAME.fullmatch(name):
                continue
            value = _value(contract, parameter, where)
            if value is not None and _VALUE.fullmatch(value):
                found[name.lower()] = (name, value)
    return tuple(found.values())


def _value(contract: Contract, parameter: dict[str, Any], location: str) -> str | None:
    if isinstance(parameter.get("example"), (str, int, float)):
        return str(parameter["example"])
    schema = _node(contract, f"{location}/schema")
    if not isinstance(schema, dict):
        return None
    for key in ("default", "const", "example"):
        if isinstance(schema.get(key), (str, int, float)) and not isinstance(schema[key], bool):
            return str(schema[key])
    enum = schema.get("enum")
    if isinstance(enum, list) and enum and isinstance(enum[0], str):
        return enum[0]
    return None
