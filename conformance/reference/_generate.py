"""Deterministic completions: the same request gives the same answer, streamed or not.

The tokenizer is deliberately simple (words with their leading space, digits, single
punctuation), but counts are real counts of the tokens produced, so usage arithmetic, max_tokens
and stop behave as a real model's do.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass, field
from typing import Any

from .._util import is_int

__all__ = ["Completion", "generate", "tokenize"]

_TOKEN = re.compile(r" ?[A-Za-z]+| ?\d+| ?[^\sA-Za-z\d]|\s+")
_WORDS = [
    "Hello",
    "there!",
    "How",
    "can",
    "I",
    "help",
    "you",
    "today?",
    "The",
    "answer",
    "is",
    "simple:",
    "a",
    "quiet",
    "river",
    "runs",
    "past",
    "green",
    "hills,",
    "and",
    "small",
    "birds",
    "sing",
    "in",
    "the",
    "morning",
    "light.",
    "We",
    "can",
    "look",
    "at",
    "it",
    "step",
    "by",
    "step.",
]
_THOUGHTS = [
    "The",
    "user",
    "greets",
    "me.",
    "I",
    "should",
    "answer",
    "briefly",
    "and",
    "kindly,",
    "in",
    "plain",
    "words.",
]
#: What a model cannot produce beyond (the documented maximum of max_tokens).
DEFAULT_LIMIT = 4096


def tokenize(text: str) -> list[str]:
    """Tokens whose concatenation is ``text``."""
    return _TOKEN.findall(text)


def count_prompt(messages: Any) -> int:
    total = 0
    for message in messages if isinstance(messages, list) else []:
        if isinstance(message, dict):
            total += 4  # role and framing, as chat templates add
            content = message.get("content")
            if isinstance(content, str):
                total += len(tokenize(content))
            for part in content if isinstance(content, list) else []:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    total += len(tokenize(part["text"]))
                elif isinstance(part, dict):
                    total += 85  # an image or a file: a fixed price, as vision models bill
            for call in message.get("tool_calls") or []:
                if isinstance(call, dict):
                    total += len(tokenize(json.dumps(call.get("function"))))
    return total + 2


def seed_of(request: dict[str, Any]) -> int:
    material = {k: v for k, v in request.items() if k not in {"stream", "stream_options"}}
    digest = hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).digest()
    return int.from_bytes(digest[:8], "big")


@dataclass(kw_only=True)
class Completion:
    """What the model says, before it is shaped as a JSON body or a stream."""

    seed: int
    content_tokens: list[str] = field(default_factory=list)
    reasoning_tokens: list[str] = field(default_factory=list)
    #: whether usage counts them (a fault leaves them out of completion_tokens and its details)
    reasoning_counted: bool = True
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str = "stop"
    prompt_tokens: int = 0
    cache_hit_tokens: int = 0

    @property
    def content(self) -> str:
        return "".join(self.content_tokens)

    @property
    def reasoning(self) -> str:
        return "".join(self.reasoning_tokens)

    @property
    def completion_tokens(self) -> int:
        tool_tokens = sum(len(tokenize(c["function"]["arguments"])) + 1 for c in self.tool_calls)
        return len(self.content_tokens) + len(self.reasoning_tokens) + tool_tokens

    def usage(self) -> dict[str, Any]:
        completion = self.completion_tokens
        if not self.reasoning_counted:
            completion -= len(self.reasoning_tokens)
        usage: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
            "prompt_tokens_details": {"cached_tokens": self.cache_hit_tokens},
            "prompt_cache_hit_tokens": self.cache_hit_tokens,
            "prompt_cache_miss_tokens": self.prompt_tokens - self.cache_hit_tokens,
        }
        if self.reasoning_tokens and self.reasoning_counted:
            usage["completion_tokens_details"] = {"reasoning_tokens": len(self.reasoning_tokens)}
        return usage

    def logprobs(self, tokens: list[str], top: int) -> list[dict[str, Any]]:
        """Log-probabilities for ``tokens``: floats below 0, real UTF-8 bytes, ``top``
        alternatives (the token itself first, as the most likely)."""
        rng = random.Random(self.seed ^ 0x5EED)
        entries = []
        for token in tokens:
            logprob = -round(rng.uniform(0.0001, 2.5), 6)
            alternatives = [{"token": token, "logprob": logprob, "bytes": list(token.encode())}]
            for i in range(1, top):
                other = rng.choice(_WORDS) + str(i)
                alternatives.append(
                    {
                        "token": other,
                        "logprob": round(logprob - i * 1.5, 6),
                        "bytes": list(other.encode()),
                    }
                )
            entries.append({**alternatives[0], "top_logprobs": alternatives[:top]})
        return entries


def _arguments(parameters: Any, rng: random.Random) -> dict[str, Any]:
    """A small valid instance of a tool's parameters schema (required properties only)."""
    if not isinstance(parameters, dict):
        return {}
    found = parameters.get("properties")
    properties: dict[str, Any] = found if isinstance(found, dict) else {}
    values: dict[str, Any] = {}
    for name in parameters.get("required") or list(properties)[:1]:
        entry = properties.get(name)
        schema: dict[str, Any] = entry if isinstance(entry, dict) else {}
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            values[name] = schema["enum"][0]
            continue
        kind = schema.get("type")
        kind = kind[0] if isinstance(kind, list) and kind else kind
        values[name] = {
            "integer": rng.randint(1, 99),
            "number": rng.randint(1, 999) / 10,
            "boolean": True,
            "array": [],
            "object": {},
        }.get(str(kind), rng.choice(_WORDS).strip("?!.,:") or "x")
    return values


def _tool_to_call(request: dict[str, Any]) -> dict[str, Any] | None:
    tools = [t for t in request.get("tools") or [] if isinstance(t, dict)]
    choice = request.get("tool_choice")
    if not tools or choice == "none":
        return None
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        return next((t for t in tools if (t.get("function") or {}).get("name") == name), None)
    if choice == "required":
        return tools[0]
    # auto (or unset): like a real model, call a tool when the last user message is about it
    # (a word of its name, e.g. "weather" for get_weather), and answer "Hi" with text.
    said = _last_user_text(request).lower()
    for tool in tools:
        words = str((tool.get("function") or {}).get("name", "")).lower().split("_")
        if any(len(w) > 3 and w in said for w in words):
            return tool
    return None


def _last_user_text(request: dict[str, Any]) -> str:
    for message in reversed(request.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else json.dumps(content)
    return ""


def generate(request: dict[str, Any], *, reasoner: bool) -> Completion:
    seed = seed_of(request)
    rng = random.Random(seed)
    completion = Completion(seed=seed, prompt_tokens=count_prompt(request.get("messages")))
    completion.cache_hit_tokens = (completion.prompt_tokens // 64) * 64
    limit = request.get("max_tokens")
    limit = limit if is_int(limit) else DEFAULT_LIMIT
    if reasoner:
        completion.reasoning_tokens = tokenize(" ".join(_THOUGHTS))
    tool = _tool_to_call(request)
    if tool is not None:
        function = tool.get("function") or {}
        arguments = json.dumps(_arguments(function.get("parameters"), rng))
        over = len(tokenize(arguments)) + 1 > limit  # the call counts its name as a token
        if over:  # max_tokens bounds a tool call too: its arguments end where the limit is
            arguments = "".join(tokenize(arguments)[: max(limit - 1, 0)])
        completion.tool_calls = [
            {
                "index": 0,
                "id": f"call_0_{seed:016x}",
                "type": "function",
                "function": {"name": str(function.get("name", "")), "arguments": arguments},
            }
        ]
        completion.finish_reason = "length" if over else "tool_calls"
        return completion
    start = rng.randrange(len(_WORDS))
    length = 6 + rng.randrange(10)
    words = [_WORDS[(start + i) % len(_WORDS)] for i in range(length)]
    text = " ".join(words)
    response_format = request.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "json_object":
        text = json.dumps({"answer": text})
    stop = request.get("stop")
    listed = stop if isinstance(stop, list) else []
    stops = [stop] if isinstance(stop, str) else [s for s in listed if isinstance(s, str)]
    cut = min((text.find(s) for s in stops if s and s in text), default=-1)
    if cut >= 0:
        text = text[:cut]
    tokens = tokenize(text)
    if len(tokens) > limit:
        tokens = tokens[:limit]
        completion.finish_reason = "length"
    completion.content_tokens = tokens
    return completion
