"""Negatives with meaning: one violation at a time, drawn from the request schema itself.

Each mutation breaks exactly one documented constraint of an otherwise valid body (the model
pinned, a valid ``messages``, ``max_tokens`` capped), so a server's rejection can be
attributed to the constraint under test, and a server's acceptance names it. The classes:
a required field missing, a documented field of the wrong type, a number just outside its
bounds, an array just too long or too short, a value outside its enum. A mutation is kept only
when the contract's own validator rejects the body there and nowhere else.

Why not schemathesis' negative mode: its bodies break several things at once (often the JSON
object itself, or ``model``, which a gateway rejects before anything else), so a rejection
proves nothing about the constraint it was meant to test.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._util import pointer_of
from ..contract import explain_error, request_errors

if TYPE_CHECKING:
    from ..contract import Contract, Operation

__all__ = [
    "Mutation",
    "apply_mutation",
    "make_negative",
    "mutations",
    "object_schema",
    "parameter_mutations",
    "pick",
    "sample",
    "schema_branches",
]

_DELETE: Any = object()
#: A value of each JSON type, to put where another type is documented.
_SAMPLES: tuple[tuple[str, Any], ...] = (
    ("string", "x"),
    ("integer", 7),
    ("boolean", True),
    ("object", {}),
    ("array", []),
)
NOT_IN_ENUM = "__not_in_enum__"
#: The longest array a too-long negative sends (maxItems + 1): a body stays a few KB (an
#: embeddings input of 2049 strings would be 10 KB of "x").
MAX_TOO_LONG = 256


@dataclass(frozen=True, kw_only=True, slots=True)
class Mutation:
    """One constraint to break: its class, where in the body, and the value put there."""

    kind: str  # missing-required | wrong-type | out-of-range | too-long | too-short | bad-enum
    path: tuple[str | int, ...]
    value: Any
    detail: str = ""  # which bound, for out-of-range

    @property
    def pointer(self) -> str:
        return pointer_of(self.path)

    @property
    def name(self) -> str:
        where = "-".join(str(p) for p in self.path if not isinstance(p, int)) or "body"
        return f"{self.kind}-{where}" + (f"-{self.detail}" if self.detail else "")


def _resolve(contract: Contract, schema: Any, depth: int = 0) -> Any:
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and depth < 16:
        ref = schema["$ref"]
        if not ref.startswith("#"):
            return schema
        schema = contract.schema(ref[1:])
        depth += 1
    return schema


def _branches(contract: Contract, schema: Any) -> list[dict[str, Any]]:
    """The schema and the branches of its anyOf/oneOf, resolved."""
    schema = _resolve(contract, schema)
    if not isinstance(schema, dict):
        return []
    out = [schema]
    for key in ("anyOf", "oneOf"):
        for branch in schema.get(key) or []:
            out += _branches(contract, branch)
    return out


def _types(branches: list[dict[str, Any]]) -> set[str]:
    types: set[str] = set()
    for branch in branches:
        value = branch.get("type")
        types.update(value if isinstance(value, list) else [value] if value else [])
        if "const" in branch or "enum" in branch:
            types.add("string")  # enums here are strings; a const is its own type
    if "number" in types:
        types.add("integer")
    return types


def _value_mutations(
    contract: Contract, path: tuple[str | int, ...], schema: Any, depth: int = 0
) -> Iterator[Mutation]:
    branches = _branches(contract, schema)
    types = _types(branches)
    if types:
        wrong = next((v for t, v in _SAMPLES if t not in types), None)
        if wrong is not None:
            yield Mutation(kind="wrong-type", path=path, value=wrong)
    for branch in branches:
        for bound, step, kind in (
            ("maximum", 1, "out-of-range"),
            ("minimum", -1, "out-of-range"),
            ("exclusiveMaximum", 0, "out-of-range"),
            ("exclusiveMinimum", 0, "out-of-range"),
        ):
            limit = branch.get(bound)
            if isinstance(limit, (int, float)) and not isinstance(limit, bool):
                yield Mutation(kind=kind, path=path, value=limit + step, detail=bound)
        enum = branch.get("enum")
        if isinstance(enum, list) and all(isinstance(e, str) or e is None for e in enum):
            yield Mutation(kind="bad-enum", path=path, value=NOT_IN_ENUM)
        items = _branches(contract, branch.get("items"))
        item_types = _types(items)
        most = branch.get("maxItems")
        if isinstance(most, int) and most < MAX_TOO_LONG and item_types == {"string"}:
            yield Mutation(kind="too-long", path=path, value=["x"] * (most + 1))
        least = branch.get("minItems")
        if isinstance(least, int) and least > 0:
            yield Mutation(kind="too-short", path=path, value=[])
        properties = branch.get("properties")
        if depth < 1 and "object" in types and isinstance(properties, dict):
            for name, sub in properties.items():
                for mutation in _value_mutations(contract, (*path, name), sub, depth + 1):
                    if mutation.kind == "bad-enum":  # nested: the enums servers must check
                        yield mutation


def object_schema(contract: Contract, schema: Any) -> tuple[list[str], dict[str, Any]]:
    """The required names and the properties of an object schema, its allOf parts merged."""
    schema = _resolve(contract, schema)
    if not isinstance(schema, dict):
        return [], {}
    required = list(schema.get("required") or [])
    properties = dict(schema.get("properties") or {})
    for part in schema.get("allOf") or []:
        more_required, more_properties = object_schema(contract, part)
        required += [r for r in more_required if r not in required]
        properties.update(more_properties)
    return required, properties


def mutations(contract: Contract, operation: Operation | None = None) -> list[Mutation]:
    """Every one-constraint mutation the request schema of ``operation`` (default: the main
    one) documents, in schema order."""
    location = (operation or contract.operation()).request_schema
    if location is None:
        return []
    required, properties = object_schema(contract, contract.schema(location))
    out: list[Mutation] = [
        Mutation(kind="missing-required", path=(name,), value=_DELETE) for name in required
    ]
    for name, prop in properties.items():
        if name in ("model", "stream"):
            continue  # the model stays pinned; stream selects the response, not a constraint
        out += _value_mutations(contract, (name,), prop)
    if "messages" in properties:  # the first message: a role no variant has, bad content
        out += [
            Mutation(kind="bad-enum", path=("messages", 0, "role"), value="wizard"),
            Mutation(kind="wrong-type", path=("messages", 0, "content"), value=7),
        ]
    unique: dict[tuple[str, str, str], Mutation] = {}
    for mutation in out:
        unique.setdefault((mutation.kind, mutation.pointer, repr(mutation.value)), mutation)
    return list(unique.values())


def apply_mutation(body: dict[str, Any], mutation: Mutation) -> dict[str, Any]:
    """A copy of ``body`` with ``mutation`` made."""
    result = copy.deepcopy(body)
    node: Any = result
    for key in mutation.path[:-1]:
        if isinstance(node, dict) and key not in node:
            node[key] = {}  # a nested field of an optional object: the object, minimal
        node = node[key]
    last = mutation.path[-1]
    if mutation.value is _DELETE:
        del node[last]
    else:
        node[last] = copy.deepcopy(mutation.value)
    return result


def parameter_mutations(contract: Contract, operation: Operation) -> list[Mutation]:
    """One-constraint mutations of the operation's path and query parameters, each at
    ``(location, name)``: a required query parameter missing, a value that does not read as
    its type (only text travels: ``x`` where an integer belongs), a bound just outside, a
    value outside its enum."""
    out: list[Mutation] = []
    for parameter in operation.parameters:
        where = (parameter.location, parameter.name)
        if parameter.location == "query" and parameter.required:
            out.append(Mutation(kind="missing-required", path=where, value=_DELETE))
        if parameter.schema is None:
            continue
        for mutation in _value_mutations(contract, where, contract.schema(parameter.schema), 1):
            if mutation.kind == "wrong-type" and not isinstance(mutation.value, str):
                continue  # 7 where a string belongs is the text "7": a string
            if mutation.kind in ("too-long", "too-short"):
                continue
            out.append(mutation)
    return out


def schema_branches(contract: Contract, schema: Any) -> list[dict[str, Any]]:
    """``schema`` and the branches of its anyOf/oneOf, ``$ref`` s resolved."""
    return _branches(contract, schema)


def sample(contract: Contract, schema: Any, *, deep: bool = False) -> Any:
    """A simple value ``schema`` accepts (None when it has no simple one); ``deep``: also an
    array of ``minItems`` such values and an object of its required properties, so that a
    request of nested objects has a smallest body without a draw (the planner draws from a
    document's schemas only what it sends)."""
    return _deep_sample(contract, schema, 0, [200]) if deep else _sample(contract, schema)


def _deep_sample(contract: Contract, schema: Any, depth: int, budget: list[int]) -> Any:
    """:func:`sample`, deep: at most 6 levels and ``budget[0]`` schemas looked at in all (a
    document of wide nested objects is not walked exponentially)."""
    budget[0] -= 1
    simple = _sample(contract, schema)
    if simple is not None or depth > 6 or budget[0] <= 0:
        return simple
    for branch in _branches(contract, schema):
        types = branch.get("type")
        kinds = types if isinstance(types, list) else [types]
        if "array" in kinds:
            low = branch.get("minItems")
            count = low if isinstance(low, int) and not isinstance(low, bool) else 0
            if count > 4:
                continue
            item = _deep_sample(contract, branch.get("items"), depth + 1, budget) if count else None
            if count and item is None:
                continue
            return [item] * count
        if "object" in kinds or "properties" in branch or "allOf" in branch:
            required, properties = object_schema(contract, branch)
            out: dict[str, Any] = {}
            for name in required:
                value = _deep_sample(contract, properties.get(name), depth + 1, budget)
                if value is None:
                    break
                out[name] = value
            else:
                return out
    return None


def _sample(contract: Contract, schema: Any) -> Any:
    """A simple value ``schema`` accepts (for a field another one makes required)."""
    for branch in _branches(contract, schema):
        if "const" in branch:
            return branch["const"]
        if isinstance(branch.get("enum"), list) and branch["enum"]:
            return branch["enum"][0]
        types = branch.get("type")
        for kind in types if isinstance(types, list) else [types]:
            if kind == "boolean":
                return True
            if kind in ("integer", "number"):
                low = branch.get("minimum")
                return low if isinstance(low, (int, float)) and low > 0 else 1
            if kind == "string":
                return "x"
    return None


def _names(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _on_the_way(where: tuple[Any, ...], target: tuple[Any, ...]) -> bool:
    shorter = min(len(where), len(target))
    return where[:shorter] == target[:shorter]


def make_negative(
    contract: Contract,
    base: dict[str, Any],
    mutation: Mutation,
    operation: Operation | None = None,
) -> Any:
    """``base`` with ``mutation`` made, and with the fields the mutated one makes required
    filled in (``top_logprobs`` needs ``logprobs: true``): a body the contract rejects (as a
    request of ``operation``, default the main one) for that one constraint only. None when no
    such body can be made."""
    location = (operation or contract.operation()).request_schema
    assert location is not None
    _, properties = object_schema(contract, contract.schema(location))
    try:
        body = apply_mutation(base, mutation)
    except (LookupError, TypeError):
        return None  # the path is not in this body (a drawn positive with fewer messages)
    for _attempt in range(3):
        errors = [explain_error(e) for e in request_errors(contract, body, operation)]
        if not errors:
            return None
        strays = [e for e in errors if not _on_the_way(tuple(e.absolute_path), mutation.path)]
        needed = [
            name
            for e in errors
            if e.validator == "required" and not e.absolute_path and isinstance(e.instance, dict)
            for name in _names(e.validator_value)
            if name not in e.instance and name in properties and name not in mutation.path
        ]
        if not strays and not needed and len(errors) == 1:
            return body
        if strays or not needed:
            return None
        for name in needed:
            value = _sample(contract, properties[name])
            if value is None:
                return None
            body = {**body, name: value}
    return None


def pick(mutations: list[Mutation], rng: random.Random) -> Mutation:
    """One of ``mutations``, drawn by ``rng`` (repeatable by its seed)."""
    return mutations[rng.randrange(len(mutations))]
