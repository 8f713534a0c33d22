"""Thinking mode's cases: planned from the request schema (the switch, each documented effort),
none for a contract without the switch."""

from __future__ import annotations

from typing import Any

from conformance.contract import load_contract, request_is_valid
from conformance.plan import thinking_cases, token_budget, violations_of


def test_thinking_cases_follow_the_documented_switch_and_efforts(deepseek: Any) -> None:
    cases = {c.name: c for c in thinking_cases(deepseek, "deepseek-chat")}
    efforts = [n.removeprefix("thinking-effort-") for n in cases if "effort" in n]
    # the values the V4 overlay documents, in its order (DSTHINK's mapping table)
    assert efforts == ["low", "high", "max", "minimal", "medium", "xhigh", "ultra"]
    assert {"thinking-enabled-stream", "thinking-disabled", "thinking-tool-round-trip"} <= set(
        cases
    )
    accepted = [c for c in cases.values() if c.expectation == "accept"]
    assert all(request_is_valid(deepseek, c.body) for c in accepted)
    (refused,) = [c for c in cases.values() if c.expectation == "reject"]
    assert [v.keyword for v in violations_of(deepseek, refused)] == ["enum"]
    # the round trip replays the reasoning of the call it answers (DSTHINK)
    turn = cases["thinking-tool-round-trip"].body["messages"][1]
    assert turn["reasoning_content"] and turn["tool_calls"]
    # thinking asked for is a reasoning case in the plan line's budget
    budget = token_budget(accepted, model="deepseek-chat")
    assert budget.reasoning == len([c for c in accepted if c.body["thinking"]["type"] == "enabled"])


def test_a_contract_without_the_switch_plans_no_thinking_case(literal: Any) -> None:
    assert thinking_cases(literal, "deepseek-chat") == []
    assert thinking_cases(load_contract(profile="deepseek-2025"), "deepseek-chat") == []
