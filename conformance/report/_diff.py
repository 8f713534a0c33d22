"""``conformance report diff OLD NEW``: what got worse (or better) between two reports.

A provider with known, waived deviations gates on regressions: a check that fails now and did
not, a new way an already failing check fails, a check no longer exercised (evidence lost), a
lower level, slower timings beyond a threshold. Two reports are comparable when they certify
the same contract (profile and document hash), unless forced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .._errors import UsageError
from ._json import LEVELS
from ._text import failure_signature
from ._types import CheckEntry, Report

__all__ = ["Change", "ReportDiff", "diff_reports", "render_diff"]

ChangeKind = Literal[
    "new-failure",
    "new-deviation",
    "fixed",
    "not-exercised",
    "newly-exercised",
    "level",
    "verdict",
    "timing",
]
#: Timings compared (report.json ``run.timings``), and the percentiles of each.
TIMINGS = ("to_headers", "to_first_event", "to_first_content", "total")
PERCENTILES = ("p50", "p99")


@dataclass(frozen=True, kw_only=True, slots=True)
class Change:
    """One difference between the old and the new report."""

    kind: ChangeKind
    worse: bool
    message: str
    check: str | None = None
    old: Any = None
    new: Any = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "worse": self.worse,
            "check": self.check,
            "old": self.old,
            "new": self.new,
            "message": self.message,
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class ReportDiff:
    """The changes from ``old`` to ``new`` (labels: where each report came from)."""

    old: str
    new: str
    changes: tuple[Change, ...]

    @property
    def worse(self) -> bool:
        return any(c.worse for c in self.changes)

    def as_dict(self) -> dict[str, Any]:
        return {
            "old": self.old,
            "new": self.new,
            "worse": self.worse,
            "changes": [c.as_dict() for c in self.changes],
        }


def _deviations(entry: CheckEntry) -> dict[str, str]:
    """A failing check's deviations by signature (:func:`failure_signature`: a timestamp or an
    id in a message is not a new way of failing), each with its first message."""
    found: dict[str, str] = {}
    for failure in entry["failures"]:
        found.setdefault(failure_signature(failure), failure["message"])
    return found


def _exercised(entry: CheckEntry) -> bool:
    return entry["status"] in ("pass", "fail", "error") or (
        entry["status"] == "skip" and entry.get("exercised", 0) > 0
    )


def _rank(level: Any) -> int:
    return LEVELS.index(level) if level in LEVELS else -1


def diff_reports(
    old: Report,
    new: Report,
    *,
    old_label: str = "old",
    new_label: str = "new",
    force: bool = False,
    slower: float = 0.2,
    floor_s: float = 0.05,
    include_unselected: bool = False,
) -> ReportDiff:
    """The changes from ``old`` to ``new``. A timing is worse when its p50 or p99 grew by more
    than ``slower`` (a fraction) and by more than ``floor_s`` seconds (noise below that).
    :class:`UsageError` when the reports certify different contracts (unless ``force``). A
    check one run did not select (``--checks``) is left out unless ``include_unselected``."""
    if not force:
        same_contract(old_label, old, new_label, new, remedy="--force compares them anyway")
    changes: list[Change] = []
    before = {c["id"]: c for c in old["checks"]}
    for entry in new["checks"]:
        was = before.get(entry["id"])
        chosen = entry.get("selected", True) and (was is None or was.get("selected", True))
        if chosen or include_unselected:  # a check left out of a run is not a change
            changes += _check_changes(was, entry, old_label)
    if _rank(new["level"]) != _rank(old["level"]):
        lower = _rank(new["level"]) < _rank(old["level"])
        changes.append(
            Change(
                kind="level",
                worse=lower,
                old=old["level"],
                new=new["level"],
                message=f"level {old['level'] or 'none'} -> {new['level'] or 'none'}",
            )
        )
    if old["verdict"] != new["verdict"]:
        changes.append(
            Change(
                kind="verdict",
                worse=new["verdict"] == "fail",
                old=old["verdict"],
                new=new["verdict"],
                message=f"verdict {old['verdict']} -> {new['verdict']}",
            )
        )
    changes += _timings(old, new, slower, floor_s)
    return ReportDiff(old=old_label, new=new_label, changes=tuple(changes))


def _check_changes(was: CheckEntry | None, entry: CheckEntry, old_label: str) -> list[Change]:
    """How one check changed: fails now, fixed, fails in a new way, no longer exercised,
    exercised now."""
    changes: list[Change] = []
    check = entry["id"]
    failing_then = was is not None and was["status"] == "fail"
    failing_now = entry["status"] == "fail"
    if failing_now and not failing_then:
        first = entry["failures"][0]["message"] if entry["failures"] else ""
        before_text = f"a check {old_label} did not have" if was is None else f"{_said(was)} before"
        changes.append(
            Change(
                kind="new-failure",
                worse=True,
                check=check,
                old=None if was is None else was["status"],
                new="fail",
                message=f"{check} fails now ({before_text}): {first}",
            )
        )
    if was is None:
        return changes
    if failing_then and not failing_now and _exercised(entry):
        changes.append(
            Change(
                kind="fixed",
                worse=False,
                check=check,
                old="fail",
                new=entry["status"],
                message=f"{check} no longer fails ({_said(entry)} now)",
            )
        )
    elif failing_then and failing_now:
        now, then = _deviations(entry), _deviations(was)
        for deviation in sorted(now[s] for s in now.keys() - then.keys()):
            changes.append(
                Change(
                    kind="new-deviation",
                    worse=True,
                    check=check,
                    old=None,
                    new=deviation,
                    message=f"{check} fails in a new way: {deviation}",
                )
            )
    if _exercised(was) and not _exercised(entry) and entry.get("applicable", True):
        reasons = "; ".join(entry.get("skip_reasons") or []) or "nothing to judge"
        changes.append(
            Change(
                kind="not-exercised",
                worse=True,
                check=check,
                old=was["status"],
                new="skip",
                message=f"{check} is no longer exercised ({reasons})",
            )
        )
    elif not _exercised(was) and _exercised(entry) and not failing_now:
        changes.append(
            Change(
                kind="newly-exercised",
                worse=False,
                check=check,
                old="skip",
                new=entry["status"],
                message=f"{check} is exercised now, and passes",
            )
        )
    return changes


def same_contract(
    label: str, report: Report, other_label: str, other: Report, *, remedy: str
) -> None:
    """:class:`UsageError` when two reports certify different contracts (another profile or
    document), naming what differs and ``remedy``."""
    for field in ("profile", "sha256"):
        was, now = report["contract"].get(field), other["contract"].get(field)
        if was != now:
            raise UsageError(
                f"the reports certify different contracts ({field} {was!r} in {label}, "
                f"{now!r} in {other_label}); {remedy}"
            )


def _said(entry: CheckEntry) -> str:
    return "not exercised" if entry["status"] == "skip" else entry["status"]


def _timings(old: Report, new: Report, slower: float, floor_s: float) -> list[Change]:
    old_run: Any = old.get("run") or {}
    new_run: Any = new.get("run") or {}
    then: Any = old_run.get("timings") or {}
    now: Any = new_run.get("timings") or {}
    out = []
    for name in TIMINGS:
        for percentile in PERCENTILES:
            was = (then.get(name) or {}).get(percentile)
            value = (now.get(name) or {}).get(percentile)
            if not isinstance(was, (int, float)) or not isinstance(value, (int, float)):
                continue
            if value > was * (1 + slower) and value - was > floor_s:
                out.append(
                    Change(
                        kind="timing",
                        worse=True,
                        old=was,
                        new=value,
                        message=f"{name} {percentile} {was * 1000:.0f} ms -> "
                        f"{value * 1000:.0f} ms (+{(value / was - 1) * 100 if was else 100:.0f}%)",
                    )
                )
    return out


def render_diff(diff: ReportDiff, form: str = "text") -> str:
    """The diff as text (one line per change, worse first), Markdown or JSON."""
    import json

    if form == "json":
        return json.dumps(diff.as_dict(), indent=2) + "\n"
    ordered = sorted(diff.changes, key=lambda c: not c.worse)
    head = (
        f"worse: {sum(c.worse for c in diff.changes)} change(s) got worse"
        if diff.worse
        else "no regression"
    )
    if form == "md":
        lines = [f"# Report diff: {diff.old} -> {diff.new}", "", f"**{head}**", ""]
        if ordered:
            lines += ["| | change | check | what |", "|---|---|---|---|"]
            for c in ordered:
                what = c.message.replace("|", "&#124;")
                lines.append(
                    f"| {'worse' if c.worse else 'better'} | {c.kind} | {c.check or ''} | {what} |"
                )
        return "\n".join(lines) + "\n"
    lines = [f"{diff.old} -> {diff.new}: {head}"]
    lines += [f"  {'WORSE ' if c.worse else 'better'} {c.message}" for c in ordered]
    return "\n".join(lines) + "\n"
