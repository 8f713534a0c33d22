"""Event streams as documents in the wild describe them: each style read, or said."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from conformance import lint, load_contract
from conformance.checks import check_exchange
from conformance.exchange import Request, build_exchange

CHUNK = {
    "type": "object",
    "required": ["object", "choices"],
    "properties": {"object": {"type": "string"}, "choices": {"type": "array"}},
}


def _document(tmp_path: Path, stream_schema: dict[str, Any]) -> Path:
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/chat/completions": {
                "post": {
                    "requestBody": {
                        "content": {"application/json": {"schema": {"type": "object"}}}
                    },
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {
                                "application/json": {"schema": {"type": "object"}},
                                "text/event-stream": {"schema": stream_schema},
                            },
                        }
                    },
                }
            }
        },
        "components": {"schemas": {"Chunk": CHUNK}},
    }
    path = tmp_path / "d.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _stream_of(contract: Any, chunk: Any) -> Any:
    exchange = build_exchange(
        id="s",
        request=Request.create(body={"model": "m", "messages": [], "stream": True}),
        status=200,
        headers=(("Content-Type", "text/event-stream"),),
        body=f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode(),
        asked_stream=True,
    )
    return check_exchange(contract, exchange).outcomes["STREAM-CHUNK-SCHEMA-001"]


def test_a_data_property_holding_the_chunk_schema_types_the_events(tmp_path: Path) -> None:
    """{properties: {data: {$ref: Chunk}}}: no chunk schema was found, and a chunk
    {"object": 42, "choices": "nope"} passed."""
    path = _document(
        tmp_path, {"type": "object", "properties": {"data": {"$ref": "#/components/schemas/Chunk"}}}
    )
    contract = load_contract(str(path))
    streams = [v.stream for v in contract.operation().responses["200"] if v.stream]
    assert streams and streams[0].data_schema == "/components/schemas/Chunk"
    outcome = _stream_of(contract, {"object": 42, "choices": "nope"})
    assert outcome.status == "fail"
    assert _stream_of(contract, {"object": "chat.completion.chunk", "choices": []}).status == "pass"


def test_an_untyped_stream_is_said_not_passed(tmp_path: Path) -> None:
    path = _document(tmp_path, {"type": "string"})
    contract = load_contract(str(path))
    findings = [f for f in lint(contract) if f.rule == "LINT-STREAM-UNTYPED"]
    assert findings and "does not type its events' data" in findings[0].message
    outcome = _stream_of(contract, {"object": 42})
    assert outcome.status == "skip"
    assert "the document does not type its events" in (outcome.reason or "")
