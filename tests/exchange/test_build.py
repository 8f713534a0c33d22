"""One exchange builder: the same recorded bytes give the same check outcomes through
``validate`` (a recording), ``run`` (the runner's send, from a server replaying them) and the
proxy (in front of that server)."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance.checks import check_exchange
from conformance.contract import Contract
from conformance.exchange import read_exchanges
from conformance.plan import Case
from conformance.proxy import UVICORN_OPTIONS, create_proxy_app
from conformance.reference import serve_in_thread
from conformance.report import build_report
from conformance.runner import send
from tests.helpers import ROOT

CAPTURES = ROOT / "tests" / "data" / "captures"
#: What only a run knows (it sent the request expecting a verdict): recorded traffic and the
#: proxy cannot say whether a request was meant to be accepted.
EXPECTATION_CHECKS = {"HTTP-ACCEPT-001", "NEGATIVE-INPUT-001", "AUTH-001"}


def _recorded(name: str, content_type: str | None) -> tuple[int, list[tuple[str, str]], bytes]:
    raw = (CAPTURES / f"{name}.response.http").read_bytes()
    head, _, body = raw.partition(b"\r\n\r\n") if b"\r\n\r\n" in raw else raw.partition(b"\n\n")
    lines = re.split(rb"\r?\n", head)
    status = int(lines[0].split()[1])
    headers = []
    for line in lines[1:]:
        key, _, value = line.decode("latin-1").partition(":")
        if key.lower() in ("content-length", "transfer-encoding", "connection"):
            continue
        if key.lower() == "content-type" and content_type is not None:
            value = content_type
        headers.append((key.strip(), value.strip()))
    return status, headers, body


def _replaying(status: int, headers: list[tuple[str, str]], body: bytes) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        raw = [(k.lower().encode(), v.encode()) for k, v in headers]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})

    return app


def _outcomes(contract: Contract, results: list[Any]) -> dict[str, str]:
    report = build_report(contract, results, started_at="t", duration_s=0.0)
    return _statuses(report)


def _statuses(report: Any) -> dict[str, str]:
    assert report["summary"]["exchanges"] == 1
    return {c["id"]: c["status"] for c in report["checks"] if c["id"] not in EXPECTATION_CHECKS}


@pytest.mark.parametrize(
    ("capture", "content_type"),
    [
        ("deepseek-chat-stream", None),
        # a stream served as JSON: run read it as a stream, the proxy as a body (issue 26)
        ("deepseek-chat-stream", "application/json"),
        ("deepseek-chat-nonstream", None),
        ("deepseek-reasoner-logprobs-error-400", None),
    ],
)
def test_the_same_bytes_give_the_same_outcomes_by_every_path(
    deepseek: Contract, tmp_path: Path, capture: str, content_type: str | None
) -> None:
    status, headers, body = _recorded(capture, content_type)
    request = json.loads((CAPTURES / f"{capture}.request.json").read_text(encoding="utf-8"))
    operation = deepseek.operation()

    # validate: the recording as a file, its request beside it
    recorded = tmp_path / "answer.http"
    head = "".join(f"{k}: {v}\r\n" for k, v in headers)
    recorded.write_bytes(f"HTTP/1.1 {status} X\r\n{head}\r\n".encode() + body)
    (tmp_path / "answer.request.json").write_text(json.dumps(request), encoding="utf-8")
    (exchange,) = read_exchanges(
        str(recorded), asks_stream=lambda b: deepseek.wants_stream(b, operation)
    )
    by_validate = _outcomes(deepseek, [check_exchange(deepseek, exchange, operation=operation)])

    with serve_in_thread(_replaying(status, headers, body)) as upstream:
        # run: the runner's send
        case = Case(name="replayed", body=request, method="post", path="/chat/completions")

        async def sent() -> Any:
            async with httpx.AsyncClient() as client:
                return await send(client, case, base_url=upstream, api_key="sk-x")

        exchange = asyncio.run(sent())
        by_run = _outcomes(deepseek, [check_exchange(deepseek, exchange, operation=operation)])

        # the proxy in front of the same server
        app = create_proxy_app(contract=deepseek, upstream=upstream, judge_in="thread")
        with serve_in_thread(app, options=UVICORN_OPTIONS) as proxy:
            httpx.post(f"{proxy}/chat/completions", json=request, timeout=30)
            app.state.settle()
            by_proxy = _statuses(app.state.report())

    assert by_validate == by_run == by_proxy
    if content_type == "application/json":  # read as a stream everywhere, and said so
        assert by_run["HTTP-CONTENT-TYPE-001"] == "fail" and by_run["STREAM-DONE-001"] == "pass"
