"""The evidence an exchange keeps: bounded, and saying where it was cut."""

from __future__ import annotations

import json

from conformance import load_contract
from conformance.checks import check_exchange
from conformance.checks._driver import EVIDENCE_DATA_CHARS
from conformance.exchange import Request, build_exchange


def test_a_cut_event_says_it_was_cut() -> None:
    """Event data in report.json was cut at 2,000 characters without a marker."""
    chunk = {
        "id": "x",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": "y" * 5000}, "finish_reason": None}],
    }
    data = json.dumps(chunk)
    exchange = build_exchange(
        id="long",
        request=Request.create(body={"model": "m", "messages": [], "stream": True}),
        status=200,
        headers=(("Content-Type", "text/event-stream"),),
        body=f"data: {data}\n\ndata: [DONE]\n\n".encode(),
        asked_stream=True,
    )
    result = check_exchange(load_contract(), exchange)
    events = result.evidence["response"]["events"]
    first = events[0] if isinstance(events, list) else next(iter(events.values()))
    text = first if isinstance(first, str) else json.dumps(first)
    assert f"[cut here: the event's data is {len(data)} characters]" in text
    assert len(text) < EVIDENCE_DATA_CHARS + 200
