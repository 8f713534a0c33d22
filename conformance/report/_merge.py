"""``conformance report merge``: shard reports into one, as if one run had made them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .._errors import UsageError
from ._json import _status, finalize

__all__ = ["merge_reports", "read_report"]


def read_report(directory: str) -> dict[str, Any]:
    path = Path(directory)
    path = path / "report.json" if path.is_dir() else path
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file (a shard's report directory?)") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not a readable report.json ({exc})") from None
    if not isinstance(report, dict) or not isinstance(report.get("checks"), list):
        raise UsageError(f"{path}: not a conformance report")
    return report


def merge_reports(reports: list[dict[str, Any]]) -> dict[str, Any]:
    if not reports:
        raise UsageError("nothing to merge")
    first = reports[0]
    for other in reports[1:]:
        if (
            other["contract"]["sha256"] != first["contract"]["sha256"]
            or other["contract"]["profile"] != first["contract"]["profile"]
        ):
            raise UsageError(
                "the reports were made against different contracts; they cannot be merged"
            )
        if other.get("seed") != first.get("seed"):
            raise UsageError(
                f"the reports have different seeds ({first.get('seed')} and {other.get('seed')}); shards must share one"
            )
    merged = json.loads(json.dumps(first))
    by_id: dict[str, list[dict[str, Any]]] = {}
    for report in reports:
        for check in report["checks"]:
            by_id.setdefault(check["id"], []).append(check)
    checks = []
    for parts in by_id.values():
        entry = dict(parts[0])
        entry["status"] = _status([p["status"] for p in parts])
        entry["exchanges"] = sum(p["exchanges"] for p in parts)
        entry["failures"] = [f for p in parts for f in p["failures"]]
        entry["suppressed_failures"] = sum(p.get("suppressed_failures", 0) for p in parts)
        entry["skip_reasons"] = (
            sorted({r for p in parts for r in p.get("skip_reasons", [])})
            if entry["status"] == "skip"
            else []
        )
        entry["errors"] = sorted({r for p in parts for r in p.get("errors", [])})
        checks.append(entry)
    merged["checks"] = checks
    merged["exchanges"] = [e for r in reports for e in r.get("exchanges", [])]
    merged["started_at"] = min(r["started_at"] for r in reports)
    merged["duration_s"] = max(r["duration_s"] for r in reports)
    runs = [r["run"] for r in reports if r.get("run")]
    if runs:
        merged["run"] = {
            **runs[0],
            "requests_sent": sum(r["requests_sent"] for r in runs),
            "tokens_spent": sum(r["tokens_spent"] for r in runs),
            "cases_skipped": [c for r in runs for c in r["cases_skipped"]],
            "shard": None,
            "merged_shards": [r.get("shard") for r in runs],
        }
    return finalize(merged)
