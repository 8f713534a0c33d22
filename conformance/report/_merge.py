"""``conformance report merge``: shard reports into one, as if one run had made them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

from .._errors import UsageError
from .._util import pointer_of
from ._json import _status, finalize, recount, report_schema, run_timings
from ._types import CheckEntry, OperationEntry, Report

__all__ = ["merge_reports", "read_report"]


def read_report(directory: str) -> Report:
    """The report.json of a directory (or the file given), validated against the shipped schema."""
    path = Path(directory)
    path = path / "report.json" if path.is_dir() else path
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(
            f"{path}: no such file (give a report directory or its report.json)"
        ) from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not a readable report.json ({exc})") from None
    problem = _schema_problem(report)
    if problem is not None:
        raise UsageError(f"{path}: not a conformance report ({problem})")
    return cast(Report, report)


def _schema_problem(report: Any) -> str | None:
    """Why ``report`` is not a report.json of the shipped schema, or None."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(report_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(report))
    if error is None:
        return None
    where = pointer_of(error.absolute_path) or "/"
    return f"at {where}: {error.message[:200]}"


def _incomplete(reports: list[Report]) -> str | None:
    """Why ``reports`` are not every shard of one run exactly once, or None when they are."""
    shards = [run["shard"] if (run := r.get("run")) else None for r in reports]
    if None in shards:
        return "a report is not a shard's (it has no run.shard)"
    parsed = [tuple(int(x) for x in str(s).split("/")) for s in shards]
    counts = {n for _, n in parsed}
    if len(counts) != 1:
        return f"the shards are of different splits ({', '.join(map(str, shards))})"
    (count,) = counts
    indexes = sorted(i for i, _ in parsed)
    duplicated = sorted({i for i in indexes if indexes.count(i) > 1})
    if duplicated:
        return f"shard {', '.join(f'{i}/{count}' for i in duplicated)} given more than once"
    missing = sorted(set(range(1, count + 1)) - set(indexes))
    if missing:
        return f"shard {', '.join(f'{i}/{count}' for i in missing)} missing"
    ids = [e["id"] for r in reports for e in r["exchanges"]]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        return f"{len(repeated)} exchange id(s) appear in more than one report ({repeated[0]}, ...)"
    return None


def merge_reports(reports: list[Report], *, allow_partial: bool = False) -> Report:
    """One report of every shard's report (same contract, same seed), as one run would give.
    Shards missing or given twice are refused, unless ``allow_partial``: then the merged
    report says it is partial and grants no level."""
    if not reports:
        raise UsageError("nothing to merge")
    problem = _incomplete(reports)
    if problem is not None and not allow_partial:
        raise UsageError(
            f"cannot merge: {problem}; give every shard once, or --allow-partial for a report "
            "that grants no level"
        )
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
    merged: Report = json.loads(json.dumps(first))
    by_id: dict[str, list[CheckEntry]] = {}
    for report in reports:
        for check in report["checks"]:
            by_id.setdefault(check["id"], []).append(check)
    checks: list[CheckEntry] = []
    for parts in by_id.values():
        status = _status([p["status"] for p in parts])
        checks.append(
            {
                **parts[0],
                "status": status,
                "exchanges": sum(p["exchanges"] for p in parts),
                "exercised": sum(p["exercised"] for p in parts),
                "failures": [f for p in parts for f in p["failures"]],
                "suppressed_failures": sum(p["suppressed_failures"] for p in parts),
                "skip_reasons": recount([p["skip_reasons"] for p in parts]),
                "errors": sorted({r for p in parts for r in p["errors"]}),
                "time_s": round(sum(p.get("time_s", 0.0) for p in parts), 6),
                "operations": _merged_operations(parts),
            }
        )
    merged["checks"] = checks
    if problem is not None:
        merged["partial"] = True
    merged["exchanges"] = [e for r in reports for e in r["exchanges"]]
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
            "merged_shards": [r["shard"] for r in runs],
            "timings": run_timings(merged["exchanges"]),
        }
    return finalize(merged)


def _merged_operations(parts: list[CheckEntry]) -> list[OperationEntry]:
    """The per-operation counts of a check over the shards, added up."""
    merged: dict[str, OperationEntry] = {}
    for part in parts:
        for entry in part.get("operations") or []:
            total = merged.setdefault(
                entry["operation"],
                {"operation": entry["operation"], "exchanges": 0, "exercised": 0, "failed": 0},
            )
            for key in ("exchanges", "exercised", "failed"):
                total[key] += entry[key]
    return list(merged.values())
