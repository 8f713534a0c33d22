"""The report stage: report.json (the public format in shared/report.schema.json) and text."""

from __future__ import annotations

from ._json import REPORT_VERSION, build_report, write_report
from ._text import render_text

__all__ = ["REPORT_VERSION", "build_report", "render_text", "write_report"]
