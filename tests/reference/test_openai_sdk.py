"""A real client: the official openai SDK against the reference server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conformance.plan._scenarios import WEATHER_TOOL
from conformance.reference import DEFAULT_API_KEY, create_app

openai = pytest.importorskip("openai")


@pytest.fixture
def client(serve: Any, deepseek: Any) -> Any:
    base_url = serve(create_app(contract=deepseek))
    with openai.OpenAI(base_url=base_url, api_key=DEFAULT_API_KEY, max_retries=0) as sdk:
        yield sdk


HI = [{"role": "user", "content": "Hi"}]


def test_non_stream(client: Any) -> None:
    completion = client.chat.completions.create(model="deepseek-chat", messages=HI, max_tokens=16)
    choice = completion.choices[0]
    assert choice.message.role == "assistant" and choice.message.content
    assert choice.finish_reason in {"stop", "length"}
    usage = completion.usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_stream_accumulates_to_the_same_answer(client: Any) -> None:
    plain = client.chat.completions.create(model="deepseek-chat", messages=HI, max_tokens=16)
    stream = client.chat.completions.create(
        model="deepseek-chat",
        messages=HI,
        max_tokens=16,
        stream=True,
        stream_options={"include_usage": True},
    )
    text, roles, finishes, usage = "", [], [], None
    for chunk in stream:
        for choice in chunk.choices:
            roles.append(choice.delta.role)
            text += choice.delta.content or ""
            if choice.finish_reason:
                finishes.append(choice.finish_reason)
        usage = chunk.usage or usage
    assert roles[0] == "assistant" and set(roles[1:]) == {None}
    assert text == plain.choices[0].message.content
    assert finishes == [plain.choices[0].finish_reason]
    assert usage is not None and usage.completion_tokens == plain.usage.completion_tokens


def test_tools(client: Any) -> None:
    completion = client.chat.completions.create(
        model="deepseek-chat", messages=HI, tools=[WEATHER_TOOL], tool_choice="required"
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert call.function.name == "get_weather"
    assert set(json.loads(call.function.arguments)) == {"city"}


def test_logprobs(client: Any) -> None:
    completion = client.chat.completions.create(
        model="deepseek-chat", messages=HI, logprobs=True, top_logprobs=3, max_tokens=5
    )
    entries = completion.choices[0].logprobs.content
    assert entries and all(e.logprob <= 0 and len(e.top_logprobs) == 3 for e in entries)
    assert "".join(e.token for e in entries) == completion.choices[0].message.content
    assert all(bytes(e.bytes).decode() == e.token for e in entries)


def test_missing_key(serve: Any, deepseek: Any) -> None:
    base_url = serve(create_app(contract=deepseek))
    with (
        openai.OpenAI(base_url=base_url, api_key="sk-wrong", max_retries=0) as sdk,
        pytest.raises(openai.AuthenticationError) as info,
    ):
        sdk.chat.completions.create(model="deepseek-chat", messages=HI)
    assert info.value.status_code == 401
    assert info.value.body["type"] == "authentication_error"
