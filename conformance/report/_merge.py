"""``conformance report merge``: shard reports into one, as if one run had made them; or the
reports of a proxy's replicas into one, as if one proxy had seen all their traffic."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

from .._errors import UsageError
from .._util import pointer_of
from ._json import _status, finalize, proxy_note, recount, report_schema
from ._tally import Spread, spreads_of
from ._types import CheckEntry, OperationEntry, ProxyCounts, Report, RunInfo

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
    """Why ``reports`` are not every shard of one run (or distinct replicas of a proxy) exactly
    once, or None when they are."""
    proxies = [run["proxy"] for r in reports if (run := r.get("run")) and "proxy" in run]
    if proxies:
        if len(proxies) != len(reports):
            return "a proxy's report cannot be merged with a run's"
        names = [n for p in proxies for n in p.get("replicas") or [p["replica"]]]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            return f"replica {', '.join(repeated)} given more than once"
        return _repeated_ids(reports)
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
    return _repeated_ids(reports)


def _repeated_ids(reports: list[Report]) -> str | None:
    seen: set[str] = set()
    repeated: set[str] = set()
    for report in reports:
        for exchange in report["exchanges"]:
            (repeated if exchange["id"] in seen else seen).add(exchange["id"])
    if repeated:
        first = sorted(repeated)[0]
        return f"{len(repeated)} exchange id(s) appear in more than one report ({first}, ...)"
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
    _same_contract_and_seed(reports)
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
    omitted = sum(r.get("exchanges_omitted", 0) for r in reports)
    merged.pop("exchanges_omitted", None)
    if omitted:
        merged["exchanges_omitted"] = omitted
    merged["started_at"] = min(r["started_at"] for r in reports)
    merged["duration_s"] = max(r["duration_s"] for r in reports)
    runs = [r["run"] for r in reports if r.get("run")]
    if runs:
        merged["run"] = _merged_run(reports, runs, omitted, merged["target"]["base_url"])
    return finalize(merged)


def _same_contract_and_seed(reports: list[Report]) -> None:
    """:class:`UsageError` unless every report has the first's contract and seed."""
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


def _merged_run(
    reports: list[Report], runs: list[RunInfo], omitted: int, base_url: str | None
) -> RunInfo:
    """The shards' (or the proxy replicas') runs as one: what was sent and spent summed, the
    timings merged from their spreads, the proxies' counts summed."""
    spreads = _merged_spreads(reports)
    run: RunInfo = {
        **runs[0],
        "requests_sent": sum(r["requests_sent"] for r in runs),
        "tokens_spent": sum(r["tokens_spent"] for r in runs),
        "cases_planned": sum(r["cases_planned"] for r in runs)
        if "proxy" in runs[0]
        else runs[0]["cases_planned"],
        "cases_skipped": [c for r in runs for c in r["cases_skipped"]],
        "shard": None,
        "merged_shards": [r["shard"] for r in runs],
        "timings": {n: s.percentiles() for n, s in spreads.items() if s.count},
    }
    run.pop("timing_data", None)
    if omitted:
        run["timing_data"] = {n: s.as_data() for n, s in spreads.items() if s.count}
    if "proxy" in runs[0]:
        counts = _merged_counts([r["proxy"] for r in runs if "proxy" in r])
        run["proxy"] = counts
        run["notes"] = [proxy_note(counts, base_url)]
        del run["merged_shards"]
    return run


def _merged_spreads(reports: list[Report]) -> dict[str, Spread]:
    """Each timing over every report's exchanges: from a report's ``timing_data`` when its
    ``exchanges`` are a sample, else from its exchanges."""
    total: dict[str, Spread] = {}
    for report in reports:
        run = report.get("run")
        data = run.get("timing_data") if run is not None else None
        if data is not None:
            parts = {name: Spread.from_data(d) for name, d in data.items()}
        else:
            parts = spreads_of(report["exchanges"])
        for name, spread in parts.items():
            total.setdefault(name, Spread()).merge(spread)
    return total


def _merged_counts(parts: list[ProxyCounts]) -> ProxyCounts:
    """The replicas' counts added up; their sample rate (the smallest, if they differ)."""
    merged: ProxyCounts = json.loads(json.dumps(parts[0]))
    for key in ProxyCounts.__annotations__.keys() - {"replica", "sample", "replicas"}:
        merged[key] = sum(p[key] for p in parts)  # type: ignore[literal-required]
    samples = {p["sample"] for p in parts}
    merged["sample"] = samples.pop() if len(samples) == 1 else min(p["sample"] for p in parts)
    merged["replicas"] = [n for p in parts for n in p.get("replicas") or [p["replica"]]]
    merged["replica"] = "+".join(merged["replicas"])
    return merged


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
