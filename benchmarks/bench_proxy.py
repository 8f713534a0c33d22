"""The validating proxy's cost: added latency per chunk and throughput, beside direct traffic.

    python benchmarks/bench_proxy.py [--streams 16] [--chunks 200] [--rounds 3]

Three processes, so no one shares a GIL with another: an upstream that streams DeepSeek-shaped
chat chunks, each stamped with the wall-clock time it was written (``time.time_ns()`` as the
delta's content: a valid chunk, so the proxy's checks do their usual work), ``conformance
proxy`` in front of it, and this client (httpx, ``--streams`` concurrent streams). Latency of a
chunk: its arrival time here minus its stamp; the proxy's added latency is the proxied
percentile minus the direct one. Two phases: paced (a chunk every 2 ms, as a model writes:
latency) and unpaced (as fast as the upstream can: throughput, chunks/s over all streams).
``--pin`` puts the proxy (and its check worker) on a CPU of its own and the load on the others.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]


def upstream_app(delay_s: float) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] != "POST":  # the start-up probe
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        chunks = json.loads(body).get("max_tokens", 100)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream; charset=utf-8")],
            }
        )
        base = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m"}
        base["system_fingerprint"] = "fp"
        for i in range(chunks):
            delta: dict[str, Any] = {"content": str(time.time_ns())}
            if i == 0:
                delta["role"] = "assistant"
            choice = {"index": 0, "delta": delta, "finish_reason": None, "logprobs": None}
            if i == chunks - 1:
                choice["finish_reason"] = "length"
            frame = f"data: {json.dumps({**base, 'choices': [choice]})}\n\n".encode()
            await send({"type": "http.response.body", "body": frame, "more_body": True})
            if delay_s:
                await asyncio.sleep(delay_s)
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})

    return app


#: With --pin (and two CPUs or more): the proxy (and its check worker) on one CPU, the load
#: (this client and the upstream) on the others, as a proxy runs beside, not inside, the
#: traffic it checks. Without it, the scheduler places everything.
PROXY_CPUS: set[int] = set()
LOAD_CPUS: set[int] = set()


def _pin(cpus: set[int]) -> Any:
    def pin() -> None:
        if cpus:
            os.sched_setaffinity(0, cpus)

    return pin


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def one_stream(client: httpx.AsyncClient, url: str, chunks: int) -> list[float]:
    latencies = []
    body = {"model": "m", "messages": [{"role": "user", "content": "Hi"}], "stream": True}
    body["max_tokens"] = chunks
    async with client.stream("POST", url + "/chat/completions", json=body) as response:
        async for line in response.aiter_lines():
            if line.startswith("data: {"):
                now = time.time_ns()
                stamp = int(json.loads(line[6:])["choices"][0]["delta"]["content"])
                latencies.append((now - stamp) / 1e6)
    return latencies


async def phase(url: str, streams: int, chunks: int, rounds: int) -> tuple[list[float], float]:
    latencies: list[float] = []
    total = 0
    started = time.perf_counter()
    limits = httpx.Limits(max_connections=streams * 2)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        for _ in range(rounds):
            results = await asyncio.gather(
                *(one_stream(client, url, chunks) for _ in range(streams))
            )
            for result in results:
                latencies += result
                total += len(result)
    return latencies, total / (time.perf_counter() - started)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def wait_up(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(url, timeout=1)
            return
        time.sleep(0.1)
    raise SystemExit(f"{url} did not start")


def start_upstream(delay_s: float) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve-upstream", str(port), "--delay", str(delay_s)],
        preexec_fn=_pin(LOAD_CPUS),
    )
    url = f"http://127.0.0.1:{port}"
    wait_up(url)
    return process, url


def start_proxy(upstream: str, reports: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "conformance._cli",
            "proxy",
            *("--upstream", upstream, "--port", str(port), "--report-dir", reports),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        preexec_fn=_pin(PROXY_CPUS),
    )
    url = f"http://127.0.0.1:{port}"
    wait_up(url + "/nowhere")
    return process, url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=16)
    parser.add_argument("--chunks", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--pin",
        action="store_true",
        help="the proxy on one CPU, the client and the upstream on the others",
    )
    parser.add_argument("--serve-upstream", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--delay", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_upstream:
        import uvicorn

        uvicorn.run(upstream_app(args.delay), port=args.serve_upstream, log_level="error")
        return 0
    if args.pin:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            raise SystemExit("--pin needs two CPUs or more")
        PROXY_CPUS.add(cpus[-1])
        LOAD_CPUS.update(cpus[:-1])
        os.sched_setaffinity(0, LOAD_CPUS)
    rows = []
    for name, delay in (("paced (a chunk every 2 ms)", 0.002), ("unpaced", 0.0)):
        upstream, upstream_url = start_upstream(delay)
        with tempfile.TemporaryDirectory() as reports:
            proxy, proxy_url = start_proxy(upstream_url, reports)
            try:
                asyncio.run(phase(upstream_url, 2, 10, 1))  # warm-up, not measured
                asyncio.run(phase(proxy_url, 2, 10, 1))
                direct, direct_rate = asyncio.run(
                    phase(upstream_url, args.streams, args.chunks, args.rounds)
                )
                proxied, proxied_rate = asyncio.run(
                    phase(proxy_url, args.streams, args.chunks, args.rounds)
                )
            finally:
                for process in (proxy, upstream):
                    process.terminate()
                    process.wait(timeout=30)
            judged = json.loads((Path(reports) / "report.json").read_text())
        rows.append(
            {
                "phase": name,
                "chunks": len(proxied),
                "direct p50 ms": round(pct(direct, 0.5), 3),
                "proxied p50 ms": round(pct(proxied, 0.5), 3),
                "added p50 ms": round(pct(proxied, 0.5) - pct(direct, 0.5), 3),
                "direct p99 ms": round(pct(direct, 0.99), 3),
                "proxied p99 ms": round(pct(proxied, 0.99), 3),
                "added p99 ms": round(pct(proxied, 0.99) - pct(direct, 0.99), 3),
                "direct chunks/s": round(direct_rate),
                "proxied chunks/s": round(proxied_rate),
                "proxied / direct": round(proxied_rate / direct_rate, 2),
                "exchanges judged": judged["summary"]["exchanges"],
                "mean direct ms": round(statistics.mean(direct), 3),
            }
        )
    print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
