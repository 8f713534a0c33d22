"""The validating proxy: the official openai SDK gets through it exactly the bytes the upstream
sent; the proxy's report judges them (and fails the checks an upstream fault breaks); other
paths are forwarded and counted; the key is never kept; SIGTERM leaves a valid report."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from conformance.contract import load_contract
from conformance.proxy import UVICORN_OPTIONS, create_proxy_app
from conformance.reference import DEFAULT_API_KEY, create_app, serve_in_thread
from conformance.report import read_report
from tests.helpers import ROOT, cli, free_port

HI = [{"role": "user", "content": "Hi"}]


class Recorder:
    """Wraps an ASGI app and keeps the body bytes of each answer it sends, in order."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        parts: list[bytes] = []

        async def recording(message: Any) -> None:
            if message["type"] == "http.response.body":
                parts.append(message.get("body", b""))
                if not message.get("more_body"):
                    self.bodies.append(b"".join(parts))
            await send(message)

        await self.app(scope, receive, recording)


@contextlib.contextmanager
def proxied(
    *faults: str, report_dir: Path, judge_in: str = "process", **options: Any
) -> Iterator[tuple[str, Recorder, Any]]:
    """The reference server (with ``faults``) recorded, and the proxy in front of it; its
    checks process at nice 10 unless ``checks_on_idle_cpu`` (on idle CPU, a machine kept busy
    by other work starves it, by design, and a test that waits for a verdict would wait in
    vain)."""
    options.setdefault("checks_on_idle_cpu", False)
    contract = load_contract()
    upstream = Recorder(create_app(faults=faults))
    with serve_in_thread(upstream) as upstream_url:
        app = create_proxy_app(
            contract=contract,
            upstream=upstream_url,
            report_dir=report_dir,
            judge_in=judge_in,
            **options,
        )
        with serve_in_thread(app, options=UVICORN_OPTIONS) as proxy_url:
            yield proxy_url, upstream, app.state


def _sdk(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url + "/v1", api_key=DEFAULT_API_KEY, max_retries=0)


def _stream_bytes(client: openai.OpenAI, **extra: Any) -> bytes:
    with client.chat.completions.with_streaming_response.create(
        model="deepseek-chat", messages=HI, stream=True, max_tokens=8, **extra
    ) as response:
        return b"".join(response.iter_bytes())


def test_the_sdk_gets_through_the_proxy_exactly_what_the_upstream_sent(tmp_path: Path) -> None:
    with proxied(report_dir=tmp_path) as (url, upstream, state):
        client = _sdk(url)
        received = _stream_bytes(client, stream_options={"include_usage": True})
        assert received == upstream.bodies[-1] and received.endswith(b"data: [DONE]\n\n")
        chunks = list(
            client.chat.completions.create(
                model="deepseek-chat", messages=HI, stream=True, max_tokens=8
            )
        )
        assert chunks and chunks[-1].choices[0].finish_reason is not None
        answer = client.chat.completions.with_raw_response.create(
            model="deepseek-chat", messages=HI, max_tokens=8
        )
        assert answer.http_response.content == upstream.bodies[-1]
        assert answer.parse().choices[0].message.content
        state.settle()
        report = state.report()
    assert report["verdict"] == "pass", [c["id"] for c in report["checks"] if c["status"] == "fail"]
    assert report["summary"]["exchanges"] == 3
    assert {e["operation"] for e in report["exchanges"]} == {"POST /chat/completions"}


def test_upstream_faults_fail_the_named_checks_and_the_client_gets_every_byte(
    tmp_path: Path,
) -> None:
    with proxied("no-done", "usage-total-wrong", report_dir=tmp_path) as (url, upstream, state):
        client = _sdk(url)
        received = _stream_bytes(client, stream_options={"include_usage": True})
        assert received == upstream.bodies[-1] and b"[DONE]" not in received
        plain = client.chat.completions.with_raw_response.create(
            model="deepseek-chat", messages=HI, max_tokens=8
        )
        assert plain.http_response.content == upstream.bodies[-1]
        state.settle()
        state.flush()
    report = read_report(str(tmp_path))  # valid against the shipped schema
    failed = {c["id"] for c in report["checks"] if c["status"] == "fail"}
    assert {"STREAM-DONE-001", "USAGE-TOTAL-001"} <= failed
    reproduce = next(c for c in report["checks"] if c["id"] == "USAGE-TOTAL-001")["failures"][0][
        "reproduce"
    ]
    assert "$CONFORMANCE_API_KEY" in reproduce
    for written in tmp_path.iterdir():
        assert DEFAULT_API_KEY not in written.read_text(errors="replace"), written.name


def test_other_paths_are_forwarded_and_counted_not_judged(tmp_path: Path) -> None:
    with proxied(report_dir=tmp_path) as (url, _upstream, state):
        answer = httpx.get(url + "/nowhere", timeout=10)
        assert answer.status_code == 404
        state.settle()
        report = state.report()
    assert report["summary"]["exchanges"] == 0
    assert "1 request(s) forwarded" in report["run"]["notes"][0]
    assert "1 of no operation of the contract" in report["run"]["notes"][0]


def test_a_crashing_check_never_reaches_the_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import conformance.proxy._judge as proxy_app

    def boom(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("a bug in a check")

    monkeypatch.setattr(proxy_app, "check_exchange", boom)
    with proxied(report_dir=tmp_path, judge_in="thread") as (url, upstream, state):
        received = _stream_bytes(_sdk(url))
        assert received == upstream.bodies[-1]
        state.settle()
        assert state.check_errors == 1 and "1 check error(s)" in state.report()["run"]["notes"][0]


def test_an_unreachable_upstream_is_a_502_with_words(tmp_path: Path) -> None:
    app = create_proxy_app(
        contract=load_contract(), upstream=f"http://127.0.0.1:{free_port()}", report_dir=tmp_path
    )
    with serve_in_thread(app) as url:
        answer = httpx.post(url + "/chat/completions", json={}, timeout=10)
    assert answer.status_code == 502 and b"the upstream failed" in answer.content


def _wait(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(url, timeout=1)
            return
        time.sleep(0.1)
    raise AssertionError(f"{url} did not start")


def test_sigterm_mid_run_leaves_a_valid_report(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    serve_port, proxy_port = free_port(), free_port()
    command = [sys.executable, "-m", "conformance._cli"]
    upstream = subprocess.Popen(
        [*command, "serve", "--port", str(serve_port), "--chunk-delay-ms", "100"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    proxy = subprocess.Popen(
        [
            *command,
            "proxy",
            *("--upstream", f"http://127.0.0.1:{serve_port}"),
            *("--port", str(proxy_port), "--report-dir", str(tmp_path)),
            *("--shutdown-timeout", "60"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        _wait(f"http://127.0.0.1:{serve_port}/models", deadline)
        _wait(f"http://127.0.0.1:{proxy_port}/models", deadline)
        client = _sdk(f"http://127.0.0.1:{proxy_port}")
        for _ in range(2):
            answer = client.chat.completions.with_raw_response.create(
                model="deepseek-chat", messages=HI, max_tokens=4
            )
            # the command serves with UVICORN_OPTIONS: the upstream's Date and Server, once
            names = [k for k, _ in answer.http_response.headers.multi_items()]
            assert names.count("date") == 1 and names.count("server") == 1, names
        stream = client.chat.completions.create(
            model="deepseek-chat", messages=HI, stream=True, max_tokens=600
        )
        next(iter(stream))  # a stream of a minute is open when the signal comes
        written = tmp_path / "report.json"
        assert not written.exists()  # nothing wrote a report yet (no --flush-every)
        # (what was judged by then depends on the checks' process, on idle CPU only: on a busy
        # machine it may be nothing yet; the report says what it is)
        proxy.send_signal(signal.SIGTERM)
        # the report of what was judged is written at the signal, not when the stream ends
        while not written.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proxy.poll() is None, proxy.communicate()  # still serving the stream in flight
        at_signal = read_report(str(tmp_path))
        assert at_signal["run"]["proxy"]["in_flight"] == 1
        assert at_signal["run"]["proxy"]["forwarded"] == 4  # /models, two answers, the stream
        assert "1 in flight when this report was written" in at_signal["run"]["notes"][0]
        stream.close()  # the client leaves: the proxy can end
        out, err = proxy.communicate(timeout=60)
    finally:
        for process in (proxy, upstream):
            if process.poll() is None:
                process.kill()
            process.communicate(timeout=30)  # its pipes closed too, whatever failed above
    # a graceful shutdown, the report written, one verdict line, exit 0 (not 143)
    assert proxy.returncode == 0, err
    report = read_report(str(tmp_path))
    # every exchange is judged or counted: the three answers judged, or not judged when the
    # proxy stopped; the stream, which its client left, judged cut short or counted abandoned
    counts = report["run"]["proxy"]
    accounted = report["summary"]["exchanges"] + counts["unjudged_at_shutdown"]
    accounted += counts["abandoned"] + counts["cut_at_shutdown"] + counts["check_errors"]
    assert accounted >= 4 and counts["in_flight"] == 0, json.dumps(counts)
    assert "conformance proxy: " in out and "forwarded" in out
    # "verdict pass" or, when the checks judged nothing before the end (a busy machine),
    # "no verdict: nothing was judged"
    (line,) = [x for x in err.splitlines() if re.match(r"conformance proxy: (no )?verdict", x)]
    assert "judged" in line and "cut by the shutdown" in line


def test_no_traffic_is_no_verdict_not_a_pass(tmp_path: Path) -> None:
    """With the upstream down (every client got a 502) the report read "pass, 0 checked"."""
    app = create_proxy_app(
        contract=load_contract(),
        upstream=f"http://127.0.0.1:{free_port()}",
        report_dir=tmp_path,
        judge_in="thread",
    )
    with serve_in_thread(app, options=UVICORN_OPTIONS) as url:
        assert httpx.post(url + "/chat/completions", json={}).status_code == 502
    report = read_report(str(tmp_path))
    assert report["verdict"] == "none" and report["level"] is None
    assert "1 upstream failure(s)" in report["run"]["notes"][0]
    assert app.state.verdict_line().startswith("conformance proxy: no verdict: nothing was judged")
    assert "no verdict" in (tmp_path / "summary.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["--upstream", "nope"], "--upstream 'nope' is not an http(s) URL"),
        (["--upstream", "http://x", "--flush-every", "-1"], "--flush-every -1 is negative"),
        (["--upstream", "http://x", "--port", "0"], "--port 0 is not a port number"),
        (["--upstream", "http://x", "--sample", "0"], "--sample 0 is not a fraction in (0, 1]"),
        (["--upstream", "http://x", "--max-body", "0"], "--max-body 0 must be above 0"),
        (["--upstream", "http://x", "--max-headers", "-1"], "--max-headers -1 must be above 0"),
    ],
)
def test_bad_proxy_flags_are_one_line(argv: list[str], line: str, tmp_path: Path) -> None:
    from tests.helpers import cli

    code, _, err = cli("proxy", *argv, "--report-dir", str(tmp_path))
    assert code == 2 and line in err and "Traceback" not in err


def test_flush_every_writes_the_report_while_running(tmp_path: Path) -> None:
    contract = load_contract()
    with serve_in_thread(create_app()) as upstream_url:
        app = create_proxy_app(
            contract=contract, upstream=upstream_url, report_dir=tmp_path, flush_every=2
        )
        with serve_in_thread(app) as url:
            client = _sdk(url)
            for _ in range(2):
                client.chat.completions.create(model="deepseek-chat", messages=HI, max_tokens=4)
            app.state.settle()
            deadline = time.monotonic() + 10
            while not (tmp_path / "report.json").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert read_report(str(tmp_path))["summary"]["exchanges"] == 2  # before the end


def test_the_running_reports_are_written_by_the_checks_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import conformance.proxy._state as proxy_app

    def never(*_: Any) -> None:
        raise AssertionError("the proxy's process wrote a running report")

    monkeypatch.setattr(proxy_app, "write_all", never)  # in this process only
    with proxied(report_dir=tmp_path, flush_every=2) as (url, _upstream, state):
        client = _sdk(url)
        for _ in range(2):
            _stream_bytes(client)
        state.settle()
        assert read_report(str(tmp_path))["summary"]["exchanges"] == 2
        assert state.check_errors == 0
        monkeypatch.undo()  # the last report, at shutdown, is the proxy's


class Endless:
    """An upstream that streams 64 KiB events as fast as its client takes them, counting,
    until its client leaves (or 256 MiB: a bound, should a test go wrong)."""

    def __init__(self) -> None:
        self.sent = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        gone = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.create_task(watch())
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        frame = b"data: " + b"x" * 65536 + b"\n\n"
        with contextlib.suppress(Exception):
            while not gone.is_set() and self.sent < 256 * 1024 * 1024:
                await send({"type": "http.response.body", "body": frame, "more_body": True})
                self.sent += len(frame)
                await asyncio.sleep(0)  # a send to a closed connection returns at once
        watcher.cancel()


def test_a_slow_client_slows_the_upstream_and_a_long_answer_is_kept_in_part(
    tmp_path: Path,
) -> None:
    upstream = Endless()
    with serve_in_thread(upstream) as upstream_url:
        app = create_proxy_app(
            contract=load_contract(),
            upstream=upstream_url,
            report_dir=tmp_path,
            max_bytes=100_000,
        )
        with (
            serve_in_thread(app) as url,
            httpx.stream(
                "POST",
                url + "/chat/completions",
                json={"model": "m", "messages": HI, "stream": True},
                timeout=30,
            ) as answer,
        ):
            parts = answer.iter_raw()
            received = len(next(parts))
            time.sleep(2)  # the client stops reading: the upstream must stop soon after
            stalled = upstream.sent
            time.sleep(1)
            assert upstream.sent - stalled < 1_000_000, "the upstream kept writing"
            assert stalled < 64 * 1024 * 1024  # socket buffers only, no pile-up in the proxy
            for _ in range(20):
                received += len(next(parts))
        assert received > 65536
        app.state.settle()
        report = app.state.report()
        stopped = upstream.sent
        time.sleep(0.5)
        assert upstream.sent == stopped, "the proxy kept reading after its client left"
    # the client left mid-stream: the exchange says nothing of the server (counted, not judged)
    assert "1 abandoned by their client" in report["run"]["notes"][0]


def test_a_key_in_the_query_is_never_kept(tmp_path: Path) -> None:
    secret = "sk-in-the-query-123456"
    with proxied(report_dir=tmp_path) as (url, _upstream, state):
        answer = httpx.post(
            f"{url}/chat/completions?key={secret}",
            json={"model": "deepseek-chat", "messages": HI, "max_tokens": 4},
            headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"},
            timeout=30,
        )
        assert answer.status_code == 200  # forwarded as sent
        state.settle()
        state.flush()
    report = read_report(str(tmp_path))
    assert report["summary"]["exchanges"] == 1
    for written in tmp_path.iterdir():
        text = written.read_text(errors="replace")
        assert secret not in text and DEFAULT_API_KEY not in text, written.name


def test_exchanges_that_end_together_are_judged_in_one_batch_and_all_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import concurrent.futures

    import conformance.proxy._judge as proxy_judge
    import conformance.proxy._relay as proxy_relay

    sizes: list[int] = []
    judge_all = proxy_judge._Worker.judge_all

    def counting(self: Any, batch: Any, *rest: Any) -> Any:
        sizes.append(len(batch))
        return judge_all(self, batch, *rest)

    monkeypatch.setattr(proxy_judge._Worker, "judge_all", counting)
    monkeypatch.setattr(proxy_relay, "JUDGE_BATCH_WAIT_S", 1.0)  # however slow the machine
    with proxied(report_dir=tmp_path, judge_in="thread") as (url, _upstream, state):
        client = _sdk(url)
        with concurrent.futures.ThreadPoolExecutor(5) as pool:
            list(pool.map(lambda _: _stream_bytes(client), range(5)))
        state.settle()
        report = state.report()
    assert sizes == [5]
    assert report["summary"]["exchanges"] == 5 and report["verdict"] == "pass"


def test_the_client_gets_the_upstream_headers_once_each(tmp_path: Path) -> None:
    with proxied(report_dir=tmp_path) as (url, _upstream, _state):
        upstream_url = _state.upstream
        auth = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
        direct = httpx.get(upstream_url + "/models", headers=auth, timeout=10)
        through = httpx.get(url + "/models", headers=auth, timeout=10)
    assert sorted(k for k, _ in through.headers.multi_items()) == sorted(
        k for k, _ in direct.headers.multi_items()
    )  # uvicorn's own Server and Date headers are not added beside the upstream's
    assert through.headers["server"] == direct.headers["server"]
    assert through.content == direct.content


@contextlib.contextmanager
def plain_upstream(
    tmp_path: Path, headers: list[tuple[bytes, bytes]]
) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """The proxy in front of an upstream that answers every request 200 "ok" with
    ``headers``; yields the proxy's URL and the headers of each request the upstream got."""
    seen: list[dict[str, str]] = []

    async def upstream(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        seen.append({k.decode(): v.decode() for k, v in scope["headers"]})
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    with serve_in_thread(upstream) as upstream_url:
        app = create_proxy_app(
            contract=load_contract(), upstream=upstream_url, report_dir=tmp_path, judge_in="thread"
        )
        with serve_in_thread(app, options=UVICORN_OPTIONS) as url:
            yield url, seen


def test_headers_a_connection_header_names_are_not_forwarded(tmp_path: Path) -> None:
    headers = [(b"connection", b"keep-alive, X-Hop"), (b"x-hop", b"1"), (b"x-end", b"2")]
    with plain_upstream(tmp_path, headers) as (url, requests):
        sent = {"Connection": "X-Drop", "X-Drop": "1", "X-Keep": "2"}
        answer = httpx.get(url + "/nowhere", headers=sent, timeout=10)
    (seen,) = requests
    assert "x-drop" not in seen and seen["x-keep"] == "2"  # RFC 9110 section 7.6.1
    assert "x-hop" not in answer.headers and answer.headers["x-end"] == "2"


def test_an_upstream_key_in_the_query_is_sent_and_never_kept(tmp_path: Path) -> None:
    secret = "sk-UPSTREAM-SECRET-77"
    queries: list[bytes] = []
    inner = create_app()

    async def upstream(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            queries.append(scope["query_string"])

            async def echo(message: Any) -> None:  # a server that echoes the query
                if message["type"] == "http.response.start":
                    message["headers"] = [*message["headers"], (b"x-echo", scope["query_string"])]
                await send(message)

            return await inner(scope, receive, echo)
        return await inner(scope, receive, send)

    with serve_in_thread(upstream) as upstream_url:
        app = create_proxy_app(
            contract=load_contract(),
            upstream=f"{upstream_url}/?api-version=1&key={secret}",
            report_dir=tmp_path,
            judge_in="thread",
        )
        with serve_in_thread(app, options=UVICORN_OPTIONS) as url:
            _stream_bytes(_sdk(url))
            app.state.settle()
            app.state.flush()
    assert queries[-1] == f"api-version=1&key={secret}".encode()  # sent, after the path
    report = read_report(str(tmp_path))
    assert report["summary"]["exchanges"] == 1 and report["verdict"] == "pass"
    assert report["target"]["base_url"].endswith("?api-version=1&key=[REDACTED]")
    for written in tmp_path.iterdir():
        assert secret not in written.read_text(errors="replace"), written.name


def test_when_the_checks_process_dies_a_new_one_takes_over(tmp_path: Path) -> None:
    import multiprocessing

    with proxied(report_dir=tmp_path, flush_every=1) as (url, _upstream, state):
        client = _sdk(url)
        _stream_bytes(client)
        state.settle()
        assert state.judged == 1
        for child in multiprocessing.active_children():  # the checks' worker
            child.kill()
            child.join(timeout=10)
        deadline = time.monotonic() + 60
        while state.judged < 2 and time.monotonic() < deadline:
            _stream_bytes(client)  # the first after the kill may be lost with the process
            state.settle()
        report = state.report()
        # the new process's running report counts what the dead one judged too
        written = read_report(str(tmp_path))["summary"]["exchanges"]
    assert written == state.judged >= 2 and state.restarts == 1
    assert "restarted 1 time(s)" in report["run"]["notes"][0]


def test_a_long_run_keeps_all_the_evidence_of_failures_and_little_of_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conformance.proxy import _judge

    monkeypatch.setattr(_judge, "FULL_EVIDENCE_PASSING", 1)
    with proxied(report_dir=tmp_path, judge_in="thread") as (url, _upstream, state):
        client = _sdk(url)
        for _ in range(3):
            _stream_bytes(client)
        state.settle()
        first, second, third = state.report()["exchanges"]
    events = [r["response"]["events"] for r in (first, second, third)]
    total = second["response"]["events_total"]
    assert len(events[0]) == total > 3  # the first passing exchange: every event (fewer than 40)
    assert [e["index"] for e in events[1]] == [0, 1, total - 1]  # then the first two, the last
    assert len(events[2]) == 3
    with proxied("no-done", report_dir=tmp_path, judge_in="thread") as (url, _upstream, state):
        _stream_bytes(_sdk(url))
        state.settle()
        (failing,) = state.report()["exchanges"]
    assert "STREAM-DONE-001" in failing["failed_checks"]
    response = failing["response"]
    assert len(response["events"]) == response["events_total"] > 3  # a failure keeps it all


def test_the_checks_run_only_on_cpu_time_nobody_else_wants(tmp_path: Path) -> None:
    import multiprocessing

    with proxied(report_dir=tmp_path, checks_on_idle_cpu=True) as (url, _upstream, _state):
        _stream_bytes(_sdk(url))
        # the worker exists once the first batch is handed over, and sets its priority first
        # thing (not once it judged: on idle CPU a busy machine may keep it waiting long)
        deadline = time.monotonic() + 60
        policies: set[int] = set()
        while policies != {os.SCHED_IDLE} and time.monotonic() < deadline:
            time.sleep(0.01)
            with contextlib.suppress(OSError):
                policies = {os.sched_getscheduler(c.pid) for c in multiprocessing.active_children()}
        # SCHED_IDLE: at nice 10 the worker took the proxy's CPU in slices (its p99)
        assert policies == {os.SCHED_IDLE}


def test_when_the_checks_fall_behind_exchanges_are_forwarded_not_judged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    import conformance.proxy._judge as proxy_judge

    release = threading.Event()
    judge_all = proxy_judge._Worker.judge_all

    def slow(self: Any, batch: Any, *rest: Any) -> Any:
        release.wait(timeout=60)
        return judge_all(self, batch, *rest)

    monkeypatch.setattr(proxy_judge._Worker, "judge_all", slow)
    contract = load_contract()
    upstream = Recorder(create_app())
    with serve_in_thread(upstream) as upstream_url:
        app = create_proxy_app(
            contract=contract,
            upstream=upstream_url,
            report_dir=tmp_path,
            judge_in="thread",
            max_backlog_bytes=1,  # one exchange waiting fills it
        )
        with serve_in_thread(app, options=UVICORN_OPTIONS) as url:
            client = _sdk(url)
            received = [_stream_bytes(client) for _ in range(3)]
            assert received == upstream.bodies  # every byte forwarded all the same
            release.set()
            app.state.settle()
            report = app.state.report()
    assert report["summary"]["exchanges"] == 1 and app.state.backlog_bytes == 0
    assert "2 not judged: the checks fell behind the traffic" in report["run"]["notes"][0]


def test_a_cookie_the_upstream_sets_for_one_client_never_reaches_another(tmp_path: Path) -> None:
    headers = [(b"set-cookie", b"session=client-a; Path=/"), (b"content-type", b"text/plain")]
    with plain_upstream(tmp_path, headers) as (url, requests):
        first = httpx.get(url + "/nowhere", timeout=10)  # client A gets its cookie
        assert first.headers["set-cookie"].startswith("session=client-a")
        httpx.get(url + "/nowhere", timeout=10)  # client B sends none
        httpx.get(url + "/nowhere", headers={"Cookie": "mine=b"}, timeout=10)
    cookies = [r.get("cookie") for r in requests]
    assert cookies == [None, None, "mine=b"]  # the proxy keeps no cookie jar of its own


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"GET /nowhere HTTP/1.1\r\nHost: x\r\nX-Mine: 1\r\n\r\n", {"host", "x-mine"}),
        (
            b"POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
            {"host", "content-length"},
        ),
    ],
)
def test_the_upstream_gets_the_client_headers_and_no_others(
    raw: bytes, expected: set[str], tmp_path: Path
) -> None:
    import socket

    with plain_upstream(tmp_path, []) as (url, seen):
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(raw)
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    # none of the HTTP client's own: no Accept-Encoding (the upstream would compress for a
    # client that never asked), User-Agent, Accept, Connection, nor the Content-Type
    # application/octet-stream aiohttp gives a POST without one
    assert set(seen[0]) == expected, seen[0]


def test_netrc_credentials_are_never_added(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password NETRC-SECRET-1\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))
    with plain_upstream(tmp_path, []) as (url, seen):
        httpx.get(url + "/nowhere", timeout=10, trust_env=False)
    assert "authorization" not in seen[0]  # the client sent none: the upstream gets none


def test_the_environment_proxy_is_used_unless_no_proxy_covers_the_upstream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conformance.proxy._http import env_proxy

    dead = f"http://someone:PROXY-SECRET-9@127.0.0.1:{free_port()}"  # nothing listens
    monkeypatch.setenv("HTTP_PROXY", dead)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with plain_upstream(tmp_path, []) as (url, seen):
        through = httpx.get(url + "/nowhere", timeout=10, trust_env=False)
    assert through.status_code == 502 and not seen  # it went to the (dead) proxy
    assert "PROXY-SECRET-9" not in through.text
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with plain_upstream(tmp_path, []) as (url, seen):
        direct = httpx.get(url + "/nowhere", timeout=10, trust_env=False)
    assert direct.status_code == 200 and len(seen) == 1
    monkeypatch.setenv("HTTPS_PROXY", "http://egress:3128")
    assert env_proxy("https://api.deepseek.com") == "http://egress:3128"


STREAM_BODY = {"model": "m", "messages": HI, "stream": True}


def _through(
    upstream: str, tmp_path: Path, client_timeout: float = 10, **options: Any
) -> tuple[Any, str, bytes]:
    """One streamed request through a proxy of ``upstream`` (``options``: the proxy's): the
    proxy's state, what the client saw (``ok`` or the error's name) and the bytes it got."""
    app = create_proxy_app(
        contract=load_contract(),
        upstream=upstream,
        report_dir=tmp_path,
        judge_in="thread",
        **options,
    )
    got, outcome = b"", "ok"
    with serve_in_thread(app, options=UVICORN_OPTIONS) as url:
        try:
            with httpx.stream(
                "POST", url + "/chat/completions", json=STREAM_BODY, timeout=client_timeout
            ) as answer:
                for piece in answer.iter_raw():
                    got += piece
        except httpx.HTTPError as exc:
            outcome = type(exc).__name__
        deadline = time.monotonic() + 10
        while app.state.in_flight and time.monotonic() < deadline:
            time.sleep(0.01)
        app.state.settle()
    return app.state, outcome, got


@pytest.mark.parametrize(
    ("mode", "outcome"),
    [
        ("garbage", "ok"),  # a 502 with words
        ("lying-content-length", "RemoteProtocolError"),  # cut short, as it was
        ("gzip-bomb", "ok"),  # forwarded whole and compressed; kept only in part
        ("hang-before-headers", "ReadTimeout"),  # the client gives up; so does the proxy
    ],
)
def test_a_hostile_upstream_reaches_the_client_as_it_is(
    mode: str, outcome: str, tmp_path: Path
) -> None:
    from tests.runner.hostile import _BOMB, hostile

    with hostile(mode) as upstream:
        state, seen, got = _through(upstream, tmp_path, client_timeout=1 if "hang" in mode else 10)
    assert seen == outcome and state.in_flight == 0
    if mode == "garbage":
        assert got.startswith(b"conformance proxy: the upstream failed: Bad status line")
        assert len(got) < 400 and b"\n" not in got and state.upstream_errors == 1
    elif mode == "lying-content-length":
        assert b'{"id":'.startswith(got) and state.upstream_errors == 1
        assert state.report()["exchanges"][0]["interrupted"].startswith(
            "the upstream failed mid-body"
        )
    elif mode == "gzip-bomb":
        assert got == _BOMB and state.truncated == 1
    else:
        assert state.abandoned == 1 and not state.judged
        assert "1 abandoned by their client" in state.report()["run"]["notes"][0]


@pytest.mark.parametrize("mode", ["hang-before-headers", "hang-mid-stream"])
def test_a_silent_upstream_is_let_go_after_the_timeout_and_reported(
    mode: str, tmp_path: Path
) -> None:
    """``--timeout``: the longest wait for the upstream's answer or its next bytes (a hung
    stream was held for 600 s; then each read had a timer of aiohttp's, now one timer an
    exchange keeps both waits)."""
    from tests.runner.hostile import CHUNK, hostile

    started = time.monotonic()
    with hostile(mode) as upstream:
        state, seen, got = _through(upstream, tmp_path, client_timeout=30, timeout=0.5)
    assert time.monotonic() - started < 20  # not the client's 30 s, nor the upstream's hour
    assert state.upstream_errors == 1 and state.in_flight == 0
    if mode == "hang-before-headers":  # a 502 with words, never sent to the checks
        assert got == b"conformance proxy: the upstream failed: no answer within 0.5 s (--timeout)"
        assert seen == "ok" and not state.judged
        return
    # what came, then not a clean end (the client knows the answer broke); judged: cut short
    assert got == CHUNK and seen == "RemoteProtocolError"
    exchange = state.report()["exchanges"][0]
    assert exchange["interrupted"] == "the upstream failed mid-body (nothing for 0.5 s: --timeout)"
    assert "HTTP-COMPLETE-001" in exchange["failed_checks"]


def test_an_upstream_reset_mid_stream_reaches_the_client_as_a_reset(tmp_path: Path) -> None:
    import socket
    import struct
    import threading

    chunk = b'data: {"id":"x"}\n\n'
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n" % (len(chunk), chunk)
            )
            time.sleep(0.2)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    with listener:
        port = listener.getsockname()[1]
        state, seen, got = _through(f"http://127.0.0.1:{port}", tmp_path)
    thread.join(5)
    # what came before the reset, then not a clean end: the client knows the answer broke
    assert got == chunk and seen == "RemoteProtocolError" and state.upstream_errors == 1
    assert state.report()["exchanges"][0]["interrupted"].startswith("the upstream failed mid-body")


def _children(pid: int) -> set[int]:
    """The processes whose parent is ``pid`` (Linux /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.add(int(stat.parent.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_a_killed_proxy_leaves_no_process_behind(tmp_path: Path) -> None:
    """A SIGKILLed proxy left its checks' worker and multiprocessing's resource tracker
    running, orphaned, for minutes."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proxy_port = free_port()
    with serve_in_thread(create_app()) as upstream_url:
        proxy = subprocess.Popen(
            [
                *(sys.executable, "-m", "conformance._cli", "proxy", "--upstream", upstream_url),
                *("--port", str(proxy_port), "--report-dir", str(tmp_path)),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait(f"http://127.0.0.1:{proxy_port}/models", time.monotonic() + 60)
            _sdk(f"http://127.0.0.1:{proxy_port}").chat.completions.create(
                model="deepseek-chat", messages=HI, max_tokens=4
            )
            deadline = time.monotonic() + 30
            while len(children := _children(proxy.pid)) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)  # the worker and the resource tracker are started
            assert children, "no worker was started"
            proxy.kill()
            proxy.wait(timeout=10)
            deadline = time.monotonic() + 10
            alive = children
            while alive and time.monotonic() < deadline:
                time.sleep(0.1)
                alive = {pid for pid in alive if Path(f"/proc/{pid}").exists() and not _zombie(pid)}
        finally:
            if proxy.poll() is None:
                proxy.kill()
    assert not alive, f"left running: {alive}"


def _zombie(pid: int) -> bool:
    with contextlib.suppress(OSError, IndexError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    return True


def test_replicas_reports_merge_into_the_report_of_one_proxy(tmp_path: Path) -> None:
    """Two replicas (each its name, its report) merged with ``report merge`` count what one
    proxy given all their traffic counts; a replica given twice is refused."""
    from tests.helpers import cli

    def traffic(url: str, broken: bool) -> None:
        client = _sdk(url)
        _stream_bytes(client)
        client.chat.completions.create(model="deepseek-chat", messages=HI, max_tokens=4)
        if broken:
            with contextlib.suppress(openai.APIError):
                client.chat.completions.create(model="deepseek-chat", messages=[], max_tokens=4)

    dirs = {name: tmp_path / name for name in ("a", "b", "one")}
    for name, runs in (("a", [False]), ("b", [True]), ("one", [False, True])):
        # checks in a thread: a checks process, on idle CPU only, may judge nothing before the
        # end of a test on a loaded machine (its exchanges are then counted, not judged)
        with proxied("no-done", report_dir=dirs[name], replica=name, judge_in="thread") as (
            url,
            _upstream,
            state,
        ):
            for broken in runs:
                traffic(url, broken)
            state.settle()
    code, _, err = cli("report", "merge", str(dirs["a"]), str(dirs["b"]), "-o", str(tmp_path / "m"))
    assert code == 1, err  # the merged verdict: fail
    merged, one = read_report(str(tmp_path / "m")), read_report(str(dirs["one"]))

    def counted(report: Any) -> Any:
        counts = {k: v for k, v in report["run"]["proxy"].items() if "replica" not in k}
        checks = [
            (c["id"], c["status"], c["exchanges"], c["exercised"], c["operations"])
            for c in report["checks"]
        ]
        return report["verdict"], report["summary"], counts, checks

    assert counted(merged) == counted(one) and merged["verdict"] == "fail"
    assert merged["run"]["proxy"]["replicas"] == ["a", "b"]
    assert {e["id"].split("-")[1] for e in merged["exchanges"]} == {"a", "b"}
    code, _, err = cli("report", "merge", str(dirs["a"]), str(dirs["a"]), "-o", str(tmp_path / "x"))
    assert code == 2 and "replica a given more than once" in err
    with pytest.raises(Exception, match="--replica"):
        create_proxy_app(contract=load_contract(), upstream="http://x", replica="a b")


def test_an_overlay_given_to_the_proxy_reaches_its_checks_process(tmp_path: Path) -> None:
    """--overlay on proxy: the checks' worker loads the same contract (before, it reloaded the
    profile alone, and an overlay given to the proxy was lost there)."""
    overlay = tmp_path / "strict.yaml"
    overlay.write_text(
        "overlay: 1.0.0\ninfo: {title: a field no answer has, version: '1'}\nactions:\n"
        "  - target: $.paths['/chat/completions'].post.responses['200'].content"
        "['application/json'].schema\n    update: {required: [no_such_field]}\n"
    )
    contract = load_contract(overlays=[str(overlay)])
    upstream = Recorder(create_app())
    with serve_in_thread(upstream) as upstream_url:
        app = create_proxy_app(contract=contract, upstream=upstream_url, judge_in="process")
        with serve_in_thread(app, options=UVICORN_OPTIONS) as proxy_url:
            _sdk(proxy_url).chat.completions.with_raw_response.create(
                model="deepseek-chat", messages=HI, max_tokens=4
            )
            app.state.settle()
            report = app.state.report()
    schema = next(c for c in report["checks"] if c["id"] == "BODY-SCHEMA-001")
    assert schema["status"] == "fail" and "no_such_field" in schema["failures"][0]["message"]
    code, _, err = cli("serve", "--overlay", str(overlay))
    assert code == 2 and "serve --overlay needs --mock" in err


def test_an_idle_upstream_connection_is_let_go_before_the_upstream_would(tmp_path: Path) -> None:
    """A connection the upstream may be closing is never sent a request: kept idle longer
    than the upstream keeps it (uvicorn: 5 s), a request sent as it closed was a 502 (in a
    benchmark, 2 streams of 6,400 with idle gaps of 4.97 s). Past ``--upstream-keepalive``
    the proxy opens a new one; within it, the same one serves again."""
    seen: list[Any] = []

    async def upstream_app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        seen.append(scope["client"])  # (host, port): one port a connection
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    with serve_in_thread(upstream_app) as upstream:
        app = create_proxy_app(
            contract=load_contract(),
            upstream=upstream,
            report_dir=tmp_path,
            judge_in="thread",
            upstream_keepalive=1.0,
        )
        with serve_in_thread(app, options=UVICORN_OPTIONS) as url:
            assert httpx.get(url + "/x").status_code == 200
            time.sleep(1.5)  # idle past --upstream-keepalive, within uvicorn's 5 s
            assert httpx.get(url + "/x").status_code == 200
            assert httpx.get(url + "/x").status_code == 200  # at once: kept
    first, second, third = seen
    assert first != second, "an upstream connection idle past --upstream-keepalive was reused"
    assert second == third, "a connection used a moment ago was not kept"


def test_upstream_keepalive_must_be_positive(tmp_path: Path) -> None:
    code, _, err = cli(
        "proxy",
        "--upstream",
        "http://127.0.0.1:9",
        "--upstream-keepalive",
        "0",
        "--report-dir",
        str(tmp_path),
    )
    assert code == 2 and "--upstream-keepalive 0 must be above 0" in err
