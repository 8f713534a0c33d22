"""A running proxy is observable: Prometheus metrics that move as traffic passes, one log line
per failing exchange (text or JSON), and ``--sample`` to judge a fraction of the traffic."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance.contract import load_contract
from conformance.proxy import UVICORN_OPTIONS, create_proxy_app
from conformance.proxy._observe import Observer
from conformance.reference import DEFAULT_API_KEY, create_app, serve_in_thread
from tests.helpers import free_port

CHAT = {"model": "deepseek-chat", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}
AUTH = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}


def _proxy(upstream: str, report_dir: Path, **options: Any) -> Any:
    """A proxy of the shipped contract in front of ``upstream``, judging in a thread."""
    return create_proxy_app(
        contract=load_contract(),
        upstream=upstream,
        report_dir=report_dir,
        judge_in="thread",
        **options,
    )


def _metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the exposition ``text`` (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(name + ("{" if labels else " ")):
            head, _, value = line.rpartition(" ")
            got = head[len(name) :].strip("{}")
            if ",".join(sorted(got.split(","))) == wanted or not labels:
                return float(value)
    return 0.0


def test_the_metrics_endpoint_shows_the_counters_moving(tmp_path: Path) -> None:
    observer = Observer(metrics=True)
    port = free_port()
    observer.serve(port, "127.0.0.1")
    with serve_in_thread(create_app(faults=["usage-total-wrong"])) as upstream:
        app = _proxy(upstream, tmp_path, observer=observer)
        with serve_in_thread(app, options=UVICORN_OPTIONS) as url, httpx.Client() as client:
            scrapes = []
            for _ in range(2):
                client.post(url + "/chat/completions", json=CHAT, headers=AUTH)
                app.state.settle()
                scrapes.append(client.get(f"http://127.0.0.1:{port}/metrics").text)
            client.get(url + "/v1/nowhere")
    first, second = scrapes
    name = "conformance_proxy_exchanges_total"
    labels = {"operation": "POST /chat/completions", "outcome": "fail"}
    assert _metric(first, name, **labels) == 1 and _metric(second, name, **labels) == 2
    failures = "conformance_proxy_failures_total"
    check = {"check": "USAGE-TOTAL-001", "operation": "POST /chat/completions"}
    assert _metric(second, failures, **check) == 2
    assert "conformance_proxy_upstream_headers_seconds_bucket" in second
    assert "conformance_proxy_backlog_bytes" in second


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_each_failing_exchange_is_one_log_line(
    log_format: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with serve_in_thread(create_app(faults=["usage-total-wrong"])) as upstream:
        app = _proxy(upstream, tmp_path, observer=Observer(log_format=log_format))
        with (
            caplog.at_level(logging.INFO, logger="conformance.proxy"),
            serve_in_thread(app, options=UVICORN_OPTIONS) as url,
        ):
            for _ in range(3):
                httpx.post(url + "/chat/completions", json=CHAT, headers=AUTH)
            app.state.settle()
    lines = [r.getMessage() for r in caplog.records if r.name == "conformance.proxy"]
    assert len(lines) == 3
    if log_format == "json":
        entry = json.loads(lines[0])
        assert (
            entry["check"] == "USAGE-TOTAL-001" and entry["operation"] == "POST /chat/completions"
        )
        assert entry["exchange"].startswith("proxy-") and entry["deviation"]
    else:
        assert "FAIL proxy-" in lines[0] and "USAGE-TOTAL-001" in lines[0]


def test_sample_judges_a_fraction_and_says_so(tmp_path: Path) -> None:
    with serve_in_thread(create_app()) as upstream:
        app = _proxy(upstream, tmp_path, sample=0.25)
        with serve_in_thread(app, options=UVICORN_OPTIONS) as url, httpx.Client() as client:
            for _ in range(20):
                assert client.post(url + "/chat/completions", json=CHAT, headers=AUTH).is_success
            app.state.settle()
    assert app.state.judged == 5 and app.state.sampled_out == 15  # evenly, all forwarded
    assert "--sample 0.25: 15 forwarded, not judged" in app.state.report()["run"]["notes"][0]


def test_what_befalls_a_request_besides_a_judgement_is_in_the_report_and_the_metrics(
    tmp_path: Path,
) -> None:
    """Each such event raises the report's count and the metric's, together: requests
    sampled out (``--sample``), and the 502 the proxy makes when the upstream is not there."""
    from prometheus_client import generate_latest

    events = "conformance_proxy_events_total"
    observer = Observer(metrics=True)
    with serve_in_thread(create_app()) as upstream:
        app = _proxy(upstream, tmp_path / "sampled", observer=observer, sample=0.5)
        with serve_in_thread(app, options=UVICORN_OPTIONS) as url, httpx.Client() as client:
            for _ in range(4):
                assert client.post(url + "/chat/completions", json=CHAT, headers=AUTH).is_success
            app.state.settle()
    text = generate_latest(observer.registry).decode()
    assert app.state.sampled_out == 2 == _metric(text, events, event="sampled_out")

    nobody = f"http://127.0.0.1:{free_port()}"
    observer = Observer(metrics=True)
    app = _proxy(nobody, tmp_path / "down", observer=observer)
    with serve_in_thread(app, options=UVICORN_OPTIONS) as url:
        assert httpx.post(url + "/chat/completions", json=CHAT, headers=AUTH).status_code == 502
        app.state.settle()
    text = generate_latest(observer.registry).decode()
    assert app.state.upstream_errors == 1 == _metric(text, events, event="upstream_error")
    assert app.state.counts()["upstream_errors"] == 1
