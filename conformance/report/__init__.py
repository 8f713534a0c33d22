"""The report stage: report.json (the public format: ``report.schema.json`` beside this module), JUnit, HTML,
a Markdown summary and a badge, all rendered from the report's fields; baselines and merges."""

from __future__ import annotations

from ._baseline import Baseline, load_baseline
from ._diff import Change, ReportDiff, diff_reports, render_diff
from ._json import (
    LEVELS,
    REPORT_VERSION,
    build_report,
    dumps,
    finalize,
    proxy_note,
    report_of,
    report_schema,
    report_schema_text,
)
from ._matrix import Matrix, build_matrix, render_matrix_html, render_matrix_markdown
from ._merge import merge_reports, read_report
from ._tally import Spread, Tally
from ._text import FailureGroup, failure_groups, render_check, render_text
from ._types import CheckEntry, FailureEntry, ProxyCounts, Report
from ._write import OUTPUTS, ensure_writable, write_all, write_report

__all__ = [
    "LEVELS",
    "OUTPUTS",
    "REPORT_VERSION",
    "Baseline",
    "Change",
    "CheckEntry",
    "FailureEntry",
    "FailureGroup",
    "Matrix",
    "ProxyCounts",
    "Report",
    "ReportDiff",
    "Spread",
    "Tally",
    "build_matrix",
    "build_report",
    "diff_reports",
    "dumps",
    "ensure_writable",
    "failure_groups",
    "finalize",
    "load_baseline",
    "merge_reports",
    "proxy_note",
    "read_report",
    "render_check",
    "render_diff",
    "render_matrix_html",
    "render_matrix_markdown",
    "render_text",
    "report_of",
    "report_schema",
    "report_schema_text",
    "write_all",
    "write_report",
]
