"""Lint rules about examples and event streams: every example matches its own schema (a
JSON body, or the events of a stream example), and an event stream types its events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, relevance

from .._sse import parse_sse
from .._util import join_pointer, pointer_of, strict_json
from ._examples import media_examples as _media_examples
from ._finding import ERROR, WARNING, Finding
from ._model import Contract, StreamSpec
from ._walk import resolve_pointer

__all__ = ["examples_match", "stream_documented", "stream_typed"]

#: Most errors reported per example (the most relevant first).
MAX_ERRORS_PER_EXAMPLE = 8


# -- examples validate against their own schemas -------------------------------------------


def _schema_errors(validator: Draft202012Validator, instance: Any) -> list[ValidationError]:
    errors = sorted(validator.iter_errors(instance), key=relevance)
    return errors[:MAX_ERRORS_PER_EXAMPLE]


def _describe(contract: Contract, error: ValidationError, location: str) -> str:
    pointer = contract.schema_pointer(location, error.absolute_schema_path)
    where = pointer_of(error.absolute_path) or "/"
    return f"at {where}: {_short(error.message)} (schema {pointer})"


def _short(message: str, limit: int = 200) -> str:
    return message if len(message) <= limit else message[: limit - 3] + "..."


def _json_example(
    contract: Contract, schema: str, pointer: str, label: str, value: Any
) -> Iterator[Finding]:
    validator = contract.validator(schema)
    if isinstance(value, str) and value.lstrip().startswith(("data:", "event:", ":")):
        yield Finding(
            rule="LINT-EXAMPLE-INVALID",
            severity=WARNING,
            pointer=pointer,
            message=(
                f"{label} is an event stream, but its media type is JSON; "
                "its events are checked against the JSON schema one by one"
            ),
        )
        yield from _stream_example(contract, None, schema, pointer, label, value)
        return
    for error in _schema_errors(validator, value):
        yield Finding(
            rule="LINT-EXAMPLE-INVALID",
            severity=ERROR,
            pointer=pointer,
            message=f"{label} does not match its schema {_describe(contract, error, schema)}",
        )


def _stream_example(
    contract: Contract,
    stream: StreamSpec | None,
    data_schema: str | None,
    pointer: str,
    label: str,
    value: Any,
) -> Iterator[Finding]:
    if not isinstance(value, str):
        yield Finding(
            rule="LINT-EXAMPLE-INVALID",
            severity=ERROR,
            pointer=pointer,
            message=f"{label} of an event stream must be the stream's text, not {type(value).__name__}",
        )
        return
    events, framing = parse_sse(value)
    if framing.unterminated_tail is not None:
        tail = framing.unterminated_tail
        yield Finding(
            rule="LINT-SSE-EXAMPLE-UNTERMINATED",
            severity=WARNING,
            pointer=pointer,
            message=(
                f"{label} ends with an event that has no terminating blank line "
                f"({_short(tail, 60)!r}); a WHATWG client discards it, so it never arrives"
            ),
        )
    sentinels = stream.sentinels if stream else contract.profile.sentinels
    validator = contract.validator(data_schema) if data_schema else None
    for event in events:
        if event.data in sentinels:
            continue
        try:
            payload = strict_json(event.data)
        except ValueError as exc:
            yield Finding(
                rule="LINT-EXAMPLE-INVALID",
                severity=ERROR,
                pointer=pointer,
                message=f"{label}, event {event.index}: data is not JSON ({exc})",
            )
            continue
        if validator is None or data_schema is None:
            continue
        for error in _schema_errors(validator, payload):
            yield Finding(
                rule="LINT-EXAMPLE-INVALID",
                severity=ERROR,
                pointer=pointer,
                message=(
                    f"{label}, event {event.index}: does not match its schema "
                    f"{_describe(contract, error, data_schema)}"
                ),
            )


def examples_match(contract: Contract) -> Iterator[Finding]:
    document = contract.document
    for op in contract.operations:
        if op.request_schema and op.request_media_type:
            media_pointer = op.request_schema.rsplit("/", 1)[0]
            for pointer, label, value in _media_examples(
                _get(document, media_pointer), media_pointer
            ):
                yield from _json_example(
                    contract, op.request_schema, pointer, f"request {label}", value
                )
        for variants in op.responses.values():
            for variant in variants:
                name = f"{variant.status}" + (f" ({variant.name})" if variant.name else "")
                if variant.json_schema and variant.json_media_type:
                    media_pointer = join_pointer(
                        variant.location, "content", variant.json_media_type
                    )
                    for pointer, label, value in _media_examples(
                        _get(document, media_pointer), media_pointer
                    ):
                        yield from _json_example(
                            contract,
                            variant.json_schema,
                            pointer,
                            f"response {name} {label}",
                            value,
                        )
                if variant.stream:
                    media_pointer = variant.stream.location
                    for pointer, label, value in _media_examples(
                        _get(document, media_pointer), media_pointer
                    ):
                        yield from _stream_example(
                            contract,
                            variant.stream,
                            variant.stream.data_schema,
                            pointer,
                            f"response {name} stream {label}",
                            value,
                        )


def _get(document: Any, pointer: str) -> Any:
    try:
        return resolve_pointer(document, pointer)
    except KeyError:
        return None


def stream_typed(contract: Contract) -> Iterator[Finding]:
    for op in contract.operations:
        for variants in op.responses.values():
            for variant in variants:
                stream = variant.stream
                if stream is None or stream.data_schema or stream.named_events:
                    continue
                yield Finding(
                    rule="LINT-STREAM-UNTYPED",
                    severity=WARNING,
                    pointer=stream.location,
                    message=(
                        f"the {stream.media_type} response of {op.label} ({variant.status}) "
                        "does not type its events' data (an OAS 3.2 itemSchema with a data "
                        "contentSchema, or a schema of the JSON each event carries): its "
                        "chunks cannot be checked (STREAM-CHUNK-SCHEMA-001 does not apply)"
                    ),
                )


def stream_documented(contract: Contract) -> Iterator[Finding]:
    for op in contract.operations:
        if op.method != contract.profile.method or op.path != contract.profile.path:
            continue
        variants = [v for vs in op.responses.values() for v in vs if v.status.startswith("2")]
        if variants and not any(v.stream for v in variants):
            yield Finding(
                rule="LINT-STREAM-UNDOCUMENTED",
                severity=WARNING,
                pointer=join_pointer(op.location, "responses"),
                message=(
                    "no 2xx response has a text/event-stream media type, so streamed responses "
                    "(stream: true) have no schema and their chunks cannot be checked"
                ),
            )
