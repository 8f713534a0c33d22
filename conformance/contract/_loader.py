"""``load_contract``: read, overlay, normalise, resolve and index an OpenAPI document."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin

from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource, PointerToNowhere, Unresolvable
from referencing.jsonschema import DRAFT202012

from .._errors import SpecError
from .._util import Kept, is_json_media_type, is_sse_media_type, join_pointer
from ._document import file_digest, read_document
from ._model import (
    ADAPTER_RESPONSE_KEY,
    METHODS,
    Contract,
    Operation,
    Parameter,
    ResponseVariant,
    StreamSpec,
)
from ._normalize import normalize_document, optional_null_is_absent, stringify_keys
from ._overlay import Overlay, apply_overlay, load_overlay
from ._profiles import Profile, load_profile
from ._walk import resolve_pointer

__all__ = ["load_contract", "overlaid_document"]

SUPPORTED_VERSIONS = ("3.0", "3.1", "3.2")


def _check_openapi(data: Any, source: str) -> str:
    if not isinstance(data, dict):
        raise SpecError(
            f"is not an OpenAPI document (top level is a {type(data).__name__}, not a mapping)",
            source=source,
        )
    version = data.get("openapi")
    if version is None:
        hint = " (Swagger 2.0 is not supported)" if "swagger" in data else ""
        raise SpecError(f"is not an OpenAPI 3.x document: no 'openapi' field{hint}", source=source)
    version = str(version)
    if not version.startswith(SUPPORTED_VERSIONS):
        raise SpecError(
            f"declares openapi {version!r}; supported: 3.0.x, 3.1.x, 3.2.x", source=source
        )
    if not isinstance(data.get("paths", {}), dict):
        raise SpecError("'paths' is not a mapping", source=source, pointer="/paths")
    return version


def overlaid_document(
    spec: str | Path, overlays: Sequence[str | Path]
) -> tuple[Any, Any, list[str]]:
    """The raw document, the document with ``overlays`` applied (as written), overlay names."""
    raw, document, applied = _overlaid(spec, overlays)
    return raw, document, [overlay.source for overlay in applied]


def _overlaid(spec: str | Path, overlays: Sequence[str | Path]) -> tuple[Any, Any, list[Overlay]]:
    raw = read_document(spec)
    _check_openapi(raw.data, raw.source)
    document = stringify_keys(raw.data)
    applied = []
    for item in overlays:
        overlay = load_overlay(item)
        document = apply_overlay(document, overlay)
        applied.append(overlay)
    return raw, document, applied


def load_contract(
    spec: str | Path | None = None,
    *,
    profile: str | Profile | None = None,
    overlays: Sequence[str | Path] = (),
) -> Contract:
    """Load a contract.

    With no ``spec``, the profile's document and overlays (the default profile is ``deepseek``).
    A ``spec`` given without a profile is read as written (profile ``literal``): a profile's
    overlays are written for its own document. A ``spec`` with a named profile gets that
    profile's overlays. ``overlays`` apply last, in order.
    """
    if profile is None:
        profile = "literal" if spec is not None else "deepseek"
    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    all_overlays = [*prof.overlays, *overlays]
    key = _made_of(spec, prof, all_overlays)
    known = _LOADED.get(key) if key is not None else None
    if known is not None:
        return known
    contract = _load(spec, prof, all_overlays)
    # kept only when what was parsed is what was digested: a file written between the two
    # reads would otherwise be remembered under its former bytes
    if key is not None and [part[2] for part in key[1:]] == [
        contract.sha256,
        *contract.overlay_sha256,
    ]:
        _LOADED.put(key, contract)
    return contract


#: Contracts this process has loaded, by what each was made of (every file's path and the
#: sha256 of its bytes, and the profile): loading the same files again (a pytest session's
#: runs, ``conformance.run`` in a loop, the test suite's in-process commands) gives the same
#: Contract, not another parse, normalisation and index (the OpenAI document: about 0.5 s).
#: A Contract is frozen and nothing in this package changes its documents (a test puts one
#: through runs, lint and the reference server and compares it with a fresh load); code that
#: wants a changed document copies it first, as ``effective_document`` does.
_LOADED: Kept[tuple[Any, ...], Contract] = Kept(8)


def _made_of(
    spec: str | Path | None, profile: Profile, overlays: Sequence[str | Path]
) -> tuple[Any, ...] | None:
    """The key of a load in ``_LOADED``; None when a part is not a local file that can be
    read (a URL is fetched again: what it serves may have changed)."""
    parts: list[Any] = [profile]
    for source in (spec or profile.spec, *overlays):
        digest = file_digest(source)
        if digest is None:
            return None
        parts.append((str(source), os.path.abspath(source), digest))
    return tuple(parts)


def _load(spec: str | Path | None, prof: Profile, all_overlays: Sequence[str | Path]) -> Contract:
    raw, document, applied = _overlaid(spec or prof.spec, all_overlays)
    version = _check_openapi(document, raw.source)
    normalized = normalize_document(document)
    if prof.null_is_absent:
        optional_null_is_absent(normalized)
    registry = _registry(raw.uri, normalized)
    _check_refs(normalized, raw.uri, registry, raw.source)
    operations = tuple(_operations(normalized, document, prof, raw.uri, registry, raw.source))
    contract = Contract(
        source=raw.source,
        sha256=raw.sha256,
        profile=prof,
        overlays=tuple(overlay.source for overlay in applied),
        overlay_sha256=tuple(overlay.sha256 for overlay in applied),
        openapi=version,
        base_uri=raw.uri,
        document=document,
        schema_document=normalized,
        registry=registry,
        operations=operations,
    )
    if spec is not None and prof.all_operations:
        recognised = _recognised(contract)
        if recognised is not prof:
            again = _operations(normalized, document, recognised, raw.uri, registry, raw.source)
            contract = dataclasses.replace(contract, profile=recognised, operations=tuple(again))
    return contract


# -- $ref resolution ------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _external(uri: str) -> Resource[Any]:
    raw = read_document(uri[len("file://") :] if uri.startswith("file://") else uri)
    return Resource.from_contents(
        normalize_document(stringify_keys(raw.data)), default_specification=DRAFT202012
    )


def _retrieve(uri: str) -> Resource[Any]:
    try:
        return _external(uri)
    except SpecError as exc:
        raise NoSuchResource(ref=uri) from exc  # type: ignore[call-arg]


def _registry(uri: str, normalized: Any) -> Registry[Any]:
    resource = Resource.from_contents(normalized, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry(retrieve=_retrieve)  # type: ignore[call-arg]
    with_document: Registry[Any] = registry.with_resource(uri, resource)
    return with_document


def _iter_refs(node: Any, pointer: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield pointer, ref
        for key, value in node.items():
            if key in {"example", "examples", "const", "enum", "default"}:
                continue
            yield from _iter_refs(value, join_pointer(pointer, key))
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _iter_refs(item, join_pointer(pointer, i))


def _check_refs(normalized: Any, uri: str, registry: Registry[Any], source: str) -> None:
    resolver = registry.resolver(base_uri=uri)
    seen: set[str] = set()
    for pointer, ref in _iter_refs(normalized):
        if ref in seen:
            continue
        seen.add(ref)
        try:
            resolver.lookup(ref)
        except Unresolvable as exc:
            # referencing's own messages embed the whole target document: say it briefly.
            base, fragment = urldefrag(urljoin(uri, ref))
            if isinstance(exc, PointerToNowhere):
                detail = (
                    f"{fragment!r} does not exist in {'this document' if base == uri else base}"
                )
            elif isinstance(exc, NoSuchResource) or base != uri:
                detail = f"the document {base} cannot be read"
            else:
                detail = type(exc).__name__
            raise SpecError(
                f"$ref {ref!r} cannot be resolved ({detail})", source=source, pointer=pointer
            ) from None


# -- indexing operations --------------------------------------------------------------------


class _Deref:
    """Follows OAS-level ``$ref`` (a requestBody or response may be a reference)."""

    def __init__(self, normalized: Any, uri: str, registry: Registry[Any], source: str) -> None:
        self.document = normalized
        self.uri = uri
        self.resolver = registry.resolver(base_uri=uri)
        self.source = source

    def __call__(self, node: Any, location: str) -> tuple[Any, str]:
        for _ in range(32):
            if not (isinstance(node, dict) and isinstance(node.get("$ref"), str)):
                return node, location
            ref = node["$ref"]
            absolute = urljoin(self.uri, ref)
            base, fragment = urldefrag(absolute)
            try:
                if base == self.uri:
                    node, location = resolve_pointer(self.document, fragment), fragment
                else:
                    node, location = self.resolver.lookup(absolute).contents, absolute
            except (KeyError, Unresolvable):
                raise SpecError(
                    f"$ref {ref!r} cannot be resolved", source=self.source, pointer=location
                ) from None
        raise SpecError("$ref chain is too long (a cycle?)", source=self.source, pointer=location)


def _parameters(deref: _Deref, lists: list[tuple[Any, str]]) -> tuple[Parameter, ...]:
    """The path and query parameters of the path item then the operation (the operation's
    replace the path item's of the same name and location)."""
    found: dict[tuple[str, str], Parameter] = {}
    for items, items_location in lists:
        if not isinstance(items, list):
            continue
        for index, raw in enumerate(items):
            param, param_location = deref(raw, join_pointer(items_location, index))
            if not isinstance(param, dict) or param.get("in") not in ("path", "query"):
                continue
            name = param.get("name")
            if not isinstance(name, str):
                continue
            schema = param.get("schema")
            examples: list[Any] = []
            if "example" in param:
                examples.append(param["example"])
            for example in (param.get("examples") or {}).values():
                example, _ = deref(example, param_location)
                if isinstance(example, dict) and "value" in example:
                    examples.append(example["value"])
            if isinstance(schema, dict):
                examples += list(schema.get("examples") or [])
                examples += [schema[k] for k in ("example", "default", "const") if k in schema]
                examples += list(schema.get("enum") or [])
            found[(param["in"], name)] = Parameter(
                name=name,
                location=param["in"],
                required=param.get("required") is True or param["in"] == "path",
                schema=join_pointer(param_location, "schema") if "schema" in param else None,
                examples=tuple({_key(e): e for e in examples}.values()),
            )
    return tuple(found.values())


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _describes_json(schema: Any) -> bool:
    """Whether an event's ``data`` schema describes the JSON it carries (an object, or a
    combination of schemas) rather than the text (``type: string``)."""
    if not isinstance(schema, dict) or "contentSchema" in schema or "const" in schema:
        return False
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return True
    return kind is None and any(k in schema for k in ("allOf", "oneOf", "anyOf"))


def _stream_spec(
    media: dict[str, Any],
    location: str,
    media_type: str,
    deref: _Deref,
    fallback: tuple[str, ...],
) -> StreamSpec:
    key = "itemSchema" if "itemSchema" in media else "schema" if "schema" in media else None
    event_location = join_pointer(location, key) if key else None
    data_location: str | None = None
    sentinels: list[str] = []
    named: list[tuple[str, str]] = []
    if key is not None and event_location is not None:
        event, event_location = deref(media[key], event_location)
        branches: list[tuple[Any, str]] = [(event, event_location)]
        for combinator in ("oneOf", "anyOf"):
            if isinstance(event.get(combinator), list):
                branches = [
                    deref(b, join_pointer(event_location, combinator, i))
                    for i, b in enumerate(event[combinator])
                ]
                break
        event_shaped = False
        for branch, branch_location in branches:
            properties = branch.get("properties") if isinstance(branch, dict) else None
            if not isinstance(properties, dict) or not isinstance(properties.get("data"), dict):
                continue
            event_shaped = True
            data, data_ptr = deref(
                properties["data"], join_pointer(branch_location, "properties", "data")
            )
            if isinstance(data.get("const"), str):
                sentinels.append(data["const"])
            elif _describes_json(data) and data_location is None:
                # a generators' style: the data property holds the chunk's schema itself
                # ({properties: {data: {$ref: Chunk}}}), not a string with a contentSchema
                data_location = data_ptr
            elif isinstance(data.get("contentSchema"), dict):
                name = _event_name(properties.get("event"))
                if name is None or data_location is None:
                    data_location = join_pointer(data_ptr, "contentSchema")
                if name is not None:
                    named.append((name, join_pointer(data_ptr, "contentSchema")))
        if not event_shaped and event.get("type") == "string":
            # the data as text: typed only by its contentSchema (else the events are untyped)
            if isinstance(event.get("contentSchema"), dict):
                data_location = join_pointer(event_location, "contentSchema")
        elif not event_shaped:
            # The common convention (the official OpenAI document): the schema describes the
            # JSON carried in each event's data.
            data_location = event_location
    documented = bool(sentinels)
    return StreamSpec(
        media_type=media_type,
        location=location,
        event_schema=event_location,
        data_schema=data_location,
        sentinels=tuple(sentinels) if sentinels else fallback,
        sentinels_documented=documented,
        named_events=tuple(named),
    )


def _event_name(schema: Any) -> str | None:
    """The one ``event`` value an itemSchema branch allows (``const``, or a one-value
    ``enum``), else None."""
    if not isinstance(schema, dict):
        return None
    if isinstance(schema.get("const"), str):
        return str(schema["const"])
    enum = schema.get("enum")
    if isinstance(enum, list) and len(enum) == 1 and isinstance(enum[0], str):
        return enum[0]
    return None


def _variant(
    status: str,
    name: str | None,
    response: Any,
    location: str,
    deref: _Deref,
    sentinels: tuple[str, ...],
) -> ResponseVariant:
    response, location = deref(response, location)
    content = response.get("content") if isinstance(response, dict) else None
    content = content if isinstance(content, dict) else {}
    json_media_type = json_schema = None
    stream = None
    for media_type, media in content.items():
        if not isinstance(media, dict):
            continue
        media_location = join_pointer(location, "content", media_type)
        if is_sse_media_type(media_type) and stream is None:
            stream = _stream_spec(media, media_location, media_type, deref, sentinels)
        elif is_json_media_type(media_type) and json_media_type is None:
            json_media_type = media_type
            if "schema" in media:
                json_schema = join_pointer(media_location, "schema")
    return ResponseVariant(
        status=status,
        name=name,
        location=location,
        media_types=tuple(content),
        json_media_type=json_media_type,
        json_schema=json_schema,
        stream=stream,
    )


def _operations(
    normalized: Any,
    document: Any,
    profile: Profile,
    uri: str,
    registry: Registry[Any],
    source: str,
) -> Iterator[Operation]:
    deref = _Deref(normalized, uri, registry, source)
    global_security = normalized.get("security")
    certified = {(o.method, o.path): o for o in profile.operations}
    for path, item in (normalized.get("paths") or {}).items():
        item_location = join_pointer("/paths", path)
        item, item_location = deref(item, item_location)
        if not isinstance(item, dict):
            continue
        for method in METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            location = join_pointer(item_location, method)
            spec = certified.get((method, path))
            # the profile's sentinels for its operations; others end as their document says
            sentinels = spec.sentinels if spec else ()
            request_media_type = request_schema = None
            body, body_location = deref(
                op.get("requestBody"), join_pointer(location, "requestBody")
            )
            required = False
            if isinstance(body, dict):
                required = body.get("required") is True
                for media_type, media in (body.get("content") or {}).items():
                    if is_json_media_type(media_type) and isinstance(media, dict):
                        request_media_type = media_type
                        if "schema" in media:
                            request_schema = join_pointer(
                                body_location, "content", media_type, "schema"
                            )
                        break
            responses: dict[str, list[ResponseVariant]] = {}
            for key, response in (op.get("responses") or {}).items():
                response_location = join_pointer(location, "responses", key)
                match = ADAPTER_RESPONSE_KEY.match(key)
                if match:
                    status, name = match["status"], match["name"]
                elif key.startswith("x-"):
                    continue
                else:
                    status, name = key, None
                responses.setdefault(status, []).append(
                    _variant(status, name, response, response_location, deref, sentinels)
                )
            security = op.get("security", global_security) or []
            parameters = _parameters(
                deref,
                [
                    (item.get("parameters"), join_pointer(item_location, "parameters")),
                    (op.get("parameters"), join_pointer(location, "parameters")),
                ],
            )
            family = spec.family if spec else None
            selector = spec.stream_selector if spec else None
            if spec is None and profile.all_operations and "#" not in path:
                # a path with a fragment ("/v1/conversations#stream": Mistral's second
                # operation at one URL) cannot be told from the other one by a request
                family, selector = _generic(profile, body, request_media_type, responses)
            yield Operation(
                method=method,
                path=path,
                location=location,
                operation_id=op.get("operationId"),
                request_media_type=request_media_type,
                request_schema=request_schema,
                request_required=required,
                responses={k: tuple(v) for k, v in responses.items()},
                security=tuple(s for s in security if isinstance(s, dict)),
                family=family,
                stream_selector=selector,
                parameters=parameters,
            )


def _recognised(contract: Contract) -> Profile:
    """The profile with its main operation where a document given without a profile has it:
    a document runs with its paths as written, and no flag.

    The profile's path as written; else the one path ending in it under the shortest prefix
    (``/v1/chat/completions``, ``/openai/deployments/{id}/chat/completions`` before
    ``.../extensions/chat/completions``); else a POST shaped like chat completions (its request
    has ``messages``, its 2xx answer ``choices``). A document with none of these is checked
    by its own operations alone: the first one the suite can check becomes the main one, of
    family ``generic`` (no chat rule applies to it)."""
    profile, operations = contract.profile, contract.operations
    if any((o.method, o.path) == (profile.method, profile.path) for o in operations):
        return profile
    ending = [o for o in operations if o.method == profile.method and o.path.endswith(profile.path)]
    shaped = [o for o in operations if o.method == "post" and _chat_shaped(contract, o)]
    found = ending or shaped
    if found:
        main = min(found, key=lambda o: (o.path.count("/"), len(o.path)))
        prefix = main.path[: -len(profile.path)] if main in ending else ""
        return dataclasses.replace(
            profile,
            method=main.method,
            path=main.path,
            more_operations=tuple(
                dataclasses.replace(op, path=prefix + op.path) for op in profile.more_operations
            ),
        )
    checkable = [o for o in operations if o.family]
    if not checkable:
        return profile
    first = checkable[0]
    return dataclasses.replace(
        profile,
        method=first.method,
        path=first.path,
        family="generic",
        stream_selector=first.stream_selector,
        more_operations=(),
    )


def _chat_shaped(contract: Contract, operation: Operation) -> bool:
    """Whether ``operation`` looks like chat completions: ``messages`` in its request body,
    ``choices`` in the JSON of a 2xx answer."""
    if operation.request_schema is None:
        return False
    return contract.names_property(operation.request_schema, "messages") and any(
        contract.names_property(v.json_schema, "choices")
        for status, variants in operation.responses.items()
        if status.startswith("2")
        for v in variants
        if v.json_schema is not None
    )


def _generic(
    profile: Profile,
    body: Any,
    request_media_type: str | None,
    responses: dict[str, list[ResponseVariant]],
) -> tuple[str | None, str | None]:
    """For ``operations: all``: (``generic``, its stream selector) when the suite can send the
    operation's request (a JSON body, or none) and check a response of it, else (None, None)."""
    sendable = request_media_type is not None or not (
        isinstance(body, dict) and body.get("content")
    )
    variants = [v for vs in responses.values() for v in vs]
    if not sendable or not any(v.json_schema or v.stream for v in variants):
        return None, None
    both = any(v.stream for v in variants) and any(v.json_schema for v in variants)
    return "generic", profile.stream_selector if both else None
