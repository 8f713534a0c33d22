from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from conformance.contract import Contract, load_contract


@pytest.fixture(scope="session")
def deepseek() -> Contract:
    return load_contract(profile="deepseek")


@pytest.fixture(scope="session")
def literal() -> Contract:
    return load_contract(profile="literal")


@pytest.fixture
def serve() -> Iterator[Callable[[Any], str]]:
    """Start ASGI apps on real loopback sockets (the reference server's own
    ``serve_in_thread``); returns a function that starts one and gives its URL."""
    from conformance.reference import serve_in_thread

    with contextlib.ExitStack() as stack:
        yield lambda app: stack.enter_context(serve_in_thread(app))


#: Set by .ci/run: a skipped test fails instead (a clone must run everything, with zero skips).
FORBID_SKIPS = "CONFORMANCE_TESTS_FORBID_SKIPS"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.skipped and not hasattr(report, "wasxfail") and os.environ.get(FORBID_SKIPS):
        report.outcome = "failed"
        report.longrepr = f"skipped, and ${FORBID_SKIPS} forbids skips: {report.longrepr}"
    return report
