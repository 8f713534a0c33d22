"""``send``: retries that honour Retry-After, limits, and the replay command."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from conformance.plan import Case
from conformance.runner import Limits, curl_command, send

CASE = Case(name="c", body={"model": "m", "messages": [{"role": "user", "content": "it's"}]})


def _flaky(statuses: list[int], retry_after: str | None) -> Starlette:
    calls = {"n": 0}

    async def chat(request: Request) -> JSONResponse:
        status = statuses[min(calls["n"], len(statuses) - 1)]
        calls["n"] += 1
        headers = {"Retry-After": retry_after} if retry_after and status != 200 else {}
        return JSONResponse({"n": calls["n"]}, status_code=status, headers=headers)

    return Starlette(routes=[Route("/chat/completions", chat, methods=["POST"])])


def _send(app: Any, limits: Limits | None = None) -> tuple[Any, int]:
    attempts = {"n": 0}

    def count() -> None:
        attempts["n"] += 1

    async def go() -> Any:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
            return await send(
                client,
                CASE,
                base_url="http://t",
                api_key="k",
                limits=limits or Limits(),
                on_request=count,
            )

    return asyncio.run(go()), attempts["n"]


def test_429_and_503_are_retried_as_retry_after_says() -> None:
    exchange, attempts = _send(_flaky([429, 503, 200], "0"))
    assert attempts == 3 and exchange.response.status == 200


def test_retries_are_bounded() -> None:
    exchange, attempts = _send(_flaky([503], "0"), Limits(retries=1))
    assert attempts == 2 and exchange.response.status == 503


def test_other_errors_are_not_retried() -> None:
    exchange, attempts = _send(_flaky([500, 200], "0"))
    assert attempts == 1 and exchange.response.status == 500


def test_curl_command_quotes_and_hides_the_key() -> None:
    command = curl_command(CASE, "http://t/chat/completions")
    assert command == (
        "curl -sS -X POST http://t/chat/completions -H 'Content-Type: application/json' "
        '-H "Authorization: Bearer $CONFORMANCE_API_KEY" --data-binary '
        """'{"model": "m", "messages": [{"role": "user", "content": "it'"'"'s"}]}'"""
    )
