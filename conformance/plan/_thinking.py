"""The thinking-mode scenarios, for a request schema that documents the switch
``thinking: {"type": "enabled" | "disabled"}`` (DeepSeek V4, Moonshot: DSTHINK in
docs/sources.md): each state, streamed and not; each ``reasoning_effort`` the schema
documents; thinking through a tool call and its round trip (the reasoning replayed, as DSTHINK
asks); and the forced tool choice thinking mode refuses, a negative kept only where the
contract says so (DSTOOLCHOICE in the V4 overlay).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from ._case import Case
from ._scenarios import ASK_WEATHER, HI, WEATHER_CALL, WEATHER_TOOL

if TYPE_CHECKING:
    from ..contract import Contract

__all__ = ["THINKING_OFF", "THINKING_ON", "thinking_cases", "thinks"]

THINKING_ON = {"type": "enabled"}
THINKING_OFF = {"type": "disabled"}


def thinks(body: Any) -> bool:
    """Whether a request asks for thinking mode in so many words."""
    switch = body.get("thinking") if isinstance(body, dict) else None
    return isinstance(switch, dict) and switch.get("type") == "enabled"


def thinking_cases(contract: Contract, model: str, *, max_tokens: int = 16) -> list[Case]:
    """The thinking-mode cases of the main operation, or none when its request schema does not
    name ``thinking``."""
    location = contract.operation().request_schema
    if location is None or not contract.names_property(location, "thinking"):
        return []
    enough = max(64, max_tokens)

    def case(name: str, thinking: dict[str, str], **extra: Any) -> Case:
        body = {"model": model, "messages": HI, "thinking": thinking, **extra}
        return Case(name=name, body={"max_tokens": max_tokens, **body})

    weather = copy.deepcopy(ASK_WEATHER)
    call = copy.deepcopy(WEATHER_CALL)
    replayed = [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "reasoning_content": "The user asks for the weather in Paris: call get_weather.",
            "tool_calls": [call],
        },
        {"role": "tool", "content": '{"sky": "clear"}', "tool_call_id": "call_0"},
    ]
    cases = [
        case("thinking-enabled", THINKING_ON),
        case("thinking-enabled-stream", THINKING_ON, stream=True),
        case("thinking-disabled", THINKING_OFF),
        case("thinking-disabled-stream", THINKING_OFF, stream=True),
    ]
    efforts = contract.property_values(location, "reasoning_effort")
    cases += [
        case(f"thinking-effort-{effort}", THINKING_ON, reasoning_effort=effort)
        for effort in efforts
        if isinstance(effort, str) and effort.isidentifier()
    ]
    tools = {"tools": [WEATHER_TOOL], "tool_choice": "auto"}
    cases += [
        case("thinking-tools-auto", THINKING_ON, messages=weather, max_tokens=enough, **tools),
        case(
            "thinking-tool-round-trip",
            THINKING_ON,
            messages=replayed,
            stream=True,
            stream_options={"include_usage": True},
            **tools,
        ),
        Case(
            name="negative-thinking-tool-choice-required",
            body={
                "model": model,
                "messages": weather,
                "thinking": THINKING_ON,
                "tools": [WEATHER_TOOL],
                "tool_choice": "required",
                "max_tokens": max_tokens,
            },
            expectation="reject",
            source="negative",
        ),
    ]
    return cases
