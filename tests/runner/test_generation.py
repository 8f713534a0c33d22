"""Generated cases a provider can trust: one violation per negative, named; small, documented,
repeatable positives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conformance.contract import load_contract
from conformance.runner import RunConfig, plan_cases
from conformance.runner._mutations import mutations
from tests.helpers import load_report, run_against

CONFIG = RunConfig(base_url="http://x")


def _plan(contract: Any, seed: int | None = None, config: RunConfig = CONFIG) -> list[Any]:
    return plan_cases(
        contract, config, model="deepseek-chat", reasoner="deepseek-reasoner", seed=seed or 0
    )


def _documented(contract: Any) -> set[str]:
    from conformance.runner._mutations import object_schema

    _, properties = object_schema(contract, contract.schema(contract.operation().request_schema))
    return set(properties)


@pytest.mark.parametrize("profile", ["deepseek", "openai"])
def test_a_plan_is_small_documented_and_never_repeats(profile: str) -> None:
    contract = load_contract(profile=profile)
    cases = _plan(contract)
    bodies = [(json.dumps(c.body, sort_keys=True), c.auth) for c in cases if c.raw is None]
    assert len(bodies) == len(set(bodies)), "a body repeats"
    assert sum(c.raw is not None for c in cases) == 1  # one malformed-JSON case
    documented = _documented(contract)
    for case in cases:
        if case.source in ("property", "negative") and case.raw is None:
            assert len(json.dumps(case.body).encode()) <= 4096, case.name
        if case.source == "property":
            assert set(case.body) <= documented, (case.name, set(case.body) - documented)
        if case.expectation == "reject":
            assert len(case.violations) == 1, (case.name, case.violations)


def test_the_same_command_draws_the_same_cases(deepseek: Any) -> None:
    first, again = _plan(deepseek), _plan(deepseek)
    assert [(c.name, c.body, c.raw) for c in first] == [(c.name, c.body, c.raw) for c in again]
    other = _plan(deepseek, seed=7)
    assert [c.body for c in other] != [c.body for c in first]


def test_negatives_break_every_documented_constraint_once(deepseek: Any) -> None:
    names = {c.name for c in _plan(deepseek) if c.expectation == "reject"}
    for expected in (
        "negative-missing-required-messages",
        "negative-missing-required-model",
        "negative-too-short-messages",
        "negative-bad-enum-messages-role",
        "negative-out-of-range-temperature-maximum",
        "negative-out-of-range-top_logprobs-maximum",
        "negative-too-long-stop",
        "negative-bad-enum-response_format-type",
        "invalid-json",
        "invalid-tool-call-id",
    ):
        assert expected in names
    kinds = {m.kind for m in mutations(deepseek)}
    assert kinds == {
        "missing-required",
        "wrong-type",
        "out-of-range",
        "too-long",
        "too-short",
        "bad-enum",
    }


def test_a_negative_that_needs_a_companion_field_gets_it(deepseek: Any) -> None:
    (case,) = [c for c in _plan(deepseek) if c.name == "negative-out-of-range-top_logprobs-maximum"]
    assert case.body["logprobs"] is True and case.body["top_logprobs"] == 21
    assert [v.instance_path for v in case.violations] == ["/top_logprobs"]


def test_a_lenient_server_is_named_at_the_pointer_it_let_through(tmp_path: Path) -> None:
    code, out, _ = run_against(tmp_path, "--max-examples", "1", faults=("lenient-tool-call-id",))
    assert code == 1
    assert "the request breaks: /messages/1/tool_calls/0/id: 401 is not of type 'string'" in out
    (exchange,) = [
        e for e in load_report(tmp_path)["exchanges"] if e["id"] == "invalid-tool-call-id"
    ]
    assert exchange["violations"][0]["instance_path"] == "/messages/1/tool_calls/0/id"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_faithful_server_passes_whatever_the_seed(tmp_path: Path, seed: int) -> None:
    code, out, _ = run_against(tmp_path, "--seed", str(seed))
    assert code == 0, out


def test_failures_found_by_one_run_are_replayed_first_by_the_next(tmp_path: Path) -> None:
    code, _, _ = run_against(tmp_path, "--seed", "4", faults=("server-error",))
    kept = json.loads((tmp_path / "examples.json").read_text())["examples"]
    assert code == 1 and kept and all(e["source"] in ("property", "negative") for e in kept)
    run_against(tmp_path, "--seed", "11", faults=("server-error",))
    report = load_report(tmp_path)
    replayed = [e["id"] for e in report["exchanges"] if e["id"].startswith("replay-")]
    assert report["run"]["replayed"] == len(kept) == len(replayed)
    assert {f"replay-{e['name']}" for e in kept} == set(replayed)


def test_failing_generated_cases_shrink_to_a_handful_of_fields(tmp_path: Path) -> None:
    code, out, _ = run_against(tmp_path, "--seed", "2", faults=("accept-invalid",))
    report = load_report(tmp_path)
    shrunk = {e["id"]: e["shrunk_body"] for e in report["exchanges"] if "shrunk_body" in e}
    assert code == 1 and shrunk, "nothing was shrunk"
    for name, body in shrunk.items():
        assert len(body) <= 5, (name, body)
        assert name.startswith(("negative-", "property-", "replay-"))
    assert "shrunk, still failing: " in out
    spent = report["run"]["requests_sent"] - report["run"]["cases_planned"] - 2
    assert 0 < spent <= 20  # the default shrink budget


def test_shrinking_can_be_switched_off(tmp_path: Path) -> None:
    run_against(tmp_path, "--seed", "2", "--shrink-budget", "0", faults=("accept-invalid",))
    report = load_report(tmp_path)
    assert not [e for e in report["exchanges"] if "shrunk_body" in e]
    assert report["run"]["requests_sent"] == report["run"]["cases_planned"] + 2
