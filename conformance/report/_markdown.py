"""``summary.md`` for CI step summaries, and ``badge.svg``."""

from __future__ import annotations

from html import escape

from ..checks import where_parts
from ._types import Report

__all__ = ["render_badge", "render_summary"]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_summary(report: Report) -> str:
    summary = report["summary"]
    verdict = "✅ pass" if report["verdict"] == "pass" else "❌ fail"
    target = report["target"]["base_url"] or "the embedded reference server / recorded traffic"
    lines = [
        f"## Conformance: {verdict}, level {report['level'] or 'none'}",
        "",
        f"Target: {target}"
        + (f", model `{report['target']['model']}`" if report["target"]["model"] else ""),
        f"Contract: `{report['contract']['profile']}` ({report['contract']['spec']})",
        "",
        f"Checks: {summary['checks_passed']} passed, {summary['checks_failed']} failed, "
        f"{summary['checks_skipped']} skipped over {summary['exchanges']} exchange(s)"
        + (f"; {summary['checks_waived']} waived" if summary.get("checks_waived") else ""),
    ]
    run = report.get("run")
    if run:
        lines.append(
            f"Requests: {run['requests_sent']}, tokens: {run['tokens_spent']}, seed {report['seed']}"
        )
    failed = [c for c in report["checks"] if c["status"] in ("fail", "error")]
    if failed:
        lines += [
            "",
            "| check | severity | level | failures | first failure |",
            "|---|---|---|---|---|",
        ]
        for check in failed:
            first = (
                check["failures"][0]
                if check["failures"]
                else {"message": "; ".join(check.get("errors") or [])}
            )
            where = where_parts(first, exchange=True)
            waived = (
                " (waived)" if check.get("waiver") and not check["waiver"].get("expired") else ""
            )
            lines.append(
                f"| `{check['id']}`{waived} | {check['severity']} | {check['level']} | "
                f"{len(check['failures']) + check.get('suppressed_failures', 0)} | "
                f"{_cell(first['message'])}"
                + (f" ({_cell(', '.join(where))})" if where else "")
                + " |"
            )
    baseline = report.get("baseline")
    if baseline:
        lines += [
            "",
            "Waivers: "
            + ", ".join(
                f"`{w['check']}` {w['state']} until {w['expires']}" for w in baseline["waivers"]
            ),
        ]
    return "\n".join(lines) + "\n"


def render_badge(report: Report) -> str:
    """A shields-style badge: ``conformance | <level> · passed/total``."""
    summary = report["summary"]
    applied = summary["checks_passed"] + summary["checks_failed"] + summary.get("checks_errored", 0)
    value = f"{report['level'] or 'none'} · {summary['checks_passed']}/{applied}"
    color = {"full": "#4c1", "streaming": "#97ca00", "core": "#dfb317"}.get(
        report["level"] or "", "#e05d44"
    )
    if report["verdict"] == "fail":
        color = "#e05d44"
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
