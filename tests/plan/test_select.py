"""Choosing what runs: phases, checks and the cases they need, early stops, a rate limit and
a dry run that sends nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.checks import CHECKS
from conformance.contract import load_contract
from conformance.plan import PlanConfig, needed_by, plan_cases, select_checks
from tests.helpers import cli, free_port, load_report, run_against


def _plan(**options: object) -> list:
    config = PlanConfig(**options)  # type: ignore[arg-type]
    contract = load_contract(profile="deepseek")
    return plan_cases(contract, config, model="deepseek-chat")


def test_phases_plan_only_their_cases(tmp_path: Path) -> None:
    code, out, _ = run_against(tmp_path, "--phases", "scenarios,auth")
    assert code == 0, out
    report = load_report(tmp_path)
    ids = {e["id"] for e in report["exchanges"]}
    assert ids and all(not i.startswith(("property-", "negative-", "example-")) for i in ids)
    assert "auth-missing" in ids and "plain" in ids
    # no negative was sent, so NEGATIVE-INPUT-001 judged nothing: no level on evidence unseen
    negative = next(c for c in report["checks"] if c["id"] == "NEGATIVE-INPUT-001")
    assert negative["status"] == "skip" and report["level"] is None


def test_a_phase_plans_the_same_cases_alone_and_among_all(monkeypatch: pytest.MonkeyPatch) -> None:
    """A phase not sent is not drawn either (--phases examples drew every positive and
    negative, seconds of Hypothesis, and dropped them); what a phase sends does not depend
    on the others."""
    from conformance.plan import _plan as planning
    from conformance.plan import parse_phases

    draws: list[bool] = []
    real = planning.generated_cases

    def counted(*args: object, **kwargs: object) -> object:
        draws.append(bool(kwargs.get("negative")))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(planning, "generated_cases", counted)
    assert _plan(phases=parse_phases("examples,scenarios,auth")) and draws == []
    _plan(phases=parse_phases("negative"))
    assert draws and all(draws)  # negatives only

    everything = _plan(max_examples=2)
    for phase, source in (
        ("examples", "example"),
        ("property", "property"),
        ("negative", "negative"),
    ):
        alone = _plan(max_examples=2, phases=parse_phases(phase))
        among = [c for c in everything if c.source == source]
        assert alone and [(c.name, c.body) for c in alone] == [(c.name, c.body) for c in among]


def test_checks_send_only_the_cases_they_need() -> None:
    streams = _plan(checks=frozenset({"STREAM-DONE-001"}))
    assert streams and all(c.stream for c in streams)
    tools = _plan(checks=frozenset({"TOOL-ARGS-001"}))
    assert tools and all("tools" in c.body for c in tools)
    negative = _plan(checks=frozenset({"NEGATIVE-INPUT-001"}))
    assert negative and all(c.expectation == "reject" for c in negative)
    everything = _plan()
    assert all(needed_by(c, CHECKS.values()) for c in everything), "no case is needed by none"


def test_checks_by_id_or_category_and_exclusions() -> None:
    assert select_checks([], [], CHECKS) is None
    logprobs = select_checks(["logprobs"], [], CHECKS)
    assert logprobs == {i for i in CHECKS if i.startswith("LOGPROBS-")}
    assert select_checks(["logprobs,stream-done-001"], ["LOGPROBS-BYTES-001"], CHECKS) == (
        logprobs - {"LOGPROBS-BYTES-001"}
    ) | {"STREAM-DONE-001"}
    assert "STREAM-DONE-001" not in (select_checks([], ["stream"], CHECKS) or ())
    # the levels `conformance checks` prints as headings select too (--checks streaming was
    # refused)
    streaming = select_checks(["streaming"], [], CHECKS)
    assert streaming == {i for i, c in CHECKS.items() if c.level == "streaming"}


def test_a_selected_run_judges_only_its_checks(tmp_path: Path) -> None:
    code, _, _ = run_against(tmp_path, "--checks", "STREAM-DONE-001", faults=("no-done",))
    report = load_report(tmp_path)
    statuses = {c["id"]: c["status"] for c in report["checks"]}
    assert code == 1 and statuses.pop("STREAM-DONE-001") == "fail"
    assert set(statuses.values()) == {"skip"}
    other = next(c for c in report["checks"] if c["id"] == "BODY-SCHEMA-001")
    assert other["skip_reasons"][0].startswith("not selected (--checks / --exclude-checks)")
    assert report["level"] is None


def test_max_failures_stops_early_and_lists_what_was_not_sent(tmp_path: Path) -> None:
    code, _, err = run_against(
        tmp_path, "--max-failures", "1", "--workers", "1", faults=("usage-total-wrong",)
    )
    report = load_report(tmp_path)
    assert code == 1 and report["run"]["cases_skipped"]
    assert len(report["exchanges"]) < report["run"]["cases_planned"]
    assert "note: --max-failures 1 stopped the run after 1 failing exchange(s)" in err
    assert report["run"]["stopped_by"] == "--max-failures 1"


def test_max_failures_names_itself_and_not_the_budget(tmp_path: Path) -> None:
    """It said "stopped after 4 failing exchange(s)" for --max-failures 3 (the exchanges in
    flight then) and advised raising --max-requests."""
    code, out, err = run_against(
        tmp_path, "--max-failures", "3", "--workers", "4", faults=("usage-total-wrong",)
    )
    assert code == 1
    assert "note: --max-failures 3 stopped the run after 3 failing exchange(s)" in err
    assert "raise --max-requests" not in out + err
    assert "--max-failures 3 stopped the run" in (tmp_path / "summary.md").read_text()


def test_a_rate_limited_run_still_passes(tmp_path: Path) -> None:
    code, out, _ = run_against(tmp_path, "--rate-limit", "1000/s", "--phases", "scenarios")
    assert "verdict:" in out and code in (0, 1)
    assert load_report(tmp_path)["exchanges"]


def test_a_dry_run_sends_nothing_and_needs_no_server(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    code, out, err = cli(
        "run", "--base-url", closed, "--dry-run", "--report-dir", str(tmp_path / "r")
    )
    assert code == 0, err
    assert out.startswith("dry run: nothing is sent\n")
    assert "case(s) planned" in out and "negative" in out and "at most" in out
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["--phases", "fuzz"], "--phases 'fuzz': unknown fuzz; give a comma-separated list of"),
        (["--checks", "nope"], "--checks 'nope' is not a check id, a category or a level"),
        (
            [
                "--exclude-checks",
                "http,schema,errors,auth,timing,usage,limits,stop,json-mode,tools,logprobs,stream,reasoning",
            ],
            "leave no check to run",
        ),
        (["--max-failures", "0"], "max_failures (--max-failures) is 0: it must be a number of 1"),
        (["--rate-limit", "fast"], "--rate-limit 'fast': write N/s or N/m"),
        (["--connect-timeout", "0"], "--connect-timeout must be more than 0"),
    ],
)
def test_bad_selection_flags_are_one_line(argv: list[str], line: str) -> None:
    code, _, err = cli("run", "--dry-run", *argv)
    assert code == 2 and line in err and err.count("\n") == 1, err
