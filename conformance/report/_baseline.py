"""Baselines: accepted failures, each with a reason and an expiry date.

A baseline file (YAML or JSON)::

    waivers:
      - check: STREAM-USAGE-002
        reason: usage rides on a separate chunk until our proxy is upgraded (TICKET-123)
        expires: 2027-03-31

A failing check with an active waiver does not fail the gate; once the waiver has expired it
does again, and the report says which waivers are active, expired or unused.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .._errors import UsageError
from ._types import BaselineInfo, CheckEntry, WaiverEntry, WaiverState

__all__ = ["Baseline", "Waiver", "load_baseline"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Waiver:
    check: str
    reason: str
    expires: dt.date


@dataclass(frozen=True, kw_only=True)
class Baseline:
    """Accepted failures (waivers, each with a reason and an expiry date), as of ``today``."""

    source: str
    waivers: tuple[Waiver, ...]
    today: dt.date

    def waiver_for(self, check_id: str) -> WaiverState | None:
        for waiver in self.waivers:
            if waiver.check == check_id:
                return {
                    "reason": waiver.reason,
                    "expires": waiver.expires.isoformat(),
                    "expired": waiver.expires < self.today,
                }
        return None

    def describe(self, checks: list[CheckEntry]) -> BaselineInfo:
        status = {c["id"]: c["status"] for c in checks}
        entries: list[WaiverEntry] = []
        for waiver in self.waivers:
            state: Literal["active", "expired", "unused"]
            if waiver.expires < self.today:
                state = "expired"
            elif status.get(waiver.check) == "fail":
                state = "active"
            else:
                state = "unused"
            entries.append(
                {
                    "check": waiver.check,
                    "reason": waiver.reason,
                    "expires": waiver.expires.isoformat(),
                    "state": state,
                }
            )
        return {"source": self.source, "waivers": entries}


def load_baseline(path: str, *, today: dt.date | None = None) -> Baseline:
    """Read a baseline file (YAML or JSON); a malformed one is a :class:`UsageError`."""
    from ..checks import CHECKS
    from ..contract import read_document

    try:
        data = read_document(Path(path)).data
    except Exception as exc:
        raise UsageError(f"baseline {path}: {str(exc).split(': ', 1)[-1]}") from None
    items = data.get("waivers") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise UsageError(f"baseline {path}: expected a 'waivers' list")
    waivers = []
    for i, item in enumerate(items):
        where = f"baseline {path}, waiver {i}"
        if not isinstance(item, dict):
            raise UsageError(f"{where}: expected a mapping with check, reason and expires")
        check, reason, expires = item.get("check"), item.get("reason"), item.get("expires")
        if check not in CHECKS:
            raise UsageError(f"{where}: unknown check {check!r} (see 'conformance checks')")
        if not isinstance(reason, str) or not reason.strip():
            raise UsageError(f"{where}: every waiver needs a reason")
        try:
            date = dt.date.fromisoformat(str(expires))
        except ValueError:
            raise UsageError(
                f"{where}: expires must be a date such as 2027-03-31, got {expires!r}"
            ) from None
        waivers.append(Waiver(check=str(check), reason=reason.strip(), expires=date))
    return Baseline(
        source=path, waivers=tuple(waivers), today=today or dt.datetime.now(dt.UTC).date()
    )
