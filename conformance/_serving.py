"""uvicorn's httptools protocol, guarded: what one client can make a server hold is bounded.

uvicorn itself bounds none of this with httptools (its h11 protocol only caps an incomplete
event): a request head that never ends is buffered whole (256 MiB sent, 242 MiB held), a
connection that never sends a byte is kept for ever (1,100 of them exhausted the file
descriptors), and the request target is reduced to its path, so an absolute-form target
(``GET http://elsewhere/x``) cannot be told from an origin-form one by the app. Hand-written
because no library does this for uvicorn: a subclass of its protocol, given as
``uvicorn.Config(http=...)`` (:func:`uvicorn_options`), the rest of uvicorn unchanged.

- **Request target**: origin-form only (``/...``; RFC 9112 section 3.2.1). ``*``, ``*@host``,
  absolute-form (``http://host/x``), authority-form and ``CONNECT`` get a 400 and the
  connection is closed: the app never sees them, so a proxy never builds a URL from them.
- **Request head**: at most ``max_header_bytes`` bytes and ``max_headers`` fields (431 beyond),
  complete within ``header_timeout`` seconds of its first byte or of the connection's start
  (408, then closed: slow headers and connections that never speak).
- **Connections**: at most ``max_connections``. One more evicts the connection that has waited
  longest for a request head (idle, slow or silent); when every connection is busy with a
  request, the new one gets a 503 and is closed. A client that behaves is not starved by many
  that hold connections open and say nothing (slowloris).

This module imports nothing from the package (a leaf): the reference server, the mock and the
proxy all serve with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
from dataclasses import dataclass
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["GuardedHttpToolsProtocol", "ServeLimits", "guarded_protocol", "uvicorn_options"]


@dataclass(frozen=True, kw_only=True)
class ServeLimits:
    """What one client may make a server hold (the defaults are the flags' defaults)."""

    #: The request line and header fields together, in bytes (431 beyond). 64 KiB: 8x what
    #: browsers and SDKs send, the order of nginx's 4 x 8 KiB and h11's 16 KiB.
    max_header_bytes: int = 64 * 1024
    #: Header fields in one request (431 beyond); nginx and Go allow about 100.
    max_headers: int = 100
    #: Seconds for a request head to arrive whole, from its first byte or the connection's
    #: start (408 then).
    header_timeout: float = 10.0
    #: Open client connections; 0 picks :func:`default_max_connections`.
    max_connections: int = 0


def default_max_connections() -> int:
    """512, or fewer when the open-file limit is low: each client connection may hold an
    upstream connection too, and the server needs descriptors of its own."""
    try:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (OSError, ValueError):  # pragma: no cover - every POSIX system has it
        return 512
    if soft == resource.RLIM_INFINITY:
        return 512
    return max(16, min(512, (soft - 64) // 2))


_STATUS = {
    400: b"400 Bad Request",
    408: b"408 Request Timeout",
    431: b"431 Request Header Fields Too Large",
    503: b"503 Service Unavailable",
}


class _Refused(Exception):
    """Raised inside a parser callback to stop parsing a request that was refused."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with ``limits`` (see the module's docstring); a subclass
    made by :func:`guarded_protocol` sets them."""

    limits: ServeLimits = ServeLimits()
    max_connections: int = 0
    _refused = False
    _head_bytes = 0
    _in_head = True  # waiting for (the rest of) a request head
    _waiting_since = 0.0
    _head_timer: asyncio.TimerHandle | None = None
    _field_count = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._wait_for_head()
        if len(self.connections) > self.max_connections and not self._evict_one():
            self._refuse(503, "too many connections; try again later")

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        super().connection_lost(exc)

    def _wait_for_head(self) -> None:
        self._in_head, self._head_bytes, self._field_count = True, 0, 0
        self._waiting_since = self.loop.time()
        self._stop_timer()
        self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_too_slow)

    def _stop_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self._in_head and not self._busy():
            self._refuse(408, f"no complete request head within {self.limits.header_timeout:g} s")

    def _busy(self) -> bool:
        """A request of this connection is being answered."""
        return self.cycle is not None and not self.cycle.response_complete

    def _evict_one(self) -> bool:
        """Close the connection that has waited longest for a request head; False when
        every other one is busy answering a request."""
        idle = [
            c
            for c in self.connections
            if c is not self
            and isinstance(c, GuardedHttpToolsProtocol)
            and c._in_head
            and not c._busy()
            and not c._refused
        ]
        if not idle:
            return False
        oldest = min(idle, key=lambda c: c._waiting_since)
        oldest._refused = True
        oldest._stop_timer()
        oldest.transport.close()
        return True

    def _refuse(self, status: int, text: str) -> None:
        """Answer ``status`` with ``text`` and close the connection; nothing more is read."""
        self._refused = True
        self._stop_timer()
        body = text.encode("ascii", "replace") + b"\n"
        with contextlib.suppress(Exception):  # the peer may be gone already
            self.transport.write(
                b"HTTP/1.1 " + _STATUS[status] + b"\r\n"
                b"content-type: text/plain; charset=utf-8\r\n"
                b"content-length: " + str(len(body)).encode() + b"\r\n"
                b"connection: close\r\n\r\n" + body
            )
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        self._unset_keepalive_if_required()
        if self._in_head:
            self._head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if not isinstance(exc.__context__, _Refused):
                self._refuse(400, "invalid HTTP request")
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():  # pragma: no cover - no websocket app is served
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError:
            self._refuse(400, "invalid HTTP request")
            return
        if self._in_head and self._head_bytes > self.limits.max_header_bytes:
            self._refuse(
                431, f"the request head is over {self.limits.max_header_bytes} bytes; refused"
            )

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._in_head:  # a request pipelined behind the last one
            self._wait_for_head()

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > self.limits.max_header_bytes:
            self._refuse(431, "the request target is too long; refused")
            raise _Refused

    def on_header(self, name: bytes, value: bytes) -> None:
        self._field_count += 1
        if self._field_count > self.limits.max_headers:
            self._refuse(431, f"more than {self.limits.max_headers} header fields; refused")
            raise _Refused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._stop_timer()
        method = self.parser.get_method()
        if method == b"CONNECT" or not self.url.startswith(b"/"):
            self._refuse(
                400,
                "the request target must be a path (origin-form, /...): absolute-form, "
                "authority-form, '*' and CONNECT are refused",
            )
            raise _Refused
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self._refused and self.transport is not None and not self.pipeline:
            self._wait_for_head()


def guarded_protocol(limits: ServeLimits) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol with ``limits`` (see the module's docstring)."""
    return type(
        "GuardedHttpToolsProtocol",
        (GuardedHttpToolsProtocol,),
        {
            "limits": limits,
            "max_connections": limits.max_connections or default_max_connections(),
        },
    )


def uvicorn_options(limits: ServeLimits | None = None) -> dict[str, Any]:
    """``uvicorn.Config`` settings that serve an app with :func:`guarded_protocol`."""
    return {"http": guarded_protocol(limits or ServeLimits())}
