"""The proxy's HTTP plumbing, free of state: what a request target may be, which headers
go on, the operation a request is for, the secrets a client sent, a plain answer."""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable, Collection, Iterable, MutableMapping
from typing import TYPE_CHECKING, Any

import aiohttp

from ..exchange import header_secrets

if TYPE_CHECKING:
    from ..contract import Operation

__all__ = [
    "CLIENT_DEFAULT_HEADERS",
    "HOP_BY_HOP",
    "NOT_FORWARDED",
    "Receive",
    "Refusal",
    "Scope",
    "Send",
    "client_secrets",
    "content_length",
    "disconnected",
    "end_to_end",
    "env_proxy",
    "matcher",
    "model_of",
    "origin_path",
    "plain",
    "reason",
]

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
#: Request headers never forwarded: hop-by-hop ones, ``Host`` (the upstream's own is sent)
#: and ``Expect`` (the proxy has read the whole body before it forwards; an upstream that never
#: answers ``100 Continue`` hung the request).
NOT_FORWARDED = frozenset({"host", "content-length", "expect"})
#: The headers aiohttp adds to a request that lacks them; the upstream gets the client's only
#: (an ``Accept-Encoding: gzip`` the client never sent made the upstream compress its answer).
CLIENT_DEFAULT_HEADERS = frozenset({"Accept", "Accept-Encoding", "User-Agent", "Content-Type"})


def matcher(operations: tuple[Operation, ...]) -> Callable[[str, str], Operation | None]:
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


async def disconnected(receive: Receive) -> None:
    """Returns when the client has gone (ASGI ``http.disconnect``)."""
    while (await receive())["type"] != "http.disconnect":
        pass


def origin_path(raw_path: bytes) -> str:
    """``raw_path`` with its dot-segments resolved (RFC 3986 section 5.2.4; ``%2e`` is a dot),
    as the client encoded it; or, as a ``str`` subclass :class:`Refusal`, why it is refused:
    not origin-form (``*``, ``*@host``, ``http://host/x``), a path that climbs above the root
    (``/../admin``: the upstream's base path would be left), or an encoded slash or a backslash
    (``..%2f``: the upstream may decode it into one more segment)."""
    path = raw_path.decode("latin-1")
    if not path.startswith("/"):
        return Refusal("the request target must be a path (origin-form, /...)")
    lowered = path.lower()
    if "%2f" in lowered or "%5c" in lowered or "\\" in path:
        return Refusal("an encoded slash or a backslash in the path is refused")
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
                return Refusal("the path climbs above the root ('..'): refused")
            out.pop()
            if last:
                out.append("")
        else:
            out.append(segment)
    return "/" + "/".join(out)


class Refusal(str):
    """Why a request target is refused (a ``str``, told apart from a path by its type)."""


def content_length(headers: Iterable[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def end_to_end(
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


def reason(exc: BaseException) -> str:
    """What went wrong with the upstream, on one line of 300 characters at most (aiohttp's
    protocol errors carry a status 400 of their own, not the upstream's: left out)."""
    text = exc.message if isinstance(exc, aiohttp.ClientResponseError) else str(exc)
    text = " ".join(text.split()) or f"{type(exc).__name__} (no answer in time)"
    return text if len(text) <= 300 else text[:297] + "..."


def env_proxy(upstream: str) -> str | None:
    """The proxy the environment names for ``upstream`` (``HTTPS_PROXY``/``HTTP_PROXY``, unless
    ``NO_PROXY`` covers its host), or None."""
    parts = urllib.parse.urlsplit(upstream)
    if urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return urllib.request.getproxies_environment().get(parts.scheme)


def model_of(body: bytes) -> str | None:
    try:
        model = json.loads(body).get("model") if body else None
    except (ValueError, AttributeError, RecursionError):  # any body: deep nesting too
        return None
    return model if isinstance(model, str) else None


def client_secrets(headers: list[tuple[str, str]], auth_header: str) -> tuple[str, ...]:
    """The secrets a client sent: every header the policy names (:func:`header_secrets`), and
    the ``auth_header`` whatever its name."""
    named = [(n, v) for n, v in headers if n.lower() == auth_header.lower()]
    return header_secrets(headers) + tuple(
        s for s in header_secrets(("authorization", v) for _, v in named) if s
    )


async def plain(send: Send, status: int, text: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": text})
