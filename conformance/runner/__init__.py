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
    scenario_cases,
    token_budget,
)
from ._preflight import Preflight, preflight
from ._run import RunConfig, RunResult, plan_cases, run, run_async
from ._send import API_KEY_VARIABLE, Limits, curl_command, send

__all__ = [
    "API_KEY_VARIABLE",
    "MODALITIES",
    "Case",
    "Limits",
    "Preflight",
    "RunConfig",
    "RunResult",
    "TargetUnreachable",
    "TokenBudget",
    "auth_cases",
    "curl_command",
    "example_cases",
    "generated_cases",
    "mutation_cases",
    "negative_cases",
    "plan_cases",
    "preflight",
    "run",
    "run_async",
    "scenario_cases",
    "send",
    "token_budget",
]
