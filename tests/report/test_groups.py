"""Failures grouped by deviation: one signature a group, no finding left out of the console
and summary.md, and report diff comparing deviations, not texts with values in them."""

from __future__ import annotations

from typing import Any

from conformance.report import diff_reports, failure_groups
from conformance.report._markdown import _failures_table
from conformance.report._text import render_groups


def _failure(message: str, *, exchange: str = "e1", path: str = "", schema: str = "") -> Any:
    return {
        "message": message,
        "exchange": exchange,
        "instance_path": path,
        "schema_path": schema,
        "chunk_index": None,
        "reproduce": None,
        "value": None,
        "schema_excerpt": None,
    }


def _check(failures: list[Any], check_id: str = "BODY-SCHEMA-001") -> Any:
    return {
        "id": check_id,
        "title": "t",
        "severity": "MUST",
        "level": "core",
        "status": "fail",
        "failures": failures,
        "suppressed_failures": 0,
        "errors": [],
    }


REQUIRED = "/components/schemas/Request/required"


def test_a_missing_property_is_its_own_deviation() -> None:
    """A missing-messages exchange was listed under "'model' is a required property"."""
    groups = failure_groups(
        _check(
            [
                _failure("'model' is a required property", schema=REQUIRED),
                _failure("'model' is a required property", exchange="e2", schema=REQUIRED),
                _failure("'messages' is a required property", exchange="e3", schema=REQUIRED),
            ]
        )
    )
    assert [(g.count, g.first["message"]) for g in groups] == [
        (2, "'model' is a required property"),
        (1, "'messages' is a required property"),
    ]


def test_a_group_whose_values_differ_says_so() -> None:
    """ "[45x] total_tokens is 28, but ... = 27" stood for 45 exchanges of other numbers."""
    check = _check(
        [
            _failure("total_tokens is 28, but 20 + 8 = 27", path="/usage/total_tokens"),
            _failure("total_tokens is 41, but 30 + 10 = 40", exchange="e2", path="/usage/total_tokens"),
        ]
    )  # fmt: skip
    (group,) = failure_groups(check)
    assert group.label == "2x, values vary"
    (same,) = failure_groups(_check([_failure("x is 1"), _failure("x is 1", exchange="e2")]))
    assert same.label == "2x"


def test_no_deviation_vanishes_from_the_console_or_the_summary() -> None:
    """The five most frequent groups were shown: a single finding ("role 'wizard' accepted")
    appeared nowhere."""
    failures = [
        _failure(f"common {n}", exchange=f"c{n}{i}", path=f"/p{n}")
        for n in range(6)
        for i in range(3)
    ]
    failures.append(_failure("the rare one", exchange="rare", path="/rare"))
    check = _check(failures)
    text = "\n".join(render_groups(check))
    assert "the rare one" in text and "e.g. rare" in text
    table = "\n".join(_failures_table({"checks": [check]}))  # type: ignore[typeddict-item]
    assert "the rare one" in table


def _report(messages: list[str]) -> Any:
    return {
        "contract": {"profile": "deepseek", "sha256": "x"},
        "checks": [
            {
                **_check([_failure(m, path="/created") for m in messages], "STREAM-CONSTANT-001"),
                "applicable": True,
                "exercised": 1,
            }
        ],
        "level": None,
        "verdict": "fail",
    }


def test_report_diff_compares_deviations_not_their_values() -> None:
    """Two runs with the same failures gave seven "fails in a new way: created changed
    mid-stream: 1796193076 ..." (a timestamp in the message)."""
    old = _report(["created changed mid-stream: 1796193076 then 1796193077"])
    new = _report(["created changed mid-stream: 1796199999 then 1796200000"])
    assert not [c for c in diff_reports(old, new).changes if c.kind == "new-deviation"]
    other = _report(["model changed mid-stream: 'a' then 'b'"])
    assert [c.kind for c in diff_reports(old, other).changes] == ["new-deviation"]
