"""The checks stage: pure rules, exchange in, failures out, and the driver that runs them."""

from __future__ import annotations

from . import (  # noqa: F401 - registration
    _events,
    _messages,
    _schema,
    _semantic,
    _stream,
    _stream_rules,
    _thinking,
)
from ._base import CHECKS, Check, CheckContext, Chunk, Failure, SkipCheck, Summary
from ._driver import CheckOutcome, ExchangeResult, check_exchange, summary_from_body
from ._render import render_failure, where_parts

__all__ = [
    "CHECKS",
    "Check",
    "CheckContext",
    "CheckOutcome",
    "Chunk",
    "ExchangeResult",
    "Failure",
    "SkipCheck",
    "Summary",
    "check_exchange",
    "render_failure",
    "summary_from_body",
    "where_parts",
]
