"""Cases: a request to send and what it expects; and the scenario catalogue.

Each scenario exercises one feature the contract documents, frugally (a short message, a small
max_tokens where the feature allows). The same catalogue drives the reference server's fault
matrix, so every fault has a scenario that shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Case", "scenario_cases"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Case:
    name: str
    body: Any = None  # the JSON body
    raw: bytes | None = None  # a body that is not JSON (malformed input)
    expectation: str = "accept"  # accept | reject | unauthorized
    auth: str = "valid"  # valid | none | wrong
    method: str = "POST"
    path: str = "/chat/completions"

    @property
    def stream(self) -> bool:
        return isinstance(self.body, dict) and self.body.get("stream") is True


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


def scenario_cases(model: str, reasoner: str | None = None) -> list[Case]:
    """One case per documented feature; ``reasoner`` adds the reasoning-model cases."""
    hi = [{"role": "user", "content": "Hi"}]

    def body(**extra: Any) -> dict[str, Any]:
        return {"model": model, "messages": hi, **extra}

    cases = [
        Case(name="plain", body=body(max_tokens=16)),
        Case(
            name="system-multi-turn",
            body=body(
                messages=[
                    {"role": "system", "content": "You are terse."},
                    {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": "Hello."},
                    {"role": "user", "content": "Again"},
                ],
                max_tokens=16,
            ),
        ),
        Case(name="stream", body=body(stream=True, max_tokens=64)),
        Case(
            name="stream-include-usage",
            body=body(stream=True, stream_options={"include_usage": True}, max_tokens=16),
        ),
        Case(name="logprobs", body=body(logprobs=True, top_logprobs=2, max_tokens=8)),
        Case(
            name="stream-logprobs",
            body=body(stream=True, logprobs=True, top_logprobs=2, max_tokens=8),
        ),
        Case(name="max-tokens-length", body=body(max_tokens=3)),
        Case(name="stop", body=body(stop=["e", "."], max_tokens=16)),
        Case(
            name="json-object",
            body=body(
                messages=[{"role": "user", "content": "Reply in JSON"}],
                response_format={"type": "json_object"},
                max_tokens=64,
            ),
        ),
        Case(name="tools-required", body=body(tools=[WEATHER_TOOL], tool_choice="required")),
        Case(
            name="stream-tools",
            body=body(stream=True, tools=[WEATHER_TOOL], tool_choice="auto"),
        ),
        Case(name="bounds", body=body(temperature=2, top_p=1, max_tokens=8)),
        Case(name="invalid-temperature", body=body(temperature=5), expectation="reject"),
        Case(name="invalid-empty-messages", body=body(messages=[]), expectation="reject"),
        Case(name="invalid-json", raw=b'{"model": "x", "messages": [', expectation="reject"),
        Case(name="auth-missing", body=body(max_tokens=8), auth="none", expectation="unauthorized"),
        Case(name="auth-wrong", body=body(max_tokens=8), auth="wrong", expectation="unauthorized"),
    ]
    if reasoner:
        cases += [
            Case(name="reasoner", body={**body(max_tokens=16), "model": reasoner}),
            Case(
                name="reasoner-stream", body={**body(stream=True, max_tokens=16), "model": reasoner}
            ),
        ]
    return cases
