"""The scenario catalogue: one case per feature the chat contract documents, and the
hand-picked invalid requests (cross-field rules a schema cannot say).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from ._case import Case

__all__ = [
    "ASK_WEATHER",
    "CLOCK_TOOL",
    "WEATHER_CALL",
    "WEATHER_TOOL",
    "negative_cases",
    "scenario_cases",
    "valid_base",
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


def scenario_cases(
    model: str,
    reasoner: str | None = None,
    *,
    max_tokens: int = 16,
    modalities: frozenset[str] = frozenset({"text"}),
) -> list[Case]:
    """One case per documented feature, written so that any conforming server shows the
    feature whatever the model (a tool call forced by ``tool_choice``, a prompt whose answer
    reaches the stop sequence, a ``max_tokens`` that cuts the answer); ``reasoner`` adds the
    reasoning-model cases; an image in a user message when ``modalities`` has ``image``."""

    def body(**extra: Any) -> dict[str, Any]:
        return {"model": model, "messages": HI, **extra}

    # room to reach a stop sequence, close a JSON object or write a tool call's arguments:
    # the only cases that may ask for more than --max-tokens
    enough = max(64, max_tokens)
    cases = _output_scenarios(body, max_tokens, enough)
    cases += _tool_scenarios(body, max_tokens, enough)
    cases += _part_scenarios(body, max_tokens, modalities)
    cases += [
        Case(name="temperature-0", body=body(temperature=0, max_tokens=max_tokens)),
        Case(name="bounds", body=body(temperature=2, top_p=1, max_tokens=max_tokens)),
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
            Case(name="reasoner", body={**body(max_tokens=max_tokens), "model": reasoner}),
            Case(
                name="reasoner-stream",
                body={**body(stream=True, max_tokens=max_tokens), "model": reasoner},
            ),
            Case(
                name="reasoner-multi-turn",
                body={
                    **body(messages=TURNS, stream=True, max_tokens=max_tokens),
                    "model": reasoner,
                },
            ),
        ]
    return cases


HI = [{"role": "user", "content": "Hi"}]
#: A turn that asks for the weather tool by name, and the call a model makes of it.
ASK_WEATHER = [
    {"role": "user", "content": "Call the get_weather tool to find the weather in Paris."}
]
WEATHER_CALL = {
    "id": "call_0",
    "type": "function",
    "function": {"name": "get_weather", "arguments": json.dumps({"city": "Paris"})},
}
TURNS = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello."},
    {"role": "user", "content": "Again"},
]
_Body = Callable[..., dict[str, Any]]


def _output_scenarios(body: _Body, small: int, enough: int) -> list[Case]:
    """Plain answers and streams: usage in the stream or not, cut by ``max_tokens``, stopped
    by a stop sequence, JSON mode."""
    count = [{"role": "user", "content": "Count from 1 to 30, comma separated."}]
    essay = [{"role": "user", "content": "Write a long story about the sea."}]
    in_json = [{"role": "user", "content": "Reply in JSON"}]
    json_mode = {"type": "json_object"}
    return [
        Case(name="plain", body=body(max_tokens=small)),
        Case(name="system-multi-turn", body=body(messages=TURNS, max_tokens=small)),
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
            body=body(messages=in_json, response_format=json_mode, max_tokens=enough),
        ),
        Case(
            name="stream-json-object",
            body=body(messages=in_json, response_format=json_mode, stream=True, max_tokens=enough),
        ),
    ]


#: A one-pixel PNG as a data URL: an image any vision model can take, sent with the request.
PIXEL = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
)


def _part_scenarios(body: _Body, small: int, modalities: frozenset[str]) -> list[Case]:
    """A user message written as content parts: text parts (servers of the string-only era
    refuse the array: D2#20 in docs/sources.md), and an image with the text
    when the run says the model takes images. A document whose user content is a string only
    leaves them out (the plan says why)."""
    text = {"type": "text", "text": "Say hi."}
    cases = [
        Case(
            name="content-parts",
            body=body(messages=[{"role": "user", "content": [text]}], max_tokens=small),
        )
    ]
    if "image" in modalities:
        image = {"type": "image_url", "image_url": {"url": PIXEL}}
        asked = {"type": "text", "text": "What colour is this image?"}
        cases.append(
            Case(
                name="content-image",
                body=body(messages=[{"role": "user", "content": [asked, image]}], max_tokens=small),
            )
        )
    return cases


def _tool_scenarios(body: _Body, small: int, enough: int) -> list[Case]:
    """Tool calls: chosen by the model, required, named, and a round trip; each also streamed."""
    # the tools-auto cases ask for the tool by name, as the forced ones name it: a small model
    # asked only "what is the weather" answers in words, and the stream + tools + auto path
    # (llama-cpp-python answered it with an empty body) was never taken
    weather = copy.deepcopy(ASK_WEATHER)
    named = {"type": "function", "function": {"name": "get_time"}}
    call = copy.deepcopy(WEATHER_CALL)
    round_trip = [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "content": '{"sky": "clear"}', "tool_call_id": "call_0"},
    ]
    auto = {"messages": weather, "tools": [WEATHER_TOOL], "tool_choice": "auto"}
    required = {"tools": [WEATHER_TOOL], "tool_choice": "required"}
    by_name = {"tools": [WEATHER_TOOL, CLOCK_TOOL], "tool_choice": named}
    answered = {"messages": round_trip, "tools": [WEATHER_TOOL], "tool_choice": "none"}
    return [
        Case(name="tools-auto", body=body(**auto, max_tokens=enough)),
        Case(name="tools-required", body=body(**required, max_tokens=enough)),
        Case(name="tools-named", body=body(**by_name, max_tokens=enough)),
        Case(name="tools-round-trip", body=body(**answered, max_tokens=small)),
        Case(name="stream-tools-required", body=body(stream=True, **required, max_tokens=enough)),
        Case(name="stream-tools-named", body=body(stream=True, **by_name, max_tokens=enough)),
        Case(name="stream-tools-auto", body=body(**auto, stream=True, max_tokens=enough)),
        Case(name="stream-tools-round-trip", body=body(**answered, stream=True, max_tokens=small)),
    ]


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
