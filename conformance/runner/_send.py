"""Sending one case with httpx and turning what came back into an :class:`Exchange`.

Nothing here can hang: the connection, the wait for the headers (first byte), every gap
between two reads of the body (idle) and the whole request (total) have limits, and so has the
body's size. A body cut by a limit is kept as far as it came, and the exchange says why
(``interrupted``), which ``HTTP-COMPLETE-001`` reports.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import email.utils
import functools
import http.cookiejar
import json
import os
import re
import shlex
import ssl
import time
import urllib.parse
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from .._errors import TargetUnreachable, UsageError
from .._util import is_sse_media_type
from ..contract import Contract, auth_header, header_values
from ..exchange import (
    REDACTED,
    Exchange,
    Request,
    Scrubber,
    Timings,
    build_exchange,
    header_secrets,
    redact_url,
    url_secrets,
)
from ..plan import Case

__all__ = [
    "API_KEY_VARIABLE",
    "Decoder",
    "Header",
    "Limits",
    "Transport",
    "curl_command",
    "join_url",
    "no_cookies",
    "parse_header",
    "send",
]

WRONG_KEY = "sk-conformance-wrong-key"
#: Why a probe's body was not read (``Exchange.cut``).
PROBE_CUT = (
    "the request is invalid and its verdict needs only the status: let go at the headers of "
    "the 2xx stream (a lenient server stops generating)"
)
API_KEY_VARIABLE = "CONFORMANCE_API_KEY"
#: Statuses worth another try, and the longest Retry-After we honour.
RETRY_STATUSES = (429, 503)
MAX_RETRY_AFTER = 30.0


class _StaleConnection(Exception):
    """The server closed the connection before any byte of a response: typically a pooled
    keep-alive connection it had just timed out (cpp-httplib closes idle ones after 5 s). The
    request was not answered, so it is sent again on a fresh connection."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Limits:
    """Time (seconds) and size (bytes) limits of one request; LLM-friendly defaults."""

    connect: float = 10.0
    first_byte: float = 120.0
    idle: float = 60.0
    total: float = 600.0
    max_bytes: int = 32 * 1024 * 1024
    retries: int = 2


@dataclass(frozen=True, kw_only=True, slots=True)
class Header:
    """A header sent with every request (``-H``). Its value is a secret: it is sent, never
    written; a replay command writes ``shown`` (the ``$VARIABLE`` it came from, or
    ``[REDACTED]``)."""

    name: str
    value: str = field(repr=False)
    shown: str = REDACTED


#: The headers the sender sets itself (a document's required header parameter of one of these
#: names is not sent: the body and its framing are the sender's).
_OWN_HEADERS = frozenset(
    {"content-type", "accept", "accept-encoding", "content-length", "host", "transfer-encoding"}
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Transport:
    """How requests reach the target: the header the key goes in (``Authorization: Bearer
    KEY``, or the bare key in another, such as Azure's ``api-key``; empty: the one the
    document's security scheme names, see :meth:`for_contract`), headers for every request,
    the header values the document asks for, a proxy, TLS verification (a CA bundle path, or
    off) and a client certificate."""

    auth_header: str = ""
    headers: tuple[Header, ...] = ()
    #: (name, value) of the header parameters the document requires (``anthropic-version``):
    #: public values, sent unless ``headers`` gives the same header, and shown in replays
    documented: tuple[tuple[str, str], ...] = ()
    proxy: str | None = None
    verify: bool | str = True
    client_cert: str | None = None

    def key_value(self, key: str) -> str:
        """What the auth header carries for ``key``."""
        return f"Bearer {key}" if self.auth_header.lower() in ("authorization", "") else key

    def for_contract(self, contract: Contract) -> Transport:
        """This transport as ``contract`` asks: the key in the header its security scheme
        names (unless ``auth_header`` says otherwise), and the values of the header
        parameters its certified operations require (unless ``headers`` gives them)."""
        auth = self.auth_header or auth_header(contract)
        given = {h.name.lower() for h in self.headers} | {auth.lower()} | _OWN_HEADERS
        documented: dict[str, tuple[str, str]] = {}
        for operation in contract.certified_operations():
            for name, value in header_values(contract, operation):
                if name.lower() not in given:
                    documented.setdefault(name.lower(), (name, value))
        return dataclasses.replace(self, auth_header=auth, documented=tuple(documented.values()))

    def client_options(self) -> dict[str, Any]:
        """The ``httpx.AsyncClient`` keyword arguments of this transport."""
        verify: Any = self.verify
        if verify is True:  # the default trust store: one context per process, not per run
            verify = _default_tls(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
        options: dict[str, Any] = {"verify": verify}
        if self.proxy:
            options["proxy"] = self.proxy
        if self.client_cert:
            options["cert"] = self.client_cert
        return options

    def secrets(self, api_key: str | None) -> tuple[str, ...]:
        """The values no report may hold: the key, every header value, and the parts of them
        that a header's policy names (a cookie's value, a credential without its scheme)."""
        values = (api_key, *(h.value for h in self.headers))
        named = header_secrets((h.name, h.value) for h in self.headers)
        return tuple(dict.fromkeys(s.strip() for s in (*values, *named) if s and s.strip()))


@functools.lru_cache(maxsize=4)
def _default_tls(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    """httpx's default TLS context (certifi's CAs, or ``SSL_CERT_FILE``/``SSL_CERT_DIR``,
    the arguments, which key the cache), made once: loading the CA bundle costs about 30 ms
    of CPU, which every run paid again, an ``http://`` one too. A context is safe to share."""
    return httpx.create_ssl_context()


#: Generated text or a tool call in a body (JSON or SSE): a non-empty ``content``,
#: ``reasoning_content`` or ``text`` string, or a ``tool_calls`` list with an item.
_CONTENT = re.compile(
    rb'"(?:content|reasoning_content|text|delta)"\s*:\s*"(?!")|"tool_calls"\s*:\s*\[\s*\{'
)
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)\}")


def parse_header(text: str, environ: Mapping[str, str]) -> Header:
    """A ``-H 'Name: value'`` option as a :class:`Header`; ``$VAR`` and ``${VAR}`` in the value
    are read from ``environ`` (so a secret stays out of shell history and replay commands).
    :class:`UsageError` naming the header, never its value, when it is malformed or a variable
    is unset."""
    name, colon, value = text.partition(":")
    name, value = name.strip(), value.strip()
    if not colon or not _TOKEN.fullmatch(name):
        # the text may be a secret: it is not repeated
        raise UsageError(
            "-H/--header: a header is written 'Name: value' (e.g. 'api-key: $KEY'), the name "
            "without spaces; one given is not"
        )

    def expand(match: re.Match[str]) -> str:
        variable = match[1] or match[2]
        if variable not in environ:
            raise UsageError(f"-H/--header {name!r}: the variable ${variable} is not set")
        return environ[variable]

    return Header(
        name=name,
        value=_VARIABLE.sub(expand, value),
        shown=value if _VARIABLE.search(value) else REDACTED,
    )


def no_cookies() -> http.cookiejar.CookieJar:
    """A cookie jar that keeps nothing, for an ``httpx.AsyncClient``: every request stands
    alone. A session cookie a server set would otherwise go with every later case (a request
    "without a key" authenticated by it) or, in the proxy, with other clients' requests."""
    return http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


def join_url(base_url: str, path: str) -> str:
    """``path`` (which may carry its own query) under ``base_url``, the base URL's query kept
    (``?api-version=...`` goes on every request, after the path, not inside it, before the
    path's own query)."""
    split = httpx.URL(base_url)
    path, _, own = path.partition("?")
    joined = split.copy_with(raw_path=split.raw_path.split(b"?")[0].rstrip(b"/") + path.encode())
    query = b"&".join(q for q in (split.query, own.encode()) if q)
    return str(joined.copy_with(query=query or None))


class Decoder:
    """Content-Encoding decoding that never produces more than ``limit`` bytes in all, however
    small the compressed input (httpx's decoders inflate a gzip bomb in one call)."""

    def __init__(self, encoding: str, limit: int) -> None:
        self.limit = limit
        self.produced = 0
        encoding = encoding.strip().lower()
        self.unsupported = encoding not in {"", "identity", "gzip", "x-gzip", "deflate"}
        self.inflate: Any = None
        if encoding in {"gzip", "x-gzip"}:
            self.inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self.inflate = zlib.decompressobj(zlib.MAX_WBITS)

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """Decoded bytes, and whether the limit was passed."""
        if self.inflate is None:
            self.produced += len(data)
            return data, self.produced > self.limit
        room = self.limit - self.produced + 1
        out = self.inflate.decompress(data, room)
        self.produced += len(out)
        return out, self.produced > self.limit or bool(self.inflate.unconsumed_tail)


def _headers(case: Case, api_key: str | None, transport: Transport) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "Accept-Encoding": "gzip, deflate",  # encodings we can decode within the size limit
    }
    for name, value in transport.documented:
        headers[name] = value
    for header in transport.headers:
        headers[header.name] = header.value
    auth = transport.auth_header or "Authorization"
    if case.auth == "valid" and api_key:
        headers[auth] = transport.key_value(api_key)
    elif case.auth == "wrong":
        headers[auth] = transport.key_value(WRONG_KEY)
    return headers


def _without_userinfo(url: str) -> tuple[str, str | None]:
    """The URL without its user information, and that as Basic credentials (None without).
    httpx turns a URL's credentials into an ``Authorization: Basic`` that replaces the one
    the request carries: ``--base-url https://user:pw@host`` with ``--api-key`` never sent
    the key. They are sent as Basic only when no Authorization header is (as the proxy does
    with ``--upstream``'s)."""
    parsed = httpx.URL(url)
    if not parsed.userinfo:
        return url, None
    user, _, password = parsed.userinfo.decode("ascii").partition(":")
    pair = f"{urllib.parse.unquote(user)}:{urllib.parse.unquote(password)}"
    basic = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
    return str(parsed.copy_with(username=None, password=None)), basic


def _recorded(headers: dict[str, str], transport: Transport) -> dict[str, str]:
    """``headers`` as a report may show them: the key's header and every ``-H`` value
    redacted (whatever their names; known secret names are redacted by Request.create)."""
    hidden = {h.name.lower() for h in transport.headers}
    if transport.auth_header.lower() not in ("authorization", ""):
        hidden.add(transport.auth_header.lower())
    return {k: REDACTED if k.lower() in hidden else v for k, v in headers.items()}


def _payload(case: Case) -> bytes:
    if case.raw is not None:
        return case.raw
    return b"" if case.body is None else json.dumps(case.body).encode()


def curl_command(case: Case, url: str, transport: Transport = Transport()) -> str:
    """A shell command that replays ``case``; the key is ``$CONFORMANCE_API_KEY`` and every
    other header value the ``$VARIABLE`` it came from (or ``[REDACTED]``), never a value."""
    parts = ["curl", "-sS"]
    if case.stream:
        parts.append("-N")
    parts += [
        "-X",
        case.method,
        shlex.quote(redact_url(url)),
        "-H",
        shlex.quote("Content-Type: application/json"),
    ]
    for name, value in transport.documented:
        parts += ["-H", shlex.quote(f"{name}: {value}")]
    for header in transport.headers:
        parts += ["-H", _shown(f"{header.name}: {header.shown}")]
    auth = transport.auth_header or "Authorization"
    if case.auth == "valid":
        key = transport.key_value(f"${API_KEY_VARIABLE}")
        parts += ["-H", f'"{auth}: {key}"']
    elif case.auth == "wrong":
        parts += ["-H", shlex.quote(f"{auth}: {transport.key_value(WRONG_KEY)}")]
    payload = _payload(case)
    if payload:
        parts += ["--data-binary", shlex.quote(payload.decode("utf-8", errors="replace"))]
    return " ".join(parts)


def _shown(text: str) -> str:
    """``text`` quoted for a shell, its ``$VARIABLE`` s left for the shell to expand."""
    if "$" not in text:
        return shlex.quote(text)
    return '"' + "".join(c if c not in '"\\`' else "\\" + c for c in text) + '"'


def _retry_after(response: httpx.Response, attempt: int) -> float:
    value = response.headers.get("retry-after")
    if value:
        try:
            return min(max(float(value), 0.0), MAX_RETRY_AFTER)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value).timestamp()
                return min(max(when - time.time(), 0.0), MAX_RETRY_AFTER)
            except (TypeError, ValueError):
                pass
    return min(2.0**attempt, MAX_RETRY_AFTER)


async def send(
    client: httpx.AsyncClient,
    case: Case,
    *,
    base_url: str,
    api_key: str | None,
    limits: Limits = Limits(),
    on_request: Any = None,
    transport: Transport = Transport(),
) -> Exchange:
    """Send ``case`` (retrying 429/503 as ``Retry-After`` says, ``limits.retries`` times) and
    read the answer within ``limits``. ``on_request`` is called before each attempt (budgets).
    ``transport`` says which headers carry the key and what else goes with every request (the
    client's proxy and TLS settings are the caller's: :meth:`Transport.client_options`)."""
    url = join_url(base_url, case.target)
    for attempt in range(limits.retries + 1):
        if on_request is not None:
            on_request()
        try:
            exchange, wait = await _attempt(client, case, url, api_key, limits, attempt, transport)
        except _StaleConnection as exc:
            if attempt == limits.retries:
                raise TargetUnreachable(
                    f"{redact_url(url)}: the connection failed before a response ({exc}), {attempt + 1} "
                    "times, on fresh connections too"
                ) from None
            continue  # a pooled keep-alive connection the server had already closed
        if wait is None or attempt == limits.retries:
            return exchange
        await asyncio.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(kw_only=True)
class _Reading:
    """What one attempt has read so far; the request's timings are seconds from ``start``."""

    start: float
    status: int | None = None
    headers: tuple[tuple[str, str], ...] = ()
    parts: list[bytes] = field(default_factory=list)
    to_headers: float | None = None
    first_event: float | None = None
    max_gap: float | None = None
    first_content: float | None = None
    tail: bytes = b""  # the end of the last part, for a marker split across two reads
    last: float = 0.0
    interrupted: str | None = None
    retry: float | None = None  # seconds to wait before sending again (429, 503)

    def arrived(self) -> None:
        now = time.perf_counter() - self.start
        if self.first_event is None:
            self.first_event = now
        gap = now - self.last
        self.max_gap = gap if self.max_gap is None or gap > self.max_gap else self.max_gap
        self.last = now


async def _attempt(
    client: httpx.AsyncClient,
    case: Case,
    url: str,
    api_key: str | None,
    limits: Limits,
    attempt: int,
    transport: Transport,
) -> tuple[Exchange, float | None]:
    """Send ``case`` once and read the answer within ``limits``: an exchange (cut short, and
    saying why, when a limit was hit mid-body), and how long to wait before a retry."""
    headers = _headers(case, api_key, transport)
    request = Request.create(
        method=case.method, url=url, headers=_recorded(headers, transport), body=case.body
    )
    url, basic = _without_userinfo(url)
    if basic is not None and not any(k.lower() == "authorization" for k in headers):
        headers["Authorization"] = basic
    timeout = httpx.Timeout(limits.first_byte, connect=limits.connect)
    reading = _Reading(start=time.perf_counter())
    try:
        async with (
            asyncio.timeout(limits.total),
            client.stream(
                case.method, url, content=_payload(case), headers=headers, timeout=timeout
            ) as response,
        ):
            reading.status = response.status_code
            reading.headers = tuple(response.headers.multi_items())
            reading.to_headers = reading.last = time.perf_counter() - reading.start
            if reading.status in RETRY_STATUSES:
                reading.retry = _retry_after(response, attempt)
            if (
                case.probe
                and 200 <= reading.status < 300
                and is_sse_media_type(response.headers.get("content-type", ""))
            ):
                # a negative needs only its status: a server that accepted it is let go at
                # once (closing a stream stops its generation), not read for minutes
                exchange = _exchange(case, url, request, reading, api_key, transport)
                return dataclasses.replace(exchange, cut=PROBE_CUT), None
            try:
                await _read_body(response, reading, limits)
            except (httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError) as exc:
                reading.interrupted = (
                    f"the connection failed mid-body ({type(exc).__name__}: {exc})"
                )
    except TimeoutError:
        if reading.status is None:
            raise TargetUnreachable(
                f"{redact_url(url)}: no response within {limits.total:g} s"
            ) from None
        reading.interrupted = _over_total(limits)
    except httpx.TimeoutException as exc:
        what = "connect" if isinstance(exc, httpx.ConnectTimeout) else "first byte"
        raise TargetUnreachable(
            f"{redact_url(url)}: timed out waiting to {what} ({type(exc).__name__})"
        ) from None
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
        if reading.status is None:
            # The connection failed before any byte of a response: a reused connection the
            # server had closed (uvicorn closes one after a 500). Not the server's answer.
            raise _StaleConnection(_describe(exc)) from None
        raise TargetUnreachable(f"{redact_url(url)}: {_describe(exc)}") from None
    except httpx.HTTPError as exc:
        raise TargetUnreachable(f"{redact_url(url)}: {_describe(exc)}") from None
    return _exchange(case, url, request, reading, api_key, transport), reading.retry


def _describe(exc: BaseException) -> str:
    """An exception as ``Type: message`` (many httpx errors have an empty message)."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _over_total(limits: Limits) -> str:
    return f"the request took longer than {limits.total:g} s (the total limit)"


async def _read_body(response: httpx.Response, reading: _Reading, limits: Limits) -> None:
    """Read and decode the body into ``reading.parts`` until it ends or a limit is hit (then
    ``reading.interrupted`` says which)."""
    decoder = Decoder(response.headers.get("content-encoding", ""), limits.max_bytes)
    if decoder.unsupported:
        reading.interrupted = (
            f"the body has Content-Encoding {response.headers['content-encoding']!r}, "
            "which was not asked for (Accept-Encoding: gzip, deflate)"
        )
        return
    chunks = response.aiter_raw()
    deadline = reading.start + limits.total
    while True:
        # One timeout per read, and the total deadline checked by hand: asyncio.wait_for can
        # swallow the outer cancellation when data keeps arriving (an endless stream).
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            reading.interrupted = _over_total(limits)
            return
        wait = min(limits.idle, remaining)
        try:
            async with asyncio.timeout(wait):
                part = await anext(chunks)
        except StopAsyncIteration:
            return
        except TimeoutError:
            reading.interrupted = (
                f"nothing arrived for {limits.idle:g} s (the idle limit)"
                if wait == limits.idle
                else _over_total(limits)
            )
            return
        reading.arrived()
        try:
            decoded, over = decoder.feed(part)
        except zlib.error as exc:
            reading.interrupted = f"the body could not be decoded ({exc})"
            return
        reading.parts.append(decoded)
        if reading.first_content is None:
            if _CONTENT.search(reading.tail + decoded):
                reading.first_content = reading.last
            reading.tail = decoded[-64:]
        if over:
            reading.interrupted = f"the body exceeded {limits.max_bytes} bytes (the size limit)"
            return


def _exchange(
    case: Case,
    url: str,
    request: Request,
    reading: _Reading,
    api_key: str | None,
    transport: Transport,
) -> Exchange:
    status = reading.status
    assert status is not None
    timings = Timings(
        to_headers=reading.to_headers,
        to_first_event=reading.first_event,
        to_first_content=reading.first_content,
        max_event_gap=reading.max_gap,
        total=time.perf_counter() - reading.start,
    )
    return build_exchange(
        id=case.name,
        request=request,
        status=status,
        headers=reading.headers,
        body=b"".join(reading.parts),
        asked_stream=case.stream,
        scrubber=Scrubber(transport.secrets(api_key) + url_secrets(url)),
        timings=timings,
        expectation=case.expectation,
        case=case.name,
        interrupted=reading.interrupted,
        reproduce=curl_command(case, url, transport),
        violations=case.violations,
    )
