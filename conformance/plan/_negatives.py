"""Negatives: one per constraint the request schema documents, each breaking that constraint
only; what a negative breaks (its violations); a negative sent as a probe.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from .._util import pointer_of, strict_json
from ..contract import explain_error, parameter_errors, request_errors
from ..exchange import Violation
from ._case import Case, naming, operation_of
from ._mutations import make_negative, mutations
from ._scenarios import valid_base

if TYPE_CHECKING:
    from ..contract import Contract, Operation

__all__ = ["mutation_cases", "probing", "violations_of"]


def mutation_cases(
    contract: Contract,
    *,
    model: str,
    max_tokens: int,
    operation: Operation | None = None,
    base: dict[str, Any] | None = None,
) -> list[Case]:
    """One negative per constraint the request schema of ``operation`` (default: the main
    one, from the smallest valid chat body; another from ``base``) documents (a required field
    missing, a wrong type, a bound just outside, an array just too long or short, a bad enum
    value), each breaking that constraint only, named after it."""
    main = contract.operation()
    operation = operation or main
    stamp = naming(contract, operation)
    base = base if base is not None else valid_base(model, max_tokens)
    cases = []
    for mutation in mutations(contract, operation):
        body = make_negative(contract, base, mutation, operation)
        if body is not None:
            cases.append(
                Case(
                    name=f"{stamp['prefix']}negative-{mutation.name}",
                    body=body,
                    expectation="reject",
                    source="negative",
                    method=operation.method.upper(),
                    path=operation.path,
                    family=stamp["family"],
                )
            )
    return cases


#: The violations a negative case keeps, at the most (one is the aim).
MAX_VIOLATIONS = 5


def violations_of(contract: Contract, case: Case) -> tuple[Violation, ...]:
    """What ``case``'s body breaks in the contract: the request validator's errors (the
    branch the value was meant for, inside anyOf/oneOf), or the JSON it is not."""
    body = case.body
    if case.raw is not None:
        try:
            body = strict_json(case.raw)
        except ValueError as exc:
            return (Violation(instance_path="", keyword="json", message=f"not JSON ({exc})"),)
    operation = operation_of(contract, case)
    out = [
        Violation(
            instance_path=("?" if parameter.location == "query" else "{")
            + parameter.name
            + ("" if parameter.location == "query" else "}"),
            keyword=str(error.validator),
            message=f"{parameter.location} parameter {parameter.name!r}: {error.message}",
            schema_path=contract.schema_pointer(parameter.schema, error.absolute_schema_path)
            if parameter.schema and error.absolute_schema_path
            else None,
        )
        for parameter, error in parameter_errors(
            contract, operation, path=dict(case.path_values), query=case.query_text()
        )
    ]
    location = operation.request_schema
    if location is None:
        return tuple(out)
    for error in request_errors(contract, body, operation):
        error = explain_error(error)
        out.append(
            Violation(
                instance_path=pointer_of(error.absolute_path),
                keyword=str(error.validator),
                message=error.message if len(error.message) < 200 else error.message[:197] + "...",
                # a request rule (REQUEST-...) has no place in the schema
                schema_path=contract.schema_pointer(location, error.absolute_schema_path)
                if error.absolute_schema_path
                else None,
            )
        )
        if len(out) == MAX_VIOLATIONS:
            break
    return tuple(out)


def probing(contract: Contract, case: Case) -> Case:
    """``case`` as a probe when it is a negative (its verdict needs only the status): let go
    at the headers of a 2xx event stream; and sent as a stream (``stream: true`` added) when
    its operation streams on it, its body does not say ``stream`` and what it breaks stays the
    same with it (a negative about ``stream`` or ``stream_options`` is sent as it is)."""
    if case.expectation != "reject":
        return case
    probe = dataclasses.replace(case, probe=True)
    if case.raw is not None or not isinstance(case.body, dict) or "stream" in case.body:
        return probe
    if operation_of(contract, case).stream_selector != "/stream":
        return probe
    streamed = dataclasses.replace(probe, body={**case.body, "stream": True})
    before = {(v.instance_path, v.keyword) for v in violations_of(contract, case)}
    after = {(v.instance_path, v.keyword) for v in violations_of(contract, streamed)}
    return streamed if before and before == after else probe
