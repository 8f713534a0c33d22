"""``conformance report``: merge, diff, matrix and schema of reports."""

from __future__ import annotations

import argparse
from typing import IO, TYPE_CHECKING, Any

from .._errors import UsageError
from .._util import write_text_atomic

if TYPE_CHECKING:
    pass

from ._common import EXIT_FAILED, EXIT_OK, _needs_command, _Parser, _write_outputs


def _add_report(commands: Any) -> None:
    report = commands.add_parser("report", help="work with reports")
    report.set_defaults(handler=_needs_command("report", "merge, diff, matrix or schema"))
    report_commands = report.add_subparsers(
        dest="report_command", metavar="COMMAND", parser_class=_Parser
    )
    merge = report_commands.add_parser(
        "merge",
        help="merge shard reports, or proxy replicas' reports, into one",
        description="Merge the report.json of shard runs (same contract, same seed), or of "
        "proxy replicas (same contract), into one report, and write all its outputs.",
    )
    merge.add_argument(
        "dirs", nargs="+", metavar="DIR", help="a shard's or a replica's report directory"
    )
    merge.add_argument("-o", "--output", metavar="DIR", required=True)
    merge.add_argument(
        "--allow-partial",
        action="store_true",
        help="merge even with a shard missing or given twice (the report then grants no level)",
    )
    merge.set_defaults(handler=_cmd_report_merge)
    diff = report_commands.add_parser(
        "diff",
        help="what got worse (or better) from one report to another",
        description="Compare two report.json (directories or files): new failing checks, new "
        "ways a failing check fails, fixed checks, checks no longer exercised, level and "
        "verdict changes, timings slower beyond a threshold. Exit 1 when something got worse, "
        "0 otherwise, 2 when the reports cannot be compared (another profile or document).",
    )
    diff.add_argument("old", metavar="OLD", help="the earlier report (directory or report.json)")
    diff.add_argument("new", metavar="NEW", help="the later report")
    diff.add_argument("--format", choices=("text", "json", "md"), default="text")
    diff.add_argument(
        "--force", action="store_true", help="compare reports of different contracts anyway"
    )
    diff.add_argument(
        "--slower",
        type=float,
        default=20.0,
        metavar="PERCENT",
        help="a timing's p50 or p99 is worse when it grew by more than this (default 20) and "
        "by more than --slower-floor-ms",
    )
    diff.add_argument("--slower-floor-ms", type=float, default=50.0, metavar="MS")
    diff.add_argument(
        "--include-unselected",
        action="store_true",
        help="also report checks one of the runs did not select (--checks): by default a "
        "check left out of a run is not a change",
    )
    diff.set_defaults(handler=_cmd_report_diff)
    matrix = report_commands.add_parser(
        "matrix",
        help="one table of checks x servers from many reports",
        description="Render the features (the checks, by category and level) of many reports "
        "side by side: pass, fail (with the first failure), not exercised, not applicable.",
    )
    matrix.add_argument("reports", nargs="+", metavar="REPORT", help="report directory or file")
    matrix.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="matrix.html or matrix.md (default: Markdown on stdout)",
    )
    matrix.add_argument(
        "--force", action="store_true", help="put reports of different contracts side by side"
    )
    matrix.set_defaults(handler=_cmd_report_matrix)
    schema = report_commands.add_parser(
        "schema",
        help="print the JSON Schema of report.json",
        description="Print the JSON Schema (2020-12) that every report.json this suite writes "
        "validates against: the public, versioned format of the report.",
    )
    schema.set_defaults(handler=_cmd_report_schema)


def _cmd_report_merge(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from ..report import merge_reports, read_report, render_text

    merged = merge_reports([read_report(d) for d in args.dirs], allow_partial=args.allow_partial)
    _write_outputs(merged, args.output, out)
    out.write(render_text([], merged).lstrip("\n"))
    return EXIT_FAILED if merged["verdict"] == "fail" else EXIT_OK


def _cmd_report_diff(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from ..report import diff_reports, read_report, render_diff

    diff = diff_reports(
        read_report(args.old),
        read_report(args.new),
        old_label=args.old,
        new_label=args.new,
        force=args.force,
        slower=args.slower / 100,
        floor_s=args.slower_floor_ms / 1000,
        include_unselected=args.include_unselected,
    )
    out.write(render_diff(diff, args.format))
    return EXIT_FAILED if diff.worse else EXIT_OK


def _cmd_report_matrix(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from pathlib import Path

    from ..report import build_matrix, read_report, render_matrix_html, render_matrix_markdown

    matrix = build_matrix([(r, read_report(r)) for r in args.reports], force=args.force)
    if args.output is None:
        out.write(render_matrix_markdown(matrix))
        return EXIT_OK
    target = Path(args.output)
    html = target.suffix.lower() in (".html", ".htm")
    text = render_matrix_html(matrix) if html else render_matrix_markdown(matrix)
    try:
        write_text_atomic(target, text)
    except OSError as exc:
        raise UsageError(f"-o {target}: cannot write it ({exc.strerror or exc})") from None
    out.write(f"matrix of {len(matrix.columns)} report(s): {target}\n")
    return EXIT_OK


def _cmd_report_schema(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from ..report import report_schema_text

    out.write(report_schema_text())
    return EXIT_OK
