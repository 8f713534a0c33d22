"""The fault matrix: every fault breaks the checks it names and no other MUST check; the clean
reference server passes every check of every scenario."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import httpx
import pytest

from conformance import ServerStartError, UsageError
from conformance.checks import CHECKS, check_exchange
from conformance.plan import (
    auth_cases,
    negative_cases,
    operation_cases,
    scenario_cases,
    thinking_cases,
)
from conformance.reference import (
    DEFAULT_API_KEY,
    FAULTS,
    MOCK_FAULTS,
    create_app,
    serve_in_thread,
)
from conformance.runner import Limits, send

MODEL = "deepseek-chat"
CASES = [
    *scenario_cases(MODEL, "deepseek-reasoner"),
    *negative_cases(MODEL),
    *auth_cases(MODEL),
]


def _cases(contract: Any) -> list[tuple[Any, Any]]:
    """The chat cases (thinking mode's where the contract has it), and those of the profile's
    other operations (GET /models), each with the operation its answer is checked against."""
    main, *others = contract.certified_operations()
    out = [(case, main) for case in [*CASES, *thinking_cases(contract, MODEL)]]
    for operation in others:
        out += [(case, operation) for case in operation_cases(contract, operation)]
    return out


async def _run(
    app: Any, contract: Any, base_url: str = "http://reference", **kwargs: Any
) -> dict[str, set[str]]:
    transport = httpx.ASGITransport(app=app) if app is not None else None
    failed: dict[str, set[str]] = {}
    async with httpx.AsyncClient(transport=transport) as client:
        for case, operation in _cases(contract):
            exchange = await send(
                client, case, base_url=base_url, api_key=DEFAULT_API_KEY, **kwargs
            )
            result = check_exchange(contract, exchange, operation=operation)
            for check_id, outcome in result.outcomes.items():
                assert outcome.status != "error", f"{case.name}: {check_id}: {outcome.reason}"
                if outcome.status == "fail":
                    failed.setdefault(check_id, set()).add(case.name)
    return failed


def test_the_clean_server_passes_every_check(deepseek: Any) -> None:
    assert asyncio.run(_run(create_app(contract=deepseek), deepseek)) == {}


def test_every_check_is_broken_by_some_fault() -> None:
    broken = {check for fault in FAULTS.values() for check in fault.breaks}
    # the rules of named-event streams are broken by the mock's faults (tests/reference/test_mock.py)
    broken |= {check for fault in MOCK_FAULTS.values() for check in fault.breaks}
    assert broken == set(CHECKS)
    assert len(FAULTS) >= 25


@pytest.mark.parametrize("name", sorted(n for n, f in FAULTS.items() if not f.hangs))
def test_fault_breaks_exactly_what_it_names(deepseek: Any, name: str) -> None:
    fault = FAULTS[name]
    failed = asyncio.run(_run(create_app(faults=[name], contract=deepseek), deepseek))
    assert set(fault.breaks) <= set(failed), (
        f"{name} did not break {set(fault.breaks) - set(failed)}"
    )
    unrelated = {c for c in failed if c not in fault.breaks and CHECKS[c].severity == "MUST"}
    assert not unrelated, f"{name} also broke {unrelated}: {[failed[c] for c in unrelated]}"


@pytest.mark.parametrize("name", sorted(n for n, f in FAULTS.items() if f.hangs))
def test_hanging_faults_end_as_failures_within_the_limits(
    deepseek: Any, serve: Any, name: str
) -> None:
    base_url = serve(create_app(faults=[name], contract=deepseek))
    stream_case = next(c for c in CASES if c.name == "stream")
    limits = Limits(idle=0.5, first_byte=2.0, total=2.0)

    async def one() -> Any:
        async with httpx.AsyncClient() as client:
            return await send(
                client, stream_case, base_url=base_url, api_key=DEFAULT_API_KEY, limits=limits
            )

    exchange = asyncio.run(one())
    assert exchange.timings.total is not None and exchange.timings.total < 5
    result = check_exchange(deepseek, exchange)
    failed = {k for k, o in result.outcomes.items() if o.status == "fail"}
    # One plain stream shows these; usage and tool arguments need their own cases (run tests).
    assert {"HTTP-COMPLETE-001", "STREAM-DONE-001", "STREAM-FINISH-001"} <= failed
    assert {c for c in failed if CHECKS[c].severity == "MUST"} <= set(FAULTS[name].breaks)


def test_real_socket_streaming_with_latency(deepseek: Any, serve: Any) -> None:
    base_url = serve(
        create_app(contract=deepseek, latency_ms=50, chunk_delay_ms=5, keep_alive=True)
    )
    case = next(c for c in CASES if c.name == "stream")

    async def one() -> Any:
        async with httpx.AsyncClient() as client:
            return await send(client, case, base_url=base_url, api_key=DEFAULT_API_KEY)

    exchange = asyncio.run(one())
    assert exchange.timings.to_headers is not None and exchange.timings.to_headers >= 0.05
    result = check_exchange(deepseek, exchange)
    assert {k for k, o in result.outcomes.items() if o.status == "fail"} == set()
    assert result.chunks > 3


def test_an_unknown_fault_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"unknown fault\(s\): nope \(see 'conformance serve"):
        create_app(faults=["nope"])


def test_a_server_that_cannot_start_is_a_tool_error() -> None:
    with (
        pytest.raises(ServerStartError, match=r"cannot listen on 203\.0\.113\.1"),
        serve_in_thread(create_app(), host="203.0.113.1"),
    ):
        pass  # pragma: no cover


def test_a_server_that_does_not_stop_says_so() -> None:
    """An app that blocks its event loop keeps the server's thread past the stop: a warning
    (an error under pytest), not a thread spinning unseen for the rest of the suite."""

    async def blocking(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        time.sleep(2)  # blocks the loop: the server cannot stop meanwhile
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    with (
        pytest.warns(ResourceWarning, match=r"did not stop within 0\.2 s"),
        serve_in_thread(blocking, stop_timeout=0.2) as url,
        contextlib.suppress(httpx.HTTPError),
    ):
        httpx.get(url, timeout=0.3)
    time.sleep(2)  # the blocked request ends; the thread with it


@pytest.mark.parametrize("name", sorted(n for n, f in FAULTS.items() if f.starves))
def test_starving_faults_leave_their_checks_not_exercised(deepseek: Any, name: str) -> None:
    app = create_app(faults=[name], contract=deepseek)
    judged: set[str] = set()

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
            for case, operation in _cases(deepseek):
                exchange = await send(
                    client, case, base_url="http://reference", api_key=DEFAULT_API_KEY
                )
                outcomes = check_exchange(deepseek, exchange, operation=operation).outcomes
                judged.update(c for c, o in outcomes.items() if o.status in ("pass", "fail"))

    asyncio.run(go())
    assert not judged & set(FAULTS[name].starves)
