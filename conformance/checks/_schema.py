"""Checks whose facts come from the contract: status, media type, body and chunk schemas."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from .._util import (
    SSE_MEDIA_TYPE,
    is_json_media_type,
    is_sse_media_type,
    media_type_base,
    pointer_of,
)
from ..contract import explain_error
from ..exchange import error_message
from ._base import (
    CheckContext,
    Chunk,
    Failure,
    RuleBase,
    SkipCheck,
    failure,
    response_check,
    stream_rule,
)

__all__: list[str] = []

#: Most schema errors reported for one body, and for one stream (constant memory).
MAX_SCHEMA_ERRORS = 20


@response_check(
    id="HTTP-STATUS-001",
    families=None,
    judges=("accept", "reject", "unauthorized"),
    title="The status code is documented for the operation",
    severity="MUST",
    category="http",
    level="core",
    source="OAS Responses Object (the operation's documented status codes)",
    status_only=True,
)
def status_documented(ctx: CheckContext) -> Iterator[Failure]:
    status = ctx.exchange.response.status
    if status >= 400 and not ctx.operation.documents_class(status):
        raise SkipCheck(
            f"the document gives {ctx.operation.method.upper()} {ctx.operation.path} no "
            f"{str(status)[0]}xx status, so no such answer can be judged against it (lint: "
            "LINT-ERRORS-UNDOCUMENTED)"
        )
    if ctx.variant is None:
        documented = ", ".join(ctx.operation.responses) or "none"
        yield failure(
            f"status {ctx.exchange.response.status} is not documented for "
            f"{ctx.operation.method.upper()} {ctx.operation.path} (documented: {documented})"
            + _said(ctx),
            value=ctx.exchange.response.status,
            schema_path=ctx.operation.location + "/responses",
        )


def _breaks(ctx: CheckContext) -> str:
    """``; the request breaks: /pointer: what`` for a negative that names its violations."""
    violations = ctx.exchange.violations
    if not violations:
        return ""
    return "; the request breaks: " + "; ".join(str(v) for v in violations)


def _said(ctx: CheckContext) -> str:
    """``; the server said: ...`` for an error response (its own message), else nothing."""
    response = ctx.exchange.response
    if response.status < 400 or response.body is None:
        return ""
    return f"; the server said: {error_message(response)}"


def _expected_media_types(ctx: CheckContext) -> tuple[list[str], str]:
    variant = ctx.variant
    assert variant is not None
    documented = list(variant.media_types)
    if not documented:  # no content documented (a 204): nothing to expect
        return [], f"documented for status {variant.status}"
    status = ctx.exchange.response.status
    if 200 <= status < 300 and ctx.wants_stream is not None:
        if ctx.wants_stream:
            return [m for m in documented if is_sse_media_type(m)] or [
                SSE_MEDIA_TYPE
            ], "the request set stream: true"
        json_types = [m for m in documented if is_json_media_type(m)]
        if not json_types and documented:  # it answers only a stream (TGI /generate_stream)
            return documented, f"documented for status {variant.status}"
        return json_types or ["application/json"], "the request did not ask for a stream"
    return documented, f"documented for status {variant.status}"


def _expectation(ctx: CheckContext, wanted: str) -> None:
    if ctx.exchange.expectation is None:
        raise SkipCheck("the exchange says nothing of whether its request was valid")
    if ctx.exchange.expectation != wanted:
        raise SkipCheck(f"applies to '{wanted}' cases, this one is '{ctx.exchange.expectation}'")


@response_check(
    id="HTTP-ACCEPT-001",
    families=None,
    judges=("accept",),
    title="A valid request gets a 2xx response",
    severity="MUST",
    category="http",
    level="core",
    source="SPEC request schema (the body is valid); DSERR (5xx are server faults)",
    status_only=True,
)
def accepted(ctx: CheckContext) -> Iterator[Failure]:
    _expectation(ctx, "accept")
    status = ctx.exchange.response.status
    if not 200 <= status < 300:
        yield failure(
            f"a request the contract accepts got HTTP {status}; expected 2xx"
            + (" (a server error)" if status >= 500 else "")
            + _said(ctx),
            value=status,
        )


@response_check(
    id="NEGATIVE-INPUT-001",
    families=None,
    judges=("reject",),
    title="An invalid request gets a 4xx response",
    severity="MUST",
    category="errors",
    level="core",
    source="DSERR (400 Invalid Format, 422 Invalid Parameters); D2#14",
    status_only=True,
)
def rejected(ctx: CheckContext) -> Iterator[Failure]:
    _expectation(ctx, "reject")
    status = ctx.exchange.response.status
    if not 400 <= status < 500:
        yield failure(
            f"a request the contract rejects got HTTP {status}; expected 400 or 422 with the "
            "error envelope" + _said(ctx) + _breaks(ctx),
            value=status,
        )


@response_check(
    id="AUTH-001",
    families=None,
    judges=("unauthorized",),
    title="A request without a valid API key gets 401",
    severity="MUST",
    category="auth",
    level="core",
    requires_auth=True,
    source="SPEC security bearer (erratum B#43); DSERR (401 Authentication Fails); "
    "capture deepseek-chat-bad-key-error-401",
    status_only=True,
)
def unauthorized(ctx: CheckContext) -> Iterator[Failure]:
    _expectation(ctx, "unauthorized")
    status = ctx.exchange.response.status
    # a document that gives the operation other errors but not 401 (FastAPI's 422 alone):
    # the error it documents is the one a server keeping it answers
    expected = ctx.operation.documented_error(401)
    if status not in (401, expected):
        wanted = "401" if expected == 401 else f"401 or {expected} (the error it documents)"
        yield failure(
            f"a request with no or a wrong API key got HTTP {status}; expected {wanted} (a "
            "deployment without auth declares it in the contract: an overlay setting the "
            "operation's security to [] makes this check not apply)",
            value=status,
        )


@response_check(
    id="HTTP-COMPLETE-001",
    families=None,
    judges=("accept", "reject", "unauthorized"),
    title="The response arrives whole within the time and size limits",
    severity="MUST",
    category="timing",
    level="core",
    without_response=True,
    source="DSRL (keep-alive while queued, then the answer, or the connection closes); "
    "D2#1, D2#13 (streams that never end)",
)
def complete(ctx: CheckContext) -> Iterator[Failure]:
    if ctx.exchange.interrupted is not None:
        timings = ctx.exchange.timings
        took = f" after {timings.total:.1f} s" if timings.total is not None else ""
        yield failure(
            f"the response was cut short{took}: {ctx.exchange.interrupted}; a client would hang "
            "or give up here",
            value=ctx.exchange.interrupted,
        )


@response_check(
    id="HTTP-CONTENT-TYPE-001",
    families=None,
    judges=("accept", "reject", "unauthorized"),
    title="The Content-Type is the documented one the request asked for",
    severity="MUST",
    category="http",
    level="core",
    source="OAS Media Type Object; DS25 (stream: true gives text/event-stream)",
    status_only=True,
)
def content_type(ctx: CheckContext) -> Iterator[Failure]:
    response = ctx.exchange.response
    if response.headers is None:
        raise SkipCheck("the recording has no headers")
    if ctx.variant is None:
        raise SkipCheck("the status is not documented")
    expected, why = _expected_media_types(ctx)
    if not expected:
        raise SkipCheck("the response documents no content")
    actual = response.content_type
    if actual is None:
        yield failure(
            f"no Content-Type header; expected {' or '.join(expected)} ({why})",
        )
        return
    if media_type_base(actual) not in {media_type_base(m) for m in expected}:
        yield failure(
            f"Content-Type is {actual!r}; expected {' or '.join(expected)} ({why})",
            value=actual,
            schema_path=ctx.variant.location + "/content",
        )


@response_check(
    id="BODY-JSON-001",
    families=None,
    judges=("accept", "reject", "unauthorized"),
    title="A non-streamed body is strict JSON (no NaN or Infinity)",
    severity="MUST",
    category="schema",
    level="core",
    source="RFC8259 (no NaN or Infinity); OAS Media Type Object (application/json)",
    run_on="json",
)
def body_is_json(ctx: CheckContext) -> Iterator[Failure]:
    response = ctx.exchange.response
    if ctx.variant is not None and not ctx.variant.media_types and not response.body:
        raise SkipCheck("the response documents no content, and has none")
    if ctx.body_error is not None:
        body = ctx.exchange.response.body or b""
        yield failure(
            f"the body is not JSON: {ctx.body_error}",
            value=body[:200].decode("utf-8", errors="replace"),
        )


def _schema_failures(
    ctx: CheckContext, location: str, instance: Any, chunk: int | None = None
) -> Iterator[Failure]:
    if ctx.contract.is_valid(location, instance):
        return
    validator = ctx.contract.validator(location)
    for count, top in enumerate(validator.iter_errors(instance)):
        if count == MAX_SCHEMA_ERRORS:
            break
        error = explain_error(top)
        yield failure(
            error.message if len(error.message) < 300 else error.message[:297] + "...",
            instance_path=pointer_of(error.absolute_path),
            schema_path=ctx.contract.schema_pointer(location, error.absolute_schema_path),
            chunk_index=chunk,
            value=error.instance,
        )


@response_check(
    id="BODY-SCHEMA-001",
    families=None,
    judges=("accept", "reject", "unauthorized"),
    title="A non-streamed body matches the documented schema",
    severity="MUST",
    category="schema",
    level="core",
    source="SPEC the selected response's JSON schema",
    run_on="json",
)
def body_schema(ctx: CheckContext) -> Iterator[Failure]:
    if ctx.variant is None or ctx.variant.json_schema is None:
        raise SkipCheck("no JSON schema is documented for this status")
    if ctx.body_error is not None:
        raise SkipCheck("the body is not JSON")
    yield from _schema_failures(ctx, ctx.variant.json_schema, ctx.body)


@stream_rule(
    id="STREAM-CHUNK-SCHEMA-001",
    families=None,
    title="Every chunk matches the documented chunk schema",
    severity="MUST",
    category="schema",
    source="SPEC the text/event-stream itemSchema (contentSchema of data); OAS 3.2 itemSchema",
    requires_typed_stream=True,
)
class ChunkSchema(RuleBase):
    def __init__(self, ctx: CheckContext) -> None:
        super().__init__(ctx)
        stream = ctx.variant.stream if ctx.variant else None
        if stream is None or stream.data_schema is None:
            raise SkipCheck("no event-stream schema is documented for this status")
        self.stream = stream
        self.reported = 0
        self.suppressed = 0
        self.validated = 0
        # one schema for every event (no named events): its is_valid, looked up once
        self.valid = (
            None if stream.named_events else ctx.contract.is_valid_function(stream.data_schema)
        )

    def on_chunk(self, chunk: Chunk) -> Iterable[Failure]:
        payload = chunk.payload
        if payload is None:
            return ()
        self.validated += 1
        if self.valid is not None and self.valid(payload):  # the hot path
            return ()
        location = self.stream.data_schema_for(chunk.event)
        if location is None:  # the document names its events, and not this one
            names = ", ".join(repr(n) for n, _ in self.stream.named_events)
            return [
                self.fail(
                    f"event {chunk.event or 'message'!r} is not an event the document describes "
                    f"({names}); name each event as documented (the event: field)",
                    chunk_index=chunk.index,
                    value=chunk.event,
                )
            ]
        if self.ctx.contract.is_valid(location, payload):
            return ()
        out: list[Failure] = []
        for f in _schema_failures(self.ctx, location, payload, chunk.index):
            if self.reported < MAX_SCHEMA_ERRORS:
                self.reported += 1
                out.append(f)
            else:
                self.suppressed += 1
        return out

    def on_end(self) -> Iterator[Failure]:
        if not self.validated:
            raise SkipCheck("no chunk carries JSON to validate")
        if self.suppressed:
            yield self.fail(
                f"{self.suppressed} more chunk schema errors not shown "
                f"(the first {MAX_SCHEMA_ERRORS} are)"
            )
