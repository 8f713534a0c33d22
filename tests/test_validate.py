"""``conformance validate``: recorded traffic, offline; report.json in the public format."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance.checks import check_exchange
from conformance.exchange import read_exchanges
from tests.checks.builders import BASE, USAGE, chunk
from tests.helpers import CAPTURES, SPEC, cli, load_report

DEEPSEEK = sorted(p.name for p in CAPTURES.glob("deepseek-*.response.http"))
OPENAI = sorted(p.name for p in CAPTURES.glob("openai-*.response.http"))


def _failed(report: dict[str, Any]) -> set[str]:
    return {c["id"] for c in report["checks"] if c["status"] == "fail"}


@pytest.mark.parametrize("name", DEEPSEEK)
def test_every_deepseek_capture_has_no_must_failure(name: str, tmp_path: Path) -> None:
    code, out, err = cli("validate", str(CAPTURES / name), "--report-dir", str(tmp_path))
    report = load_report(tmp_path)
    if name == "deepseek-v4-flash-thinking-tool-choice-error-400.response.http":
        # DeepSeek sent this JSON error body as application/octet-stream: a fair finding.
        assert _failed(report) == {"HTTP-CONTENT-TYPE-001"}
        assert code == 1
        return
    assert code == 0, out + err
    assert report["verdict"] == "pass" and _failed(report) == set()


EXPECTED_OPENAI = {
    # OpenAI's usage has no prompt_cache_hit/miss_tokens (the DeepSeek Usage schema requires
    # them), and it rides on an extra choices: [] chunk instead of the finish chunk.
    "openai-gpt41-stream-include-usage.response.http": {
        "STREAM-CHUNK-SCHEMA-001",
        "STREAM-USAGE-002",
    },
    "openai-gpt41-stream-tools.response.http": {"STREAM-CHUNK-SCHEMA-001", "STREAM-USAGE-002"},
    "openai-gpt4o-stream-logprobs.response.http": {"STREAM-CHUNK-SCHEMA-001", "STREAM-USAGE-002"},
}


@pytest.mark.parametrize("name", OPENAI)
def test_openai_captures_fail_where_openai_differs(deepseek: Any, name: str) -> None:
    (exchange,) = read_exchanges(str(CAPTURES / name))
    result = check_exchange(deepseek, exchange)
    failed = {k for k, o in result.outcomes.items() if o.status == "fail"}
    assert failed == EXPECTED_OPENAI[name]
    schema_failures = result.outcomes["STREAM-CHUNK-SCHEMA-001"].failures
    assert {f.schema_path for f in schema_failures} == {"/components/schemas/Usage/required"}
    assert {f.instance_path for f in schema_failures} == {"/usage"}


def test_the_seed_stream_example_as_a_file(tmp_path: Path) -> None:
    """The seed's own stream example fails under the corrected contract: its last usage lacks
    the cache counters, and its final data: [DONE] has no blank line, so it is never
    dispatched."""
    seed = yaml.safe_load(SPEC.read_text())
    example = seed["paths"]["/chat/completions"]["post"]["responses"]["x-200:Streaming"]["content"][
        "application/json"
    ]["example"]
    path = tmp_path / "seed-stream.sse"
    path.write_bytes(example.encode())
    code, out, _ = cli("validate", str(path), "--report-dir", str(tmp_path))
    assert code == 1
    assert _failed(load_report(tmp_path)) == {
        "STREAM-CHUNK-SCHEMA-001",
        "STREAM-FRAMING-001",
        "STREAM-DONE-001",
    }
    assert "request-dependent rules skipped" in out


def test_validate_text_output_and_report(tmp_path: Path) -> None:
    code, out, _ = cli(
        "validate",
        str(CAPTURES / "deepseek-chat-stream.response.http"),
        str(CAPTURES / "openai-gpt41-stream-tools.response.http"),
        "--report-dir",
        str(tmp_path),
    )
    assert code == 1
    assert "ok   deepseek-chat-stream.response.http  (HTTP 200, stream of 4 events)" in out
    assert (
        "FAIL STREAM-CHUNK-SCHEMA-001 (MUST) Every chunk matches the documented chunk schema: 1 failure(s) on 1 exchange(s)\n    [1x] 'prompt_cache_hit_tokens' is a required property\n      where: chunk 8, at /usage\n"
        in out
    )
    assert "      exchanges: openai-gpt41-stream-tools.response.http" in out
    report = load_report(tmp_path)
    assert report["summary"]["exchanges"] == 2 and report["verdict"] == "fail"
    assert report["target"] == {"base_url": None, "model": None}


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["validate", "/no/such.http"], "conformance: error: /no/such.http: no such file"),
        (
            ["validate", "a", "b", "--request", "r.json"],
            "conformance: error: --request goes with a single FILE",
        ),
        (["validate"], "conformance: error: the following arguments are required: FILE"),
    ],
)
def test_validate_bad_input(argv: list[str], line: str) -> None:
    code, _, err = cli(*argv)
    assert code == 2 and err.startswith(line) and err.count("\n") == 1


def _long_stream(path: Path, n: int) -> None:
    with path.open("w") as handle:
        handle.write(f"data: {json.dumps(chunk({'role': 'assistant', 'content': ''}))}\n\n")
        line = json.dumps(chunk({"content": "word"}))
        for _ in range(n):
            handle.write(f"data: {line}\n\n")
        handle.write(f"data: {json.dumps(chunk({'content': ''}, 'stop', usage=USAGE))}\n\n")
        handle.write("data: [DONE]\n\n")


def test_long_streams_are_checked_in_flat_memory(deepseek: Any, tmp_path: Path) -> None:
    """Peak memory does not grow with the number of chunks (content accumulation aside)."""
    assert BASE  # the chunks are DeepSeek-shaped
    peaks = []
    for n in (1_000, 8_000):
        path = tmp_path / f"s{n}.sse"
        _long_stream(path, n)
        (exchange,) = read_exchanges(str(path))
        tracemalloc.start()
        result = check_exchange(deepseek, exchange)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert result.chunks == n + 3
        assert {k for k, o in result.outcomes.items() if o.status == "fail"} == set()
    # 8x the chunks; only the accumulated text (4 bytes a chunk) may grow.
    assert peaks[1] < peaks[0] * 1.5 + 8_000 * 4 * 2
