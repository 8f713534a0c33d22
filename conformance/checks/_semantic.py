"""Rules about what a completion means, for JSON and streamed responses alike.

They read the :class:`Summary` (accumulated text, assembled tool calls, usage) and, for the
log-probability rules, each chunk as it passes (a stream rule) or the body's choices.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
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
    families=("chat", "completions"),
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
    families=("chat", "completions"),
    title="prompt_cache_hit_tokens + prompt_cache_miss_tokens = prompt_tokens",
    severity="MUST",
    category="usage",
    level="core",
    requires=("prompt_cache_hit_tokens", "prompt_cache_miss_tokens"),
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
    requires=("reasoning_tokens",),
    hint="name a reasoning model with --reasoning-model (GET /models listed none)",
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
    families=("chat", "completions"),
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
    # max_tokens bounds each choice, and usage counts them all (n, several prompts on
    # /completions): only a total above max_tokens times the choices proves one went over
    choices = max(len(_summary(ctx).choices), 1)
    if answer > limit * choices:
        each = f"max_tokens {limit}" if choices == 1 else f"max_tokens {limit} x {choices} choices"
        yield failure(
            f"the answer used {answer} tokens (completion_tokens {completion} less reasoning), "
            f"more than {each}",
            instance_path="/usage/completion_tokens",
            chunk_index=_summary(ctx).usage_chunk,
            value=usage,
        )


@response_check(
    id="FINISH-LENGTH-001",
    families=("chat", "completions"),
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
    cut = [c for c in summary.choices.values() if c.finish_reason == "length"]
    if not cut:
        raise SkipCheck('no choice finished with "length"')
    for choice in cut:
        if answer < limit:
            yield failure(
                f'choice {choice.index} stopped with "length" after {answer} tokens, below '
                f"max_tokens {limit}",
                value={"finish_reason": "length", "completion_tokens": answer, "max_tokens": limit},
            )


@response_check(
    id="STOP-001",
    families=("chat", "completions"),
    title="No stop sequence appears in the content",
    severity="MUST",
    category="stop",
    level="full",
    requires=("stop",),
    hint="the answers did not finish: raise --max-tokens",
    source="DS25 stop ('the API will stop generating further tokens'); capture deepseek-chat-stop",
)
def stop_sequences(ctx: CheckContext) -> Iterator[Failure]:
    stop = ctx.require_request().get("stop")
    sequences = [stop] if isinstance(stop, str) else stop if isinstance(stop, list) else []
    sequences = [s for s in sequences if isinstance(s, str) and s]
    if not sequences:
        raise SkipCheck("the request sets no stop sequence")
    choices = _summary(ctx).choices.values()
    for choice in choices:
        for sequence in sequences:
            if sequence in choice.content:
                at = choice.content.index(sequence)
                yield failure(
                    f"choice {choice.index}'s content contains the stop sequence {sequence!r} "
                    f"(at character {at}); generation must stop before it",
                    value=choice.content[max(0, at - 40) : at + 40],
                )
    if not any(c.finish_reason == "stop" for c in choices):
        raise SkipCheck('a stop sequence was requested but no choice finished with "stop"')


@response_check(
    id="JSON-MODE-001",
    title="response_format json_object: the content is JSON",
    severity="MUST",
    category="json-mode",
    level="full",
    requires=("response_format",),
    hint="the answers did not finish: raise --max-tokens",
    source="DS25 response_format ('json_object ... guarantees the message is valid JSON'); "
    "capture deepseek-chat-json-object",
)
def json_mode(ctx: CheckContext) -> Iterator[Failure]:
    response_format = ctx.require_request().get("response_format")
    if not (isinstance(response_format, dict) and response_format.get("type") == "json_object"):
        raise SkipCheck("the request did not ask for json_object")
    finished = [c for c in _summary(ctx).choices.values() if c.finish_reason == "stop"]
    if not finished:  # cut by length or a tool call: not a finished JSON answer
        raise SkipCheck('json_object was requested but no choice finished with "stop"')
    for choice in finished:
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
    requires=("tool_calls",),
    source="DS25 tool_calls.function.arguments ('the model does not always generate valid JSON')",
)
def tool_arguments(ctx: CheckContext) -> Iterator[Failure]:
    choices = [c for c in _summary(ctx).choices.values() if c.tool_calls]
    if not choices:
        raise SkipCheck("no tool call in the response")
    # a call cut off by max_tokens ("length") cannot hold whole JSON, as JSON-MODE-001 says
    calls = [
        (c.index, i, t)
        for c in choices
        if c.finish_reason != "length"
        for i, t in c.tool_calls.items()
    ]
    if not calls:
        raise SkipCheck('every tool call was cut off by max_tokens ("length")')
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
    requires=("tool_calls",),
    source="DS25 finish_reason (tool_calls: 'the model called a tool', and length: 'the maximum "
    "number of tokens specified in the request was reached'); OAISTOP (a call forced by a named "
    "tool_choice ends with stop); D2#11",
)
def tool_finish(ctx: CheckContext) -> Iterator[Failure]:
    choices = [c for c in _summary(ctx).choices.values() if c.tool_calls]
    if not choices:
        raise SkipCheck("no tool call in the response")
    request = ctx.request if isinstance(ctx.request, dict) else {}
    # A function named in tool_choice is a forced call, which OpenAI ends with "stop"; a call
    # cut off by max_tokens ends with "length", as any answer cut there does (whether the cut
    # was deserved is FINISH-LENGTH-001's to judge).
    accepted = {None, "tool_calls"} | (
        {"stop"} if isinstance(request.get("tool_choice"), dict) else set()
    )
    if is_int(request.get("max_tokens")):
        accepted.add("length")
    for choice in choices:
        if choice.finish_reason not in accepted:
            yield failure(
                f"choice {choice.index} called tools but finished with "
                f'{choice.finish_reason!r}; clients look for "tool_calls"',
                value=choice.finish_reason,
            )


# -- log probabilities: one judgement per choice, of a body's message or a stream's delta ---


def _has_text(part: Any) -> bool:
    """Whether a message or a delta carries tokens (answer or reasoning), which are what log
    probabilities are given for."""
    return isinstance(part, dict) and bool(part.get("content") or part.get("reasoning_content"))


def _entries(logprobs: Any, prefix: str) -> list[tuple[str, dict[str, Any]]]:
    if not isinstance(logprobs, dict):
        return []
    out = []
    for key in ("content", "reasoning_content"):
        items = logprobs.get(key)
        for i, item in enumerate(items if isinstance(items, list) else []):
            if isinstance(item, dict):
                out.append((f"{prefix}/{key}/{i}", item))
    return out


def _with_top(entries: list[tuple[str, dict[str, Any]]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each entry, then its top_logprobs alternatives, with their paths."""
    for path, entry in entries:
        yield path, entry
        for i, top in enumerate(entry.get("top_logprobs") or []):
            if isinstance(top, dict):
                yield f"{path}/top_logprobs/{i}", top


#: A judgement of one choice: (state from the request, the choice, its message or delta, its
#: path, the chunk index or None) -> (whether there was something to judge, the failures).
Judge = Callable[[Any, dict[str, Any], Any, str, "int | None"], tuple[bool, list[Failure]]]


def _per_choice_rule(
    *,
    id: str,
    title: str,
    source: str,
    not_exercised: str,
    prepare: Callable[[CheckContext], Any],
    judge: Judge,
    only_if: str | None = None,
) -> None:
    """Register one rule as a check of a body and a stream rule that share ``judge``, so a
    completion gets the same verdict whether it came as a body or as a stream."""

    @response_check(
        id=id,
        title=title,
        severity="MUST",
        category="logprobs",
        level="full",
        requires=("logprobs",),
        source=source,
        run_on="json",
        hint="the model returned no log probabilities: pick one that can (--model)",
    )
    def check(ctx: CheckContext) -> Iterator[Failure]:
        state, exercised = prepare(ctx), False
        for position, choice in _body_choices(ctx):
            hit, found = judge(state, choice, choice.get("message"), f"/choices/{position}", None)
            exercised = exercised or hit
            yield from found
        if not exercised:
            raise SkipCheck(not_exercised)

    @stream_rule(id=id)
    class Rule(RuleBase):
        def __init__(self, ctx: CheckContext) -> None:
            super().__init__(ctx)
            self.state = prepare(ctx)
            self.exercised = False

        def on_chunk(self, chunk: Chunk) -> list[Failure]:
            out: list[Failure] = []
            for position, choice in chunk.choices:
                hit, found = judge(
                    self.state, choice, choice.get("delta"), f"/choices/{position}", chunk.index
                )
                self.exercised = self.exercised or hit
                out += found
            return out

        def on_end(self) -> Iterator[Failure]:
            if not self.exercised:
                raise SkipCheck(not_exercised)
            return iter(())

    Rule.only_if = only_if


def _body_choices(ctx: CheckContext) -> list[tuple[int, dict[str, Any]]]:
    body = ctx.body
    if not isinstance(body, dict) or not isinstance(body.get("choices"), list):
        raise SkipCheck("the body has no choices")
    return [(i, c) for i, c in enumerate(body["choices"]) if isinstance(c, dict)]


def _requested(ctx: CheckContext) -> bool:
    return ctx.require_request().get("logprobs") is True


def _presence(
    requested: bool, choice: dict[str, Any], part: Any, where: str, chunk: int | None
) -> tuple[bool, list[Failure]]:
    logprobs = choice.get("logprobs")
    if requested and _has_text(part):
        if logprobs is None:
            return True, [
                failure(
                    "logprobs were requested but this choice has none",
                    instance_path=f"{where}/logprobs",
                    chunk_index=chunk,
                )
            ]
        return True, []
    if not requested and logprobs is not None:
        return True, [
            failure(
                "logprobs were not requested but the choice carries them (expected null or absent)",
                instance_path=f"{where}/logprobs",
                chunk_index=chunk,
                value=logprobs,
            )
        ]
    return False, []


_per_choice_rule(
    id="LOGPROBS-PRESENT-001",
    title="logprobs are present if and only if requested",
    source="DS25 logprobs ('whether to return log probabilities'); captures "
    "deepseek-v4-flash-logprobs, deepseek-chat-nonstream (logprobs: null)",
    not_exercised="no text answered a logprobs request",
    prepare=_requested,
    judge=_presence,
)


def _range(
    _: Any, choice: dict[str, Any], part: Any, where: str, chunk: int | None
) -> tuple[bool, list[Failure]]:
    entries = _entries(choice.get("logprobs"), f"{where}/logprobs")
    found = [
        failure(
            f"logprob {value} is positive; a log-probability is at most 0",
            instance_path=f"{path}/logprob",
            chunk_index=chunk,
            value=value,
        )
        for path, item in _with_top(entries)
        if (is_int(value := item.get("logprob")) or isinstance(value, float)) and value > 0
    ]
    return bool(entries), found


_per_choice_rule(
    id="LOGPROBS-RANGE-001",
    title="Every logprob is at most 0",
    source="OAI ChatCompletionTokenLogprob (a log-probability, so at most 0, or -9999.0 for "
    "unlikely tokens); D2#17",
    not_exercised="no log probability in the response",
    prepare=lambda ctx: None,
    judge=_range,
    only_if='"logprob"',
)


def _top_wanted(ctx: CheckContext) -> int:
    request = ctx.require_request()
    wanted = request.get("top_logprobs")
    if request.get("logprobs") is not True or not is_int(wanted):
        raise SkipCheck("the request sets no top_logprobs")
    return wanted


def _top(
    wanted: int, choice: dict[str, Any], part: Any, where: str, chunk: int | None
) -> tuple[bool, list[Failure]]:
    entries = _entries(choice.get("logprobs"), f"{where}/logprobs")
    found = [
        failure(
            f"top_logprobs has {len(top)} item(s); the request asked for {wanted}",
            instance_path=f"{path}/top_logprobs",
            chunk_index=chunk,
            value=len(top),
        )
        for path, entry in entries
        if isinstance(top := entry.get("top_logprobs"), list) and len(top) != wanted
    ]
    return bool(entries), found


_per_choice_rule(
    id="LOGPROBS-TOP-001",
    title="top_logprobs has as many entries as requested",
    source="DS25 top_logprobs ('the number of most likely tokens to return at each position')",
    not_exercised="no log probability answered a top_logprobs request",
    prepare=_top_wanted,
    judge=_top,
    only_if='"logprob"',
)


def _bytes(
    _: Any, choice: dict[str, Any], part: Any, where: str, chunk: int | None
) -> tuple[bool, list[Failure]]:
    judged, found = False, []
    for path, item in _with_top(_entries(choice.get("logprobs"), f"{where}/logprobs")):
        token, data = item.get("token"), item.get("bytes")
        if not isinstance(token, str) or data is None or "\ufffd" in token or token == "":
            # A token that is part of a UTF-8 character has no text of its own: servers
            # write it as U+FFFD (DeepSeek) or as "" (llama-server) beside its raw bytes.
            continue
        judged = True
        if data != list(token.encode("utf-8")):
            found.append(
                failure(
                    f"bytes are not the UTF-8 encoding of the token {token!r}",
                    instance_path=f"{path}/bytes",
                    chunk_index=chunk,
                    value=data,
                )
            )
    return judged, found


_per_choice_rule(
    id="LOGPROBS-BYTES-001",
    title="bytes is the UTF-8 encoding of the token",
    source="DS25 logprobs.content.bytes ('UTF-8 bytes representation of the token'); capture "
    "deepseek-v4-flash-logprobs",
    not_exercised="no token with bytes in the response",
    prepare=lambda ctx: None,
    judge=_bytes,
    only_if='"logprob"',
)
