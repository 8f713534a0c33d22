"""The small helpers every stage shares (conformance/_util.py)."""

from __future__ import annotations

import pytest

from conformance._util import (
    is_int,
    is_json_media_type,
    is_sse_media_type,
    join_pointer,
    media_type_base,
    pointer_of,
    strict_json,
)
from conformance.checks._stream_rules import _index


def test_json_pointers_escape_tilde_and_slash() -> None:
    assert pointer_of(["paths", "/chat/completions", "a~b", 0]) == (
        "/paths/~1chat~1completions/a~0b/0"
    )
    assert pointer_of([]) == ""
    assert join_pointer("/components", "schemas", "x/y") == "/components/schemas/x~1y"


def test_media_types() -> None:
    assert media_type_base(" Text/Event-Stream; charset=utf-8") == "text/event-stream"
    assert is_sse_media_type("text/event-stream;charset=UTF-8")
    assert is_json_media_type("application/problem+json") and is_json_media_type(
        "Application/JSON; charset=utf-8"
    )
    assert not is_json_media_type("text/plain")


def test_integers_are_not_booleans() -> None:
    assert is_int(0) and is_int(-3)
    assert not is_int(True) and not is_int(1.0) and not is_int("1")
    assert _index({"index": True}, 4) == 4  # a boolean index is no index


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"a": -Infinity}'])
def test_strict_json_refuses_non_finite_numbers(text: str) -> None:
    with pytest.raises(ValueError, match="is not valid JSON"):
        strict_json(text)


def test_strict_json_accepts_a_lone_surrogate_escape() -> None:
    assert strict_json('"\\ud800"') == "\ud800"
