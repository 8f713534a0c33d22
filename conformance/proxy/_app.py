"""The validating proxy, a plain ASGI app (run by uvicorn, like the reference server).

Every request is forwarded to the upstream; the response goes back to the client as it
arrives, byte for byte (still compressed if the upstream compressed it), with the same status
and headers but the hop-by-hop ones. The next upstream read waits until the client took the
last piece (ASGI ``send`` waits for the transport; aiohttp stops reading the socket when 64 KiB
wait unread), so a slow client slows the upstream read and nothing piles up.

The upstream leg is aiohttp's client, not httpx (which the runner uses): a C parser under one
asyncio protocol per connection, where httpx goes through h11, httpcore and an anyio cancel
scope with a timer for every read. Measured in front of a paced upstream, the proxy spent half
the CPU a chunk (79 -> 29-41 us at a 2 ms pace) and its p99 added latency went under a millisecond
(benchmarks/RESULTS.md). One thing it cannot tell apart: an upstream that resets a body whose
end is the connection's close (no length, not chunked) looks like one that closed it, so the
client gets a clean end there; a chunked or sized body cut short reaches the client broken, as
it would directly.

A copy of the body, up to ``max_bytes``, is kept for the checks, which run when the exchange
ends, in a worker process: they never delay a byte to the client, and an error of theirs is
counted, never raised into the client's answer. Exchanges go to the worker in batches (at most
``JUDGE_BATCH_WAIT_S`` late): one hand-over per batch.

What is kept never holds a secret: request headers are redacted when the request is made
(:class:`~conformance.exchange.Request`), and the key the client sent is scrubbed from the
kept copy of the answer.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import re
import time
import urllib.parse
import urllib.request
import zlib
from collections.abc import Awaitable, Callable, Collection, Iterable, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import yarl

from .._errors import UsageError
from .._serving import uvicorn_options
from ..exchange import (
    Timings,
    header_secrets,
    scrub,
    url_secrets,
)
from ..runner import Decoder, Transport
from ._judge import Judge
from ._observe import Observer
from ._state import _REPLICA, JUDGE_AT_SHUTDOWN_S, ProxyState

if TYPE_CHECKING:
    from ..contract import Contract, Operation

__all__ = ["UVICORN_OPTIONS", "ProxyState", "create_proxy_app"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: RFC 9110 section 7.6.1: connection-specific fields a proxy does not forward.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
#: How uvicorn must serve the proxy: by default it adds its own ``Server`` and ``Date`` headers
#: to every answer, beside the upstream's (a client saw both twice); and the proxy needs no
#: X-Forwarded-* handling nor an access log line per request.
#: Served with the guarded protocol (:mod:`conformance._serving`): origin-form request targets
#: only, bounded request heads, a deadline for them, and a cap on connections.
UVICORN_OPTIONS: dict[str, Any] = {
    "server_header": False,
    "date_header": False,
    "proxy_headers": False,
    "access_log": False,
    **uvicorn_options(),
}
#: The headers aiohttp adds to a request that lacks them; the upstream gets the client's only
#: (an ``Accept-Encoding: gzip`` the client never sent made the upstream compress its answer).
CLIENT_DEFAULT_HEADERS = frozenset({"Accept", "Accept-Encoding", "User-Agent", "Content-Type"})
#: The largest request body forwarded (a chat request is a few KB; 413 beyond, before it is
#: read when its Content-Length says so).
MAX_REQUEST_BYTES = 16 * 1024 * 1024
#: The longest wait for the upstream's next bytes (headers or body), as ``run``'s idle limit:
#: a hung upstream stream is let go, and reported, within a minute.
UPSTREAM_IDLE_S = 60.0
#: The longest wait for a client to take the next piece of an answer: a client that stops
#: reading is let go, and the upstream connection with it.
CLIENT_WRITE_TIMEOUT_S = 60.0
#: Request headers never forwarded: hop-by-hop ones, ``Host`` (the upstream's own is sent)
#: and ``Expect`` (the proxy has read the whole body before it forwards; an upstream that never
#: answers ``100 Continue`` hung the request).
NOT_FORWARDED = frozenset({"host", "content-length", "expect"})
#: Exchanges are handed to the checks in batches, sent this long after the first of a batch
#: ended, or at once when a batch reaches ``JUDGE_BATCH_MAX``. One hand-over a batch (a pickle,
#: a wake-up of the executor's two threads, which take the proxy's GIL, and a result back)
#: instead of one an exchange: the proxy's CPU per request went from about 4 ms to 1.8 ms (1.5
#: with no checks at all; benchmarks/RESULTS.md), and that CPU delays the other streams' chunks.
JUDGE_BATCH_WAIT_S = 0.05
JUDGE_BATCH_MAX = 64
#: The memory the exchanges waiting for the checks may take, in all (bytes): when the checks
#: fall behind the traffic, an exchange beyond this is forwarded as ever but not judged, and
#: counted, so the proxy's memory stays bounded however long the checks lag. An exchange
#: weighs its kept bytes plus ``EXCHANGE_OVERHEAD`` (what its Python objects take beside
#: them: 5 KB in all for a short stream whose bytes are 3 KB, measured with tracemalloc).
MAX_BACKLOG_BYTES = 64 * 1024 * 1024
EXCHANGE_OVERHEAD = 3 * 1024


def _matcher(operations: tuple[Operation, ...]) -> Callable[[str, str], Operation | None]:
    """The operation a request is for: its method, and a path that ends with the operation's
    template (``/v1/chat/completions`` is ``/chat/completions``), the longest template first."""
    compiled = []
    for op in sorted(operations, key=lambda o: len(o.path), reverse=True):
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(op.path))
        compiled.append((op.method.upper(), re.compile(f"(?:/.*)?{pattern}/?"), op))

    def match(method: str, path: str) -> Operation | None:
        for wanted, pattern, op in compiled:
            if wanted == method and pattern.fullmatch(path):
                return op
        return None

    return match


def create_proxy_app(
    *,
    contract: Contract,
    upstream: str,
    report_dir: str | Path | None = None,
    flush_every: int = 0,
    auth_header: str = "Authorization",
    max_bytes: int = 8 * 1024 * 1024,
    timeout: float = UPSTREAM_IDLE_S,
    write_timeout: float = CLIENT_WRITE_TIMEOUT_S,
    max_request_bytes: int = MAX_REQUEST_BYTES,
    max_backlog_bytes: int = MAX_BACKLOG_BYTES,
    on_exit: Callable[[ProxyState], object] | None = None,
    judge_in: str = "process",
    observer: Observer | None = None,
    sample: float = 1.0,
    replica: str | None = None,
    judge_at_shutdown: float = JUDGE_AT_SHUTDOWN_S,
) -> Any:
    """The proxy of ``upstream`` for ``contract``'s certified operations. Its ``state``
    attribute is the :class:`ProxyState`; serve it with :data:`UVICORN_OPTIONS` (or the client
    gets uvicorn's own ``Server`` and ``Date`` headers too). The report is written at shutdown
    (uvicorn's, on SIGINT or SIGTERM; ``on_exit`` is called then) and every ``flush_every``
    checked exchanges (those by the checks' process, off the proxy's GIL). ``judge_in``: ``process`` (a worker process with its own copy of the
    contract: the checks never hold the proxy's GIL, so they add no latency to a chunk) or
    ``thread``. ``max_backlog_bytes``: the kept copies that may wait for the checks; beyond,
    exchanges are forwarded but not judged (counted in the report's notes). ``timeout``: the
    longest wait for the upstream's next bytes; ``write_timeout``: for a client to take the
    next piece (then both are let go); ``max_request_bytes``: the largest request body (413).
    Requests whose target is not a path, or whose path climbs above the upstream's base path
    (``/../x``), get a 400 and never reach the upstream. ``observer``: metrics and a log line
    per failing exchange (:class:`~conformance.proxy._observe.Observer`); ``sample``: the
    fraction of the exchanges judged (all are forwarded), spread evenly; ``replica``: the
    proxy's name, the prefix of its exchange ids (default: host name and pid);
    ``judge_at_shutdown``: how long the exchanges read whole may wait for the checks at
    shutdown (those still waiting then are counted as not judged). The upstream is reached through the proxy
    ``HTTPS_PROXY``/``HTTP_PROXY`` name unless ``NO_PROXY`` covers it.

    The worker is *spawned*, so, as with any spawned process, a script that calls this must
    guard its entry point (``if __name__ == "__main__":``): the worker imports the script's
    main module, and would run an unguarded script again."""
    state = ProxyState(
        contract=contract,
        upstream=upstream.rstrip("/"),
        report_dir=Path(report_dir) if report_dir is not None else None,
        flush_every=flush_every,
        sample=sample,
    )
    if replica is not None:
        if not _REPLICA.fullmatch(replica):
            raise UsageError(f"--replica {replica!r}: use 1 to 64 letters, digits, '.', '_' or '-'")
        state.replica = replica
    observe = observer if observer is not None else Observer()
    match = _matcher(contract.certified_operations())
    via = _env_proxy(state.upstream)  # HTTP(S)_PROXY and NO_PROXY, as httpx and curl read them
    # a key in --upstream's query, or a password in it or in the proxy's URL, found once
    upstream_secrets = url_secrets(state.upstream) + (url_secrets(via) if via else ())
    transport = Transport(auth_header=auth_header)
    # the upstream's scheme, authority and base path, once: a request adds only its path
    origin = urllib.parse.urlsplit(state.upstream)
    base_path, base_query = origin.path.rstrip("/"), origin.query
    upstream_host = yarl.URL(state.upstream, encoded=True)
    # --upstream's user information is sent as Basic credentials when the client sent none
    # (aiohttp refuses a URL's credentials beside an Authorization header: every request was a
    # 502), never in the URL
    userinfo, _, bare_netloc = origin.netloc.rpartition("@")
    wire_prefix = (f"{origin.scheme}://{origin.netloc}", f"{origin.scheme}://{bare_netloc}")
    basic = None
    if userinfo:
        user, _, password = userinfo.partition(":")
        pair = f"{urllib.parse.unquote(user)}:{urllib.parse.unquote(password)}"
        basic = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")

    def upstream_url(path: str, query: str) -> str | None:
        """The upstream URL of a request for ``path`` (origin-form, dot-segments resolved):
        built from ``--upstream``'s parts, so its scheme, host and port are never the
        client's to choose; None if it would reach another authority all the same."""
        joined = "&".join(q for q in (base_query, query) if q)
        url = f"{origin.scheme}://{origin.netloc}{base_path}{path}" + (
            f"?{joined}" if joined else ""
        )
        built = yarl.URL(url, encoded=True)
        if (built.scheme, built.raw_host, built.port, built.raw_user) != (
            upstream_host.scheme,
            upstream_host.raw_host,
            upstream_host.port,
            upstream_host.raw_user,
        ):
            return None
        return url

    judge = Judge(
        contract=contract, state=state, observer=observe, in_process=judge_in == "process"
    )
    shared: dict[str, aiohttp.ClientSession] = {}

    def upstream_client() -> aiohttp.ClientSession:
        if "client" not in shared:
            shared["client"] = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=60),
                timeout=aiohttp.ClientTimeout(total=None, connect=30.0, sock_read=timeout),
                # no cookie jar: a cookie the upstream sets for one client went with every
                # other client's requests (each client's own Cookie header is forwarded as is)
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                # not trust_env: aiohttp would then add ~/.netrc credentials the client never
                # sent (and read the file on every request); the environment's proxy is taken
                # below, once
                trust_env=False,
            )
        return shared["client"]

    async def lifespan(receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                judge.submit_queued()
                # the exchanges already read get judged, for a while: a backlog the checks
                # lag behind by must not keep the report from being written before the kill
                await judge.drain(judge_at_shutdown)
                if "client" in shared:
                    await shared["client"].close()
                state.flush()
                if on_exit is not None:
                    on_exit(state)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        with state.lock:
            state.in_flight += 1
        try:
            await _proxy(scope, receive, send)
        except asyncio.CancelledError:  # the server stopped with this exchange in flight
            with state.lock:
                state.cut_at_shutdown += 1
            raise
        finally:
            with state.lock:
                state.in_flight -= 1

    async def _proxy(scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        raw_path = scope.get("raw_path") or scope["path"].encode()
        resolved = _origin_path(raw_path)
        if isinstance(resolved, _Refusal):  # never built into a URL, never sent upstream
            await _plain(send, 400, f"conformance proxy: {resolved}".encode())
            return
        path_text = urllib.parse.unquote(resolved, errors="replace")
        query = scope.get("query_string") or b""
        url = upstream_url(resolved, query.decode("latin-1"))
        if url is None:
            await _plain(send, 400, b"conformance proxy: the request target is not a path")
            return
        declared = _content_length(scope["headers"])
        if declared is not None and declared > max_request_bytes:  # 413 before reading it
            await _plain(send, 413, b"conformance proxy: request body too large")
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > max_request_bytes:
                await _plain(send, 413, b"conformance proxy: request body too large")
                return
            if not message.get("more_body"):
                break
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in _end_to_end(scope["headers"], NOT_FORWARDED)
        ]
        secrets = (
            _secrets(headers, auth_header) + url_secrets(query.decode("latin-1")) + upstream_secrets
        )
        with state.lock:
            state.forwarded += 1
            number = state.forwarded
        operation = match(method, path_text)
        if operation is None:
            with state.lock:
                state.unclassified += 1
        started = time.perf_counter()
        sent_names = {name.lower() for name, _ in headers}
        wire_headers = headers
        if basic is not None and "authorization" not in sent_names:
            wire_headers = [*headers, ("Authorization", basic)]
        gone = asyncio.create_task(_disconnected(receive))  # the client may leave at any time
        asking = asyncio.ensure_future(
            upstream_client().request(
                method,
                yarl.URL(url.replace(*wire_prefix, 1), encoded=True),
                headers=wire_headers,
                # a large body as a stream (aiohttp warns that bytes over 1 MiB hold the loop)
                data=(io.BytesIO(body) if len(body) > 1024 * 1024 else bytes(body))
                if body
                else None,
                allow_redirects=False,
                # the client's headers only, none of aiohttp's defaults
                skip_auto_headers=[
                    h for h in CLIENT_DEFAULT_HEADERS if h.lower() not in sent_names
                ],
                proxy=via,
            )
        )
        answered = False
        try:
            await asyncio.wait((asking, gone), return_when=asyncio.FIRST_COMPLETED)
            if not asking.done():  # the client left before the upstream answered: so do we
                with state.lock:
                    state.abandoned += 1
                observe.event("abandoned")
                return
            response = asking.result()
            answered = True
        except Exception as exc:  # aiohttp's, a timeout, a bad URL: a 502 with words, always
            with state.lock:
                state.upstream_errors += 1
            observe.event("upstream_error")
            said = scrub(
                f"conformance proxy: the upstream failed: {_reason(exc)}".encode(), secrets
            )
            await _plain(send, 502, said)
            return
        finally:
            if not answered:  # no answer to forward (or the proxy is shutting down)
                asking.cancel()
                gone.cancel()
        to_headers = time.perf_counter() - started
        observe.upstream_headers(operation.label if operation else None, to_headers)
        kept: list[bytes] = []
        # the kept copy, decoded (gzip, deflate) within max_bytes however small the input (a
        # gzip bomb inflates no further); another encoding is forwarded, not judged
        decoder = Decoder(response.headers.get("content-encoding", ""), max_bytes)
        truncated = decoder.unsupported
        first = last = None
        gap = 0.0
        interrupted: str | None = None
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status,
                    "headers": _end_to_end(response.raw_headers),
                }
            )
            async for piece in response.content.iter_any():
                if gone.done():
                    # the client gave up: nothing to say of the server (counted, not judged)
                    interrupted = "the client went away before the end (the upstream read stopped)"
                    with state.lock:
                        state.abandoned += 1
                    observe.event("abandoned")
                    break
                try:
                    await asyncio.wait_for(
                        send({"type": "http.response.body", "body": piece, "more_body": True}),
                        write_timeout,
                    )
                except TimeoutError:
                    with state.lock:
                        state.stalled += 1
                    observe.event("stalled")
                    interrupted = (
                        f"the client took nothing for {write_timeout:g} s (let go, and the "
                        "upstream read with it)"
                    )
                    break
                if operation is None or truncated:
                    continue
                now = time.perf_counter() - started
                first = now if first is None else first
                gap = max(gap, now - last) if last is not None else gap
                last = now
                try:
                    data, over = decoder.feed(piece)
                except zlib.error:
                    truncated = True
                    continue
                if over:
                    truncated = True
                    continue
                kept.append(data)
            else:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            with state.lock:
                state.upstream_errors += 1
            observe.event("upstream_error")
            interrupted = f"the upstream failed mid-body ({type(exc).__name__})"
        finally:
            gone.cancel()
            response.release()
        if operation is None or (interrupted or "").startswith("the client went away"):
            return  # another operation, or abandoned by its client: counted, not judged
        if sample < 1 and int(number * sample) == int((number - 1) * sample):
            with state.lock:  # --sample: forwarded, not judged (spread evenly, repeatable)
                state.sampled_out += 1
            observe.event("sampled_out")
            return
        if truncated:
            with state.lock:
                state.truncated += 1
            interrupted = interrupted or f"more than {max_bytes} bytes, or not decodable: not kept"
        parts = dict(
            number=number,
            replica=state.replica,
            method=method,
            url=url,
            path=path_text + ("?" + query.decode("latin-1") if query else ""),
            headers=headers,
            body=bytes(body),
            status=response.status,
            response_headers=tuple(
                (k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers
            ),
            kept=b"".join(kept),  # scrubbed of the secrets by the checks' process
            secrets=secrets,
            timings=Timings(
                to_headers=to_headers,
                to_first_event=first,
                max_event_gap=gap,
                total=time.perf_counter() - started,
            ),
            interrupted=interrupted,
            transport=transport,
        )
        weight = len(parts["kept"]) + len(body) + EXCHANGE_OVERHEAD
        model = _model_of(bytes(body))  # never raises: the backlog is given back in all cases
        size = judge.enqueue(
            parts, (operation.method, operation.path), model, weight, max_backlog_bytes
        )
        if size >= JUDGE_BATCH_MAX:
            judge.submit_queued()
        elif size == 1:
            asyncio.get_running_loop().call_later(JUDGE_BATCH_WAIT_S, judge.submit_queued)

    app.state = state  # type: ignore[attr-defined]
    return app


async def _disconnected(receive: Receive) -> None:
    """Returns when the client has gone (ASGI ``http.disconnect``)."""
    while (await receive())["type"] != "http.disconnect":
        pass


def _origin_path(raw_path: bytes) -> str:
    """``raw_path`` with its dot-segments resolved (RFC 3986 section 5.2.4; ``%2e`` is a dot),
    as the client encoded it; or, as a ``str`` subclass :class:`_Refusal`, why it is refused:
    not origin-form (``*``, ``*@host``, ``http://host/x``), a path that climbs above the root
    (``/../admin``: the upstream's base path would be left), or an encoded slash or a backslash
    (``..%2f``: the upstream may decode it into one more segment)."""
    path = raw_path.decode("latin-1")
    if not path.startswith("/"):
        return _Refusal("the request target must be a path (origin-form, /...)")
    lowered = path.lower()
    if "%2f" in lowered or "%5c" in lowered or "\\" in path:
        return _Refusal("an encoded slash or a backslash in the path is refused")
    out: list[str] = []
    segments = path.split("/")[1:]
    for i, segment in enumerate(segments):
        dots = segment.lower().replace("%2e", ".")
        last = i == len(segments) - 1
        if dots == ".":
            if last:
                out.append("")
        elif dots == "..":
            if not out:
                return _Refusal("the path climbs above the root ('..'): refused")
            out.pop()
            if last:
                out.append("")
        else:
            out.append(segment)
    return "/" + "/".join(out)


class _Refusal(str):
    """Why a request target is refused (a ``str``, told apart from a path by its type)."""


def _content_length(headers: Iterable[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _end_to_end(
    headers: Iterable[tuple[bytes, bytes]], also: Collection[str] = ()
) -> list[tuple[bytes, bytes]]:
    """``headers`` without the hop-by-hop ones: the fixed list, those the ``Connection``
    header names (RFC 9110 section 7.6.1), and ``also``."""
    items = list(headers)
    named = {
        token.strip().lower()
        for k, v in items
        if k.lower() == b"connection"
        for token in v.decode("latin-1").split(",")
    }
    drop = HOP_BY_HOP | named | set(also)
    return [(k, v) for k, v in items if k.decode("latin-1").lower() not in drop]


def _reason(exc: BaseException) -> str:
    """What went wrong with the upstream, on one line of 300 characters at most (aiohttp's
    protocol errors carry a status 400 of their own, not the upstream's: left out)."""
    text = exc.message if isinstance(exc, aiohttp.ClientResponseError) else str(exc)
    text = " ".join(text.split()) or f"{type(exc).__name__} (no answer in time)"
    return text if len(text) <= 300 else text[:297] + "..."


def _env_proxy(upstream: str) -> str | None:
    """The proxy the environment names for ``upstream`` (``HTTPS_PROXY``/``HTTP_PROXY``, unless
    ``NO_PROXY`` covers its host), or None."""
    parts = urllib.parse.urlsplit(upstream)
    if urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return urllib.request.getproxies_environment().get(parts.scheme)


def _model_of(body: bytes) -> str | None:
    try:
        model = json.loads(body).get("model") if body else None
    except (ValueError, AttributeError, RecursionError):  # any body: deep nesting too
        return None
    return model if isinstance(model, str) else None


def _secrets(headers: list[tuple[str, str]], auth_header: str) -> tuple[str, ...]:
    """The secrets a client sent: every header the policy names (:func:`header_secrets`), and
    the ``auth_header`` whatever its name."""
    named = [(n, v) for n, v in headers if n.lower() == auth_header.lower()]
    return header_secrets(headers) + tuple(
        s for s in header_secrets(("authorization", v) for _, v in named) if s
    )


async def _plain(send: Send, status: int, text: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": text})
