"""``report.html``: one self-contained page (inline style and script, no external resource).

Verdict and level first; then the checks grouped by category, failing ones open, each failure
with its message, where (chunk, instance path), the offending value, the schema excerpt, the
failing chunk itself and the replay command; then the raw exchanges (request, response or
stream, secrets already redacted) with the failing events marked. Buttons filter by status;
without script everything is shown.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any, cast

from ..checks import where_parts
from ._json import not_judged_as, target_of, why_not_sent
from ._text import FailureGroup, by_operation, failure_groups
from ._types import CheckEntry, ExchangeEntry, FailureEntry, Report

__all__ = ["render_html"]

STYLE = """
:root{--fail:#c62828;--pass:#2e7d32;--skip:#757575;--warn:#ef6c00;--bg:#fafafa;--line:#ddd}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;
margin:0;background:var(--bg);color:#212121}header{padding:20px 28px;background:#fff;
border-bottom:1px solid var(--line)}h1{margin:0 0 6px;font-size:22px}h2{font-size:17px;
margin:26px 0 8px}main{padding:0 28px 40px}.verdict{display:inline-block;padding:3px 12px;
border-radius:12px;color:#fff;font-weight:600;margin-right:8px}.verdict.pass{background:var(--pass)}
.verdict.fail{background:var(--fail)}.verdict.none{background:#888}.meta{color:#555;margin:4px 0}.counts span{margin-right:14px}
.filters{margin:16px 0}.filters button{border:1px solid var(--line);background:#fff;padding:5px 12px;
border-radius:14px;cursor:pointer;margin-right:6px}.filters button.on{background:#212121;color:#fff}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid var(--line)}
td,th{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{background:#f0f0f0;font-weight:600}.status{font-weight:700;text-transform:uppercase;font-size:12px}
.status.fail,.status.error{color:var(--fail)}.status.pass{color:var(--pass)}.status.skip{color:var(--skip)}
.sev{font-size:12px;font-weight:600}.failure{border-left:4px solid var(--fail);background:#fff;
margin:8px 0;padding:8px 12px}.failure .msg{font-weight:600}.kv{color:#444;margin:2px 0}
.kv b{display:inline-block;min-width:84px;color:#666;font-weight:500}pre{background:#272822;color:#f8f8f2;
padding:10px;border-radius:4px;overflow:auto;max-height:360px;font:12px/1.4 ui-monospace,Menlo,monospace;
white-space:pre-wrap;word-break:break-all}.chunk{background:#fff3e0;border:1px solid var(--warn);
padding:6px 8px;font:12px ui-monospace,monospace;white-space:pre-wrap;word-break:break-all}
.events{list-style:none;padding:0;margin:0;font:12px/1.4 ui-monospace,monospace}
.events li{padding:2px 6px;border-bottom:1px solid #eee;white-space:pre-wrap;word-break:break-all}
.events li.failing{background:#ffebee;border-left:4px solid var(--fail)}.events .idx{color:#888;
margin-right:8px}.exchange{background:#fff;border:1px solid var(--line);padding:10px 14px;margin:10px 0}
.waived{color:var(--warn);font-weight:600}details>summary{cursor:pointer}
"""

SCRIPT = """
document.querySelectorAll('.filters button').forEach(function(b){b.addEventListener('click',function(){
document.querySelectorAll('.filters button').forEach(function(x){x.classList.remove('on')});b.classList.add('on');
var want=b.dataset.status;document.querySelectorAll('tr.check, div.check-detail').forEach(function(r){
r.style.display=(want==='all'||r.dataset.status===want)?'':'none'});});});
"""


def _j(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=repr)


def _anchor(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text)


def _events_by_exchange(report: Report) -> dict[str, dict[int, str]]:
    out: dict[str, dict[int, str]] = {}
    for exchange in report.get("exchanges", []):
        events = (exchange.get("response") or {}).get("events")
        if events:
            out[exchange["id"]] = {e["index"]: e["data"] for e in events}
    return out


def _failure(failure: FailureEntry, events: dict[str, dict[int, str]]) -> str:
    rows = [f'<div class="msg">{escape(failure["message"])}</div>']
    exchange = failure.get("exchange") or ""
    where = [escape(part) for part in where_parts(failure)]
    if exchange:
        where.insert(0, f'<a href="#ex-{_anchor(exchange)}">{escape(exchange)}</a>')
    if where:
        rows.append(f'<div class="kv"><b>where</b><code>{", ".join(where)}</code></div>')
    chunk = failure.get("chunk_index")
    data = events.get(exchange, {}).get(chunk) if chunk is not None else None
    if data is not None:
        rows.append(f'<div class="chunk" data-chunk="{chunk}">data: {escape(data)}</div>')
    if failure.get("value") is not None:
        rows.append(
            f'<div class="kv"><b>value</b><code>{escape(_j(failure["value"]))}</code></div>'
        )
    schema_path, excerpt = failure["schema_path"], failure["schema_excerpt"]
    if schema_path:
        rows.append(f'<div class="kv"><b>schema</b><code>{escape(schema_path)}</code></div>')
    if excerpt:
        rows.append(f"<pre>{escape(excerpt)}</pre>")
    rows.append(_reproduce(failure["reproduce"]))
    return '<div class="failure">' + "".join(rows) + "</div>"


def _group(group: FailureGroup, events: dict[str, dict[int, str]]) -> str:
    """One deviation: how often and where it was seen, then its first failure in full."""
    links = ", ".join(
        f'<a href="#ex-{_anchor(name)}">{escape(name)}</a>' for name in group.exchanges[:20]
    )
    more = len(group.exchanges) - 20
    seen = links + (f" and {more} more" if more > 0 else "")
    head = f'<div class="kv"><b>{escape(group.label)}</b> on {len(group.exchanges)} exchange(s): {seen}</div>'
    return head + _failure(cast("FailureEntry", group.first), events)


def _reproduce(command: str | None) -> str:
    if not command:
        return ""
    return f'<div class="kv"><b>reproduce</b></div><pre>{escape(command)}</pre>'


#: The timings an exchange shows, and their names.
_TIMINGS = (
    ("to_headers", "headers"),
    ("to_first_content", "first content"),
    ("max_event_gap", "largest gap"),
    ("total", "total"),
)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"


def _timings_of(exchange: ExchangeEntry) -> dict[str, float | None]:
    return cast("dict[str, float | None]", exchange.get("timings") or {})


def _timings(exchange: ExchangeEntry) -> str:
    timings = _timings_of(exchange)
    shown = [
        f"{label} {_ms(value)}"
        for name, label in _TIMINGS
        if (value := timings.get(name)) is not None
    ]
    return f'<div class="kv"><b>timings</b>{" · ".join(shown)}</div>' if shown else ""


def _exchange(exchange: ExchangeEntry, failing_chunks: set[int]) -> str:
    """One exchange, collapsed unless it failed a check."""
    failed = bool(exchange.get("failed_checks"))
    total = _timings_of(exchange).get("total")
    took = f" · {_ms(total)}" if total is not None else ""
    parts = [
        f'<details class="exchange" id="ex-{_anchor(exchange["id"])}"{" open" if failed else ""}>'
        f"<summary><b>{escape(exchange['id'])}</b> "
        f'<span class="status {"fail" if failed else "pass"}">'
        f"HTTP {exchange['status']}</span>{took}</summary>",
        _timings(exchange),
    ]
    if exchange.get("failed_checks"):
        parts.append(
            f'<div class="kv"><b>failed</b>{escape(", ".join(exchange["failed_checks"]))}</div>'
        )
    interrupted = exchange["interrupted"]
    if interrupted:
        parts.append(f'<div class="kv"><b>cut short</b>{escape(interrupted)}</div>')
    for violation in exchange["violations"]:
        parts.append(
            f'<div class="kv"><b>breaks</b><code>{escape(violation["instance_path"] or "/")}'
            f"</code> {escape(violation['message'])}</div>"
        )
    request = exchange.get("request")
    if request:
        head = f"{request.get('method', '')} {request.get('url') or ''}\n" + "".join(
            f"{k}: {v}\n" for k, v in request.get("headers") or []
        )
        parts.append(
            f"<details><summary>request</summary><pre>{escape(head)}\n{escape(_j(request.get('body')))}</pre></details>"
        )
    response = exchange.get("response") or {}
    headers = "".join(f"{k}: {v}\n" for k, v in response.get("headers") or [])
    parts.append(
        f"<details open><summary>response</summary><pre>HTTP {response.get('status')}\n{escape(headers)}</pre>"
    )
    if "events" in response:
        items = []
        shown = 0
        for event in response["events"]:
            cls = ' class="failing"' if event["index"] in failing_chunks else ""
            items.append(
                f'<li{cls} id="ex-{_anchor(exchange["id"])}-chunk-{event["index"]}">'
                f'<span class="idx">#{event["index"]}</span>data: {escape(event["data"])}</li>'
            )
            shown += 1
        total = response.get("events_total", shown)
        note = f" ({shown} of {total} events shown)" if total > shown else ""
        parts.append(
            f'<div class="kv"><b>stream</b>{total} events{note}</div><ul class="events">{"".join(items)}</ul>'
        )
    elif response.get("body") is not None:
        parts.append(f"<pre>{escape(response['body'])}</pre>")
    parts.append("</details>")
    parts.append(_reproduce(exchange["reproduce"]))
    parts.append("</details>")
    return "".join(parts)


def _run_timings(report: Report) -> str:
    run = report.get("run")
    timings = (run.get("timings") if run else None) or {}
    rows = [
        f"<tr><td>{label}</td><td>{p['count']}</td><td>{_ms(p['p50'])}</td>"
        f"<td>{_ms(p['p90'])}</td><td>{_ms(p['p99'])}</td><td>{_ms(p['max'])}</td></tr>"
        for name, label in _TIMINGS
        if (p := timings.get(name)) is not None
    ]
    if not rows:
        return ""
    return (
        '<table class="timings"><tr><th>timing</th><th>exchanges</th><th>p50</th><th>p90</th>'
        f"<th>p99</th><th>max</th></tr>{''.join(rows)}</table>"
    )


def _operations(report: Report) -> str:
    """The report by operation, when it has more than one."""
    rows = by_operation(report)
    if len(rows) < 2:
        return ""
    body = "".join(
        f"<tr><td><code>{escape(row.operation)}</code></td><td>{row.exchanges}</td>"
        f"<td>{len(row.judged)}</td><td>{escape(', '.join(row.failed) or 'none')}</td></tr>"
        for row in rows
    )
    return (
        '<h2>Operations</h2><table class="operations"><tr><th>operation</th><th>exchanges</th>'
        f"<th>checks judged</th><th>failed</th></tr>{body}</table>"
    )


def _failed_list(checks: list[CheckEntry]) -> str:
    failed = [c for c in checks if c["status"] in ("fail", "error")]
    if not failed:
        return "<h2>Every check passed or did not apply</h2>"
    items = "".join(
        f'<li><a href="#detail-{c["id"]}"><code>{c["id"]}</code></a> ({c["severity"]}, '
        f"{c['level']}) {escape(c['title'])}: {len(c['failures']) + c.get('suppressed_failures', 0)} "
        f"failure(s)</li>"
        for c in failed
    )
    return f"<h2>Failed checks</h2><ul>{items}</ul>"


def _blockers(report: Report) -> str:
    blockers = report["level_blockers"]
    if not blockers:
        return ""
    items = []
    for blocker in blockers:
        check = blocker["check"]
        where = f"<code>{escape(check)}</code> " if check else ""
        items.append(f"<li>{where}{escape(blocker['reason'])}</li>")
    partial = (
        "<p><b>A partial merge of shard reports: it grants no level.</b></p>"
        if report.get("partial")
        else ""
    )
    run = report.get("run")
    if run and run["cases_skipped"]:
        partial += (
            f"<p>Not sent ({len(run['cases_skipped'])}; {escape(why_not_sent(run))}): "
            + ", ".join(f"<code>{escape(c)}</code>" for c in run["cases_skipped"])
            + "</p>"
        )
    return (
        f'<div class="blockers">{partial}<b>Level {escape(blockers[0]["level"])} not '
        f"granted:</b><ul>{''.join(items)}</ul></div>"
    )


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page: the header, the failures, the checks by
    category (each failing one with its grouped deviations), then every exchange."""
    events = _events_by_exchange(report)
    checks = report["checks"]
    categories: dict[str, list[CheckEntry]] = {}
    for check in checks:
        categories.setdefault(check["category"], []).append(check)
    body = [
        _header(report),
        "</header><main>",
        _failed_list(checks),
        _operations(report),
        '<div class="filters">'
        + "".join(
            f'<button data-status="{s}"{" class=on" if s == "all" else ""}>{label}</button>'
            for s, label in (
                ("all", "All"),
                ("fail", "Failed"),
                ("pass", "Passed"),
                ("skip", "Skipped"),
            )
        )
        + "</div>",
    ]
    for category, members in sorted(categories.items()):
        body.append(_category_table(category, members))
        body += [
            _check_detail(check, events)
            for check in members
            if check["status"] in ("fail", "error")
        ]
    body.append(_exchanges_section(report))
    body.append("</main>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Conformance report: {escape(report['verdict'])}</title>"
        f"<style>{STYLE}</style></head><body>"
        + "".join(body)
        + f"<script>{SCRIPT}</script></body></html>\n"
    )


def _header(report: Report) -> str:
    summary = report["summary"]
    target = target_of(report)
    return "".join(
        [
            "<header>",
            f'<h1><span class="verdict {report["verdict"]}">{escape(report["verdict"].upper())}</span>'
            f"Conformance level: {escape(report['level'] or 'none')}</h1>",
            f'<div class="meta">Target: {escape(target)}'
            + (f" · model {escape(report['target']['model'])}" if report["target"]["model"] else "")
            + f" · contract {escape(report['contract']['profile'])} ({escape(report['contract']['spec'])})</div>",
            f'<div class="meta">Started {escape(report["started_at"])} · {report["duration_s"]:.1f} s'
            + (f" · seed {report['seed']}" if report.get("seed") is not None else "")
            + (
                f" · {report['run']['requests_sent']} requests, {report['run']['tokens_spent']} tokens"
                if report.get("run")
                else ""
            )
            + "</div>",
            f'<div class="meta counts"><span>{summary["checks_passed"]} passed</span>'
            f"<span>{summary['checks_failed']} failed</span>"
            f"<span>{summary['checks_not_exercised']} not exercised</span>"
            f"<span>{summary['checks_not_applicable']} not applicable</span>"
            f"<span>{summary['exchanges']} exchanges</span></div>",
            _blockers(report),
        ]
    )


def _category_table(category: str, members: list[CheckEntry]) -> str:
    rows = [
        f"<h2>{escape(category)}</h2><table><tr><th>check</th><th>title</th><th>severity</th><th>level</th><th>exercised</th><th>status</th></tr>"
    ]
    for check in members:
        waiver = check.get("waiver")
        note = (
            ' <span class="waived">'
            + (
                f"waiver expired on {escape(waiver['expires'])}"
                if waiver["expired"]
                else f"waived until {escape(waiver['expires'])}"
            )
            + f": {escape(waiver['reason'])}</span>"
            if waiver and check["status"] == "fail"
            else ""
        )
        if check["status"] == "skip":
            what = not_judged_as(check)
            note += f' <span class="why">{what}: {escape("; ".join(check["skip_reasons"]))}</span>'
        shown = (
            check["status"]
            if check["status"] != "skip"
            else {"not applicable": "n/a"}.get(not_judged_as(check), not_judged_as(check))
        )
        rows.append(
            f'<tr class="check" data-status="{check["status"]}" id="check-{check["id"]}">'
            f"<td><code>{check['id']}</code></td><td>{escape(check['title'])}{note}</td>"
            f'<td class="sev">{check["severity"]}</td><td>{check["level"]}</td>'
            f"<td>{check['exercised']}/{check['exchanges']}</td>"
            f'<td class="status {check["status"]}">{escape(shown)}</td></tr>'
        )
    rows.append("</table>")
    return "".join(rows)


def _check_detail(check: CheckEntry, events: dict[str, dict[int, str]]) -> str:
    failures = "".join(_group(g, events) for g in failure_groups(check))
    if check.get("suppressed_failures"):
        failures += f'<div class="kv">... and {check["suppressed_failures"]} more</div>'
    if check["status"] == "error":
        failures += f'<div class="failure">{escape("; ".join(check.get("errors") or []))}</div>'
    return (
        f'<div class="check-detail" data-status="{check["status"]}" id="detail-{check["id"]}"><details open>'
        f"<summary><b>{check['id']}</b> ({check['severity']}) {escape(check['title'])} "
        f"— source: {escape(check['source'])}</summary>{failures}</details></div>"
    )


def _exchanges_section(report: Report) -> str:
    exchanges = report.get("exchanges", [])
    if not exchanges:
        return ""
    failing_chunks: dict[str, set[int]] = {}
    for check in report["checks"]:
        for failure in check["failures"]:
            chunk = failure["chunk_index"]
            if chunk is not None:
                failing_chunks.setdefault(failure["exchange"], set()).add(chunk)
    failing = sum(bool(e.get("failed_checks")) for e in exchanges)
    return (
        f"<h2>Exchanges ({len(exchanges)}; {failing} with failures, open)</h2>"
        + _run_timings(report)
        + "".join(_exchange(e, failing_chunks.get(e["id"], set())) for e in exchanges)
    )
