"""The Python API: what ``conformance run`` and ``conformance validate`` do, as functions.

The CLI and the pytest plugin go through the same code (:func:`~conformance._session.live_report`
and :class:`~conformance.runner.RunConfig`, which refuses a bad value with one message), so a
script gets the verdict and the report.json they would.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .contract import Contract, Operation
    from .report import Report
    from .runner import RunConfig, RunResult

__all__ = ["RunOutcome", "run", "validate"]


@dataclass(frozen=True, kw_only=True)
class RunOutcome:
    """A finished run: its report (report.json's content) and what was sent."""

    report: Report
    result: RunResult

    @property
    def verdict(self) -> str:
        """``pass``, ``fail`` or ``none`` (nothing judged)."""
        return str(self.report["verdict"])

    @property
    def exit_code(self) -> int:
        """What ``conformance run`` would exit with: 0 pass, 1 fail."""
        return 1 if self.report["verdict"] == "fail" else 0

    def write(self, directory: str | Path) -> dict[str, Path]:
        """Write report.json, junit.xml, report.html, summary.md and badge.svg."""
        from .report import write_all

        return write_all(self.report, directory)


def run(
    config: RunConfig | None = None,
    *,
    contract: Contract | None = None,
    strict: bool = False,
) -> RunOutcome:
    """Check a target against a contract, as ``conformance run`` does.

    ``config``: the target and the run's budgets (:class:`~conformance.runner.RunConfig`; its
    ``base_url`` empty, the default: the embedded reference server). ``contract``: the loaded
    contract (:func:`~conformance.load_contract`; default: the ``deepseek`` profile's).
    ``strict``: SHOULD failures fail the verdict too. Nothing is written; see
    :meth:`RunOutcome.write`."""
    from ._session import live_report
    from .contract import load_contract
    from .runner import RunConfig

    if contract is None:
        contract = load_contract()
    if config is None:
        config = RunConfig(base_url="")
    if config.no_auth:
        contract = contract.without_auth()
    result, report = live_report(contract, config, strict=strict)
    return RunOutcome(report=report, result=result)


def validate(
    paths: str | Path | Iterable[str | Path],
    *,
    contract: Contract | None = None,
    operation: Operation | None = None,
    strict: bool = False,
) -> Report:
    """Check recorded traffic (raw HTTP response files, bare bodies, HAR files), as
    ``conformance validate`` does: the report of every exchange they hold."""
    import time
    from datetime import UTC, datetime

    from .checks import check_exchange
    from .contract import load_contract
    from .exchange import read_exchanges
    from .report import build_report

    if contract is None:
        contract = load_contract()
    op = operation if operation is not None else contract.operation()
    names = [paths] if isinstance(paths, str | Path) else list(paths)
    started = datetime.now(UTC)
    clock = time.perf_counter()

    def asks(body: Any) -> bool:
        return contract.wants_stream(body, op)

    results = [
        check_exchange(contract, exchange, operation=op)
        for name in names
        for exchange in read_exchanges(str(name), asks_stream=asks)
    ]
    return build_report(
        contract,
        results,
        started_at=started.isoformat(timespec="seconds").replace("+00:00", "Z"),
        duration_s=time.perf_counter() - clock,
        fail_on="SHOULD" if strict else "MUST",
    )
