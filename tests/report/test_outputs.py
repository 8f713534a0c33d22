"""The five outputs of a run, levels, baselines, shards and the HTML page in a real browser."""

from __future__ import annotations

import json
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from conformance._cli import checks_markdown
from conformance.checks import CHECKS
from conformance.reference import DEFAULT_API_KEY, create_app, serve_in_thread
from conformance.report import OUTPUTS
from tests.helpers import ROOT, chromium, cli, load_report, run_against

FAST = ["--max-examples", "1", "--seed", "5"]
ARTIFACTS = ROOT / "reports" / "test-artifacts"


def _run(
    tmp_path: Path, *faults: str, extra: tuple[str, ...] = ()
) -> tuple[int, str, dict[str, Any]]:
    code, out, _ = run_against(tmp_path, *FAST, *extra, faults=faults)
    return code, out, load_report(tmp_path)


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    directory = tmp_path_factory.mktemp("faulty")
    code, _, report = _run(directory, "bad-finish-reason")
    assert code == 1
    return directory, report


def test_a_run_writes_all_five_files(faulty: tuple[Path, dict[str, Any]]) -> None:
    directory, report = faulty
    # the five outputs, and examples.json: the failing generated cases kept for the next run
    assert {p.name for p in directory.iterdir()} - {"examples.json"} == set(OUTPUTS)
    assert report["verdict"] == "fail" and report["level"] is None


def test_junit(faulty: tuple[Path, dict[str, Any]]) -> None:
    junitparser = pytest.importorskip("junitparser")
    directory, report = faulty
    xml = junitparser.JUnitXml.fromfile(str(directory / "junit.xml"))
    cases = [case for suite in xml for case in suite]
    assert len(cases) == len(CHECKS)
    failed = {
        case.name.split(":")[0]
        for case in cases
        if case.result and isinstance(case.result[0], junitparser.Failure)
    }
    assert failed == {c["id"] for c in report["checks"] if c["status"] == "fail"}
    case = next(c for c in cases if c.name.startswith("STREAM-CHUNK-SCHEMA-001"))
    assert case.classname == "conformance.schema"
    assert "'eos_token' is not one of" in case.result[0].message
    assert "  where: " in case.result[0].text and ", chunk " in case.result[0].text


def test_every_exchange_carries_its_timings(faulty: tuple[Path, dict[str, Any]]) -> None:
    directory, report = faulty
    for exchange in report["exchanges"]:
        timings = exchange["timings"]
        assert 0 < timings["to_headers"] <= timings["total"], exchange["id"]
        assert timings["to_first_event"] is not None and timings["max_event_gap"] is not None
    streamed = next(e for e in report["exchanges"] if e["id"] == "stream")
    assert 0 < streamed["timings"]["to_first_content"] <= streamed["timings"]["total"]
    rejected = next(e for e in report["exchanges"] if e["id"] == "invalid-json")
    assert rejected["timings"]["to_first_content"] is None  # an error carries no content
    total = report["run"]["timings"]["total"]
    assert total["count"] == len(report["exchanges"])
    assert total["p50"] <= total["p90"] <= total["p99"] <= total["max"]
    judged = [c for c in report["checks"] if c["exercised"]]
    assert all(c["time_s"] > 0 for c in judged)
    junit = ET.fromstring((directory / "junit.xml").read_text())
    times = [float(case.get("time")) for case in junit.iter("testcase")]
    assert sum(t > 0 for t in times) == len(judged)
    page = (directory / "report.html").read_text()
    assert page.count('<details class="exchange"') == len(report["exchanges"])
    failing = [e for e in report["exchanges"] if e["failed_checks"]]
    opened = re.findall(r'<details class="exchange" id="[^"]+" open>', page)
    assert failing and len(opened) == len(failing)  # failures open, passes collapsed
    assert "<b>timings</b>headers " in page and "<th>p99</th>" in page


def test_summary_and_badge(faulty: tuple[Path, dict[str, Any]]) -> None:
    directory, _ = faulty
    summary = (directory / "summary.md").read_text()
    assert summary.startswith("## Conformance: ❌ fail, level none")
    assert "| `STREAM-CHUNK-SCHEMA-001` | MUST | streaming |" in summary
    badge = ET.fromstring((directory / "badge.svg").read_text())
    assert (
        badge.tag.endswith("svg")
        and "conformance: none" in badge.find("{http://www.w3.org/2000/svg}title").text
    )


def test_html_is_self_contained(faulty: tuple[Path, dict[str, Any]]) -> None:
    directory, _ = faulty
    page = (directory / "report.html").read_text()
    assert not re.search(r"<link|<img|src=|@import|url\(", page)
    assert "Conformance level: none" in page and 'class="chunk"' in page
    assert "$CONFORMANCE_API_KEY" in page and DEFAULT_API_KEY not in page


def test_html_renders_in_headless_chromium(
    faulty: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    directory, _ = faulty
    flags = chromium(tmp_path / "profile")
    url = (directory / "report.html").resolve().as_uri()
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert '<span class="verdict fail">FAIL</span>' in dom.stdout
    failing = re.search(
        r'<div class="chunk" data-chunk="(\d+)">data: ([^<]*eos_token[^<]*)</div>', dom.stdout
    )
    assert failing, "the failing chunk is not on the rendered page"
    assert re.search(r'<li class="failing" id="ex-[^"]+-chunk-\d+">', dom.stdout)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "report.png"
    taken = subprocess.run(
        [*flags, "--window-size=1280,1600", f"--screenshot={shot}", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert taken.returncode == 0 and shot.stat().st_size > 10_000


@pytest.mark.parametrize(
    ("faults", "level"),
    [((), "full"), (("ignore-stop",), "streaming"), (("no-done",), "core"), (("no-auth",), None)],
)
def test_levels(tmp_path: Path, faults: tuple[str, ...], level: str | None) -> None:
    _, _, report = _run(tmp_path, *faults)
    assert report["level"] == level


def _baseline(tmp_path: Path, expires: str) -> str:
    path = tmp_path / "baseline.yaml"
    path.write_text(
        f"waivers:\n  - check: STOP-001\n    reason: known, TICKET-1\n    expires: {expires}\n"
    )
    return str(path)


def test_an_active_waiver_lets_the_gate_pass(tmp_path: Path) -> None:
    code, out, report = _run(
        tmp_path, "ignore-stop", extra=("--baseline", _baseline(tmp_path, "2999-01-01"))
    )
    assert code == 0 and report["verdict"] == "pass"
    stop = next(c for c in report["checks"] if c["id"] == "STOP-001")
    assert stop["status"] == "fail" and stop["waiver"]["expired"] is False
    assert report["baseline"]["waivers"][0]["state"] == "active"
    assert "waiver STOP-001: active" in out
    assert "waived" in (tmp_path / "report.html").read_text()


def test_an_expired_waiver_fails_the_gate(tmp_path: Path) -> None:
    code, _, report = _run(
        tmp_path, "ignore-stop", extra=("--baseline", _baseline(tmp_path, "2020-01-01"))
    )
    assert code == 1 and report["baseline"]["waivers"][0]["state"] == "expired"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "waivers:\n  - check: NOPE-001\n    reason: r\n    expires: 2030-01-01\n",
            "unknown check 'NOPE-001'",
        ),
        ("waivers:\n  - check: STOP-001\n    expires: 2030-01-01\n", "every waiver needs a reason"),
        (
            "waivers:\n  - check: STOP-001\n    reason: r\n    expires: soon\n",
            "expires must be a date",
        ),
        ("nothing: here\n", "expected a 'waivers' list"),
    ],
)
def test_bad_baselines(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "b.yaml"
    path.write_text(content)
    code, _, err = cli("validate", str(tmp_path / "x.json"), "--baseline", str(path))
    assert code == 2 and message in err and err.count("\n") == 1


def test_shards_merge_into_the_unsharded_run(tmp_path: Path) -> None:
    with serve_in_thread(create_app(faults=["ignore-stop", "no-done"])) as url:
        common = ["--base-url", url, "--api-key", DEFAULT_API_KEY, *FAST]
        cli("run", *common, "--report-dir", str(tmp_path / "all"))
        cli("run", *common, "--shard", "1/2", "--report-dir", str(tmp_path / "s1"))
        cli("run", *common, "--shard", "2/2", "--report-dir", str(tmp_path / "s2"))
    code, out, _ = cli(
        "report",
        "merge",
        str(tmp_path / "s1"),
        str(tmp_path / "s2"),
        "-o",
        str(tmp_path / "merged"),
    )
    assert code == 1, out
    whole = load_report(tmp_path / "all")
    merged = load_report(tmp_path / "merged")
    assert merged["verdict"] == whole["verdict"] and merged["level"] == whole["level"]
    assert {c["id"]: c["status"] for c in merged["checks"]} == {
        c["id"]: c["status"] for c in whole["checks"]
    }
    assert sorted(e["id"] for e in merged["exchanges"]) == sorted(
        e["id"] for e in whole["exchanges"]
    )
    assert sorted(p.name for p in (tmp_path / "merged").iterdir()) == sorted(OUTPUTS)


def test_merge_needs_reports(tmp_path: Path) -> None:
    code, _, err = cli("report", "merge", str(tmp_path), "-o", str(tmp_path / "o"))
    assert code == 2 and "no such file" in err


def test_readme_lists_the_checks_of_each_level() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("<!-- checks:start -->\n", 1)[1].split("<!-- checks:end -->", 1)[0]
    assert section == checks_markdown(), "regenerate with: conformance checks --format markdown"


def test_a_failed_write_leaves_the_previous_report_whole(tmp_path: Path, monkeypatch: Any) -> None:
    from conformance import _util
    from conformance.report import _write

    (tmp_path / "report.json").write_text('{"previous": true}')

    def killed(src: str, dst: str) -> None:
        raise OSError("killed before the rename")

    monkeypatch.setattr(_util.os, "replace", killed)
    with pytest.raises(OSError):
        _write.write_report({"x": 1}, tmp_path)
    assert json.loads((tmp_path / "report.json").read_text()) == {"previous": True}
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temporary file left


def test_merge_rejects_what_is_not_a_report(tmp_path: Path) -> None:
    (tmp_path / "report.json").write_text('{"checks": []}')
    code, _, err = cli("report", "merge", str(tmp_path), "-o", str(tmp_path / "o"))
    assert code == 2 and err.count("\n") == 1
    assert "not a conformance report (at /: 'report_version' is a required property)" in err


def test_merge_refuses_missing_or_repeated_shards(tmp_path: Path) -> None:
    for index in (1, 2):
        run_against(tmp_path / f"s{index}", *FAST, "--shard", f"{index}/3")
    first, second = str(tmp_path / "s1"), str(tmp_path / "s2")
    for dirs, problem in (
        ([first, second], "shard 3/3 missing"),
        ([first, first, second], "shard 1/3 given more than once"),
    ):
        code, _, err = cli("report", "merge", *dirs, "-o", str(tmp_path / "m"))
        assert code == 2 and problem in err and err.count("\n") == 1, err
        assert not (tmp_path / "m").exists()
    code, out, _ = cli(
        "report", "merge", first, second, "--allow-partial", "-o", str(tmp_path / "m")
    )
    merged = load_report(tmp_path / "m")
    assert merged["partial"] is True and merged["level"] is None
    assert merged["level_blockers"][0]["reason"].startswith("a partial merge")
    assert "level core not granted: a partial merge" in out
    single = load_report(tmp_path / "s1")
    assert single["level"] is None and "one shard (1/3)" in single["level_blockers"][0]["reason"]
