"""The exchange stage: a request, its response (body or incrementally parsed events), timings."""

from __future__ import annotations

from .._util import strict_json
from ._build import build_exchange, reads_as_stream
from ._model import (
    NO_RESPONSE,
    EventSource,
    Exchange,
    Request,
    Response,
    Timings,
    Violation,
    error_message,
)
from ._recorded import read_exchanges
from ._secrets import (
    REDACTED,
    SECRET_HEADERS,
    Scrubber,
    header_secrets,
    is_secret_name,
    redact_headers,
    redact_url,
    scrub,
    url_secrets,
)

__all__ = [
    "NO_RESPONSE",
    "REDACTED",
    "SECRET_HEADERS",
    "EventSource",
    "Exchange",
    "Request",
    "Response",
    "Scrubber",
    "Timings",
    "Violation",
    "build_exchange",
    "error_message",
    "header_secrets",
    "is_secret_name",
    "read_exchanges",
    "reads_as_stream",
    "redact_headers",
    "redact_url",
    "scrub",
    "strict_json",
    "url_secrets",
]
