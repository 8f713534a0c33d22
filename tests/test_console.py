"""What a run prints: failures grouped by check and deviation, values escaped, a verbosity,
report.json on stdout, and progress while it waits."""

from __future__ import annotations

import contextlib
import io
import json
import time
from pathlib import Path

from conformance._cli.run import _progress
from conformance.checks._render import render_value
from conformance.contract import explain_error, load_contract
from conformance.runner import RunWatch
from tests.helpers import load_report, run_against


def test_one_deviation_on_many_exchanges_is_one_entry(tmp_path: Path) -> None:
    code, out, _ = run_against(tmp_path, "--max-examples", "1", faults=("usage-total-wrong",))
    report = load_report(tmp_path)
    usage = next(c for c in report["checks"] if c["id"] == "USAGE-TOTAL-001")
    failing = len({f["exchange"] for f in usage["failures"]})
    assert code == 1 and failing > 20
    header = (
        f"FAIL USAGE-TOTAL-001 (MUST) total_tokens = prompt_tokens + completion_tokens: "
        f"{len(usage['failures'])} failure(s) on {failing} exchange(s)"
    )
    assert header in out
    # one group, whose exchanges show other numbers: it says so
    assert out.count("[USAGE-TOTAL-001") == 0
    assert out.count("x, values vary] total_tokens is ") == 1
    assert f"(+{failing - 3} more)" in out
    summary = (tmp_path / "summary.md").read_text()
    n = len(usage["failures"])
    assert f"| {n} | {n}x, values vary `total_tokens is" in summary
    page = (tmp_path / "report.html").read_text()
    assert f"<b>{n}x, values vary</b> on {failing} exchange(s)" in page


def test_quiet_prints_only_the_verdict_and_verbose_everything(tmp_path: Path) -> None:
    _, quiet, _ = run_against(tmp_path / "q", "-q", "--max-examples", "1", faults=("no-done",))
    assert quiet.startswith(quiet.splitlines()[0]) and "FAIL STREAM-DONE-001" not in quiet
    assert "verdict: fail" in quiet
    _, loud, _ = run_against(tmp_path / "v", "-v", "--max-examples", "1", faults=("no-done",))
    assert "FAIL STREAM-DONE-001" in loud and "more)" not in loud.split("verdict:")[0]


def test_format_json_writes_the_report_to_stdout(tmp_path: Path) -> None:
    code, out, err = run_against(tmp_path, "--format", "json", "--max-examples", "1")
    assert code == 0
    assert json.loads(out) == load_report(tmp_path)
    assert "reports: " in err


def test_control_characters_never_reach_the_terminal() -> None:
    assert render_value("a\x00b\x1b[31m\ud800") == "a\\x00b\\x1b[31m\\ud800"


def test_a_value_of_none_of_the_allowed_types_says_what_was_expected() -> None:
    openai = load_contract(profile="openai")
    validator = openai.validator("/components/schemas/ErrorResponse")
    body = {"error": {"message": "m", "type": "t", "param": None, "code": 400}}
    (error,) = [explain_error(e) for e in validator.iter_errors(body)]
    assert error.message == "expected a string or null, got the integer 400"


def test_progress_names_the_case_waited_on_longest() -> None:
    watch = RunWatch(total=84, done=37, in_flight={"tools-auto": 100.0, "plain": 110.0})
    assert watch.line(now=112.4) == "37/84 done; waiting longest on tools-auto (12 s)"
    assert RunWatch(total=3, done=3).line() == "3/3 done"


def test_without_a_terminal_progress_is_a_line_every_interval() -> None:
    stream = io.StringIO()
    with _progress(stream, interval=0.01) as watch:
        watch.total, watch.in_flight["stuck"] = 5, time.monotonic()
        deadline = time.monotonic() + 10
        while "waiting longest on stuck" not in stream.getvalue():
            assert time.monotonic() < deadline, "no progress line"
            time.sleep(0.01)
    assert stream.getvalue().startswith("conformance: 0/5 done; waiting longest on stuck (")


def test_the_preflight_is_in_the_progress_lines_too() -> None:
    """A server that accepts connections and never answers gave a CI log no line for the
    default 600 s: the lines started after the preflight."""
    stream = io.StringIO()
    with _progress(stream, interval=0.01) as watch:
        watch.in_flight["the preflight: GET /models"] = time.monotonic()
        deadline = time.monotonic() + 10
        while "waiting on the preflight" not in stream.getvalue():
            assert time.monotonic() < deadline, "no progress line"
            time.sleep(0.01)
    assert stream.getvalue().startswith("conformance: waiting on the preflight: GET /models (")


def test_a_run_names_the_preflight_while_it_waits_on_it() -> None:
    """The run puts the preflight in the watch while it waits (a hung server)."""
    import asyncio
    import socket
    import threading

    from conformance import load_contract
    from conformance.runner import Limits, RunConfig, run_async

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()  # accepts connections, never answers
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    watch = RunWatch()
    seen: list[str] = []

    def look() -> None:
        deadline = time.monotonic() + 20
        while not seen and time.monotonic() < deadline:
            if watch.in_flight:
                seen.append(watch.line())
            time.sleep(0.01)

    looker = threading.Thread(target=look)
    looker.start()
    config = RunConfig(base_url=url, limits=Limits(total=1, first_byte=1, idle=1, connect=1))
    try:
        with contextlib.suppress(Exception):
            asyncio.run(run_async(load_contract(), config, watch=watch))
    finally:
        looker.join()
        listener.close()
    assert seen and seen[0].startswith("waiting on the preflight: GET /models")
