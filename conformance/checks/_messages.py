"""Rules of Anthropic Messages streams (the ``messages`` family).

Each event's ``data`` is one of the document's event schemas (STREAM-CHUNK-SCHEMA-001), and
its name is its data's ``type`` (RESPONSES-EVENT-001, which judges both families). What a
schema cannot say is how the events follow each other (ANTSTREAM): one ``message_start``
first, each content block opened by ``content_block_start`` before its deltas and closed once
by ``content_block_stop``, the blocks' indexes in the order of the final ``content`` array,
``message_stop`` last, and the usage of ``message_delta`` counting on from ``message_start``'s.
``ping`` may come anywhere; an ``error`` event ends a stream that fails.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from .._util import is_int
from ._base import CheckContext, Chunk, Failure, RuleBase, SkipCheck, as_dict, stream_rule
from ._events import _type

__all__: list[str] = []

START, STOP, PING, ERROR = "message_start", "message_stop", "ping", "error"
BLOCK_EVENTS = ("content_block_start", "content_block_delta", "content_block_stop")


@stream_rule(
    id="MESSAGES-ORDER-001",
    title="A message stream opens with one message_start and ends with message_stop",
    severity="MUST",
    category="stream",
    source="ANTSTREAM (message_start first, then the content blocks and message_delta, then a "
    "final message_stop, ping events anywhere, an error event when the stream fails)",
    families=("messages",),
)
class Order(RuleBase):
    def __init__(self, ctx: CheckContext) -> None:
        super().__init__(ctx)
        self.started: int | None = None
        self.ended: tuple[int, str] | None = None
        self.events = 0
        self.reported: set[str] = set()

    def _once(self, key: str, failure: Failure) -> list[Failure]:
        if key in self.reported:
            return []
        self.reported.add(key)
        return [failure]

    def on_chunk(self, chunk: Chunk) -> Iterable[Failure]:
        kind = _type(chunk)
        if chunk.sentinel or kind is None or kind == PING:
            return ()
        self.events += 1
        out: list[Failure] = []
        if self.ended is not None:
            return self._once(
                "after",
                self.fail(
                    f"event {kind!r} after {self.ended[1]} (event {self.ended[0]}); nothing may "
                    "follow it",
                    chunk_index=chunk.index,
                    instance_path="/type",
                    value=kind,
                ),
            )
        if kind == START:
            if self.started is not None:
                out += self._once(
                    "twice",
                    self.fail(
                        f"a second message_start (the first was event {self.started}); a "
                        "stream is one message",
                        chunk_index=chunk.index,
                        instance_path="/type",
                        value=kind,
                    ),
                )
            else:
                self.started = chunk.index
        elif self.started is None and kind != ERROR:
            out += self._once(
                "first",
                self.fail(
                    f"the first event is {kind!r}, not message_start; clients learn the "
                    "message's id, model and input usage from it",
                    chunk_index=chunk.index,
                    instance_path="/type",
                    value=kind,
                ),
            )
        if kind in (STOP, ERROR):
            self.ended = (chunk.index, kind)
        return out

    def on_end(self) -> Iterator[Failure]:
        if not self.events:
            raise SkipCheck("the stream has no event")
        if self.ended is None:
            yield self.fail(
                "the stream ends without message_stop (or an error event); clients wait for it"
            )


@stream_rule(
    id="MESSAGES-BLOCKS-001",
    title="Content blocks open before their deltas, close once, their indexes in order",
    severity="MUST",
    category="stream",
    source="ANTSTREAM (each content block is a content_block_start, one or more "
    "content_block_delta and a content_block_stop, its index its place in the final "
    "content array)",
    families=("messages",),
)
class Blocks(RuleBase):
    def __init__(self, ctx: CheckContext) -> None:
        super().__init__(ctx)
        self.open: set[int] = set()
        self.closed: set[int] = set()
        self.next = 0
        self.judged = False

    def on_chunk(self, chunk: Chunk) -> Iterable[Failure]:
        payload = as_dict(chunk.payload)
        kind = payload.get("type")
        if kind in ("message_delta", STOP) and self.open:
            still = sorted(self.open)
            self.open.clear()
            return (
                self.fail(
                    f"{kind} while block(s) {still} are still open (no content_block_stop); "
                    "clients never finish them",
                    chunk_index=chunk.index,
                    instance_path="/type",
                    value=kind,
                ),
            )
        index = payload.get("index")
        if kind not in BLOCK_EVENTS or not is_int(index):
            return ()
        self.judged = True
        where = {"chunk_index": chunk.index, "instance_path": "/index", "value": index}
        if kind == "content_block_start":
            if index in self.open or index in self.closed:
                return (self.fail(f"block {index} is opened a second time", **where),)
            expected, self.next = self.next, max(self.next, index + 1)
            self.open.add(index)
            if index != expected:
                return (
                    self.fail(
                        f"block {index} opens where block {expected} was next; the index is "
                        "the block's place in the content array",
                        **where,
                    ),
                )
            return ()
        if index not in self.open:
            state = "was closed already" if index in self.closed else "was never opened"
            verb = "a delta of" if kind == "content_block_delta" else "content_block_stop for"
            return (self.fail(f"{verb} block {index}, which {state}", **where),)
        if kind == "content_block_stop":
            self.open.discard(index)
            self.closed.add(index)
        return ()

    def on_end(self) -> Iterator[Failure]:
        if not self.judged:
            raise SkipCheck("no content block event")
        if self.open:
            yield self.fail(f"the stream ends with block(s) {sorted(self.open)} still open")


def _counts(usage: Any) -> tuple[int | None, int | None]:
    usage = as_dict(usage)
    found = (usage.get("input_tokens"), usage.get("output_tokens"))
    return tuple(v if is_int(v) else None for v in found)  # type: ignore[return-value]


@stream_rule(
    id="MESSAGES-USAGE-001",
    title="message_delta's usage counts on from message_start's",
    severity="MUST",
    category="usage",
    source="ANTSTREAM (the usage of message_delta is cumulative); ANTMSG usage (input_tokens, "
    "output_tokens)",
    families=("messages",),
)
class Usage(RuleBase):
    def __init__(self, ctx: CheckContext) -> None:
        super().__init__(ctx)
        self.input: int | None = None
        self.output: tuple[int, int] | None = None  # (event, output_tokens so far)
        self.judged = False

    def on_chunk(self, chunk: Chunk) -> Iterable[Failure]:
        payload = as_dict(chunk.payload)
        kind = payload.get("type")
        if kind == START:
            self.input, output = _counts(as_dict(payload.get("message")).get("usage"))
            if output is not None:
                self.output = (chunk.index, output)
            return ()
        if kind != "message_delta":
            return ()
        given_input, output = _counts(payload.get("usage"))
        out: list[Failure] = []
        if output is not None:
            self.judged = True
            if self.output is not None and output < self.output[1]:
                out.append(
                    self.fail(
                        f"output_tokens goes down from {self.output[1]} (event "
                        f"{self.output[0]}) to {output}; message_delta's usage is cumulative",
                        chunk_index=chunk.index,
                        instance_path="/usage/output_tokens",
                        value=output,
                    )
                )
            self.output = (chunk.index, output)
        if given_input is not None and self.input is not None and given_input != self.input:
            self.judged = True
            out.append(
                self.fail(
                    f"input_tokens is {given_input} here but {self.input} in message_start; "
                    "the prompt does not change while the answer streams",
                    chunk_index=chunk.index,
                    instance_path="/usage/input_tokens",
                    value=given_input,
                )
            )
        return out

    def on_end(self) -> Iterator[Failure]:
        if not self.judged:
            raise SkipCheck("no message_delta carries usage")
        return iter(())
