"""The one way the bytes of an answer become an :class:`Exchange`: for ``run``, ``validate``
and the proxy alike, so that the same bytes are always judged the same way.

Before there was one, ``run`` read a 2xx answer to ``stream: true`` served with the wrong
Content-Type as a stream (and HTTP-CONTENT-TYPE-001 failed it), while the proxy read the same
bytes as a JSON body (and BODY-JSON-001 failed it instead).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .._util import is_sse_media_type
from ._model import EventSource, Exchange, Request, Response
from ._secrets import Scrubber

__all__ = ["build_exchange", "reads_as_stream"]


def reads_as_stream(
    *, status: int, headers: Sequence[tuple[str, str]] | None, asked_stream: bool
) -> bool:
    """Whether an answer is read as an event stream: it says so (its Content-Type), or it is
    a success and the request asked for a stream (a stream served with the wrong Content-Type
    is still a stream: HTTP-CONTENT-TYPE-001 judges the header). An error is a body."""
    content_type = next((v for k, v in headers or () if k.lower() == "content-type"), "")
    return is_sse_media_type(content_type) or (asked_stream and 200 <= status < 300)


def build_exchange(
    *,
    id: str,
    request: Request | None,
    status: int,
    headers: Sequence[tuple[str, str]] | None,
    body: bytes | Iterable[bytes],
    asked_stream: bool,
    scrubber: Scrubber | None = None,
    **context: Any,
) -> Exchange:
    """The exchange of ``request`` and the answer ``status``, ``headers``, ``body`` (bytes, or
    blocks read as they come: a recorded stream of any length); ``headers`` None: the recording
    kept none (a bare body file). ``asked_stream``: whether the
    request asked for a stream (the operation's selector). ``scrubber`` takes the client's
    secrets out of the headers and of a body given as bytes. ``context``: the other fields of
    :class:`Exchange` (timings, case, interrupted, reproduce, ...)."""
    kept_headers = None if headers is None else tuple(headers)
    if scrubber is not None:
        if kept_headers is not None:
            kept_headers = tuple((k, scrubber.scrub_text(v)) for k, v in kept_headers)
        if isinstance(body, bytes):
            body = scrubber.scrub_bytes(body)
    streamed = reads_as_stream(status=status, headers=kept_headers, asked_stream=asked_stream)
    if streamed:
        events = EventSource([body] if isinstance(body, bytes) else body)
        response = Response(status=status, headers=kept_headers, events=events)
    else:
        whole = body if isinstance(body, bytes) else b"".join(body)
        response = Response(status=status, headers=kept_headers, body=whole)
    return Exchange(id=id, request=request, response=response, **context)
