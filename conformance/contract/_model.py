"""The loaded contract: operations, their request schema, responses and stream schemas.

Every schema is addressed by a *location*: a JSON pointer into the effective document (or an
absolute URI for a schema in another document). :meth:`Contract.validator` compiles a location
once and caches it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry

from .._errors import OperationNotFound
from .._util import join_pointer
from ._profiles import Profile
from ._walk import branches, documented_values, followed, resolve_pointer

__all__ = [
    "Contract",
    "Operation",
    "Parameter",
    "ResponseVariant",
    "StreamSpec",
    "explain_error",
]

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace", "query")
#: apidog exports put a second response for a status under ``x-<status>:<name>``.
ADAPTER_RESPONSE_KEY = re.compile(r"^x-(?P<status>[1-5](?:\d\d|XX)|default):(?P<name>.+)$")


def explain_error(error: ValidationError) -> ValidationError:
    """The error a person needs, where jsonschema reports a combinator ("... is not valid under
    any of the given schemas"): inside anyOf/oneOf, the branch the value was meant for.

    - When every branch rejects the same spot by ``const``/``enum`` (a union keyed by a
      discriminator such as a message's ``role``), that spot, with every allowed value.
    - Otherwise the branch the discriminator chose (no const/enum error) with the fewest
      errors, leaving out the branches the value is not even the type of (the ``null`` of a
      nullable field); inside it, the deepest error.
    """
    while error.context:
        branches: dict[Any, list[ValidationError]] = {}
        for sub in error.context:
            key = sub.relative_schema_path[0] if sub.relative_schema_path else None
            branches.setdefault(key, []).append(sub)
        groups = list(branches.values())
        keyed = _discriminator(groups)
        if keyed is not None:
            return keyed
        here = tuple(error.absolute_path)
        typed = [
            g
            for g in groups
            if not all(e.validator == "type" and tuple(e.absolute_path) == here for e in g)
        ]
        if not typed:  # the value is none of the types the branches allow: say which
            return _none_of_the_types(error, [e for g in groups for e in g])
        # a branch whose discriminator matched (no const/enum error) first, then the fewest
        best = min(
            typed or groups,
            key=lambda g: (any(e.validator in ("const", "enum") for e in g), len(g)),
        )
        error = max(best, key=lambda e: len(e.absolute_path))
    return _described(error)


_ARTICLES = {"integer": "an integer", "object": "an object", "array": "an array", "null": "null"}


def _a(kind: str) -> str:
    return _ARTICLES.get(kind, f"a {kind}")


def _kind_of(value: Any) -> str:
    """A JSON value as a person names it: ``the integer 400``, ``null``, ``an object``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {shown!r}"
    return "an array" if isinstance(value, list) else "an object"


def _none_of_the_types(error: ValidationError, causes: list[ValidationError]) -> ValidationError:
    """``expected a string or null, got the integer 400`` for an anyOf/oneOf whose every
    branch rejects the value's type (instead of "400 is not valid under any of the given
    schemas")."""
    kinds: list[str] = []
    for cause in causes:
        wanted = cause.validator_value
        for kind in wanted if isinstance(wanted, list) else [wanted]:
            if isinstance(kind, str) and kind not in kinds:
                kinds.append(kind)
    if "number" in kinds and "integer" in kinds:
        kinds.remove("integer")
    names = [_a(k) for k in kinds]
    expected = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    return ValidationError(
        f"expected {expected}, got {_kind_of(error.instance)}",
        validator="type",
        validator_value=kinds,
        instance=error.instance,
        path=list(error.absolute_path),
        schema_path=list(error.absolute_schema_path),
    )


def _described(error: ValidationError) -> ValidationError:
    """An error of a cross-field rule (the ``then`` of an ``if``) reads as the rule's
    ``description`` when it has one, instead of jsonschema's words on the whole body."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    description = schema.get("description")
    if "then" not in error.absolute_schema_path or not isinstance(description, str):
        return error
    message = description if error.validator == "contains" else f"{description}: {error.message}"
    return ValidationError(
        message,
        validator=error.validator,
        validator_value=error.validator_value,
        instance=error.instance,
        path=list(error.absolute_path),
        schema_path=list(error.absolute_schema_path),
    )


def _discriminator(groups: list[list[ValidationError]]) -> ValidationError | None:
    if len(groups) < 2:
        return None
    spots = [
        {tuple(e.absolute_path): e for e in group if e.validator in ("const", "enum")}
        for group in groups
    ]
    common = set.intersection(*(set(s) for s in spots))
    if not common:
        return None
    where = min(common, key=len)
    allowed: list[Any] = []
    for spot in spots:
        e = spot[where]
        given: Any = e.validator_value
        for value in given if e.validator == "enum" else [given]:
            if value not in allowed:
                allowed.append(value)
    first = spots[0][where]
    return ValidationError(
        f"{first.instance!r} is not one of {allowed!r}",
        validator="enum",
        validator_value=allowed,
        instance=first.instance,
        path=list(first.absolute_path),
        schema_path=list(first.absolute_schema_path)[:-1],
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class StreamSpec:
    """An event-stream response: what each event's ``data`` must be."""

    media_type: str
    location: str  # the media type object
    event_schema: str | None  # itemSchema (3.2) or schema read per event (3.0/3.1)
    data_schema: str | None  # JSON Schema of the JSON in each non-sentinel ``data``
    sentinels: tuple[str, ...]
    sentinels_documented: bool  # False when they come from the profile, not the document
    #: (event name, data schema) of the itemSchema branches an ``event`` value selects
    #: (``properties: {event: {const: progress}, data: {contentSchema: ...}}``): an event
    #: with such a name is read with that schema, not ``data_schema``.
    named_events: tuple[tuple[str, str], ...] = ()

    def data_schema_for(self, event: str | None) -> str | None:
        """The schema of the data of an event called ``event`` (``message`` when unnamed):
        the branch its name selects, else ``data_schema``; None when the document names its
        events and this one is not among them."""
        if not self.named_events:
            return self.data_schema
        name = event or "message"
        for named, location in self.named_events:
            if named == name:
                return location
        return (
            self.data_schema if self.data_schema not in dict(self.named_events).values() else None
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class ResponseVariant:
    """One documented response for a status. apidog's ``x-200:Streaming`` is a second variant
    of ``200`` named ``Streaming``; an ordinary response has ``name=None``."""

    status: str
    name: str | None
    location: str
    media_types: tuple[str, ...]
    json_media_type: str | None
    json_schema: str | None
    stream: StreamSpec | None


@dataclass(frozen=True, kw_only=True, slots=True)
class Parameter:
    """A path or query parameter of an operation (header and cookie parameters are not sent)."""

    name: str
    location: str  # "path" or "query"
    required: bool
    schema: str | None  # JSON pointer of its schema in the normalised document
    #: Values the document gives for it: the parameter's ``example``/``examples``, then its
    #: schema's ``examples``, ``example``, ``default``, ``const`` and ``enum``, in that order.
    examples: tuple[Any, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class Operation:
    """One operation of the document: method, path, request schema, security and responses."""

    method: str
    path: str
    location: str
    operation_id: str | None
    request_media_type: str | None
    request_schema: str | None
    request_required: bool
    responses: Mapping[str, tuple[ResponseVariant, ...]]
    security: tuple[Mapping[str, Any], ...]
    #: The rule family the profile gives it (``chat``, ``models``...); None for an operation
    #: the profile does not certify (only the checks of every operation apply).
    family: str | None = None
    #: JSON pointer into the request body whose ``true`` selects the event stream.
    stream_selector: str | None = None
    #: Its path and query parameters (path-item ones first, overridden by the operation's).
    parameters: tuple[Parameter, ...] = ()

    @property
    def rule_family(self) -> str:
        """The family whose rules judge it: the profile's, else ``generic`` (only the checks
        of every operation): the one default, wherever a family is read."""
        return self.family or "generic"

    @property
    def label(self) -> str:
        """``POST /chat/completions``."""
        return f"{self.method.upper()} {self.path}"

    @property
    def documents_stream(self) -> bool:
        """Whether a 2xx answer of it documents an event stream."""
        return any(
            v.stream is not None
            for status, variants in self.responses.items()
            if status.startswith("2")
            for v in variants
        )

    @property
    def error_statuses(self) -> tuple[str, ...]:
        """The error statuses it documents (``404``, ``4XX``, ``default``), as written."""
        return tuple(s for s in self.responses if s[:1] in "45" or s == "default")

    def documented_error(self, status: int) -> int:
        """The status a server that keeps this document answers for an error it would give
        ``status``: ``status`` itself when documented (exactly, as ``NXX`` or by
        ``default``), else the first documented error of its class (4xx or 5xx), else
        ``status`` (the document gives none of its class)."""
        code = str(status)
        documented = self.error_statuses
        if code in documented or f"{code[0]}XX" in documented or "default" in documented:
            return status
        same_class = [int(s) for s in documented if s.isdigit() and s[0] == code[0]]
        return (same_class or [status])[0]

    def documents_class(self, status: int) -> bool:
        """Whether it documents an answer of ``status``'s class (``4xx``, ``5xx``), or a
        ``default`` one."""
        code = str(status)
        return "default" in self.responses or any(s[:1] == code[:1] for s in self.responses)

    @property
    def requires_auth(self) -> bool:
        """True when every security requirement names at least one scheme."""
        return bool(self.security) and all(self.security)


@dataclass(frozen=True, kw_only=True)
class Contract:
    """An OpenAPI document, overlaid and normalised, ready to check exchanges against."""

    source: str
    sha256: str
    profile: Profile
    overlays: tuple[str, ...]
    openapi: str
    base_uri: str
    #: The sha256 of each overlay's bytes, in the order of ``overlays``.
    overlay_sha256: tuple[str, ...] = ()
    document: Mapping[str, Any] = field(repr=False)  # overlaid, as written (lint reads this)
    schema_document: Mapping[str, Any] = field(repr=False)  # normalised to 2020-12
    registry: Registry[Any] = field(repr=False)
    operations: tuple[Operation, ...]
    _validators: dict[str, Draft202012Validator] = field(
        default_factory=dict, repr=False, compare=False
    )
    _fast: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    _declared: dict[str, frozenset[str]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def identity(self) -> tuple[Any, ...]:
        """What the contract's document depends on (the document's bytes, its overlays'
        names and bytes, the profile): the key of what is derived from the document alone and
        kept between uses (the drawing's prepared schema and draws, lint's findings)."""
        return (self.sha256, self.overlays, self.overlay_sha256, self.profile)

    def without_auth(self) -> Contract:
        """This contract for a deployment that takes no key (``run --no-auth``): no operation
        requires one, so AUTH-001 does not apply and no auth case is planned. The document is
        unchanged; the report's notes say why."""
        return dataclasses.replace(
            self,
            operations=tuple(dataclasses.replace(op, security=()) for op in self.operations),
        )

    # -- lookup ----------------------------------------------------------------------------

    def operation(self, method: str | None = None, path: str | None = None) -> Operation:
        """The operation the profile names, or the one given; :class:`OperationNotFound` when
        the document has no such operation."""
        method = (method or self.profile.method).lower()
        path = path or self.profile.path
        for op in self.operations:
            if op.method == method and op.path == path:
                return op
        known = ", ".join(f"{o.method.upper()} {o.path}" for o in self.operations) or "none"
        raise OperationNotFound(
            f"{method.upper()} {path} is not in the document (it has: {known})", source=self.source
        )

    def schema(self, location: str) -> Any:
        """The normalised schema at ``location``."""
        if location.startswith("/") or location == "":
            return resolve_pointer(self.schema_document, location)
        return self.registry.resolver().lookup(location).contents

    def documented_model(self) -> str | None:
        """The model the main operation's requests name: its examples' first, else the first
        value its schema gives ``model`` (``const``, ``enum``, ``example``, ``default``,
        through ``$ref``, ``allOf``, ``anyOf``, ``oneOf``), else :data:`UNNAMED_MODEL` when
        its requests take no model (Azure's deployment is in the path), else None."""
        from ._examples import request_examples

        operation = self.operation()
        for _, example in request_examples(self, operation):
            model = example.get("model") if isinstance(example, dict) else None
            if isinstance(model, str):
                return model
        if operation.request_schema is None:
            return None
        if not self.names_property(operation.request_schema, "model"):
            return UNNAMED_MODEL
        named = self.property_values(operation.request_schema, "model")
        return next((v for v in named if isinstance(v, str)), None)

    def property_values(self, location: str, name: str, depth: int = 0) -> list[Any]:
        """The values the schema at ``location`` documents for its property ``name`` (its
        ``const``, ``enum``, ``examples``, ``example``, ``default``; through ``$ref`` and the
        branches of both), in that order, each once."""
        node, location = followed(self, location)
        if not isinstance(node, dict) or depth > 8:
            return []
        values: list[Any] = []
        properties = node.get("properties")
        if isinstance(properties, dict) and isinstance(properties.get(name), dict):
            values += documented_values(self, f"{location}/properties/{name}")
        for branch in branches(node, location, ("allOf", "anyOf", "oneOf")):
            values += self.property_values(branch, name, depth + 1)
        unique: list[Any] = []
        for value in values:
            if value not in unique:
                unique.append(value)
        return unique

    def names_property(self, location: str, name: str, depth: int = 0) -> bool:
        """Whether the schema at ``location`` (through ``$ref``, ``allOf``, ``anyOf``,
        ``oneOf``) names the property ``name``."""
        node, location = followed(self, location)
        if not isinstance(node, dict) or depth > 8:
            return False
        properties = node.get("properties")
        if isinstance(properties, dict) and name in properties:
            return True
        return any(
            self.names_property(branch, name, depth + 1)
            for branch in branches(node, location, ("allOf", "anyOf", "oneOf"))
        )

    def schema_pointer(self, location: str, path: Iterable[str | int]) -> str:
        """The pointer (into this document) of the keyword a validation error names.

        ``path`` is a jsonschema ``absolute_schema_path`` relative to ``location``; jsonschema
        steps through ``$ref`` without recording it, so we follow references as we walk.
        """
        node: Any = self.schema(location)
        pointer = location
        for token in path:
            for _ in range(32):
                if (
                    isinstance(node, dict)
                    and token not in node
                    and isinstance(node.get("$ref"), str)
                ):
                    ref = node["$ref"]
                    if not ref.startswith("#"):
                        return pointer  # another document: stop at the reference
                    pointer = ref[1:]
                    node = resolve_pointer(self.schema_document, pointer)
                    continue
                break
            try:
                node = node[token]
            except (KeyError, IndexError, TypeError):
                return pointer
            pointer = join_pointer(pointer, token)
        return pointer

    def declares(self, name: str, operation: Operation | None = None) -> bool:
        """Whether a schema of ``operation`` (the profile's by default) names a property
        ``name``: its request, or any of its responses, JSON or event stream, following
        ``$ref`` s within the document. Checks whose subject the contract does not describe
        (DeepSeek's cache counters in OpenAI's contract, say) do not apply to it."""
        op = operation or self.operation()
        key = f"{op.method} {op.path}"
        if key not in self._declared:
            self._declared[key] = frozenset(self._property_names(op))
        return name in self._declared[key]

    def _property_names(self, operation: Operation) -> set[str]:
        def node_at(pointer: Any) -> Any:
            if not (isinstance(pointer, str) and pointer.startswith("/")):
                return None
            try:
                return resolve_pointer(self.schema_document, pointer)
            except KeyError:
                return None

        stack: list[Any] = [node_at(operation.request_schema)] + [
            node_at(location)
            for variants in operation.responses.values()
            for variant in variants
            for location in (variant.json_schema, variant.stream and variant.stream.data_schema)
        ]
        names: set[str] = set()
        seen: set[int] = set()
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if isinstance(node, dict):
                ref = node.get("$ref")
                if isinstance(ref, str) and ref.startswith("#"):
                    stack.append(node_at(ref[1:]))
                properties = node.get("properties")
                if isinstance(properties, dict):
                    names.update(str(k) for k in properties)
                stack.extend(v for k, v in node.items() if k not in ("example", "examples"))
            elif isinstance(node, list):
                stack.extend(node)
        return names

    def validator(self, location: str) -> Draft202012Validator:
        """A compiled 2020-12 validator for the schema at ``location`` (cached)."""
        cached = self._validators.get(location)
        if cached is None:
            uri = f"{self.base_uri}#{location}" if location.startswith("/") else location
            cached = Draft202012Validator({"$ref": uri}, registry=self.registry)
            self._validators[location] = cached
        return cached

    def is_valid(self, location: str, instance: Any) -> bool:
        """Whether ``instance`` matches the schema at ``location``: the hot path.

        Uses jsonschema-rs (compiled once per schema, about 100x faster than Python
        jsonschema); ask :meth:`validator` for the detailed errors of an invalid instance.
        Falls back to Python jsonschema for a schema jsonschema-rs cannot compile (e.g. a
        ``$ref`` into another file).
        """
        return bool(self.is_valid_function(location)(instance))

    def is_valid_function(self, location: str) -> Callable[[Any], bool]:
        """:meth:`is_valid` of one schema, as a function of the instance alone (a stream rule
        calls it once per chunk)."""
        fast = self._fast.get(location)
        if fast is None:
            fast = self._compile_fast(location)
            self._fast[location] = fast
        if fast is False:
            return self.validator(location).is_valid
        return fast.is_valid  # type: ignore[no-any-return]

    def _compile_fast(self, location: str) -> Any:
        try:
            import jsonschema_rs

            uri = f"{self.base_uri}#{location}" if location.startswith("/") else location
            registry = jsonschema_rs.Registry([(self.base_uri, dict(self.schema_document))])
            return jsonschema_rs.Draft202012Validator({"$ref": uri}, registry=registry)
        except Exception:
            return False

    # -- the one rule that picks a response ------------------------------------------------

    def certified_operations(self) -> tuple[Operation, ...]:
        """The operations the profile certifies that the document has, the main one first
        (:class:`OperationNotFound` when the main one is missing; another is left out)."""
        main = self.operation()
        more = [
            op
            for spec in self.profile.more_operations
            for op in self.operations
            if (op.method, op.path) == (spec.method, spec.path)
        ]
        if self.profile.all_operations:
            more += [op for op in self.operations if op.family and op not in (main, *more)]
        return (main, *more)

    def wants_stream(self, request_body: Any, operation: Operation | None = None) -> bool:
        """Whether a request asks for an event stream (the operation's selector, else the
        profile's, is ``true``) that the operation documents: where its answers document
        no event stream, ``stream: true`` is answered as the document says (its JSON)."""
        if operation is not None and not operation.documents_stream:
            return False
        selector = (operation.stream_selector if operation else None) or (
            self.profile.stream_selector if operation is None or operation.family else None
        )
        if selector is None:
            return False
        try:
            return resolve_pointer(request_body, selector) is True
        except (KeyError, TypeError):
            return False

    def select_response(
        self,
        operation: Operation,
        status: int | str,
        request_body: Any,
        *,
        stream: bool | None = None,
    ) -> ResponseVariant | None:
        """The documented response a request and status select: exact status, then ``NXX``,
        then ``default``; among its variants the stream one when the request asks for a stream,
        else the JSON one."""
        code = str(status)
        variants: tuple[ResponseVariant, ...] = ()
        for key in (code, f"{code[:1]}XX", "default"):
            variants = operation.responses.get(key, ())
            if variants:
                break
        if not variants:
            return None
        if stream if stream is not None else self.wants_stream(request_body, operation):
            preferred = [v for v in variants if v.stream is not None]
        else:
            preferred = [v for v in variants if v.json_schema is not None]
        return (preferred or list(variants))[0]


#: The model of a run whose document's requests name none (the deployment is in the path).
UNNAMED_MODEL = "unnamed"
