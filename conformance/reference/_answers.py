"""What the reference server answers, once it has a completion: the JSON body and the event
stream (chunks, then frames), each with the faults and variants it was asked for."""

from __future__ import annotations

import asyncio
import copy
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.responses import Response, StreamingResponse

from ._generate import Completion, tokenize

__all__ = ["FINGERPRINT", "SSE_TYPE", "Answers", "dumps"]

FINGERPRINT = "fp_conformance_reference"
SSE_TYPE = "text/event-stream; charset=utf-8"


def dumps(value: Any) -> str:
    """Compact JSON, as DeepSeek writes it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


_Chunk = Callable[..., dict[str, Any]]


class Answers:
    """The answers of a server configured with ``faults`` and ``variants`` (the reference
    server's base)."""

    faults: frozenset[str]
    variants: frozenset[str]
    keep_alive: bool
    chunk_delay: float
    eol: str
    field: str

    def sse(self, data: str, *, terminated: bool = True) -> bytes:
        """One ``data`` event, framed as the variants say."""
        end = self.eol * 2 if terminated else ""
        return f"{self.field}{data}{end}".encode()

    def has(self, fault: str) -> bool:
        return fault in self.faults

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
        self,
        body: dict[str, Any],
        completion: Completion,
        tokens: list[str],
        key: str = "content",
    ) -> Any:
        """The ``logprobs`` of ``tokens`` when asked for: ``{key: entries}``, ``key`` the
        answer's ``content`` or, for the chain of thought, ``reasoning_content`` (DSV4; B#29:
        capture deepseek-v4-flash-thinking-stream-logprobs)."""
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
        return {key: entries}

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
                    "logprobs": self._body_logprobs(body, completion),
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

    def _body_logprobs(self, body: dict[str, Any], completion: Completion) -> Any:
        logprobs = self.logprob_entries(body, completion, completion.content_tokens)
        if logprobs is not None and completion.reasoning_tokens:
            thought = completion.reasoning_tokens
            reasoning = self.logprob_entries(body, completion, thought, "reasoning_content")
            logprobs.update(reasoning)
        return logprobs

    def chunks(self, body: dict[str, Any], model: str, completion: Completion) -> list[Any]:
        """The stream as a list of chunk objects (and raw strings for faults), before framing."""
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
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

        out = self._text_chunks(chunk, body, completion)
        out += self._tool_chunks(chunk, body, completion)
        self._close(out, chunk, base, completion)
        if self.has("usage-every-chunk"):
            usage = self.usage(completion)
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

    def _text_chunks(
        self, chunk: _Chunk, body: dict[str, Any], completion: Completion
    ) -> list[Any]:
        """The role, the reasoning tokens, then the content tokens (with their logprobs)."""
        reasoner = bool(completion.reasoning_tokens)
        first: dict[str, Any] = {"role": "assistant", "content": None if reasoner else ""}
        if reasoner:
            first["reasoning_content"] = ""
        if self.has("no-role"):
            del first["role"]
        out: list[Any] = [chunk(first)]
        for token in completion.reasoning_tokens:
            thought = self.logprob_entries(body, completion, [token], "reasoning_content")
            out.append(chunk({"content": None, "reasoning_content": token}, thought))
        for position, token in enumerate(completion.content_tokens):
            delta: dict[str, Any] = {"content": token}
            if reasoner:
                delta["reasoning_content"] = None
            if position == 0 and self.has("wrong-role"):
                delta["role"] = "user"
            out.append(chunk(delta, self.logprob_entries(body, completion, [token])))
            if position == 0 and reasoner and self.has("reasoning-after-content"):
                out.append(chunk({"content": None, "reasoning_content": " Wait."}))
        return out

    def _tool_chunks(
        self, chunk: _Chunk, body: dict[str, Any], completion: Completion
    ) -> list[Any]:
        """Each tool call: its id, type and name first, then its arguments in fragments."""
        out: list[Any] = []
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
        return out

    def _close(
        self, out: list[Any], chunk: _Chunk, base: dict[str, Any], completion: Completion
    ) -> None:
        """The finish chunk, with the usage (or a usage chunk after it, as OpenAI's)."""
        closing: dict[str, Any] = {"content": ""}
        if completion.reasoning_tokens:
            closing["reasoning_content"] = None
        finish = None if self.has("no-finish-reason") else completion.finish_reason
        last = chunk(closing, None, finish)
        usage = self.usage(completion)
        if self.has("usage-chunk"):
            out.append(last)
            out.append({**base, "choices": [], "usage": usage})
            return
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

    def frames(self, items: list[Any]) -> list[bytes]:
        frames = []
        for position, item in enumerate(items):
            data = item if isinstance(item, str) else dumps(item)
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
            filler = self.sse(dumps(more))
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
