"""Rules of a stream that no schema can state: its framing (terminated, UTF-8, ``[DONE]``,
JSON payloads, errors in band). The chat chunks' order and constancy are in ``_stream_rules``.

Each rule keeps only what it needs (a few values per choice index), never the chunks.
Each rule's ``source`` cites ids of docs/sources.md (DS25, WHATWG, D2#N bugs, captures).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ._base import CheckContext, Chunk, Failure, RuleBase, SkipCheck, stream_rule

__all__: list[str] = []


@stream_rule(
    id="STREAM-FRAMING-001",
    families=None,
    title="The stream's last event is terminated by a blank line",
    severity="MUST",
    source="WHATWG §9.2.6 (an unterminated final event is discarded)",
)
class Terminated(RuleBase):
    def on_end(self) -> Iterator[Failure]:
        framing = self.ctx.framing
        if framing is not None and framing.unterminated_tail is not None:
            yield self.fail(
                "the stream ends inside an event (no blank line after it), so a client discards "
                "it; end every event with an empty line",
                value=framing.unterminated_tail,
            )


@stream_rule(
    id="STREAM-FRAMING-002",
    families=None,
    title="The stream is valid UTF-8",
    severity="MUST",
    source="WHATWG §9.2.5 (event streams must be encoded as UTF-8)",
)
class Utf8(RuleBase):
    def on_end(self) -> Iterator[Failure]:
        framing = self.ctx.framing
        if framing is not None and framing.invalid_utf8_offsets:
            offsets = framing.invalid_utf8_offsets
            yield self.fail(
                f"{len(offsets)} line(s) are not valid UTF-8 (first at byte {offsets[0]}); "
                "clients see U+FFFD or fail",
                value=offsets[:10],
            )


@stream_rule(
    id="STREAM-DONE-001",
    families=None,
    title="data: [DONE] comes exactly once, last",
    severity="MUST",
    source="DS25 (the stream ends with data: [DONE]); D2#1, D2#19",
    requires_sentinel=True,
)
class Done(RuleBase):
    def __init__(self, ctx: CheckContext) -> None:
        super().__init__(ctx)
        stream = ctx.variant.stream if ctx.variant else None
        if stream is None:  # an undocumented status: the operation's documented stream says
            stream = next(
                (v.stream for vs in ctx.operation.responses.values() for v in vs if v.stream),
                None,
            )
        if stream is not None and not stream.sentinels:
            raise SkipCheck(f"{ctx.operation.label} streams end without a sentinel")
        self.done_at: int | None = None
        self.after_done = 0

    def on_chunk(self, chunk: Chunk) -> Iterable[Failure]:
        if self.done_at is None and not chunk.sentinel:
            return ()  # the hot path
        out: list[Failure] = []
        if self.done_at is not None:
            self.after_done += 1
            if self.after_done == 1:
                what = "another [DONE]" if chunk.sentinel else "an event"
                out.append(
                    self.fail(
                        f"{what} after data: [DONE] (which came as event {self.done_at}); "
                        "[DONE] must be the last event",
                        chunk_index=chunk.index,
                        value=chunk.data,
                    )
                )
        elif chunk.sentinel:
            self.done_at = chunk.index
        return out

    def on_end(self) -> Iterator[Failure]:
        if self.done_at is not None:
            return
        framing = self.ctx.framing
        tail = framing.unterminated_tail if framing else None
        if tail and "[DONE]" in tail:
            message = (
                "the stream ends with 'data: [DONE]' but no blank line after it, so it is never "
                "dispatched; end it with 'data: [DONE]\\n\\n'"
            )
        else:
            message = "the stream ended without data: [DONE]; clients wait for it or hang"
        yield self.fail(message)


@stream_rule(
    id="STREAM-JSON-001",
    families=None,
    title="Every event other than the sentinel carries a JSON object",
    severity="MUST",
    source="DS25 (each data: is a chat completion chunk object); RFC8259 (no NaN or Infinity)",
)
class JsonPayload(RuleBase):
    def __init__(self, ctx: CheckContext) -> None:
        super().__init__(ctx)
        self.events = 0

    def on_chunk(self, chunk: Chunk) -> Iterable[Failure]:
        if chunk.sentinel:
            return ()
        self.events += 1
        if type(chunk.payload) is dict:
            return ()  # the hot path
        out: list[Failure] = []
        if chunk.json_error is not None:
            out.append(
                self.fail(
                    f"data is not JSON: {chunk.json_error}",
                    chunk_index=chunk.index,
                    value=chunk.data,
                )
            )
        elif not isinstance(chunk.payload, dict):
            out.append(
                self.fail(
                    f"data is JSON but not an object ({type(chunk.payload).__name__})",
                    chunk_index=chunk.index,
                    value=chunk.payload,
                )
            )
        return out

    def on_end(self) -> Iterator[Failure]:
        if not self.events:
            raise SkipCheck("the stream has no event besides the sentinel")
        return iter(())


@stream_rule(
    id="STREAM-ERROR-001",
    families=None,
    title="No in-band error object inside a 200 stream, unless the document has one",
    severity="MUST",
    source="DSERR (errors are HTTP statuses); D2#2; ANTSTREAM (an error event is part of a "
    "Messages stream)",
)
class InBandError(RuleBase):
    only_if = '"error"'

    def __init__(self, ctx: CheckContext) -> None:
        super().__init__(ctx)
        if not 200 <= ctx.exchange.response.status < 300:
            raise SkipCheck("the stream is not a success response")
        self.stream = ctx.variant.stream if ctx.variant else None

    def documented(self, chunk: Chunk) -> bool:
        """Whether the document's schema for this event names an ``error`` and takes this one
        (Anthropic's ``error`` event is a documented way for a stream to fail; a chat chunk
        with an ``error`` is not, nor is any object under a schema that says nothing)."""
        schema = self.stream.data_schema_for(chunk.event) if self.stream else None
        contract = self.ctx.contract
        return (
            schema is not None
            and contract.names_property(schema, "error")
            and contract.is_valid(schema, chunk.payload)
        )

    def on_chunk(self, chunk: Chunk) -> Iterator[Failure]:
        if isinstance(chunk.payload, dict) and "error" in chunk.payload:
            if self.documented(chunk):
                return
            yield self.fail(
                "an error object arrived inside a successful stream; send an error status with "
                "the error envelope instead (clients treat a 200 stream as a completion)",
                chunk_index=chunk.index,
                instance_path="/error",
                value=chunk.payload["error"],
            )
