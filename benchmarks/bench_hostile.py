"""Peak memory of ``serve``, ``serve --mock``, ``proxy`` and ``validate`` under hostile input,
and how long ``GET /models`` takes meanwhile, measured on the machine at hand.

    python benchmarks/bench_hostile.py

Targets (issue "Hostile text and secrets"): each process under 300 MB of peak RSS, and
``GET /models`` answered within 1 s throughout. The inputs, each reproduced before the bounds:

- a body declared as 512 MiB (``Content-Length``), then 512 MiB actually streamed at
  ``/beta/completions`` (it was read whole: 1 GB);
- an 18 MB request to the mock (it validated on the event loop: ``GET /models`` waited 31.7 s);
- deeply nested JSON (a 500 with a 3,000-line traceback);
- 20 request heads that never end, 64 MiB each (1.2 GB, most of it kept after they closed);
- 1,100 idle connections (they exhausted the descriptors);
- ``validate /dev/zero``, a 1 GiB JSON file and deep nesting (MemoryError at 3.8-5.3 GB).

Each server runs as the command does, in its own process; its peak RSS is ``VmHWM`` from
``/proc`` (Linux).
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

KEY = "sk-conformance-reference"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@contextlib.contextmanager
def _server(*argv: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "conformance._cli", *argv, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(url + "/models", timeout=1)
            break
        time.sleep(0.1)
    try:
        yield url, process
    finally:
        process.terminate()
        process.wait(timeout=10)


class _Watch:
    """``GET /models`` every 100 ms while an attack runs; the slowest answer (or a failure)."""

    def __init__(self, url: str) -> None:
        self.url, self.slowest, self.failed, self.stop = url, 0.0, 0, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=5, headers={"Authorization": f"Bearer {KEY}"}) as client:
            while not self.stop.wait(0.1):
                start = time.perf_counter()
                try:
                    client.get(self.url + "/models").raise_for_status()
                except httpx.HTTPError:
                    self.failed += 1
                self.slowest = max(self.slowest, time.perf_counter() - start)

    def __enter__(self) -> _Watch:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def _send(url: str, data: bytes | Callable[[socket.socket], None], wait: float = 30) -> None:
    host, port = url.removeprefix("http://").split(":")
    with (
        socket.create_connection((host, int(port)), timeout=wait) as conn,
        contextlib.suppress(OSError),
    ):
        if callable(data):
            data(conn)
        else:
            conn.sendall(data)
        conn.recv(65536)


def _attacks(url: str, path: str) -> list[tuple[str, Callable[[], None]]]:
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"

    def declared() -> None:
        _send(url, (head + "Content-Length: 536870912\r\n\r\n").encode())

    def streamed(conn: socket.socket) -> None:
        conn.sendall((head + "Transfer-Encoding: chunked\r\n\r\n").encode())
        piece = b"%x\r\n" % (1 << 20) + b"x" * (1 << 20) + b"\r\n"
        for _ in range(512):
            conn.sendall(piece)

    def large() -> None:
        body = (
            b'{"model":"deepseek-chat","messages":[' + b'{"role":"user","content":"hi"},' * 600_000
        )
        body = body.rstrip(b",") + b"]}"
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(
                url + path, content=body, headers={"Authorization": f"Bearer {KEY}"}, timeout=60
            )

    def nested() -> None:
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(
                url + path,
                content=b"[" * 200_000 + b"]" * 200_000,
                headers={"Authorization": f"Bearer {KEY}"},
                timeout=60,
            )

    def endless_heads() -> None:
        def one(conn: socket.socket) -> None:
            conn.sendall(b"GET /models HTTP/1.1\r\nX: ")
            for _ in range(1024):
                conn.sendall(b"a" * 65536)

        threads = [threading.Thread(target=_send, args=(url, one)) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def idle() -> None:
        host, port = url.removeprefix("http://").split(":")
        conns = []
        with contextlib.suppress(OSError):
            for _ in range(1100):
                conns.append(socket.create_connection((host, int(port)), timeout=5))
        time.sleep(2)
        for conn in conns:
            conn.close()

    return [
        ("declared 512 MiB", declared),
        ("streamed 512 MiB", lambda: _send(url, streamed, wait=120)),
        ("18 MB request", large),
        ("nested 200k", nested),
        ("20 heads x 64 MiB", endless_heads),
        ("1,100 idle connections", idle),
    ]


def _bench_server(label: str, argv: list[str], path: str) -> list[str]:
    rows = []
    with _server(*argv) as (url, process):
        for name, attack in _attacks(url, path):
            with _Watch(url) as watch:
                attack()
            rows.append(
                f"| {label} | {name} | {_peak_mb(process.pid):.0f} | {watch.slowest:.2f} | "
                f"{watch.failed} |"
            )
    return rows


def _bench_validate() -> list[str]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        huge = Path(tmp) / "huge.json"
        with huge.open("wb") as handle:
            handle.write(b'{"x": "')
            handle.truncate(1 << 30)
        deep = Path(tmp) / "deep.json"
        deep.write_bytes(b"[" * 1_000_000 + b"]" * 1_000_000)
        for name, target in (("/dev/zero", "/dev/zero"), ("1 GiB JSON", huge), ("deep", deep)):
            command = [sys.executable, "-m", "conformance._cli", "validate", str(target)]
            command += ["--report-dir", str(Path(tmp) / "r")]
            timed = ["/usr/bin/time", "-f", "%M", *command]
            done = subprocess.run(timed, capture_output=True, text=True, check=False)
            peak = int(done.stderr.strip().splitlines()[-1]) / 1024
            rows.append(f"| validate | {name} (exit {done.returncode}) | {peak:.0f} | - | - |")
    return rows


def main() -> int:
    rows = [
        "| process | input | peak RSS MB | slowest GET /models s | failed |",
        "|---|---|---|---|---|",
    ]
    rows += _bench_server("serve", ["serve"], "/beta/completions")
    rows += _bench_server("serve --mock", ["serve", "--mock"], "/chat/completions")
    rows += _bench_validate()
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
