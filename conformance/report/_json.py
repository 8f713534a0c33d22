"""``report.json``: every registered check, its status over the exchanges, its failures."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..checks import CHECKS

if TYPE_CHECKING:
    from ..checks import ExchangeResult
    from ..contract import Contract

__all__ = ["REPORT_VERSION", "build_report", "write_report"]

REPORT_VERSION = 1


def _status(statuses: list[str]) -> str:
    for status in ("fail", "error", "pass"):
        if status in statuses:
            return status
    return "skip"


def build_report(
    contract: Contract,
    results: Sequence[ExchangeResult],
    *,
    started_at: str,
    duration_s: float,
    base_url: str | None = None,
    model: str | None = None,
    seed: int | None = None,
    run: dict[str, Any] | None = None,
    fail_on: str = "MUST",
) -> dict[str, Any]:
    """The report of checked exchanges. ``fail_on`` is the lowest severity whose failure makes
    the verdict ``fail`` (``MUST``, or ``SHOULD`` for a strict gate)."""
    checks = []
    for check in CHECKS.values():
        outcomes = [r.outcomes[check.id] for r in results if check.id in r.outcomes]
        statuses = [o.status for o in outcomes]
        failures = [
            {
                "message": f.message,
                "exchange": f.exchange or "",
                "instance_path": f.instance_path,
                "schema_path": f.schema_path,
                "chunk_index": f.chunk_index,
                "reproduce": f.reproduce,
                "value": f.value,
            }
            for o in outcomes
            for f in o.failures
        ]
        checks.append(
            {
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
                "skip_reasons": sorted(
                    {o.reason for o in outcomes if o.status == "skip" and o.reason}
                ),
                "errors": sorted({o.reason for o in outcomes if o.status == "error" and o.reason}),
            }
        )
    gating = {"MUST"} if fail_on == "MUST" else {"MUST", "SHOULD"}
    must_failed = any(c["status"] == "fail" and c["severity"] in gating for c in checks)
    return {
        "report_version": REPORT_VERSION,
        "suite": {"name": "conformance", "version": __version__},
        "target": {"base_url": base_url, "model": model},
        "contract": {
            "spec": contract.source,
            "sha256": contract.sha256,
            "profile": contract.profile.name,
            "overlays": list(contract.overlays),
        },
        "verdict": "fail" if must_failed else "pass",
        "level": None,
        "summary": {
            "checks_passed": sum(c["status"] == "pass" for c in checks),
            "checks_failed": sum(c["status"] == "fail" for c in checks),
            "checks_skipped": sum(c["status"] == "skip" for c in checks),
            "checks_errored": sum(c["status"] == "error" for c in checks),
            "exchanges": len(results),
        },
        "checks": checks,
        "exchanges": [
            {"id": r.exchange_id, "status": r.status, "stream": r.stream, "chunks": r.chunks}
            for r in results
        ],
        "started_at": started_at,
        "duration_s": round(duration_s, 6),
        "seed": seed,
        "fail_on": fail_on,
        **({"run": run} if run is not None else {}),
    }


def write_report(report: dict[str, Any], directory: str | Path) -> Path:
    """Write ``report.json`` atomically: a killed run never leaves half a file."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "report.json"
    fd, tmp = tempfile.mkstemp(prefix=".report.", suffix=".json", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=2, ensure_ascii=False, default=repr)
            handle.write("\n")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
