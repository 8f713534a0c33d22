"""The conformance pytest plugin (entry point ``pytest11: conformance``).

Run the whole suite against an endpoint, one test per check::

    pytest --pyargs conformance.suite --base-url https://api.deepseek.com --model deepseek-chat

(the key from ``--api-key`` or ``$CONFORMANCE_API_KEY``; with no ``--base-url`` the embedded
reference server is checked). The verdict and ``report.json`` are the CLI's. Fixtures let
providers write their own tests on the same machinery: ``conformance_contract``,
``conformance_run`` (the session's checked run), ``conformance_check_exchange``.

Like hypothesis' plugin it imports nothing heavy at import time: pytest loads it in every
session of every project where the package is installed.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable

    from .checks import ExchangeResult
    from .contract import Contract
    from .exchange import Exchange
    from .report import Report

__all__ = ["RUN_KEY", "SessionRun"]

GROUP = "conformance"
BASE_URL = "--base-url"
API_KEY = "--api-key"
MODEL = "--model"
PROFILE = "--conformance-profile"
REPORT_DIR = "--conformance-report-dir"
MAX_EXAMPLES = "--conformance-max-examples"
SEED = "--conformance-seed"
STRICT = "--conformance-strict"


class SessionRun(TypedDict):
    """The session's live run: its report (report.json's content), where that was written, and
    whether SHOULD failures fail too."""

    report: Report
    path: Path
    strict: bool


#: The session's run and its report, computed once, shared by every test of the suite.
RUN_KEY = pytest.StashKey["SessionRun"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup(GROUP, "conformance: contract-conformance of Chat Completions APIs")
    # pytest-base-url defines the same option; cooperate with it when it is installed.
    with contextlib.suppress(ValueError):
        group.addoption(
            BASE_URL,
            default=None,
            help="the endpoint to check (default: the embedded reference server)",
        )
    group.addoption(API_KEY, default=None, help="bearer key (default: $CONFORMANCE_API_KEY)")
    group.addoption(
        MODEL, default=None, help="the model to pin (default: the first of GET /models)"
    )
    group.addoption(PROFILE, default="deepseek", help="contract profile (default: deepseek)")
    group.addoption(
        REPORT_DIR, default="reports", help="where report.json goes (default: reports/)"
    )
    group.addoption(MAX_EXAMPLES, type=int, default=5, help="property-based cases (default: 5)")
    group.addoption(SEED, type=int, default=None, help="makes case generation repeatable")
    group.addoption(STRICT, action="store_true", help="SHOULD failures fail their tests too")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "conformance_check(check_id): a test that reports one conformance check"
    )


@pytest.fixture(scope="session")
def conformance_contract(pytestconfig: pytest.Config) -> Contract:
    """The effective contract of ``--conformance-profile``."""
    from .contract import load_contract

    return load_contract(profile=pytestconfig.getoption(PROFILE))


@pytest.fixture(scope="session")
def conformance_check_exchange(
    conformance_contract: Contract,
) -> Callable[[Exchange], ExchangeResult]:
    """Check one exchange of your own against the contract."""
    from .checks import check_exchange

    return lambda exchange: check_exchange(conformance_contract, exchange)


def _run(config: pytest.Config, contract: Contract) -> SessionRun:
    from ._session import live_report
    from .report import write_all
    from .runner import API_KEY_VARIABLE, RunConfig

    strict = config.getoption(STRICT)
    base_url = config.getoption(BASE_URL)
    if base_url is not None and not base_url.strip():
        pytest.exit(
            "conformance: --base-url is empty (an unset CI variable?); give the endpoint's URL, "
            "or leave the option out to check the embedded reference server",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )
    _, report = live_report(
        contract,
        RunConfig(
            base_url=base_url or "",
            api_key=config.getoption(API_KEY) or os.environ.get(API_KEY_VARIABLE),
            model=config.getoption(MODEL),
            max_examples=config.getoption(MAX_EXAMPLES),
            seed=config.getoption(SEED),
        ),
        strict=strict,
    )
    path = write_all(report, config.getoption(REPORT_DIR))["report.json"]
    return {"report": report, "path": path, "strict": strict}


@pytest.fixture(scope="session")
def conformance_run(pytestconfig: pytest.Config, conformance_contract: Contract) -> SessionRun:
    """The session's live run (sent once): ``report`` (report.json's content) and ``path``."""
    stash = pytestconfig.stash
    if RUN_KEY not in stash:
        stash[RUN_KEY] = _run(pytestconfig, conformance_contract)
    return stash[RUN_KEY]


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    data = config.stash.get(RUN_KEY, None)
    if data is None:
        return
    report = data["report"]
    run = report["run"]
    terminalreporter.write_sep("-", "conformance")
    terminalreporter.write_line(
        f"verdict: {report['verdict']}; {report['summary']['exchanges']} exchanges, "
        f"{run['requests_sent']} requests, {run['tokens_spent']} tokens, seed {report['seed']}"
    )
    terminalreporter.write_line(f"report: {data['path']}")
