"""The schema-driven reference server: every operation a profile certifies, answered from the
document's own schemas (``conformance serve --profile NAME --mock``).

The deepseek reference server is hand-written: it knows what chat completions mean (stop
sequences, tools, logprobs). The mock knows only what the document says, so it can stand in
for any operation of any document: it checks the key and the request against the contract,
answers 200 with an instance of the documented JSON schema (:mod:`._instances`), and streams
instances of the documented event schema (one per event type for a stream of named events,
in the order their names say: ``response.created`` first, ``response.completed`` last,
``sequence_number`` counting). A family's answers are shaped as its rules read them (chat:
log-probabilities only when asked, JSON in JSON mode, the role first, usage with
``include_usage``; responses: deltas that add up to the done text); beyond that it honours
nothing (no tool calls, no stop at ``max_tokens``), so those checks stay "not exercised".
Its faults are the generic ones, which apply to every operation (the generic checks are
proven on each of them), and those of named-event streams.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import re
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from .._errors import UsageError
from ..contract import auth_header, parameter_errors, request_errors
from ._body import MAX_BODY, BodyTooLarge, TooDeep, parse_json, read_body
from ._faults import Fault
from ._instances import InstanceError, instance
from ._mock_chat import chat_chunks, shaped_answer

if TYPE_CHECKING:
    from ..contract import Contract, Operation, ResponseVariant

__all__ = ["MOCK_FAULTS", "create_mock_app"]

SSE_TYPE = "text/event-stream; charset=utf-8"
#: The events a stream of ``responses`` events is made of, in order (OpenAI's Responses API).
#: (The two deltas are "Hel" and "lo", the done event's text "Hello".)
RESPONSE_EVENTS = (
    "response.created",
    "response.in_progress",
    "response.output_text.delta",
    "response.output_text.delta",
    "response.output_text.done",
    "response.completed",
)

#: A stream of Anthropic ``messages`` events (ANTSTREAM): (name, what it says); one text block
#: "Hello" in two deltas, a ping among them.
MESSAGE_EVENTS = (
    ("message_start", None),
    ("content_block_start", None),
    ("ping", None),
    ("content_block_delta", "Hel"),
    ("content_block_delta", "lo"),
    ("content_block_stop", None),
    ("message_delta", None),
    ("message_stop", None),
)

#: The mock's faults: generic ones, which every operation shows, and those of named-event
#: streams (the same :class:`Fault` data as the reference server's).
MOCK_FAULTS: dict[str, Fault] = {
    f.name: f
    for f in (
        Fault(
            name="drop-required",
            description="leaves the first required property out of every answer and event",
            breaks=("BODY-SCHEMA-001", "STREAM-CHUNK-SCHEMA-001"),
        ),
        Fault(
            name="wrong-type",
            description="writes the first required property as a list",
            breaks=("BODY-SCHEMA-001", "STREAM-CHUNK-SCHEMA-001"),
        ),
        Fault(
            name="undocumented-status",
            description="answers valid requests with HTTP 299",
            breaks=("HTTP-STATUS-001",),
        ),
        Fault(
            name="bad-content-type",
            description="serves JSON as text/plain and streams as application/octet-stream",
            breaks=("HTTP-CONTENT-TYPE-001",),
        ),
        Fault(
            name="responses-out-of-order",
            description="a response stream opens with its terminal event",
            breaks=("RESPONSES-ORDER-001",),
            shows_on="stream",
        ),
        Fault(
            name="sequence-repeats",
            description="every event of a response stream has sequence_number 0",
            breaks=("RESPONSES-SEQUENCE-001",),
            shows_on="stream",
        ),
        Fault(
            name="event-name-mismatch",
            description="named events are all called 'message'",
            breaks=("RESPONSES-EVENT-001",),
            shows_on="stream",
        ),
        Fault(
            name="delta-mismatch",
            description="a response stream's done event gives another text than its deltas",
            breaks=("RESPONSES-DELTA-001",),
            shows_on="stream",
        ),
        Fault(
            name="messages-no-stop",
            description="a message stream ends without message_stop",
            breaks=("MESSAGES-ORDER-001",),
            shows_on="stream",
        ),
        Fault(
            name="block-never-opened",
            description="a message stream's text block has deltas but no content_block_start",
            breaks=("MESSAGES-BLOCKS-001",),
            shows_on="stream",
        ),
        Fault(
            name="usage-shrinks",
            description="message_delta counts fewer output_tokens than message_start did",
            breaks=("MESSAGES-USAGE-001",),
            shows_on="stream",
        ),
        Fault(
            name="lenient-parameters",
            description="answers requests whose path or query parameters break their schema",
            breaks=("NEGATIVE-INPUT-001",),
            shows_on="parameters",
        ),
        Fault(
            name="broken-framing",
            description="ends the stream's events with a lone CR, and the last one with none",
            breaks=("STREAM-FRAMING-001", "STREAM-DONE-001"),
            shows_on="stream",
        ),
    )
}


#: What the generic faults leave alone: the fields the rules of a family read to make sense of
#: an answer (a broken schema is the fault; a response stream losing its order is another).
_KEPT = frozenset(
    {"type", "sequence_number", "choices", "finish_reason", "index", "message", "usage"}
)


def _break(value: Any, fault: str) -> Any:
    """``value`` with a required property dropped or mistyped (``drop-required``,
    ``wrong-type``); other values as they are."""
    if not fault or not isinstance(value, dict) or not value:
        return value
    first = next((k for k in value if k not in _KEPT), next(iter(value)))
    if fault == "drop-required":
        return {k: v for k, v in value.items() if k != first}
    return {**value, first: [value[first]]}


class _Mock:
    def __init__(
        self, contract: Contract, faults: frozenset[str], api_keys: frozenset[str], seed: int
    ) -> None:
        self.contract = contract
        self.faults = faults
        self.api_keys = api_keys
        self.answers: dict[str, Any] = {}
        #: the model the document's requests name, listed by GET /models (found once, not on
        #: every listing)
        self.model = contract.documented_model()
        #: the free text of every answer: the same seed, the same answers
        self.text = "x" if seed == 0 else f"x{seed}"

    def error(
        self, operation: Operation, status: int, message: str, *, exact: bool = False
    ) -> Response:
        # only a status the document gives the operation (FastAPI documents 422 alone); the
        # mock's own defence (413 for a body over its limit) is said as it is
        status = status if exact else operation.documented_error(status)
        variant = self.variant(operation, status, {})
        body: Any = {"error": {"message": message, "type": "invalid_request_error"}}
        if variant is not None and variant.json_schema is not None:
            with contextlib.suppress(InstanceError):
                body = instance(self.contract, variant.json_schema, text=message)
        elif variant is not None and variant.stream and variant.stream.data_schema:
            # an error the document gives as an event stream (TGI): one event of it
            with contextlib.suppress(InstanceError):
                event = instance(self.contract, variant.stream.data_schema, text=message)
                frame = f"data: {json.dumps(event)}\n\n"
                return Response(frame, status_code=status, media_type=SSE_TYPE)
        return Response(json.dumps(body), status_code=status, media_type="application/json")

    def variant(self, operation: Operation, status: int, body: Any) -> ResponseVariant | None:
        return self.contract.select_response(operation, status, body)

    def authorized(self, operation: Operation, request: Request) -> bool:
        if not operation.requires_auth:
            return True
        # the key where the document says (x-api-key for Anthropic's), else as a bearer token
        header = auth_header(self.contract, operation)
        value = request.headers.get(header, "")
        if header.lower() != "authorization":
            return value.strip() in self.api_keys
        scheme, _, token = value.partition(" ")
        return scheme.lower() == "bearer" and token.strip() in self.api_keys

    def handler(self, operation: Operation, names: dict[str, str] | None = None) -> Any:
        """The endpoint of ``operation``; ``names``: the route's parameter names -> the
        document's (``{deployment-id}`` is not a name a route can take)."""
        names = names or {}

        async def answer(request: Request) -> Response:
            if not self.authorized(operation, request):
                return self.error(operation, 401, "Incorrect API key provided")
            raw = b""
            if operation.request_schema is not None:
                try:
                    raw = await read_body(request)
                except BodyTooLarge:
                    return self.error(
                        operation, 413, f"the request body exceeds {MAX_BODY} bytes", exact=True
                    )
            path = {names.get(k, k): str(v) for k, v in request.path_params.items()}
            query = request.query_params.multi_items()
            # parsing, validating and generating are CPU work: off the event loop (one 18.6 MB
            # request stalled GET /models for 31.7 s)
            return await run_in_threadpool(self.respond, operation, raw, path, query)

        return answer

    def respond(
        self,
        operation: Operation,
        raw: bytes,
        path: dict[str, str],
        query: list[tuple[str, str]],
    ) -> Response:
        try:
            return self._respond(operation, raw, (path, query))
        except (TooDeep, RecursionError):
            return self.error(operation, 400, "the JSON body is nested too deeply")

    def _respond(
        self, operation: Operation, raw: bytes, parameters: tuple[dict[str, str], Any]
    ) -> Response:
        path, query = parameters
        body: Any = None
        if operation.request_schema is not None:
            try:
                body = parse_json(raw)
            except TooDeep:
                raise
            except ValueError:
                return self.error(operation, 400, "The body is not JSON")
            problem = next(request_errors(self.contract, body, operation), None)
            if problem is not None:
                return self.error(operation, 400, f"Invalid request: {problem.message}")
        bad = next(
            parameter_errors(self.contract, operation, path=path, query=query),
            None,
        )
        if bad is not None and "lenient-parameters" not in self.faults:
            parameter, error = bad
            return self.error(
                operation,
                400,
                f"Invalid {parameter.location} parameter {parameter.name}: {error.message}",
            )
        return self.success(operation, body)

    def success(self, operation: Operation, body: Any) -> Response:
        # the success the document gives (201 for a creation, 204 for a deletion)
        documented = next(
            (int(s) for s in operation.responses if s.isdigit() and s.startswith("2")), 200
        )
        status = 299 if "undocumented-status" in self.faults else documented
        wants = self.contract.wants_stream(body, operation) if isinstance(body, dict) else False
        variant = self.variant(operation, documented, body if isinstance(body, dict) else {})
        if variant is None:
            return self.error(operation, 500, "the document has no 200 answer here")
        try:
            streams = variant.stream is not None and variant.stream.data_schema
            if streams and (wants or variant.json_schema is None):
                return self.stream(operation, variant, status, body)
            if variant.stream is not None and (wants or variant.json_schema is None):
                # a stream whose events the document does not type: one event, any JSON
                sentinels = "".join(f"data: {s}\n\n" for s in variant.stream.sentinels)
                return Response(
                    f"data: {{}}\n\n{sentinels}", status_code=status, media_type=SSE_TYPE
                )
            if variant.json_schema is None:  # JSON of no documented shape, or no content
                if variant.json_media_type is None:
                    return Response(status_code=status)
                return Response("{}", status_code=status, media_type=variant.json_media_type)
            value = self.cached(variant.json_schema)
            if operation.method == "get" and operation.path.endswith("/models"):
                value = self.listing(value, variant.json_schema)
            if operation.family == "chat":
                schema = variant.json_schema
                value = shaped_answer(value, body, lambda v: self.contract.is_valid(schema, v))
            value = _break(value, self.fault)
        except InstanceError as exc:
            return self.error(operation, 500, str(exc))
        media = "text/plain" if "bad-content-type" in self.faults else "application/json"
        return Response(json.dumps(value), status_code=status, media_type=media)

    def listing(self, value: Any, schema: str) -> Any:
        """A models listing that lists the model the document's requests name (the one a
        client then asks for: a document may accept no other), where the schema takes it."""
        model = self.model
        items = value.get("data") if isinstance(value, dict) else value
        if model is None or not isinstance(items, list):
            return value
        named = [
            {**item, "id": model} if isinstance(item, dict) and "id" in item else item
            for item in items
        ]
        tried = {**value, "data": named} if isinstance(value, dict) else named
        return tried if self.contract.is_valid(schema, tried) else value

    @property
    def fault(self) -> str:
        return next((f for f in ("drop-required", "wrong-type") if f in self.faults), "")

    def cached(self, pointer: str) -> Any:
        if pointer not in self.answers:
            self.answers[pointer] = instance(self.contract, pointer, text=self.text)
        return copy.deepcopy(self.answers[pointer])

    def events(
        self, operation: Operation, variant: ResponseVariant
    ) -> list[tuple[str | None, Any]]:
        """(event name, data) of a stream: named events in their order, or chunks."""
        stream = variant.stream
        assert stream is not None and stream.data_schema is not None
        if operation.family == "responses":
            out: list[tuple[str | None, Any]] = []
            deltas = iter(("Hel", "lo"))
            for number, name in enumerate(RESPONSE_EVENTS):
                data = self.cached(self.branch(stream.data_schema, name))
                data["sequence_number"] = 0 if "sequence-repeats" in self.faults else number
                if name == "response.output_text.delta":
                    data["delta"] = next(deltas)
                elif name == "response.output_text.done":
                    data["text"] = "Goodbye" if "delta-mismatch" in self.faults else "Hello"
                label = "message" if "event-name-mismatch" in self.faults else name
                out.append((label, data))
            if "responses-out-of-order" in self.faults:
                out.insert(0, out.pop())
                for number, (_label, data) in enumerate(out):
                    data["sequence_number"] = number
            return out
        if operation.family == "messages":
            return self.message_events(stream.data_schema)
        if stream.named_events:  # each event the document names, in its order, once
            wrong = "event-name-mismatch" in self.faults
            return [("message" if wrong else n, self.cached(p)) for n, p in stream.named_events]
        chunks = [self.cached(stream.data_schema) for _ in range(3)]
        for chunk in chunks[:-1]:  # a choice finishes once, on the last chunk
            for choice in chunk.get("choices") or [] if isinstance(chunk, dict) else []:
                if isinstance(choice, dict) and "finish_reason" in choice:
                    choice["finish_reason"] = None
        valid = all(self.contract.is_valid(stream.data_schema, c) for c in chunks)
        if not valid:  # the schema does not let a choice go unfinished: as it was made
            chunks = [self.cached(stream.data_schema) for _ in range(3)]
        return [(None, chunk) for chunk in chunks]

    def message_events(self, schema: str) -> list[tuple[str | None, Any]]:
        """An Anthropic message stream (ANTSTREAM), each event made from the document's
        branch for it: the message opened, one text block, the stop reason and usage, the
        stop."""
        out: list[tuple[str | None, Any]] = []
        for name, text in MESSAGE_EVENTS:
            data = self.cached(self.branch(schema, name))
            if name == "message_start" and isinstance(data.get("message"), dict):
                output = 3 if "usage-shrinks" in self.faults else 1
                data["message"].update(
                    content=[],
                    stop_reason=None,
                    stop_sequence=None,
                    usage={"input_tokens": 5, "output_tokens": output},
                )
            elif name.startswith("content_block"):
                data["index"] = 0
                if name == "content_block_start":
                    data["content_block"] = {"type": "text", "text": ""}
                elif text is not None:
                    data["delta"] = {"type": "text_delta", "text": text}
            elif name == "message_delta":
                data["delta"] = {"stop_reason": "end_turn", "stop_sequence": None}
                data["usage"] = {"output_tokens": 2}
            skip = (name == "message_stop" and "messages-no-stop" in self.faults) or (
                name == "content_block_start" and "block-never-opened" in self.faults
            )
            if not skip:
                out.append(("message" if "event-name-mismatch" in self.faults else name, data))
        return out

    def branch(self, pointer: str, name: str) -> str:
        """The branch of an event schema (``anyOf`` keyed by ``type``) for event ``name``."""
        schema = self.contract.schema(pointer)
        while isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
            pointer = schema["$ref"][1:]
            schema = self.contract.schema(pointer)
        for key in ("anyOf", "oneOf"):
            for i, branch in enumerate(schema.get(key) or []):
                target = f"{pointer}/{key}/{i}"
                resolved = branch
                while isinstance(resolved, dict) and isinstance(resolved.get("$ref"), str):
                    target = resolved["$ref"][1:]
                    resolved = self.contract.schema(target)
                kind = ((resolved or {}).get("properties") or {}).get("type") or {}
                if name == kind.get("const") or name in (kind.get("enum") or []):
                    return target
        raise InstanceError(f"{pointer} documents no {name!r} event")

    def stream(
        self, operation: Operation, variant: ResponseVariant, status: int, body: Any
    ) -> Response:
        events = self.events(operation, variant)
        assert variant.stream is not None
        schema = variant.stream.data_schema
        if operation.family == "chat" and schema is not None:
            placement = self.contract.profile.usage_placement
            fits = functools.partial(self.contract.is_valid, schema)
            events = chat_chunks(events, body, fits, placement)
        end = "\r" if "broken-framing" in self.faults else "\n\n"
        frames = []
        for name, data in events:
            head = f"event: {name}\n" if name else ""
            frames.append(f"{head}data: {json.dumps(_break(data, self.fault))}{end}")
        frames += [f"data: {sentinel}{end}" for sentinel in variant.stream.sentinels]
        if "broken-framing" in self.faults:
            frames[-1] = frames[-1].rstrip("\r")
        media = "application/octet-stream" if "bad-content-type" in self.faults else SSE_TYPE

        async def produce() -> AsyncIterator[bytes]:
            for frame in frames:
                yield frame.encode()

        return StreamingResponse(produce(), status_code=status, media_type=media)


def create_mock_app(
    *,
    contract: Contract,
    faults: Iterable[str] = (),
    api_keys: Iterable[str] = ("sk-conformance-reference",),
    seed: int = 0,
) -> Starlette:
    """The schema-driven mock of ``contract``: every operation its profile certifies, at its
    path (and under ``/v1``); the same ``seed`` gives the same answers."""
    chosen = frozenset(faults)
    unknown = sorted(chosen - set(MOCK_FAULTS))
    if unknown:
        raise UsageError(
            f"unknown mock fault(s): {', '.join(unknown)} (see 'conformance serve --list-faults')"
        )
    mock = _Mock(contract, chosen, frozenset(api_keys), seed)
    routes = []
    # a literal path before a template that also matches it (/models/featured before
    # /models/{model_name}): the first route that matches answers
    # a parameter may hold a "/" (a model "org/name"): it takes the rest of a segment run, so
    # the longer template goes first (/models/{m}/versions before /models/{m})
    ordered = sorted(
        contract.certified_operations(), key=lambda o: (o.path.count("{"), -o.path.count("/"))
    )
    for operation in ordered:
        path, names = _route_path(operation.path)
        for prefix in ("", "/v1"):
            routes.append(
                Route(
                    prefix + path,
                    mock.handler(operation, names),
                    methods=[operation.method.upper()],
                )
            )
    app = Starlette(routes=routes)
    app.state.mock = mock
    return app


def _route_path(path: str) -> tuple[str, dict[str, str]]:
    """``path`` as a route takes it (its parameters renamed ``p0``, ``p1``... where the
    document's name is not an identifier: ``{deployment-id}``; each may hold a ``/``), and
    the names given back."""
    names: dict[str, str] = {}

    def rename(match: re.Match[str]) -> str:
        name = match.group(1)
        safe = name if name.isidentifier() else f"p{len(names)}"
        names[safe] = name
        return "{" + safe + ":path}"

    return re.sub(r"\{([^{}]+)\}", rename, path), names
