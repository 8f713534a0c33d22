"""The pytest plugin, end to end with pytester: same verdict and report as the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

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
            "--api-key",
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
    result.stdout.fnmatch_lines(["*--base-url is empty (an unset CI variable?)*"])
    assert "ERROR" not in result.stdout.str()
