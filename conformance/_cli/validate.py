"""``conformance validate``: recorded traffic, offline."""

from __future__ import annotations

import argparse
from datetime import UTC
from typing import IO, TYPE_CHECKING, Any

from .._errors import UsageError

if TYPE_CHECKING:
    pass

from ._common import (
    _add_contract_options,
    _add_output_options,
    _baseline,
    _finish,
    _load,
    _verbosity,
)


def _add_validate(commands: Any) -> None:
    validate = commands.add_parser(
        "validate",
        help="check recorded exchanges offline",
        description="Check recorded exchanges against the contract: raw HTTP response files "
        "(status line, headers, blank line, body), bare JSON or SSE bodies, or HAR 1.2 files. "
        "The request comes from --request or a sibling NAME.request.json; without one, "
        "request-dependent rules are skipped. Exit 0 with no MUST failure, 1 with one, 2 for "
        "unreadable input.",
    )
    validate.add_argument("files", nargs="+", metavar="FILE", help="recorded exchange(s)")
    validate.add_argument(
        "--request", metavar="FILE", help="the JSON request body (for a single FILE)"
    )
    _add_contract_options(validate, spec="flag")
    validate.add_argument(
        "--report-dir",
        metavar="DIR",
        default="reports",
        help="where the reports are written (default: reports/)",
    )
    validate.add_argument("--baseline", metavar="FILE", help="accepted failures")
    validate.add_argument("--strict", action="store_true", help="SHOULD failures fail too")
    validate.add_argument(
        "--operation",
        metavar="'METHOD /path'",
        help="the operation the recordings answer (default: the profile's main one, e.g. "
        "'GET /models')",
    )
    _add_output_options(validate)
    validate.set_defaults(handler=_cmd_validate)


def _cmd_validate(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    import functools
    import time
    from datetime import datetime

    from ..checks import check_exchange
    from ..exchange import read_exchanges
    from ..report import build_report, render_text

    if args.request and len(args.files) > 1:
        raise UsageError("--request goes with a single FILE (or use NAME.request.json siblings)")
    started = datetime.now(UTC)
    clock = time.perf_counter()
    contract = _load(args)
    operation = contract.operation()
    if args.operation:
        method, _, path = args.operation.strip().partition(" ")
        operation = contract.operation(method, path.strip())
    baseline = _baseline(args.baseline)
    results = []
    for name in args.files:
        asks = functools.partial(contract.wants_stream, operation=operation)
        for exchange in read_exchanges(name, request_file=args.request, asks_stream=asks):
            results.append(check_exchange(contract, exchange, operation=operation))
    report = build_report(
        contract,
        results,
        started_at=started.isoformat(timespec="seconds").replace("+00:00", "Z"),
        duration_s=time.perf_counter() - clock,
        fail_on="SHOULD" if args.strict else "MUST",
        baseline=baseline,  # type: ignore[arg-type]
    )
    return _finish(args, report, render_text(results, report, verbosity=_verbosity(args)), out, err)
