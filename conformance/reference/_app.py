"""The reference server: DeepSeek's chat completions contract, deterministic, with faults.

It implements the ``deepseek`` profile as DeepSeek serves it (DS25, DSV4 and DSERR in
docs/sources.md, and the real recordings in tests/data/captures/): bearer auth with the error envelope, request
validation against the effective request schema, usage on the finish chunk (with or without
``include_usage``), compact JSON, ``data: [DONE]``. It imports only the contract stage.
"""

from __future__ import annotations

import asyncio
import copy
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .._errors import UsageError
from ..contract import Contract, Operation, load_contract, request_errors
from ._answers import FINGERPRINT, SSE_TYPE, Answers, dumps
from ._body import MAX_BODY, BodyTooLarge, TooDeep, parse_json, read_body
from ._faults import FAULTS
from ._generate import generate
from ._variants import VARIANTS

__all__ = ["DEFAULT_API_KEY", "MODELS", "create_app"]

#: The key the embedded server accepts unless told otherwise (not a secret: a test fixture).
DEFAULT_API_KEY = "sk-conformance-reference"
#: The models it lists: the 2025 names first (the default run's model), then the V4 models
#: (DSV4), which think by default as ``deepseek-reasoner`` does (DSTHINK), and the V4 vision
#: model (DSVISION).
MODELS = (
    "deepseek-chat",
    "deepseek-reasoner",
    "deepseek-v4-flash",
    "deepseek-v4-pro",
    "deepseek-v4-flash-vision-exp",
)
#: DeepSeek's fill-in-the-middle completion (Beta), when the contract documents it (DSFIM).
FIM_PATH = "/beta/completions"


class _Server(Answers):
    def __init__(
        self,
        *,
        contract: Contract,
        faults: Iterable[str],
        api_keys: Iterable[str],
        latency_ms: float,
        chunk_delay_ms: float,
        keep_alive: bool,
        variants: Iterable[str] = (),
        auth_header: str = "Authorization",
    ) -> None:
        self.contract = contract
        self.auth_header = auth_header
        self.faults = frozenset(faults)
        self.variants = frozenset(variants)
        for kind, names, known in (
            ("fault", self.faults, FAULTS),
            ("variant", self.variants, VARIANTS),
        ):
            unknown = sorted(names - set(known))
            if unknown:
                raise UsageError(
                    f"unknown {kind}(s): {', '.join(unknown)} "
                    "(see 'conformance serve --list-faults')"
                )
        self.api_keys = frozenset(api_keys)
        self.latency = latency_ms / 1000
        self.chunk_delay = chunk_delay_ms / 1000
        self.keep_alive = keep_alive or "keep-alive" in self.variants
        self.eol = "\r\n" if "crlf" in self.variants else "\n"
        self.field = "data:" if "no-space" in self.variants else "data: "
        operation = contract.operation()
        assert operation.request_schema is not None
        self.request_schema = operation.request_schema
        self.bounds = _bounds(contract.schema(self.request_schema))
        self.documented = _documented(contract, contract.schema(self.request_schema))
        #: whether the contract documents thinking mode's switch (the V4 overlay)
        self.switch = contract.names_property(self.request_schema, "thinking")
        fim = [o for o in contract.operations if (o.method, o.path) == ("post", FIM_PATH)]
        self.fim = fim[0] if fim and fim[0].request_schema else None

    # -- errors -------------------------------------------------------------------------

    def error(
        self,
        status: int,
        message: str,
        *,
        kind: str = "invalid_request_error",
        param: str | None = None,
    ) -> Response:
        if self.has("bad-error-envelope"):
            body: Any = {"detail": message}
        else:
            body = {
                "error": {
                    "message": message,
                    "type": kind,
                    "param": param,
                    "code": "invalid_request_error",
                }
            }
        media_type = "text/plain" if self.has("error-as-text-plain") else "application/json"
        return Response(dumps(body), status_code=status, media_type=media_type)

    def authorized(self, request: Request) -> bool:
        if self.has("no-auth"):
            return True
        if self.has("refuse-every-key"):
            return False
        header = request.headers.get(self.auth_header, "")
        if self.auth_header.lower() != "authorization":
            return header.strip() in self.api_keys  # the bare key (Azure's api-key)
        scheme, _, token = header.partition(" ")
        return scheme.lower() == "bearer" and token.strip() in self.api_keys

    def unauthorized(self) -> Response:
        return self.error(
            401, "Authentication Fails, Your api key is invalid", kind="authentication_error"
        )

    # -- endpoints ----------------------------------------------------------------------

    async def models(self, request: Request) -> Response:
        if not self.authorized(request):
            return self.unauthorized()
        models = [{"id": m, "object": "model", "owned_by": "deepseek"} for m in MODELS]
        if self.has("models-bad-shape"):
            models = [{"id": m["id"], "object": "model"} for m in models]
        return JSONResponse({"object": "list", "data": models})

    async def balance(self, request: Request) -> Response:
        """``GET /user/balance`` (DSBAL): a fixed, generous balance."""
        if not self.authorized(request):
            return self.unauthorized()
        info = {
            "currency": "CNY",
            "total_balance": "110.00",
            "granted_balance": "10.00",
            "topped_up_balance": "100.00",
        }
        return JSONResponse({"is_available": True, "balance_infos": [info]})

    def invalid(self, body: Any, operation: Operation | None = None) -> Response | None:
        """The error response for an invalid request (of ``operation``, default chat
        completions), or None."""
        errors = list(request_errors(self.contract, body, operation))
        if self.has("lenient-tool-call-id"):
            errors = [e for e in errors if not _about_a_tool_call_id(body)]
        if errors:
            error = min(errors, key=lambda e: len(e.absolute_path))
            path = list(error.absolute_path)
            param = str(path[0]) if path else None
            if error.validator in {"type", "required"} and param != "messages":
                return self.error(
                    422,
                    "Failed to deserialize the JSON body into the target type: "
                    f"{param or 'body'}: {error.message}",
                    param=param,
                )
            return self.error(
                400, f"Invalid {param or 'request'} value: {error.message}", param=param
            )
        if "strict-input" in self.variants and operation is None:
            problem = self.undocumented(body)
            if problem is not None:
                return self.error(
                    422,
                    f"Failed to deserialize the JSON body into the target type: {problem}",
                )
        if self.has("string-content-only") and operation is None:
            for i, message in enumerate(body.get("messages") or []):
                if isinstance(message, dict) and isinstance(message.get("content"), list):
                    return self.error(
                        422,
                        "Failed to deserialize the JSON body into the target type: "
                        f"messages[{i}]: invalid type: sequence, expected a string",
                    )
        if body.get("model") not in MODELS:
            return self.error(400, "Model Not Exist", param="model")
        return None

    def thinks(self, request: dict[str, Any], model: str) -> bool:
        """Thinking mode (DSTHINK): the request's switch, where the contract documents one;
        else the model's default (``deepseek-reasoner`` and the V4 models think,
        ``deepseek-chat`` does not). Thinking mode's refusals (a forced tool choice:
        DSTOOLCHOICE) are the contract's, answered by :meth:`invalid`."""
        default = "reasoner" in model or (self.switch and "-v4-" in model)
        switch = request.get("thinking")
        kind = switch.get("type") if isinstance(switch, dict) else None
        if (
            not self.switch
            or kind not in ("enabled", "disabled")
            or self.has("thinking-switch-ignored")
        ):
            return default
        return kind == "enabled" or self.has("thinking-not-off")

    def undocumented(self, body: dict[str, Any]) -> str | None:
        """What a strict deserialiser refuses in a valid body: a property the schema does
        not document (top level or in a message), or an integral float for an integer."""
        top, message_names, integers = self.documented
        for key, value in body.items():
            if key not in top:
                return f"unknown field `{key}`"
            if key in integers and isinstance(value, float):
                return f"{key}: invalid type: floating point `{value}`, expected an integer"
        for i, message in enumerate(body.get("messages") or []):
            for key in message if isinstance(message, dict) else ():
                if key not in message_names:
                    return f"messages[{i}]: unknown field `{key}`"
        return None

    async def chat(self, request: Request) -> Response:
        if self.latency:
            await asyncio.sleep(self.latency)
        if not self.authorized(request):
            return self.unauthorized()
        try:
            raw = await read_body(request)
        except BodyTooLarge:
            return self.error(413, f"the request body exceeds {MAX_BODY} bytes")
        # Parsing, validating and generating are CPU work: off the event loop, so that one
        # heavy request never stalls the others (GET /models stays quick).
        return await run_in_threadpool(self.bounded, self._answer, raw)

    def bounded(self, answer: Callable[[bytes], Response], raw: bytes) -> Response:
        """``answer(raw)``, JSON nested deeper than the parser or the validators can walk
        answered 400 with the envelope, never 500."""
        try:
            return answer(raw)
        except (TooDeep, RecursionError):
            return self.error(400, "the JSON body is nested too deeply")

    def _answer(self, raw: bytes) -> Response:
        try:
            body = parse_json(raw)
        except TooDeep:
            raise
        except ValueError:
            if not self.has("accept-invalid"):
                return self.error(400, "Failed to parse the request body as JSON")
            body = {}
        if not isinstance(body, dict):
            if not self.has("accept-invalid"):
                return self.error(422, "Failed to deserialize the JSON body: expected an object")
            body = {}
        problem = self.invalid(body)
        if problem is not None and not self.has("accept-invalid"):
            return problem
        if problem is None:
            return self.complete(body)
        try:  # accept-invalid: a lenient server ignores what it cannot read, never a 500
            return self.complete(body)
        except (AttributeError, TypeError, ValueError, KeyError, IndexError):
            return self.complete(_readable(body))

    async def fim_completions(self, request: Request) -> Response:
        """``POST /beta/completions``: fill in the middle (DSFIM), as JSON or a stream."""
        if self.fim is None:
            return self.error(404, "Not Found")
        if self.latency:
            await asyncio.sleep(self.latency)
        if not self.authorized(request):
            return self.unauthorized()
        try:
            raw = await read_body(request)
        except BodyTooLarge:
            return self.error(413, f"the request body exceeds {MAX_BODY} bytes")
        return await run_in_threadpool(self.bounded, self._fim_answer, raw)

    def _fim_answer(self, raw: bytes) -> Response:
        try:
            body = parse_json(raw)
        except TooDeep:
            raise
        except ValueError:
            return self.error(400, "Failed to parse the request body as JSON")
        if not isinstance(body, dict):
            return self.error(422, "Failed to deserialize the JSON body: expected an object")
        problem = self.invalid(body, self.fim)
        if problem is not None and not self.has("accept-invalid"):
            return problem
        prompt = str(body.get("prompt") or "") + str(body.get("suffix") or "")
        request = {
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": body.get("max_tokens"),
            "stop": body.get("stop"),
        }
        completion = generate(request, reasoner=False)
        base = {
            "id": str(uuid.UUID(int=completion.seed << 64 | completion.seed)),
            "object": "text_completion",
            "created": int(time.time()),
            "model": MODELS[0],
            "system_fingerprint": FINGERPRINT,
        }

        def choice(text: str, finish: str | None) -> dict[str, Any]:
            return {"index": 0, "text": text, "logprobs": None, "finish_reason": finish}

        if body.get("stream") is not True:
            answer = {
                **base,
                "choices": [choice(completion.content, completion.finish_reason)],
                "usage": self.usage(completion),
            }
            return Response(dumps(answer), media_type="application/json")
        items: list[Any] = [
            {**base, "choices": [choice(token, None)]} for token in completion.content_tokens
        ]
        items.append(
            {
                **base,
                "choices": [choice("", completion.finish_reason)],
                "usage": self.usage(completion),
            }
        )
        frames = self.frames(items)

        async def produce() -> AsyncIterator[bytes]:
            for frame in frames:
                yield frame

        return StreamingResponse(produce(), media_type=SSE_TYPE)

    # -- completions --------------------------------------------------------------------

    def complete(self, body: dict[str, Any]) -> Response:
        # Accepting an invalid request (a fault) is about the status, not about doing what it
        # asks: the work stays within the contract's own limits.
        body = _bounded(dict(body), self.bounds)
        request = copy.deepcopy(body)
        named = request.get("model")
        model: str = named if isinstance(named, str) else MODELS[0]
        if self.has("ignore-max-tokens"):
            request.pop("max_tokens", None)
        if self.has("ignore-stop"):
            request.pop("stop", None)
        if self.has("json-mode-text"):
            request.pop("response_format", None)
        if self.has("no-tool-calls"):
            request.pop("tools", None)
            request.pop("tool_choice", None)
        completion = generate(request, reasoner=self.thinks(request, model))
        if self.has("reasoning-tokens-uncounted"):
            completion.reasoning_counted = False
        if self.has("server-error") and completion.seed % 3 == 0:
            return self.error(500, "Server Error", kind="server_error")
        if self.has("tool-args-invalid"):
            for call in completion.tool_calls:
                call["function"]["arguments"] = call["function"]["arguments"][:-1]
        if self.has("tool-finish-stop") and completion.tool_calls:
            completion.finish_reason = "stop"
        if self.has("early-length") and isinstance(body.get("max_tokens"), int):
            completion.finish_reason = "length"
        if self.has("bad-finish-reason"):
            completion.finish_reason = "eos_token"
        status = 299 if self.has("undocumented-status") else 200
        stream = body.get("stream") is True
        if stream:
            return self.stream(body, model, completion, status)
        return self.json(body, model, completion, status)


def create_app(
    *,
    faults: Iterable[str] = (),
    api_keys: Iterable[str] = (DEFAULT_API_KEY,),
    latency_ms: float = 0,
    chunk_delay_ms: float = 0,
    keep_alive: bool = False,
    contract: Contract | None = None,
    variants: Iterable[str] = (),
    auth_header: str = "Authorization",
) -> Starlette:
    """The reference server as an ASGI app; ``faults`` are names from :data:`FAULTS` (each
    breaks named checks), ``variants`` from :data:`VARIANTS` (legal, no check may fail);
    ``auth_header`` the header that carries the key (``Authorization: Bearer KEY``, or the
    bare key in another, such as ``api-key``)."""
    server = _Server(
        contract=contract or load_contract(profile="deepseek"),
        faults=faults,
        variants=variants,
        auth_header=auth_header,
        api_keys=api_keys,
        latency_ms=latency_ms,
        chunk_delay_ms=chunk_delay_ms,
        keep_alive=keep_alive,
    )
    routes = [
        Route("/chat/completions", server.chat, methods=["POST"]),
        Route("/v1/chat/completions", server.chat, methods=["POST"]),
        Route("/models", server.models, methods=["GET"]),
        Route(FIM_PATH, server.fim_completions, methods=["POST"]),
        Route("/user/balance", server.balance, methods=["GET"]),
        Route("/v1/models", server.models, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.server = server
    return app


def _readable(body: dict[str, Any]) -> dict[str, Any]:
    """What a lenient server reads of an invalid body: the model, plain messages, whether to
    stream; the rest ignored."""
    model = body.get("model")
    return {
        "model": model if isinstance(model, str) else MODELS[0],
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": body.get("stream") is True,
    }


def _bounds(schema: Any) -> dict[tuple[str, str], int]:
    """The request schema's own limits of the fields that cost work, by (property, keyword):
    ``maximum`` of numbers, ``maxItems`` of lists (in the property or one of its
    ``oneOf``/``anyOf`` branches)."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    bounds: dict[tuple[str, str], int] = {}
    for name, prop in (properties or {}).items():
        if not isinstance(prop, dict):
            continue
        for candidate in [prop, *prop.get("oneOf", []), *prop.get("anyOf", [])]:
            if not isinstance(candidate, dict):
                continue
            for keyword in ("maximum", "maxItems"):
                value = candidate.get(keyword)
                if isinstance(value, int) and not isinstance(value, bool):
                    bounds[name, keyword] = value
    return bounds


def _bounded(request: dict[str, Any], bounds: dict[tuple[str, str], int]) -> dict[str, Any]:
    for (name, keyword), limit in bounds.items():
        value = request.get(name)
        if keyword == "maxItems" and isinstance(value, list) and len(value) > limit:
            request[name] = value[:limit]
        elif (
            keyword == "maximum"
            and isinstance(value, (int, float))
            and not isinstance(value, bool)
            and value > limit
        ):
            request[name] = limit
    return request


def _about_a_tool_call_id(body: Any) -> bool:
    """Whether an assistant message of ``body`` has a tool call whose id is not a string (what
    the ``lenient-tool-call-id`` fault lets through)."""
    for message in body.get("messages") or [] if isinstance(body, dict) else []:
        for call in (message.get("tool_calls") or []) if isinstance(message, dict) else []:
            if isinstance(call, dict) and not isinstance(call.get("id"), str):
                return True
    return False


def _documented(contract: Contract, schema: Any) -> tuple[set[str], set[str], set[str]]:
    """The request's documented top-level property names, the names any message variant
    documents, and the top-level properties typed integer only (for ``strict-input``)."""

    def resolve(node: Any) -> Any:
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            node = contract.schema(node["$ref"].removeprefix("#"))
        return node

    def properties(node: Any) -> dict[str, Any]:
        node = resolve(node)
        if not isinstance(node, dict):
            return {}
        found = dict(node.get("properties") or {})
        for key in ("allOf", "anyOf", "oneOf"):
            for part in node.get(key) or []:
                found.update(properties(part))
        return found

    def integer_only(node: Any) -> bool:
        node = resolve(node)
        types = node.get("type") if isinstance(node, dict) else None
        types = types if isinstance(types, list) else [types]
        return "integer" in types and "number" not in types

    top = properties(schema)
    messages = resolve(top.get("messages"))
    items = messages.get("items") if isinstance(messages, dict) else None
    return set(top), set(properties(items)), {k for k, v in top.items() if integer_only(v)}
