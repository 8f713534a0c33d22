"""Cases: a request to send and what it expects; where they come from.

Four sources, all frugal (the model pinned, ``max_tokens`` capped unless a case needs more,
short contents):
- the spec's own request examples;
- a scenario catalogue, one case per feature the contract documents;
- property-based bodies drawn by schemathesis from the effective request schema: positives
  must be accepted, negatives (and hand-picked invalid bodies) rejected;
- auth: no key, and a wrong key, must get 401.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from .._util import is_int, pointer_of, strict_json
from .._vocab import Auth, CaseSource, Expectation
from ..contract import (
    explain_error,
    parameter_errors,
    parameter_text,
    request_errors,
    request_examples,
    request_is_valid,
)
from ..exchange import Violation
from ._mutations import (
    Mutation,
    make_negative,
    mutations,
    object_schema,
    parameter_mutations,
    pick,
    sample,
    schema_branches,
)

if TYPE_CHECKING:
    from ..contract import Contract, Operation

__all__ = [
    "MODALITIES",
    "Case",
    "TokenBudget",
    "auth_cases",
    "example_cases",
    "generated_cases",
    "minimal_body",
    "negative_cases",
    "operation_cases",
    "parameter_cases",
    "parameter_values",
    "probing",
    "scenario_cases",
    "token_budget",
]

#: Longest message content a generated case sends (frugality).
MAX_CONTENT = 64


@dataclass(frozen=True, kw_only=True, slots=True)
class Case:
    """One request the run sends, and what the contract says of it (``expectation``)."""

    name: str
    body: Any = None  # the JSON body
    raw: bytes | None = None  # a body that is not JSON (malformed input)
    expectation: Expectation = "accept"
    auth: Auth = "valid"
    method: str = "POST"
    path: str = "/chat/completions"
    source: CaseSource = "scenario"
    #: For a negative: what the body breaks (computed from the contract when planned).
    violations: tuple[Violation, ...] = ()
    #: The rule family of the case's operation (which checks can judge its answer).
    family: str = "chat"
    #: The values of the path's parameters (``path`` keeps its template) and the query, as
    #: JSON values (``20``, ``true``); written as text when sent.
    path_values: tuple[tuple[str, Any], ...] = ()
    query: tuple[tuple[str, Any], ...] = ()
    #: A negative whose verdict needs only the status: sent as a stream, and let go at the
    #: headers of a 2xx event stream (:func:`probing`), so a lenient server that starts an
    #: unbounded generation (``max_tokens: -1``) stops at once instead of running for minutes.
    probe: bool = False

    @property
    def stream(self) -> bool:
        return isinstance(self.body, dict) and self.body.get("stream") is True

    @property
    def target(self) -> str:
        """The path as sent: its parameters filled in (percent-encoded) and the query after
        it (an array is the name repeated, OAS' ``form`` style, exploded)."""
        path = self.path
        for name, value in self.path_values:
            path = path.replace("{" + name + "}", quote(parameter_text(value), safe=""))
        pairs = self.query_text()
        return path + ("?" + urlencode(pairs) if pairs else "")

    def query_text(self) -> list[tuple[str, str]]:
        """The query as the server reads it: (name, text) pairs."""
        return [
            (name, parameter_text(item))
            for name, value in self.query
            for item in (value if isinstance(value, list) else [value])
        ]


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
CLOCK_TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "The time in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def frugal(body: Any, *, model: str, max_tokens: int, documented: set[str] | None = None) -> Any:
    """``body`` with the model pinned, ``max_tokens`` capped and message contents short; with
    ``documented`` (the properties the request schema has), only those are set (an embedding
    request has no ``max_tokens``)."""
    if not isinstance(body, dict):
        return body
    body = copy.deepcopy(body)
    if documented is None or "model" in documented:
        body["model"] = model
    if documented is None or "max_tokens" in documented:
        limit = body.get("max_tokens")
        body["max_tokens"] = min(limit, max_tokens) if is_int(limit) and limit > 0 else max_tokens
    for message in body.get("messages") or []:
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            message["content"] = message["content"][:MAX_CONTENT]
    return body


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


def scenario_cases(model: str, reasoner: str | None = None, *, max_tokens: int = 16) -> list[Case]:
    """One case per documented feature, written so that any conforming server shows the
    feature whatever the model (a tool call forced by ``tool_choice``, a prompt whose answer
    reaches the stop sequence, a ``max_tokens`` that cuts the answer); ``reasoner`` adds the
    reasoning-model cases."""
    hi = [{"role": "user", "content": "Hi"}]
    count = [{"role": "user", "content": "Count from 1 to 30, comma separated."}]
    essay = [{"role": "user", "content": "Write a long story about the sea."}]
    # the tools-auto cases ask for the tool by name, as the forced ones name it: a small model
    # asked only "what is the weather" answers in words, and the stream + tools + auto path
    # (llama-cpp-python answered it with an empty body) was never taken
    weather = [
        {
            "role": "user",
            "content": "Call the get_weather tool to find the weather in Paris.",
        }
    ]
    small = max_tokens
    # room to reach a stop sequence, close a JSON object or write a tool call's arguments:
    # the only cases that may ask for more than --max-tokens
    enough = max(64, max_tokens)
    named = {"type": "function", "function": {"name": "get_time"}}

    def body(**extra: Any) -> dict[str, Any]:
        return {"model": model, "messages": hi, **extra}

    call = {
        "id": "call_0",
        "type": "function",
        "function": {"name": "get_weather", "arguments": json.dumps({"city": "Paris"})},
    }
    round_trip = [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "content": '{"sky": "clear"}', "tool_call_id": "call_0"},
    ]
    turns = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "Again"},
    ]
    cases = [
        Case(name="plain", body=body(max_tokens=small)),
        Case(name="system-multi-turn", body=body(messages=turns, max_tokens=small)),
        Case(name="stream", body=body(stream=True, max_tokens=max(small, 64))),
        Case(
            name="stream-include-usage",
            body=body(stream=True, stream_options={"include_usage": True}, max_tokens=small),
        ),
        Case(
            name="stream-include-usage-false",
            body=body(stream=True, stream_options={"include_usage": False}, max_tokens=small),
        ),
        Case(name="max-tokens-length", body=body(messages=essay, max_tokens=3)),
        Case(
            name="stream-max-tokens-length",
            body=body(messages=essay, stream=True, max_tokens=3),
        ),
        Case(name="stop-string", body=body(messages=count, stop="7", max_tokens=enough)),
        Case(name="stop", body=body(messages=count, stop=["7", "e"], max_tokens=enough)),
        Case(
            name="stream-stop", body=body(messages=count, stream=True, stop="7", max_tokens=enough)
        ),
        Case(
            name="json-object",
            body=body(
                messages=[{"role": "user", "content": "Reply in JSON"}],
                response_format={"type": "json_object"},
                max_tokens=enough,
            ),
        ),
        Case(
            name="stream-json-object",
            body=body(
                messages=[{"role": "user", "content": "Reply in JSON"}],
                response_format={"type": "json_object"},
                stream=True,
                max_tokens=enough,
            ),
        ),
        Case(
            name="tools-auto",
            body=body(
                messages=weather, tools=[WEATHER_TOOL], tool_choice="auto", max_tokens=enough
            ),
        ),
        Case(
            name="tools-required",
            body=body(tools=[WEATHER_TOOL], tool_choice="required", max_tokens=enough),
        ),
        Case(
            name="tools-named",
            body=body(tools=[WEATHER_TOOL, CLOCK_TOOL], tool_choice=named, max_tokens=enough),
        ),
        Case(
            name="tools-round-trip",
            body=body(
                messages=round_trip, tools=[WEATHER_TOOL], tool_choice="none", max_tokens=small
            ),
        ),
        Case(
            name="stream-tools-required",
            body=body(stream=True, tools=[WEATHER_TOOL], tool_choice="required", max_tokens=enough),
        ),
        Case(
            name="stream-tools-named",
            body=body(
                stream=True, tools=[WEATHER_TOOL, CLOCK_TOOL], tool_choice=named, max_tokens=enough
            ),
        ),
        Case(
            name="stream-tools-auto",
            body=body(
                messages=weather,
                stream=True,
                tools=[WEATHER_TOOL],
                tool_choice="auto",
                max_tokens=enough,
            ),
        ),
        Case(
            name="stream-tools-round-trip",
            body=body(
                messages=round_trip,
                tools=[WEATHER_TOOL],
                tool_choice="none",
                stream=True,
                max_tokens=small,
            ),
        ),
        Case(name="temperature-0", body=body(temperature=0, max_tokens=small)),
        Case(name="bounds", body=body(temperature=2, top_p=1, max_tokens=small)),
    ]
    for top in (0, 5, 20):
        cases.append(
            Case(
                name=f"logprobs-top-{top}", body=body(logprobs=True, top_logprobs=top, max_tokens=4)
            )
        )
        cases.append(
            Case(
                name=f"stream-logprobs-top-{top}",
                body=body(stream=True, logprobs=True, top_logprobs=top, max_tokens=4),
            )
        )
    if reasoner:
        cases += [
            Case(name="reasoner", body={**body(max_tokens=small), "model": reasoner}),
            Case(
                name="reasoner-stream",
                body={**body(stream=True, max_tokens=small), "model": reasoner},
            ),
            Case(
                name="reasoner-multi-turn",
                body={**body(messages=turns, stream=True, max_tokens=small), "model": reasoner},
            ),
        ]
    return cases


def negative_cases(model: str, *, max_tokens: int = 16) -> list[Case]:
    """Hand-picked invalid requests: a body that is not JSON (once per run), a tool call whose
    id is not a string deep in a round trip (real servers have let it through), and each
    cross-field rule broken alone (``tool_choice`` without ``tools``, ``top_logprobs``
    without ``logprobs``, a tool message that answers no call). The constraints at the top of
    the schema are broken one at a time by :func:`mutation_cases`. A case the contract does not
    reject (a document without the rule) is dropped when the run is planned."""
    call = {
        "id": 401,
        "type": "function",
        "function": {"name": "get_weather", "arguments": json.dumps({"city": "Paris"})},
    }
    hi = [{"role": "user", "content": "Hi"}]
    weather = {"role": "user", "content": "Weather in Paris?"}
    asked = {
        "role": "assistant",
        "content": None,
        "tool_calls": [{**call, "id": "call_0"}],
    }

    def reject(name: str, **fields: Any) -> Case:
        body = {"model": model, "messages": hi, **fields, "max_tokens": max_tokens}
        return Case(name=name, body=body, expectation="reject", source="negative")

    cross_field = [
        reject("negative-tool-choice-without-tools", tool_choice="required"),
        reject("negative-top-logprobs-without-logprobs", top_logprobs=2),
        reject(
            "negative-tool-message-without-call",
            messages=[weather, {"role": "tool", "content": "{}", "tool_call_id": "call_0"}],
        ),
        reject(  # call_0 answered, then an answer to no call: REQUEST-TOOL-ID-001 alone
            "negative-tool-call-id-unanswered",
            messages=[
                weather,
                asked,
                {"role": "tool", "content": "{}", "tool_call_id": "call_0"},
                {"role": "tool", "content": "{}", "tool_call_id": "call_9"},
            ],
        ),
        reject(  # a user message before call_0 is answered: REQUEST-TOOL-ANSWERED-001 alone
            "negative-tool-calls-not-answered",
            messages=[weather, asked, {"role": "user", "content": "Well?"}],
        ),
        reject(  # REQUEST-TOOL-CHOICE-001 alone
            "negative-tool-choice-unknown-function",
            tools=[WEATHER_TOOL],
            tool_choice={"type": "function", "function": {"name": "get_time"}},
        ),
    ]
    return [
        Case(
            name="invalid-json",
            raw=b'{"model": "' + model.encode() + b'", "messages": [',
            expectation="reject",
            source="negative",
        ),
        Case(
            name="invalid-tool-call-id",
            body={
                "model": model,
                "messages": [
                    {"role": "user", "content": "Weather in Paris?"},
                    {"role": "assistant", "content": None, "tool_calls": [call]},
                    {"role": "tool", "content": '{"sky": "clear"}', "tool_call_id": "401"},
                ],
                "max_tokens": max_tokens,
            },
            expectation="reject",
            source="negative",
        ),
        *cross_field,
    ]


def valid_base(model: str, max_tokens: int) -> dict[str, Any]:
    """The smallest valid body: what a negative breaks one constraint of."""
    return {
        "model": model,
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": max_tokens,
    }


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
    stamp = _stamp(operation, main)
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


def operation_of(contract: Contract, case: Case) -> Operation:
    """The operation a case is sent to (the main one when the document has no other there)."""
    for operation in contract.operations:
        if operation.method.upper() == case.method.upper() and operation.path == case.path:
            return operation
    return contract.operation()


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
    slug = operation.path.strip("/").replace("/", "-") or "root"
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


#: Path parameters that name a model: the run's model fills them (``GET /models/{model}``).
MODEL_PARAMETERS = ("model", "model_id")

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
    slug = operation.path.strip("/").replace("/", "-") or "root"
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
    if count > 0 and any(p.location == "query" for p in operation.parameters):
        for drawn in _draw_positives(contract, count, seed, operation, part="query"):
            if len([c for c in cases if c.source == "property"]) >= count:
                break
            if not isinstance(drawn, dict):
                continue
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
        value = sample(contract, properties.get(name))
        if value is None:
            return None
        body[name] = value
    body = frugal(body, model=model, max_tokens=max_tokens, documented=set(properties))
    return body if request_is_valid(contract, body, operation) else None


#: Other names of the output token limit (the Responses API's, chat's newer one).
OUTPUT_LIMITS = ("max_output_tokens", "max_completion_tokens")


def _output_capped(contract: Contract, operation: Operation, body: Any, max_tokens: int) -> Any:
    """``body`` with every other output limit its operation documents set to ``max_tokens``
    (or the schema's minimum for it, when higher): a drawn body without one lets a server
    write until its context is full."""
    if not isinstance(body, dict) or operation.request_schema is None:
        return body
    properties = object_schema(contract, contract.schema(operation.request_schema))[1]
    for name in OUTPUT_LIMITS:
        if name not in properties:
            continue
        floor = max(
            (
                b["minimum"]
                for b in schema_branches(contract, properties[name])
                if is_int(b.get("minimum"))
            ),
            default=0,
        )
        limit = max(max_tokens, floor)
        given = body.get(name)
        body = {**body, name: min(given, limit) if is_int(given) and given >= floor else limit}
    return body


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


def auth_cases(model: str) -> list[Case]:
    """The auth cases: a valid request sent with no key and with a wrong key (each must get 401)."""
    hi = [{"role": "user", "content": "Hi"}]
    body = {"model": model, "messages": hi, "max_tokens": 8}
    return [
        Case(
            name="auth-missing", body=body, auth="none", expectation="unauthorized", source="auth"
        ),
        Case(name="auth-wrong", body=body, auth="wrong", expectation="unauthorized", source="auth"),
    ]


#: The largest generated body (bytes of JSON): small enough to read and replay by hand.
MAX_BODY = 4096
#: The most choices a generated positive asks for (``n``).
MAX_CHOICES = 2


def body_key(body: Any) -> str:
    """A body as text, keys sorted: two cases with the same key send the same bytes."""
    return json.dumps(body, sort_keys=True, default=str)


def _documented_properties(contract: Contract, operation: Operation) -> list[str]:
    location = operation.request_schema
    return list(object_schema(contract, contract.schema(location))[1]) if location else []


def _allof_parts(node: Any, found: set[int]) -> None:
    """The ids of every allOf part, and of the schemas their ``$ref`` s point to."""
    if isinstance(node, dict):
        for part in node.get("allOf") or []:
            found.add(id(part))
        for value in node.values():
            _allof_parts(value, found)
    elif isinstance(node, list):
        for value in node:
            _allof_parts(value, found)


def _documented_only(document: dict[str, Any]) -> None:
    """In place: objects that list their properties take no others (for generation only), so
    positives carry no keys a strict server rejects ("Unrecognized request argument"). The
    parts of an allOf stay open: closing each would forbid the other parts' properties."""
    parts: set[int] = set()
    _allof_parts(document, parts)
    schemas = (document.get("components") or {}).get("schemas") or {}
    referenced = {
        id(schemas[ref.rsplit("/", 1)[-1]])
        for node in _walk(document)
        for part in node.get("allOf") or []
        if isinstance(part, dict)
        and isinstance(ref := part.get("$ref"), str)
        and ref.startswith("#/components/schemas/")
        and ref.rsplit("/", 1)[-1] in schemas
    }
    left_open = parts | referenced
    for node in _walk(document):
        if (
            isinstance(node.get("properties"), dict)
            and "additionalProperties" not in node
            and "allOf" not in node
            and id(node) not in left_open
        ):
            node["additionalProperties"] = False


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


#: The modalities ``--modalities`` names, and the content part types of each (a part of
#: another type, such as an assistant's ``refusal``, is text).
MODALITIES: dict[str, tuple[str, ...]] = {
    "text": ("text", "refusal"),
    "image": ("image_url",),
    "audio": ("input_audio",),
    "file": ("file",),
}


def _within(body: Any, modalities: frozenset[str]) -> bool:
    """Whether every content part of ``body`` 's messages is of one of ``modalities`` (a
    text-only model rightly rejects image_url, input_audio and file parts)."""
    allowed = {kind for name in modalities for kind in MODALITIES.get(name, ())}
    known = {kind for kinds in MODALITIES.values() for kind in kinds}
    for message in body.get("messages") or [] if isinstance(body, dict) else []:
        content = message.get("content") if isinstance(message, dict) else None
        for part in content if isinstance(content, list) else []:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind in known and kind not in allowed:
                return False
    return True


#: The most items a generated positive keeps in any array (messages, tool calls, tools...).
MAX_ITEMS = 3


def _trimmed(value: Any) -> Any:
    """``value`` with every array cut to ``MAX_ITEMS``, every string to ``MAX_CONTENT``
    characters, and every integral float written as an integer (JSON Schema counts 6.0 as an
    integer, strict deserialisers do not): shallow, short bodies a person can replay, which a
    strict server accepts (the result is validated again)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _trimmed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_trimmed(v) for v in value[:MAX_ITEMS]]
    if isinstance(value, str):
        return value[:MAX_CONTENT]
    return value


def _answer_tool_calls(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` made to keep the cross-message request rules, as a drawn positive must (a
    server that behaves like DeepSeek answered 400 to most drawn histories otherwise):

    - each assistant message's tool calls get distinct string ids, and are followed at once
      by one tool message per id (REQUEST-TOOL-ANSWERED-001): the drawn tool messages that
      follow it answer its calls in order, missing answers are added (content ``"{}"``),
      surplus ones dropped;
    - a tool message anywhere else answers no call (REQUEST-TOOL-ID-001): dropped;
    - a ``tool_choice`` that names a function names one of ``tools`` (REQUEST-TOOL-CHOICE-001):
      the first tool's, or ``tool_choice`` is left out when there is none to name.
    """
    messages = body.get("messages")
    if isinstance(messages, list):
        kept: list[Any] = []
        i = 0
        while i < len(messages):
            message = messages[i]
            i += 1
            if isinstance(message, dict) and message.get("role") == "tool":
                continue  # answers no call of the assistant message right before it
            kept.append(message)
            if not (isinstance(message, dict) and message.get("role") == "assistant"):
                continue
            calls = message.get("tool_calls")
            if not (isinstance(calls, list) and calls):
                continue
            ids: list[str] = []
            for n, call in enumerate(calls):
                if not isinstance(call, dict):
                    continue
                if not isinstance(call.get("id"), str) or call["id"] in ids:
                    call["id"] = f"call_{len(kept)}_{n}"
                ids.append(call["id"])
            answers = []
            while i < len(messages) and isinstance(messages[i], dict):
                if messages[i].get("role") != "tool":
                    break
                answers.append(messages[i])
                i += 1
            for n, ident in enumerate(ids):
                answer = answers[n] if n < len(answers) else {"role": "tool", "content": "{}"}
                kept.append({**answer, "tool_call_id": ident})
        if kept:
            body["messages"] = kept
    choice = body.get("tool_choice")
    kinds = {t.get("type") for t in body.get("tools") or [] if isinstance(t, dict)}
    if isinstance(choice, dict) and choice.get("type") not in ("function", "allowed_tools", *kinds):
        del body["tool_choice"]  # a kind of tool that tools has none of
    elif isinstance(choice, dict) and choice.get("type") == "function":
        names = sorted(_tool_function_names(body.get("tools")))
        function = choice.get("function")
        named = function.get("name") if isinstance(function, dict) else choice.get("name")
        if names and named not in names:
            if isinstance(function, dict):
                body["tool_choice"] = {**choice, "function": {**function, "name": names[0]}}
            else:
                body["tool_choice"] = {**choice, "name": names[0]}
        elif not names:
            del body["tool_choice"]
    return body


def meaningful(body: dict[str, Any], base: dict[str, Any] | None) -> dict[str, Any]:
    """A drawn ``body`` as a client would send it: optional fields left out rather than sent
    as null (``"name": null`` in a message, ``"prompt": null``: 400 on vLLM; the official SDKs
    omit what is not given), and ``base``'s inputs (the operation's example or smallest
    meaningful body) where the draw left them out or empty (``prompt: ""``: 400 or 500 on five
    servers; a ``/responses`` body without ``input``). The result is validated by the caller."""
    out: dict[str, Any] = _without_nulls(body)
    for name, value in (base or {}).items():
        if name == "messages" and out.get(name):
            continue  # drawn conversations are what chat positives explore
        if _degenerate(out.get(name)):
            out[name] = copy.deepcopy(value)
    return out


def _degenerate(value: Any) -> bool:
    """An input no client sends: nothing, an empty string or container, one holding an empty
    string, or token ids no vocabulary has (negative, or past a million)."""
    if value in (None, "", [], {}):
        return True
    if isinstance(value, list):
        return any(
            item == "" or (is_int(item) and not 0 <= item < 1_000_000) or _degenerate_list(item)
            for item in value
        )
    return False


def _degenerate_list(item: Any) -> bool:
    return isinstance(item, list) and (not item or _degenerate(item))


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _tool_function_names(tools: Any) -> list[str]:
    names = []
    for tool in tools if isinstance(tools, list) else []:
        function = tool.get("function") if isinstance(tool, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        if name is None and isinstance(tool, dict):
            name = tool.get("name")
        if isinstance(name, str):
            names.append(name)
    return names


def _draw_positives(
    contract: Contract,
    count: int,
    seed: int,
    operation: Operation | None = None,
    part: str = "body",
) -> list[Any]:
    """Bodies (or the ``query`` dicts) schemathesis draws from the request schema and the
    parameters (repeatable by ``seed``), with every object closed to undocumented
    properties."""
    import warnings

    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed
    from schemathesis import GenerationMode

    from ..contract import effective_document

    operation = operation or contract.operation()
    document = effective_document(contract)
    _documented_only(document)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        schema = schemathesis.openapi.from_dict(document)
        api_operation = schema[operation.path][operation.method.upper()]
        strategy = api_operation.as_strategy(GenerationMode.POSITIVE)
    drawn: list[Any] = []

    @hypothesis_seed(seed)
    @settings(
        max_examples=count * 8,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def draw(case: Any) -> None:
        drawn.append(getattr(case, part))

    with warnings.catch_warnings(), _no_local_constants():
        warnings.simplefilter("ignore")
        draw()
    return drawn


@contextlib.contextmanager
def _no_local_constants() -> Iterator[None]:
    """Draws that depend on the seed, the contract and the options only.

    Hypothesis mixes into what it draws constants it mines from the source of every "local"
    module loaded (one not in site-packages: an editable install of this package, the
    ``__main__`` script, the user's own code in a pytest session). The same ``--seed`` drew
    other bodies from ``pip install -e .`` than from ``pip install .``, and from
    ``python -m conformance._cli`` than from ``conformance``: a CI failure could not be
    replayed from a checkout. Hypothesis has no setting for it, so its private hook is
    replaced for the draw (and its cache of allowed constants cleared, before and after); a
    Hypothesis without that hook draws as it does, and the repeatability test says so."""
    try:
        from hypothesis.internal.conjecture import providers
        from hypothesis.internal.constants_ast import Constants
    except ImportError:  # pragma: no cover - a Hypothesis without it mines nothing
        yield
        return
    original = getattr(providers, "_get_local_constants", None)
    cache = getattr(getattr(providers, "CONSTANTS_CACHE", None), "cache", None)
    if original is None or cache is None:  # pragma: no cover
        yield
        return
    empty = Constants()
    providers._get_local_constants = lambda: empty
    cache.clear()
    try:
        yield
    finally:
        providers._get_local_constants = original
        cache.clear()


def generated_cases(
    contract: Contract,
    *,
    count: int,
    seed: int,
    model: str,
    max_tokens: int,
    negative: bool = False,
    exclude: set[str] | None = None,
    modalities: frozenset[str] = frozenset({"text"}),
    operation: Operation | None = None,
    base: dict[str, Any] | None = None,
) -> list[Case]:
    """Bodies drawn by schemathesis from the effective request schema of ``operation``
    (default: the main one; repeatable by ``seed``), made meaningful (:func:`meaningful`:
    ``base``'s inputs where the draw left them out or empty, optional fields left out rather
    than null) and keeping the cross-message rules (:func:`_answer_tool_calls`).

    Positives: only documented properties, content parts of ``modalities`` only, at most ``MAX_CHOICES`` choices, the
    model pinned, ``max_tokens`` capped, at most ``MAX_BODY`` bytes, and valid. Negatives: such
    a positive with one documented constraint broken (a mutation of :func:`mutations`, drawn by
    ``seed``), kept only when that is the one thing the contract rejects. Bodies whose
    :func:`body_key` is in ``exclude`` (the run's other cases) are not drawn again.
    """
    if count <= 0:
        return []
    main = contract.operation()
    operation = operation or main
    stamp = _stamp(operation, main)
    catalogue = mutations(contract, operation)
    rng = random.Random(seed)
    cases: list[Case] = []
    seen: set[str] = set(exclude or ())
    documented = set(_documented_properties(contract, operation))
    for body in _draw_positives(contract, count, seed, operation):
        if len(cases) >= count:
            break
        if not isinstance(body, dict) or not _within(body, modalities):
            continue
        # only documented properties (the schema's allOf parts cannot all be closed)
        documented_only = {k: _trimmed(v) for k, v in body.items() if k in documented}
        body = _answer_tool_calls(
            frugal(
                meaningful(documented_only, base),
                model=model,
                max_tokens=max_tokens,
                documented=documented,
            )
        )
        body = _output_capped(contract, operation, body, max_tokens)
        if is_int(body.get("n")) and body["n"] > MAX_CHOICES:
            body["n"] = MAX_CHOICES
        if not request_is_valid(contract, body, operation):
            continue
        name = f"{stamp['prefix']}property-{len(cases) + 1}"
        if negative:
            if not catalogue:
                return []
            mutation = pick(catalogue, rng)
            body = make_negative(contract, body, mutation, operation)
            if body is None:
                continue
            name = f"{stamp['prefix']}negative-{len(cases) + 1}-{mutation.name}"
        key = body_key(body)
        if key in seen or len(key.encode()) > MAX_BODY:
            continue
        seen.add(key)
        cases.append(
            Case(
                name=name,
                body=body,
                expectation="reject" if negative else "accept",
                source="negative" if negative else "property",
                method=operation.method.upper(),
                path=operation.path,
                family=str(stamp["family"]),
            )
        )
    return cases


def _stamp(operation: Operation, main: Operation) -> dict[str, str]:
    """How the cases of ``operation`` are named (its path as a prefix, unless it is the main
    one) and which rule family judges them."""
    if operation is main:
        return {"prefix": "", "family": operation.rule_family}
    slug = operation.path.strip("/").replace("/", "-") or "root"
    return {"prefix": f"{slug}-", "family": operation.rule_family}


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


@dataclass(frozen=True, kw_only=True, slots=True)
class TokenBudget:
    """What a plan may spend on a server that answers the valid cases and rejects the others:
    completion tokens (each valid case's ``max_tokens`` times its ``n``), an estimate of prompt tokens (a token per 4 bytes of
    message text), the cases with no cap, and the reasoning-model cases (whose chain of
    thought ``max_tokens`` does not bound: DSR1)."""

    completion: int
    prompt: int
    uncapped: int
    reasoning: int


def token_budget(cases: list[Case], *, model: str) -> TokenBudget:
    """The :class:`TokenBudget` of ``cases`` (sent with ``model``, the others reasoning)."""
    completion = prompt = uncapped = reasoning = 0
    for case in cases:
        body = case.body
        if not isinstance(body, dict) or case.expectation != "accept":
            continue
        limit, n = body.get("max_tokens"), body.get("n")
        if is_int(limit) and limit > 0:
            completion += limit * (n if is_int(n) and n > 0 else 1)
        else:
            uncapped += 1
        if body.get("model") != model:
            reasoning += 1
        prompt += len(json.dumps(body.get("messages"), ensure_ascii=False).encode()) // 4
    return TokenBudget(completion=completion, prompt=prompt, uncapped=uncapped, reasoning=reasoning)
