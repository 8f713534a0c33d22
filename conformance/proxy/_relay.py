"""The relay: a plain ASGI app that forwards each request to the upstream and streams the
answer back as it arrives, keeping a copy for the checks.

The response goes back to the client byte for byte (still compressed if the upstream
compressed it), with the same status and headers but the hop-by-hop ones. The next upstream
read waits until the client took the last piece (ASGI ``send`` waits for the transport;
aiohttp stops reading the socket when 64 KiB wait unread), so a slow client slows the upstream
read and nothing piles up.

The upstream leg is aiohttp's client, not httpx (which the runner uses): a C parser under one
asyncio protocol per connection, where httpx goes through h11, httpcore and an anyio cancel
scope with a timer for every read. Measured in front of a paced upstream, the proxy spent half
the CPU a chunk (79 -> 29-41 us at a 2 ms pace) and its p99 added latency went under a millisecond
(benchmarks/RESULTS.md). One thing it cannot tell apart: an upstream that resets a body whose
end is the connection's close (no length, not chunked) looks like one that closed it, so the
client gets a clean end there; a chunked or sized body cut short reaches the client broken, as
it would directly.

Both of an exchange's waits, for the upstream's next bytes (``--timeout``) and for the client
to take the last piece (``--write-timeout``), are kept by one :class:`_Deadline` and its one
timer, not a timer a read and another a write (aiohttp's ``sock_read`` and an
``asyncio.timeout``: a timer made and cancelled twice a chunk, about 15 us of the proxy's CPU a
chunk at a model's pace).

A copy of the body, up to ``max_bytes``, is kept for the checks, which run when the exchange
ends, in a worker process (:class:`~conformance.proxy._judge.Judge`): they never delay a byte
to the client, and an error of theirs is counted, never raised into the client's answer.
Exchanges go to the worker in batches (at most ``JUDGE_BATCH_WAIT_S`` late): one hand-over per
batch.

What is kept never holds a secret: request headers are redacted when the request is made
(:class:`~conformance.exchange.Request`), and the key the client sent is scrubbed from the
kept copy of the answer.
"""

from __future__ import annotations

import asyncio
import time
import urllib.parse
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp

from ..exchange import Timings, scrub, url_secrets
from ..runner import Decoder, Transport
from ._http import (
    NOT_FORWARDED,
    Receive,
    Refusal,
    Scope,
    Send,
    client_secrets,
    content_length,
    disconnected,
    end_to_end,
    model_of,
    origin_path,
    plain,
    reason,
)

if TYPE_CHECKING:
    from ..contract import Operation
    from ._judge import Judge
    from ._observe import Observer
    from ._state import ProxyState
    from ._upstream import Upstream

__all__ = ["Relay", "RelayLimits"]

#: Exchanges are handed to the checks in batches, sent this long after the first of a batch
#: ended, or at once when a batch reaches ``JUDGE_BATCH_MAX``. One hand-over a batch (a pickle,
#: a wake-up of the executor's two threads, which take the proxy's GIL, and a result back)
#: instead of one an exchange: the proxy's CPU per request went from about 4 ms to 1.8 ms (1.5
#: with no checks at all; benchmarks/RESULTS.md), and that CPU delays the other streams' chunks.
JUDGE_BATCH_WAIT_S = 0.05
JUDGE_BATCH_MAX = 64
#: What an exchange weighs in the backlog beside its kept bytes (its Python objects: 5 KB in
#: all for a short stream whose bytes are 3 KB, measured with tracemalloc).
EXCHANGE_OVERHEAD = 3 * 1024
#: What happens to a request besides a judgement: its metrics event and the count of
#: :class:`ProxyState` (the report's) that it raises.
_COUNTED = {
    "abandoned": "abandoned",
    "upstream_error": "upstream_errors",
    "stalled": "stalled",
    "sampled_out": "sampled_out",
}


@dataclass(frozen=True, kw_only=True)
class RelayLimits:
    """The bounds of one relayed exchange, and of what waits for the checks."""

    #: the kept copy of an answer (decoded); beyond, forwarded and counted, not judged
    max_bytes: int
    #: the longest wait for a client to take the next piece of an answer
    write_timeout: float
    #: the largest request body (413)
    max_request_bytes: int
    #: the kept copies that may wait for the checks, in all
    max_backlog_bytes: int
    #: the fraction of the exchanges judged (all are forwarded), spread evenly
    sample: float = 1.0


@dataclass(kw_only=True)
class _Incoming:
    """A request read whole, and where it goes."""

    number: int
    method: str
    url: str
    path: str  # as the client wrote it, decoded, with its query
    headers: list[tuple[str, str]]
    body: bytes
    secrets: tuple[str, ...]
    operation: Operation | None
    started: float = field(default_factory=time.perf_counter)


@dataclass(kw_only=True)
class _Relayed:
    """What went back to the client, and the copy kept for the checks."""

    to_headers: float
    kept: list[bytes] = field(default_factory=list)
    truncated: bool = False
    first: float | None = None
    last: float | None = None
    gap: float = 0.0
    interrupted: str | None = None


class _Deadline:
    """The two waits of one exchange on one timer: for the upstream (its answer, then each of
    its next bytes: ``upstream_s``) and for the client to take a piece (``client_s``).

    Each piece only notes which side the exchange waits for, and since when (two attribute
    writes); the timer ticks at most every ``min(upstream_s, client_s)`` and, near the end of a
    wait, exactly at its deadline, so a wait that passes its limit is cut on time. Cutting
    cancels the exchange's task, as ``asyncio.timeout`` does; :meth:`caught` tells that
    cancellation from another (the server shutting down), which goes on up."""

    __slots__ = (
        *("_cancelling", "_handle", "_limits", "_loop", "_period", "_task", "_time"),
        *("expired", "since", "waiting"),
    )

    UPSTREAM = 0
    CLIENT = 1

    def __init__(self, *, upstream_s: float, client_s: float) -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None, "a deadline belongs to a task"
        self._loop, self._task, self._time = loop, task, loop.time
        self._limits = (upstream_s, client_s)
        self._period = min(upstream_s, client_s)
        self._cancelling = task.cancelling()  # as asyncio.timeout: counted at the start
        #: the side whose wait ran out (UPSTREAM or CLIENT); None while none did
        self.expired: int | None = None
        self.waiting = self.UPSTREAM
        self.since = loop.time()
        self._handle = loop.call_at(self.since + self._period, self._tick)

    def wait(self, side: int) -> None:
        """The exchange waits for ``side`` (UPSTREAM or CLIENT) from now on."""
        self.waiting = side
        self.since = self._time()

    def limit(self, side: int) -> float:
        return self._limits[side]

    def _tick(self) -> None:
        now = self._loop.time()
        due = self.since + self._limits[self.waiting]
        if now >= due:
            self.expired = self.waiting
            self._task.cancel()
            return
        self._handle = self._loop.call_at(min(now + self._period, due), self._tick)

    def caught(self) -> bool:
        """Whether the cancellation being handled is this deadline's (not to go further)."""
        if self.expired is None:
            return False
        return self._task.uncancel() <= self._cancelling

    def stop(self) -> None:
        self._handle.cancel()


class Relay:
    """The proxy's ASGI app. ``state``: what it saw (:class:`ProxyState`); ``judge``: the
    checks; ``match``: the certified operation of a request (None: forwarded, not judged)."""

    def __init__(
        self,
        *,
        state: ProxyState,
        judge: Judge,
        observer: Observer,
        upstream: Upstream,
        match: Callable[[str, str], Operation | None],
        limits: RelayLimits,
        transport: Transport,
        on_exit: Callable[[ProxyState], object] | None = None,
        judge_at_shutdown: float,
    ) -> None:
        self.state = state
        self.judge = judge
        self.observer = observer
        self.upstream = upstream
        self.match = match
        self.limits = limits
        self.transport = transport
        self.on_exit = on_exit
        self.judge_at_shutdown = judge_at_shutdown

    def _count(self, event: str) -> None:
        """One more ``event``: in the report's counts (under the state's lock) and the metrics."""
        state, name = self.state, _COUNTED[event]
        with state.lock:
            setattr(state, name, getattr(state, name) + 1)
        self.observer.event(event)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        state = self.state
        with state.lock:
            state.in_flight += 1
        try:
            await self._exchange(scope, receive, send)
        except asyncio.CancelledError:  # the server stopped with this exchange in flight
            with state.lock:
                state.cut_at_shutdown += 1
            raise
        finally:
            with state.lock:
                state.in_flight -= 1

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.judge.submit_queued()
                # the exchanges already read get judged, for a while: a backlog the checks
                # lag behind by must not keep the report from being written before the kill
                await self.judge.drain(self.judge_at_shutdown)
                await self.upstream.close()
                self.state.flush()
                if self.on_exit is not None:
                    self.on_exit(self.state)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _exchange(self, scope: Scope, receive: Receive, send: Send) -> None:
        incoming = await self._read(scope, receive, send)
        if incoming is None:
            return
        deadline = _Deadline(
            upstream_s=self.upstream.idle_timeout, client_s=self.limits.write_timeout
        )
        gone = asyncio.create_task(disconnected(receive))  # the client may leave at any time
        try:
            response = await self._ask(incoming, gone, send, deadline)
            if response is None:
                return
            try:
                relayed = await self._relay(incoming, response, gone, send, deadline)
            finally:
                response.release()  # closes the connection unless the answer was read whole
        finally:
            deadline.stop()
            gone.cancel()
        self._hand_over(incoming, response, relayed)

    async def _read(self, scope: Scope, receive: Receive, send: Send) -> _Incoming | None:
        """The request, read whole within ``max_request_bytes``; None when it was refused
        (answered 400 or 413 here: never sent upstream) or the client left."""
        raw_path = scope.get("raw_path") or scope["path"].encode()
        resolved = origin_path(raw_path)
        if isinstance(resolved, Refusal):  # never built into a URL, never sent upstream
            await plain(send, 400, f"conformance proxy: {resolved}".encode())
            return None
        query = (scope.get("query_string") or b"").decode("latin-1")
        url = self.upstream.url_of(resolved, query)
        if url is None:
            await plain(send, 400, b"conformance proxy: the request target is not a path")
            return None
        most = self.limits.max_request_bytes
        declared = content_length(scope["headers"])
        if declared is not None and declared > most:  # 413 before reading it
            await plain(send, 413, b"conformance proxy: request body too large")
            return None
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body += message.get("body", b"")
            if len(body) > most:
                await plain(send, 413, b"conformance proxy: request body too large")
                return None
            if not message.get("more_body"):
                break
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in end_to_end(scope["headers"], NOT_FORWARDED)
        ]
        path = urllib.parse.unquote(resolved, errors="replace")
        state = self.state
        with state.lock:
            state.forwarded += 1
            number = state.forwarded
        operation = self.match(scope["method"], path)
        if operation is None:
            with state.lock:
                state.unclassified += 1
        return _Incoming(
            number=number,
            method=scope["method"],
            url=url,
            path=path + (f"?{query}" if query else ""),
            headers=headers,
            body=bytes(body),
            secrets=client_secrets(headers, self.transport.auth_header)
            + url_secrets(query)
            + self.upstream.secrets,
            operation=operation,
        )

    async def _ask(
        self, incoming: _Incoming, gone: asyncio.Task[None], send: Send, deadline: _Deadline
    ) -> aiohttp.ClientResponse | None:
        """The upstream's answer (its headers); None when the client left first (counted) or
        the upstream failed or said nothing within ``--timeout`` (a 502 with words, always)."""
        asking = asyncio.ensure_future(
            self.upstream.request(incoming.method, incoming.url, incoming.headers, incoming.body)
        )
        answered = False
        try:
            await asyncio.wait((asking, gone), return_when=asyncio.FIRST_COMPLETED)
            if not asking.done():  # the client left before the upstream answered: so do we
                self._count("abandoned")
                return None
            response = asking.result()
            answered = True
            return response
        except asyncio.CancelledError:
            if not deadline.caught():  # the server is stopping
                raise
            said = (
                "conformance proxy: the upstream failed: no answer within "
                f"{deadline.limit(_Deadline.UPSTREAM):g} s (--timeout)"
            )
        except Exception as exc:  # aiohttp's, a bad URL: a 502 with words, always
            said = f"conformance proxy: the upstream failed: {reason(exc)}"
        finally:
            if not answered:  # no answer to forward (or the proxy is shutting down)
                asking.cancel()
        self._count("upstream_error")
        await plain(send, 502, scrub(said.encode(), incoming.secrets))
        return None

    async def _relay(
        self,
        incoming: _Incoming,
        response: aiohttp.ClientResponse,
        gone: asyncio.Task[None],
        send: Send,
        deadline: _Deadline,
    ) -> _Relayed:
        """Forward the answer as it arrives, keeping a decoded copy within ``max_bytes`` (a
        gzip bomb inflates no further; another encoding is forwarded, not judged)."""
        observe = self.observer
        out = _Relayed(to_headers=time.perf_counter() - incoming.started)
        observe.upstream_headers(
            incoming.operation.label if incoming.operation else None, out.to_headers
        )
        decoder = Decoder(response.headers.get("content-encoding", ""), self.limits.max_bytes)
        out.truncated = decoder.unsupported
        keep = incoming.operation is not None
        wait = deadline.wait
        try:
            wait(_Deadline.CLIENT)
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status,
                    "headers": end_to_end(response.raw_headers),
                }
            )
            wait(_Deadline.UPSTREAM)
            async for piece in response.content.iter_any():
                if gone.done():
                    # the client gave up: nothing to say of the server (counted, not judged)
                    out.interrupted = (
                        "the client went away before the end (the upstream read stopped)"
                    )
                    self._count("abandoned")
                    break
                wait(_Deadline.CLIENT)
                await send({"type": "http.response.body", "body": piece, "more_body": True})
                wait(_Deadline.UPSTREAM)
                if keep and not out.truncated:
                    self._keep(piece, decoder, incoming.started, out)
            else:
                wait(_Deadline.CLIENT)
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            self._count("upstream_error")
            out.interrupted = f"the upstream failed mid-body ({type(exc).__name__})"
        except asyncio.CancelledError:
            if not deadline.caught():  # the server is stopping
                raise
            self._cut(deadline, out)
        return out

    def _cut(self, deadline: _Deadline, out: _Relayed) -> None:
        """An exchange whose wait ran out: a client that took nothing for ``--write-timeout``
        (let go, and the upstream read with it), or an upstream silent for ``--timeout``."""
        limit = deadline.limit(deadline.expired or 0)
        if deadline.expired == _Deadline.CLIENT:
            self._count("stalled")
            out.interrupted = (
                f"the client took nothing for {limit:g} s (let go, and the upstream read with it)"
            )
            return
        self._count("upstream_error")
        out.interrupted = f"the upstream failed mid-body (nothing for {limit:g} s: --timeout)"

    @staticmethod
    def _keep(piece: bytes, decoder: Decoder, started: float, out: _Relayed) -> None:
        now = time.perf_counter() - started
        out.first = now if out.first is None else out.first
        out.gap = max(out.gap, now - out.last) if out.last is not None else out.gap
        out.last = now
        try:
            data, over = decoder.feed(piece)
        except zlib.error:
            out.truncated = True
            return
        if over:
            out.truncated = True
            return
        out.kept.append(data)

    def _hand_over(
        self, incoming: _Incoming, response: aiohttp.ClientResponse, relayed: _Relayed
    ) -> None:
        """Queue the exchange for the checks, unless it is not to be judged: another
        operation, abandoned by its client, or sampled out (``--sample``)."""
        state, operation, number = self.state, incoming.operation, incoming.number
        interrupted = relayed.interrupted
        if operation is None or (interrupted or "").startswith("the client went away"):
            return  # another operation, or abandoned by its client: counted, not judged
        sample = self.limits.sample
        if sample < 1 and int(number * sample) == int((number - 1) * sample):
            # --sample: forwarded, not judged (spread evenly, repeatable)
            self._count("sampled_out")
            return
        if relayed.truncated:
            with state.lock:
                state.truncated += 1
            interrupted = interrupted or (
                f"more than {self.limits.max_bytes} bytes, or not decodable: not kept"
            )
        parts: dict[str, Any] = dict(
            number=number,
            replica=state.replica,
            method=incoming.method,
            url=incoming.url,
            path=incoming.path,
            headers=incoming.headers,
            body=incoming.body,
            status=response.status,
            response_headers=tuple(
                (k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers
            ),
            kept=b"".join(relayed.kept),  # scrubbed of the secrets by the checks' process
            secrets=incoming.secrets,
            timings=Timings(
                to_headers=relayed.to_headers,
                to_first_event=relayed.first,
                max_event_gap=relayed.gap,
                total=time.perf_counter() - incoming.started,
            ),
            interrupted=interrupted,
            transport=self.transport,
        )
        weight = len(parts["kept"]) + len(incoming.body) + EXCHANGE_OVERHEAD
        model = model_of(incoming.body)  # never raises: the backlog is given back in all cases
        size = self.judge.enqueue(
            parts,
            (operation.method, operation.path),
            model,
            weight,
            self.limits.max_backlog_bytes,
        )
        if size >= JUDGE_BATCH_MAX:
            self.judge.submit_queued()
        elif size == 1:
            asyncio.get_running_loop().call_later(JUDGE_BATCH_WAIT_S, self.judge.submit_queued)
