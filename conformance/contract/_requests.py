"""Request rules a schema cannot say, and every error of a request body in one place.

JSON Schema cannot compare values across array items, so "a ``tool`` message answers a tool
call made earlier in the conversation" is code. Each rule has a stable id, a severity and a
source (docs/sources.md), like the response rules of the checks stage, and reports its
findings as jsonschema ``ValidationError`` s (``validator`` is the rule id), so the reference
server, the case planner and the violations a negative carries read them exactly as they
read the schema's own errors.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jsonschema import ValidationError

from .._vocab import Severity

if TYPE_CHECKING:
    from ._model import Contract, Operation, Parameter

__all__ = [
    "REQUEST_RULES",
    "RequestRule",
    "parameter_errors",
    "parameter_text",
    "request_errors",
    "request_is_valid",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class RequestRule:
    """A rule of valid requests that the request schema cannot hold."""

    id: str
    severity: Severity
    source: str
    summary: str
    #: The operation paths (suffixes) the rule belongs to.
    paths: tuple[str, ...]
    find: Callable[[Any], Iterator[ValidationError]]


def _tool_ids_answered(body: Any) -> Iterator[ValidationError]:
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list) or not any(
        isinstance(m, dict) and m.get("role") == "assistant" and m.get("tool_calls")
        for m in messages
    ):
        return  # no tool call at all: the schema's own rule (errata) says so
    made: set[str] = set()
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            continue
        calls = message.get("tool_calls") if message.get("role") == "assistant" else None
        for call in calls if isinstance(calls, list) else []:
            ident = call.get("id") if isinstance(call, dict) else None
            if not isinstance(ident, str):
                return  # a call without a string id is the schema's to reject, not this rule's
            made.add(ident)
        answer = message.get("tool_call_id")
        if message.get("role") == "tool" and isinstance(answer, str) and answer not in made:
            known = ", ".join(repr(m) for m in sorted(made)) or "none"
            yield ValidationError(
                f"tool_call_id {answer!r} answers no tool call made before it "
                f"(earlier tool call ids: {known})",
                validator="REQUEST-TOOL-ID-001",
                validator_value=sorted(made),
                instance=answer,
                path=["messages", i, "tool_call_id"],
            )


def _tool_calls_answered(body: Any) -> Iterator[ValidationError]:
    """Each assistant message with tool calls is followed, before any other role, by one tool
    message for each of its call ids."""
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list):
        return
    for i, message in enumerate(messages):
        if not (isinstance(message, dict) and message.get("role") == "assistant"):
            continue
        calls = message.get("tool_calls")
        if not isinstance(calls, list) or not calls:
            continue
        ids = [c.get("id") for c in calls if isinstance(c, dict)]
        if not all(isinstance(ident, str) for ident in ids):
            continue  # a call without a string id is the schema's to reject
        answered: set[str] = set()
        for later in messages[i + 1 :]:
            if not (isinstance(later, dict) and later.get("role") == "tool"):
                break
            if isinstance(later.get("tool_call_id"), str):
                answered.add(later["tool_call_id"])
        missing = [ident for ident in ids if ident not in answered]
        if missing:
            yield ValidationError(
                "an assistant message with tool_calls must be followed by tool messages "
                "responding to each tool_call_id before any other message; not answered: "
                + ", ".join(repr(m) for m in missing),
                validator="REQUEST-TOOL-ANSWERED-001",
                validator_value=missing,
                instance=calls,
                path=["messages", i, "tool_calls"],
            )


def _tool_names(tools: Any) -> set[str]:
    """The function names of ``tools`` (chat's ``function.name`` or the Responses API's
    flat ``name``)."""
    names: set[str] = set()
    for tool in tools if isinstance(tools, list) else []:
        if not isinstance(tool, dict):
            continue
        function = tool.get("function")
        name = function.get("name") if isinstance(function, dict) else tool.get("name")
        if isinstance(name, str):
            names.add(name)
    return names


#: tool_choice types that name no one tool (the Responses API's list of allowed tools).
_CHOICE_WITHOUT_TOOL = frozenset({"allowed_tools"})


def _tool_choice_named(body: Any) -> Iterator[ValidationError]:
    """A ``tool_choice`` that names a function names one of ``tools``; one that names another
    kind of tool (``{"type": "file_search"}``, ``shell``, ``mcp``...) has one of that kind."""
    choice = body.get("tool_choice") if isinstance(body, dict) else None
    if not isinstance(choice, dict) or not isinstance(choice.get("type"), str):
        return
    if choice["type"] in _CHOICE_WITHOUT_TOOL:
        return
    if choice["type"] != "function":
        tools = body.get("tools")
        kinds = (
            {t.get("type") for t in tools if isinstance(t, dict)}
            if isinstance(tools, list)
            else set()
        )
        if choice["type"] not in kinds:
            yield ValidationError(
                f"tool_choice asks for a {choice['type']!r} tool, and tools has none",
                validator="REQUEST-TOOL-CHOICE-001",
                validator_value=sorted(str(k) for k in kinds),
                instance=choice,
                path=["tool_choice"],
            )
        return
    function = choice.get("function")
    name = function.get("name") if isinstance(function, dict) else choice.get("name")
    if not isinstance(name, str):
        return  # the schema's to reject
    known = _tool_names(body.get("tools"))
    if name not in known:
        listed = ", ".join(repr(n) for n in sorted(known)) or "none"
        yield ValidationError(
            f"tool_choice names the function {name!r}, which is not one of tools ({listed})",
            validator="REQUEST-TOOL-CHOICE-001",
            validator_value=sorted(known),
            instance=choice,
            path=["tool_choice"],
        )


REQUEST_RULES: tuple[RequestRule, ...] = (
    RequestRule(
        id="REQUEST-TOOL-ID-001",
        severity="MUST",
        source="DS25; OAI",
        summary="a tool message's tool_call_id is the id of a tool call of an earlier "
        "assistant message",
        paths=("/chat/completions",),
        find=_tool_ids_answered,
    ),
    RequestRule(
        id="REQUEST-TOOL-ANSWERED-001",
        severity="MUST",
        source="TOOLSEQ (DeepSeek: 'An assistant message with 'tool_calls' must be followed by "
        "tool messages responding to each 'tool_call_id'. (insufficient tool messages "
        "following tool_calls message)'; OpenAI: 'The following tool_call_ids did not have "
        "response messages')",
        summary="an assistant message with tool_calls is followed, before any other role, by "
        "a tool message for each of its call ids",
        paths=("/chat/completions",),
        find=_tool_calls_answered,
    ),
    RequestRule(
        id="REQUEST-TOOL-CHOICE-001",
        severity="MUST",
        source='DS25 tool_choice (\'Specifying a particular tool via {"type": "function", '
        '"function": {"name": "my_function"}} forces the model to call that tool\'); '
        "OAI ToolChoiceFunction (the name of the function to call)",
        summary="a tool_choice that names a function names one of tools (one that names "
        "another kind of tool: tools has one of that kind)",
        paths=("/chat/completions", "/responses"),
        find=_tool_choice_named,
    ),
)


def request_errors(
    contract: Contract, body: Any, operation: Operation | None = None
) -> Iterator[ValidationError]:
    """Every error of ``body`` as the request of ``operation`` (default: the profile's main
    one): the request schema's, then the request rules' (for the operations they belong to)."""
    operation = operation or contract.operation()
    if operation.request_schema is None:
        return
    yield from contract.validator(operation.request_schema).iter_errors(body)
    for rule in REQUEST_RULES:
        if operation.path.endswith(rule.paths):
            yield from rule.find(body)


def request_is_valid(contract: Contract, body: Any, operation: Operation | None = None) -> bool:
    """Whether ``body`` is a valid request of ``operation`` (schema and rules)."""
    return next(request_errors(contract, body, operation), None) is None


_INTEGER = re.compile(r"-?\d+")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")


def _types(contract: Contract, pointer: str | None) -> list[str]:
    try:
        schema: Any = contract.schema(pointer) if pointer else None
        for _ in range(16):
            if isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
                pointer = schema["$ref"][1:]
                schema = contract.schema(pointer)
    except (KeyError, LookupError):
        return []
    if not isinstance(schema, dict):
        return []
    kinds = schema.get("type")
    out = [str(k) for k in kinds] if isinstance(kinds, list) else [str(kinds)] if kinds else []
    # the types of its branches too (FastAPI's optional integer: anyOf [integer, null])
    for keyword in ("anyOf", "oneOf"):
        branches = schema.get(keyword)
        if isinstance(branches, list) and pointer is not None:
            for index, _ in enumerate(branches):
                out += [k for k in _types(contract, f"{pointer}/{keyword}/{index}") if k not in out]
    return out


def _read(text: str, kinds: list[str]) -> Any:
    """A parameter's text as the JSON value its schema's type reads (OAS style ``form`` or
    ``simple``, primitives): a text that is no such value stays a string, which the schema
    then rejects."""
    if "integer" in kinds and _INTEGER.fullmatch(text):
        return int(text)
    if "number" in kinds and _NUMBER.fullmatch(text):
        return float(text) if any(c in text for c in ".eE") else int(text)
    if "boolean" in kinds and text in ("true", "false"):
        return text == "true"
    if ("object" in kinds and text.startswith("{")) or ("array" in kinds and text.startswith("[")):
        with contextlib.suppress(ValueError):
            return json.loads(text)
    return text


def parameter_text(value: Any) -> str:
    """How a parameter's JSON value is written in a path or query (``true``, ``20``, ``x``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):  # an object or array given whole: as JSON
        return json.dumps(value, separators=(",", ":"))
    return value if isinstance(value, str) else str(value)


def parameter_errors(
    contract: Contract,
    operation: Operation,
    *,
    path: Mapping[str, str],
    query: Sequence[tuple[str, str]],
) -> Iterator[tuple[Parameter, ValidationError]]:
    """Every error of a request's path and query parameters, as sent (text), against the
    operation's parameters: a required one missing, or a value its schema rejects (read as
    the schema's type first: ``limit=20`` is the integer 20). Parameters the operation does
    not document are not errors (servers ignore them)."""
    given: dict[str, list[str]] = {}
    for name, text in query:
        given.setdefault(name, []).append(text)
    for parameter in operation.parameters:
        texts = (
            given.get(parameter.name, [])
            if parameter.location == "query"
            else ([path[parameter.name]] if parameter.name in path else [])
        )
        if not texts:
            if parameter.required:
                yield (
                    parameter,
                    ValidationError(
                        "missing (it is required)",
                        validator="required",
                        validator_value=[parameter.name],
                        instance=None,
                    ),
                )
            continue
        if parameter.schema is None:
            continue
        kinds = _types(contract, parameter.schema)
        value: Any = [_read(t, _types(contract, f"{parameter.schema}/items")) for t in texts]
        if "array" not in kinds:
            value = _read(texts[-1], kinds)
        for error in contract.validator(parameter.schema).iter_errors(value):
            yield parameter, error
