"""Rules about what a completion means, for JSON and streamed responses alike.

They read the :class:`Summary` (accumulated text, assembled tool calls, usage) and, for the
log-probability rules, each chunk as it passes (a stream rule) or the body's choices.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from .._util import is_int
from ._base import (
    CheckContext,
    Chunk,
    Failure,
    RuleBase,
    SkipCheck,
    Summary,
    failure,
    response_check,
    stream_rule,
)

__all__: list[str] = []


def _summary(ctx: CheckContext) -> Summary:
    if ctx.summary is None:
        raise SkipCheck("the response has no completion to read (not JSON or not an object)")
    return ctx.summary


def _usage(ctx: CheckContext) -> dict[str, Any]:
    usage = _summary(ctx).usage
    if not isinstance(usage, dict):
        raise SkipCheck("the response carries no usage")
    return usage


def _int(usage: dict[str, Any], name: str) -> int | None:
    value = usage.get(name)
    return value if is_int(value) else None


def _reasoning_tokens(usage: dict[str, Any]) -> int:
    details = usage.get("completion_tokens_details")
    value = details.get("reasoning_tokens") if isinstance(details, dict) else None
    return value if is_int(value) else 0


@response_check(
    id="USAGE-TOTAL-001",
    title="total_tokens = prompt_tokens + completion_tokens",
    severity="MUST",
    category="usage",
    level="core",
    source="DS25 usage (total_tokens: 'prompt + completion'); OAI CompletionUsage",
)
def usage_total(ctx: CheckContext) -> Iterator[Failure]:
    usage = _usage(ctx)
    total, prompt, completion = (
        _int(usage, "total_tokens"),
        _int(usage, "prompt_tokens"),
        _int(usage, "completion_tokens"),
    )
    if None in (total, prompt, completion):
        raise SkipCheck("usage lacks one of the three counters (the schema check reports it)")
    assert total is not None and prompt is not None and completion is not None
    if total != prompt + completion:
        yield failure(
            f"total_tokens is {total}, but prompt_tokens + completion_tokens = "
            f"{prompt} + {completion} = {prompt + completion}",
            instance_path="/usage/total_tokens",
            chunk_index=_summary(ctx).usage_chunk,
            value=usage,
        )


@response_check(
    id="USAGE-CACHE-001",
    title="prompt_cache_hit_tokens + prompt_cache_miss_tokens = prompt_tokens",
    severity="MUST",
    category="usage",
    level="core",
    source="DS25 usage (prompt_tokens = prompt_cache_hit_tokens + prompt_cache_miss_tokens)",
)
def usage_cache(ctx: CheckContext) -> Iterator[Failure]:
    usage = _usage(ctx)
    hit, miss, prompt = (
        _int(usage, "prompt_cache_hit_tokens"),
        _int(usage, "prompt_cache_miss_tokens"),
        _int(usage, "prompt_tokens"),
    )
    if hit is None or miss is None or prompt is None:
        raise SkipCheck("usage has no DeepSeek cache counters")
    if hit + miss != prompt:
        yield failure(
            f"prompt_cache_hit_tokens + prompt_cache_miss_tokens = {hit} + {miss} = {hit + miss}, "
            f"but prompt_tokens is {prompt}",
            instance_path="/usage",
            chunk_index=_summary(ctx).usage_chunk,
            value=usage,
        )


@response_check(
    id="USAGE-REASONING-001",
    title="reasoning_tokens <= completion_tokens",
    severity="MUST",
    category="usage",
    level="full",
    source="DS25 usage.completion_tokens_details.reasoning_tokens (part of completion_tokens)",
)
def usage_reasoning(ctx: CheckContext) -> Iterator[Failure]:
    usage = _usage(ctx)
    details = usage.get("completion_tokens_details")
    reasoning = details.get("reasoning_tokens") if isinstance(details, dict) else None
    completion = _int(usage, "completion_tokens")
    if not is_int(reasoning) or completion is None:
        raise SkipCheck("usage has no reasoning_tokens")
    if reasoning > completion:
        yield failure(
            f"reasoning_tokens ({reasoning}) exceeds completion_tokens ({completion}), which "
            "includes it",
            instance_path="/usage/completion_tokens_details/reasoning_tokens",
            chunk_index=_summary(ctx).usage_chunk,
            value=usage,
        )


def _max_tokens(ctx: CheckContext) -> int:
    request = ctx.require_request()
    limit = request.get("max_tokens")
    if not is_int(limit):
        raise SkipCheck("the request sets no max_tokens")
    return limit


@response_check(
    id="MAX-TOKENS-001",
    title="completion_tokens (beyond reasoning) <= max_tokens",
    severity="MUST",
    category="limits",
    level="full",
    source="DS25 max_tokens ('the maximum number of tokens that can be generated'); DSR1 "
    "(max_tokens excludes the chain of thought)",
)
def max_tokens(ctx: CheckContext) -> Iterator[Failure]:
    limit = _max_tokens(ctx)
    usage = _usage(ctx)
    completion = _int(usage, "completion_tokens")
    if completion is None:
        raise SkipCheck("usage has no completion_tokens")
    answer = completion - _reasoning_tokens(usage)
    if answer > limit:
        yield failure(
            f"the answer used {answer} tokens (completion_tokens {completion} less reasoning), "
            f"more than max_tokens {limit}",
            instance_path="/usage/completion_tokens",
            chunk_index=_summary(ctx).usage_chunk,
            value=usage,
        )


@response_check(
    id="FINISH-LENGTH-001",
    title='finish_reason "length" only when max_tokens could have been reached',
    severity="SHOULD",
    category="limits",
    level="full",
    source="DS25 finish_reason (length: 'the maximum number of tokens specified in the request "
    "was reached'); capture deepseek-chat-length",
)
def finish_length(ctx: CheckContext) -> Iterator[Failure]:
    limit = _max_tokens(ctx)
    summary = _summary(ctx)
    usage = summary.usage if isinstance(summary.usage, dict) else None
    if usage is None or _int(usage, "completion_tokens") is None:
        raise SkipCheck("the response carries no usage")
    answer = (_int(usage, "completion_tokens") or 0) - _reasoning_tokens(usage)
    for choice in summary.choices.values():
        if choice.finish_reason == "length" and answer < limit:
            yield failure(
                f'choice {choice.index} stopped with "length" after {answer} tokens, below '
                f"max_tokens {limit}",
                value={"finish_reason": "length", "completion_tokens": answer, "max_tokens": limit},
            )


@response_check(
    id="STOP-001",
    title="No stop sequence appears in the content",
    severity="MUST",
    category="stop",
    level="full",
    source="DS25 stop ('the API will stop generating further tokens'); capture deepseek-chat-stop",
)
def stop_sequences(ctx: CheckContext) -> Iterator[Failure]:
    stop = ctx.require_request().get("stop")
    sequences = [stop] if isinstance(stop, str) else stop if isinstance(stop, list) else []
    sequences = [s for s in sequences if isinstance(s, str) and s]
    if not sequences:
        raise SkipCheck("the request sets no stop sequence")
    for choice in _summary(ctx).choices.values():
        for sequence in sequences:
            if sequence in choice.content:
                at = choice.content.index(sequence)
                yield failure(
                    f"choice {choice.index}'s content contains the stop sequence {sequence!r} "
                    f"(at character {at}); generation must stop before it",
                    value=choice.content[max(0, at - 40) : at + 40],
                )


@response_check(
    id="JSON-MODE-001",
    title="response_format json_object: the content is JSON",
    severity="MUST",
    category="json-mode",
    level="full",
    source="DS25 response_format ('json_object ... guarantees the message is valid JSON'); "
    "capture deepseek-chat-json-object",
)
def json_mode(ctx: CheckContext) -> Iterator[Failure]:
    response_format = ctx.require_request().get("response_format")
    if not (isinstance(response_format, dict) and response_format.get("type") == "json_object"):
        raise SkipCheck("the request did not ask for json_object")
    for choice in _summary(ctx).choices.values():
        if choice.finish_reason != "stop":
            continue  # cut by length or a tool call: not a finished JSON answer
        try:
            json.loads(choice.content)
        except ValueError as exc:
            yield failure(
                f"choice {choice.index}'s content is not JSON ({exc})",
                value=choice.content,
            )


@response_check(
    id="TOOL-ARGS-001",
    title="Tool-call arguments are a JSON object",
    severity="SHOULD",
    category="tools",
    level="full",
    source="DS25 tool_calls.function.arguments ('the model does not always generate valid JSON')",
)
def tool_arguments(ctx: CheckContext) -> Iterator[Failure]:
    calls = [
        (c.index, i, t) for c in _summary(ctx).choices.values() for i, t in c.tool_calls.items()
    ]
    if not calls:
        raise SkipCheck("no tool call in the response")
    for choice, index, call in calls:
        try:
            value = json.loads(call.get("arguments") or "")
        except ValueError as exc:
            yield failure(
                f"choice {choice} tool call {index} ({call.get('name')!r}): arguments are not "
                f"JSON ({exc})",
                value=call.get("arguments"),
            )
            continue
        if not isinstance(value, dict):
            yield failure(
                f"choice {choice} tool call {index}: arguments are JSON but not an object",
                value=value,
            )


@response_check(
    id="TOOL-FINISH-001",
    title='A choice that calls tools finishes with "tool_calls"',
    severity="SHOULD",
    category="tools",
    level="full",
    source="DS25 finish_reason (tool_calls: 'the model called a tool'); D2#11",
)
def tool_finish(ctx: CheckContext) -> Iterator[Failure]:
    choices = [c for c in _summary(ctx).choices.values() if c.tool_calls]
    if not choices:
        raise SkipCheck("no tool call in the response")
    for choice in choices:
        if choice.finish_reason not in (None, "tool_calls"):
            yield failure(
                f"choice {choice.index} called tools but finished with "
                f'{choice.finish_reason!r}; clients look for "tool_calls"',
                value=choice.finish_reason,
            )


# -- log probabilities: per chunk in a stream, per choice in a body ------------------------


def _logprobs_requested(ctx: CheckContext) -> bool:
    return ctx.require_request().get("logprobs") is True


def _entries(logprobs: Any, prefix: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if not isinstance(logprobs, dict):
        return
    for key in ("content", "reasoning_content"):
        items = logprobs.get(key)
        for i, item in enumerate(items if isinstance(items, list) else []):
            if isinstance(item, dict):
                yield f"{prefix}/{key}/{i}", item


def _body_choices(ctx: CheckContext) -> list[tuple[int, dict[str, Any]]]:
    body = ctx.body
    if not isinstance(body, dict) or not isinstance(body.get("choices"), list):
        raise SkipCheck("the body has no choices")
    return [(i, c) for i, c in enumerate(body["choices"]) if isinstance(c, dict)]


def _presence(
    requested: bool, choice: dict[str, Any], text: Any, where: str, chunk: int | None
) -> Iterator[Failure]:
    logprobs = choice.get("logprobs")
    if requested and logprobs is None and text:
        yield failure(
            "logprobs were requested but this choice has none",
            instance_path=f"{where}/logprobs",
            chunk_index=chunk,
        )
    elif not requested and logprobs is not None:
        yield failure(
            "logprobs were not requested but the choice carries them (expected null or absent)",
            instance_path=f"{where}/logprobs",
            chunk_index=chunk,
            value=logprobs,
        )


def _range(entries: Iterator[tuple[str, dict[str, Any]]], chunk: int | None) -> Iterator[Failure]:
    for path, entry in entries:
        candidates = [(path, entry)] + [
            (f"{path}/top_logprobs/{i}", top)
            for i, top in enumerate(entry.get("top_logprobs") or [])
            if isinstance(top, dict)
        ]
        for where, item in candidates:
            value = item.get("logprob")
            if (is_int(value) or isinstance(value, float)) and value > 0:
                yield failure(
                    f"logprob {value} is positive; a log-probability is at most 0",
                    instance_path=f"{where}/logprob",
                    chunk_index=chunk,
                    value=value,
                )


def _top(
    entries: Iterator[tuple[str, dict[str, Any]]], wanted: int, chunk: int | None
) -> Iterator[Failure]:
    for path, entry in entries:
        top = entry.get("top_logprobs")
        if isinstance(top, list) and len(top) != wanted:
            yield failure(
                f"top_logprobs has {len(top)} item(s); the request asked for {wanted}",
                instance_path=f"{path}/top_logprobs",
                chunk_index=chunk,
                value=len(top),
            )


def _bytes(entries: Iterator[tuple[str, dict[str, Any]]], chunk: int | None) -> Iterator[Failure]:
    for path, entry in entries:
        items = [(path, entry)] + [
            (f"{path}/top_logprobs/{i}", t)
            for i, t in enumerate(entry.get("top_logprobs") or [])
            if isinstance(t, dict)
        ]
        for where, item in items:
            token, data = item.get("token"), item.get("bytes")
            if not isinstance(token, str) or data is None or "\ufffd" in token or token == "":
                # A token that is part of a UTF-8 character has no text of its own: servers
                # write it as U+FFFD (DeepSeek) or as "" (llama-server) beside its raw bytes.
                continue
            if data != list(token.encode("utf-8")):
                yield failure(
                    f"bytes are not the UTF-8 encoding of the token {token!r}",
                    instance_path=f"{where}/bytes",
                    chunk_index=chunk,
                    value=data,
                )


@response_check(
    id="LOGPROBS-PRESENT-001",
    title="logprobs are present if and only if requested",
    severity="MUST",
    category="logprobs",
    level="full",
    source="DS25 logprobs ('whether to return log probabilities'); captures "
    "deepseek-v4-flash-logprobs, deepseek-chat-nonstream (logprobs: null)",
    run_on="json",
)
def logprobs_present(ctx: CheckContext) -> Iterator[Failure]:
    requested = _logprobs_requested(ctx)
    for position, choice in _body_choices(ctx):
        message = choice.get("message")
        text = message.get("content") if isinstance(message, dict) else None
        yield from _presence(requested, choice, text, f"/choices/{position}", None)


@stream_rule(id="LOGPROBS-PRESENT-001")
class LogprobsPresentStream(RuleBase):
    def __init__(self, ctx: CheckContext) -> None:
        super().__init__(ctx)
        self.requested = _logprobs_requested(ctx)

    def on_chunk(self, chunk: Chunk) -> Iterable[Failure]:
        out: list[Failure] = []
        for position, choice in chunk.choices:
            delta = choice.get("delta")
            text = (
                (delta.get("content") or delta.get("reasoning_content"))
                if isinstance(delta, dict)
                else None
            )
            out.extend(_presence(self.requested, choice, text, f"/choices/{position}", chunk.index))
        return out


@response_check(
    id="LOGPROBS-RANGE-001",
    title="Every logprob is at most 0",
    severity="MUST",
    category="logprobs",
    level="full",
    source="OAI ChatCompletionTokenLogprob (a log-probability, so at most 0, or -9999.0 for "
    "unlikely tokens); D2#17",
    run_on="json",
)
def logprobs_range(ctx: CheckContext) -> Iterator[Failure]:
    for position, choice in _body_choices(ctx):
        yield from _range(_entries(choice.get("logprobs"), f"/choices/{position}/logprobs"), None)


@stream_rule(id="LOGPROBS-RANGE-001")
class LogprobsRangeStream(RuleBase):
    only_if = '"logprob"'

    def on_chunk(self, chunk: Chunk) -> Iterator[Failure]:
        for position, choice in chunk.choices:
            yield from _range(
                _entries(choice.get("logprobs"), f"/choices/{position}/logprobs"), chunk.index
            )


def _top_wanted(ctx: CheckContext) -> int:
    request = ctx.require_request()
    wanted = request.get("top_logprobs")
    if request.get("logprobs") is not True or not is_int(wanted):
        raise SkipCheck("the request sets no top_logprobs")
    return wanted


@response_check(
    id="LOGPROBS-TOP-001",
    title="top_logprobs has as many entries as requested",
    severity="MUST",
    category="logprobs",
    level="full",
    source="DS25 top_logprobs ('the number of most likely tokens to return at each position')",
    run_on="json",
)
def logprobs_top(ctx: CheckContext) -> Iterator[Failure]:
    wanted = _top_wanted(ctx)
    for position, choice in _body_choices(ctx):
        yield from _top(
            _entries(choice.get("logprobs"), f"/choices/{position}/logprobs"), wanted, None
        )


@stream_rule(id="LOGPROBS-TOP-001")
class LogprobsTopStream(RuleBase):
    only_if = '"logprob"'

    def __init__(self, ctx: CheckContext) -> None:
        super().__init__(ctx)
        self.wanted = _top_wanted(ctx)

    def on_chunk(self, chunk: Chunk) -> Iterator[Failure]:
        for position, choice in chunk.choices:
            yield from _top(
                _entries(choice.get("logprobs"), f"/choices/{position}/logprobs"),
                self.wanted,
                chunk.index,
            )


@response_check(
    id="LOGPROBS-BYTES-001",
    title="bytes is the UTF-8 encoding of the token",
    severity="MUST",
    category="logprobs",
    level="full",
    source="DS25 logprobs.content.bytes ('UTF-8 bytes representation of the token'); capture "
    "deepseek-v4-flash-logprobs",
    run_on="json",
)
def logprobs_bytes(ctx: CheckContext) -> Iterator[Failure]:
    for position, choice in _body_choices(ctx):
        yield from _bytes(_entries(choice.get("logprobs"), f"/choices/{position}/logprobs"), None)


@stream_rule(id="LOGPROBS-BYTES-001")
class LogprobsBytesStream(RuleBase):
    only_if = '"logprob"'

    def on_chunk(self, chunk: Chunk) -> Iterator[Failure]:
        for position, choice in chunk.choices:
            yield from _bytes(
                _entries(choice.get("logprobs"), f"/choices/{position}/logprobs"), chunk.index
            )
