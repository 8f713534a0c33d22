"""The runner stage: sending cases with httpx (retries, limits, the transport), the
preflight, shrinking, the examples database, and live runs (plan, send, judge)."""

from __future__ import annotations

from ._preflight import Preflight, preflight
from ._run import RunConfig, RunResult, RunWatch, plan_budget, run, run_async
from ._send import (
    API_KEY_VARIABLE,
    Decoder,
    Header,
    Limits,
    Transport,
    curl_command,
    join_url,
    no_cookies,
    parse_header,
    send,
)

__all__ = [
    "API_KEY_VARIABLE",
    "Decoder",
    "Header",
    "Limits",
    "Preflight",
    "RunConfig",
    "RunResult",
    "RunWatch",
    "Transport",
    "curl_command",
    "join_url",
    "no_cookies",
    "parse_header",
    "plan_budget",
    "preflight",
    "run",
    "run_async",
    "send",
]
