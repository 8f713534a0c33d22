"""Offline validation of a long DeepSeek-shaped stream: chunks/s and peak memory.

    python benchmarks/bench_validate.py [--chunks 100000] [--chunks 10000 ...]

Each size runs in a fresh process (so peak RSS is that run's own), through the same path as
``conformance validate FILE``: the file is read in blocks, parsed incrementally and checked.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

USAGE = {
    "prompt_tokens": 10,
    "completion_tokens": 3,
    "total_tokens": 13,
    "prompt_tokens_details": {"cached_tokens": 0},
    "prompt_cache_hit_tokens": 0,
    "prompt_cache_miss_tokens": 10,
}
BASE = {
    "id": "5d9b2ac0-0b4f-4a3c-9a55-3f1b2d3c4e5f",
    "object": "chat.completion.chunk",
    "created": 1753566410,
    "model": "deepseek-chat",
    "system_fingerprint": "fp_8802369eaa",
}


def _chunk(delta: dict[str, object], finish: str | None = None, **extra: object) -> str:
    body = {
        **BASE,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        **extra,
    }
    return f"data: {json.dumps(body)}\n\n"


def write_stream(path: Path, n: int) -> None:
    with path.open("w") as handle:
        handle.write("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n\r\n")
        handle.write(_chunk({"role": "assistant", "content": ""}))
        line = _chunk({"content": " word"})
        for _ in range(n):
            handle.write(line)
        handle.write(_chunk({"content": ""}, "stop", usage=USAGE))
        handle.write("data: [DONE]\n\n")


def _peak_kib() -> int:
    """This process's peak RSS: VmHWM (ru_maxrss survives exec on Linux, so a child started by
    a big parent would report the parent's peak)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure(path: Path) -> None:
    """Runs in the child: validate, print chunks, seconds and peak RSS as JSON."""
    from conformance.checks import check_exchange
    from conformance.contract import load_contract
    from conformance.exchange import read_exchanges

    contract = load_contract(profile="deepseek")
    (exchange,) = read_exchanges(str(path))
    # Importing jsonschema-rs is start-up (benchmarks/bench_load.py), outside the clock as in
    # (a); compiling the chunk schema's validator stays inside it.
    import jsonschema_rs  # noqa: F401

    start = time.perf_counter()
    result = check_exchange(contract, exchange)
    seconds = time.perf_counter() - start
    failed = sorted(k for k, o in result.outcomes.items() if o.status == "fail")
    peak_kib = _peak_kib()
    print(
        json.dumps(
            {
                "chunks": result.chunks,
                "seconds": seconds,
                "peak_rss_mib": peak_kib / 1024,
                "failed": failed,
            }
        )
    )


def baselines(path: Path, limit_b: int = 5000) -> dict[str, float]:
    """chunks/s of (a) json.loads + a compiled jsonschema-rs is_valid per chunk (the floor) and
    (b) jsonschema.validate per chunk (what a hurried user writes), on the same chunks."""
    import jsonschema
    import jsonschema_rs

    from conformance.contract import load_contract

    contract = load_contract(profile="deepseek")
    location = contract.operation().responses["200"][0].stream.data_schema
    uri = f"{contract.base_uri}#{location}"
    fast = jsonschema_rs.Draft202012Validator(
        {"$ref": uri},
        registry=jsonschema_rs.Registry([(contract.base_uri, dict(contract.schema_document))]),
    )
    lines = [
        line[6:]
        for line in path.read_text().splitlines()
        if line.startswith("data: ") and line != "data: [DONE]"
    ]
    start = time.perf_counter()
    valid = all(fast.is_valid(json.loads(line)) for line in lines)
    a = len(lines) / (time.perf_counter() - start)
    assert valid
    subset = lines[:limit_b]
    start = time.perf_counter()
    for line in subset:
        jsonschema.validate(json.loads(line), {"$ref": uri}, registry=contract.registry)
    b = len(subset) / (time.perf_counter() - start)
    return {"a": a, "b": b}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, action="append")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(Path(args.measure))
        return 0
    sizes = args.chunks or [10_000, 100_000, 1_000_000]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = Path(tmp) / f"stream-{n}.http"
            write_stream(path, n)
            out = subprocess.run(
                [sys.executable, __file__, "--measure", str(path)],
                capture_output=True,
                text=True,
                check=True,
            )
            row = json.loads(out.stdout)
            assert not row["failed"], row["failed"]
            rows.append(row)
            path.unlink()
        # The baselines last: their parent process grows, and must not skew the children.
        reference = Path(tmp) / "baseline.http"
        write_stream(reference, 100_000)
        floor = baselines(reference)
    print(f"(a) json.loads + jsonschema-rs is_valid per chunk: {floor['a']:,.0f} chunks/s")
    print(f"(b) jsonschema.validate per chunk:                 {floor['b']:,.0f} chunks/s")
    print(
        f"{'chunks':>9} {'seconds':>8} {'chunks/s':>9} {'(a)/ours':>9} {'ours/(b)':>9} {'peak RSS MiB':>13}"
    )
    for row in rows:
        rate = row["chunks"] / row["seconds"]
        print(
            f"{row['chunks']:>9} {row['seconds']:>8.2f} {rate:>9.0f} {floor['a'] / rate:>8.1f}x "
            f"{rate / floor['b']:>8.1f}x {row['peak_rss_mib']:>13.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
