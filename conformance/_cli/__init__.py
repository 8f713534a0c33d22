"""The ``conformance`` command: ``main(argv) -> int``, one module per command.

Exit status: 0 success, 1 the contract (or the server) failed, 2 the tool could not do its job
(bad flag, unreadable spec, overlay that does not apply). Errors of the tool are one line on
stderr, never a traceback. Heavy modules are imported inside the commands, so ``--help`` is fast."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from .. import __version__
from .._errors import ConformanceError, TargetRefused, TargetUnreachable
from ._common import EXIT_ERROR, EXIT_OK, PROG, Handler, _Parser, _Printable
from .checks import _add_checks, checks_markdown
from .lint import _add_lint
from .profile import _add_profile
from .proxy import _add_proxy
from .report import _add_report
from .run import _add_run
from .serve import _add_serve
from .spec import _add_spec
from .validate import _add_validate

__all__ = ["checks_markdown", "main"]


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Contract-conformance suite for OpenAI/DeepSeek-compatible Chat "
        "Completions APIs.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for add in (
        _add_lint,
        _add_run,
        _add_validate,
        _add_report,
        _add_checks,
        _add_serve,
        _add_proxy,
        _add_spec,
        _add_profile,
    ):
        add(commands)
    return parser


def _could_not_run(args: argparse.Namespace | None, exc: ConformanceError) -> None:
    """A ``run`` (or ``validate``) that could not run still leaves its report directory
    saying why: ``summary.md`` always, and for a run the target stopped (unreachable, or the
    key, model or path refused), every report (verdict ``none``: nothing was judged, the
    reason in the run's notes), so that a CI step
    that appends summary.md to the job's summary, or reads report.json, never fails on a
    missing file. Best effort: a directory that cannot be written is left alone."""
    report_dir = getattr(args, "report_dir", None)
    if args is None or not isinstance(report_dir, str) or getattr(args, "dry_run", False):
        return
    from .._util import md_code, write_text_atomic

    with contextlib.suppress(OSError):
        Path(report_dir).mkdir(parents=True, exist_ok=True)
        write_text_atomic(
            Path(report_dir) / "summary.md",
            "## Conformance: ⚪ could not run\n\n"
            f"{md_code(str(exc))}\n\n"
            "Nothing was judged (exit status 2).\n",
        )
    target_failed = isinstance(exc, TargetUnreachable | TargetRefused)
    if target_failed and getattr(getattr(args, "handler", None), "__name__", "") == "_cmd_run":
        with contextlib.suppress(Exception):  # the contract may be what failed
            _empty_report(args, exc, report_dir)


def _empty_report(args: argparse.Namespace, exc: ConformanceError, report_dir: str) -> None:
    from datetime import UTC, datetime

    from ..exchange import redact_url
    from ..report import Tally, report_of, write_all
    from ._common import _load

    report = report_of(
        _load(args),
        Tally(),
        started_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        duration_s=0.0,
        base_url=redact_url(args.base_url) if args.base_url else None,
        model=args.model,
        run={
            "requests_sent": 0,
            "tokens_spent": 0,
            "cases_planned": 0,
            "cases_skipped": [],
            "embedded_server": not args.base_url,
            "shard": None,
            "notes": [f"could not run: {exc}"],
        },
    )
    write_all(report, report_dir)


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
) -> int:
    """Run the command line; return the exit status. What it prints goes through
    :func:`~conformance._util.printable`: a model id, a message or a note a server wrote never
    reaches the terminal or the CI log as control characters (ESC sequences, an OSC title,
    BEL, a bidi override: shown as ``\x1b``, ``\u202e``)."""
    out = _Printable(stdout or sys.stdout)
    err = _Printable(stderr or sys.stderr)
    parser = _build_parser()
    try:
        try:
            args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
        except SystemExit as exc:  # --help and --version
            return int(exc.code or 0)
        handler: Handler | None = getattr(args, "handler", None)
        if handler is None:
            parser.print_help(out)
            return EXIT_ERROR
        return handler(args, out, err)  # type: ignore[arg-type]
    except ConformanceError as exc:
        err.write(f"{PROG}: error: {exc}\n")
        _could_not_run(args if "args" in locals() else None, exc)
        return EXIT_ERROR
    except KeyboardInterrupt:
        err.write(f"{PROG}: interrupted\n")
        return 130
    except BrokenPipeError:  # the reader went away (| head): stop quietly
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
