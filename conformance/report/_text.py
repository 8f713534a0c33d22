"""A readable summary of checked exchanges, rendered from the failures' fields."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..checks import CHECKS, render_failure
from ._types import Report

if TYPE_CHECKING:
    from ..checks import ExchangeResult

__all__ = ["render_check", "render_text"]


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
        skipped = sorted(
            {
                o.reason
                for o in result.outcomes.values()
                if o.status == "skip" and o.reason and "no request" in o.reason
            }
        )
        for reason in skipped:
            lines.append(f"    note: request-dependent rules skipped: {reason}")
    summary = report["summary"]
    must = [c["id"] for c in report["checks"] if c["status"] == "fail" and c["severity"] == "MUST"]
    lines.append("")
    lines.append(
        f"{summary['exchanges']} exchange(s); checks: {summary['checks_passed']} passed, "
        f"{summary['checks_failed']} failed, {summary['checks_skipped']} skipped"
        + (f", {summary['checks_errored']} errored" if summary.get("checks_errored") else "")
    )
    should = [
        c["id"] for c in report["checks"] if c["status"] == "fail" and c["severity"] != "MUST"
    ]
    run = report.get("run")
    if run:
        lines.append(
            f"{run['requests_sent']} request(s) sent, {run['tokens_spent']} token(s) spent, "
            f"model {report['target']['model']}, seed {report['seed']}"
            + (
                f"; {len(run['cases_skipped'])} case(s) not sent (the request budget ran out)"
                if run["cases_skipped"]
                else ""
            )
        )
    level = report.get("level")
    verdict = f"verdict: {report['verdict']}, level {level or 'none'}"
    if must:
        verdict += f" (MUST failed: {', '.join(must)})"
    if should:
        verdict += f" (SHOULD failed: {', '.join(should)})"
    lines.append(verdict)
    baseline = report.get("baseline")
    for waiver in baseline["waivers"] if baseline else []:
        lines.append(f"waiver {waiver['check']}: {waiver['state']} (expires {waiver['expires']})")
    return "\n".join(lines) + "\n"
