"""The pytest plugin, end to end with pytester: same verdict and report as the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.checks import CHECKS
from conformance.reference import DEFAULT_API_KEY, create_app, serve_in_thread
from tests.helpers import cli, load_report


def test_plugin_is_registered_and_harmless(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        "def test_loaded(pytestconfig):\n"
        "    assert pytestconfig.pluginmanager.has_plugin('conformance')\n"
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)


def _statuses(path: Path) -> tuple[str, dict[str, str]]:
    report = load_report(path)
    return report["verdict"], {c["id"]: c["status"] for c in report["checks"]}


def test_the_suite_gives_the_cli_verdict_and_report(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    plugin_dir, cli_dir = tmp_path / "plugin", tmp_path / "cli"
    result = pytester.runpytest(
        "--pyargs",
        "conformance.suite",
        "--conformance-seed",
        "4",
        "--conformance-report-dir",
        str(plugin_dir),
        "-p",
        "no:cacheprovider",
    )
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0 and outcomes["passed"] >= 30
    result.stdout.fnmatch_lines(["*verdict: pass; * exchanges, * requests, * tokens, seed 4"])
    code, _, _ = cli("run", "--seed", "4", "--report-dir", str(cli_dir))
    assert code == 0
    assert _statuses(plugin_dir) == _statuses(cli_dir)


def test_a_broken_server_fails_the_check_test_readably(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    with serve_in_thread(create_app(faults=["no-done", "usage-chunk"])) as url:
        result = pytester.runpytest(
            "--pyargs",
            "conformance.suite",
            "--base-url",
            url,
            "--conformance-api-key",
            DEFAULT_API_KEY,
            "--conformance-seed",
            "2",
            "--conformance-max-examples",
            "1",
            "--conformance-report-dir",
            str(tmp_path),
            "-p",
            "no:cacheprovider",
        )
    outcomes = result.parseoutcomes()
    assert outcomes["failed"] == 1 and outcomes["xfailed"] == 1
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*test_check?STREAM-DONE-001?*",
            "STREAM-DONE-001 (MUST, level streaming): data: ?DONE? comes exactly once, last",
            "- the stream ended without data: ?DONE?; clients wait for it or hang",
            '  reproduce: curl -sS -N -X POST * -H "Authorization: Bearer $CONFORMANCE_API_KEY" *',
        ]
    )
    assert DEFAULT_API_KEY not in result.stdout.str()


def test_fixtures_for_providers_own_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from conformance.exchange import Exchange, Request, Response

        def test_my_recorded_error(conformance_contract, conformance_check_exchange):
            assert conformance_contract.profile.name == "deepseek"
            body = b'{"error": {"message": "no", "type": "x", "param": null, "code": null}}'
            exchange = Exchange(
                id="mine",
                request=Request.create(body={"model": "m", "messages": []}),
                response=Response(status=400, headers=(("Content-Type", "application/json"),), body=body),
                expectation="reject",
            )
            result = conformance_check_exchange(exchange)
            assert {k for k, o in result.outcomes.items() if o.status == "fail"} == set()
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_an_empty_base_url_stops_the_session_in_one_line(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--pyargs", "conformance.suite", "--base-url", " ")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(["*the base URL is empty (*an unset CI variable?)*"])
    assert "ERROR" not in result.stdout.str()


def test_a_project_with_its_own_model_and_api_key_options_runs_cleanly(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(
        """
        def pytest_addoption(parser):
            parser.addoption("--model", default="mine")
            parser.addoption("--api-key", default="mine")
        """
    )
    pytester.makepyfile(
        "def test_mine(pytestconfig):\n"
        "    assert pytestconfig.getoption('--model') == 'mine'\n"
        "    assert pytestconfig.pluginmanager.has_plugin('conformance')\n"
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--conformance-profile", "nope"], "*conformance: unknown profile 'nope'*"),
        (["--conformance-seed", "soon"], "*conformance: --conformance-seed 'soon' is not a*"),
        (
            ["--conformance-header", "no colon"],
            "*conformance: -H/--header: a header is written 'Name: value'*",
        ),
        (["--base-url", "http://127.0.0.1:9"], "*conformance: *127.0.0.1:9*"),
        (
            ["--conformance-report-dir", "/dev/null/reports"],
            "*conformance: --conformance-report-dir /dev/null/reports: cannot write there*",
        ),
    ],
)
def test_usage_errors_are_one_line_not_an_error_per_test(
    pytester: pytest.Pytester, args: list[str], line: str
) -> None:
    result = pytester.runpytest("--pyargs", "conformance.suite", "-p", "no:cacheprovider", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines([line])
    assert " ERROR " not in result.stdout.str() and "Traceback" not in result.stdout.str()


def test_options_fall_back_to_their_environment_variables(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reference server that wants the key in ``api-key``: the key, its header and the base
    URL all come from CONFORMANCE_* variables."""
    with serve_in_thread(create_app(auth_header="api-key")) as url:
        monkeypatch.setenv("CONFORMANCE_BASE_URL", url)
        monkeypatch.setenv("CONFORMANCE_API_KEY", DEFAULT_API_KEY)
        monkeypatch.setenv("CONFORMANCE_AUTH_HEADER", "api-key")
        monkeypatch.setenv("CONFORMANCE_MAX_EXAMPLES", "1")
        monkeypatch.setenv("CONFORMANCE_REPORT_DIR", str(tmp_path))
        result = pytester.runpytest("--pyargs", "conformance.suite", "-p", "no:cacheprovider")
    assert result.parseoutcomes().get("failed", 0) == 0, result.stdout.str()[-2000:]
    assert load_report(tmp_path)["target"]["base_url"] == url


def test_k_sends_only_the_cases_of_the_selected_checks(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    result = pytester.runpytest(
        "--pyargs",
        "conformance.suite",
        "-k",
        "STREAM-DONE",
        "--conformance-report-dir",
        str(tmp_path),
        "-p",
        "no:cacheprovider",
    )
    result.assert_outcomes(passed=1, deselected=len(CHECKS) - 1)
    report = load_report(tmp_path)
    assert report["exchanges"] and all(e["stream"] for e in report["exchanges"])
    done = next(c for c in report["checks"] if c["id"] == "STREAM-DONE-001")
    assert done["status"] == "pass"


def test_no_auth_is_an_option_of_the_plugin_too(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """A deployment without keys: the option (or $CONFORMANCE_NO_AUTH) makes AUTH-001 not
    applicable, as ``run --no-auth`` does; without it the keyless server fails AUTH-001."""
    with serve_in_thread(create_app(faults=["no-auth"])) as url:
        common = ("--pyargs", "conformance.suite", "--base-url", url, "-p", "no:cacheprovider")
        common += ("--conformance-max-examples", "0", "--conformance-checks", "AUTH-001")
        result = pytester.runpytest(*common, "--conformance-report-dir", str(tmp_path / "no"))
        assert result.parseoutcomes().get("failed") == 1
        result = pytester.runpytest(
            *common, "--conformance-no-auth", "--conformance-report-dir", str(tmp_path / "yes")
        )
        assert result.parseoutcomes().get("failed", 0) == 0
    auth = next(c for c in load_report(tmp_path / "yes")["checks"] if c["id"] == "AUTH-001")
    assert auth["applicable"] is False


def _has_pytest_base_url() -> bool:
    from importlib.metadata import PackageNotFoundError, version

    try:
        version("pytest-base-url")
    except PackageNotFoundError:
        return False
    return True


def _suite(url: str, report_dir: Path, *plugins: str) -> tuple[str, ...]:
    """The arguments of a session of the suite against ``url``: one check (STREAM-DONE-001),
    no drawn cases, the key of the reference server, ``plugins`` as ``-p`` options."""
    return (
        *(flag for name in (*plugins, "no:cacheprovider") for flag in ("-p", name)),
        "--pyargs", "conformance.suite",
        "--conformance-api-key", DEFAULT_API_KEY,
        "--conformance-max-examples", "0",
        "--conformance-report-dir", str(report_dir),
        "-k", "STREAM-DONE",
    )  # fmt: skip


def test_pytest_base_url_is_in_the_test_extra() -> None:
    """The coexistence tests below need it: a clone that lacks it must say so, not skip."""
    assert _has_pytest_base_url(), "pip install -e '.[test]' installs pytest-base-url"


def test_with_pytest_base_url_installed_the_session_starts_and_its_base_url_is_read(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    """pytest-base-url owns --base-url (Selenium and Playwright users have it): every session
    died at start-up with 'option dest base_url already used'; now its value is read."""
    with serve_in_thread(create_app()) as url:
        result = pytester.runpytest(*_suite(url, tmp_path, "base_url"), "--base-url", url)
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["baseurl: *", "*conformance*", "verdict: pass*"])
    assert load_report(tmp_path)["target"]["base_url"] == url


def test_with_pytest_base_url_its_ini_value_is_read(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    with serve_in_thread(create_app()) as url:
        ini = pytester.makeini(f"[pytest]\nbase_url = {url}\n")
        result = pytester.runpytest("-c", str(ini), *_suite(url, tmp_path, "base_url"))
    assert result.ret == 0, result.stdout.str()
    assert load_report(tmp_path)["target"]["base_url"] == url


def test_a_conftest_that_owns_base_url_and_model_keeps_them(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    """A project's own --base-url is its own: the session starts, the project's value is not
    read as the endpoint to check, --conformance-base-url is."""
    pytester.makeconftest(
        """
        def pytest_addoption(parser):
            parser.addoption("--base-url", default="http://app.invalid")
            parser.addoption("--model", default="mine")
        """
    )
    pytester.makepyfile(
        "def test_mine(pytestconfig):\n"
        "    assert pytestconfig.getoption('--base-url') == 'http://app.invalid'\n"
        "    assert pytestconfig.getoption('--model') == 'mine'\n"
    )
    result = pytester.runpytest("-p", "no:base_url", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    with serve_in_thread(create_app()) as url:
        result = pytester.runpytest(
            *_suite(url, tmp_path, "no:base_url"), "--conformance-base-url", url
        )
    assert result.ret == 0, result.stdout.str()
    assert load_report(tmp_path)["target"]["base_url"] == url


def test_with_neither_base_url_is_the_plugins_own(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("-p", "no:base_url", "--help")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*--conformance-base-url*", "*--base-url*the same as*"])
    result = pytester.runpytest(
        "-p", "no:base_url", "--pyargs", "conformance.suite", "--base-url", "ftp://x"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(["*conformance: base_url (--base-url) 'ftp://x' is not*"])


def test_xdist_sends_the_run_once_and_prints_the_verdict(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    """Each worker ran the whole suite (258 requests for 129 under -n 2, two writers of one
    reports/) and the verdict line was missing: the controller now runs it once."""
    common = ("-p", "no:cacheprovider", "--pyargs", "conformance.suite", "--conformance-seed", "3")
    serial = pytester.runpytest(*common, "--conformance-report-dir", str(tmp_path / "serial"))
    parallel = pytester.runpytest(
        *common, "-n", "2", "--conformance-report-dir", str(tmp_path / "parallel")
    )
    assert serial.ret == parallel.ret == 0, parallel.stdout.str()
    parallel.stdout.fnmatch_lines(["*- conformance -*", "verdict: pass; * requests, *"])
    once, twice = load_report(tmp_path / "serial"), load_report(tmp_path / "parallel")
    assert twice["run"]["requests_sent"] == once["run"]["requests_sent"]
    assert twice["run"]["plan_fingerprint"] == once["run"]["plan_fingerprint"]
    parallel.assert_outcomes(
        passed=sum(c["status"] == "pass" for c in once["checks"]),
        skipped=sum(c["status"] == "skip" for c in once["checks"]),
    )


def test_xdist_with_an_unreachable_target_is_one_line_and_exit_4(
    pytester: pytest.Pytester,
) -> None:
    result = pytester.runpytest(
        "-n",
        "2",
        "-p",
        "no:cacheprovider",
        "--pyargs",
        "conformance.suite",
        "--conformance-base-url",
        "http://127.0.0.1:9",
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    text = result.stdout.str() + result.stderr.str()
    assert "INTERNALERROR" not in text and "crashitem" not in text
    assert text.count("conformance: http://127.0.0.1:9") == 1, text


def test_the_plugin_and_the_cli_draw_the_same_cases_for_a_seed(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    """A pytest failure can be replayed with the CLI: the same seed plans the same bodies,
    whatever local modules (a project's own, full of constants Hypothesis could mine) the
    session loaded."""
    pytester.makeconftest('WORDS = ["assistant", "gpt-4o", 0.25, 4096, "tool_calls"]\n')
    with serve_in_thread(create_app()) as url:
        result = pytester.runpytest(
            "-p",
            "no:cacheprovider",
            "--pyargs",
            "conformance.suite",
            "--conformance-base-url",
            url,
            "--conformance-api-key",
            DEFAULT_API_KEY,
            "--conformance-seed",
            "7",
            "--conformance-report-dir",
            str(tmp_path / "plugin"),
        )
        assert result.ret == 0, result.stdout.str()
        code, _, _ = cli(
            "run",
            "--base-url",
            url,
            "--api-key",
            DEFAULT_API_KEY,
            "--seed",
            "7",
            "--report-dir",
            str(tmp_path / "cli"),
            "--examples-db",
            str(tmp_path / "none.json"),
        )
    assert code == 0
    plugin, by_cli = load_report(tmp_path / "plugin"), load_report(tmp_path / "cli")
    assert plugin["run"]["plan_fingerprint"] == by_cli["run"]["plan_fingerprint"]
    bodies = {e["id"]: e["request"].get("body") for e in plugin["exchanges"]}
    assert bodies == {e["id"]: e["request"].get("body") for e in by_cli["exchanges"]}


def test_check_exchange_takes_the_recorded_parts_and_renders_as_the_cli(
    pytester: pytest.Pytester,
) -> None:
    """It needed Exchange, Request and Response objects built by hand, and printed failures
    as dataclass reprs."""
    pytester.makepyfile(
        """
        import json

        def test_a_stream_without_done(conformance_check_exchange):
            chunk = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m",
                     "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"},
                                  "finish_reason": "stop"}]}
            result = conformance_check_exchange(
                request={"model": "m", "messages": [{"role": "user", "content": "Hi"}],
                         "stream": True},
                response=("data: " + json.dumps(chunk) + "\\n\\n").encode(),
                headers={"Content-Type": "text/event-stream"},
            )
            assert not result.failures, result.render()

        def test_a_recorded_file(conformance_check_exchange, tmp_path):
            path = tmp_path / "answer.json"
            path.write_text('{"object": 42}')
            result = conformance_check_exchange(path)
            assert not result.failures, result.render()
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*[[]STREAM-DONE-001[]] *",
            "*[[]BODY-SCHEMA-001[]] 42 is not of type 'string'",
            "*  where: at /object",
        ]
    )
