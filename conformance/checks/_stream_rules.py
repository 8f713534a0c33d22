"""Rules of a chat-completion stream that no schema can state: the chunks' order and
constancy (the same id, model and fingerprint; the role first and once; one finish per choice;
usage once and last; tool calls indexed and introduced; reasoning before content).

Each rule keeps only what it needs (a few values per choice index), never the chunks.
Each rule's ``source`` cites ids of docs/sources.md (DS25, WHATWG, D2#N bugs, captures).
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator
from typing import Any

from .._util import is_int
from ._base import CheckContext, Chunk, Failure, RuleBase, SkipCheck, as_dict, stream_rule

__all__: list[str] = []


def _index(choice: dict[str, Any], position: int) -> int:
    index = choice.get("index")
    return index if type(index) is int else position  # is_int, inlined: once per choice


CONSTANT_FIELDS = ("id", "created", "model", "system_fingerprint", "object")
_ABSENT = object()
_CONSTANT = operator.itemgetter(*CONSTANT_FIELDS)


@stream_rule(
    id="STREAM-CONSTANT-001",
    families=("chat", "completions"),
    title="id, created, model, system_fingerprint and object are the same in every chunk",
    severity="MUST",
    source="OAI CreateChatCompletionStreamResponse.id ('Each chunk has the same ID'); "
    "capture deepseek-chat-stream*; D1 (vLLM and LiteLLM suites: created is constant)",
)
class Constant(RuleBase):
    def __init__(self, ctx: CheckContext) -> None:
        super().__init__(ctx)
        self.first: dict[str, tuple[int, Any]] = {}
        self.reported: set[str] = set()
        self.objects = 0
        self.last: tuple[Any, ...] | None = None

    def on_chunk(self, chunk: Chunk) -> Iterable[Failure]:
        payload = chunk.payload
        if type(payload) is not dict:
            return ()
        self.objects += 1
        # the same fields as the chunk before: judged then already (the hot path)
        try:
            seen = _CONSTANT(payload)
        except KeyError:
            seen = tuple([payload.get(name, _ABSENT) for name in CONSTANT_FIELDS])
        if seen == self.last:
            return ()
        self.last = seen
        out: list[Failure] = []
        for name in CONSTANT_FIELDS:
            if name not in chunk.payload:
                continue
            value = chunk.payload[name]
            if name not in self.first:
                self.first[name] = (chunk.index, value)
            elif value != self.first[name][1] and name not in self.reported:
                self.reported.add(name)
                where, was = self.first[name]
                out.append(
                    self.fail(
                        f"{name} changed mid-stream: {was!r} in chunk {where}, {value!r} here",
                        chunk_index=chunk.index,
                        instance_path=f"/{name}",
                        value=value,
                    )
                )
        return out

    def on_end(self) -> Iterator[Failure]:
        if self.objects < 2:
            raise SkipCheck("fewer than two chunks: nothing to compare")
        return iter(())


@stream_rule(
    id="STREAM-ROLE-001",
    title='The first delta of each choice has role "assistant"',
    severity="MUST",
    source="DS25 (delta.role); capture deepseek-chat-stream* (the first delta is {role: assistant}); D2#10",
)
class FirstRole(RuleBase):
    def __init__(self, ctx: CheckContext) -> None:
        super().__init__(ctx)
        self.seen: set[int] = set()

    def on_chunk(self, chunk: Chunk) -> Iterable[Failure]:
        out: list[Failure] = []
        for position, choice in chunk.choices:
            index = choice.get("index")
            if type(index) is not int:
                index = position
            if index in self.seen:
                continue  # the hot path
            self.seen.add(index)
            delta = choice.get("delta")
            role = delta.get("role") if isinstance(delta, dict) else None
            if role != "assistant":
                out.append(
                    self.fail(
                        f'the first delta of choice {index} has role {role!r}, expected "assistant"',
                        chunk_index=chunk.index,
                        instance_path=f"/choices/{position}/delta/role",
                        value=role,
                    )
                )
        return out

    def on_end(self) -> Iterator[Failure]:
        if not self.seen:
            raise SkipCheck("no chunk has a choice")
        return iter(())


@stream_rule(
    id="STREAM-ROLE-002",
    title="Later deltas carry no other role",
    severity="MUST",
    source="DS25 (role enum: assistant); D2#10 ('role': '')",
)
class LaterRole(RuleBase):
    only_if = '"role"'  # the deltas are counted by the driver (Summary.deltas)

    def on_chunk(self, chunk: Chunk) -> Iterable[Failure]:
        out: list[Failure] = []
        for position, choice in chunk.choices:
            delta = choice.get("delta")
            if isinstance(delta, dict) and delta.get("role") not in (None, "assistant"):
                out.append(
                    self.fail(
                        f"a delta has role {delta['role']!r}; a chat completion stream only speaks "
                        "as assistant",
                        chunk_index=chunk.index,
                        instance_path=f"/choices/{position}/delta/role",
                        value=delta["role"],
                    )
                )
        return out

    def on_end(self) -> Iterator[Failure]:
        summary = self.ctx.partial
        if summary is None or summary.deltas < 2:
            raise SkipCheck("no delta after the first")
        return iter(())


@stream_rule(
    id="STREAM-FINISH-001",
    families=("chat", "completions"),
    title="Each choice has exactly one finish_reason, on its last chunk",
    severity="MUST",
    source="DS25 (finish_reason on the terminal chunk); D2#13",
)
class Finish(RuleBase):
    def __init__(self, ctx: CheckContext) -> None:
        super().__init__(ctx)
        self.finished: dict[int, int] = {}  # choice index -> chunk of its finish_reason
        self.reported: set[int] = set()

    def on_chunk(self, chunk: Chunk) -> Iterable[Failure]:
        out: list[Failure] = []
        for position, choice in chunk.choices:
            reason = choice.get("finish_reason")
            if reason is None and not self.finished:
                continue  # the hot path: nothing finished yet, nor now (choices: the summary's)
            index = choice.get("index")
            if type(index) is not int:
                index = position
            if index in self.finished and index not in self.reported:
                self.reported.add(index)
                what = "a second finish_reason" if reason is not None else "another chunk"
                out.append(
                    self.fail(
                        f"choice {index} got {what} after its finish_reason "
                        f"(chunk {self.finished[index]}); nothing may follow it",
                        chunk_index=chunk.index,
                        instance_path=f"/choices/{position}",
                        value=choice,
                    )
                )
            elif reason is not None and index not in self.finished:
                self.finished[index] = chunk.index
        return out

    def on_end(self) -> Iterator[Failure]:
        seen = set(self.ctx.partial.choices) if self.ctx.partial is not None else set()
        if not seen:
            raise SkipCheck("no chunk has a choice")
        for index in sorted(seen - set(self.finished)):
            yield self.fail(
                f"choice {index} never got a finish_reason; clients cannot tell a complete "
                "answer from a cut one"
            )


def _include_usage(request: Any) -> bool | None:
    if not isinstance(request, dict):
        return None
    options = request.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


@stream_rule(
    id="STREAM-USAGE-001",
    title="With include_usage, exactly one chunk carries usage: the last before [DONE]",
    severity="MUST",
    category="usage",
    source="DS25 stream_options.include_usage; DSV4 (usage on the last chunk before [DONE]); D2#3, D2#4",
)
class UsageOnce(RuleBase):
    def __init__(self, ctx: CheckContext) -> None:
        super().__init__(ctx)
        include = _include_usage(ctx.require_request())
        if not include:
            raise SkipCheck("the request did not set stream_options.include_usage")
        self.with_usage: list[int] = []
        self.last_chunk: int | None = None

    def on_chunk(self, chunk: Chunk) -> Iterable[Failure]:
        if chunk.sentinel or not isinstance(chunk.payload, dict):
            return ()
        self.last_chunk = chunk.index
        if chunk.payload.get("usage") is not None:
            self.with_usage.append(chunk.index)
        return ()

    def on_end(self) -> Iterator[Failure]:
        if not self.with_usage:
            yield self.fail("include_usage was set but no chunk carries usage")
        elif len(self.with_usage) > 1:
            yield self.fail(
                f"{len(self.with_usage)} chunks carry usage (chunks "
                f"{', '.join(map(str, self.with_usage[:10]))}); only the last one may, the others "
                "must have usage null or absent",
                chunk_index=self.with_usage[0],
                instance_path="/usage",
            )
        elif self.with_usage[0] != self.last_chunk:
            yield self.fail(
                f"usage is on chunk {self.with_usage[0]}, not on the last chunk before [DONE] "
                f"(chunk {self.last_chunk})",
                chunk_index=self.with_usage[0],
                instance_path="/usage",
            )


@stream_rule(
    id="STREAM-USAGE-002",
    title="Usage is where the profile says: on the finish chunk, or on a choices: [] chunk",
    severity="SHOULD",
    category="usage",
    source="PROFILE stream.usage_placement; DSV4 (DeepSeek: the finish chunk); OAI "
    "ChatCompletionStreamOptions (an extra choices: [] chunk); D2#5, D2#6",
)
class UsagePlacement(RuleBase):
    def __init__(self, ctx: CheckContext) -> None:
        super().__init__(ctx)
        self.placement = ctx.contract.profile.usage_placement
        self.issue: Failure | None = None
        self.seen = False

    only_if = '"usage"'

    def on_chunk(self, chunk: Chunk) -> Iterable[Failure]:
        payload = chunk.payload
        if not isinstance(payload, dict) or payload.get("usage") is None or self.issue:
            return ()
        self.seen = True
        choices = payload.get("choices")
        empty = choices == []
        finishing = any(c.get("finish_reason") is not None for _, c in chunk.choices)
        if self.placement == "finish_chunk" and not finishing:
            self.issue = self.fail(
                "usage is on a chunk without finish_reason"
                + (" (a choices: [] chunk, OpenAI's placement)" if empty else "")
                + "; this profile expects it on the chunk that carries finish_reason",
                chunk_index=chunk.index,
                instance_path="/usage",
            )
        elif self.placement == "usage_chunk" and not empty:
            self.issue = self.fail(
                "usage is on a chunk with choices (DeepSeek's placement); this profile expects "
                "an extra chunk with choices: [] after the finish chunk",
                chunk_index=chunk.index,
                instance_path="/usage",
            )
        return ()

    def on_end(self) -> Iterator[Failure]:
        if self.issue is not None:
            yield self.issue
        elif not self.seen:
            raise SkipCheck("no chunk carries usage")


@stream_rule(
    id="STREAM-TOOL-INDEX-001",
    title="Every tool-call delta carries an integer index",
    severity="MUST",
    category="tools",
    level="full",
    requires=("tool_calls",),
    hint="the model called no tool even when tool_choice forced one: pick one that can (--model)",
    source="OAI ChatCompletionMessageToolCallChunk (index required); "
    "capture deepseek-chat-stream-tools; D2#7",
)
class ToolIndex(RuleBase):
    only_if = '"tool_calls"'

    def __init__(self, ctx: CheckContext) -> None:
        super().__init__(ctx)
        self.deltas = 0

    def on_end(self) -> Iterator[Failure]:
        if not self.deltas:
            raise SkipCheck("no streamed tool call")
        return iter(())

    def on_chunk(self, chunk: Chunk) -> Iterator[Failure]:
        for position, choice in chunk.choices:
            delta = choice.get("delta")
            calls = delta.get("tool_calls") if isinstance(delta, dict) else None
            for i, call in enumerate(calls if isinstance(calls, list) else []):
                self.deltas += 1
                index = call.get("index") if isinstance(call, dict) else None
                if not is_int(index):
                    yield self.fail(
                        "a tool-call delta has no integer index; clients assemble calls by index",
                        chunk_index=chunk.index,
                        instance_path=f"/choices/{position}/delta/tool_calls/{i}",
                        value=call,
                    )


@stream_rule(
    id="STREAM-TOOL-FIRST-001",
    title="id, type and name come on the first delta of a tool call, and only there",
    severity="MUST",
    category="tools",
    level="full",
    requires=("tool_calls",),
    hint="the model called no tool even when tool_choice forced one: pick one that can (--model)",
    source="captures deepseek-chat-stream-tools, openai-gpt41-stream-tools; D2#8, D2#9",
)
class ToolFirst(RuleBase):
    only_if = '"tool_calls"'

    def __init__(self, ctx: CheckContext) -> None:
        super().__init__(ctx)
        self.seen: set[tuple[int, int]] = set()

    def on_end(self) -> Iterator[Failure]:
        if not self.seen:
            raise SkipCheck("no streamed tool call")
        return iter(())

    def on_chunk(self, chunk: Chunk) -> Iterator[Failure]:
        for position, choice in chunk.choices:
            delta = choice.get("delta")
            calls = delta.get("tool_calls") if isinstance(delta, dict) else None
            for i, call in enumerate(calls if isinstance(calls, list) else []):
                if not isinstance(call, dict) or not is_int(call.get("index")):
                    continue
                key = (_index(choice, position), call["index"])
                function = as_dict(call.get("function"))
                path = f"/choices/{position}/delta/tool_calls/{i}"
                if key not in self.seen:
                    self.seen.add(key)
                    missing = [
                        n
                        for n, v in (
                            ("id", call.get("id")),
                            ("function.name", function.get("name")),
                        )
                        if not v
                    ]
                    if missing:
                        yield self.fail(
                            f"the first delta of tool call {call['index']} lacks "
                            f"{' and '.join(missing)}",
                            chunk_index=chunk.index,
                            instance_path=path,
                            value=call,
                        )
                else:
                    repeated = [n for n in ("id", "type") if n in call and call[n] is not None]
                    if function.get("name"):
                        repeated.append("function.name")
                    if repeated:
                        yield self.fail(
                            f"a later delta of tool call {call['index']} repeats "
                            f"{', '.join(repeated)}; clients concatenate them "
                            "(e.g. read_fileread_file)",
                            chunk_index=chunk.index,
                            instance_path=path,
                            value=call,
                        )


@stream_rule(
    id="STREAM-REASONING-ORDER-001",
    title="reasoning_content comes before content",
    severity="SHOULD",
    category="reasoning",
    level="full",
    requires=("reasoning_content",),
    hint="name a reasoning model with --reasoning-model (GET /models listed none)",
    source="DSR1, DSTHINK (the reasoning phase, then the answer); "
    "capture deepseek-reasoner-stream-include-usage",
)
class ReasoningOrder(RuleBase):
    #: only chunks with reasoning; where each choice's content began is the driver's
    #: (Summary.content_from)
    only_if = '"reasoning_content"'

    def __init__(self, ctx: CheckContext) -> None:
        super().__init__(ctx)
        self.reported: set[int] = set()
        self.reasoning = False

    def on_end(self) -> Iterator[Failure]:
        if not self.reasoning:
            raise SkipCheck("no reasoning_content in the stream")
        return iter(())

    def on_chunk(self, chunk: Chunk) -> Iterable[Failure]:
        out: list[Failure] = []
        for position, choice in chunk.choices:
            delta = choice.get("delta")
            if not isinstance(delta, dict):
                continue
            index = _index(choice, position)
            if not delta.get("reasoning_content"):
                continue
            self.reasoning = True
            began = self.ctx.partial.content_from.get(index) if self.ctx.partial else None
            if began is not None and began < chunk.index and index not in self.reported:
                self.reported.add(index)
                out.append(
                    self.fail(
                        f"choice {index} sends reasoning_content after its content started",
                        chunk_index=chunk.index,
                        instance_path=f"/choices/{position}/delta/reasoning_content",
                        value=delta["reasoning_content"],
                    )
                )
        return out
