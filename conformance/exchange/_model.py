"""An exchange: one request and its response, as the checks see it.

Secrets are redacted when a :class:`Request` is made (by the policy of :mod:`._secrets`),
so nothing downstream (checks, reports, replay commands) can leak them. A streamed response
carries an :class:`EventSource` that parses bytes as they are read, so a 100,000-chunk stream is
checked without holding its chunks.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .._sse import EventFields, Framing, SSEEvent, SSEParser
from .._util import strict_json
from .._vocab import Expectation
from ._secrets import redact_headers, redact_url

__all__ = [
    "NO_RESPONSE",
    "EventSource",
    "Exchange",
    "Request",
    "Response",
    "Timings",
    "Violation",
    "error_message",
]

#: The status of an exchange that got no response at all (the request failed or timed out
#: before a status line); ``Exchange.interrupted`` says why.
NO_RESPONSE = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class Request:
    """A request as sent or recorded; make it with :meth:`create`, which redacts secrets (the
    secret headers' values, and the URL's: :func:`redact_url`)."""

    method: str = "POST"
    url: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    body: Any = None  # the JSON body, parsed

    @classmethod
    def create(
        cls,
        *,
        method: str = "POST",
        url: str | None = None,
        headers: Iterable[tuple[str, str]] | Mapping[str, str] = (),
        body: Any = None,
    ) -> Request:
        items = headers.items() if isinstance(headers, Mapping) else headers
        return cls(
            method=method.upper(),
            url=None if url is None else redact_url(url),
            headers=redact_headers(items),
            body=body,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Timings:
    """Seconds from sending the request; ``None`` when not measured (recorded traffic)."""

    to_headers: float | None = None
    to_first_event: float | None = None  # the first bytes of the body
    #: the first bytes that carry generated text (``content``, ``reasoning_content``, a
    #: ``text`` delta) or a tool call: what a user waits for
    to_first_content: float | None = None
    max_event_gap: float | None = None
    total: float | None = None

    def as_dict(self) -> dict[str, float | None]:
        """The timings in seconds, to the microsecond (report.json's ``timings``)."""
        return {
            name: None if (value := getattr(self, name)) is None else round(value, 6)
            for name in (
                "to_headers",
                "to_first_event",
                "to_first_content",
                "max_event_gap",
                "total",
            )
        }


class EventSource:
    """The events of a streamed body, parsed incrementally from an iterable of byte chunks.

    Iterate it once; afterwards :attr:`framing` describes the whole stream.
    """

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = chunks
        self._parser = SSEParser()
        self._consumed = False

    @property
    def framing(self) -> Framing:
        return self._parser.framing

    def __iter__(self) -> Iterator[SSEEvent]:
        for index, offset, data, event, id_, retry in self.fields():
            yield SSEEvent(index=index, offset=offset, data=data, event=event, id=id_, retry=retry)

    def fields(self) -> Iterator[EventFields]:
        """The events as ``(index, offset, data, event, id, retry)`` tuples, which cost a tenth
        of an :class:`SSEEvent` to build (the checks' driver reads a long stream this way).
        Like iterating, this can be done once."""
        if self._consumed:
            raise RuntimeError("an EventSource can be iterated only once")
        self._consumed = True
        parser = self._parser
        for chunk in self._chunks:
            yield from parser.feed_fields(chunk)
        yield from parser.close_fields()


@dataclass(frozen=True, kw_only=True)
class Response:
    """``headers`` is ``None`` when the recording kept none (a bare body file); a secret's
    (``Set-Cookie``...) are redacted when the response is made, as a request's are."""

    status: int
    headers: tuple[tuple[str, str], ...] | None = None
    body: bytes | None = None  # a non-streamed body
    events: EventSource | None = field(default=None, compare=False)  # a streamed body

    def __post_init__(self) -> None:
        if self.headers is not None:
            object.__setattr__(self, "headers", redact_headers(self.headers))

    def header(self, name: str) -> str | None:
        for key, value in self.headers or ():
            if key.lower() == name.lower():
                return value
        return None

    @property
    def content_type(self) -> str | None:
        return self.header("content-type")

    @property
    def is_stream(self) -> bool:
        return self.events is not None


@dataclass(frozen=True, kw_only=True, slots=True)
class Violation:
    """One way a request breaks the contract: where in the body, the schema keyword, what is
    wrong, and where in the spec (a negative case names the violations it carries)."""

    #: JSON pointer into the request body ("" for the body itself); ``?name`` for a query
    #: parameter, ``{name}`` for a path parameter
    instance_path: str
    keyword: str  # the schema keyword that rejects it (type, enum, maximum, required, json...)
    message: str
    schema_path: str | None = None

    def __str__(self) -> str:
        return f"{self.instance_path or '/'}: {self.message}"


@dataclass(frozen=True, kw_only=True)
class Exchange:
    """One request and its response, as the checks see them; ``request`` is None when a
    recording kept only the response."""

    id: str
    request: Request | None
    response: Response
    timings: Timings = field(default_factory=Timings)
    source: str | None = None  # where a recorded exchange came from
    #: What the case that sent the request expects: ``accept`` (a valid request), ``reject``
    #: (an invalid one), ``unauthorized`` (no or a wrong key); ``None`` when unknown
    #: (recorded traffic).
    expectation: Expectation | None = None
    case: str | None = None  # the name of the case that sent it
    #: Why the body was cut short (a timeout or the size limit), or None if it arrived whole.
    interrupted: str | None = None
    #: Why the suite itself stopped reading the body (a negative, whose verdict needs only its
    #: status, let go at a 2xx stream's headers), or None: only the rules of the status line
    #: and headers judge such an exchange.
    cut: str | None = None
    #: A command that replays the request, secrets written as $CONFORMANCE_API_KEY.
    reproduce: str | None = None
    #: For a request the contract rejects: what it breaks (the validator's errors).
    violations: tuple[Violation, ...] = ()

    @property
    def request_body(self) -> Any:
        return self.request.body if self.request is not None else None


#: What a server said of a refused request, at most this long.
MAX_MESSAGE = 300


def error_message(response: Response) -> str:
    """The server's own words in an error response: the envelope's ``error.message`` (or
    ``detail``, ``message``), else the start of the body."""
    body = response.body or b""
    try:
        data: Any = strict_json(body)
    except ValueError:
        text = body[:MAX_MESSAGE].decode("utf-8", errors="replace")
        return " ".join(text.split()) or "(an empty body)"
    if isinstance(data, dict):
        error = data.get("error")
        for candidate in (
            error.get("message") if isinstance(error, dict) else error,
            data.get("detail"),
            data.get("message"),
        ):
            if isinstance(candidate, str) and candidate.strip():
                return candidate.strip()[:MAX_MESSAGE]
    return json.dumps(data, ensure_ascii=False)[:MAX_MESSAGE]
