"""A readable summary of checked exchanges, rendered from the failures' fields."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._util import printable
from ..checks import render_failure, where_parts
from ._json import gating_of, is_waived, not_judged_as, why_not_sent
from ._types import Report, WaiverEntry

if TYPE_CHECKING:
    from ..checks import ExchangeResult

__all__ = [
    "FailureGroup",
    "OperationRow",
    "by_operation",
    "describe_waiver",
    "failure_groups",
    "failure_signature",
    "render_check",
    "render_text",
    "split_failures",
    "summary_lines",
]

#: What varies between two reports of one deviation: quoted strings and numbers in a message,
#: array indexes in a pointer.
_VARYING = re.compile(r"'[^']*'|\"[^\"]*\"|-?\b\d+(?:\.\d+)?(?:e[-+]?\d+)?\b")
_INDEX = re.compile(r"/\d+(?=/|$)")
_NUMBER = re.compile(r"-?\b\d+(?:\.\d+)?(?:e[-+]?\d+)?\b")
#: Groups shown per check, and exchanges named per group, unless verbose.
SHOWN_GROUPS = 5
SHOWN_EXCHANGES = 3


@dataclass(frozen=True, kw_only=True, slots=True)
class FailureGroup:
    """One deviation of a check, however many exchanges show it: the failures whose
    signature (the pointer without its array indexes, the schema path, the message without
    its values) is the same, with the first of them and the exchanges, in order."""

    signature: str
    first: Mapping[str, Any]
    count: int
    exchanges: tuple[str, ...]
    #: the members' messages differ in their values (the first is shown)
    varies: bool = False

    @property
    def label(self) -> str:
        """``45x``, or ``45x, values vary`` when the first failure's values are not all's."""
        return f"{self.count}x" + (", values vary" if self.varies else "")


@dataclass(frozen=True, kw_only=True, slots=True)
class OperationRow:
    """One operation of a report: its exchanges, and the checks that judged and failed it."""

    operation: str
    exchanges: int
    judged: tuple[str, ...]
    failed: tuple[str, ...]


def by_operation(report: Report) -> list[OperationRow]:
    """The report grouped by operation, in the order the exchanges came."""
    counts: dict[str, int] = {}
    for exchange in report["exchanges"]:
        label = exchange.get("operation") or "unknown"
        counts[label] = counts.get(label, 0) + 1
    rows = []
    for label, exchanges in counts.items():
        judged, failed = [], []
        for check in report["checks"]:
            for entry in check.get("operations") or []:
                if entry["operation"] == label and entry["exercised"]:
                    judged.append(check["id"])
                if entry["operation"] == label and entry["failed"]:
                    failed.append(check["id"])
        rows.append(
            OperationRow(
                operation=label, exchanges=exchanges, judged=tuple(judged), failed=tuple(failed)
            )
        )
    return rows


#: Schema keywords whose message names a property, not a value: the name is part of the
#: deviation ("'messages' is a required property" is not "'model' is a required property").
_NAMING = ("/required", "/additionalProperties", "/dependentRequired", "/propertyNames")


def failure_signature(failure: Mapping[str, Any]) -> str:
    """What makes two failures of a check the same deviation, whatever the values they show:
    the pointer without its array indexes, the schema path, the message without its quoted
    values and numbers (a property a ``required`` names stays)."""
    pointer = _INDEX.sub("/*", failure.get("instance_path") or "")
    schema_path = failure.get("schema_path") or ""
    message = str(failure["message"])
    if schema_path.endswith(_NAMING):
        message = _NUMBER.sub("…", message)
    else:
        message = _VARYING.sub("…", message)
    return " ".join((pointer, schema_path, message))


def failure_groups(check: Mapping[str, Any]) -> list[FailureGroup]:
    """The failures of a check of report.json, grouped by signature, most frequent first
    (one signature a group: :func:`failure_signature`)."""
    found: dict[str, list[Mapping[str, Any]]] = {}
    for failure in check["failures"]:
        found.setdefault(failure_signature(failure), []).append(failure)
    groups = [
        FailureGroup(
            signature=signature,
            first=members[0],
            count=len(members),
            exchanges=tuple(dict.fromkeys(str(m.get("exchange") or "") for m in members)),
            varies=len({str(m["message"]) for m in members}) > 1,
        )
        for signature, members in found.items()
    ]
    return sorted(groups, key=lambda g: -g.count)


def render_groups(check: Mapping[str, Any], *, verbose: bool = False) -> list[str]:
    """A failing check's deviations as lines: ``[Nx] message`` (the first failure's where,
    value, schema and replay), and the exchanges that show it."""
    lines = []
    groups = failure_groups(check)
    shown = groups if verbose else groups[:SHOWN_GROUPS]
    for group in shown:
        text = render_failure(group.first, label=group.label)
        named = group.exchanges if verbose else group.exchanges[:SHOWN_EXCHANGES]
        more = len(group.exchanges) - len(named)
        seen = ", ".join(named) + (f" (+{more} more)" if more else "")
        lines.append(_indent(text + f"\n  exchanges: {seen}"))
    # no finding vanishes: the rarer deviations, one line each (-v gives them in full)
    for group in groups[len(shown) :]:
        where = ", ".join(where_parts(group.first))
        lines.append(
            f"    [{group.label}] {printable(str(group.first['message']))}"
            + (f" ({where})" if where else "")
            + f", e.g. {group.exchanges[0]}"
        )
    if check.get("suppressed_failures"):
        lines.append(f"    ({check['suppressed_failures']} more failure(s) were not kept)")
    return lines


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
    results: Sequence[ExchangeResult],
    report: Report,
    *,
    only_failures: bool = False,
    verbosity: int = 1,
) -> str:
    """The console summary of a run or a validation: each failing check once, its failures
    grouped by deviation (one bug seen on 54 exchanges is one entry, with its count and the
    first exchanges that show it), then the counts and the verdict. ``only_failures`` leaves
    out the list of exchanges; ``verbosity`` 0 prints only the verdict lines, 2 every
    deviation and exchange."""
    lines: list[str] = []
    if verbosity > 0 and not only_failures:
        for result in results:
            kind = f"stream of {result.chunks} events" if result.stream else "JSON body"
            failed = any(o.status in ("fail", "error") for o in result.outcomes.values())
            lines.append(
                f"{'FAIL' if failed else 'ok':<4} {result.exchange_id}  (HTTP {result.status}, {kind})"
            )
            for reason in sorted(
                {
                    o.reason
                    for o in result.outcomes.values()
                    if o.status == "skip" and o.reason and "no request" in o.reason
                }
            ):
                lines.append(f"    note: request-dependent rules skipped: {reason}")
        lines.append("")
    if verbosity > 0:
        lines += _failing_checks(report, verbose=verbosity > 1)
    lines += summary_lines(report)
    return "\n".join(lines) + "\n"


def _failing_checks(report: Report, *, verbose: bool) -> list[str]:
    lines: list[str] = []
    order = {"MUST": 0, "SHOULD": 1, "MAY": 2}
    failing = [c for c in report["checks"] if c["status"] in ("fail", "error")]
    shrunk = {e["id"]: e["shrunk_body"] for e in report["exchanges"] if "shrunk_body" in e}
    for check in sorted(failing, key=lambda c: order.get(c["severity"], 3)):
        exchanges = {f.get("exchange") for f in check["failures"]}
        lines.append(
            f"{'FAIL' if check['status'] == 'fail' else 'ERROR'} {check['id']} "
            f"({check['severity']}) {check['title']}: {len(check['failures'])} failure(s) on "
            f"{len(exchanges)} exchange(s)"
        )
        for error in check.get("errors") or []:
            lines.append(f"    ERROR: {error}")
        lines += render_groups(check, verbose=verbose)
        for exchange in dict.fromkeys(e for e in exchanges if e in shrunk):
            body = json.dumps(shrunk[exchange])  # escaped: no lone surrogate to print
            lines.append(f"    {exchange} shrunk, still failing: {body}")
        lines.append("")
    return lines


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
    if summary.get("checks_not_selected"):
        counts.append(f"{summary['checks_not_selected']} not selected")
    if summary["checks_errored"]:
        counts.append(f"{summary['checks_errored']} errored")
    lines = [f"{summary['exchanges']} exchange(s); checks: {', '.join(counts)}"]
    rows = by_operation(report)
    if len(rows) > 1:
        lines += [
            f"  {row.operation}: {row.exchanges} exchange(s), {len(row.judged)} check(s) judged"
            + (f", failed: {', '.join(row.failed)}" if row.failed else "")
            for row in rows
        ]
    run = report.get("run")
    if run:
        lines.append(
            f"{run['requests_sent']} request(s) sent, {run['tokens_spent']} token(s) spent, "
            f"model {report['target']['model']}, seed {report['seed']}"
            + (f"; {run['replayed']} earlier failure(s) replayed" if run.get("replayed") else "")
            + (
                f"; {len(run['cases_skipped'])} case(s) not sent ({why_not_sent(run)}): "
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
    idle = [
        c["id"]
        for c in report["checks"]
        if c["status"] == "skip" and not_judged_as(c) == "not exercised"
    ]
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
