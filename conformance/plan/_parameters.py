"""Path and query parameters: the values of a valid request, the optional and drawn queries,
and one negative per parameter constraint.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from ..contract import parameter_errors
from ._case import MAX_BODY, Case, slug_of
from ._drawn import draw_positives
from ._mutations import Mutation, parameter_mutations, sample

if TYPE_CHECKING:
    from ..contract import Contract, Operation

__all__ = ["MODEL_PARAMETERS", "parameter_cases", "parameter_values"]


#: Path parameters that name a model: the run's model fills them (``GET /models/{model}``,
#: Azure OpenAI's ``/deployments/{deployment-id}/...``: a deployment is a model's name there).
MODEL_PARAMETERS = (
    "model",
    "model_id",
    "model_name",
    "deployment-id",
    "deployment_id",
    "deploymentId",
)

Values = tuple[tuple[str, Any], ...]


def parameter_values(
    contract: Contract, operation: Operation, *, model: str
) -> tuple[Values, Values] | str:
    """The path values and the required query of a valid request of ``operation``: the run's
    model for a path parameter that names one, else the document's first example (or default,
    or enum value); a required query parameter without one gets a simple value of its schema.
    A text saying what is missing when a path parameter has no known value (an id of a
    resource the suite cannot know: the operation is not exercised, as schemathesis' "missing
    test data")."""
    path: list[tuple[str, Any]] = []
    query: list[tuple[str, Any]] = []
    for parameter in operation.parameters:
        if parameter.location == "path":
            if parameter.name in MODEL_PARAMETERS:
                path.append((parameter.name, model))
            elif parameter.examples:
                path.append((parameter.name, parameter.examples[0]))
            else:
                return (
                    f"{operation.label} was not exercised: the document gives no value for its "
                    f"path parameter {parameter.name!r} (an example or an enum would do)"
                )
        elif parameter.required:
            value = parameter.examples[0] if parameter.examples else None
            if value is None and parameter.schema is not None:
                value = sample(contract, contract.schema(parameter.schema))
            if value is None:
                return (
                    f"{operation.label} was not exercised: the document gives no value for its "
                    f"required query parameter {parameter.name!r}"
                )
            query.append((parameter.name, value))
    return tuple(path), tuple(query)


def parameter_cases(
    contract: Contract, operation: Operation, base: Case, *, count: int = 0, seed: int = 0
) -> list[Case]:
    """From ``base`` (a valid request of ``operation``, its parameters set): the request with
    every optional query parameter the document gives a value for, ``count`` queries drawn
    by schemathesis from the parameters' schemas (valid ones, new ones), then one negative
    per constraint of a path or query parameter, each breaking that one only."""
    slug = slug_of(contract, operation)
    optional = [
        (p.name, p.examples[0])
        for p in operation.parameters
        if p.location == "query" and not p.required and p.examples
    ]
    cases = []
    if optional:
        cases.append(
            dataclasses.replace(
                base, name=f"{slug}-query", query=(*base.query, *optional), source="example"
            )
        )
    queries = [c.query_text() for c in cases] + [base.query_text()]

    def take(drawn: Any) -> bool:
        """Keep the query ``drawn`` if it makes a new valid case; whether there are enough."""
        if isinstance(drawn, dict):
            query = tuple(
                (name, value)
                for name, value in drawn.items()
                if any(p.name == name and p.location == "query" for p in operation.parameters)
                and not isinstance(value, dict)
            )
            case = dataclasses.replace(
                base,
                name=f"{slug}-query-property-{sum(c.source == 'property' for c in cases) + 1}",
                query=query,
                source="property",
            )
            text = case.query_text()
            valid = not any(
                parameter_errors(contract, operation, path=dict(case.path_values), query=text)
            )
            if valid and text not in queries and len(case.target) < MAX_BODY:
                queries.append(text)
                cases.append(case)
        return sum(c.source == "property" for c in cases) >= count

    if count > 0 and any(p.location == "query" for p in operation.parameters):
        draw_positives(contract, count, seed, operation, part="query", until=take)
    for mutation in parameter_mutations(contract, operation):
        case = _mutated_parameters(base, mutation)
        errors = list(
            parameter_errors(
                contract, operation, path=dict(case.path_values), query=case.query_text()
            )
        )
        if len(errors) == 1 and errors[0][0].name == mutation.path[1]:
            cases.append(
                dataclasses.replace(
                    case,
                    name=f"{slug}-negative-{mutation.name}",
                    expectation="reject",
                    source="negative",
                )
            )
    return cases


def _mutated_parameters(base: Case, mutation: Mutation) -> Case:
    location, name = (str(part) for part in mutation.path)
    delete = mutation.kind == "missing-required"
    if location == "path":
        values = tuple((k, mutation.value if k == name else v) for k, v in base.path_values)
        return dataclasses.replace(base, path_values=values)
    query = tuple((k, v) for k, v in base.query if k != name)
    return dataclasses.replace(base, query=query if delete else (*query, (name, mutation.value)))
