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
from collections.abc import Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .. import __version__
from .._util import json_safe
from .._vocab import LEVELS, Level, Severity, Status
from ..checks import CHECKS
from ._baseline import Baseline
from ._tally import Tally, spreads_of
from ._types import (
    CheckEntry,
    ExchangeEntry,
    FailureEntry,
    LevelBlocker,
    Percentiles,
    ProxyCounts,
    Report,
    ReportSummary,
    RunInfo,
)

if TYPE_CHECKING:
    from ..checks import Check, ExchangeResult
    from ..contract import Contract, Operation

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


def is_selected(check: CheckEntry) -> bool:
    """Whether the run looked for the check's evidence (``--checks`` left it in)."""
    return check.get("selected", True)


def not_judged_as(check: CheckEntry) -> str:
    """What a check that judged nothing is called: not selected, not applicable, or not
    exercised (the evidence was looked for and not found)."""
    if not is_selected(check):
        return "not selected"
    return "not exercised" if check["applicable"] else "not applicable"


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
        "checks_not_exercised": sum(
            c["status"] == "skip" and c["applicable"] and is_selected(c) for c in checks
        ),
        "checks_not_applicable": sum(not c["applicable"] for c in checks),
        "checks_not_selected": sum(not is_selected(c) for c in checks),
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
            f"{len(run['cases_skipped'])} of {run['cases_planned']} case(s) were not sent "
            f"({why_not_sent(run)})"
        )
    return None


def target_of(report: Report) -> str:
    """What a report checked: the base URL, the embedded reference server or mock, or
    recorded traffic."""
    base_url = report["target"]["base_url"]
    if base_url:
        return base_url
    run = report.get("run")
    if run is None:
        return "recorded traffic"
    if run.get("embedded") == "mock":
        return "the embedded mock of the document"
    return "the embedded reference server"


def why_not_sent(run: RunInfo) -> str:
    """Why cases of a run were not sent, and what to do about it."""
    stopped_by = run.get("stopped_by")
    if stopped_by is None:  # a report of an earlier version
        return "the request budget ran out, or --max-failures stopped the run"
    if stopped_by.startswith("--max-failures"):
        return f"{stopped_by} stopped the run"
    return f"{stopped_by} ran out; raise --max-requests"


def finalize(report: Report) -> Report:
    """(Re)compute summary, verdict and level from the checks (used after a merge too).

    A level is granted only on evidence: every applicable MUST check of it and of the levels
    below passed having judged at least one exchange (or is waived), and the run sent every
    case it planned. ``level_blockers`` names what kept the next level back."""
    checks = report["checks"]
    gating = gating_of(report["fail_on"])
    seen = len(report["exchanges"]) + report.get("exchanges_omitted", 0)
    report["summary"] = _summary(checks, seen)
    failing = [
        c for c in checks if c["status"] == "fail" and c["severity"] in gating and not is_waived(c)
    ]
    # a pass is evidence: with nothing judged there is no verdict (a proxy that saw no traffic)
    report["verdict"] = "fail" if failing else "pass" if seen else "none"
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
    selected: Collection[str] | None = None,
) -> Report:
    """The report of checked exchanges, every one kept (:func:`report_of` a :class:`Tally`)."""
    tally = Tally()
    for result in results:
        tally.add(result)
    return report_of(
        contract,
        tally,
        started_at=started_at,
        duration_s=duration_s,
        base_url=base_url,
        model=model,
        seed=seed,
        run=run,
        fail_on=fail_on,
        baseline=baseline,
        not_served=not_served,
        selected=selected,
    )


def report_of(
    contract: Contract,
    tally: Tally,
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
    selected: Collection[str] | None = None,
) -> Report:
    """The report of the exchanges ``tally`` judged (``selected``: the check ids the run
    looked for, None: all). ``fail_on`` is the lowest severity whose
    failure makes the verdict ``fail`` (``MUST``, or ``SHOULD`` for a strict gate); a failure
    the baseline waives (and whose waiver has not expired) does not. A check applies when it
    applies to an operation the profile certifies that the target serves (``not_served``:
    labels that got only 404/405/501). Costs what the tally kept, not what it saw."""
    unserved = set(not_served)
    served = [op for op in contract.certified_operations() if op.label not in unserved]
    excerpts: dict[str | None, str | None] = {}
    checks = [
        _check_entry(contract, check, tally, served, excerpts, baseline)
        for check in CHECKS.values()
    ]
    for entry in checks:
        if selected is not None and entry["id"] not in selected:
            entry["selected"] = False
    exchanges = tally.exchanges()
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
        "summary": _summary(checks, tally.seen),
        "checks": checks,
        "exchanges": exchanges,
        "started_at": started_at,
        "duration_s": round(duration_s, 6),
        "seed": seed,
        "fail_on": fail_on,
    }
    if tally.omitted:
        report["exchanges_omitted"] = tally.omitted
    if run is not None:
        report["run"] = {**run, "timings": tally.timings()}
        if tally.omitted:  # the kept entries cannot give them back: for a merge
            report["run"]["timing_data"] = {
                name: s.as_data() for name, s in tally.spreads.items() if s.count
            }
    if baseline is not None:
        report["baseline"] = baseline.describe(checks)
    return finalize(report)


def _check_entry(
    contract: Contract,
    check: Check,
    tally: Tally,
    served: list[Operation],
    excerpts: dict[str | None, str | None],
    baseline: Baseline | None,
) -> CheckEntry:
    """One check's entry: its status from what the tally counted, its kept failures (each
    with the excerpt of the schema it broke, computed once per schema path), its waiver."""
    seen = tally.checks.get(check.id)
    statuses = seen.statuses if seen is not None else Counter[str]()
    failures: list[FailureEntry] = []
    for f, _ in seen.failures if seen is not None else ():
        if f.schema_path not in excerpts:
            excerpts[f.schema_path] = _excerpt(contract, f.schema_path)
        failures.append(
            {
                "message": f.message,
                "exchange": f.exchange or "",
                "instance_path": f.instance_path,
                "schema_path": f.schema_path,
                "chunk_index": f.chunk_index,
                "reproduce": f.reproduce,
                "value": f.value,
                "schema_excerpt": excerpts[f.schema_path],
            }
        )
    entry: CheckEntry = {
        "id": check.id,
        "title": check.title,
        "severity": check.severity,
        "category": check.category,
        "level": check.level,
        "source": check.source,
        "status": _status(list(statuses)),
        "exchanges": sum(statuses.values()),
        "exercised": statuses["pass"] + statuses["fail"],
        "applicable": any(check.not_applicable(contract, op) is None for op in served),
        "failures": failures,
        "suppressed_failures": seen.suppressed if seen is not None else 0,
        "skip_reasons": _counted(seen.skips if seen is not None else Counter[str]()),
        "errors": sorted(seen.errors) if seen is not None else [],
        "operations": tally.operations(check.id),
        "time_s": round(seen.time_s, 6) if seen is not None else 0.0,
    }
    if baseline is not None:
        waiver = baseline.waiver_for(check.id)
        if waiver is not None:
            entry["waiver"] = waiver
    return entry


def proxy_note(counts: ProxyCounts, upstream: str | None) -> str:
    """The proxy's counts in one sentence (the report's notes; the same after a merge)."""
    c = counts
    parts = [
        f"{c['forwarded']} request(s) forwarded to {upstream}, {c['judged']} checked, "
        f"{c['unclassified']} of no operation of the contract (forwarded, not judged), "
        f"{c['upstream_errors']} upstream failure(s) (answered 502), {c['truncated']} kept "
        f"only in part (the size limit), {c['check_errors']} check error(s)"
    ]
    if c["restarts"]:
        parts.append(f"the checks' process died and was restarted {c['restarts']} time(s)")
    if c["behind"]:
        parts.append(f"{c['behind']} not judged: the checks fell behind the traffic")
    if c["abandoned"]:
        parts.append(f"{c['abandoned']} abandoned by their client (counted, not judged)")
    if c["stalled"]:
        parts.append(f"{c['stalled']} let go: their client stopped reading the answer")
    if c["cut_at_shutdown"]:
        parts.append(f"{c['cut_at_shutdown']} in flight when the proxy stopped (not judged)")
    if c["unjudged_at_shutdown"]:
        parts.append(
            f"{c['unjudged_at_shutdown']} still waiting for the checks when the proxy stopped "
            "(not judged)"
        )
    if c["in_flight"]:
        parts.append(f"{c['in_flight']} in flight when this report was written")
    if c["sample"] < 1:
        parts.append(f"--sample {c['sample']:g}: {c['sampled_out']} forwarded, not judged")
    if len(c.get("replicas") or ()) > 1:
        parts.append(f"{len(c.get('replicas') or ())} replicas merged")
    return "; ".join(parts)


def run_timings(exchanges: Sequence[ExchangeEntry]) -> dict[str, Percentiles]:
    """Each timing over ``exchanges`` that measured it: count, p50, p90, p99, max (nearest
    rank, seconds; from 1 % buckets over more than ``EXACT_TIMINGS``)."""
    return {name: s.percentiles() for name, s in spreads_of(exchanges).items() if s.count}


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
