"""The report's numbers kept as exchanges are judged, in memory that does not grow with them.

A run judges a few hundred exchanges and keeps them all. A proxy in front of live traffic
judges millions: it cannot keep every exchange's evidence, nor every timing. A :class:`Tally`
is fed one :class:`~conformance.checks.ExchangeResult` at a time and keeps

- per check: counts by status, by operation, skip reasons and errors (bounded by the checks);
- failures: the first ``keep_failures`` of each check and deviation signature (the check, the
  instance path with its indexes as ``*``, the schema path), the rest counted as not kept;
- exchanges: every failing exchange one of whose failures was kept, and a reservoir sample of
  ``keep_passing`` of the others (seeded: the same traffic keeps the same sample), the rest
  counted (``exchanges_omitted``);
- timings: a :class:`Spread` each (exact up to ``EXACT_TIMINGS`` values, then a log-bucket
  histogram with 1 % steps): percentiles in constant memory, and mergeable.

With no bounds (``None``, what ``run`` uses) it keeps everything, and its report is the one
:func:`~conformance.report.build_report` always gave. :meth:`Tally.report` costs what is kept,
not what was seen, so a proxy can write its report at any time, SIGTERM included.
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..checks import ExchangeResult, Failure
    from ._types import ExchangeEntry, OperationEntry, Percentiles, SpreadData

__all__ = ["EXACT_TIMINGS", "TIMING_NAMES", "Spread", "Tally", "failure_signature"]

#: The timings of an exchange (seconds from sending the request).
TIMING_NAMES = ("to_headers", "to_first_event", "to_first_content", "max_event_gap", "total")
#: Percentiles are exact (nearest rank) over at most this many values, then read from a
#: histogram whose buckets are 1 % wide (a percentile within 0.5 % of the exact one).
EXACT_TIMINGS = 1000
_STEP = math.log(1.01)
_FLOOR = 1e-6  # a microsecond: anything shorter is bucket 0

_INDEX = re.compile(r"/\d+(?=/|$)")


def failure_signature(check_id: str, failure: Failure | dict[str, Any]) -> tuple[str, str, str]:
    """What makes two failures the same deviation: the check, where in the instance (indexes
    as ``*``: the third choice and the fifth fail alike) and which schema keyword."""
    fields = failure if isinstance(failure, dict) else failure.as_fields()
    where = _INDEX.sub("/*", fields.get("instance_path") or "")
    return (check_id, where, fields.get("schema_path") or "")


@dataclass
class Spread:
    """A timing over many exchanges: exact values while they are few, a histogram after."""

    count: int = 0
    max: float = 0.0
    values: list[float] | None = field(default_factory=list)
    buckets: Counter[int] | None = None

    def add(self, value: float) -> None:
        self.count += 1
        self.max = max(self.max, value)
        if self.values is not None:
            self.values.append(value)
            if len(self.values) > EXACT_TIMINGS:
                self._to_buckets()
        else:
            assert self.buckets is not None
            self.buckets[_bucket(value)] += 1

    def _to_buckets(self) -> None:
        self.buckets = Counter(_bucket(v) for v in self.values or ())
        self.values = None

    def merge(self, other: Spread) -> None:
        """Add ``other``'s values: the same spread as if this one had seen them."""
        self.count += other.count
        self.max = max(self.max, other.max)
        if self.values is not None and other.values is not None:
            self.values.extend(other.values)
            if len(self.values) <= EXACT_TIMINGS:
                return
        if self.values is not None:
            self._to_buckets()
        assert self.buckets is not None
        if other.values is not None:
            self.buckets.update(_bucket(v) for v in other.values)
        else:
            self.buckets.update(other.buckets or {})

    def percentiles(self) -> Percentiles:
        if self.values is not None:
            ordered = sorted(self.values)
            return {
                "count": self.count,
                "p50": _rank(ordered, 0.5),
                "p90": _rank(ordered, 0.9),
                "p99": _rank(ordered, 0.99),
                "max": self.max,
            }
        assert self.buckets is not None
        ordered_buckets = sorted(self.buckets.items())
        return {
            "count": self.count,
            "p50": min(self._from_buckets(ordered_buckets, 0.5), self.max),
            "p90": min(self._from_buckets(ordered_buckets, 0.9), self.max),
            "p99": min(self._from_buckets(ordered_buckets, 0.99), self.max),
            "max": self.max,
        }

    def _from_buckets(self, ordered: list[tuple[int, int]], p: float) -> float:
        rank = max(1, math.ceil(p * self.count))
        seen = 0
        for index, n in ordered:
            seen += n
            if seen >= rank:
                return _middle(index)
        return self.max

    def as_data(self) -> SpreadData:
        data: SpreadData = {"count": self.count, "max": self.max}
        if self.values is not None:
            data["values"] = list(self.values)
        else:
            data["buckets"] = {str(k): v for k, v in sorted((self.buckets or {}).items())}
        return data

    @classmethod
    def from_data(cls, data: SpreadData) -> Spread:
        if "values" in data:
            return cls(count=data["count"], max=data["max"], values=list(data["values"]))
        buckets = Counter({int(k): v for k, v in data.get("buckets", {}).items()})
        return cls(count=data["count"], max=data["max"], values=None, buckets=buckets)


def _bucket(value: float) -> int:
    return 0 if value <= _FLOOR else 1 + int(math.log(value / _FLOOR) / _STEP)


def _middle(index: int) -> float:
    """A bucket's geometric middle, rounded to a microsecond's thousandth."""
    if index == 0:
        return 0.0
    return round(_FLOOR * math.exp((index - 0.5) * _STEP), 9)


def _rank(values: list[float], p: float) -> float:
    """The nearest-rank ``p`` quantile of sorted ``values``."""
    return values[max(0, min(len(values) - 1, math.ceil(p * len(values)) - 1))]


def spreads_of(exchanges: Iterable[ExchangeEntry]) -> dict[str, Spread]:
    """Each timing's spread over report entries (a report that kept every exchange)."""
    spreads = {name: Spread() for name in TIMING_NAMES}
    for exchange in exchanges:
        timings: dict[str, Any] = dict(exchange.get("timings") or {})
        for name, spread in spreads.items():
            value = timings.get(name)
            if value is not None:
                spread.add(value)
    return spreads


@dataclass
class _CheckTally:
    statuses: Counter[str] = field(default_factory=Counter)
    failures: list[tuple[Failure, int]] = field(default_factory=list)  # (failure, arrival)
    suppressed: int = 0
    skips: Counter[str] = field(default_factory=Counter)
    errors: set[str] = field(default_factory=set)
    operations: dict[str, list[int]] = field(default_factory=dict)  # exchanges, exercised, failed
    time_s: float = 0.0


class Tally:
    """Judged exchanges, added one by one, kept within bounds (``None``: no bound).

    ``keep_passing``: exchanges without a failure kept as evidence (a seeded reservoir sample);
    ``keep_failures``: failures kept per check and deviation signature."""

    def __init__(
        self, *, keep_passing: int | None = None, keep_failures: int | None = None, seed: int = 0
    ) -> None:
        self.keep_passing = keep_passing
        self.keep_failures = keep_failures
        self.seen = 0
        self.tokens = 0
        self.checks: dict[str, _CheckTally] = {}
        self.kept: dict[int, ExchangeEntry] = {}  # arrival -> entry, failing ones and the sample
        self._sample: list[int] = []  # arrivals of the passing exchanges kept
        self._passing = 0
        self._errors_kept = 0
        self._random = random.Random(seed)
        self._signatures: Counter[tuple[str, str, str]] = Counter()
        self.spreads = {name: Spread() for name in TIMING_NAMES}

    @property
    def omitted(self) -> int:
        return self.seen - len(self.kept)

    def add(self, result: ExchangeResult) -> None:
        arrival = self.seen
        self.seen += 1
        self.tokens += result.tokens
        timings = result.evidence.get("timings") or {}
        for name, spread in self.spreads.items():
            value = timings.get(name)
            if value is not None:
                spread.add(value)
        total = timings.get("total") or 0.0
        failing = False
        kept_failure = False
        for check_id, outcome in result.outcomes.items():
            tally = self.checks.get(check_id)
            if tally is None:
                tally = self.checks[check_id] = _CheckTally()
            status = outcome.status
            tally.statuses[status] += 1
            judged = status in ("pass", "fail")
            if judged:
                tally.time_s += total
            if result.operation is not None:
                counts = tally.operations.setdefault(result.operation, [0, 0, 0])
                counts[0] += 1
                counts[1] += judged
                counts[2] += status == "fail"
            if status == "skip" and outcome.reason:
                tally.skips[outcome.reason] += 1
            elif status == "error":
                failing = True
                if outcome.reason:
                    tally.errors.add(outcome.reason)
            if status == "fail":
                failing = True
            tally.suppressed += outcome.suppressed
            for failure in outcome.failures:
                signature = failure_signature(check_id, failure)
                self._signatures[signature] += 1
                if self.keep_failures is None or self._signatures[signature] <= self.keep_failures:
                    tally.failures.append((failure, arrival))
                    kept_failure = True
                else:
                    tally.suppressed += 1
        if failing:
            if self.keep_failures is None or kept_failure:
                self.kept[arrival] = _entry(result)
            elif self._errors_kept < self.keep_failures and not any(
                o.failures for o in result.outcomes.values()
            ):  # a check's own error, no failure: the first few are kept
                self._errors_kept += 1
                self.kept[arrival] = _entry(result)
            return
        self._keep_passing(arrival, result)

    def _keep_passing(self, arrival: int, result: ExchangeResult) -> None:
        """Algorithm R: each passing exchange has the same chance to be in the sample."""
        self._passing += 1
        if self.keep_passing is None or len(self._sample) < self.keep_passing:
            self._sample.append(arrival)
            self.kept[arrival] = _entry(result)
            return
        slot = self._random.randrange(self._passing)
        if slot < self.keep_passing:
            del self.kept[self._sample[slot]]
            self._sample[slot] = arrival
            self.kept[arrival] = _entry(result)

    def exchanges(self) -> list[ExchangeEntry]:
        """The kept exchanges, in the order they were judged."""
        return [self.kept[a] for a in sorted(self.kept)]

    def operations(self, check_id: str) -> list[OperationEntry]:
        tally = self.checks.get(check_id)
        if tally is None:
            return []
        return [
            {"operation": op, "exchanges": n, "exercised": judged, "failed": failed}
            for op, (n, judged, failed) in tally.operations.items()
        ]

    def timings(self) -> dict[str, Percentiles]:
        return {name: s.percentiles() for name, s in self.spreads.items() if s.count}


def _entry(result: ExchangeResult) -> ExchangeEntry:
    evidence = result.evidence
    entry: ExchangeEntry = {
        "id": result.exchange_id,
        "operation": result.operation,
        "status": result.status,
        "stream": result.stream,
        "chunks": result.chunks,
        "tokens": result.tokens,
        "failed_checks": sorted(
            k for k, o in result.outcomes.items() if o.status in ("fail", "error")
        ),
        "request": evidence.get("request"),
        "response": evidence.get("response") or {},
        "interrupted": evidence.get("interrupted"),
        "reproduce": evidence.get("reproduce"),
        "violations": evidence.get("violations") or [],
        "timings": evidence.get("timings") or dict.fromkeys(TIMING_NAMES),  # type: ignore[typeddict-item]
    }
    if "shrunk" in evidence:
        entry["shrunk_body"] = evidence["shrunk"]
    return entry
