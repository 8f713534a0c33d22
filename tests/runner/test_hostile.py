"""Hostile servers: each ends as a reported failure within the limits, in bounded memory, and a
run goes on past it."""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from typing import Any

import httpx
import pytest

from conformance import TargetUnreachable
from conformance.checks import check_exchange
from conformance.plan import Case
from conformance.runner import Limits, send
from tests.helpers import cli
from tests.runner.hostile import MODELS_MODES, MODES, hostile

LIMITS = Limits(connect=2, first_byte=2, idle=1, total=4, max_bytes=4 * 1024 * 1024)
CASE = Case(
    name="c", body={"model": "m", "messages": [{"role": "user", "content": "Hi"}], "stream": True}
)
#: Modes where no response ever arrives (the case fails as "no response", or the run stops
#: with exit 2 if it is the first request).
NO_RESPONSE = {"hang-before-headers", "slow-headers", "garbage"}


@pytest.mark.parametrize("mode", MODES)
def test_each_hostile_server_ends_within_the_limits(mode: str, deepseek: Any) -> None:
    async def one(url: str) -> Any:
        async with httpx.AsyncClient() as client:
            return await send(client, CASE, base_url=url, api_key="k", limits=LIMITS)

    tracemalloc.start()
    started = time.monotonic()
    with hostile(mode) as url:
        if mode in NO_RESPONSE:
            with pytest.raises(TargetUnreachable):
                asyncio.run(one(url))
            exchange = None
        else:
            exchange = asyncio.run(one(url))
    elapsed = time.monotonic() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < LIMITS.total + 3
    assert peak < 64 * 1024 * 1024, f"{mode}: peak {peak / 1e6:.0f} MB"
    if mode in ("close-first-request", "reset-first-request"):  # retried, and answered
        assert exchange is not None and exchange.response.status == 200
        return
    if exchange is not None:
        result = check_exchange(deepseek, exchange)
        failed = {k for k, o in result.outcomes.items() if o.status == "fail"}
        assert failed, f"{mode} passed every check"
        if mode == "invalid-utf8":
            assert "STREAM-FRAMING-002" in failed
        else:
            assert "HTTP-COMPLETE-001" in failed


@pytest.mark.parametrize("mode", ["hang-before-headers", "reset-mid-stream", "gzip-bomb"])
def test_a_run_goes_on_past_a_hostile_server(mode: str, tmp_path: Any) -> None:
    with hostile(mode) as url:
        code, out, err = cli(
            "run",
            "--base-url",
            url,
            "--model",
            "m",
            "--timeout",
            "2",
            "--max-examples",
            "0",
            "--workers",
            "8",
            # every case waits out the timeout: the chat scenarios show it, frugally (a bomb's
            # every case inflates 32 MiB: its examples show it)
            *("--operation", "POST /chat/completions"),
            *("--phases", "examples" if mode == "gzip-bomb" else "examples,scenarios,auth"),
            "--report-dir",
            str(tmp_path),
        )
    assert code == 1, out + err
    assert "HTTP-COMPLETE-001" in out
    assert (tmp_path / "report.json").exists()
    if mode == "reset-mid-stream":  # cut with 7 others in flight: the hint to tell
        assert "cut short while other requests were in flight" in err
        assert "passes with --workers 1" in err


@pytest.mark.parametrize("mode", MODELS_MODES)
def test_a_hostile_models_endpoint_neither_hangs_nor_floods_the_run(
    mode: str, tmp_path: Any
) -> None:
    tracemalloc.start()
    started = time.monotonic()
    with hostile(mode) as url:
        code, _, err = cli(
            "run",
            "--base-url",
            url,
            "--api-key",
            "k",
            "--timeout",
            "2",
            "--idle-timeout",
            "1",
            "--report-dir",
            str(tmp_path),
        )
    elapsed = time.monotonic() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert code == 2 and "lists no model" in err and err.count("\n") == 1, err
    assert elapsed < 2 + 3  # the total limit, and a margin for start-up
    # the body is cut at the size cap (32 MiB): memory is a small multiple of it, however
    # much the bomb would inflate to
    assert peak < 4 * Limits().max_bytes, f"{mode}: peak {peak / 1e6:.0f} MB"
