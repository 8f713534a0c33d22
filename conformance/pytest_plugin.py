"""The conformance pytest plugin (entry point ``pytest11: conformance``).

Run the whole suite against an endpoint, one test per check::

    pytest --pyargs conformance.suite --base-url https://api.deepseek.com \
        --conformance-model deepseek-chat

(the key from ``--conformance-api-key`` or ``$CONFORMANCE_API_KEY``; with no base URL the
embedded reference server is checked). Every option is prefixed, so a project's own
``--model`` or ``--api-key`` never clashes, and each falls back to its ``CONFORMANCE_*``
environment variable. The base URL is ``--conformance-base-url``; ``--base-url`` too, but
only when no other plugin or conftest owns that option: with pytest-base-url installed, its
``--base-url`` (and ``base_url`` ini value) is read; one of a conftest's own is left alone. The verdict and ``report.json`` are the CLI's. Fixtures let
providers write their own tests on the same machinery: ``conformance_contract``,
``conformance_run`` (the session's checked run), ``conformance_check_exchange``.

Like hypothesis' plugin it imports nothing heavy at import time: pytest loads it in every
session of every project where the package is installed.
"""

from __future__ import annotations

import argparse
import functools
import json
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
BASE_URL = "--conformance-base-url"
#: The shared spelling, registered only when nothing else owns it (pytest-base-url, a conftest).
SHARED_BASE_URL = "--base-url"
API_KEY = "--conformance-api-key"
MODEL = "--conformance-model"
REASONING_MODEL = "--conformance-reasoning-model"
AUTH_HEADER = "--conformance-auth-header"
HEADER = "--conformance-header"
PROFILE = "--conformance-profile"
REPORT_DIR = "--conformance-report-dir"
MAX_EXAMPLES = "--conformance-max-examples"
SEED = "--conformance-seed"
STRICT = "--conformance-strict"
CHECKS_OPTION = "--conformance-checks"
NO_AUTH = "--conformance-no-auth"
#: The environment variable each option falls back to (``--conformance-model`` ->
#: ``CONFORMANCE_MODEL``).
ENVIRONMENT = {
    API_KEY: "CONFORMANCE_API_KEY",
    MODEL: "CONFORMANCE_MODEL",
    REASONING_MODEL: "CONFORMANCE_REASONING_MODEL",
    AUTH_HEADER: "CONFORMANCE_AUTH_HEADER",
    PROFILE: "CONFORMANCE_PROFILE",
    REPORT_DIR: "CONFORMANCE_REPORT_DIR",
    MAX_EXAMPLES: "CONFORMANCE_MAX_EXAMPLES",
    SEED: "CONFORMANCE_SEED",
}


class SessionRun(TypedDict):
    """The session's live run: its report (report.json's content), where that was written, and
    whether SHOULD failures fail too."""

    report: Report
    path: Path
    strict: bool


#: The session's run and its report, computed once, shared by every test of the suite.
RUN_KEY = pytest.StashKey["SessionRun"]()
#: The check ids whose tests were collected (after ``-k`` and ``-m``): the run sends only the
#: cases they need.
COLLECTED_KEY = pytest.StashKey[frozenset[str]]()
#: Whether ``--base-url`` is this plugin's (registered when nothing else owned it).
OWNS_BASE_URL = pytest.StashKey[bool]()
#: The module of the one-test-per-check suite, and its file (as xdist's test ids name it).
SUITE_MODULE = "conformance.suite.test_conformance"
SUITE_FILE = "test_conformance.py"
#: xdist: where the controller writes the session's run for its workers to read.
RUN_FILE_KEY = pytest.StashKey[Path]()
RUN_FILE_INPUT = "conformance_run_file"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup(GROUP, "conformance: contract-conformance of Chat Completions APIs")
    group.addoption(
        BASE_URL,
        default=None,
        help="the endpoint to check (default: $CONFORMANCE_BASE_URL, else the embedded "
        "reference server)",
    )
    group.addoption(API_KEY, default=None, help="the key (default: $CONFORMANCE_API_KEY)")
    group.addoption(
        MODEL, default=None, help="the model to pin (default: the first of GET /models)"
    )
    group.addoption(REASONING_MODEL, default=None, help="the model of the reasoning cases")
    group.addoption(
        AUTH_HEADER,
        default=None,
        help="the header the key goes in (default: the document's security scheme's, else "
        "Authorization, as 'Bearer KEY')",
    )
    group.addoption(
        HEADER,
        action="append",
        default=[],
        help="'Name: value' sent with every request (repeatable; $VAR read from the environment)",
    )
    group.addoption(PROFILE, default=None, help="contract profile (default: deepseek)")
    group.addoption(REPORT_DIR, default=None, help="where report.json goes (default: reports/)")
    group.addoption(MAX_EXAMPLES, default=None, help="property-based cases (default: 5)")
    group.addoption(SEED, default=None, help="the seed of generated cases (default 0)")
    group.addoption(STRICT, action="store_true", help="SHOULD failures fail their tests too")
    group.addoption(
        NO_AUTH,
        action="store_true",
        help="the deployment takes no key (also $CONFORMANCE_NO_AUTH=1): no key is sent and "
        "the contract's security requirements are dropped",
    )
    group.addoption(
        CHECKS_OPTION,
        action="append",
        default=[],
        help="run only these checks (ids or categories, comma separated); -k works too",
    )


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> Any:
    """Once every plugin and the initial conftests have added their options (and before the
    command line is read), ``--base-url`` as well, unless something else owns it already: the
    session never dies of two plugins registering one option."""
    result = yield
    try:
        parser.getgroup(GROUP).addoption(
            SHARED_BASE_URL, dest="base_url", default=None, help=f"the same as {BASE_URL}"
        )
    except (ValueError, argparse.ArgumentError):
        early_config.stash[OWNS_BASE_URL] = False
    else:
        early_config.stash[OWNS_BASE_URL] = True
    return result


def _base_url(config: pytest.Config) -> str | None:
    """``--conformance-base-url``, else ``--base-url`` when it is ours or pytest-base-url's
    (with its ``base_url`` ini value), else ``$CONFORMANCE_BASE_URL``."""
    value = config.getoption(BASE_URL)
    if value is None and config.stash.get(OWNS_BASE_URL, False):
        value = config.getoption("base_url", None)
    if value is None and config.pluginmanager.hasplugin("base_url"):
        value = config.getoption("base_url", None) or config.getini("base_url") or None
    if value is None:
        value = os.environ.get("CONFORMANCE_BASE_URL")
    return value if value is None else str(value)


def _option(config: pytest.Config, name: str, default: Any = None) -> Any:
    """An option's value: the command line, else its ``CONFORMANCE_*`` variable, else
    ``default``."""
    value = config.getoption(name)
    if value is None and name in ENVIRONMENT:
        value = os.environ.get(ENVIRONMENT[name])
    return default if value is None else value


def _number(config: pytest.Config, name: str, default: int | None) -> int | None:
    value = _option(config, name, default)
    try:
        return None if value is None else int(value)
    except ValueError:
        raise _usage(f"{name} {value!r} is not a whole number") from None


def _usage(message: str) -> BaseException:
    """What a usage error of the plugin becomes: the session stops with one line."""
    return pytest.exit.Exception(f"conformance: {message}", returncode=pytest.ExitCode.USAGE_ERROR)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Remember which checks' tests survived ``-k``/``-m``: their cases are all the run
    sends."""
    collected = set()
    for item in session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        module = getattr(getattr(item, "module", None), "__name__", None)
        if module == SUITE_MODULE and "check_id" in params:
            collected.add(str(params["check_id"]))
    session.config.stash[COLLECTED_KEY] = frozenset(collected)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "conformance_check(check_id): a test that reports one conformance check"
    )
    if _is_xdist_controller(config):
        import tempfile

        where = Path(tempfile.mkdtemp(prefix="conformance-xdist-"))
        config.stash[RUN_FILE_KEY] = where / "run.json"


def pytest_unconfigure(config: pytest.Config) -> None:
    run_file = config.stash.get(RUN_FILE_KEY, None)
    if run_file is not None:
        import shutil

        shutil.rmtree(run_file.parent, ignore_errors=True)


def _is_xdist_controller(config: pytest.Config) -> bool:
    """Whether this process hands the tests to xdist workers (``-n N``, N > 0)."""
    if hasattr(config, "workerinput") or not config.pluginmanager.hasplugin("xdist"):
        return False
    numprocesses = config.getoption("numprocesses", None)
    return bool(numprocesses) and config.getoption("dist", "no") != "no"


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist: tell each worker where the controller's run will be."""
    run_file = node.config.stash.get(RUN_FILE_KEY, None)
    if run_file is not None:
        node.workerinput[RUN_FILE_INPUT] = str(run_file)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """xdist: the controller runs the suite's cases once, before any test is scheduled, when
    the first worker's collection holds the suite's tests; every worker reads that run. Each
    worker ran them all before (twice the requests for ``-n 2``), and an unreachable target
    ended in an INTERNALERROR."""
    config = node.config
    run_file = config.stash.get(RUN_FILE_KEY, None)
    if run_file is None or RUN_KEY in config.stash:
        return
    collected = frozenset(
        item.rsplit("[", 1)[1].rstrip("]")
        for item in ids
        if SUITE_FILE in item and "::test_check[" in item
    )
    if not collected:
        return  # the suite is not run here: a worker that needs the fixture runs it
    from .contract import load_contract

    config.stash[COLLECTED_KEY] = collected
    try:
        contract = load_contract(profile=_option(config, PROFILE, "deepseek"))
    except Exception as exc:  # ConformanceError: one line
        raise _usage(str(exc)) from None
    data = _run(config, contract)
    config.stash[RUN_KEY] = data
    run_file.write_text(
        json.dumps({"report": data["report"], "path": str(data["path"]), "strict": data["strict"]}),
        encoding="utf-8",
    )


@pytest.fixture(scope="session")
def conformance_contract(pytestconfig: pytest.Config) -> Contract:
    """The effective contract of ``--conformance-profile``."""
    from ._errors import ConformanceError
    from .contract import load_contract

    try:
        return load_contract(profile=_option(pytestconfig, PROFILE, "deepseek"))
    except ConformanceError as exc:
        raise _usage(str(exc)) from None


@pytest.fixture(scope="session")
def conformance_check_exchange(conformance_contract: Contract) -> Callable[..., ExchangeResult]:
    """Check one exchange of your own against the contract; ``result.render()`` writes its
    failures as the CLI does. Give it an :class:`~conformance.exchange.Exchange`, a recorded
    file (raw HTTP, a bare body, a HAR of one exchange), or the parts::

        result = conformance_check_exchange(
            request={"model": "m", "messages": [...], "stream": True},  # the JSON body
            response=b"data: {...}\\n\\ndata: [DONE]\\n\\n",  # bytes, or a dict (JSON)
            status=200,
            headers={"Content-Type": "text/event-stream"},  # default: none recorded
        )
        assert not result.failures, result.render()
    """
    return functools.partial(_check_one, conformance_contract)


def _check_one(
    contract: Contract,
    exchange: Exchange | str | Path | None = None,
    *,
    request: Any = None,
    response: bytes | str | dict[str, Any] | list[Any] | None = None,
    status: int = 200,
    headers: dict[str, str] | list[tuple[str, str]] | None = None,
    expectation: str = "accept",
) -> ExchangeResult:
    from .checks import check_exchange
    from .exchange import Exchange, Request, build_exchange, read_exchanges

    operation = contract.operation()
    if isinstance(exchange, str | Path):
        found = list(
            read_exchanges(
                str(exchange), asks_stream=lambda body: contract.wants_stream(body, operation)
            )
        )
        if len(found) != 1:
            raise ValueError(
                f"{exchange} holds {len(found)} exchanges; give one (conformance.validate "
                "checks them all)"
            )
        exchange = found[0]
    elif exchange is None:
        if response is None:
            raise TypeError("give an Exchange, a recorded file, or response= (and request=)")
        if isinstance(response, dict | list):
            body = json.dumps(response).encode()
        else:
            body = response.encode() if isinstance(response, str) else bytes(response)
        made = request if isinstance(request, Request) else Request.create(body=request)
        pairs = list(headers.items()) if isinstance(headers, dict) else headers
        exchange = build_exchange(
            id="exchange",
            request=made,
            status=status,
            headers=pairs,
            body=body,
            asked_stream=contract.wants_stream(made.body, operation),
            expectation=expectation,
        )
    elif not isinstance(exchange, Exchange):
        raise TypeError(f"an Exchange or a file path, not {type(exchange).__name__}")
    return check_exchange(contract, exchange, operation=operation)


def _run(config: pytest.Config, contract: Contract) -> SessionRun:
    from ._errors import ConformanceError
    from ._session import live_report
    from ._util import env_flag
    from .checks import CHECKS
    from .plan import select_checks
    from .report import ensure_writable, write_all
    from .runner import RunConfig, Transport, parse_header

    strict = config.getoption(STRICT)
    base_url = _base_url(config)
    if base_url is not None and not base_url.strip():
        raise _usage(
            f"the base URL is empty ({BASE_URL}, --base-url or $CONFORMANCE_BASE_URL: an unset "
            "CI variable?); give the endpoint's URL, or leave it out to check the embedded "
            "reference server"
        )
    report_dir = _option(config, REPORT_DIR, "reports")
    try:
        ensure_writable(report_dir)
    except OSError as exc:
        raise _usage(
            f"{REPORT_DIR} {report_dir}: cannot write there ({exc.strerror or exc})"
        ) from None
    try:
        selected = select_checks(config.getoption(CHECKS_OPTION), [], CHECKS)
        collected = config.stash.get(COLLECTED_KEY, frozenset())
        if collected and collected != set(CHECKS):
            selected = collected if selected is None else selected & collected
        try:
            no_auth = bool(config.getoption(NO_AUTH)) or env_flag("CONFORMANCE_NO_AUTH")
        except ValueError as exc:
            raise _usage(str(exc)) from None
        if no_auth:
            contract = contract.without_auth()
        transport = Transport(
            auth_header=_option(config, AUTH_HEADER, ""),
            headers=tuple(parse_header(h, os.environ) for h in config.getoption(HEADER)),
        )
        _, report = live_report(
            contract,
            RunConfig(
                base_url=base_url or "",
                api_key=None if no_auth else _option(config, API_KEY),
                no_auth=no_auth,
                model=_option(config, MODEL),
                reasoning_model=_option(config, REASONING_MODEL),
                max_examples=_number(config, MAX_EXAMPLES, 5) or 0,
                seed=_number(config, SEED, None),
                transport=transport,
                checks=selected,
            ),
            strict=strict,
        )
    except ConformanceError as exc:
        # a bad option, a refused key, an unreachable target: one line, not an error per test
        raise _usage(str(exc)) from None
    path = write_all(report, report_dir)["report.json"]
    return {"report": report, "path": path, "strict": strict}


@pytest.fixture(scope="session")
def conformance_run(pytestconfig: pytest.Config, conformance_contract: Contract) -> SessionRun:
    """The session's live run (sent once): ``report`` (report.json's content) and ``path``."""
    stash = pytestconfig.stash
    if RUN_KEY not in stash:
        shared = getattr(pytestconfig, "workerinput", {}).get(RUN_FILE_INPUT)
        if shared and Path(shared).is_file():  # an xdist worker: the controller's run
            data = json.loads(Path(shared).read_text(encoding="utf-8"))
            data["path"] = Path(data["path"])
            stash[RUN_KEY] = data
        else:
            stash[RUN_KEY] = _run(pytestconfig, conformance_contract)
    return stash[RUN_KEY]


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    data = config.stash.get(RUN_KEY, None)
    if data is None or hasattr(config, "workerinput"):
        return
    report = data["report"]
    run = report["run"]
    terminalreporter.write_sep("-", "conformance")
    terminalreporter.write_line(
        f"verdict: {report['verdict']}; {report['summary']['exchanges']} exchanges, "
        f"{run['requests_sent']} requests, {run['tokens_spent']} tokens, seed {report['seed']}"
    )
    terminalreporter.write_line(f"report: {data['path']}")
