"""How a failure reads, for people: the one renderer behind every output.

Every output (``str(failure)``, the console summary, the pytest suite, JUnit, Markdown and HTML)
reads the same fields (a :class:`~conformance.checks.Failure`, or the failure entry of
report.json, which has the same names) and renders "where" with :func:`where_parts`, so the
formats never drift apart.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["MAX_VALUE_CHARS", "printable", "render_failure", "render_value", "where_parts"]

#: The longest rendering of an offending value (the report keeps it whole, up to its own cap).
MAX_VALUE_CHARS = 300
#: What never reaches a terminal raw: control characters (C0, DEL, C1) and lone surrogates
#: (a generated string may hold one; printing it raises, and a NUL or an ESC garbles a log).
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def printable(text: str) -> str:
    """``text`` on one line, every control character and lone surrogate escaped (``\\x00``,
    ``\\n``, ``\\udc80``)."""
    return _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def render_value(value: Any) -> str:
    """A value as one line: strings as they are, anything else as compact JSON; control
    characters escaped; truncated."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=repr)
    text = printable(text)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 3] + "..."


def where_parts(failure: Mapping[str, Any], *, exchange: bool = False) -> list[str]:
    """Where a failure was seen: ``[exchange], chunk N, at /pointer`` (what is known of it)."""
    parts = []
    if exchange and failure.get("exchange"):
        parts.append(str(failure["exchange"]))
    if failure.get("chunk_index") is not None:
        parts.append(f"chunk {failure['chunk_index']}")
    if failure.get("instance_path") is not None:
        parts.append(f"at {failure['instance_path'] or '/'}")
    return parts


def render_failure(
    failure: Mapping[str, Any], *, label: str | None = None, exchange: bool = False
) -> str:
    """A failure as text: ``[label] message`` (``- message`` without a label), then indented
    ``where``, ``value``, ``schema`` and ``reproduce`` lines for the fields that are set.
    ``exchange`` puts the exchange id in the ``where`` line (for outputs grouped by check)."""
    message = printable(str(failure["message"]))
    lines = [f"[{label}] {message}" if label else f"- {message}"]
    where = where_parts(failure, exchange=exchange)
    if where:
        lines.append("  where: " + ", ".join(where))
    if failure.get("value") is not None:
        lines.append(f"  value: {render_value(failure['value'])}")
    if failure.get("schema_path"):
        lines.append(f"  schema: {failure['schema_path']}")
    if failure.get("reproduce"):
        lines.append(f"  reproduce: {failure['reproduce']}")
    return "\n".join(lines)
