"""Sending one case with httpx and turning what came back into an :class:`Exchange`."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass

import httpx

from .._errors import ConformanceError
from ..exchange import EventSource, Exchange, Request, Response, Timings
from ._cases import Case

__all__ = ["Limits", "TargetUnreachable", "send"]

WRONG_KEY = "sk-conformance-wrong-key"


class TargetUnreachable(ConformanceError):
    """The target could not be reached at all (no response): DNS, connection, TLS."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Limits:
    """Time and size limits of one request (seconds, bytes); LLM-friendly defaults."""

    connect: float = 10.0
    first_byte: float = 60.0
    idle: float = 30.0  # the longest gap between two reads of the body
    total: float = 300.0
    max_bytes: int = 32 * 1024 * 1024


async def send(
    client: httpx.AsyncClient,
    case: Case,
    *,
    base_url: str,
    api_key: str | None,
    limits: Limits = Limits(),
) -> Exchange:
    """Send ``case`` and read the whole answer within ``limits``; a body cut by a limit is
    kept as far as it came (the checks then see a truncated stream)."""
    url = base_url.rstrip("/") + case.path
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    if case.auth == "valid" and api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    elif case.auth == "wrong":
        headers["Authorization"] = f"Bearer {WRONG_KEY}"
    content = case.raw if case.raw is not None else json.dumps(case.body).encode()
    request = Request.create(method=case.method, url=url, headers=headers, body=case.body)
    timeout = httpx.Timeout(limits.idle, connect=limits.connect, read=limits.first_byte)
    start = time.perf_counter()
    parts: list[bytes] = []
    status: int | None = None
    response_headers: tuple[tuple[str, str], ...] = ()
    to_headers = first_event = max_gap = None
    try:
        async with asyncio.timeout(limits.total):
            async with client.stream(
                case.method, url, content=content, headers=headers, timeout=timeout
            ) as response:
                status = response.status_code
                response_headers = tuple(response.headers.multi_items())
                to_headers = last = time.perf_counter() - start
                size = 0
                try:
                    async for part in response.aiter_bytes():
                        now = time.perf_counter() - start
                        if first_event is None:
                            first_event = now
                        gap = now - last
                        max_gap = gap if max_gap is None or gap > max_gap else max_gap
                        last = now
                        size += len(part)
                        parts.append(part)
                        if size > limits.max_bytes:
                            break
                except (httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError):
                    pass  # keep what came; the checks see the truncated body
    except TimeoutError:
        if status is None:
            raise TargetUnreachable(f"{url}: no response within {limits.total} s") from None
    except httpx.TimeoutException as exc:
        raise TargetUnreachable(
            f"{url}: timed out before a response ({type(exc).__name__})"
        ) from None
    except httpx.HTTPError as exc:
        raise TargetUnreachable(f"{url}: {exc or type(exc).__name__}") from None
    assert status is not None
    timings = Timings(
        to_headers=to_headers,
        to_first_event=first_event,
        max_event_gap=max_gap,
        total=time.perf_counter() - start,
    )
    content_type = dict((k.lower(), v) for k, v in response_headers).get("content-type", "")
    # What the request asked for decides how a success is read (a stream served with the wrong
    # Content-Type is still a stream, and HTTP-CONTENT-TYPE-001 says so); an error is a body.
    is_sse = content_type.split(";")[0].strip().lower() == "text/event-stream"
    streamed = is_sse or (case.stream and 200 <= status < 300)
    body = b"".join(parts)
    result = Response(
        status=status,
        headers=response_headers,
        body=None if streamed else body,
        events=EventSource([body]) if streamed else None,
    )
    return Exchange(
        id=case.name,
        request=request,
        response=result,
        timings=timings,
        expectation=case.expectation,
        case=case.name,
    )
