"""Hand-picked cases checked against the document before they are sent.

The scenarios, boundary and auth cases are written once for chat completions as DeepSeek and
OpenAI take them (``stop: "7"``, ``logprobs: true``, an assistant message with
``content: null``). Another document may type a feature its own way (``stop`` as an array,
``logprobs`` as an integer) or not take it at all (no ``stream_options``). A case the
document rejects is not "a request the contract accepts": it is adapted when the feature can
be said the document's way, else not sent, and the run says why; the server is never blamed
for the suite's own request.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
from typing import TYPE_CHECKING, Any

from ..contract import request_errors
from ._case import Case

if TYPE_CHECKING:
    from jsonschema import ValidationError

    from ..contract import Contract, Operation

__all__ = ["fit_case"]

#: How many adaptations one case may take (each fixes one value).
MAX_STEPS = 8


def fit_case(contract: Contract, operation: Operation, case: Case) -> Case | str:
    """``case`` as the document's request schema takes it (unchanged when it already does),
    or why it cannot be: the first error no adaptation fixes."""
    body = case.body
    if not isinstance(body, dict) or case.expectation == "reject":
        return case
    adapted = False
    for _ in range(MAX_STEPS):
        errors = list(itertools.islice(request_errors(contract, body, operation), 20))
        if not errors:
            return dataclasses.replace(case, body=body) if adapted else case
        for error in errors:
            better = _adapted(contract, operation, body, error)
            if better is not None:
                body, adapted = better, True
                break
        else:
            return _why(errors[0])
    return _why(next(request_errors(contract, body, operation)))


def _why(error: ValidationError) -> str:
    where = "/" + "/".join(str(p) for p in error.absolute_path)
    message = error.message if len(error.message) < 160 else error.message[:157] + "..."
    return f"{where}: {message}"


def _adapted(
    contract: Contract, operation: Operation, body: dict[str, Any], error: ValidationError
) -> dict[str, Any] | None:
    """``body`` with the value at ``error``'s place said another way the document takes
    (a scalar as a one-item array, ``true`` as ``1``, ``null`` as ``""``), when that clears
    every error there; else None."""
    path = list(error.absolute_path)
    if not path:
        # the suite names a model in every body; a document whose requests take none (the
        # deployment is in the path) and close the object: left out
        if error.validator == "additionalProperties" and "model" in body:
            rest = {k: v for k, v in body.items() if k != "model"}
            if "model" not in str(error.message) or not _clears(contract, operation, rest, []):
                return None
            return rest
        return None
    value = error.instance
    candidates: list[Any] = []
    if not isinstance(value, list):
        candidates.append([value])
    if isinstance(value, bool):
        candidates.append(int(value))
    if value is None:
        candidates.append("")
    for candidate in candidates:
        changed = copy.deepcopy(body)
        parent: Any = changed
        for part in path[:-1]:
            parent = parent[part]
        parent[path[-1]] = candidate
        if _clears(contract, operation, changed, path):
            return changed
    return None


def _clears(contract: Contract, operation: Operation, body: Any, path: list[Any]) -> bool:
    """Whether ``body`` has no error at ``path`` (or below it); at the top, none about
    ``model`` being unexpected."""
    for error in itertools.islice(request_errors(contract, body, operation), 50):
        where = list(error.absolute_path)
        if path and where[: len(path)] == path:
            return False
        if not path and not where and "'model'" in error.message:
            return False
    return True
