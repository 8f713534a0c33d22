"""``report diff`` (what got worse between two reports: exit 1, else 0, 2 when they cannot be
compared) and ``report matrix`` (checks x servers, rendered in a real browser)."""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from conformance.report import diff_reports, render_diff
from tests.helpers import chromium, cli, load_report, run_against


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The reference server clean, with two faults, and the openai profile's mock."""
    root = tmp_path_factory.mktemp("reports")
    run_against(root / "clean", "--max-examples", "0")
    run_against(root / "fault", "--max-examples", "0", faults=("no-done", "usage-total-wrong"))
    cli("run", "--profile", "openai", "--max-examples", "0", "--report-dir", str(root / "openai"))
    run_against(root / "selected", "--max-examples", "0", "--checks", "STREAM-DONE-001")
    return {name: root / name for name in ("clean", "fault", "openai", "selected")}


def test_a_new_failure_is_worse_and_exits_1(reports: dict[str, Path]) -> None:
    code, out, _ = cli("report", "diff", str(reports["clean"]), str(reports["fault"]))
    assert code == 1, out
    assert "WORSE  STREAM-DONE-001 fails now (pass before): the stream ended without" in out
    assert "WORSE  USAGE-TOTAL-001 fails now (pass before): total_tokens is" in out
    assert "WORSE  level full -> none" in out


def test_an_identical_report_exits_0(reports: dict[str, Path]) -> None:
    code, out, _ = cli("report", "diff", str(reports["clean"]), str(reports["clean"]))
    assert code == 0 and out.endswith("no regression\n"), out


def test_the_way_back_is_better_not_worse(reports: dict[str, Path]) -> None:
    # (timings of two runs on this machine differ by chance: left out here)
    old, new = str(reports["fault"]), str(reports["clean"])
    code, out, _ = cli("report", "diff", old, new, "--format", "json", "--slower", "1e9")
    diff = json.loads(out)
    assert code == 0 and not diff["worse"], out
    fixed = {c["check"] for c in diff["changes"] if c["kind"] == "fixed"}
    assert fixed == {"STREAM-DONE-001", "USAGE-TOTAL-001"}


def test_reports_of_other_contracts_are_not_compared_unless_forced(
    reports: dict[str, Path],
) -> None:
    code, _, err = cli("report", "diff", str(reports["clean"]), str(reports["openai"]))
    assert code == 2 and "the reports certify different contracts (profile 'deepseek'" in err
    code, out, _ = cli(
        "report", "diff", str(reports["clean"]), str(reports["openai"]), "--force", "--format", "md"
    )
    assert code in (0, 1) and out.startswith("# Report diff:")


def test_lost_evidence_new_deviations_and_slower_timings_are_worse(
    reports: dict[str, Path],
) -> None:
    old = load_report(reports["fault"])
    new: Any = copy.deepcopy(old)
    entry = next(c for c in new["checks"] if c["id"] == "STREAM-DONE-001")
    entry["failures"].append({**entry["failures"][0], "message": "[DONE] came twice"})
    role = next(c for c in new["checks"] if c["id"] == "STREAM-ROLE-001")
    role.update(status="skip", exercised=0, skip_reasons=["no stream was sent"])
    new["run"]["timings"]["to_first_event"]["p50"] = (
        old["run"]["timings"]["to_first_event"]["p50"] * 3 + 0.2
    )
    diff = diff_reports(old, new)
    kinds = {(c.kind, c.check) for c in diff.changes if c.worse}
    assert kinds == {
        ("new-deviation", "STREAM-DONE-001"),
        ("not-exercised", "STREAM-ROLE-001"),
        ("timing", None),
    }
    text = render_diff(diff)
    assert "STREAM-DONE-001 fails in a new way: [DONE] came twice" in text
    assert "STREAM-ROLE-001 is no longer exercised (no stream was sent)" in text
    assert re.search(r"to_first_event p50 \d+ ms -> \d+ ms \(\+\d+%\)", text)


def test_the_matrix_of_three_reports(reports: dict[str, Path], tmp_path: Path) -> None:
    chosen = [str(reports[n]) for n in ("clean", "fault", "openai")]
    code, _, err = cli("report", "matrix", *chosen)
    assert code == 2 and "the reports certify different contracts (profile 'deepseek'" in err
    code, out, _ = cli("report", "matrix", *chosen, "--force")
    assert code == 0
    row = next(line for line in out.splitlines() if line.startswith("| `STREAM-DONE-001`"))
    assert row.endswith("| pass | **FAIL** [2] | pass |") or "**FAIL** [" in row, row
    assert "| `USAGE-CACHE-001`" in out and "| n/a |" in out  # openai has no cache counters
    assert "[1] `total_tokens is" in out or "[2] `total_tokens is" in out

    page = tmp_path / "matrix.html"
    code, out, _ = cli("report", "matrix", *chosen, "-o", str(page), "--force")
    assert code == 0 and f"matrix of 3 report(s): {page}" in out
    text = page.read_text()
    assert not re.search(r"<link|<img|src=|@import|url\(", text)  # self-contained
    flags = chromium(tmp_path / "profile")
    dom = subprocess.run(
        [*flags, "--dump-dom", page.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    cells = re.search(r'<tr data-check="STREAM-DONE-001">(.*?)</tr>', dom.stdout)
    assert cells, "the STREAM-DONE-001 row is not on the rendered page"
    assert re.findall(r'<td class="([a-z-]+)"', cells.group(1)) == ["pass", "fail", "pass"]
    assert 'title="the stream ended without data: [DONE]' in cells.group(1)
    assert dom.stdout.count('<th class="server"') == 3


def test_the_matrix_says_what_it_could_not_write(reports: dict[str, Path], tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = cli("report", "matrix", str(reports["clean"]), "-o", str(blocker / "m.html"))
    assert code == 2 and "cannot write it" in err


def test_a_check_left_out_of_a_run_is_not_selected_not_unexercised(
    reports: dict[str, Path],
) -> None:
    """Unselected checks were reported as "not exercised" (27 ids), report diff called them
    "WORSE ... no longer exercised", and the matrix coloured them as not exercised."""
    report = load_report(reports["selected"])
    entry = next(c for c in report["checks"] if c["id"] == "BODY-SCHEMA-001")
    assert entry["selected"] is False and entry["status"] == "skip"
    assert report["summary"]["checks_not_selected"] == len(report["checks"]) - 1
    assert report["summary"]["checks_not_exercised"] == 0
    summary = (reports["selected"] / "summary.md").read_text()
    assert "not selected" in summary and "Not exercised:" not in summary
    junit = (reports["selected"] / "junit.xml").read_text()
    assert 'message="not selected: not selected (--checks' in junit

    _, out, _ = cli("report", "diff", str(reports["clean"]), str(reports["selected"]))
    assert "no longer exercised" not in out and "BODY-SCHEMA-001" not in out, out
    _, out, _ = cli(
        "report", "diff", str(reports["clean"]), str(reports["selected"]), "--include-unselected"
    )
    assert "BODY-SCHEMA-001 is no longer exercised" in out

    code, out, _ = cli("report", "matrix", str(reports["clean"]), str(reports["selected"]))
    assert code == 0
    row = next(line for line in out.splitlines() if line.startswith("| `BODY-SCHEMA-001`"))
    assert row.endswith("| pass | not selected |"), row
