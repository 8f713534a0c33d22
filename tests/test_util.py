"""The small helpers every stage shares (conformance/_util.py)."""

from __future__ import annotations

import pytest

from conformance._util import (
    Kept,
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


def test_a_kept_memo_lets_the_least_recently_used_go_first() -> None:
    kept: Kept[str, int] = Kept(2)
    kept.put("a", 1)
    kept.put("b", 2)
    assert kept.get("a") == 1  # now the most recently used
    kept.put("c", 3)
    assert (kept.get("a"), kept.get("b"), kept.get("c"), len(kept)) == (1, None, 3, 2)


def test_a_kept_memo_bounds_the_weight_in_all() -> None:
    kept: Kept[str, list[int]] = Kept(5, weight=len)
    kept.put("a", [1, 2, 3])
    kept.put("b", [1, 2])
    kept.put("a", [1])  # put again: weighs what it weighs now
    kept.put("c", [1, 2])
    assert kept.get("a") == [1] and kept.get("b") == [1, 2] and kept.get("c") == [1, 2]
    kept.put("d", [1, 2, 3, 4, 5, 6])  # over the bound alone: nothing of it is kept
    assert len(kept) == 0 and kept.get("d") is None


def test_a_kept_memo_is_safe_from_threads_that_evict_at_once() -> None:
    """Two copies of "while too many: delete the oldest" raised KeyError (or "dictionary
    changed size during iteration") when threads evicted together."""
    import threading

    kept: Kept[int, int] = Kept(3, weight=lambda value: value % 3 + 1)
    errors: list[BaseException] = []

    def churn(offset: int) -> None:
        try:
            for n in range(20_000):
                kept.put(offset + n % 50, n)
                kept.get(offset + (n * 7) % 50)
        except BaseException as exc:  # pragma: no cover - what the test looks for
            errors.append(exc)

    threads = [threading.Thread(target=churn, args=(k * 10,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(kept) <= 3
