"""The schema-driven mock: every operation the openai profile certifies answered from the
document's schemas; the generic checks pass on it, and each of its faults fails the checks it
names on every operation that shows it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conformance import UsageError
from conformance.checks import CHECKS
from conformance.contract import load_contract
from conformance.reference import DEFAULT_API_KEY, MOCK_FAULTS, create_mock_app, serve_in_thread
from conformance.reference._instances import instance
from tests.helpers import cli, load_report

OPERATIONS = ("GET /models", "POST /completions", "POST /embeddings", "POST /responses")


@pytest.fixture(scope="module")
def openai() -> Any:
    return load_contract(profile="openai")


def _run(
    contract: Any,
    tmp_path: Path,
    *faults: str,
    operations: tuple[str, ...] = OPERATIONS,
    phases: tuple[str, ...] = (),
) -> tuple[int, str, dict[str, Any]]:
    with serve_in_thread(create_mock_app(contract=contract, faults=faults)) as url:
        chosen = [flag for label in operations for flag in ("--operation", label)]
        code, out, _ = cli(
            "run",
            *("--profile", "openai", "--base-url", url, "--api-key", DEFAULT_API_KEY),
            *("--model", "gpt-test", "--max-examples", "1", "--shrink-budget", "0"),
            *chosen,
            *(("--phases", ",".join(phases)) if phases else ()),
            *("--report-dir", str(tmp_path)),
        )
    return code, out, load_report(tmp_path)


def test_every_answer_is_an_instance_of_its_schema(openai: Any) -> None:
    for operation in openai.certified_operations():
        variant = operation.responses["200"][0]
        assert variant.json_schema is not None
        assert openai.is_valid(variant.json_schema, instance(openai, variant.json_schema))


def test_the_clean_mock_passes_on_five_operations_three_streamed(
    openai: Any, tmp_path: Path
) -> None:
    every = ("POST /chat/completions", *OPERATIONS)
    code, out, report = _run(openai, tmp_path, operations=every)
    assert code == 0, out
    seen = {e["operation"] for e in report["exchanges"]}
    assert seen == set(every)
    streamed = {e["operation"] for e in report["exchanges"] if e["stream"]}
    assert streamed == {"POST /chat/completions", "POST /completions", "POST /responses"}
    statuses = {c["id"]: c["status"] for c in report["checks"]}
    for judged in (
        "RESPONSES-ORDER-001",
        "RESPONSES-SEQUENCE-001",
        "RESPONSES-EVENT-001",
        "RESPONSES-DELTA-001",
    ):
        assert statuses[judged] == "pass", judged
    assert statuses["STREAM-DONE-001"] == "pass"  # /completions' [DONE]; /responses has none


#: The rule families of the openai profile's operations: a fault of another family's rules
#: (Anthropic's messages: tests/contract/test_anthropic.py) shows on none of them.
OPENAI_FAMILIES = {"chat", "models", "completions", "embeddings", "responses", "generic"}


def _shows_on_openai(fault: Any) -> bool:
    return any(
        CHECKS[check].families is None or OPENAI_FAMILIES & set(CHECKS[check].families or ())
        for check in fault.breaks
    )


@pytest.mark.parametrize(
    # a fault of parameters shows on operations that have some: tests/runner/test_parameters.py
    "name",
    sorted(n for n, f in MOCK_FAULTS.items() if f.shows_on != "parameters" and _shows_on_openai(f)),
)
def test_each_mock_fault_fails_its_checks_on_every_operation_that_shows_it(
    openai: Any, tmp_path: Path, name: str
) -> None:
    fault = MOCK_FAULTS[name]
    # the faults are in the answers to valid requests: the negatives and auth cases add
    # nothing here (tests/reference/test_faults.py and the clean run send them)
    code, out, report = _run(openai, tmp_path, name, phases=("examples", "scenarios", "property"))
    operation_of = {e["id"]: e["operation"] for e in report["exchanges"]}
    failing = {
        c["id"]: {operation_of[f["exchange"]] for f in c["failures"]}
        for c in report["checks"]
        if c["status"] == "fail"
    }
    assert code == 1 or fault.breaks == ("RESPONSES-EVENT-001",), out  # a SHOULD does not gate
    broken = set().union(*(failing.get(check, set()) for check in fault.breaks))
    assert broken, f"{name} broke none of {fault.breaks}"
    if fault.shows_on == "any":  # a generic fault: on every operation
        assert broken == set(OPERATIONS), (name, broken)
    unrelated = {c for c in failing if c not in fault.breaks and c != "STREAM-JSON-001"}
    assert not unrelated, (name, {c: failing[c] for c in unrelated})


def test_an_unknown_mock_fault_is_a_usage_error(openai: Any) -> None:
    with pytest.raises(UsageError, match=r"unknown mock fault\(s\): nope"):
        create_mock_app(contract=openai, faults=["nope"])


def test_serve_lists_the_mock_faults() -> None:
    code, out, _ = cli("serve", "--list-faults")
    assert code == 0 and "faults of --mock (generic: every operation shows them)" in out
    assert "drop-required" in out and "RESPONSES-ORDER-001" in out


def test_validate_checks_a_recorded_responses_stream(openai: Any, tmp_path: Path) -> None:
    """A /responses stream recorded (here from the mock) is checked offline: its events
    against their schemas and the rules of named events."""
    from starlette.testclient import TestClient

    with TestClient(create_mock_app(contract=openai)) as client:
        answer = client.post(
            "/responses",
            json={"model": "gpt-test", "input": "Hi", "stream": True},
            headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"},
        )
    assert answer.status_code == 200 and b"event: response.created" in answer.content
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"
    good, bad = tmp_path / "responses.http", tmp_path / "responses-bad.http"
    good.write_bytes(head + answer.content)
    bad.write_bytes(head + answer.content.replace(b'"sequence_number": 3', b'"sequence_number": 1'))
    outcomes = []
    for path in (good, bad):
        code, out, _ = cli(
            "validate",
            str(path),
            *("--profile", "openai", "--operation", "POST /responses"),
            *("--report-dir", str(tmp_path / path.stem)),
        )
        outcomes.append((code, out))
    assert outcomes[0][0] == 0, outcomes[0][1]
    assert outcomes[1][0] == 1 and "FAIL RESPONSES-SEQUENCE-001" in outcomes[1][1]


def test_a_run_of_the_openai_profile_with_no_target_checks_its_mock(tmp_path: Path) -> None:
    code, out, err = cli("run", "--profile", "openai", "--report-dir", str(tmp_path))
    assert code == 0, out
    assert "checking the embedded mock of the document" in err
    report = load_report(tmp_path)
    assert report["run"]["embedded"] == "mock"
    assert "Target: `the embedded mock of the document`" in (tmp_path / "summary.md").read_text()
    assert {e["operation"] for e in report["exchanges"]} == {"POST /chat/completions", *OPERATIONS}
    # the default budget is the plan's, against any target: a fixed 200 left 35 of the openai
    # profile's cases unsent on every default run ("level core not granted")
    assert not report["run"]["cases_skipped"]
    # the mock answers as a chat model would where the document lets it (a forced tool call,
    # max_tokens cut with "length", usage that adds up): every level is reached on evidence
    assert report["level"] == "full", report["level_blockers"]
    assert report["run"]["tokens_spent"] > 2


def test_named_event_rules_judge_nothing_without_events_to_judge(openai: Any) -> None:
    from conformance.checks import check_exchange
    from conformance.exchange import EventSource, Exchange, Request, Response

    raw = b'data: {"delta": "x"}\n\n'
    exchange = Exchange(
        id="untyped",
        request=Request.create(method="POST", url="http://x/responses", body={"stream": True}),
        response=Response(
            status=200,
            headers=(("Content-Type", "text/event-stream"),),
            body=None,
            events=EventSource([raw]),
        ),
        expectation="accept",
    )
    outcomes = check_exchange(
        openai, exchange, operation=openai.operation("post", "/responses")
    ).outcomes
    for rule in ("RESPONSES-EVENT-001", "RESPONSES-SEQUENCE-001", "RESPONSES-DELTA-001"):
        assert outcomes[rule].status == "skip", (rule, outcomes[rule])
    assert outcomes["RESPONSES-ORDER-001"].status == "fail"  # no response.created first


def test_the_same_seed_gives_the_same_answers(openai: Any) -> None:
    from starlette.testclient import TestClient

    def models(seed: int) -> Any:
        with TestClient(create_mock_app(contract=openai, seed=seed)) as client:
            auth = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
            return client.get("/models", headers=auth).json()

    assert models(3) == models(3) != models(4)
    assert openai.is_valid(
        "/paths/~1models/get/responses/200/content/application~1json/schema", models(4)
    )
