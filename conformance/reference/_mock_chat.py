"""The mock's chat behaviour: an answer made from the document's schema, shaped as a chat
model would answer the request, within what the document takes.

The answer is :data:`WORDS` words (``x x x ...``), cut at ``max_tokens`` (or
``max_completion_tokens``) with ``finish_reason: "length"``; usage counts what was said (a
word a token) and adds up; a forced tool choice (``required``, or a named function) gets a
call of the tool with arguments made from its parameters' schema and ``"tool_calls"``; JSON
mode answers ``{}``; log-probabilities only when asked; thinking asked for (``thinking:
{"type": "enabled"}``) gets a chain of thought first, counted in ``reasoning_tokens``. Streams say the role first, then a
word a chunk (or the tool call in two deltas), then the finish reason, and with
``include_usage`` the usage where the profile puts it. Every change is kept only where the
document's schema takes it (``fits``): a document that forbids ``null`` somewhere gets none
there, a delta that must carry its role keeps it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

__all__ = ["WORDS", "chat_chunks", "shaped_answer"]

#: How many words (tokens) a whole answer has.
WORDS = 8

Fits = Callable[[Any], bool]


def _limit(request: dict[str, Any]) -> int | None:
    for key in ("max_completion_tokens", "max_tokens"):
        value = request.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def _forced_tool(request: dict[str, Any]) -> dict[str, Any] | None:
    """The tool a request forces (``tool_choice`` ``required``, or a named function): its
    ``function`` object, else None."""
    tools = [t for t in request.get("tools") or [] if isinstance(t, dict)]
    functions = [t.get("function") for t in tools if isinstance(t.get("function"), dict)]
    choice = request.get("tool_choice")
    if choice == "required" and functions:
        return functions[0]
    if isinstance(choice, dict):
        named = choice.get("function")
        name = named.get("name") if isinstance(named, dict) else None
        return next((f for f in functions if isinstance(f, dict) and f.get("name") == name), None)
    return None


def _arguments(schema: Any, depth: int = 0) -> Any:
    """A value of a tool's parameters ``schema`` (a JSON Schema the request gave): its
    required properties, each the simplest value of its type."""
    if not isinstance(schema, dict) or depth > 8:
        return {}
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) and kind else kind
    if kind == "object" or "properties" in schema:
        found = schema.get("properties")
        properties: dict[str, Any] = found if isinstance(found, dict) else {}
        return {
            name: _arguments(properties.get(name), depth + 1)
            for name in schema.get("required") or []
            if isinstance(name, str)
        }
    return {"string": "Paris", "integer": 1, "number": 1, "boolean": True, "array": []}.get(
        str(kind), "Paris"
    )


class _Plan:
    """What the answer to a request says: its words, its tool call, its finish reason."""

    def __init__(self, request: dict[str, Any]) -> None:
        mode = request.get("response_format")
        json_mode = isinstance(mode, dict) and mode.get("type") in ("json_object", "json_schema")
        limit = _limit(request)
        self.tool = _forced_tool(request)
        words = 1 if json_mode else WORDS
        self.count = words if limit is None else min(words, limit)
        self.words = ["{}"] if json_mode else ["x"] * self.count
        self.finish = "length" if limit is not None and limit < words else "stop"
        if self.tool is not None:
            self.finish = "tool_calls"
        text = " ".join(
            m.get("content") or ""
            for m in request.get("messages") or []
            if isinstance(m, dict) and isinstance(m.get("content"), str)
        )
        self.prompt = max(len(text.split()), 1)
        switch = request.get("thinking")
        thinks = isinstance(switch, dict) and switch.get("type") == "enabled"
        #: the chain of thought, a word a token (DSTHINK)
        self.thought = ["hm"] * (WORDS // 2) if thinks else []

    @property
    def content(self) -> str:
        return " ".join(self.words)

    def call(self) -> dict[str, Any]:
        assert self.tool is not None
        arguments = _arguments(self.tool.get("parameters"))
        arguments = arguments if isinstance(arguments, dict) else {}  # always an object
        return {
            "id": "call_0",
            "type": "function",
            "function": {"name": self.tool.get("name"), "arguments": json.dumps(arguments)},
        }

    def usage(self) -> dict[str, Any]:
        completion = (1 if self.tool is not None else self.count) + len(self.thought)
        return {
            "prompt_tokens": self.prompt,
            "completion_tokens": completion,
            "total_tokens": self.prompt + completion,
            "completion_tokens_details": {"reasoning_tokens": len(self.thought)},
        }


def _apply(answer: Any, fits: Fits, changes: list[Callable[[Any], Any]]) -> Any:
    """``answer`` with each change that keeps it valid (``fits``), in order."""
    for change in changes:
        tried = change(copy.deepcopy(answer))
        if fits(tried):
            answer = tried
    return answer


def _with_usage(usage: dict[str, Any]) -> list[Callable[[Any], Any]]:
    """Usage set whole, else without its details (a document that has none)."""
    plain = {k: v for k, v in usage.items() if k != "completion_tokens_details"}
    return [
        lambda a: {**a, "usage": usage},
        lambda a: a if a.get("usage") == usage else {**a, "usage": plain},
    ]


def shaped_answer(answer: Any, request: Any, fits: Fits) -> Any:
    """A non-streamed chat answer made from the schema, shaped as the request asks."""
    if not isinstance(answer, dict):
        return answer
    request = request if isinstance(request, dict) else {}
    plan = _Plan(request)
    logprobs = _logprobs(request)

    def choice_change(index: int, change: Callable[[dict[str, Any]], dict[str, Any]]) -> Any:
        def apply(a: Any) -> Any:
            a["choices"][index] = change(a["choices"][index])
            return a

        return apply

    changes: list[Callable[[Any], Any]] = []
    for index, choice in enumerate(answer.get("choices") or []):
        if not isinstance(choice, dict):
            continue
        changes.append(choice_change(index, lambda c: {**c, "logprobs": logprobs}))
        if "message" not in choice and "delta" not in choice:  # optional there (Moonshot)
            whole = {k: v for part in _message_parts(plan) for k, v in part.items()}
            changes.append(choice_change(index, _with_message(whole, replace=True)))
        if isinstance(choice.get("message"), dict) or "delta" not in choice:
            for part in _message_parts(plan):
                changes.append(choice_change(index, _with_message(part)))
            changes.append(
                choice_change(
                    index,
                    lambda c: {
                        **c,
                        "message": {
                            k: v for k, v in c.get("message", {}).items() if k != "refusal"
                        },
                    },
                )
            )
            changes.append(
                choice_change(
                    index, lambda c: {**c, "message": {**c.get("message", {}), "refusal": None}}
                )
            )
        changes.append(choice_change(index, lambda c: {**c, "finish_reason": plan.finish}))
    return _apply(answer, fits, [*changes, *_with_usage(plan.usage())])


def _with_message(
    part: dict[str, Any], *, replace: bool = False
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A change of a choice: its message with ``part`` (or ``part`` as its message)."""

    def change(choice: dict[str, Any]) -> dict[str, Any]:
        message = {} if replace else choice.get("message")
        return {**choice, "message": {**(message if isinstance(message, dict) else {}), **part}}

    return change


def _message_parts(plan: _Plan) -> list[dict[str, Any]]:
    """The parts of the message, each tried alone (a document may take one and not another):
    the role, then the content, or the tool call (with no content, else an empty one)."""
    parts: list[dict[str, Any]] = [{"role": "assistant"}]
    if plan.thought:
        parts.append({"reasoning_content": " ".join(plan.thought)})
    if plan.tool is None:
        return [*parts, {"content": plan.content}]
    calls = [plan.call()]
    return [
        *parts,
        {"content": ""},
        {"tool_calls": calls},
        {"content": None, "tool_calls": calls},
    ]


def _logprobs(request: dict[str, Any]) -> Any:
    if request.get("logprobs") is not True:
        return None
    top = request.get("top_logprobs")
    top = top if isinstance(top, int) and not isinstance(top, bool) else 0
    token = {"token": "x", "logprob": -0.5, "bytes": [120]}
    return {"content": [{**token, "top_logprobs": [dict(token)] * top}], "refusal": None}


def chat_chunks(
    events: list[tuple[str | None, Any]], request: Any, fits: Fits, placement: str
) -> list[tuple[str | None, Any]]:
    """The chunks of a streamed chat answer, made from the schema's chunks (``events``: at
    least two): the role, a word a chunk (or the tool call in two deltas), the finish reason,
    and with ``include_usage`` the usage (``placement``: on the finish chunk, or on a last
    ``choices: []`` chunk)."""
    request = request if isinstance(request, dict) else {}
    plan = _Plan(request)
    template = events[min(1, len(events) - 1)][1]
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    deltas += [{"reasoning_content": w if i == 0 else f" {w}"} for i, w in enumerate(plan.thought)]
    if plan.tool is not None:  # the whole call in one delta: what every schema of one takes
        deltas.append({"tool_calls": [{"index": 0, **plan.call()}]})
    else:
        deltas += [{"content": word if i == 0 else f" {word}"} for i, word in enumerate(plan.words)]
    deltas.append({})
    logprobs = _logprobs(request)
    chunks = []
    for position, delta in enumerate(deltas):
        finish = plan.finish if position == len(deltas) - 1 else None
        chunk = copy.deepcopy(template)
        for index, choice in enumerate(
            chunk.get("choices") or [] if isinstance(chunk, dict) else []
        ):
            if isinstance(choice, dict):
                chunk = _apply(chunk, fits, _chunk_changes(index, delta, finish, logprobs))
        chunks.append(chunk)
    options = request.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage") is True and chunks:
        changes = _with_usage(plan.usage())
        if placement == "finish_chunk":
            chunks[-1] = _apply(chunks[-1], fits, changes)
        else:
            empty = _apply({**chunks[-1], "choices": []}, fits, changes)
            if fits(empty) and "usage" in empty:
                chunks.append(empty)
    return [(None, chunk) for chunk in chunks]


def _chunk_changes(
    index: int, delta: dict[str, Any], finish: str | None, logprobs: Any
) -> list[Callable[[Any], Any]]:
    """The changes that make choice ``index`` of a chunk say ``delta`` and ``finish``: the
    role the schema's delta may carry made the assistant's, the log-probabilities, the delta
    alone (else merged into what the schema requires of one), the finish reason."""

    def choice(change: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[Any], Any]:
        def apply(chunk: Any) -> Any:
            chunk["choices"][index] = change(chunk["choices"][index])
            return chunk

        return apply

    def kept(c: dict[str, Any]) -> dict[str, Any]:
        delta = c.get("delta")
        return delta if isinstance(delta, dict) else {}

    def merged(c: dict[str, Any]) -> dict[str, Any]:
        if c.get("delta") == delta:
            return c
        return {**c, "delta": {**kept(c), **delta}}

    return [
        choice(
            lambda c: {**c, "delta": {**kept(c), "role": "assistant"}} if "role" in kept(c) else c
        ),
        choice(lambda c: {**c, "logprobs": logprobs}),
        choice(lambda c: {**c, "delta": delta}),
        choice(merged),
        choice(lambda c: {**c, "finish_reason": finish}),
    ]
