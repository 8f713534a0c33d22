"""Live runs against the reference server on loopback: engine overhead and concurrency.

    python benchmarks/bench_live.py [--requests 300] [--cases 200] [--latency-ms 200]

1. overhead: the run engine (send, read, check every response and stream, with a budget and
   limits) against a bare httpx loop sending the same requests and reading the bodies, both
   with 4 requests in flight, against the reference server with no latency.
   Target: at least half the bare loop's rate.
2. concurrency: N cases with simulated latency at workers 1, 4 and 16. Target: near-linear.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

import httpx

from conformance.contract import load_contract
from conformance.plan import Case
from conformance.reference import DEFAULT_API_KEY, create_app, serve_in_thread
from conformance.runner import RunConfig, run_async

HI = [{"role": "user", "content": "Hi"}]


def _cases(n: int) -> list[Case]:
    out = []
    for i in range(n):
        body = {"model": "deepseek-chat", "messages": HI, "max_tokens": 16}
        if i % 2:
            body["stream"] = True
        out.append(Case(name=f"c{i}", body=body))
    return out


async def _bare(base_url: str, cases: list[Case], workers: int) -> float:
    semaphore = asyncio.Semaphore(workers)
    headers = {"Authorization": f"Bearer {DEFAULT_API_KEY}", "Content-Type": "application/json"}
    async with httpx.AsyncClient() as client:

        async def one(case: Case) -> None:
            async with semaphore:
                response = await client.post(
                    base_url + "/chat/completions", content=json.dumps(case.body), headers=headers
                )
                await response.aread()

        start = time.perf_counter()
        await asyncio.gather(*(one(c) for c in cases))
        return time.perf_counter() - start


async def _engine(base_url: str, cases: list[Case], workers: int) -> float:
    contract = load_contract(profile="deepseek")
    config = RunConfig(
        base_url=base_url,
        api_key=DEFAULT_API_KEY,
        model="deepseek-chat",
        workers=workers,
        max_requests=len(cases) * 2,
    )
    start = time.perf_counter()
    result = await run_async(contract, config, cases=cases)
    elapsed = time.perf_counter() - start
    failed = {k for r in result.results for k, o in r.outcomes.items() if o.status == "fail"}
    assert not failed, failed
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    args = parser.parse_args()

    cases = _cases(args.requests)
    with serve_in_thread(create_app()) as url:
        asyncio.run(_bare(url, cases[:20], 4))  # warm up
        bare = asyncio.run(_bare(url, cases, 4))
        engine = asyncio.run(_engine(url, cases, 4))
    print(f"overhead ({args.requests} requests, half streamed, 4 in flight, no latency):")
    print(f"  bare httpx loop: {args.requests / bare:8.1f} requests/s")
    print(
        f"  run engine:      {args.requests / engine:8.1f} requests/s "
        f"({bare / engine:.2f} of the bare loop's rate)"
    )

    cases = _cases(args.cases)
    print(f"concurrency ({args.cases} cases, {args.latency_ms:g} ms latency):")
    with serve_in_thread(create_app(latency_ms=args.latency_ms)) as url:
        base = None
        for workers in (1, 4, 16):
            elapsed = asyncio.run(_engine(url, cases, workers))
            base = base or elapsed
            print(
                f"  workers {workers:>2}: {elapsed:6.2f} s, speed-up {base / elapsed:5.2f}x "
                f"(ideal {workers}x)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
