"""The errata overlay: cited, complete, and real DeepSeek traffic passes the effective schemas."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from conformance._sse import parse_sse
from conformance.contract import load_overlay, request_errors, request_is_valid
from conformance.contract._walk import iter_schema_roots, iter_subschemas, resolve_pointer
from tests.helpers import CAPTURES, ERRATA, read_capture

DEEPSEEK_CAPTURES = sorted(
    p.name.removesuffix(".response.http") for p in CAPTURES.glob("deepseek-*.response.http")
)


def test_every_action_names_its_defect_and_source() -> None:
    overlay = load_overlay(ERRATA)
    for i, action in enumerate(overlay.actions):
        assert action.description, f"action {i} has no description"
        text = " ".join(action.description.split())
        assert any(w in text for w in ("Fix", "form of", "continued")), f"action {i}: no fix"
        assert "Source" in text or "continued" in text, f"action {i} cites no source"


def test_the_effective_document_is_clean_32(deepseek: Any) -> None:
    assert deepseek.openapi == "3.2.0"
    text = json.dumps(deepseek.document)
    assert '"nullable"' not in text
    assert "x-200:Streaming" not in text


def test_every_schema_the_seed_marked_nullable_still_accepts_null(
    literal: Any, deepseek: Any
) -> None:
    checked = 0
    for root_pointer, root in iter_schema_roots(literal.document):
        for pointer, schema in iter_subschemas(root, root_pointer):
            if schema.get("nullable") is not True:
                continue
            pointer = pointer.split("/oneOf/")[0]  # a nullable branch: the property is nullable
            try:
                resolve_pointer(deepseek.schema_document, pointer)
            except KeyError:
                continue  # replaced wholesale (x-200:Streaming, usage)
            assert deepseek.validator(pointer).is_valid(None), pointer
            checked += 1
    assert checked >= 10


def _body(raw: bytes) -> Any:
    return json.loads(raw)


def _request(name: str) -> Any:
    path = CAPTURES / f"{name}.request.json"
    return json.loads(path.read_text()) if path.exists() else None


@pytest.mark.parametrize("name", DEEPSEEK_CAPTURES)
def test_deepseek_captures_match_the_effective_schemas(deepseek: Any, name: str) -> None:
    status, headers, body = read_capture(name)
    op = deepseek.operation()
    request = _request(name)
    if request is not None:
        errors = [e.message for e in deepseek.validator(op.request_schema).iter_errors(request)]
        assert errors == [], f"request: {errors}"
    variant = deepseek.select_response(op, status, request or {})
    assert variant is not None, f"status {status} is not documented"
    if headers["content-type"].startswith("text/event-stream"):
        assert variant.stream is not None
        events, framing = parse_sse(body)
        assert framing.unterminated_tail is None
        validator = deepseek.validator(variant.stream.data_schema)
        chunks = 0
        for event in events:
            if event.data in variant.stream.sentinels:
                continue
            errors = [e.message for e in validator.iter_errors(json.loads(event.data))]
            assert errors == [], f"event {event.index}: {errors}"
            chunks += 1
        assert chunks > 0
        assert events[-1].data == "[DONE]"
    else:
        errors = [
            e.message for e in deepseek.validator(variant.json_schema).iter_errors(_body(body))
        ]
        assert errors == []


def test_the_literal_seed_rejects_real_traffic(literal: Any) -> None:
    """The reason the errata exist: a real, correct DeepSeek response fails the seed."""
    _, _, body = read_capture("deepseek-chat-nonstream")
    op = literal.operation()
    variant = literal.select_response(op, 200, {})
    messages = sorted(
        e.message for e in literal.validator(variant.json_schema).iter_errors(json.loads(body))
    )
    assert "None is not of type 'object'" in messages  # logprobs: null
    assert "'completion_tokens_details' is a required property" in messages


def test_the_request_schema_rejects_what_deepseek_rejects(deepseek: Any) -> None:
    validator = deepseek.validator(deepseek.operation().request_schema)
    tool = {"type": "function", "function": {"name": "f"}}
    base = {"model": "deepseek-chat", "messages": [{"role": "user", "content": "hi"}]}
    assert validator.is_valid(base)
    good = [
        {"top_p": 0.9},
        {"frequency_penalty": 0.5},
        {"stop": "x"},
        {"stop": ["a"] * 16},
        {"tool_choice": "none"},
        {"tool_choice": {"type": "function", "function": {"name": "f"}}, "tools": [tool]},
        {"tool_choice": "auto", "tools": [tool]},
        {"logprobs": True, "top_logprobs": 20},
        {"top_logprobs": None},
        {"max_tokens": 8192},
        {"response_format": {"type": "json_object"}},
        {"stream_options": {"include_usage": True}},
    ]
    bad = [
        {"top_p": 0},
        {"max_tokens": 0},
        {"max_tokens": 8193},
        {"temperature": 2.5},
        {"stop": ["a"] * 17},
        {"top_logprobs": 21, "logprobs": True},
        {"top_logprobs": 5},
        {"messages": []},
        {"messages": [{"role": "user"}]},
        {"messages": [{"role": "wizard", "content": "x"}]},
        {"tool_choice": "sometimes"},
        {"tool_choice": "required"},
        {"tool_choice": {"type": "function", "function": {"name": "f"}}, "tools": []},
        {
            "messages": [
                {"role": "user", "content": "q"},
                {"role": "tool", "content": "4", "tool_call_id": "c"},
            ]
        },
        {"response_format": {"type": "json_schema"}},
        {"tools": [{"type": "function", "function": {"name": "bad name"}}]},
    ]
    for extra in good:
        assert validator.is_valid({**base, **extra}), extra
    for extra in bad:
        assert not validator.is_valid({**base, **extra}), extra
    tool_turn = [
        {"role": "user", "content": "q"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "content": "42", "tool_call_id": "c1"},
    ]
    assert validator.is_valid({**base, "messages": tool_turn})
    # what JSON Schema cannot compare is a request rule (REQUEST-TOOL-ID-001)
    assert request_is_valid(deepseek, {**base, "messages": tool_turn})
    unanswered = [*tool_turn[:2], {**tool_turn[2], "tool_call_id": "c2"}]
    assert validator.is_valid({**base, "messages": unanswered})
    # c2 answers no call (REQUEST-TOOL-ID-001), and c1 is left unanswered before any other
    # message (REQUEST-TOOL-ANSWERED-001): DeepSeek and OpenAI answer 400 to either
    errors = {
        (e.validator, tuple(e.path))
        for e in request_errors(deepseek, {**base, "messages": unanswered})
    }
    assert errors == {
        ("REQUEST-TOOL-ID-001", ("messages", 2, "tool_call_id")),
        ("REQUEST-TOOL-ANSWERED-001", ("messages", 1, "tool_calls")),
    }


def test_the_errata_example_stream_is_the_seed_stream_corrected() -> None:
    overlay = yaml.safe_load(ERRATA.read_text())
    example = next(
        a["update"]["content"]["text/event-stream"]["example"]
        for a in overlay["actions"]
        if a["target"] == "$.paths['/chat/completions'].post.responses['200']"
    )
    events, framing = parse_sse(example)
    assert framing.unterminated_tail is None
    assert len(events) == 12 and events[-1].data == "[DONE]"
