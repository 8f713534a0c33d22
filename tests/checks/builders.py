"""Small builders of exchanges for the rule tests: a clean DeepSeek-shaped baseline to break."""

from __future__ import annotations

import copy
import json
from typing import Any

from conformance.checks import ExchangeResult, Failure, check_exchange
from conformance.exchange import EventSource, Exchange, Request, Response

ID = "5d9b2ac0-0b4f-4a3c-9a55-3f1b2d3c4e5f"
BASE = {
    "id": ID,
    "object": "chat.completion.chunk",
    "created": 1753566410,
    "model": "deepseek-chat",
    "system_fingerprint": "fp_8802369eaa_prod0623_fp8_kvcache",
}
USAGE = {
    "prompt_tokens": 10,
    "completion_tokens": 3,
    "total_tokens": 13,
    "prompt_tokens_details": {"cached_tokens": 0},
    "prompt_cache_hit_tokens": 0,
    "prompt_cache_miss_tokens": 10,
}
REQUEST = {
    "model": "deepseek-chat",
    "messages": [{"role": "user", "content": "Hi"}],
    "stream": True,
}


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        **BASE,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        **extra,
    }


def clean_chunks() -> list[Any]:
    return [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Hello"}),
        chunk({"content": " there"}),
        chunk({"content": ""}, "stop", usage=dict(USAGE)),
        "[DONE]",
    ]


def sse(items: list[Any], *, sep: str = "\n\n", terminated: bool = True) -> bytes:
    events = [f"data: {i if isinstance(i, str) else json.dumps(i)}" for i in items]
    text = sep.join(events) + (sep if terminated else "")
    return text.encode("utf-8")


def stream_exchange(
    items: list[Any] | None = None,
    *,
    request: dict[str, Any] | None = None,
    raw: bytes | None = None,
    status: int = 200,
    content_type: str | None = "text/event-stream; charset=utf-8",
    with_request: bool = True,
) -> Exchange:
    body = raw if raw is not None else sse(items if items is not None else clean_chunks())
    headers = None if content_type is None else (("Content-Type", content_type),)
    req = Request.create(body=copy.deepcopy(request or REQUEST)) if with_request else None
    return Exchange(
        id="test-stream",
        request=req,
        response=Response(status=status, headers=headers, events=EventSource([body])),
    )


def completion(**overrides: Any) -> dict[str, Any]:
    body = {
        "id": ID,
        "object": "chat.completion",
        "created": 1753566410,
        "model": "deepseek-chat",
        "system_fingerprint": "fp_8802369eaa_prod0623_fp8_kvcache",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello there"},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": dict(USAGE),
    }
    body.update(overrides)
    return body


def json_exchange(
    body: Any = None,
    *,
    request: dict[str, Any] | None = None,
    status: int = 200,
    content_type: str | None = "application/json",
    raw: bytes | None = None,
    with_request: bool = True,
    expectation: str | None = None,
) -> Exchange:
    payload = (
        raw if raw is not None else json.dumps(body if body is not None else completion()).encode()
    )
    headers = None if content_type is None else (("Content-Type", content_type),)
    req_body = request if request is not None else {**REQUEST, "stream": False}
    return Exchange(
        id="test-json",
        request=Request.create(body=req_body) if with_request else None,
        response=Response(status=status, headers=headers, body=payload),
        expectation=expectation,
    )


def run(contract: Any, exchange: Exchange) -> ExchangeResult:
    return check_exchange(contract, exchange)


def failures(result: ExchangeResult, check_id: str) -> list[Failure]:
    outcome = result.outcomes[check_id]
    assert outcome.status != "error", outcome.reason
    return outcome.failures


def failing(result: ExchangeResult) -> dict[str, str]:
    return {k: o.status for k, o in result.outcomes.items() if o.status in ("fail", "error")}
