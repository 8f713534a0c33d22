"""The Python API: ``conformance.run`` and ``conformance.validate`` give what the commands
give; a bad value is one message naming the field and its flag."""

from __future__ import annotations

from pathlib import Path

import pytest

import conformance
from tests.helpers import ROOT, cli, load_report

CAPTURES = ROOT / "tests" / "data" / "captures"


def test_run_checks_the_embedded_server_as_the_command_does(tmp_path: Path) -> None:
    outcome = conformance.run(conformance.RunConfig(base_url="", max_examples=1, seed=5))
    assert outcome.verdict == "pass" and outcome.exit_code == 0
    assert outcome.report["level"] == "full" and outcome.report["run"]["embedded_server"]
    written = outcome.write(tmp_path / "api")
    assert sorted(written) == ["badge.svg", "junit.xml", "report.html", "report.json", "summary.md"]
    code, _, _ = cli("run", "--max-examples", "1", "--seed", "5", "--report-dir", str(tmp_path))
    by_cli = load_report(tmp_path)
    assert code == 0
    assert by_cli["run"]["plan_fingerprint"] == outcome.report["run"]["plan_fingerprint"]
    assert by_cli["summary"] == outcome.report["summary"]


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("max_requests", 0, "max_requests (--max-requests) is 0: it must be a number of 1 or more"),
        ("workers", -1, "workers (--workers) is -1"),
        ("max_examples", "5", "max_examples (--max-examples) is '5'"),
        ("rate_limit", 0.0, "rate_limit (--rate-limit) is 0.0: it must be above 0"),
        ("base_url", "ftp://x", "base_url (--base-url) 'ftp://x' is not an http(s) URL"),
        ("shard", (3, 2), "shard (--shard) 3/2: the index must be from 1 to 2"),
    ],
)
def test_a_bad_value_is_one_message_naming_the_field_and_the_flag(
    field: str, value: object, said: str
) -> None:
    with pytest.raises(conformance.UsageError) as raised:
        conformance.RunConfig(**{"base_url": "", field: value})  # type: ignore[arg-type]
    assert str(raised.value).startswith(said)


def test_validate_reads_recordings_as_the_command_does(tmp_path: Path) -> None:
    files = [
        CAPTURES / "deepseek-chat-stream.response.http",
        CAPTURES / "deepseek-chat-nonstream.response.http",
    ]
    report = conformance.validate(files)
    assert report["summary"]["exchanges"] == 2
    code, _, _ = cli("validate", *map(str, files), "--report-dir", str(tmp_path))
    by_cli = load_report(tmp_path)
    assert [c["status"] for c in report["checks"]] == [c["status"] for c in by_cli["checks"]]
    assert report["verdict"] == by_cli["verdict"] and code == (report["verdict"] == "fail")
