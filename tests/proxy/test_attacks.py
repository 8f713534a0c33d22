"""The proxy faces clients that are not ours: each attack here was reproduced on the proxy
before it was guarded, and each test fails there. Requests go raw over a socket (an HTTP
client would not send these), and a second listener on another port proves that nothing was
relayed there."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance._serving import ServeLimits, uvicorn_options
from conformance.contract import load_contract
from conformance.proxy import UVICORN_OPTIONS, create_proxy_app
from conformance.reference import serve_in_thread
from tests.helpers import asgi_body

CHAT = b'{"model":"deepseek-chat","messages":[{"role":"user","content":"Hi"}]}'


class Listener:
    """A TCP listener that accepts and records every connection (and what it was sent)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            conn.settimeout(0.5)
            with contextlib.suppress(OSError):
                self.received.append(conn.recv(65536))
            conn.close()

    def close(self) -> None:
        self.stop = True
        self.thread.join(timeout=2)
        self.sock.close()


@contextlib.contextmanager
def guarded_proxy(
    tmp_path: Path,
    *,
    base_path: str = "",
    userinfo: str = "",
    limits: ServeLimits | None = None,
    **options: Any,
) -> Iterator[tuple[str, list[dict[str, Any]], Any]]:
    """The proxy (as the command serves it) in front of an upstream that answers 200 with
    what it got; yields the proxy's URL, the requests the upstream got, and the proxy's state."""
    seen: list[dict[str, Any]] = []

    async def upstream(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await asgi_body(receive)
        seen.append(
            {
                "path": scope["raw_path"].decode(),
                "headers": {k.decode(): v.decode() for k, v in scope["headers"]},
                "body": body,
            }
        )
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    with serve_in_thread(upstream) as upstream_url:
        target = upstream_url.replace("http://", f"http://{userinfo}") + base_path
        app = create_proxy_app(
            contract=load_contract(),
            upstream=target,
            report_dir=tmp_path,
            judge_in="thread",
            **options,
        )
        served = {**UVICORN_OPTIONS, **uvicorn_options(limits)} if limits else UVICORN_OPTIONS
        with serve_in_thread(app, options=served) as url:
            yield url, seen, app.state


def raw(url: str, data: bytes, *, wait: float = 5.0) -> bytes:
    """Send ``data`` as it is and return what came back until the proxy closed (or ``wait``)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait) as conn:
        conn.sendall(data)
        got = b""
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while chunk := conn.recv(65536):
                got += chunk
        return got


@pytest.mark.parametrize(
    "line",
    [
        "GET *@127.0.0.1:{port}/x HTTP/1.1",
        "GET http://127.0.0.1:{port}/x HTTP/1.1",
        "CONNECT 127.0.0.1:{port} HTTP/1.1",
        "OPTIONS * HTTP/1.1",
        "GET @127.0.0.1:{port}/x HTTP/1.1",
    ],
    ids=["star-userinfo", "absolute-form", "authority-form", "asterisk", "at-host"],
)
def test_a_target_that_is_not_a_path_is_a_400_and_reaches_no_host(
    line: str, tmp_path: Path
) -> None:
    elsewhere = Listener()
    try:
        with guarded_proxy(tmp_path, userinfo="user:pw@") as (url, seen, _):
            request = line.format(port=elsewhere.port).encode() + b"\r\nHost: x\r\n\r\n"
            answer = raw(url, request)
            time.sleep(0.3)
    finally:
        elsewhere.close()
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert b"origin-form" in answer or b"invalid HTTP request" in answer  # (the parser's own)
    assert elsewhere.received == []  # nothing relayed to another host...
    assert seen == []  # ...nor to the upstream


def test_the_app_alone_refuses_a_target_that_is_not_a_path(tmp_path: Path) -> None:
    """Served by a server that does not guard the target (plain uvicorn, or another), the app
    itself refuses: ``*@host`` reaches it as a path that does not start with ``/``."""
    elsewhere = Listener()
    try:
        with guarded_proxy(tmp_path, userinfo="user:pw@") as (_, seen, state):
            plain = create_proxy_app(
                contract=load_contract(), upstream=state.upstream, judge_in="thread"
            )
            with serve_in_thread(plain, options={"http": "httptools"}) as url:
                target = f"GET *@127.0.0.1:{elsewhere.port}/x HTTP/1.1\r\nConnection: close\r\n\r\n"
                answer = raw(url, target.encode())
    finally:
        elsewhere.close()
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert elsewhere.received == [] and seen == []


@pytest.mark.parametrize(
    ("target", "forwarded"),
    [
        ("/../admin", None),
        ("/%2e%2e/admin", None),
        ("/chat/%2E./../../admin", None),
        ("/..%2fadmin", None),
        ("/chat/..%5cadmin", None),
        ("/chat/../models", "/v1/models"),
        ("/./models/.", "/v1/models/"),
        ("/models?x=..", "/v1/models?x=.."),
    ],
)
def test_dot_segments_are_resolved_and_never_climb_above_the_base_path(
    target: str, forwarded: str | None, tmp_path: Path
) -> None:
    with guarded_proxy(tmp_path, base_path="/v1") as (url, seen, _):
        answer = raw(url, f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    if forwarded is None:
        assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
        assert seen == []
    else:
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
        path = seen[0]["path"]
        assert path == forwarded.split("?")[0]


def test_expect_100_continue_is_answered_by_the_proxy_not_forwarded(tmp_path: Path) -> None:
    """An upstream that never says ``100 Continue`` (many don't) hung the request."""
    received: list[bytes] = []
    upstream = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = upstream.accept()
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = int(next(v for k, v in _fields(head) if k == b"content-length"))
            while len(body) < length:  # waits for the body: sends no 100 Continue
                body += conn.recv(65536)
            received.append(head)
            conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    app = create_proxy_app(
        contract=load_contract(),
        upstream=f"http://127.0.0.1:{upstream.getsockname()[1]}",
        judge_in="thread",
        timeout=5,
    )
    try:
        with serve_in_thread(app, options=UVICORN_OPTIONS) as url:
            answer = httpx.post(
                url + "/v1/models", content=b"{}", headers={"Expect": "100-continue"}, timeout=10
            )
    finally:
        upstream.close()
    assert answer.status_code == 200 and answer.text == "ok"
    assert b"expect" not in received[0].lower()


def _fields(head: bytes) -> list[tuple[bytes, bytes]]:
    lines = head.split(b"\r\n")[1:]
    return [(k.strip().lower(), v.strip()) for k, _, v in (line.partition(b":") for line in lines)]


def test_hostile_nesting_never_switches_the_checks_off(tmp_path: Path) -> None:
    """A body nested deeper than Python's recursion limit raised inside the proxy after the
    backlog was counted and before it was given back: 17 of them and nothing was judged again."""
    nested = b'{"model":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with guarded_proxy(tmp_path, max_backlog_bytes=64 * 1024 * 1024) as (url, _, state):
        with httpx.Client(timeout=30) as client:
            for _ in range(20):
                client.post(url + "/chat/completions", content=nested)
            for _ in range(200):
                client.post(url + "/chat/completions", content=CHAT)
        state.settle()
    assert state.behind == 0
    assert state.backlog_bytes == 0
    assert state.judged + state.check_errors == 220
    assert state.judged >= 200


def test_a_request_head_that_never_ends_is_a_431(tmp_path: Path) -> None:
    with guarded_proxy(tmp_path) as (url, seen, _):
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as conn:
            conn.sendall(b"GET /v1/models HTTP/1.1\r\nX-Long: ")
            sent = 0
            with contextlib.suppress(OSError):  # the proxy closes while we still send
                while sent < 8 * 1024 * 1024:
                    conn.sendall(b"a" * 65536)
                    sent += 65536
            answer = b""
            with contextlib.suppress(OSError):
                while chunk := conn.recv(65536):
                    answer += chunk
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
    assert sent < 8 * 1024 * 1024  # closed long before
    assert seen == []


def test_too_many_header_fields_is_a_431(tmp_path: Path) -> None:
    with guarded_proxy(tmp_path) as (url, seen, _):
        fields = b"".join(b"X-%d: y\r\n" % i for i in range(101))
        answer = raw(url, b"GET /v1/models HTTP/1.1\r\n" + fields + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
    assert seen == []


def test_an_oversized_body_is_a_413_before_it_is_read(tmp_path: Path) -> None:
    with guarded_proxy(tmp_path, max_request_bytes=1024) as (url, seen, _):
        # says 1 GiB, sends none of it: the answer comes at once
        answer = raw(
            url,
            b"POST /v1/chat/completions HTTP/1.1\r\nConnection: close\r\n"
            b"Content-Length: 1073741824\r\n\r\n",
        )
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        # chunked, no length: cut as soon as it is over
        with httpx.Client(timeout=10) as client:
            big = client.post(url + "/v1/chat/completions", content=iter([b"x" * 4096] * 4))
    assert big.status_code == 413
    assert seen == []


def test_a_head_too_slow_is_a_408_and_a_silent_connection_is_closed(tmp_path: Path) -> None:
    limits = ServeLimits(header_timeout=0.5)
    with guarded_proxy(tmp_path, limits=limits) as (url, seen, _):
        started = time.monotonic()
        silent = raw(url, b"", wait=5)
        slow = raw(url, b"GET /v1/models HTTP/1.1\r\nHost:", wait=5)
        took = time.monotonic() - started
    assert silent.startswith(b"HTTP/1.1 408") and slow.startswith(b"HTTP/1.1 408")
    assert took < 4
    assert seen == []


def test_slowloris_beyond_the_connection_limit_leaves_room_for_real_clients(
    tmp_path: Path,
) -> None:
    limits = ServeLimits(max_connections=20, header_timeout=30)
    with guarded_proxy(tmp_path, limits=limits) as (url, seen, _):
        host, port = url.removeprefix("http://").split(":")
        idle = []
        try:
            for i in range(60):  # three times the limit, each a head that never ends
                conn = socket.create_connection((host, int(port)), timeout=5)
                conn.sendall(b"GET /v1/models HTTP/1.1\r\nX-%d: " % i)
                idle.append(conn)
            for _ in range(5):
                answer = httpx.get(url + "/v1/models", timeout=5)
                assert answer.status_code == 200
            closed = 0
            for conn in idle:  # the proxy closed the oldest ones: its descriptors are bounded
                conn.settimeout(0.01)
                with contextlib.suppress(TimeoutError):
                    closed += conn.recv(1) == b""
        finally:
            for conn in idle:
                conn.close()
    assert len(seen) == 5
    assert closed >= 40


def test_a_busy_proxy_says_503_rather_than_drop_a_request_in_flight(tmp_path: Path) -> None:
    """When every connection is answering a request, a new one gets a 503, not an eviction."""
    limits = ServeLimits(max_connections=2)
    release = threading.Event()

    async def slow(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        while not release.is_set():
            await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b"done"})

    with serve_in_thread(slow) as upstream_url:
        app = create_proxy_app(contract=load_contract(), upstream=upstream_url, judge_in="thread")
        served = {**UVICORN_OPTIONS, **uvicorn_options(limits)}
        with (
            serve_in_thread(app, options=served) as url,
            httpx.Client(timeout=10) as one,
            httpx.Client(timeout=10) as two,
            one.stream("GET", url + "/a") as first,
            two.stream("GET", url + "/b") as second,
        ):
            assert first.status_code == second.status_code == 200
            third = raw(url, b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n")
            release.set()
            assert first.read() == second.read() == b"done"
    assert third.startswith(b"HTTP/1.1 503"), third[:200]


def test_a_client_that_stops_reading_is_let_go_with_its_upstream(tmp_path: Path) -> None:
    """200 clients that never read held 1 GB and their upstream connections for ever."""
    upstream_done: list[str] = []

    async def endless(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await receive()
        gone = asyncio.ensure_future(receive())  # http.disconnect: the proxy let go
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(100_000):
            if gone.done():
                upstream_done.append("let go")
                return
            await send({"type": "http.response.body", "body": b"x" * 65536, "more_body": True})
        upstream_done.append("finished")

    with serve_in_thread(endless) as upstream_url:
        app = create_proxy_app(
            contract=load_contract(), upstream=upstream_url, judge_in="thread", write_timeout=0.5
        )
        with serve_in_thread(app, options=UVICORN_OPTIONS) as url:
            host, port = url.removeprefix("http://").split(":")
            with socket.create_connection((host, int(port)), timeout=10) as conn:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                conn.sendall(b"GET /v1/x HTTP/1.1\r\nHost: x\r\n\r\n")
                deadline = time.monotonic() + 15
                while not upstream_done and time.monotonic() < deadline:
                    time.sleep(0.05)  # never reads; the proxy still serves
    assert app.state.stalled == 1
    assert upstream_done == ["let go"]


def test_a_large_request_body_is_judged_whole_and_kept_cut(tmp_path: Path) -> None:
    """15 exchanges of 16 MiB made a 755 MB report.json: each body was written twice (the
    body and the replay command)."""
    filler = "x" * (2 * 1024 * 1024)
    body = (
        '{"model": "deepseek-chat", "messages": [{"role": "user", "content": "' + filler + '"}]}'
    ).encode()
    with guarded_proxy(tmp_path, max_request_bytes=4 * 1024 * 1024) as (url, seen, state):
        for _ in range(3):
            answer = httpx.post(url + "/chat/completions", content=body, timeout=30)
            assert answer.status_code == 200, answer.text[:300]
        state.settle()
        state.flush()
    assert len(seen) == 3 and len(seen[0]["body"]) == len(body)  # forwarded whole
    size = (tmp_path / "report.json").stat().st_size
    assert size < 1024 * 1024, size  # not 3 x 2 x 2 MiB
    exchange = json.loads((tmp_path / "report.json").read_text())["exchanges"][0]
    assert exchange["request"]["body"]["cut"].startswith(f"{len(body)} bytes")
    assert exchange["reproduce"].startswith("# the request body")
