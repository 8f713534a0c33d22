"""The reference server's variants: each is on the wire as it says, and none is a fault (the
generation test runs many seeds against all of them together)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from conformance import UsageError
from conformance.reference import DEFAULT_API_KEY, VARIANTS, create_app

AUTH = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
HI = {"model": "deepseek-chat", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}


def _post(variants: list[str], body: dict[str, Any]) -> Any:
    with TestClient(create_app(variants=variants)) as client:
        return client.post("/chat/completions", json=body, headers=AUTH)


def test_crlf_and_no_space_frame_the_stream_as_the_standard_allows() -> None:
    plain = _post([], {**HI, "stream": True}).content
    assert b"\r\n" not in plain and b"data: {" in plain
    framed = _post(["crlf", "no-space"], {**HI, "stream": True}).content
    assert framed.endswith(b"data:[DONE]\r\n\r\n")
    assert b"data:{" in framed and b"data: " not in framed and b"}\n\n" not in framed


def test_keep_alive_sends_comments_and_blank_lines() -> None:
    assert _post(["keep-alive"], {**HI, "stream": True}).content.startswith(b": keep-alive\n\n")
    assert _post(["keep-alive"], HI).content.startswith(b"\n\n{")


def test_nulls_fill_the_optional_fields_an_answer_does_not_use() -> None:
    message = _post(["nulls"], HI).json()["choices"][0]["message"]
    assert message["tool_calls"] is None and message["reasoning_content"] is None
    assert b'"tool_calls":null' in _post(["nulls"], {**HI, "stream": True}).content


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"frobnicate": 1}, "unknown field `frobnicate`"),
        ({"max_tokens": 4.0}, "max_tokens: invalid type: floating point `4.0`"),
        (
            {"messages": [{"role": "user", "content": "Hi", "mood": "x"}]},
            "messages[0]: unknown field `mood`",
        ),
    ],
)
def test_strict_input_refuses_what_the_schema_does_not_document(
    extra: dict[str, Any], words: str
) -> None:
    assert _post([], {**HI, **extra}).status_code == 200  # lenient by default
    response = _post(["strict-input"], {**HI, **extra})
    assert response.status_code == 422 and words in response.json()["error"]["message"]
    assert _post(["strict-input"], {**HI, "stop": None, "temperature": 1.0}).status_code == 200


def test_an_unknown_variant_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown variant"):
        create_app(variants=["nope"])
    assert set(VARIANTS) == {"crlf", "no-space", "keep-alive", "nulls", "strict-input"}
