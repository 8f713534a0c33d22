"""Cases from the document's own request examples, and for an operation without any, the
smallest body that says something.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from .._util import is_int
from ..contract import request_examples, request_is_valid
from ._case import Case, frugal, slug_of
from ._mutations import object_schema, sample

if TYPE_CHECKING:
    from ..contract import Contract, Operation

__all__ = ["example_cases", "minimal_body", "operation_cases"]


def example_cases(contract: Contract, *, model: str, max_tokens: int) -> list[Case]:
    """The spec's own request examples (model pinned, max_tokens capped)."""
    operation = contract.operation()
    cases = []
    for label, value in request_examples(contract, operation):
        cases.append(
            Case(
                name=f"example-{label}",
                body=frugal(value, model=model, max_tokens=max_tokens),
                source="example",
            )
        )
    return cases


def operation_cases(
    contract: Contract,
    operation: Operation,
    *,
    max_tokens: int = 16,
    base: Any = None,
    model: str | None = None,
) -> list[Case]:
    """The cases of an operation the profile certifies besides the main one: its request
    examples (``max_tokens`` capped, the ``model`` they name replaced by the run's: the
    document's ``gpt-4.1`` is refused by every server that does not serve that name, and a
    negative refused for its model proves nothing; without any, ``base``, a body drawn from its schema; or,
    without a request body, one plain request), the first one streamed when the operation
    streams, and the request without a key when it is secured. Their answers get the checks
    of their family and of every operation."""
    slug = slug_of(contract, operation)
    family = operation.rule_family
    method = operation.method.upper()
    path = operation.path
    cases = [
        Case(
            name=f"{slug}-example-{label}",
            body=_capped(_pinned(value, model), max_tokens),
            source="example",
            method=method,
            path=path,
            family=family,
        )
        for label, value in request_examples(contract, operation)
    ]
    if not cases and (operation.request_schema is None or isinstance(base, dict)):
        cases.append(
            Case(name=slug, body=base, source="scenario", method=method, path=path, family=family)
        )
    selector = operation.stream_selector
    if cases and isinstance(cases[0].body, dict) and selector and selector.count("/") == 1:
        # the first example again, streamed: the operation's stream gets checked too
        streamed = {**cases[0].body, selector[1:]: True}
        cases.append(dataclasses.replace(cases[0], name=f"{slug}-stream", body=streamed))
    if operation.requires_auth and cases:
        cases.append(
            dataclasses.replace(
                cases[0],
                name=f"{slug}-auth-missing",
                auth="none",
                expectation="unauthorized",
                source="auth",
            )
        )
    return cases


def _pinned(body: Any, model: str | None) -> Any:
    """``body`` with its ``model`` (when it names one) replaced by ``model``."""
    if model is None or not isinstance(body, dict) or "model" not in body:
        return body
    return {**body, "model": model}


def _capped(body: Any, max_tokens: int) -> Any:
    """``body`` with its ``max_tokens`` no higher than ``max_tokens`` (frugality)."""
    if (
        isinstance(body, dict)
        and is_int(body.get("max_tokens"))
        and body["max_tokens"] > max_tokens
    ):
        return {**body, "max_tokens": max_tokens}
    return body


def minimal_body(
    contract: Contract, operation: Operation, *, model: str, max_tokens: int
) -> dict[str, Any] | None:
    """The smallest valid request body of ``operation`` that says something: its required
    properties, each a simple value of its schema (``"x"``, the first enum value, the lowest
    bound), the model pinned and ``max_tokens`` capped where documented; None when that is
    not a valid request (a required object, say)."""
    location = operation.request_schema
    if location is None:
        return None
    required, properties = object_schema(contract, contract.schema(location))
    body: dict[str, Any] = {}
    for name in required:
        value = sample(contract, properties.get(name), deep=True)
        if value is None:
            return None
        body[name] = value
    body = frugal(body, model=model, max_tokens=max_tokens, documented=set(properties))
    return body if request_is_valid(contract, body, operation) else None
