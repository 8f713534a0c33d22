"""``report.json``: every registered check, its status over the exchanges, its failures; the
verdict, the certification level and the waivers; the evidence of each exchange.

Every other output (JUnit, HTML, Markdown, badge) and ``report merge`` read this dictionary
only, so a merged report renders like a single run's.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from .._vocab import LEVELS, Level, Severity, Status
from ..checks import CHECKS
from ._baseline import Baseline
from ._types import CheckEntry, ExchangeEntry, FailureEntry, Report, ReportSummary, RunInfo

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
    "write_text_atomic",
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


def _gating(fail_on: str) -> set[str]:
    return {"MUST"} if fail_on == "MUST" else {"MUST", "SHOULD"}


def _waived(check: CheckEntry) -> bool:
    waiver = check.get("waiver")
    return waiver is not None and not waiver["expired"]


def _summary(checks: list[CheckEntry], exchanges: int) -> ReportSummary:
    return {
        "checks_passed": sum(c["status"] == "pass" for c in checks),
        "checks_failed": sum(c["status"] == "fail" for c in checks),
        "checks_skipped": sum(c["status"] == "skip" for c in checks),
        "checks_errored": sum(c["status"] == "error" for c in checks),
        "checks_waived": sum(c["status"] == "fail" and _waived(c) for c in checks),
        "exchanges": exchanges,
    }


def finalize(report: Report) -> Report:
    """(Re)compute summary, verdict and level from the checks (used after a merge too)."""
    checks = report["checks"]
    gating = _gating(report["fail_on"])
    report["summary"] = _summary(checks, len(report["exchanges"]))
    failing = [
        c for c in checks if c["status"] == "fail" and c["severity"] in gating and not _waived(c)
    ]
    report["verdict"] = "fail" if failing else "pass"
    level: Level | None = None
    for name in LEVELS:
        at_or_below = [c for c in checks if LEVELS.index(c["level"]) <= LEVELS.index(name)]
        broken = [
            c
            for c in at_or_below
            if c["severity"] == "MUST" and c["status"] in ("fail", "error") and not _waived(c)
        ]
        exercised = any(c["status"] == "pass" for c in checks if c["level"] == name)
        if broken or not exercised:
            break
        level = name
    report["level"] = level
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
) -> Report:
    """The report of checked exchanges. ``fail_on`` is the lowest severity whose failure makes
    the verdict ``fail`` (``MUST``, or ``SHOULD`` for a strict gate); a failure the baseline
    waives (and whose waiver has not expired) does not."""
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
            "exchanges": sum(s != "skip" for s in statuses),
            "failures": failures,
            "suppressed_failures": sum(o.suppressed for o in outcomes),
            "skip_reasons": sorted({o.reason for o in outcomes if o.status == "skip" and o.reason}),
            "errors": sorted({o.reason for o in outcomes if o.status == "error" and o.reason}),
        }
        if baseline is not None:
            waiver = baseline.waiver_for(check.id)
            if waiver is not None:
                entry["waiver"] = waiver
        checks.append(entry)
    exchanges: list[ExchangeEntry] = [
        {
            "id": r.exchange_id,
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
        }
        for r in results
    ]
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
        "summary": _summary(checks, len(exchanges)),
        "checks": checks,
        "exchanges": exchanges,
        "started_at": started_at,
        "duration_s": round(duration_s, 6),
        "seed": seed,
        "fail_on": fail_on,
    }
    if run is not None:
        report["run"] = run
    if baseline is not None:
        report["baseline"] = baseline.describe(checks)
    return finalize(report)


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


def write_text_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` so that a killed run never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def dumps(report: Report) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False, default=repr) + "\n"
