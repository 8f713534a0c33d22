"""Writing every output of a report into a directory."""

from __future__ import annotations

import tempfile
from pathlib import Path

from .._util import write_text_atomic
from ._html import render_html
from ._json import dumps
from ._junit import render_junit
from ._markdown import render_badge, render_summary
from ._types import Report

__all__ = ["OUTPUTS", "ensure_writable", "write_all", "write_report"]

OUTPUTS = ("report.json", "junit.xml", "report.html", "summary.md", "badge.svg")


def write_report(report: Report, directory: str | Path) -> Path:
    """Write report.json alone (atomically)."""
    return write_text_atomic(Path(directory) / "report.json", dumps(report))


def ensure_writable(directory: str | Path) -> Path:
    """Create ``directory`` if needed and prove a file can be written there (before any
    request is sent: a run whose reports cannot be written is not worth its tokens). Raises
    OSError when it cannot."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".conformance-probe-"):
        pass
    return folder


def write_all(report: Report, directory: str | Path) -> dict[str, Path]:
    """Write the five outputs; report.json last, so its presence means the others are there."""
    folder = Path(directory)
    written = {
        "junit.xml": write_text_atomic(folder / "junit.xml", render_junit(report)),
        "report.html": write_text_atomic(folder / "report.html", render_html(report)),
        "summary.md": write_text_atomic(folder / "summary.md", render_summary(report)),
        "badge.svg": write_text_atomic(folder / "badge.svg", render_badge(report)),
    }
    written["report.json"] = write_report(report, folder)
    return written
