"""Rules of streams of named events (the ``responses`` family: OpenAI's Responses API; the
event-name rule judges Anthropic's ``messages`` too).

Each event's ``data`` is one of the document's event schemas (checked by
STREAM-CHUNK-SCHEMA-001); what a schema cannot say is how the events follow each other: the
first announces the response, one terminal event ends it, the sequence numbers count up, and
the ``event:`` field names the event the data is.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from .._util import is_int
from ._base import CheckContext, Chunk, Failure, RuleBase, SkipCheck, as_dict, stream_rule

#: The events that end a response stream (OAIRS).
TERMINAL = ("response.completed", "response.failed", "response.incomplete")
FIRST = "response.created"


def _type(chunk: Chunk) -> str | None:
    value = as_dict(chunk.payload).get("type")
    return value if isinstance(value, str) else None


@stream_rule(
    id="RESPONSES-ORDER-001",
    title="A response stream opens with response.created and ends with one terminal event",
    severity="MUST",
    category="stream",
    source="OAIRS (response.created first, then response.completed, response.failed or "
    "response.incomplete last)",
    families=("responses",),
)
class Order(RuleBase):
    def __init__(self, ctx: CheckContext) -> None:
        super().__init__(ctx)
        self.first: tuple[int, str | None] | None = None
        self.ended_at: int | None = None
        self.reported_after = False

    def on_chunk(self, chunk: Chunk) -> Iterable[Failure]:
        if chunk.sentinel:
            return ()
        kind = _type(chunk)
        out: list[Failure] = []
        if self.first is None:
            self.first = (chunk.index, kind)
            if kind != FIRST:
                out.append(
                    self.fail(
                        f"the first event is {kind!r}, not {FIRST!r}; clients learn the "
                        "response's id from it",
                        chunk_index=chunk.index,
                        instance_path="/type",
                        value=kind,
                    )
                )
        elif self.ended_at is not None and not self.reported_after:
            self.reported_after = True
            out.append(
                self.fail(
                    f"event {kind!r} after the terminal event (event {self.ended_at}); nothing "
                    "may follow it",
                    chunk_index=chunk.index,
                    instance_path="/type",
                    value=kind,
                )
            )
        if kind in TERMINAL and self.ended_at is None:
            self.ended_at = chunk.index
        return out

    def on_end(self) -> Iterator[Failure]:
        if self.first is None:
            raise SkipCheck("the stream has no event")
        if self.ended_at is None:
            yield self.fail(f"the stream ends without {', '.join(TERMINAL)}; clients wait for it")


@stream_rule(
    id="RESPONSES-SEQUENCE-001",
    title="Event sequence numbers increase",
    severity="MUST",
    category="stream",
    source="OAIRS (every event carries its sequence_number, in order)",
    families=("responses",),
)
class Sequence(RuleBase):
    def __init__(self, ctx: CheckContext) -> None:
        super().__init__(ctx)
        self.last: tuple[int, int] | None = None
        self.seen = False

    def on_chunk(self, chunk: Chunk) -> Iterable[Failure]:
        number = as_dict(chunk.payload).get("sequence_number")
        if not is_int(number):
            return ()
        self.seen = True
        previous, self.last = self.last, (chunk.index, number)
        if previous is not None and number <= previous[1]:
            return (
                self.fail(
                    f"sequence_number {number} does not follow {previous[1]} (event "
                    f"{previous[0]}); clients order and deduplicate events by it",
                    chunk_index=chunk.index,
                    instance_path="/sequence_number",
                    value=number,
                ),
            )
        return ()

    def on_end(self) -> Iterator[Failure]:
        if not self.seen:
            raise SkipCheck("no event carries a sequence_number")
        return iter(())


@stream_rule(
    id="RESPONSES-EVENT-001",
    title="Each event's name is the type of its data",
    severity="SHOULD",
    category="stream",
    source="OAIRS (event: response.output_text.delta carries data of that type); ANTSTREAM "
    "(event: message_start carries data of type message_start)",
    families=("responses", "messages"),
)
class EventName(RuleBase):
    def __init__(self, ctx: CheckContext) -> None:
        super().__init__(ctx)
        self.judged = False

    def on_chunk(self, chunk: Chunk) -> Iterable[Failure]:
        kind = _type(chunk)
        if chunk.sentinel or kind is None:
            return ()
        self.judged = True
        if chunk.event != kind:
            return (
                self.fail(
                    f"the event is named {chunk.event!r} but its data is a {kind!r}; clients "
                    "that listen by name miss it",
                    chunk_index=chunk.index,
                    value=chunk.event,
                ),
            )
        return ()

    def on_end(self) -> Iterator[Failure]:
        if not self.judged:
            raise SkipCheck("no event data carries a type")
        return iter(())


@stream_rule(
    id="RESPONSES-DELTA-001",
    title="The text deltas add up to the text the done event gives",
    severity="MUST",
    category="stream",
    source="OAIRS (response.output_text.delta carries a part of the text, "
    "response.output_text.done the whole of it)",
    families=("responses",),
)
class Deltas(RuleBase):
    only_if = "output_text"

    def __init__(self, ctx: CheckContext) -> None:
        super().__init__(ctx)
        self.parts: dict[tuple[object, object, object], list[str]] = {}
        self.judged = False

    def on_chunk(self, chunk: Chunk) -> Iterable[Failure]:
        payload = as_dict(chunk.payload)
        kind = payload.get("type")
        key = (payload.get("item_id"), payload.get("output_index"), payload.get("content_index"))
        if kind == "response.output_text.delta" and isinstance(payload.get("delta"), str):
            self.parts.setdefault(key, []).append(payload["delta"])
        elif kind == "response.output_text.done" and isinstance(payload.get("text"), str):
            self.judged = True
            streamed = "".join(self.parts.pop(key, []))
            if streamed != payload["text"]:
                return (
                    self.fail(
                        f"the deltas of item {key[0]!r} add up to {streamed[:80]!r}, but "
                        f"response.output_text.done says {payload['text'][:80]!r}; a client "
                        "shows one and stores the other",
                        chunk_index=chunk.index,
                        instance_path="/text",
                        value=payload["text"],
                    ),
                )
        return ()

    def on_end(self) -> Iterator[Failure]:
        if not self.judged:
            raise SkipCheck("no response.output_text.done event")
        return iter(())
