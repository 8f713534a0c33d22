"""The exchange stage: a request, its response (body or incrementally parsed events), timings."""

from __future__ import annotations

from .._util import strict_json
from ._model import (
    REDACTED,
    EventSource,
    Exchange,
    Request,
    Response,
    Timings,
    redact_headers,
)
from ._recorded import read_exchanges

__all__ = [
    "REDACTED",
    "EventSource",
    "Exchange",
    "Request",
    "Response",
    "Timings",
    "read_exchanges",
    "redact_headers",
    "strict_json",
]
