"""``conformance lint``: what is wrong with a contract before any server is asked.

Each rule is a generator of :class:`Finding` (rule id, severity, JSON pointer, message) over the
overlaid document as written; pointers therefore point into the file a person edits (or into the
overlaid result). A rule never raises: a crash inside a third-party validator becomes a finding.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from .._util import Kept, escape_token, join_pointer, pointer_of
from ._finding import ERROR, WARNING, Finding
from ._lint_examples import examples_match, stream_documented, stream_typed
from ._model import ADAPTER_RESPONSE_KEY, METHODS, Contract
from ._walk import iter_schema_roots, iter_subschemas

__all__ = ["RULES", "Finding", "lint"]

_STATUS_KEY = ("1", "2", "3", "4", "5")
_SCHEME_TYPES = {"apiKey", "http", "oauth2", "openIdConnect", "mutualTLS"}
_ANNOTATIONS = {"title", "description", "example", "examples", "default", "deprecated"}


# -- the document is valid for its OAS version ---------------------------------------------


def _oas_valid(contract: Contract) -> Iterator[Finding]:
    try:
        from openapi_spec_validator import (
            OpenAPIV30SpecValidator,
            OpenAPIV31SpecValidator,
            OpenAPIV32SpecValidator,
        )

        validator_cls = {
            "3.0": OpenAPIV30SpecValidator,
            "3.1": OpenAPIV31SpecValidator,
            "3.2": OpenAPIV32SpecValidator,
        }[contract.openapi[:3]]
        errors = list(validator_cls(contract.document).iter_errors())
    except Exception as exc:  # the validator must never take lint down with it
        yield Finding(
            rule="LINT-OAS-INVALID",
            severity=WARNING,
            pointer="",
            message=f"openapi-spec-validator could not check the document ({exc!r})",
        )
        return
    located: dict[int, str] | None = None
    for error in errors:
        path = list(getattr(error, "path", []) or [])
        pointer = pointer_of(path)
        schema = getattr(error, "schema", None)
        if not path and isinstance(schema, dict) and "default" in schema:
            # a default that its own schema rejects: the validator checks the value alone and
            # says "/"; the schema is the document's own node, so its place can be found
            if located is None:
                located = _places(contract.document)
            if id(schema) in located:
                pointer = join_pointer(located[id(schema)], "default") + pointer_of(
                    list(getattr(error, "relative_path", []) or [])
                )
        schema_path_list = list(getattr(error, "schema_path", []) or [])
        keyword = getattr(error, "validator", None)
        if not isinstance(keyword, str):
            keyword = str(schema_path_list[-1]) if schema_path_list else "?"
        schema_path = "/".join(str(p) for p in schema_path_list)
        message = str(getattr(error, "message", error)).splitlines()[0]
        if len(message) > 160 or keyword in {"oneOf", "anyOf"}:
            message = (
                f"does not match the OpenAPI {contract.openapi[:3]} schema "
                f"(keyword {keyword!r} at {schema_path or '/'})"
            )
        yield Finding(
            rule="LINT-OAS-INVALID",
            severity=ERROR,
            pointer=pointer,
            message=f"invalid OpenAPI {contract.openapi}: {message}",
        )


def _places(document: Any) -> dict[int, str]:
    """The JSON pointer of every object of ``document``, by identity."""
    places: dict[int, str] = {}
    stack: list[tuple[Any, str]] = [(document, "")]
    while stack:
        node, pointer = stack.pop()
        if isinstance(node, dict):
            places.setdefault(id(node), pointer)
            stack += [(v, join_pointer(pointer, k)) for k, v in node.items()]
        elif isinstance(node, list):
            stack += [(v, join_pointer(pointer, i)) for i, v in enumerate(node)]
    return places


# -- oneOf that no value can satisfy -------------------------------------------------------


def _strip(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {
            k: _strip(v)
            for k, v in schema.items()
            if k not in _ANNOTATIONS and not str(k).startswith("x-")
        }
    if isinstance(schema, list):
        return [_strip(v) for v in schema]
    return schema


def _witnesses(branches: list[Any]) -> list[Any]:
    values: list[Any] = [None, {}, [], "", 0, 0.5, True]
    for branch in branches:
        if isinstance(branch, dict):
            if "const" in branch:
                values.append(branch["const"])
            if isinstance(branch.get("enum"), list):
                values.extend(branch["enum"])
    return values


def _oneof(contract: Contract) -> Iterator[Finding]:
    document = contract.schema_document
    for root_pointer, root in iter_schema_roots(document):
        for pointer, schema in iter_subschemas(root, root_pointer):
            branches = schema.get("oneOf")
            if not isinstance(branches, list) or len(branches) < 2:
                continue
            yield from _oneof_branches(contract, pointer, branches)


def _oneof_branches(contract: Contract, pointer: str, branches: list[Any]) -> Iterator[Finding]:
    stripped = [json.dumps(_strip(b), sort_keys=True) for b in branches]
    for i in range(len(branches)):
        for j in range(i + 1, len(branches)):
            if stripped[i] == stripped[j]:
                yield Finding(
                    rule="LINT-ONEOF-UNSAT",
                    severity=ERROR,
                    pointer=join_pointer(pointer, "oneOf"),
                    message=(
                        f"oneOf branches {i} and {j} are identical, so any value that matches one "
                        "matches both and fails oneOf: the schema accepts nothing there. "
                        "Make the branches disjoint (e.g. by a const or type) or use anyOf."
                    ),
                )
                return
    try:
        validators = [
            contract.validator(join_pointer(pointer, "oneOf", i)) for i in range(len(branches))
        ]
    except Exception:  # a branch that does not compile is reported by LINT-OAS-INVALID
        return
    for value in _witnesses(branches):
        try:
            matching = [i for i, v in enumerate(validators) if v.is_valid(value)]
        except Exception:
            return
        if len(matching) >= 2:
            yield Finding(
                rule="LINT-ONEOF-UNSAT",
                severity=ERROR,
                pointer=join_pointer(pointer, "oneOf"),
                message=(
                    f"oneOf branches {matching[0]} and {matching[1]} both accept "
                    f"{json.dumps(value)}, so such values fail oneOf. Make the branches "
                    "disjoint (e.g. by a const, required property or type) or use anyOf."
                ),
            )
            return


# -- type: 'null' in OAS 3.0 and 3.0's nullable in 3.1+ ------------------------------------


def _null_types(contract: Contract) -> Iterator[Finding]:
    is_30 = contract.openapi.startswith("3.0")
    for root_pointer, root in iter_schema_roots(contract.document):
        for pointer, schema in iter_subschemas(root, root_pointer):
            kind = schema.get("type")
            if is_30 and (kind == "null" or (isinstance(kind, list) and "null" in kind)):
                yield Finding(
                    rule="LINT-NULL-TYPE",
                    severity=ERROR,
                    pointer=join_pointer(pointer, "type"),
                    message=(
                        f"type 'null' is not an OpenAPI {contract.openapi} type (3.0 has "
                        "`nullable: true`; 'null' is a type from 3.1 on). It is read as JSON "
                        "Schema's null type, which accepts only null."
                    ),
                )
            if not is_30 and "nullable" in schema:
                yield Finding(
                    rule="LINT-LEGACY-NULLABLE",
                    severity=WARNING,
                    pointer=join_pointer(pointer, "nullable"),
                    message=(
                        f"`nullable` is an OpenAPI 3.0 keyword with no meaning in "
                        f"{contract.openapi}; it is honoured, but write type: [..., 'null']."
                    ),
                )


# -- responses keys, security, error responses ---------------------------------------------


def _iter_operations(document: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    paths = document.get("paths") if isinstance(document, dict) else None
    for path, item in (paths or {}).items():
        if not isinstance(item, dict):
            continue
        for method in METHODS:
            if isinstance(item.get(method), dict):
                yield join_pointer("/paths", path, method), item[method]


def _response_keys(contract: Contract) -> Iterator[Finding]:
    for pointer, op in _iter_operations(contract.document):
        for key in op.get("responses") or {}:
            match = ADAPTER_RESPONSE_KEY.match(key)
            if match:
                yield Finding(
                    rule="LINT-RESPONSE-KEY",
                    severity=WARNING,
                    pointer=join_pointer(pointer, "responses", key),
                    message=(
                        f"response key {key!r} is an extension, not a status code: OpenAPI tools "
                        f"ignore it. conformance reads it as a second {match['status']} response "
                        f"named {match['name']!r} (apidog's export of a second response); document "
                        "it as another media type of the one response instead."
                    ),
                )
            elif key.startswith("x-"):
                continue
            elif not (
                key == "default"
                or (
                    len(key) == 3
                    and key[0] in _STATUS_KEY
                    and (key[1:].isdigit() or key[1:] == "XX")
                )
            ):
                yield Finding(
                    rule="LINT-RESPONSE-KEY",
                    severity=ERROR,
                    pointer=join_pointer(pointer, "responses", key),
                    message=f"response key {key!r} is neither a status code, NXX nor default",
                )


def _security(contract: Contract) -> Iterator[Finding]:
    document = contract.document
    components = document.get("components") or {}
    schemes = components.get("securitySchemes") or {}
    for name, scheme in schemes.items():
        pointer = join_pointer("/components/securitySchemes", name)
        kind = scheme.get("type") if isinstance(scheme, dict) else None
        if kind not in _SCHEME_TYPES:
            hint = " (a bearer token is `type: http, scheme: bearer`)" if kind == "bearer" else ""
            yield Finding(
                rule="LINT-SECURITY-SCHEME",
                severity=ERROR,
                pointer=join_pointer(pointer, "type"),
                message=(
                    f"security scheme {name!r} has type {kind!r}, not one of "
                    f"{', '.join(sorted(_SCHEME_TYPES))}{hint}"
                ),
            )
        elif kind == "http" and not scheme.get("scheme"):
            yield Finding(
                rule="LINT-SECURITY-SCHEME",
                severity=ERROR,
                pointer=pointer,
                message=f"http security scheme {name!r} has no `scheme` (e.g. bearer)",
            )

    def requirements(value: Any, pointer: str) -> Iterator[Finding]:
        for i, requirement in enumerate(value if isinstance(value, list) else []):
            for key in requirement if isinstance(requirement, dict) else {}:
                if key not in schemes:
                    yield Finding(
                        rule="LINT-SECURITY-REQUIREMENT",
                        severity=ERROR,
                        pointer=join_pointer(pointer, i, key),
                        message=(
                            f"security requirement names {key!r}, which is not a declared "
                            f"security scheme (declared: {', '.join(schemes) or 'none'})"
                        ),
                    )

    global_security = document.get("security")
    yield from requirements(global_security, "/security")
    for pointer, op in _iter_operations(document):
        if "security" not in op:
            continue
        yield from requirements(op["security"], join_pointer(pointer, "security"))
        if op["security"] == [] and global_security:
            yield Finding(
                rule="LINT-SECURITY-OVERRIDE",
                severity=WARNING,
                pointer=join_pointer(pointer, "security"),
                message=(
                    "`security: []` overrides the global requirement and declares this operation "
                    "unauthenticated; remove it if the operation needs a key"
                ),
            )


def _error_responses(contract: Contract) -> Iterator[Finding]:
    for pointer, op in _iter_operations(contract.document):
        keys = [k for k in op.get("responses") or {} if not k.startswith("x-")]
        if "default" in keys:
            continue
        if not any(k[:1] in {"4", "5"} for k in keys):
            message = (
                f"no error response is documented (only {', '.join(keys) or 'none'}); every "
                "4xx/5xx a server sends will be 'undocumented' (HTTP-STATUS-001 cannot judge "
                "them). Document the error statuses and their body."
            )
        elif not any(k[:1] == "4" for k in keys):
            message = (
                f"no client error (4xx) is documented (only {', '.join(keys)}); the 400 or 422 "
                "a server gives an invalid request cannot be judged (HTTP-STATUS-001). "
                "Document them and their body."
            )
        else:
            continue
        yield Finding(
            rule="LINT-ERRORS-UNDOCUMENTED",
            severity=WARNING,
            pointer=join_pointer(pointer, "responses"),
            message=message,
        )


RULES: dict[str, tuple[str, Callable[[Contract], Iterator[Finding]]]] = {
    "LINT-OAS-INVALID": ("the document is valid for its OpenAPI version", _oas_valid),
    "LINT-ONEOF-UNSAT": ("no oneOf has identical or overlapping branches", _oneof),
    "LINT-NULL-TYPE": ("no type 'null' in 3.0; no 3.0 nullable in 3.1+", _null_types),
    "LINT-RESPONSE-KEY": ("response keys are status codes, NXX or default", _response_keys),
    "LINT-SECURITY": ("security schemes and requirements are valid", _security),
    "LINT-ERRORS-UNDOCUMENTED": ("operations document their errors", _error_responses),
    "LINT-STREAM-UNDOCUMENTED": ("the operation documents its event stream", stream_documented),
    "LINT-STREAM-UNTYPED": ("an event stream types its events' data", stream_typed),
    "LINT-EXAMPLE-INVALID": ("every example matches its own schema", examples_match),
}


def lint(contract: Contract, *, whole_document: bool = False) -> list[Finding]:
    """Every finding of every rule, errors first, in document order within a severity: about
    the profile's operation, what it references and the document as a whole, or (with
    ``whole_document``) about every operation and component."""
    findings = _all_findings(contract)
    if whole_document or not any(
        o.method == contract.profile.method and o.path == contract.profile.path
        for o in contract.operations
    ):
        return findings  # no operation of the profile's here: the document is all there is
    certified = contract.certified_operations()
    paths = {escape_token(op.path) for op in certified}
    reached = _reached(contract, [op.path for op in certified])
    return [f for f in findings if _in_scope(f.pointer, paths, reached)]


def _in_scope(pointer: str, paths: set[str], reached: set[str]) -> bool:
    """Whether a finding at ``pointer`` concerns the profile's operation: the document's own
    parts (info, security, servers...), the operation's path item, and the components the
    operation reaches through ``$ref`` s; not other operations or unused components."""
    parts = pointer.split("/")
    if len(parts) < 3 or parts[1] not in ("paths", "components"):
        return True
    if parts[1] == "paths":
        return parts[2] in paths
    if parts[2] == "securitySchemes" or len(parts) < 4:
        return True
    return f"/components/{parts[2]}/{parts[3]}" in reached


def _reached(contract: Contract, paths: list[str]) -> set[str]:
    """The components (``/components/KIND/NAME``) the path items of ``paths`` reference,
    directly or through other components."""
    document = contract.document
    seen: set[str] = set()
    stack: list[Any] = [document["paths"][path] for path in paths]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/"):
                target = "/".join(ref[1:].split("/")[:4])
                if target not in seen:
                    seen.add(target)
                    kind, name = target.split("/")[2:4]
                    stack.append(document.get("components", {}).get(kind, {}).get(_unescape(name)))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return seen


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


#: The findings of the last few contracts linted, by what they depend on (the document, its
#: overlays, the profile): a whole-document lint and a scoped one of the same contract
#: validate the 3 MB OpenAI document once (about 10 s), not twice.
_LINTED: Kept[tuple[Any, ...], list[Finding]] = Kept(4)


def _all_findings(contract: Contract) -> list[Finding]:
    key = contract.identity
    found = _LINTED.get(key)
    if found is None:
        found = _found(contract)
        _LINTED.put(key, found)
    return list(found)


def _found(contract: Contract) -> list[Finding]:
    findings: list[Finding] = []
    for _title, rule in RULES.values():
        try:
            findings.extend(rule(contract))
        except Exception as exc:  # a bug in a rule must not hide the other rules' findings
            findings.append(
                Finding(
                    rule="LINT-INTERNAL",
                    severity=WARNING,
                    pointer="",
                    message=f"rule {rule.__name__} failed: {exc!r} (please report this)",
                )
            )
    return sorted(findings, key=lambda f: f.severity != ERROR)
