from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from conformance import UsageError
from conformance.exchange import (
    REDACTED,
    Request,
    read_exchanges,
    redact_headers,
    redact_url,
    url_secrets,
)
from tests.checks.builders import clean_chunks, completion, sse
from tests.helpers import CAPTURES


def test_raw_http_capture_with_sibling_request() -> None:
    (exchange,) = read_exchanges(str(CAPTURES / "deepseek-chat-stream.response.http"))
    assert exchange.response.status == 200
    assert exchange.response.content_type == "text/event-stream; charset=utf-8"
    assert exchange.request_body["model"] == "deepseek-chat"
    events = list(exchange.response.events or [])
    assert events[-1].data == "[DONE]"


def test_bare_bodies(tmp_path: Path) -> None:
    body = tmp_path / "answer.json"
    body.write_bytes(b"\n\n" + json.dumps(completion()).encode())
    (exchange,) = read_exchanges(str(body))
    assert exchange.response.headers is None and exchange.response.status == 200
    assert exchange.request is None
    stream = tmp_path / "answer.sse"
    stream.write_bytes(sse(clean_chunks()))
    (request := tmp_path / "answer.request.json").write_text('{"model": "m", "messages": []}')
    (exchange,) = read_exchanges(str(stream))
    assert exchange.response.is_stream and exchange.request_body == {"model": "m", "messages": []}
    (exchange,) = read_exchanges(str(body), request_file=str(request))
    assert exchange.request_body["model"] == "m"


def test_har_entries(tmp_path: Path) -> None:
    har = {
        "log": {
            "version": "1.2",
            "entries": [
                {
                    "request": {
                        "method": "POST",
                        "url": "http://x/chat/completions",
                        "headers": [{"name": "Authorization", "value": "Bearer sk-secret-123"}],
                        "postData": {"mimeType": "application/json", "text": '{"stream": true}'},
                    },
                    "response": {
                        "status": 200,
                        "headers": [{"name": "Content-Type", "value": "text/event-stream"}],
                        "content": {
                            "mimeType": "text/event-stream",
                            "encoding": "base64",
                            "text": base64.b64encode(sse(clean_chunks())).decode(),
                        },
                    },
                },
                {
                    "request": {"method": "POST", "url": "http://x/chat/completions"},
                    "response": {
                        "status": 401,
                        "headers": [{"name": "Content-Type", "value": "application/json"}],
                        "content": {"mimeType": "application/json", "text": '{"error": {}}'},
                    },
                },
            ],
        }
    }
    path = tmp_path / "traffic.har"
    path.write_text(json.dumps(har))
    first, second = read_exchanges(str(path))
    assert first.id == "traffic.har#0" and first.response.is_stream
    assert first.request is not None
    assert dict(first.request.headers)["Authorization"] == f"Bearer {REDACTED}"
    assert second.response.status == 401 and second.response.body == b'{"error": {}}'


def test_secrets_are_redacted_when_a_request_is_made() -> None:
    request = Request.create(headers={"Authorization": "Bearer sk-abc", "X-Api-Key": "k", "A": "b"})
    assert request.headers == (
        ("Authorization", f"Bearer {REDACTED}"),
        ("X-Api-Key", REDACTED),
        ("A", "b"),
    )
    assert redact_headers([("Cookie", "s=1")]) == (("Cookie", REDACTED),)


@pytest.mark.parametrize(
    ("url", "shown", "secrets"),
    [
        ("https://h/v1?key=sk-1", f"https://h/v1?key={REDACTED}", ("sk-1",)),
        (  # other parameters kept, names case-insensitive, percent-encoded and decoded
            "https://h/v1/x?api-version=1&API_KEY=a%2Fb+c&model=z#f",
            f"https://h/v1/x?api-version=1&API_KEY={REDACTED}&model=z#f",
            ("a%2Fb+c", "a/b+c", "a/b c"),
        ),
        (
            "https://h/v1?token=t&access_token=u",
            f"https://h/v1?token={REDACTED}&access_token={REDACTED}",
            ("t", "u"),
        ),
        # by policy, not by list: any name that contains key, token, secret, signature, auth...
        (
            "https://h/v1?subscription-key=s1&sig=s2&X-Amz-Signature=s3&monkey=s4&page=2",
            f"https://h/v1?subscription-key={REDACTED}&sig={REDACTED}"
            f"&X-Amz-Signature={REDACTED}&monkey={REDACTED}&page=2",
            ("s1", "s2", "s3", "s4"),
        ),
        (  # a password in the user information (and its Basic form), and a key in the query
            "https://me:p%40ss@h/v1?key=k1",
            f"https://me:{REDACTED}@h/v1?key={REDACTED}",
            ("p%40ss", "p@ss", "bWU6cEBzcw==", "k1"),
        ),
        (  # a lone user: a token
            "https://tok3n@h/v1",
            f"https://{REDACTED}@h/v1",
            ("tok3n", "dG9rM246"),
        ),
        ("https://h/v1", "https://h/v1", ()),
    ],
)
def test_a_key_in_a_url_query_is_redacted(url: str, shown: str, secrets: tuple[str, ...]) -> None:
    assert redact_url(url) == shown
    assert Request.create(url=url).url == shown
    assert url_secrets(url) == secrets
    if "@" not in url:  # a bare query string too
        assert url_secrets(url.partition("?")[2]) == secrets


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"hello world", "not a recorded exchange"), (None, "no such file")],
)
def test_unreadable_inputs(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "x.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UsageError, match=message):
        list(read_exchanges(str(path)))


def test_a_request_that_is_not_json(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("{}")
    (tmp_path / "r.json").write_text("nope")
    with pytest.raises(UsageError, match="is not JSON"):
        list(read_exchanges(str(tmp_path / "a.json"), request_file=str(tmp_path / "r.json")))
