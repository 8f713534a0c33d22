"""Failures shrink: a generated case that failed is made smaller against the live target, one
optional field at a time, as long as the same check still fails, within a request budget.

Hypothesis shrinks by replaying a test function; a live API cannot be replayed for free, so
this is a small greedy pass instead (each attempt is one request): drop a top-level field the
contract does not require (and, for a negative, not the one it breaks), keep the drop when the
failure stays and, for a negative, when it still breaks exactly what it broke (the same
keyword or request rule at the same place). The minimal body is reported beside the original.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ..checks import check_exchange
from ..contract import request_is_valid
from ..plan import object_schema, operation_of, violations_of

if TYPE_CHECKING:
    from ..checks import ExchangeResult
    from ..contract import Contract
    from ..exchange import Exchange
    from ..plan import Case

__all__ = ["SIMPLEST_MESSAGES", "shrink"]

#: The messages a shrunk body tries first: the simplest a chat request can carry.
SIMPLEST_MESSAGES = [{"role": "user", "content": "Hi"}]

#: Sends a case; None when the budget is spent.
Sender = Callable[["Case"], Awaitable["Exchange | None"]]


def _kept_fields(contract: Contract, case: Case) -> set[str]:
    location = operation_of(contract, case).request_schema
    required = object_schema(contract, contract.schema(location))[0] if location else []
    return set(required) | _broken(case) | {"max_tokens"}  # keeps a wrong acceptance cheap


def _broken(case: Case) -> set[str]:
    """The top-level fields a negative breaks (they stay, or it would not be one)."""
    return {v.instance_path.split("/")[1] for v in case.violations if v.instance_path.count("/")}


def _signature(violations: Any) -> frozenset[tuple[str, str]]:
    """What a negative breaks: (instance path, keyword or rule id) of each violation."""
    return frozenset((v.instance_path, v.keyword) for v in violations)


def _without(key: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda body: {k: v for k, v in body.items() if k != key}


async def shrink(
    contract: Contract, case: Case, result: ExchangeResult, send: Sender
) -> dict[str, Any] | None:
    """The smallest body on which the first check that failed still fails: the simplest
    messages first, then one optional field dropped at a time; None when nothing changed."""
    failing = [check for check, o in result.outcomes.items() if o.status == "fail"]
    if not failing or not isinstance(case.body, dict):
        return None
    check_id = failing[0]
    body, changed = dict(case.body), False
    steps: list[Callable[[dict[str, Any]], dict[str, Any]]] = []
    operation = operation_of(contract, case)
    if (
        "messages" in body  # a chat request: its simplest messages first
        and "messages" not in _broken(case)
        and body.get("messages") != SIMPLEST_MESSAGES
    ):
        steps.append(lambda b: {**b, "messages": SIMPLEST_MESSAGES})
    steps += [_without(key) for key in sorted(set(body) - _kept_fields(contract, case))]
    broken = _signature(case.violations)
    for step in steps:
        candidate = step(body)  # each step applies to the body as shrunk so far
        if case.expectation == "accept" and not request_is_valid(contract, candidate, operation):
            continue  # a positive stays valid
        if case.expectation == "reject" and broken != _signature(
            violations_of(contract, dataclasses.replace(case, body=candidate))
        ):
            # a negative keeps its violation, the same keyword or rule at the same place, and
            # no other: "tool_choice without tools" shrunk to a valid body proved nothing
            continue
        exchange = await send(dataclasses.replace(case, name=f"{case.name}-shrink", body=candidate))
        if exchange is None:
            break
        judged = check_exchange(contract, exchange, operation=operation)
        if judged.outcomes[check_id].status == "fail":
            body, changed = candidate, True
    return body if changed else None
