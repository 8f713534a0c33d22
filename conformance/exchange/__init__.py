"""The exchange stage: a request, its response (body or incrementally parsed events), timings."""

from __future__ import annotations

from .._util import strict_json
from ._model import (
    NO_RESPONSE,
    REDACTED,
    EventSource,
    Exchange,
    Request,
    Response,
    Timings,
    Violation,
    error_message,
    redact_headers,
    redact_url,
    url_secrets,
)
from ._recorded import read_exchanges

__all__ = [
    "NO_RESPONSE",
    "REDACTED",
    "EventSource",
    "Exchange",
    "Request",
    "Response",
    "Timings",
    "Violation",
    "error_message",
    "read_exchanges",
    "redact_headers",
    "redact_url",
    "strict_json",
    "url_secrets",
]
