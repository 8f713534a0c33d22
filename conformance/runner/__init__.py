"""The runner stage: cases, sending them with httpx, and live runs."""

from __future__ import annotations

from .._errors import TargetUnreachable
from ._cases import (
    MODALITIES,
    Case,
    TokenBudget,
    auth_cases,
    example_cases,
    generated_cases,
    mutation_cases,
    negative_cases,
    operation_cases,
    scenario_cases,
    token_budget,
)
from ._preflight import Preflight, preflight
from ._run import RunConfig, RunResult, RunWatch, describe_plan, plan_cases, run, run_async
from ._select import PHASES, needed_by, parse_phases, select_checks, select_operations
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
    scrub,
    send,
)

__all__ = [
    "API_KEY_VARIABLE",
    "MODALITIES",
    "PHASES",
    "Case",
    "Decoder",
    "Header",
    "Limits",
    "Preflight",
    "RunConfig",
    "RunResult",
    "RunWatch",
    "TargetUnreachable",
    "TokenBudget",
    "Transport",
    "auth_cases",
    "curl_command",
    "describe_plan",
    "example_cases",
    "generated_cases",
    "join_url",
    "mutation_cases",
    "needed_by",
    "negative_cases",
    "no_cookies",
    "operation_cases",
    "parse_header",
    "parse_phases",
    "plan_cases",
    "preflight",
    "run",
    "run_async",
    "scenario_cases",
    "scrub",
    "select_checks",
    "select_operations",
    "send",
    "token_budget",
]
