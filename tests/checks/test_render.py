"""The one failure renderer: snapshots of its text, and every output uses it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conformance.checks import Failure, render_failure, where_parts
from conformance.report import render_check
from tests.helpers import ROOT

FULL = Failure(
    check_id="STREAM-CHUNK-SCHEMA-001",
    message="'prompt_cache_hit_tokens' is a required property",
    chunk_index=8,
    instance_path="/usage",
    schema_path="/components/schemas/Usage/required",
    value={"prompt_tokens": 74, "note": "two\nlines"},
    exchange="openai-gpt41-stream-tools.response.http",
    reproduce="curl -sS -N http://127.0.0.1:8000/chat/completions",
)


def test_str_snapshot() -> None:
    assert str(FULL) == (
        "[STREAM-CHUNK-SCHEMA-001] 'prompt_cache_hit_tokens' is a required property\n"
        "  where: chunk 8, at /usage\n"
        '  value: {"prompt_tokens": 74, "note": "two\\nlines"}\n'
        "  schema: /components/schemas/Usage/required\n"
        "  reproduce: curl -sS -N http://127.0.0.1:8000/chat/completions"
    )


def test_grouped_by_check_snapshot() -> None:
    minimal = {"message": "the stream ended without data: [DONE]", "exchange": "stream-1"}
    assert render_failure(minimal, exchange=True) == (
        "- the stream ended without data: [DONE]\n  where: stream-1"
    )
    check: dict[str, Any] = {
        "id": "STREAM-DONE-001",
        "severity": "MUST",
        "level": "streaming",
        "title": "data: [DONE] comes exactly once, last",
        "source": "DS25 (the stream ends with data: [DONE])",
        "failures": [FULL.as_fields(), minimal],
        "suppressed_failures": 3,
    }
    assert render_check(check, limit=1) == (
        "STREAM-DONE-001 (MUST, level streaming): data: [DONE] comes exactly once, last\n"
        "source: DS25 (the stream ends with data: [DONE])\n"
        "\n"
        "- 'prompt_cache_hit_tokens' is a required property\n"
        "  where: openai-gpt41-stream-tools.response.http, chunk 8, at /usage\n"
        '  value: {"prompt_tokens": 74, "note": "two\\nlines"}\n'
        "  schema: /components/schemas/Usage/required\n"
        "  reproduce: curl -sS -N http://127.0.0.1:8000/chat/completions\n"
        "... and 4 more"
    )


def test_where_of_the_root_and_of_chunk_zero() -> None:
    assert where_parts({"chunk_index": 0, "instance_path": ""}) == ["chunk 0", "at /"]
    assert where_parts({"instance_path": None, "exchange": "x"}) == []
    assert where_parts({"exchange": "x"}, exchange=True) == ["x"]


def test_a_long_value_is_cut() -> None:
    text = render_failure({"message": "m", "value": "x" * 1000})
    assert text.splitlines()[1] == "  value: " + "x" * 297 + "..."


def test_no_output_renders_where_on_its_own() -> None:
    """Every output module calls the renderer; none spells a failure's fields out again."""
    outputs = [
        ROOT / "conformance" / "report" / name
        for name in ("_text.py", "_junit.py", "_markdown.py", "_html.py")
    ] + [ROOT / "conformance" / "suite" / "test_conformance.py"]
    for path in outputs:
        text = Path(path).read_text(encoding="utf-8")
        assert "chunk_index']}" not in text and 'f"chunk {' not in text, path.name
        assert "instance_path'] or" not in text and "str(failure)" not in text, path.name


def test_a_failure_keeps_the_start_of_a_huge_value_as_its_json_would_show() -> None:
    """The kept value is the start of the value's JSON (or the value itself when short),
    encoded from what can show only: a 32 MiB answer's string is cut before it is encoded."""
    import json

    from conformance.checks._base import MAX_VALUE_CHARS, truncate

    huge = ['a"\\é中\x00' * 1000, {"k": "z" * (8 * 1024 * 1024)}]
    text = json.dumps(huge, ensure_ascii=False)
    assert truncate(huge) == text[: MAX_VALUE_CHARS - 3] + "..."
    assert truncate("x" * (32 * 1024 * 1024)) == '"' + "x" * (MAX_VALUE_CHARS - 4) + "..."
    small = {"a": [1, "b", None]}
    assert truncate(small) is small
