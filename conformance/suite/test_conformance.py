"""One test per check: it passes, fails with the rendered failures, or is skipped with why.

A SHOULD failure is an expected failure (xfail) unless ``--conformance-strict``: the verdict is
the CLI's, which fails only on MUST.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.checks import CHECKS


def _render(check: dict[str, Any], limit: int = 10) -> str:
    lines = [
        f"{check['id']} ({check['severity']}): {check['title']}",
        f"source: {check['source']}",
        "",
    ]
    for failure in check["failures"][:limit]:
        where = [failure["exchange"]]
        if failure.get("chunk_index") is not None:
            where.append(f"chunk {failure['chunk_index']}")
        if failure.get("instance_path") is not None:
            where.append(f"at {failure['instance_path'] or '/'}")
        lines.append(f"- {failure['message']}")
        lines.append(f"  where: {', '.join(where)}")
        if failure.get("schema_path"):
            lines.append(f"  schema: {failure['schema_path']}")
        if failure.get("reproduce"):
            lines.append(f"  reproduce: {failure['reproduce']}")
    more = len(check["failures"]) - limit + check.get("suppressed_failures", 0)
    if more > 0:
        lines.append(f"... and {more} more")
    return "\n".join(lines)


@pytest.mark.parametrize("check_id", list(CHECKS))
def test_check(check_id: str, conformance_run: dict[str, Any]) -> None:
    check = next(c for c in conformance_run["report"]["checks"] if c["id"] == check_id)
    if check["status"] == "skip":
        reasons = "; ".join(check.get("skip_reasons") or []) or "no exchange applied"
        pytest.skip(f"{check_id}: {reasons}")
    if check["status"] == "error":
        pytest.fail(f"{check_id}: the check itself failed: {check.get('errors')}", pytrace=False)
    if check["status"] == "fail":
        text = _render(check)
        if check["severity"] != "MUST" and not conformance_run["strict"]:
            pytest.xfail(text)
        pytest.fail(text, pytrace=False)
