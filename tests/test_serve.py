"""``conformance serve``: a real process answering HTTP, as curl would ask."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conformance.checks import check_exchange
from conformance.exchange import EventSource, Exchange, Request, Response
from tests.helpers import cli, free_port

KEY = "sk-conformance-reference"


@contextlib.contextmanager
def serve_process(*flags: str) -> Iterator[tuple[str, int]]:
    """``conformance serve`` in a subprocess on a free port: its URL and process id."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "conformance._cli", "serve", "--port", str(port), *flags],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def server() -> Iterator[str]:
    with serve_process() as (url, _):
        yield url


def _exchange(response: httpx.Response, body: dict[str, Any], stream: bool) -> Exchange:
    headers = tuple(response.headers.multi_items())
    return Exchange(
        id="curl",
        request=Request.create(body=body),
        response=Response(
            status=response.status_code,
            headers=headers,
            body=None if stream else response.content,
            events=EventSource([response.content]) if stream else None,
        ),
        expectation="accept",
    )


@pytest.mark.parametrize("stream", [False, True])
def test_serve_answers_like_deepseek(server: str, deepseek: Any, stream: bool) -> None:
    body = {
        "model": "deepseek-chat",
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": stream,
    }
    response = httpx.post(
        f"{server}/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=10,
    )
    assert response.status_code == 200
    result = check_exchange(deepseek, _exchange(response, body, stream))
    assert {k for k, o in result.outcomes.items() if o.status == "fail"} == set()
    models = httpx.get(f"{server}/models", headers={"Authorization": f"Bearer {KEY}"}).json()
    assert [m["id"] for m in models["data"]] == [
        "deepseek-chat",
        "deepseek-reasoner",
        "deepseek-v4-flash",
        "deepseek-v4-pro",
        "deepseek-v4-flash-vision-exp",
    ]
    assert httpx.get(f"{server}/v1/models").status_code == 401


def test_list_faults() -> None:
    code, out, _ = cli("serve", "--list-faults")
    assert code == 0
    (count,) = [line for line in out.splitlines() if line.endswith(" faults")]
    assert int(count.split()[0]) >= 25
    assert "no-done" in out and "STREAM-DONE-001" in out
    assert "variants (legal: every check still passes)" in out and "strict-input" in out


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["serve", "--fault", "nope"], "conformance: error: unknown fault(s): nope"),
        (["serve", "--variant", "nope"], "conformance: error: unknown variant(s): nope"),
        (["serve", "--port", "70000"], "conformance: error: --port 70000 is not a port number"),
        (["serve", "--latency-ms", "-1"], "conformance: error: --latency-ms and --chunk-delay-ms"),
        (["serve", "--port", "x"], "conformance: error: argument --port: invalid int value"),
    ],
)
def test_serve_bad_flags(argv: list[str], line: str) -> None:
    code, _, err = cli(*argv)
    assert code == 2 and err.startswith(line) and err.count("\n") == 1


def test_serve_port_in_use() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        code, _, err = cli("serve", "--port", str(port))
    assert code == 2 and f"cannot listen on 127.0.0.1:{port}" in err


def test_stream_json_roundtrip_is_deterministic(server: str) -> None:
    body = {"model": "deepseek-chat", "messages": [{"role": "user", "content": "Hi"}]}
    headers = {"Authorization": f"Bearer {KEY}"}
    first = httpx.post(f"{server}/chat/completions", json=body, headers=headers).json()
    again = httpx.post(f"{server}/v1/chat/completions", json=body, headers=headers).json()
    assert first["choices"] == again["choices"] and json.dumps(first["usage"]) == json.dumps(
        again["usage"]
    )


FAULT = ("--fault", "accept-invalid")


def test_an_accepted_invalid_request_does_bounded_work() -> None:
    """With accept-invalid, top_logprobs: 1000000 is answered within the contract's limits:
    memory stays small and GET /models is not held up."""
    with serve_process(*FAULT) as (url, pid):
        headers = {"Authorization": f"Bearer {KEY}"}
        heavy = {
            "model": "deepseek-chat",
            "messages": [{"role": "user", "content": "Hi"}],
            "logprobs": True,
            "top_logprobs": 1_000_000,
            "max_tokens": 10_000_000,
            "stop": ["x"] * 100_000,
        }

        async def go() -> int:
            sent = asyncio.Semaphore(0)

            async def trace(event: str, info: dict[str, Any]) -> None:
                if event == "http11.send_request_body.complete":
                    sent.release()

            async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
                posts = [
                    client.post("/chat/completions", json=heavy, extensions={"trace": trace})
                    for _ in range(4)
                ]
                tasks = [asyncio.ensure_future(p) for p in posts]
                for _ in tasks:  # the heavy ones all sent (about a second of work each)
                    await sent.acquire()
                models = await client.get("/models")
                answered_before = sum(task.done() for task in tasks)
                answers = await asyncio.gather(*tasks)
                assert models.status_code == 200
                assert all(a.status_code == 200 for a in answers)
                top = answers[0].json()["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
                assert len(top) == 20  # the contract's maximum
                return answered_before

        # not held up: answered while the heavy ones were all still at work (an event, not a
        # duration: a server whose loop did their work would answer it after one of them)
        answered_before = asyncio.run(go())
        assert answered_before == 0, f"GET /models came after {answered_before} heavy answer(s)"
        with open(f"/proc/{pid}/status") as handle:  # Linux: peak resident memory
            status = handle.read()
        peak_kb = int(
            next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))
        )
        assert peak_kb < 200 * 1024, f"peak RSS {peak_kb / 1024:.0f} MB"


def test_serve_can_want_the_key_in_another_header() -> None:
    with serve_process("--auth-header", "api-key", "--variant", "crlf") as (url, _):
        assert httpx.get(f"{url}/models", headers={"api-key": KEY}).status_code == 200
        bearer = httpx.get(f"{url}/models", headers={"Authorization": f"Bearer {KEY}"})
        assert bearer.status_code == 401
        streamed = httpx.post(
            f"{url}/chat/completions",
            json={
                "model": "deepseek-chat",
                "messages": [{"role": "user", "content": "Hi"}],
                "stream": True,
                "max_tokens": 4,
            },
            headers={"api-key": KEY},
        )
        assert streamed.content.endswith(b"data: [DONE]\r\n\r\n")
