"""``summary.md`` for CI step summaries, and ``badge.svg``."""

from __future__ import annotations

from html import escape

from .._util import md_code
from ..checks import where_parts
from ._json import not_judged_as, target_of, why_not_sent
from ._text import by_operation, describe_waiver, failure_groups
from ._types import Report

__all__ = ["render_badge", "render_summary"]


def _cell(text: str) -> str:
    """Text a server, a document or a user wrote, in a table cell: a code span (no HTML, link
    or image is rendered from it)."""
    return md_code(text, cell=True)


def render_summary(report: Report) -> str:
    summary = report["summary"]
    verdict = {"pass": "✅ pass", "none": "⚪ no verdict: nothing was judged"}.get(
        report["verdict"], "❌ fail"
    )
    target = target_of(report)
    lines = [
        f"## Conformance: {verdict}, level {report['level'] or 'none'}",
        "",
        f"Target: {md_code(target)}"
        + (f", model {md_code(report['target']['model'])}" if report["target"]["model"] else ""),
        f"Contract: {md_code(report['contract']['profile'])} ({md_code(report['contract']['spec'])})",
        "",
        f"Checks: {summary['checks_passed']} passed, {summary['checks_failed']} failed, "
        f"{summary['checks_not_exercised']} not exercised, "
        f"{summary['checks_not_applicable']} not applicable"
        + (
            f", {summary['checks_not_selected']} not selected"
            if summary.get("checks_not_selected")
            else ""
        )
        + f" over {summary['exchanges']} "
        "exchange(s)"
        + (f"; {summary['checks_waived']} waived" if summary.get("checks_waived") else ""),
    ]
    if report.get("partial"):
        lines.append("**A partial merge of shard reports: it grants no level.**")
    run = report.get("run")
    if run:
        lines.append(
            f"Requests: {run['requests_sent']}, tokens: {run['tokens_spent']}, seed {report['seed']}"
        )
        if run["cases_skipped"]:
            lines.append(
                f"Not sent ({len(run['cases_skipped'])}; {why_not_sent(run)}): "
                + ", ".join(md_code(c) for c in run["cases_skipped"])
            )
        lines += [f"Note: {md_code(note)}" for note in run.get("notes") or []]
    idle = [
        c["id"]
        for c in report["checks"]
        if c["status"] == "skip" and not_judged_as(c) == "not exercised"
    ]
    if idle:
        lines.append("Not exercised: " + ", ".join(f"`{i}`" for i in idle))
    blockers = report["level_blockers"]
    if blockers:
        lines += [
            "",
            f"Level `{blockers[0]['level']}` not granted:",
            "",
            *(
                f"- {md_code(b['check'])}: {md_code(b['reason'])}"
                if b["check"]
                else f"- {md_code(b['reason'])}"
                for b in blockers
            ),
        ]
    rows = by_operation(report)
    if len(rows) > 1:
        lines += ["", "| operation | exchanges | checks judged | failed |", "|---|---|---|---|"]
        lines += [
            f"| {_cell(row.operation)} | {row.exchanges} | {len(row.judged)} | "
            + (", ".join(f"`{c}`" for c in row.failed) or "none")
            + " |"
            for row in rows
        ]
    lines += _failures_table(report)
    baseline = report.get("baseline")
    if baseline:
        lines += [
            "",
            "Waivers: "
            + ", ".join(
                f"{md_code(w['check'])} {md_code(describe_waiver(w))}" for w in baseline["waivers"]
            ),
        ]
    return "\n".join(lines) + "\n"


def _failures_table(report: Report) -> list[str]:
    """The failing checks, a row each: severity, level, how many failures, and every
    deviation: the first three with where and the exchanges, the rarer ones a line each (no
    finding vanishes from the summary)."""
    failed = [c for c in report["checks"] if c["status"] in ("fail", "error")]
    if not failed:
        return []
    lines: list[str] = []
    lines += [
        "",
        "| check | severity | level | failures | deviations (how often, where first seen) |",
        "|---|---|---|---|---|",
    ]
    for check in failed:
        groups = failure_groups(check)
        deviations = [
            f"{g.label} {_cell(g.first['message'])}"  # a server's words: a code span
            + (f" ({_cell(', '.join(where))})" if (where := where_parts(g.first)) else "")
            + f", e.g. {_cell(', '.join(g.exchanges[:3]))}"
            for g in groups[:3]
        ]
        deviations += [f"{g.label} {_cell(g.first['message'])}" for g in groups[3:]]
        if not groups:
            deviations = [_cell("; ".join(check.get("errors") or []))]
        waived = " (waived)" if check.get("waiver") and not check["waiver"].get("expired") else ""
        lines.append(
            f"| `{check['id']}`{waived} | {check['severity']} | {check['level']} | "
            f"{len(check['failures']) + check.get('suppressed_failures', 0)} | "
            + "<br>".join(deviations)
            + " |"
        )
    return lines


def render_badge(report: Report) -> str:
    """A shields-style badge: ``conformance | <level> · N/M exercised`` (M: the checks that
    apply to the contract)."""
    summary = report["summary"]
    applicable = len(report["checks"]) - summary["checks_not_applicable"]
    value = f"{report['level'] or 'none'} · {summary['checks_exercised']}/{applicable} exercised"
    color = {"full": "#4c1", "streaming": "#97ca00", "core": "#dfb317"}.get(
        report["level"] or "", "#e05d44"
    )
    if report["verdict"] == "fail":
        color = "#e05d44"
    elif report["verdict"] == "none":  # nothing was judged: no level, no pass
        color, value = "#9f9f9f", "nothing judged"
    label = "conformance"
    left = 6 * len(label) + 12
    right = 6 * len(value) + 12
    width = left + right
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" '
        f'aria-label="{escape(label)}: {escape(value)}">'
        f"<title>{escape(label)}: {escape(value)}</title>"
        f'<rect width="{left}" height="20" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{color}"/>'
        f'<g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="{left / 2}" y="14">{escape(label)}</text>'
        f'<text x="{left + right / 2}" y="14">{escape(value)}</text></g></svg>\n'
    )
