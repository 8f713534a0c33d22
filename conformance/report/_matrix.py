"""``conformance report matrix``: the checks of many reports side by side.

Integrators choose between servers by what they support ("usage with include_usage?
logprobs in streams? tool-call deltas with index?"). One table answers that: a row per check
(grouped by level, then category), a column per report (its target and model), each cell pass,
fail (with the first failure, on hover in HTML and as a numbered note in both forms), not
exercised (with why), not applicable, or absent (the report has no such check).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Literal

from .._util import md_code
from ._diff import same_contract
from ._json import LEVELS
from ._types import Report

__all__ = ["Matrix", "build_matrix", "render_matrix_html", "render_matrix_markdown"]

CellStatus = Literal["pass", "fail", "not exercised", "not applicable", "not selected", "absent"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Column:
    """A report: where it came from, the server and model it judged, its verdict and level."""

    source: str
    label: str
    verdict: str
    level: str | None
    profile: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Cell:
    """What one report says of one check."""

    status: CellStatus
    #: the first failure (fail), why nothing was judged (not exercised), else ""
    note: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class Row:
    """A check, and its cell in each report."""

    check: str
    title: str
    severity: str
    category: str
    level: str
    cells: tuple[Cell, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class Matrix:
    """Reports side by side: a column per report, a row per check, a cell per both."""

    columns: tuple[Column, ...]
    rows: tuple[Row, ...]

    def groups(self) -> list[tuple[str, str, list[Row]]]:
        """(level, category, rows), in the rows' order."""
        out: list[tuple[str, str, list[Row]]] = []
        for row in self.rows:
            if not out or (out[-1][0], out[-1][1]) != (row.level, row.category):
                out.append((row.level, row.category, []))
            out[-1][2].append(row)
        return out


def _label(report: Report) -> str:
    target = report["target"]
    where = target.get("base_url") or f"embedded server ({report['contract']['profile']})"
    model = target.get("model")
    return f"{where} · {model}" if model else str(where)


def _cell(entry: dict[str, object] | None) -> Cell:
    if entry is None:
        return Cell(status="absent")
    status = entry["status"]
    failures = entry.get("failures") or []
    if status in ("fail", "error"):
        first = failures[0]["message"] if isinstance(failures, list) and failures else status
        return Cell(status="fail", note=str(first))
    if status == "pass":
        return Cell(status="pass")
    if entry.get("selected") is False:
        return Cell(status="not selected")
    if entry.get("applicable") is False:
        return Cell(status="not applicable")
    reasons = entry.get("skip_reasons")
    return Cell(
        status="not exercised",
        note="; ".join(str(r) for r in reasons) if isinstance(reasons, list) else "",
    )


def _order(level: Any) -> int:
    return LEVELS.index(level) if level in LEVELS else len(LEVELS)


def build_matrix(reports: list[tuple[str, Report]], *, force: bool = False) -> Matrix:
    """The matrix of ``(source, report)`` pairs, the columns in the order given;
    :class:`UsageError` when they certify different contracts (another profile or document),
    unless ``force``, as ``report diff``."""
    if not force and reports:
        first_source, first = reports[0]
        for source, report in reports[1:]:
            same_contract(
                first_source, first, source, report, remedy="--force puts them side by side"
            )
    labels = [_label(r) for _, r in reports]
    columns = tuple(
        Column(
            source=source,
            label=label if labels.count(label) == 1 else f"{label} ({source})",
            verdict=report["verdict"],
            level=report["level"],
            profile=report["contract"]["profile"],
        )
        for (source, report), label in zip(reports, labels, strict=True)
    )
    known: dict[str, dict[str, object]] = {}
    for _, report in reports:
        for entry in report["checks"]:
            known.setdefault(entry["id"], dict(entry))
    by_report = [{c["id"]: dict(c) for c in report["checks"]} for _, report in reports]
    rows = [
        Row(
            check=check,
            title=str(entry["title"]),
            severity=str(entry["severity"]),
            category=str(entry["category"]),
            level=str(entry["level"]),
            cells=tuple(_cell(index.get(check)) for index in by_report),
        )
        for check, entry in known.items()
    ]
    rows.sort(key=lambda r: (_order(r.level), r.category, r.check))
    return Matrix(columns=columns, rows=tuple(rows))


def _notes(matrix: Matrix) -> dict[tuple[str, int], int]:
    """A note number for each failing cell: (check, column) -> n (same text, same number)."""
    numbers: dict[str, int] = {}
    out: dict[tuple[str, int], int] = {}
    for row in matrix.rows:
        for i, cell in enumerate(row.cells):
            if cell.status == "fail":
                out[(row.check, i)] = numbers.setdefault(cell.note, len(numbers) + 1)
    return out


def _texts(notes: dict[tuple[str, int], int], matrix: Matrix) -> list[str]:
    texts: dict[int, str] = {}
    for row in matrix.rows:
        for i, cell in enumerate(row.cells):
            if (row.check, i) in notes:
                texts.setdefault(notes[(row.check, i)], cell.note)
    return [texts[n] for n in sorted(texts)]


_MD = {"pass": "pass", "fail": "**FAIL**", "not exercised": "not exercised",
       "not applicable": "n/a", "not selected": "not selected", "absent": "-"}  # fmt: skip


def render_matrix_markdown(matrix: Matrix) -> str:
    """The matrix as Markdown: a table per level, failures numbered, their text below."""
    notes = _notes(matrix)
    lines = ["# Compatibility matrix", ""]
    lines += [
        f"{i + 1}. {md_code(c.label)}: verdict {c.verdict}, level {c.level or 'none'} "
        f"(profile {md_code(c.profile)}; {md_code(c.source)})"
        for i, c in enumerate(matrix.columns)
    ]
    head = "| check | category | " + " | ".join(f"({i + 1})" for i in range(len(matrix.columns)))
    level = None
    for group_level, category, rows in matrix.groups():
        if group_level != level:
            level = group_level
            lines += [
                "",
                f"## Level {level}",
                "",
                head + " |",
                "|---|---|" + "---|" * len(matrix.columns),
            ]
        for row in rows:
            cells = []
            for i, cell in enumerate(row.cells):
                mark = _MD[cell.status]
                cells.append(
                    f"{mark} [{notes[(row.check, i)]}]" if (row.check, i) in notes else mark
                )
            lines.append(
                f"| `{row.check}` {row.title.replace('|', '&#124;')} | {category} | "
                + " | ".join(cells)
                + " |"
            )
    texts = _texts(notes, matrix)
    if texts:
        lines += ["", "## Failures", ""]
        lines += [f"[{n}] {md_code(text)}" for n, text in enumerate(texts, 1)]
    return "\n".join(lines) + "\n"


_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
th.group{background:#eef;font-weight:600}
td.pass{background:#e6f4e6}
td.fail{background:#fbe3e3;font-weight:600}
td.not-exercised{background:#fff6d6;color:#665}
td.not-applicable,td.absent{color:#999}
td.not-selected{color:#999;font-style:italic}
.id{font-family:ui-monospace,monospace}
ol.notes li{margin:.3em 0}
"""


def render_matrix_html(matrix: Matrix) -> str:
    """The matrix as one self-contained HTML page: the failure on hover (``title``) and as a
    numbered note below the table."""
    esc = html.escape
    notes = _notes(matrix)
    width = len(matrix.columns) + 2
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        "<title>Compatibility matrix</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Compatibility matrix</h1>",
        '<table class="matrix"><thead><tr><th>check</th><th>severity</th>',
    ]
    for column in matrix.columns:
        parts.append(
            f'<th class="server" title="{esc(column.source)}">{esc(column.label)}<br>'
            f"<small>{esc(column.verdict)}, level {esc(column.level or 'none')}, "
            f"profile {esc(column.profile)}</small></th>"
        )
    parts.append("</tr></thead><tbody>")
    for level, category, rows in matrix.groups():
        parts.append(
            f'<tr><th class="group" colspan="{width}">level {esc(level)} · {esc(category)}</th></tr>'
        )
        for row in rows:
            parts.append(
                f'<tr data-check="{esc(row.check)}"><td><span class="id">{esc(row.check)}</span> '
                f"{esc(row.title)}</td><td>{esc(row.severity)}</td>"
            )
            for i, cell in enumerate(row.cells):
                css = cell.status.replace(" ", "-")
                title = f' title="{esc(cell.note)}"' if cell.note else ""
                text = esc(cell.status)
                if (row.check, i) in notes:
                    n = notes[(row.check, i)]
                    text = f'fail <a href="#note-{n}">[{n}]</a>'
                parts.append(f'<td class="{css}"{title}>{text}</td>')
            parts.append("</tr>")
    parts.append("</tbody></table>")
    texts = _texts(notes, matrix)
    if texts:
        parts.append('<h2>Failures</h2><ol class="notes">')
        parts += [f'<li id="note-{n}">{esc(t)}</li>' for n, t in enumerate(texts, 1)]
        parts.append("</ol>")
    parts.append("</body></html>\n")
    return "".join(parts)
