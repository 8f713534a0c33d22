"""The validating proxy's cost: added latency per chunk and throughput, beside direct traffic.

    python benchmarks/bench_proxy.py [--streams 16] [--chunks 200] [--rounds 3]
        [--pace-ms 20 --pace-ms 2] [--blocks 1] [--unpaced-rounds 30] [--repeats 5] [--pin]
        [--flush-every N --preload N] [--together] [--baseline DIR]

Four processes, so no one shares a GIL with another: an upstream (uvicorn, like the reference
server) that streams DeepSeek-shaped chat chunks, each stamped with the wall-clock time it was
written (``time.time_ns()`` as the delta's content: a valid chunk, so the proxy's checks do
their usual work); ``conformance proxy`` in front of it; a bare byte relay in front of it too
(the floor: what any user-space hop costs here); and this client, ``--streams`` concurrent
users each streaming ``--rounds`` answers (``--blocks`` times for each path in turn in a paced
phase, the latencies pooled, so that a slow spell of the machine, steal above all, lands on
every path rather than on whichever ran then). Latency of a chunk: its arrival time here minus its
stamp; "added" is the proxied (or relayed) percentile minus the direct one. Paced phases
(``--pace-ms``: a chunk every N ms per stream, the users' chunks spread over that interval)
measure latency; the unpaced one (as fast as the upstream writes) throughput, chunks/s over all
streams: ``--repeats`` runs of each path, interleaved, the median reported (one run of a fraction
of a second varied from 0.7x to 2x), each run starting once the proxy's checks caught up with
the last one (a worker still judging takes CPU from the next run). CPU per chunk of each
process is read from /proc, and so is the machine's steal (a VM's CPU time taken by its host:
a p99 of a millisecond means little where it is high). ``--pin`` puts the proxy (and its
check worker) on a CPU of its own and the load on the others.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import h11
import httpx

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")


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
        # bench_proxy_volume: an odd max_tokens asks for a broken answer (no [DONE])
        end = b"" if fail_odd and chunks % 2 else b"data: [DONE]\n\n"
        await send({"type": "http.response.body", "body": end})

    fail_odd = os.environ.get("BENCH_FAIL_ODD") == "1"
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


def family(pid: int) -> list[tuple[str, int]]:
    """``pid`` (the proxy) and each of its children (the check worker), named."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return [("proxy", pid), *(("worker", int(c)) for c in children)]


def machine_ticks() -> tuple[int, int]:
    """The machine's CPU time so far (``/proc/stat``, all CPUs): (stolen, all), in ticks.
    Steal is the time a virtual CPU wanted to run and the hypervisor ran someone else: on a
    shared VM it was 14 % of each CPU during a paced phase (0.3 % idle), in slices that hold
    a process for milliseconds, which is what a p99 of a millisecond is made of."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return 0, 0
    ticks = [int(f) for f in fields[:8]]
    return ticks[7], sum(ticks)


def cpu_seconds(pid: int) -> dict[str, float]:
    """User + system CPU seconds of ``pid`` and of each of its children (the check worker)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for name, each in family(pid):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: A chunk's stamp, as the upstream writes it (the delta's content: time.time_ns()).
STAMP = re.compile(rb'"content": "(\d+)"')


async def one_stream(url: str, chunks: int) -> list[float]:
    """One streamed request; the latency of each chunk: when the line carrying it arrived
    minus its stamp. The client is lean on purpose (a socket, h11 for the framing, a regex for
    the stamps, like wrk rather than an SDK): what it spends per chunk is CPU the two cores
    cannot give the proxy, and an httpx client reading lines and parsing JSON took 115 us a
    chunk, more than the proxy itself."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    body = json.dumps(
        {
            "model": "m",
            "messages": [{"role": "user", "content": "Hi"}],
            "stream": True,
            "max_tokens": chunks,
        }
    ).encode()
    http = h11.Connection(h11.CLIENT)
    headers = [("Host", host), ("Content-Type", "application/json"), ("Connection", "close")]
    headers.append(("Content-Length", str(len(body))))
    writer.write(http.send(h11.Request(method="POST", target="/chat/completions", headers=headers)))
    writer.write(http.send(h11.Data(data=body)) + http.send(h11.EndOfMessage()))
    latencies: list[float] = []
    tail = b""
    try:
        while True:
            event = http.next_event()
            if event is h11.NEED_DATA:
                http.receive_data(await reader.read(65536))
                continue
            if isinstance(event, h11.Data):
                now = time.time_ns()
                text = tail + bytes(event.data)
                cut = text.rfind(b"\n") + 1  # complete lines only; the rest waits
                latencies += [(now - int(m[1])) / 1e6 for m in STAMP.finditer(text, 0, cut)]
                tail = text[cut:]
            elif isinstance(event, h11.Response) and event.status_code != 200:
                FAILED.append(f"HTTP {event.status_code} from {url}")
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                break
    except OSError as exc:  # counted, and the run goes on
        FAILED.append(f"{type(exc).__name__} from {url}")
    finally:
        writer.close()
    if not latencies:
        FAILED.append(f"no chunk from {url}")
    return latencies


#: What went wrong with a stream (status, error): a lost stream says why in the results.
FAILED: list[str] = []


async def phase(
    url: str, streams: int, chunks: int, rounds: int, stagger_s: float = 0.0, offset_s: float = 0.0
) -> tuple[list[float], float]:
    """``streams`` concurrent users, each streaming ``rounds`` answers one after the other.
    With ``stagger_s``, user k starts k * stagger_s later: requests then arrive spread over
    time, as from independent users, instead of sixteen at the same instant every round (a
    burst of request handling no real traffic has; it was most of the proxied p99)."""

    async def user(k: int) -> list[float]:
        await asyncio.sleep(offset_s + k * stagger_s)
        out: list[float] = []
        for _ in range(rounds):
            out += await one_stream(url, chunks)
        return out

    started = time.perf_counter()
    results = await asyncio.gather(*(user(k) for k in range(streams)))
    latencies = [value for result in results for value in result]
    return latencies, len(latencies) / (time.perf_counter() - started)


#: The client's event loop (``--client-loop``): uvloop by default, as the proxy, the relay and
#: the upstream have (uvicorn takes it when installed). On asyncio's own loop this client took
#: 60-90 us of CPU a chunk at a paced rate, more than the proxy: CPU the two cores could not
#: give the paths it measures.
CLIENT_LOOP = ["uvloop"]


def on_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on ``CLIENT_LOOP`` (asyncio's when uvloop is not installed)."""
    if CLIENT_LOOP[0] == "uvloop":
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.run(coro)
    return asyncio.run(coro)


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


async def relay(port: int, upstream: str) -> None:
    """A bare byte relay (no HTTP, no checks): what any user-space proxy costs on this machine
    at the least, the floor the proxy's added latency is compared with."""
    host, up_port = upstream.removeprefix("http://").split(":")

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(host, int(up_port))
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def start_relay(upstream: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve-relay", str(port), "--to", upstream],
        preexec_fn=_pin(PROXY_CPUS),
    )
    url = f"http://127.0.0.1:{port}"
    wait_up(url)
    return process, url


def start_upstream(delay_s: float) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve-upstream", str(port), "--delay", str(delay_s)],
        preexec_fn=_pin(LOAD_CPUS),
    )
    url = f"http://127.0.0.1:{port}"
    wait_up(url)
    return process, url


def start_proxy(
    upstream: str, reports: str, flush_every: int = 0, root: Path = ROOT
) -> tuple[subprocess.Popen[bytes], str]:
    """``conformance proxy`` of the checkout at ``root`` (this one, or ``--baseline``'s)."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(root)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "conformance._cli",
            "proxy",
            *("--upstream", upstream, "--port", str(port), "--report-dir", reports),
            *("--flush-every", str(flush_every)),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        preexec_fn=_pin(PROXY_CPUS),
    )
    url = f"http://127.0.0.1:{port}"
    wait_up(url + "/nowhere")
    return process, url


def quiet(pid: int, still_s: float = 0.1, limit_s: float = 60.0) -> float:
    """Wait until ``pid`` and its children use no more CPU (the checks caught up): a worker
    still judging the last run would take CPU from the next one. How long they took (s)."""
    started = time.monotonic()
    before = sum(cpu_seconds(pid).values())
    while time.monotonic() < started + limit_s:
        time.sleep(still_s)
        now = sum(cpu_seconds(pid).values())
        if now - before < 0.05 * still_s:
            return time.monotonic() - started - still_s
        before = now
    return limit_s


def measure(name: str, delay: float, args: argparse.Namespace) -> dict[str, Any]:
    """One phase: direct, relayed and proxied runs, interleaved ``repeats`` times (the unpaced
    phase) or ``--blocks`` times (a paced one, whose latencies are pooled). A paced run keeps
    its ``--rounds`` together: its users start spread over an answer's length, so a run of
    one round would have half the streams at once on average, not ``--streams``."""
    paced = delay > 0
    FAILED.clear()
    rounds = args.rounds if paced else args.unpaced_rounds
    repeats = args.blocks if paced else args.repeats
    upstream, upstream_url = start_upstream(delay)
    paths = ["direct", "relayed", "proxied", *(["baseline"] if args.baseline else [])]
    lat: dict[str, list[float]] = {which: [] for which in paths}
    rates: dict[str, list[float]] = {which: [] for which in paths}
    baseline_cpu: dict[str, float] = {}
    cpu: dict[str, float] = {}
    relay_cpu = 0.0
    lag = 0.0  # the longest the checks took to catch up after a proxied run's last byte
    stolen = [0, 0]  # the machine's steal during the proxied runs, and all its CPU time
    with tempfile.TemporaryDirectory() as reports:
        proxy, proxy_url = start_proxy(upstream_url, reports, args.flush_every)
        bare, relay_url = start_relay(upstream_url)
        others: list[subprocess.Popen[bytes]] = []
        if args.baseline:  # the same proxy from another checkout, in every block beside
            old, baseline_url = start_proxy(
                upstream_url, reports + "/baseline", args.flush_every, args.baseline
            )
            others.append(old)
        try:
            # warm-up, not measured: as many connections as the phase will use
            for url in (upstream_url, proxy_url, relay_url, *([baseline_url] if others else [])):
                on_loop(phase(url, args.streams, 10, 1))
            if args.preload:  # short answers, so the reports the proxy writes are large
                on_loop(phase(proxy_url, args.streams, 10, args.preload // args.streams))
            quiet(proxy.pid)
            # users start spread over one answer's length, and their chunks spread over
            # the pace (k/streams of it apart): independent streams, not a batch
            stagger = delay * (args.chunks + 1) / args.streams

            def run(which: str, url: str) -> None:
                if paced and args.together:  # this path and the upstream's, at the same time
                    run_together(which, url)
                    return
                got, rate = on_loop(phase(url, args.streams, args.chunks, rounds, stagger))
                lat[which] += got
                rates[which].append(rate)

            def run_together(which: str, url: str) -> None:
                async def both() -> list[tuple[list[float], float]]:
                    streams, chunks = args.streams, args.chunks
                    return await asyncio.gather(
                        phase(upstream_url, streams, chunks, rounds, stagger),
                        # its chunks half-way between the direct ones'
                        phase(url, streams, chunks, rounds, stagger, stagger / 2),
                    )

                (direct, direct_rate), (got, rate) = on_loop(both())
                lat["direct"] += direct
                if which == "proxied":  # one direct rate a repeat, as apart
                    rates["direct"].append(direct_rate)
                lat[which] += got
                rates[which].append(rate)

            def run_baseline() -> None:
                before = cpu_seconds(old.pid)
                run("baseline", baseline_url)
                quiet(old.pid)
                for key, value in cpu_seconds(old.pid).items():
                    baseline_cpu[key] = baseline_cpu.get(key, 0.0) + value - before.get(key, 0.0)

            for block in range(repeats):
                if others and block % 2 == 0:  # first in every other block: neither always last
                    run_baseline()
                if not (paced and args.together):
                    run("direct", upstream_url)
                relay_before = cpu_seconds(bare.pid)["proxy"]
                run("relayed", relay_url)
                relay_cpu += cpu_seconds(bare.pid)["proxy"] - relay_before
                before = {
                    **cpu_seconds(proxy.pid),
                    "upstream": cpu_seconds(upstream.pid)["proxy"],
                    "client": time.process_time(),
                }
                steal_before = machine_ticks()
                run("proxied", proxy_url)
                steal_after = machine_ticks()
                stolen = [
                    x + b - a for x, a, b in zip(stolen, steal_before, steal_after, strict=True)
                ]
                lag = max(lag, quiet(proxy.pid))  # the last judgments, before the next run
                after = {
                    **cpu_seconds(proxy.pid),
                    "upstream": cpu_seconds(upstream.pid)["proxy"],
                    "client": time.process_time(),
                }
                for key in after:
                    cpu[key] = cpu.get(key, 0.0) + after[key] - before.get(key, 0.0)
                if others and block % 2 == 1:
                    run_baseline()
        finally:
            for process in (proxy, bare, upstream, *others):
                process.terminate()
                process.wait(timeout=30)
        judged = json.loads((Path(reports) / "report.json").read_text())
        names = {upstream_url: "direct", relay_url: "relayed", proxy_url: "proxied"}
        if others:
            names[baseline_url] = "baseline"
    direct, relayed, proxied = lat["direct"], lat["relayed"], lat["proxied"]
    rate = {which: statistics.median(values) for which, values in rates.items()}
    return {
        "phase": name,
        "chunks": len(proxied),
        "chunks expected": args.streams * args.chunks * rounds * repeats,
        "direct p50 ms": round(pct(direct, 0.5), 3),
        "proxied p50 ms": round(pct(proxied, 0.5), 3),
        "added p50 ms": round(pct(proxied, 0.5) - pct(direct, 0.5), 3),
        "direct p99 ms": round(pct(direct, 0.99), 3),
        "proxied p99 ms": round(pct(proxied, 0.99), 3),
        "added p99 ms": round(pct(proxied, 0.99) - pct(direct, 0.99), 3),
        "relay added p50 ms": round(pct(relayed, 0.5) - pct(direct, 0.5), 3),
        "relay added p99 ms": round(pct(relayed, 0.99) - pct(direct, 0.99), 3),
        "relayed / direct": round(rate["relayed"] / rate["direct"], 2),
        "relay CPU us/chunk": round(relay_cpu / max(len(relayed), 1) * 1e6, 1),
        # the median of the repeats' rates, and each repeat's own proxied / direct
        "direct chunks/s": round(rate["direct"]),
        "proxied chunks/s": round(rate["proxied"]),
        "proxied / direct": round(rate["proxied"] / rate["direct"], 2),
        "proxied / direct each": [
            round(p / d, 2) for p, d in zip(rates["proxied"], rates["direct"], strict=True)
        ],
        "relayed / direct each": [
            round(r / d, 2) for r, d in zip(rates["relayed"], rates["direct"], strict=True)
        ],
        "exchanges judged": judged["summary"]["exchanges"],
        # with the warm-up's and the preloaded ones
        "exchanges sent": args.streams * (rounds * repeats + 1 + args.preload // args.streams),
        "checks caught up s": round(lag, 2),
        # CPU microseconds per proxied chunk: forwarding (the proxy) and checking (worker)
        **{f"{key} CPU us/chunk": round(cpu[key] / len(proxied) * 1e6, 1) for key in cpu},
        "mean direct ms": round(statistics.mean(direct), 3),
        # what went wrong with a stream, the URL named by its path
        "streams failed": [_named(f, names) for f in FAILED],
        # of the machine's CPU time during the proxied runs: the hypervisor's (0 on bare metal)
        "steal %": round(100 * stolen[0] / stolen[1], 1) if stolen[1] else None,
        **(_baseline(lat, rates, baseline_cpu) if args.baseline else {}),
    }


def _named(failure: str, names: dict[str, str]) -> str:
    """``failure`` with the URL it names said as the path it is (direct, proxied...)."""
    for url, name in names.items():
        failure = failure.replace(url, f"{name} ({url})")
    return failure


def _baseline(
    lat: dict[str, list[float]], rates: dict[str, list[float]], cpu: dict[str, float]
) -> dict[str, Any]:
    """The figures of ``--baseline``'s proxy, run in the same blocks as this one's."""
    direct, old = lat["direct"], lat["baseline"]
    rate = statistics.median(rates["baseline"]) / statistics.median(rates["direct"])
    return {
        "baseline added p50 ms": round(pct(old, 0.5) - pct(direct, 0.5), 3),
        "baseline added p99 ms": round(pct(old, 0.99) - pct(direct, 0.99), 3),
        "baseline / direct": round(rate, 2),
        **{f"baseline {key} CPU us/chunk": round(cpu[key] / len(old) * 1e6, 1) for key in cpu},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=16)
    parser.add_argument("--chunks", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--client-loop",
        choices=("uvloop", "asyncio"),
        default="uvloop",
        help="the event loop of this client (default uvloop; asyncio: as before 12-03)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="DIR",
        help="a checkout of another commit (git worktree add DIR REV): its proxy runs too, "
        "in every block beside this one's, and its figures are reported beside (A/B)",
    )
    parser.add_argument(
        "--blocks",
        type=int,
        default=1,
        help="paced phases: runs of each path, interleaved (direct, relayed, proxied), their "
        "latencies pooled (default 1; 3 for a p99 less exposed to the machine's slow spells)",
    )
    parser.add_argument(
        "--unpaced-rounds",
        type=int,
        default=30,
        help="answers each user streams in one unpaced run (default 30: about a second here)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=5,
        help="unpaced runs of each path, interleaved (direct, relayed, proxied); the median "
        "rate is reported (default 5)",
    )
    parser.add_argument(
        "--pace-ms",
        type=float,
        action="append",
        help="a chunk every N ms in each stream, one phase each (default: 20, a model writing "
        "50 tokens/s, and 2, ten times that); an unpaced phase follows",
    )
    parser.add_argument(
        "--flush-every",
        type=int,
        default=0,
        help="the proxy writes its reports every N exchanges judged (default: only at the end)",
    )
    parser.add_argument(
        "--preload",
        type=int,
        default=0,
        help="short exchanges sent through the proxy before each phase, so that its reports "
        "are large when --flush-every writes them (e.g. 3200)",
    )
    parser.add_argument(
        "--together",
        action="store_true",
        help="paced phases: the direct streams run at the same time as the proxied ones (and "
        "again beside the relayed ones), their chunks half-way between, so that a hiccup of "
        "the machine lands on both (apart, the direct p99 itself moved from 1.2 to 10 ms "
        "between back-to-back runs on a shared VM); the upstream and client CPU then count "
        "both sets",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="the proxy on one CPU, the client and the upstream on the others",
    )
    parser.add_argument("--serve-upstream", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--delay", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--serve-relay", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--to", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_upstream:
        import uvicorn

        uvicorn.run(upstream_app(args.delay), port=args.serve_upstream, log_level="error")
        return 0
    if args.serve_relay:
        # the event loop the proxy gets (uvicorn takes uvloop when it is installed)
        on_loop(relay(args.serve_relay, args.to))
        return 0
    CLIENT_LOOP[0] = args.client_loop
    if args.blocks < 1:
        parser.error(f"--blocks {args.blocks}: one or more")
    if args.baseline and not (args.baseline / "conformance" / "_cli").is_dir():
        parser.error(f"--baseline {args.baseline}: not a checkout of this project")
    if args.pin:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            raise SystemExit("--pin needs two CPUs or more")
        PROXY_CPUS.add(cpus[-1])
        LOAD_CPUS.update(cpus[:-1])
        os.sched_setaffinity(0, LOAD_CPUS)
    rows = []
    phases = [(f"paced {ms:g} ms", ms / 1000) for ms in args.pace_ms or (20.0, 2.0)]
    for name, delay in [*phases, ("unpaced", 0.0)]:
        rows.append(measure(name, delay, args))
    print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
