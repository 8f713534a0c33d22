"""What a running proxy shows while it runs: Prometheus metrics and a log line per failing
exchange.

Metrics come from the ``prometheus_client`` library (not hand-written exposition text), in a
registry of the proxy's own (two proxies in one process, as in tests, do not share one). The
log goes through :mod:`logging` (logger ``conformance.proxy``), as text or one JSON object a
line (``--log-format json``) for log pipelines; what a server wrote is made printable first.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from .._util import printable

if TYPE_CHECKING:
    from ..checks import ExchangeResult

__all__ = ["LOGGER", "Observer", "configure_logging"]

LOGGER = logging.getLogger("conformance.proxy")
LOGGER.addHandler(logging.NullHandler())  # a library: silent until configured


class Observer:
    """The proxy's metrics (when ``metrics`` is on) and its log of failing exchanges."""

    def __init__(self, *, metrics: bool = False, log_format: str = "text") -> None:
        self.log_format = log_format
        self.registry: Any = None
        if not metrics:
            return
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.exchanges = Counter(
            "conformance_proxy_exchanges",
            "Exchanges the proxy forwarded, by operation and outcome (pass, fail, not judged)",
            ["operation", "outcome"],
            registry=self.registry,
        )
        self.failures = Counter(
            "conformance_proxy_failures",
            "Failing judgements, by check id and operation",
            ["check", "operation"],
            registry=self.registry,
        )
        self.events = Counter(
            "conformance_proxy_events",
            "What happened to requests besides a judgement: upstream_error (a 502 the proxy "
            "made), abandoned (the client left), behind (forwarded, not judged: the checks "
            "fell behind), sampled_out (--sample), stalled (the client stopped reading), "
            "check_error",
            ["event"],
            registry=self.registry,
        )
        self.backlog = Gauge(
            "conformance_proxy_backlog_bytes",
            "Kept copies waiting for the checks",
            registry=self.registry,
        )
        self.to_headers = Histogram(
            "conformance_proxy_upstream_headers_seconds",
            "From the client's request to the upstream's response headers",
            ["operation"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )

    def serve(self, port: int, host: str) -> None:
        """Serve the metrics on ``host:port`` (``/metrics``), from a thread."""
        from prometheus_client import start_http_server

        start_http_server(port, addr=host, registry=self.registry)

    def event(self, name: str, count: int = 1) -> None:
        if self.registry is not None:
            self.events.labels(event=name).inc(count)

    def upstream_headers(self, operation: str | None, seconds: float) -> None:
        if self.registry is not None:
            self.to_headers.labels(operation=operation or "other").observe(seconds)

    def backlog_bytes(self, value: int) -> None:
        if self.registry is not None:
            self.backlog.set(value)

    def judged(self, result: ExchangeResult) -> None:
        """Count a judged exchange, and log it when a check failed."""
        failed = {k: o for k, o in result.outcomes.items() if o.status in ("fail", "error")}
        operation = result.operation or "other"
        if self.registry is not None:
            self.exchanges.labels(operation=operation, outcome="fail" if failed else "pass").inc()
            for check_id in failed:
                self.failures.labels(check=check_id, operation=operation).inc()
        if not failed:
            return
        check_id, outcome = next(iter(failed.items()))
        message = outcome.failures[0].message if outcome.failures else outcome.reason or ""
        if self.log_format == "json":
            LOGGER.warning(
                json.dumps(
                    {
                        "event": "conformance.failure",
                        "exchange": result.exchange_id,
                        "operation": operation,
                        "status": result.status,
                        "checks": sorted(failed),
                        "check": check_id,
                        "deviation": message[:500],
                    },
                    ensure_ascii=True,
                )
            )
        else:
            more = f" (+{len(failed) - 1} more)" if len(failed) > 1 else ""
            LOGGER.warning(
                printable(
                    f"conformance proxy: FAIL {result.exchange_id} {operation} HTTP "
                    f"{result.status}: {check_id}{more}: {message[:300]}"
                )
            )


def configure_logging(stream: Any) -> None:
    """Send the proxy's log lines to ``stream`` (the command's stderr), once."""
    if any(getattr(h, "_conformance", False) for h in LOGGER.handlers):
        return
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler._conformance = True  # type: ignore[attr-defined]
    LOGGER.addHandler(handler)
    LOGGER.setLevel(logging.INFO)
    LOGGER.propagate = False
