"""``serve``, ``serve --mock``, ``validate``, ``--spec URL`` and ``lint URL`` hold a bounded
amount of whatever they are given: a declared or a streamed body over the limit is a 413 before
it is read, deep nesting is a 400 with the error envelope (not a 500 and a traceback), a head
that never ends is a 431, a device, a FIFO or an oversized file is one line and exit 2."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance._serving import uvicorn_options
from conformance.contract import load_contract
from conformance.reference import DEFAULT_API_KEY, create_app, create_mock_app, serve_in_thread
from tests.helpers import cli

AUTH = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
NESTED = b'{"model": "deepseek-chat", "messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


@contextlib.contextmanager
def served(which: str) -> Iterator[str]:
    app = create_app() if which == "reference" else create_mock_app(contract=load_contract())
    with serve_in_thread(app, options=uvicorn_options()) as url:
        yield url


def _raw(url: str, data: bytes, *, wait: float = 5.0) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait) as conn:
        with contextlib.suppress(OSError):
            conn.sendall(data)
        got = b""
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while chunk := conn.recv(65536):
                got += chunk
                if b"\r\n\r\n" in got and b"content-length" in got.lower():
                    head, _, body = got.partition(b"\r\n\r\n")
                    length = next(
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    )
                    if len(body) >= length:
                        break
        return got


@pytest.mark.parametrize(
    ("which", "path"),
    [
        ("reference", "/chat/completions"),
        ("reference", "/beta/completions"),
        ("mock", "/chat/completions"),
    ],
)
def test_a_declared_body_over_the_limit_is_a_413_before_it_is_read(which: str, path: str) -> None:
    with served(which) as url:
        answer = _raw(
            url,
            f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {DEFAULT_API_KEY}\r\n"
            "Content-Type: application/json\r\nContent-Length: 536870912\r\n\r\n".encode(),
        )
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]  # with none of the 512 MiB sent


@pytest.mark.parametrize("which", ["reference", "mock"])
def test_a_streamed_body_over_the_limit_is_a_413(which: str) -> None:
    with served(which) as url:
        answer = httpx.post(
            url + "/chat/completions",
            content=iter([b" " * (1024 * 1024)] * 6),
            headers=AUTH,
            timeout=30,
        )
    assert answer.status_code == 413
    assert "error" in answer.json()


@pytest.mark.parametrize(
    ("which", "path"),
    [
        ("reference", "/chat/completions"),
        ("reference", "/beta/completions"),
        ("mock", "/chat/completions"),
    ],
)
def test_deep_nesting_is_a_400_with_the_envelope(which: str, path: str) -> None:
    with served(which) as url:
        answer = httpx.post(url + path, content=NESTED, headers=AUTH, timeout=30)
    assert answer.status_code == 400, answer.text[:300]
    assert "nested too deeply" in answer.json()["error"]["message"]


@pytest.mark.parametrize("which", ["reference", "mock"])
def test_a_head_that_never_ends_is_a_431(which: str) -> None:
    with served(which) as url:
        answer = _raw(url, b"GET /models HTTP/1.1\r\nX-Long: " + b"a" * (2 * 1024 * 1024))
    assert answer.startswith(b"HTTP/1.1 431"), answer[:300]


def test_the_mock_answers_off_its_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Validation and generation run in a worker thread: a heavy request never stalls the
    event loop (18.6 MB stalled GET /models for 31.7 s)."""
    app = create_mock_app(contract=load_contract())
    server = app.state.mock
    threads: list[str] = []
    respond = server.respond

    def recording(*args: Any) -> Any:
        threads.append(threading.current_thread().name)
        return respond(*args)

    monkeypatch.setattr(server, "respond", recording)
    with serve_in_thread(app) as url:
        body = {"model": "deepseek-chat", "messages": [{"role": "user", "content": "Hi"}]}
        assert httpx.post(url + "/chat/completions", json=body, headers=AUTH).status_code == 200
    assert threads and threads[0] != "conformance-reference"  # not the server's own thread


@pytest.mark.parametrize("command", ["serve", "serve-mock", "proxy"])
def test_the_commands_serve_with_the_guarded_protocol(
    command: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: seen.update(options))
    # the proxy runs a uvicorn.Server of its own (exit 0 on SIGTERM): its config is read there
    monkeypatch.setattr(uvicorn.Server, "run", lambda self: seen.update(http=self.config.http))
    argv = {
        "serve": ["serve", "--port", "0"],
        "serve-mock": ["serve", "--mock", "--port", "0"],
        "proxy": ["proxy", "--upstream", "http://127.0.0.1:9", "--report-dir", str(tmp_path)],
    }[command] + ["--max-header-bytes", "1234"]
    if command == "proxy":
        argv += ["--port", str(_free())]
    else:
        argv[argv.index("0")] = str(_free())
    code, _, err = cli(*argv)
    assert code == 0, err
    protocol = seen["http"]
    assert protocol.__name__ == "GuardedHttpToolsProtocol"


def _free() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("make", "says"),
    [
        ("device", "not a regular file"),
        ("fifo", "not a regular file"),
        ("huge", "over 32 MiB"),
        ("deep", "nested too deeply"),
        ("deep-request", "nested too deeply"),
    ],
)
def test_validate_refuses_what_it_cannot_read_in_one_line(
    make: str, says: str, tmp_path: Path
) -> None:
    argv = ["validate", "--report-dir", str(tmp_path / "r")]
    if make == "device":
        argv.append("/dev/zero")
    elif make == "fifo":
        fifo = tmp_path / "pipe"
        os.mkfifo(fifo)
        argv.append(str(fifo))
    elif make == "huge":
        huge = tmp_path / "huge.json"
        with huge.open("wb") as handle:
            handle.write(b'{"x": "')
            handle.truncate(33 * 1024 * 1024)
        argv.append(str(huge))
    elif make == "deep":
        (tmp_path / "deep.json").write_bytes(b"[" * 100_000 + b"]" * 100_000)
        argv.append(str(tmp_path / "deep.json"))
    else:
        (tmp_path / "a.json").write_text(json.dumps({"id": "x"}))
        (tmp_path / "a.request.json").write_bytes(b"[" * 100_000 + b"]" * 100_000)
        argv.append(str(tmp_path / "a.json"))
    code, out, err = cli(*argv)
    assert code == 2, (out, err)
    assert says in err and err.count("\n") == 1, err


@pytest.mark.parametrize("make", ["device", "deep-json", "deep-yaml"])
def test_lint_refuses_what_it_cannot_read_in_one_line(make: str, tmp_path: Path) -> None:
    if make == "device":
        source = "/dev/zero"
    elif make == "deep-json":
        source = str(tmp_path / "deep.json")
        Path(source).write_bytes(b"[" * 100_000 + b"]" * 100_000)
    else:
        source = str(tmp_path / "deep.yaml")
        Path(source).write_bytes(b"a: " + b"[" * 5_000 + b"]" * 5_000 + b"\n")
    code, out, err = cli("lint", source)
    assert code == 2, (out, err)
    assert err.count("\n") == 1, err


def test_a_document_url_is_read_within_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    import conformance.contract._document as document

    monkeypatch.setattr(document, "MAX_DOCUMENT_BYTES", 4096)

    async def endless(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(1000):  # chunked, no length: 64 MB if read whole
            await send({"type": "http.response.body", "body": b"#" * 65536, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    with serve_in_thread(endless) as url:
        code, out, err = cli("lint", url + "/spec.yaml")
    assert code == 2, (out, err)
    assert "larger than the 4096 bytes" in err
