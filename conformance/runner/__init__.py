"""The runner stage: cases, sending them with httpx, and the scenario catalogue."""

from __future__ import annotations

from ._cases import Case, scenario_cases
from ._send import Limits, TargetUnreachable, send

__all__ = ["Case", "Limits", "TargetUnreachable", "scenario_cases", "send"]
