"""A readable summary of checked exchanges, rendered from the failures' fields."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..checks import CHECKS, render_failure
from ._json import gating_of, is_waived
from ._types import Report, WaiverEntry

if TYPE_CHECKING:
    from ..checks import ExchangeResult

__all__ = ["describe_waiver", "render_check", "render_text", "split_failures", "summary_lines"]


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def render_check(check: Mapping[str, Any], *, limit: int | None = None) -> str:
    """A check of report.json and its failures (the first ``limit``) as text: what JUnit and the
    pytest suite show for a failing check."""
    lines = [
        f"{check['id']} ({check['severity']}, level {check['level']}): {check['title']}",
        f"source: {check['source']}",
    ]
    failures = check["failures"] if limit is None else check["failures"][:limit]
    for failure in failures:
        lines += ["", render_failure(failure, exchange=True)]
    more = len(check["failures"]) - len(failures) + check.get("suppressed_failures", 0)
    if more > 0:
        lines.append(f"... and {more} more")
    return "\n".join(lines)


def render_text(
    results: Sequence[ExchangeResult], report: Report, *, only_failures: bool = False
) -> str:
    """The console summary of a run or a validation: each exchange with its failures (grouped
    by exchange), then the counts and the verdict."""
    lines = []
    for result in results:
        kind = f"stream of {result.chunks} events" if result.stream else "JSON body"
        failed = [(cid, o) for cid, o in result.outcomes.items() if o.status in ("fail", "error")]
        if only_failures and not failed:
            continue
        mark = "FAIL" if failed else "ok"
        lines.append(f"{mark:<4} {result.exchange_id}  (HTTP {result.status}, {kind})")
        for check_id, outcome in failed:
            severity = CHECKS[check_id].severity
            if outcome.status == "error":
                lines.append(f"    [{check_id}] ERROR: {outcome.reason}")
            for failure in outcome.failures:
                text = render_failure(failure.as_fields(), label=f"{check_id} {severity}")
                lines.append(_indent(text))
            if outcome.suppressed:
                lines.append(f"    ... and {outcome.suppressed} more {check_id} failures")
        if failed and "shrunk" in result.evidence:
            shrunk = json.dumps(result.evidence["shrunk"])  # escaped: no lone surrogate to print
            lines.append(f"    shrunk, still failing: {shrunk}")
        skipped = sorted(
            {
                o.reason
                for o in result.outcomes.values()
                if o.status == "skip" and o.reason and "no request" in o.reason
            }
        )
        for reason in skipped:
            lines.append(f"    note: request-dependent rules skipped: {reason}")
    lines.append("")
    lines += summary_lines(report)
    return "\n".join(lines) + "\n"


def summary_lines(report: Report) -> list[str]:
    """The end of a console summary: counts, what was spent, the verdict (only what gates),
    the level and what held the next one back, the waivers."""
    summary = report["summary"]
    counts = [
        f"{summary['checks_passed']} passed",
        f"{summary['checks_failed']} failed",
        f"{summary['checks_not_exercised']} not exercised",
    ]
    if summary["checks_not_applicable"]:
        counts.append(f"{summary['checks_not_applicable']} not applicable")
    if summary["checks_errored"]:
        counts.append(f"{summary['checks_errored']} errored")
    lines = [f"{summary['exchanges']} exchange(s); checks: {', '.join(counts)}"]
    run = report.get("run")
    if run:
        lines.append(
            f"{run['requests_sent']} request(s) sent, {run['tokens_spent']} token(s) spent, "
            f"model {report['target']['model']}, seed {report['seed']}"
            + (f"; {run['replayed']} earlier failure(s) replayed" if run.get("replayed") else "")
            + (
                f"; {len(run['cases_skipped'])} case(s) not sent (the request budget ran out): "
                + ", ".join(run["cases_skipped"][:10])
                + (" ..." if len(run["cases_skipped"]) > 10 else "")
                if run["cases_skipped"]
                else ""
            )
        )
    gating, other, waived = split_failures(report)
    verdict = f"verdict: {report['verdict']}, level {report['level'] or 'none'}"
    if gating:
        verdict += f" (failed: {', '.join(gating)})"
    lines.append(verdict)
    if other:
        lines.append(f"also failed, not gating: {', '.join(other)} (--strict makes them gate)")
    if waived:
        lines.append(f"failed but waived: {', '.join(waived)}")
    idle = [c["id"] for c in report["checks"] if c["status"] == "skip" and c["applicable"]]
    if idle:
        lines.append(f"not exercised: {', '.join(idle)}")
    blockers = report["level_blockers"]
    if blockers:
        lines.append(
            f"level {blockers[0]['level']} not granted: "
            + "; ".join(
                f"{b['check']} {b['reason']}" if b["check"] else b["reason"] for b in blockers[:6]
            )
            + (f"; and {len(blockers) - 6} more" if len(blockers) > 6 else "")
        )
    baseline = report.get("baseline")
    for waiver in baseline["waivers"] if baseline else []:
        lines.append(f"waiver {waiver['check']}: {describe_waiver(waiver)}")
    return lines


def split_failures(report: Report) -> tuple[list[str], list[str], list[str]]:
    """The failed checks that gate the verdict, those that do not (a severity below
    ``fail_on``), and those a waiver covers; each as ``ID (SEVERITY)``."""
    gating_severities = gating_of(report["fail_on"])
    gating, other, waived = [], [], []
    for check in report["checks"]:
        if check["status"] != "fail":
            continue
        name = f"{check['id']} ({check['severity']})"
        if is_waived(check):
            waived.append(name)
        elif check["severity"] in gating_severities:
            gating.append(name)
        else:
            other.append(name)
    return gating, other, waived


def describe_waiver(waiver: WaiverEntry) -> str:
    """``active until DATE``, ``expired on DATE`` or ``unused (expires DATE)``."""
    if waiver["state"] == "expired":
        return f"expired on {waiver['expires']}"
    if waiver["state"] == "active":
        return f"active until {waiver['expires']}"
    return f"unused (expires {waiver['expires']})"
