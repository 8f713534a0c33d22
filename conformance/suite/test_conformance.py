"""One test per check: it passes, fails with the rendered failures, or is skipped with why.

A SHOULD failure is an expected failure (xfail) unless ``--conformance-strict``: the verdict is
the CLI's, which fails only on MUST.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance._util import printable
from conformance.checks import CHECKS
from conformance.report import render_check


@pytest.mark.parametrize("check_id", list(CHECKS))
def test_check(check_id: str, conformance_run: dict[str, Any]) -> None:
    check = next(c for c in conformance_run["report"]["checks"] if c["id"] == check_id)
    if check["status"] == "skip":
        reasons = "; ".join(check.get("skip_reasons") or []) or "no exchange applied"
        pytest.skip(printable(f"{check_id}: {reasons}"))
    if check["status"] == "error":
        errors = printable(str(check.get("errors")))
        pytest.fail(f"{check_id}: the check itself failed: {errors}", pytrace=False)
    if check["status"] == "fail":
        text = printable(render_check(check, limit=10))  # a server's words: no ESC, no bidi
        if check["severity"] != "MUST" and not conformance_run["strict"]:
            pytest.xfail(text)
        pytest.fail(text, pytrace=False)
