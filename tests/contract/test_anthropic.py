"""The ``anthropic`` profile: Anthropic's Messages API (the format DeepSeek serves under
/anthropic), its document written from the public reference, its named-event stream rules, and
its mock, whose faults break each rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conformance.checks import check_exchange
from conformance.contract import auth_header, header_values, lint, load_contract
from conformance.exchange import EventSource, Exchange, Request, Response
from conformance.reference import DEFAULT_API_KEY, MOCK_FAULTS, create_mock_app, serve_in_thread
from tests.helpers import cli, load_report

RULES = ("MESSAGES-ORDER-001", "MESSAGES-BLOCKS-001", "MESSAGES-USAGE-001", "RESPONSES-EVENT-001")


@pytest.fixture(scope="module")
def anthropic() -> Any:
    return load_contract(profile="anthropic")


def test_the_document_lints_clean_and_asks_for_its_headers(anthropic: Any) -> None:
    assert [f for f in lint(anthropic) if f.severity == "error"] == []
    main = anthropic.operation()
    assert (main.label, main.family, main.stream_selector) == (
        "POST /v1/messages",
        "messages",
        "/stream",
    )
    assert auth_header(anthropic) == "x-api-key"  # ANTAUTH
    assert header_values(anthropic) == (("anthropic-version", "2023-06-01"),)


def test_a_run_with_no_target_checks_the_mock_with_the_documented_headers(tmp_path: Path) -> None:
    code, out, err = cli("run", "--profile", "anthropic", "--report-dir", str(tmp_path))
    assert code == 0, out + err
    assert "checking the embedded mock of the document" in err
    report = load_report(tmp_path)
    checks = {c["id"]: c for c in report["checks"]}
    for rule in RULES:
        assert checks[rule]["status"] == "pass" and checks[rule]["exercised"] >= 1, rule
    # its streams end with message_stop: the [DONE] rule does not apply (never "not exercised")
    assert not checks["STREAM-DONE-001"]["applicable"]
    assert report["level"] == "full" and report["level_blockers"] == []
    assert report["run"]["tokens_spent"] > 0  # input_tokens + output_tokens
    sent = report["exchanges"][0]
    headers = {name.lower(): value for name, value in sent["request"]["headers"]}
    assert headers["anthropic-version"] == "2023-06-01" and headers["x-api-key"] == "[REDACTED]"
    assert "authorization" not in headers
    assert "-H 'anthropic-version: 2023-06-01'" in sent["reproduce"]
    assert '"x-api-key: $CONFORMANCE_API_KEY"' in sent["reproduce"]


@pytest.mark.parametrize(
    "fault", ["messages-no-stop", "block-never-opened", "usage-shrinks", "event-name-mismatch"]
)
def test_each_stream_fault_breaks_its_rule(anthropic: Any, tmp_path: Path, fault: str) -> None:
    with serve_in_thread(create_mock_app(contract=anthropic, faults=[fault])) as url:
        code, out, _ = cli(
            *("run", "--profile", "anthropic", "--base-url", url, "--api-key", DEFAULT_API_KEY),
            *("--max-examples", "0", "--strict", "--report-dir", str(tmp_path)),
        )
    failed = {c["id"] for c in load_report(tmp_path)["checks"] if c["status"] == "fail"}
    assert code == 1 and failed == set(MOCK_FAULTS[fault].breaks), out


def _stream(*events: tuple[str, dict[str, Any]]) -> Exchange:
    raw = "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)
    return Exchange(
        id="messages-stream",
        request=Request.create(
            body={"model": "m", "max_tokens": 8, "messages": [], "stream": True}
        ),
        response=Response(
            status=200,
            headers=(("Content-Type", "text/event-stream"),),
            events=EventSource([raw.encode()]),
        ),
    )


def _event(kind: str, **fields: Any) -> tuple[str, dict[str, Any]]:
    return kind, {"type": kind, **fields}


MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "content": [],
    "model": "m",
    "stop_reason": None,
    "stop_sequence": None,
    "usage": {"input_tokens": 5, "output_tokens": 1},
}


def _block(index: int, kind: str = "text") -> list[tuple[str, dict[str, Any]]]:
    if kind == "text":
        opened, delta = {"type": "text", "text": ""}, {"type": "text_delta", "text": "Hi"}
    else:
        opened = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}
        delta = {"type": "input_json_delta", "partial_json": '{"city": "Paris"}'}
    return [
        _event("content_block_start", index=index, content_block=opened),
        _event("content_block_delta", index=index, delta=delta),
        _event("content_block_stop", index=index),
    ]


def _end(output: int = 4, **usage: Any) -> list[tuple[str, dict[str, Any]]]:
    return [
        _event(
            "message_delta",
            delta={"stop_reason": "end_turn", "stop_sequence": None},
            usage={"output_tokens": output, **usage},
        ),
        _event("message_stop"),
    ]


def _failed(anthropic: Any, *events: tuple[str, dict[str, Any]]) -> dict[str, list[str]]:
    result = check_exchange(anthropic, _stream(*events))
    return {
        check: [f.message for f in outcome.failures]
        for check, outcome in result.outcomes.items()
        if outcome.status == "fail"
    }


def test_a_stream_with_two_blocks_pings_and_cumulative_usage_passes(anthropic: Any) -> None:
    start = _event("message_start", message=MESSAGE)
    events = [start, _event("ping"), *_block(0), *_block(1, "tool_use"), _event("ping")]
    events += _end(2, input_tokens=5)[:1] + _end(7)
    assert _failed(anthropic, *events) == {}
    # a stream that fails ends with an error event, not message_stop
    error = _event("error", error={"type": "overloaded_error", "message": "Overloaded"})
    assert _failed(anthropic, start, *_block(0), error) == {}


@pytest.mark.parametrize(
    ("name", "events", "rule", "said"),
    [
        ("no start", [*_block(0), *_end()], "MESSAGES-ORDER-001", "not message_start"),
        (
            "two starts",
            [_event("message_start", message=MESSAGE)] * 2 + _end(),
            "MESSAGES-ORDER-001",
            "a second message_start",
        ),
        (
            "after the stop",
            [_event("message_start", message=MESSAGE), *_end(), *_block(0)],
            "MESSAGES-ORDER-001",
            "after message_stop",
        ),
        ("a delta first", [_block(0)[1], *_end()], "MESSAGES-BLOCKS-001", "never opened"),
        ("closed twice", [*_block(0), _block(0)[2], *_end()], "MESSAGES-BLOCKS-001", "closed"),
        ("index skipped", [*_block(1), *_end()], "MESSAGES-BLOCKS-001", "block 0 was next"),
        ("left open", [*_block(0)[:2], *_end()], "MESSAGES-BLOCKS-001", "still open"),
        ("usage down", [*_block(0), *_end(4)[:1], *_end(3)], "MESSAGES-USAGE-001", "goes down"),
        (
            "input changes",
            [*_block(0), *_end(4, input_tokens=9)],
            "MESSAGES-USAGE-001",
            "but 5 in message_start",
        ),
    ],
)
def test_each_order_broken_alone_fails_its_rule_alone(
    anthropic: Any, name: str, events: list[Any], rule: str, said: str
) -> None:
    start = [] if name in ("no start", "two starts") else [_event("message_start", message=MESSAGE)]
    failed = _failed(anthropic, *start, *events)
    assert set(failed) == {rule}, failed
    assert any(said in message for message in failed[rule]), failed


def test_a_documents_headers_are_sent_only_when_they_are_headers(tmp_path: Path) -> None:
    """What a document names for the key and its required headers is sent only when it is a
    header: a name with a line break or a value with control characters is not sent at all,
    and a required Content-Type does not replace the sender's own."""
    from conformance.runner import Transport

    spec = tmp_path / "hostile.yaml"
    spec.write_text(
        """
openapi: 3.1.0
info: {title: hostile, version: "1"}
security: [{Key: []}]
components:
  securitySchemes:
    Key: {type: apiKey, in: header, name: "x-key\\r\\nInjected: 1"}
paths:
  /chat/completions:
    post:
      parameters:
        - {name: x-version, in: header, required: true, schema: {default: "1\\r\\nInjected: 1"}}
        - {name: Content-Type, in: header, required: true, schema: {default: text/plain}}
        - {name: x-ok, in: header, required: true, example: fine}
      requestBody:
        content:
          application/json:
            schema: {type: object, properties: {messages: {type: array}}}
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {type: object, properties: {choices: {type: array}}}
"""
    )
    contract = load_contract(str(spec))
    assert auth_header(contract) == "Authorization"
    assert header_values(contract) == (("Content-Type", "text/plain"), ("x-ok", "fine"))
    transport = Transport().for_contract(contract)
    assert (transport.auth_header, transport.documented) == ("Authorization", (("x-ok", "fine"),))
