"""The validating proxy over a long run: memory, report size and shutdown at any volume.

    python benchmarks/bench_proxy_volume.py [--exchanges 100000] [--clients 8] [--chunks 8]
        [--every 10000] [--failing 0.01]

An upstream (``bench_proxy``'s, uvicorn) streams short DeepSeek-shaped answers; one in
``1/--failing`` requests asks for an answer that breaks a check (its stream never ends with
``[DONE]``), so the report has failures to keep as well as passes. ``--clients`` concurrent
clients (aiohttp, kept-alive connections) send ``--exchanges`` requests through
``conformance proxy``. Every ``--every`` exchanges the proxy's resident memory (and its checks
worker's) is read from /proc, once the checks caught up (the worker runs on idle CPU only, so
it lags a saturated machine). At the end: SIGTERM, and the time until the proxy exited, having
written every report (and the time until report.json was there: it is written at the signal);
the size of report.json and report.html.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_proxy import cpu_seconds, family, quiet, start_proxy, start_upstream


def rss_mb(pid: int) -> dict[str, float]:
    """Resident memory (MB) of ``pid`` and of its children (the checks worker)."""
    out: dict[str, float] = {}
    for name, each in family(pid):
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out[name] = out.get(name, 0.0) + int(line.split()[1]) / 1024
        except OSError:
            continue
    return out


async def drive(url: str, count: int, clients: int, chunks: int, failing: float) -> None:
    """``count`` streamed requests over ``clients`` connections."""
    every_failing = int(1 / failing) if failing > 0 else 0
    numbers = iter(range(count))
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def client() -> None:
            for n in numbers:
                tokens = chunks + 1 if every_failing and n % every_failing == 0 else chunks
                body = {
                    "model": "deepseek-chat",
                    "messages": [{"role": "user", "content": f"request {n}"}],
                    "stream": True,
                    "max_tokens": tokens,
                }
                async with session.post(f"{url}/chat/completions", json=body) as response:
                    await response.read()

        await asyncio.gather(*(client() for _ in range(clients)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exchanges", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--chunks", type=int, default=8, help="chunks an answer (default 8)")
    parser.add_argument("--every", type=int, default=10_000, help="measure every N exchanges")
    parser.add_argument(
        "--failing", type=float, default=0.01, help="the fraction of failing answers"
    )
    args = parser.parse_args()
    os.environ["BENCH_FAIL_ODD"] = "1"  # the upstream breaks answers of an odd max_tokens
    upstream, upstream_url = start_upstream(0.0)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as reports:
        proxy, url = start_proxy(upstream_url, reports)
        try:
            sent = 0
            started = time.monotonic()
            while sent < args.exchanges:
                batch = min(args.every, args.exchanges - sent)
                asyncio.run(drive(url, batch, args.clients, args.chunks, args.failing))
                sent += batch
                lag = quiet(proxy.pid, still_s=0.5, limit_s=600)
                rows.append(
                    {
                        "exchanges": sent,
                        "elapsed_s": round(time.monotonic() - started, 1),
                        "checks_lag_s": round(lag, 1),
                        "rss_mb": {k: round(v, 1) for k, v in rss_mb(proxy.pid).items()},
                        "cpu_s": {k: round(v, 1) for k, v in cpu_seconds(proxy.pid).items()},
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
            written = Path(reports) / "report.json"
            stop = time.monotonic()
            proxy.send_signal(signal.SIGTERM)
            while not written.exists() and proxy.poll() is None:
                time.sleep(0.005)
            report_s = time.monotonic() - stop
            code = proxy.wait(timeout=120)
            shutdown_s = time.monotonic() - stop
        finally:
            if proxy.poll() is None:
                proxy.kill()
            upstream.terminate()
            upstream.wait(10)
        report = json.loads((Path(reports) / "report.json").read_text(encoding="utf-8"))
        sizes = {
            name: round((Path(reports) / name).stat().st_size / 1024, 1)
            for name in ("report.json", "report.html")
        }
    print(
        json.dumps(
            {
                "exit": code,
                "sigterm_to_report_s": round(report_s, 3),
                "sigterm_to_exit_s": round(shutdown_s, 3),
                "report_kib": sizes,
                "verdict": report["verdict"],
                "summary_exchanges": report["summary"]["exchanges"],
                "exchanges_kept": len(report["exchanges"]),
                "exchanges_omitted": report.get("exchanges_omitted", 0),
                "proxy": report["run"]["proxy"],
                "rss_growth_after_first_mb": round(
                    rows[-1]["rss_mb"]["proxy"] - rows[0]["rss_mb"]["proxy"], 1
                ),
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
