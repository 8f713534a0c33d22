"""The plan stage: the cases of a run, from the contract and the configuration alone.

Where cases come from, one module each: the document's examples (``_examples``), the scenario
catalogue and hand-picked negatives (``_scenarios``), thinking mode (``_thinking``), positives drawn by schemathesis
(``_drawn``), one-constraint negatives (``_mutations``, ``_negatives``), parameters
(``_parameters``), auth (``_auth``); what a selection of phases, checks and operations needs
(``_select``); what a plan costs and how it is named (``_budget``); :func:`plan` (``_plan``).
"""

from __future__ import annotations

from ._auth import auth_cases
from ._budget import TokenBudget, describe_plan, plan_fingerprint, token_budget
from ._case import Case, body_key, operation_of
from ._drawn import MODALITIES, generated_cases
from ._examples import example_cases, operation_cases
from ._mutations import object_schema
from ._negatives import mutation_cases, violations_of
from ._parameters import parameter_values
from ._plan import DEFAULT_SEED, Plan, PlanConfig, chosen, plan, plan_cases
from ._scenarios import negative_cases, scenario_cases
from ._select import PHASES, needed_by, parse_phases, select_checks, select_operations
from ._thinking import thinking_cases

__all__ = [
    "DEFAULT_SEED",
    "MODALITIES",
    "PHASES",
    "Case",
    "Plan",
    "PlanConfig",
    "TokenBudget",
    "auth_cases",
    "body_key",
    "chosen",
    "describe_plan",
    "example_cases",
    "generated_cases",
    "mutation_cases",
    "needed_by",
    "negative_cases",
    "object_schema",
    "operation_cases",
    "operation_of",
    "parameter_values",
    "parse_phases",
    "plan",
    "plan_cases",
    "plan_fingerprint",
    "scenario_cases",
    "select_checks",
    "select_operations",
    "thinking_cases",
    "token_budget",
    "violations_of",
]
