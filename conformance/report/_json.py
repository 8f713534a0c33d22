"""``report.json``: every registered check, its status over the exchanges, its failures; the
verdict, the certification level and the waivers; the evidence of each exchange.

Every other output (JUnit, HTML, Markdown, badge) and ``report merge`` read this dictionary
only, so a merged report renders like a single run's.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .. import __version__
from .._util import json_safe
from .._vocab import LEVELS, Level, Severity, Status
from ..checks import CHECKS
from ._baseline import Baseline
from ._types import (
    CheckEntry,
    ExchangeEntry,
    FailureEntry,
    LevelBlocker,
    OperationEntry,
    Percentiles,
    Report,
    ReportSummary,
    RunInfo,
    TimingsEntry,
)

if TYPE_CHECKING:
    from ..checks import ExchangeResult
    from ..contract import Contract

__all__ = [
    "LEVELS",
    "REPORT_VERSION",
    "build_report",
    "finalize",
    "report_schema",
    "report_schema_text",
]

REPORT_VERSION = 1
#: The JSON Schema of report.json, shipped inside the package (``conformance report schema``).
SCHEMA_FILE = "report.schema.json"


def report_schema_text() -> str:
    """The JSON Schema (2020-12) of report.json, as shipped."""
    from importlib.resources import files

    return files("conformance.report").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")


def report_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of report.json, parsed."""
    schema: dict[str, Any] = json.loads(report_schema_text())
    return schema


def _status(statuses: Sequence[str]) -> Status:
    for status in ("fail", "error", "pass"):
        if status in statuses:
            return status
    return "skip"


def gating_of(fail_on: str) -> set[str]:
    """The severities whose failure fails the verdict."""
    return {"MUST"} if fail_on == "MUST" else {"MUST", "SHOULD"}


def is_waived(check: CheckEntry) -> bool:
    """Whether an unexpired waiver covers the check."""
    waiver = check.get("waiver")
    return waiver is not None and not waiver["expired"]


def _summary(checks: list[CheckEntry], exchanges: int) -> ReportSummary:
    return {
        "checks_passed": sum(c["status"] == "pass" for c in checks),
        "checks_failed": sum(c["status"] == "fail" for c in checks),
        "checks_skipped": sum(c["status"] == "skip" for c in checks),
        "checks_errored": sum(c["status"] == "error" for c in checks),
        "checks_waived": sum(c["status"] == "fail" and is_waived(c) for c in checks),
        "checks_not_exercised": sum(c["status"] == "skip" and c["applicable"] for c in checks),
        "checks_not_applicable": sum(not c["applicable"] for c in checks),
        "checks_exercised": sum(c["exercised"] > 0 for c in checks),
        "exchanges": exchanges,
    }


def _holds_back(check: CheckEntry) -> str | None:
    """Why a MUST check keeps its level from being granted, or None."""
    if check["severity"] != "MUST" or not check["applicable"] or is_waived(check):
        return None
    if check["status"] == "fail":
        return "failed"
    if check["status"] == "error":
        return "the check itself errored"
    if check["status"] == "skip":
        # "applies to streamed responses only" and "does not apply to GET /models" are about
        # the exchange, not the feature: the other reasons say what did not happen.
        telling = [
            r for r in check["skip_reasons"] if not r.startswith(("applies to ", "does not apply"))
        ]
        reasons = "; ".join(telling or check["skip_reasons"]) or "no exchange applied"
        registered = CHECKS.get(check["id"])
        hint = f"; hint: {registered.hint}" if registered is not None and registered.hint else ""
        return f"not exercised ({reasons}){hint}"
    return None


def _run_holds_back(report: Report) -> str | None:
    """Why nothing this run saw can grant a level: it saw part of what it planned."""
    if report.get("partial"):
        return "a partial merge of shard reports (--allow-partial)"
    run = report.get("run")
    if run is None:
        return None
    if run["shard"] is not None:
        return (
            f"one shard ({run['shard']}) of a run; merge the shards with 'conformance report merge'"
        )
    if run["cases_skipped"]:
        return (
            f"{len(run['cases_skipped'])} of {run['cases_planned']} case(s) were not sent (the "
            "request budget ran out, or --max-failures stopped the run; raise --max-requests)"
        )
    return None


def finalize(report: Report) -> Report:
    """(Re)compute summary, verdict and level from the checks (used after a merge too).

    A level is granted only on evidence: every applicable MUST check of it and of the levels
    below passed having judged at least one exchange (or is waived), and the run sent every
    case it planned. ``level_blockers`` names what kept the next level back."""
    checks = report["checks"]
    gating = gating_of(report["fail_on"])
    report["summary"] = _summary(checks, len(report["exchanges"]))
    failing = [
        c for c in checks if c["status"] == "fail" and c["severity"] in gating and not is_waived(c)
    ]
    # a pass is evidence: with nothing judged there is no verdict (a proxy that saw no traffic)
    report["verdict"] = "fail" if failing else "pass" if report["exchanges"] else "none"
    level: Level | None = None
    blockers: list[LevelBlocker] = []
    whole = _run_holds_back(report)
    for name in LEVELS:
        if whole is not None:
            blockers = [{"level": name, "check": None, "reason": whole}]
            break
        blockers = [
            {"level": name, "check": c["id"], "reason": reason}
            for c in checks
            if LEVELS.index(c["level"]) <= LEVELS.index(name)
            and (reason := _holds_back(c)) is not None
        ]
        if blockers:
            break
        level = name
    report["level"] = level
    report["level_blockers"] = blockers
    return report


def build_report(
    contract: Contract,
    results: Sequence[ExchangeResult],
    *,
    started_at: str,
    duration_s: float,
    base_url: str | None = None,
    model: str | None = None,
    seed: int | None = None,
    run: RunInfo | None = None,
    fail_on: Severity = "MUST",
    baseline: Baseline | None = None,
    not_served: Iterable[str] = (),
) -> Report:
    """The report of checked exchanges. ``fail_on`` is the lowest severity whose failure makes
    the verdict ``fail`` (``MUST``, or ``SHOULD`` for a strict gate); a failure the baseline
    waives (and whose waiver has not expired) does not. A check applies when it applies to an
    operation the profile certifies that the target serves (``not_served``: labels that got
    only 404/405/501)."""
    unserved = set(not_served)
    served = [op for op in contract.certified_operations() if op.label not in unserved]
    checks = []
    for check in CHECKS.values():
        outcomes = [r.outcomes[check.id] for r in results if check.id in r.outcomes]
        statuses = [o.status for o in outcomes]
        failures: list[FailureEntry] = [
            {
                "message": f.message,
                "exchange": f.exchange or "",
                "instance_path": f.instance_path,
                "schema_path": f.schema_path,
                "chunk_index": f.chunk_index,
                "reproduce": f.reproduce,
                "value": f.value,
                "schema_excerpt": _excerpt(contract, f.schema_path),
            }
            for o in outcomes
            for f in o.failures
        ]
        entry: CheckEntry = {
            "id": check.id,
            "title": check.title,
            "severity": check.severity,
            "category": check.category,
            "level": check.level,
            "source": check.source,
            "status": _status(statuses),
            "exchanges": len(outcomes),
            "exercised": sum(s in ("pass", "fail") for s in statuses),
            "applicable": any(check.not_applicable(contract, op) is None for op in served),
            "failures": failures,
            "suppressed_failures": sum(o.suppressed for o in outcomes),
            "skip_reasons": _counted(o.reason for o in outcomes if o.status == "skip" and o.reason),
            "errors": sorted({o.reason for o in outcomes if o.status == "error" and o.reason}),
            "operations": _by_operation(check.id, results),
            "time_s": round(
                sum(
                    r.evidence.get("timings", {}).get("total") or 0.0
                    for r in results
                    if check.id in r.outcomes and r.outcomes[check.id].status in ("pass", "fail")
                ),
                6,
            ),
        }
        if baseline is not None:
            waiver = baseline.waiver_for(check.id)
            if waiver is not None:
                entry["waiver"] = waiver
        checks.append(entry)
    exchanges: list[ExchangeEntry] = []
    for r in results:
        exchange: ExchangeEntry = {
            "id": r.exchange_id,
            "operation": r.operation,
            "status": r.status,
            "stream": r.stream,
            "chunks": r.chunks,
            "tokens": r.tokens,
            "failed_checks": sorted(
                k for k, o in r.outcomes.items() if o.status in ("fail", "error")
            ),
            "request": r.evidence["request"],
            "response": r.evidence["response"],
            "interrupted": r.evidence["interrupted"],
            "reproduce": r.evidence["reproduce"],
            "violations": r.evidence["violations"],
            "timings": r.evidence.get("timings") or _NO_TIMINGS,
        }
        if "shrunk" in r.evidence:
            exchange["shrunk_body"] = r.evidence["shrunk"]
        exchanges.append(exchange)
    report: Report = {
        "report_version": REPORT_VERSION,
        "suite": {"name": "conformance", "version": __version__},
        "target": {"base_url": base_url, "model": model},
        "contract": {
            "spec": contract.source,
            "sha256": contract.sha256,
            "profile": contract.profile.name,
            "overlays": list(contract.overlays),
        },
        "verdict": "pass",
        "level": None,
        "level_blockers": [],
        "summary": _summary(checks, len(exchanges)),
        "checks": checks,
        "exchanges": exchanges,
        "started_at": started_at,
        "duration_s": round(duration_s, 6),
        "seed": seed,
        "fail_on": fail_on,
    }
    if run is not None:
        report["run"] = {**run, "timings": run_timings(exchanges)}
    if baseline is not None:
        report["baseline"] = baseline.describe(checks)
    return finalize(report)


def _by_operation(check_id: str, results: Sequence[ExchangeResult]) -> list[OperationEntry]:
    """How the check fared on each operation it looked at (the report grouped by operation)."""
    found: dict[str, OperationEntry] = {}
    for r in results:
        outcome = r.outcomes.get(check_id)
        if outcome is None or r.operation is None:
            continue
        entry = found.setdefault(
            r.operation,
            {"operation": r.operation, "exchanges": 0, "exercised": 0, "failed": 0},
        )
        entry["exchanges"] += 1
        entry["exercised"] += outcome.status in ("pass", "fail")
        entry["failed"] += outcome.status == "fail"
    return list(found.values())


_NO_TIMINGS: TimingsEntry = {
    "to_headers": None,
    "to_first_event": None,
    "to_first_content": None,
    "max_event_gap": None,
    "total": None,
}


def run_timings(exchanges: Sequence[ExchangeEntry]) -> dict[str, Percentiles]:
    """Each timing over ``exchanges`` that measured it: count, p50, p90, p99, max (nearest
    rank, seconds)."""
    measured: dict[str, list[float]] = {name: [] for name in _NO_TIMINGS}
    for exchange in exchanges:
        timings: dict[str, Any] = dict(exchange.get("timings") or _NO_TIMINGS)
        for name, values in measured.items():
            value = timings.get(name)
            if value is not None:
                values.append(value)
    out: dict[str, Percentiles] = {}
    for name, values in measured.items():
        if values:
            values.sort()
            out[name] = {
                "count": len(values),
                "p50": _rank(values, 0.5),
                "p90": _rank(values, 0.9),
                "p99": _rank(values, 0.99),
                "max": values[-1],
            }
    return out


def _rank(values: list[float], p: float) -> float:
    """The nearest-rank ``p`` quantile of sorted ``values``."""
    return values[max(0, min(len(values) - 1, math.ceil(p * len(values)) - 1))]


def _counted(reasons: Iterable[str]) -> list[str]:
    """Each distinct reason once, with how many exchanges gave it."""
    counts = reasons if isinstance(reasons, Counter) else Counter(reasons)
    return [
        f"{reason} ({n} exchange{'s' if n > 1 else ''})" for reason, n in sorted(counts.items())
    ]


_COUNTED = re.compile(r"^(?P<reason>.*) \((?P<n>\d+) exchanges?\)$", re.S)


def recount(lists: Iterable[list[str]]) -> list[str]:
    """Counted reasons of several reports (shards) as one list, the counts added up."""
    total: Counter[str] = Counter()
    for reasons in lists:
        for text in reasons:
            match = _COUNTED.match(text)
            if match:
                total[match["reason"]] += int(match["n"])
            else:
                total[text] += 1
    return _counted(total)


def _excerpt(contract: Contract, pointer: str | None, max_lines: int = 30) -> str | None:
    """The schema around a failing keyword (its parent schema), for people to read."""
    if not pointer:
        return None
    parent = pointer.rsplit("/", 1)[0]
    try:
        node = contract.schema(parent)
    except Exception:
        return None
    lines = json.dumps(node, indent=2, ensure_ascii=False, default=repr).splitlines()
    if len(lines) > max_lines:
        lines = [*lines[:max_lines], "  ..."]
    return "\n".join(lines)


def dumps(report: Report) -> str:
    """report.json's text: indented, UTF-8 as it is."""
    return json_safe(json.dumps(report, indent=2, ensure_ascii=False, default=repr)) + "\n"
