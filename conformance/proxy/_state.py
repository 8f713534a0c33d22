"""What the proxy has seen: its counts and the tally of the judged exchanges, as the report
states them."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections import Counter
from concurrent.futures import (
    Future,
    wait,
)
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..exchange import (
    redact_url,
)
from ..report import Tally, proxy_note, report_of, write_all

if TYPE_CHECKING:
    from ..contract import Contract
    from ..report import ProxyCounts, Report


__all__ = ["ProxyState"]


#: At shutdown, how long the exchanges read whole wait for the checks (which may lag a busy
#: machine by thousands); the rest are counted, not judged, and the report is written.
JUDGE_AT_SHUTDOWN_S = 3.0


#: Passing exchanges kept as evidence in the report (a seeded reservoir sample of them all),
#: and failures kept per check and deviation signature (the rest counted): the report's size
#: and the proxy's memory do not grow with the traffic.
KEEP_PASSING = 100


KEEP_FAILURES = 5


@dataclass
class ProxyState:
    """What the proxy has seen: the checked exchanges and the counts of the rest."""

    contract: Contract
    upstream: str
    report_dir: Path | None
    flush_every: int = 0
    forwarded: int = 0
    unclassified: int = 0
    upstream_errors: int = 0
    check_errors: int = 0
    truncated: int = 0
    #: the judged exchanges, in bounded memory: counts, failures (a few per deviation) and a
    #: sample of the passing ones (:class:`~conformance.report.Tally`)
    tally: Tally = field(default_factory=lambda: _new_tally())
    #: this proxy's name among replicas: the prefix of its exchange ids (merged reports keep
    #: them apart)
    replica: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    models: Counter[str] = field(default_factory=Counter)
    started_at: str = field(
        default_factory=lambda: (
            datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        )
    )
    clock: float = field(default_factory=time.perf_counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    pending: list[Future[Any]] = field(default_factory=list)
    in_flight: int = 0
    queued: int = 0  # exchanges read, waiting for their batch to go to the checks
    restarts: int = 0  # times the checks' process died and a new one took over
    backlog_bytes: int = 0  # kept copies read and not judged yet
    behind: int = 0  # exchanges not judged: the backlog was full
    abandoned: int = 0  # requests whose client left before the upstream answered
    stalled: int = 0  # clients that stopped reading an answer: let go after write_timeout
    cut_at_shutdown: int = 0  # exchanges still in flight when the proxy was stopped
    unjudged_at_shutdown: int = 0  # read whole, still waiting for the checks when it stopped
    sample: float = 1.0  # the fraction of exchanges judged (--sample)
    sampled_out: int = 0  # forwarded, not judged: --sample
    final: Report | None = None  # the report written at shutdown
    #: one report written at a time (the one at the signal, the final one, running ones)
    flushing: threading.Lock = field(default_factory=threading.Lock)

    def settle(self, timeout: float = 60.0) -> None:
        """Wait until no exchange is in flight and every one read has been judged."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                busy, pending = self.in_flight + self.queued, list(self.pending)
            if not busy:
                wait(pending, timeout=max(deadline - time.monotonic(), 0))
                return
            time.sleep(0.005)

    @property
    def judged(self) -> int:
        """The exchanges judged so far."""
        return self.tally.seen

    def snapshot(self) -> dict[str, Any]:
        """Everything but the tally, as plain data: what the checks' process needs to write
        the ``flush_every`` reports itself (:func:`_judge_all`)."""
        with self.lock:
            return {
                "upstream": self.upstream,
                "replica": self.replica,
                "report_dir": self.report_dir,
                "flush_every": self.flush_every,
                **{name: getattr(self, name) for name in _COUNTS},
                "models": Counter(self.models),
                "started_at": self.started_at,
                "elapsed": time.perf_counter() - self.clock,
            }

    def counts(self) -> ProxyCounts:
        """What the proxy saw, as the report's ``run.proxy`` states it."""
        counts: dict[str, Any] = {name: getattr(self, name) for name in _COUNTS}
        counts |= {"replica": self.replica, "judged": self.tally.seen, "in_flight": self.in_flight}
        return counts  # type: ignore[return-value]

    def report(self) -> Report:
        """The report of what was seen so far: it costs what the tally kept (a bounded
        sample), not what the proxy saw, so it can be written at any time."""
        with self.lock:
            counts = self.counts()
            upstream = redact_url(self.upstream)
            model = self.models.most_common(1)[0][0] if self.models else None
            return report_of(
                self.contract,
                self.tally,
                started_at=self.started_at,
                duration_s=time.perf_counter() - self.clock,
                base_url=upstream,
                model=model,
                run={
                    "requests_sent": self.forwarded,
                    "tokens_spent": self.tally.tokens,
                    "cases_planned": self.tally.seen,
                    "cases_skipped": [],
                    "embedded_server": False,
                    "shard": None,
                    "notes": [proxy_note(counts, upstream)],
                    "proxy": counts,
                },
            )

    def flush(self) -> Path | None:
        """Write every output of the report (atomically, report.json last); the report is
        kept as ``final`` (the verdict line at exit reads it). It costs what the tally kept,
        whatever the traffic: a tenth of a second after 100,000 exchanges."""
        with self.flushing:
            self.final = self.report()
            if self.report_dir is None:
                return None
            write_all(self.final, self.report_dir)
            return self.report_dir / "report.json"

    def verdict_line(self) -> str:
        """One line for the end of the command: the verdict and what it rests on."""
        report = self.final if self.final is not None else self.report()
        verdict = report["verdict"]
        said = "no verdict: nothing was judged" if verdict == "none" else f"verdict {verdict}"
        return (
            f"conformance proxy: {said}, level {report['level'] or 'none'}; "
            f"{self.forwarded} forwarded, {self.tally.seen} judged, {self.upstream_errors} "
            f"upstream failure(s), {self.abandoned} abandoned by their client, "
            f"{self.cut_at_shutdown} cut by the shutdown"
        )


#: The counts of :class:`ProxyState` a report states.
_COUNTS = (
    "forwarded",
    "unclassified",
    "upstream_errors",
    "check_errors",
    "truncated",
    "restarts",
    "behind",
    "abandoned",
    "stalled",
    "cut_at_shutdown",
    "unjudged_at_shutdown",
    "sample",
    "sampled_out",
)


_REPLICA = re.compile(r"[A-Za-z0-9._-]{1,64}")


def _new_tally() -> Tally:
    return Tally(keep_passing=KEEP_PASSING, keep_failures=KEEP_FAILURES)
