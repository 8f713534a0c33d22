"""The reference server: DeepSeek's chat completions contract, deterministic, with faults.

It implements the ``deepseek`` profile as DeepSeek serves it (DS25, DSV4 and DSERR in
docs/sources.md, and the real recordings in tests/data/captures/): bearer auth with the error envelope, request
validation against the effective request schema, usage on the finish chunk (with or without
``include_usage``), compact JSON, ``data: [DONE]``. It imports only the contract stage.
"""

from __future__ import annotations

import asyncio
import copy
import json
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
from ._body import MAX_BODY, BodyTooLarge, TooDeep, parse_json, read_body
from ._faults import FAULTS
from ._generate import Completion, generate, tokenize
from ._variants import VARIANTS

__all__ = ["DEFAULT_API_KEY", "MODELS", "create_app"]

#: The key the embedded server accepts unless told otherwise (not a secret: a test fixture).
DEFAULT_API_KEY = "sk-conformance-reference"
MODELS = ("deepseek-chat", "deepseek-reasoner")
FINGERPRINT = "fp_conformance_reference"
#: DeepSeek's fill-in-the-middle completion (Beta), when the contract documents it (DSFIM).
FIM_PATH = "/beta/completions"
SSE_TYPE = "text/event-stream; charset=utf-8"


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class _Server:
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
        fim = [o for o in contract.operations if (o.method, o.path) == ("post", FIM_PATH)]
        self.fim = fim[0] if fim and fim[0].request_schema else None

    def sse(self, data: str, *, terminated: bool = True) -> bytes:
        """One ``data`` event, framed as the variants say."""
        end = self.eol * 2 if terminated else ""
        return f"{self.field}{data}{end}".encode()

    def has(self, fault: str) -> bool:
        return fault in self.faults

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
        return Response(_dumps(body), status_code=status, media_type=media_type)

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
        if body.get("model") not in MODELS:
            return self.error(400, "Model Not Exist", param="model")
        return None

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
            return Response(_dumps(answer), media_type="application/json")
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
        completion = generate(request, reasoner="reasoner" in model)
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

    def usage(self, completion: Completion) -> dict[str, Any]:
        usage = completion.usage()
        if self.has("usage-total-wrong"):
            usage["total_tokens"] += 1
        if self.has("usage-cache-wrong"):
            usage["prompt_cache_hit_tokens"] += 1
        if self.has("reasoning-tokens-exceed"):
            usage["completion_tokens_details"] = {
                "reasoning_tokens": usage["completion_tokens"] + 1
            }
        return usage

    def logprob_entries(
        self, body: dict[str, Any], completion: Completion, tokens: list[str]
    ) -> Any:
        requested = body.get("logprobs") is True
        if not requested and not self.has("logprobs-unrequested"):
            return None
        wanted = body.get("top_logprobs")
        top: int = wanted if isinstance(wanted, int) else 0
        entries = completion.logprobs(tokens, top)
        for entry in entries:
            if self.has("positive-logprob"):
                entry["logprob"] = abs(entry["logprob"]) + 0.5
            if self.has("short-top-logprobs") and entry["top_logprobs"]:
                entry["top_logprobs"] = entry["top_logprobs"][:-1]
            if self.has("bad-logprob-bytes"):
                entry["bytes"] = [0]
            if self.has("nan-logprob"):
                entry["logprob"] = float("-inf")
        return {"content": entries}

    def json(
        self, body: dict[str, Any], model: str, completion: Completion, status: int
    ) -> Response:
        message: dict[str, Any] = {"role": "assistant", "content": completion.content}
        if completion.reasoning_tokens:
            message["reasoning_content"] = completion.reasoning
        if completion.tool_calls:
            message["tool_calls"] = [
                {k: v for k, v in call.items() if k != "index"} for call in completion.tool_calls
            ]
        usage = self.usage(completion)
        if "nulls" in self.variants:
            message.setdefault("reasoning_content", None)
            message.setdefault("tool_calls", None)
            usage.setdefault("completion_tokens_details", None)
        document = {
            "id": str(uuid.UUID(int=completion.seed << 64 | completion.seed)),
            "object": "chat.completion.chunk" if self.has("bad-object") else "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": self.logprob_entries(body, completion, completion.content_tokens),
                    "finish_reason": completion.finish_reason,
                }
            ],
            "usage": usage,
            "system_fingerprint": FINGERPRINT,
        }
        text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
        if self.keep_alive:
            text = "\n\n" + text  # DeepSeek's keep-alive blank lines while a request is queued
        media_type = "text/plain" if self.has("json-as-text-plain") else "application/json"
        return Response(text, status_code=status, media_type=media_type)

    def chunks(self, body: dict[str, Any], model: str, completion: Completion) -> list[Any]:
        """The stream as a list of chunk objects (and raw strings for faults), before framing."""
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        reasoner = bool(completion.reasoning_tokens)
        nulls = "nulls" in self.variants
        base = {
            "id": str(uuid.UUID(int=completion.seed << 64 | completion.seed)),
            "object": "chat.completion" if self.has("bad-object") else "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": FINGERPRINT,
        }

        def chunk(
            delta: dict[str, Any], logprobs: Any = None, finish: str | None = None
        ) -> dict[str, Any]:
            item: dict[str, Any] = {
                **base,
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
                ],
            }
            if include_usage:
                item["usage"] = None
            if nulls:
                for key in ("role", "content", "reasoning_content", "tool_calls"):
                    delta.setdefault(key, None)
            return item

        out: list[Any] = []
        first: dict[str, Any] = {"role": "assistant", "content": None if reasoner else ""}
        if reasoner:
            first["reasoning_content"] = ""
        if self.has("no-role"):
            del first["role"]
        out.append(chunk(first))
        for token in completion.reasoning_tokens:
            out.append(chunk({"content": None, "reasoning_content": token}))
        for position, token in enumerate(completion.content_tokens):
            delta: dict[str, Any] = {"content": token}
            if reasoner:
                delta["reasoning_content"] = None
            if position == 0 and self.has("wrong-role"):
                delta["role"] = "user"
            out.append(chunk(delta, self.logprob_entries(body, completion, [token])))
            if position == 0 and reasoner and self.has("reasoning-after-content"):
                out.append(chunk({"content": None, "reasoning_content": " Wait."}))
        for call in completion.tool_calls:
            opening = {
                "index": call["index"],
                "id": call["id"],
                "type": "function",
                "function": {"name": call["function"]["name"], "arguments": ""},
            }
            out.append(chunk({"tool_calls": [opening]}))
            for fragment in tokenize(call["function"]["arguments"]):
                function: dict[str, Any] = {"arguments": fragment}
                if self.has("tool-name-repeated"):
                    function["name"] = call["function"]["name"]
                out.append(chunk({"tool_calls": [{"index": call["index"], "function": function}]}))
        required = body.get("tool_choice") == "required"
        if self.has("tool-no-index") or (self.has("tool-no-index-when-required") and required):
            for item in out:
                for call in item["choices"][0]["delta"].get("tool_calls") or []:
                    call.pop("index", None)
        closing: dict[str, Any] = {"content": ""}
        if reasoner:
            closing["reasoning_content"] = None
        finish = None if self.has("no-finish-reason") else completion.finish_reason
        last = chunk(closing, None, finish)
        usage = self.usage(completion)
        if self.has("usage-chunk"):
            out.append(last)
            extra: dict[str, Any] = {**base, "choices": [], "usage": usage}
            out.append(extra)
        else:
            if not self.has("no-stream-usage"):
                last["usage"] = usage
            if self.has("in-band-error"):
                out.append(
                    {
                        "error": {
                            "message": "Server Error",
                            "type": "server_error",
                            "param": None,
                            "code": "invalid_request_error",
                        }
                    }
                )
            out.append(last)
        if self.has("usage-every-chunk"):
            for item in out:
                item["usage"] = usage
        if self.has("content-after-finish"):
            out.append(
                chunk({"content": " again"}, self.logprob_entries(body, completion, [" again"]))
            )
        if self.has("id-changes") and len(out) > 2:
            out[2] = {**out[2], "id": "changed-" + str(out[2]["id"])}
        if self.has("non-json-chunk"):
            out.insert(1, "{not json")
        return out

    def frames(self, items: list[Any]) -> list[bytes]:
        frames = []
        for position, item in enumerate(items):
            data = item if isinstance(item, str) else _dumps(item)
            frame = self.sse(data)
            if position == 1 and self.has("invalid-utf8") and b'"content":"' in frame:
                frame = frame.replace(b'"content":"', b'"content":"\xff', 1)
            frames.append(frame)
        if not self.has("no-done"):
            frames.append(self.sse("[DONE]", terminated=not self.has("unterminated-done")))
        if self.has("done-twice"):
            frames.append(self.sse("[DONE]"))
        return frames

    def stream(
        self, body: dict[str, Any], model: str, completion: Completion, status: int
    ) -> Response:
        items = self.chunks(body, model, completion)
        frames = self.frames(items)
        delay = self.chunk_delay
        hang = self.has("hang-mid-stream")
        endless = self.has("endless-stream")
        keep_alive = self.keep_alive

        filler = b""
        if endless:
            template = next(i for i in items if isinstance(i, dict) and i.get("choices"))
            more = copy.deepcopy(template)
            more["choices"][0]["delta"] = {"content": " more"}
            more["choices"][0]["logprobs"] = self.logprob_entries(body, completion, [" more"])
            filler = self.sse(_dumps(more))
        comment = f": keep-alive{self.eol * 2}".encode()

        async def produce() -> AsyncIterator[bytes]:
            if keep_alive:
                yield comment
            for position, frame in enumerate(frames):
                if hang and position == 2:
                    await asyncio.sleep(3600)
                if endless and position == len(frames) - 2:
                    while True:
                        yield filler
                        await asyncio.sleep(0.01)
                yield frame
                if delay:
                    await asyncio.sleep(delay)

        media_type = "application/json" if self.has("stream-as-json") else SSE_TYPE
        return StreamingResponse(produce(), status_code=status, media_type=media_type)


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
