"""Every rule: an exchange that breaks it, and clean exchanges that pass every rule."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest

from conformance.checks import CHECKS, Failure
from conformance.exchange import Exchange, Request, Response
from tests.checks.builders import (
    REQUEST,
    USAGE,
    chunk,
    clean_chunks,
    completion,
    failing,
    failures,
    json_exchange,
    run,
    sse,
    stream_exchange,
)

TOOL_REQUEST = {**REQUEST, "tools": [{"type": "function", "function": {"name": "sqrt"}}]}


def tool_chunks(*, repeat_name: bool = False, index: Any = 0, args: str = '{"n": 2}') -> list[Any]:
    first = {
        "index": index,
        "id": "call_0_x",
        "type": "function",
        "function": {"name": "sqrt", "arguments": ""},
    }
    later = {"index": index, "function": {"arguments": args}}
    if repeat_name:
        later["function"]["name"] = "sqrt"
    return [
        chunk({"role": "assistant", "content": ""}),
        chunk({"tool_calls": [first]}),
        chunk({"tool_calls": [later]}),
        chunk({"content": ""}, "tool_calls", usage=dict(USAGE)),
        "[DONE]",
    ]


def logprob(token: str, value: float = -0.5, top: int = 2) -> dict[str, Any]:
    entry = {"token": token, "logprob": value, "bytes": list(token.encode())}
    return {**entry, "top_logprobs": [dict(entry) for _ in range(top)]}


LOGPROB_REQUEST = {**REQUEST, "stream": False, "logprobs": True, "top_logprobs": 2}


def thinking_request(kind: str) -> dict[str, Any]:
    return {**REQUEST, "stream": False, "thinking": {"type": kind}}


def thought(reasoning: str, *, reasoning_tokens: int | None) -> dict[str, Any]:
    """A completion that thought ``reasoning`` first, its usage counting it or not."""
    body = completion()
    body["choices"][0]["message"]["reasoning_content"] = reasoning
    if reasoning_tokens is not None:
        details = {"reasoning_tokens": reasoning_tokens}
        body["usage"] = {**USAGE, "completion_tokens_details": details}
    return body


def logprob_body(entry: dict[str, Any]) -> dict[str, Any]:
    body = completion()
    body["choices"][0]["logprobs"] = {"content": [entry]}
    return body


def with_chunk(i: int, change: Callable[[dict[str, Any]], None]) -> list[Any]:
    chunks = clean_chunks()
    change(chunks[i])
    return chunks


ERROR = {
    "error": {
        "message": "Invalid top_p value",
        "type": "invalid_request_error",
        "param": "top_p",
        "code": "invalid_request_error",
    }
}

BREAKS: dict[str, Callable[[], Exchange]] = {
    "HTTP-ACCEPT-001": lambda: json_exchange(ERROR, status=500, expectation="accept"),
    "HTTP-COMPLETE-001": lambda: dataclasses.replace(
        stream_exchange(clean_chunks()[:2]), interrupted="nothing arrived for 60 s (the idle limit)"
    ),
    "NEGATIVE-INPUT-001": lambda: json_exchange(expectation="reject"),
    "AUTH-001": lambda: json_exchange(expectation="unauthorized"),
    "HTTP-STATUS-001": lambda: json_exchange(status=418),
    "HTTP-CONTENT-TYPE-001": lambda: json_exchange(content_type="text/plain"),
    "BODY-JSON-001": lambda: json_exchange(raw=b'{"logprob": -Infinity}'),
    "BODY-SCHEMA-001": lambda: json_exchange(completion(object="chat.completion.chunk")),
    "STREAM-CHUNK-SCHEMA-001": lambda: stream_exchange(
        with_chunk(1, lambda c: c["choices"][0].update(finish_reason="eos_token"))
    ),
    "USAGE-TOTAL-001": lambda: json_exchange(completion(usage={**USAGE, "total_tokens": 99})),
    "USAGE-CACHE-001": lambda: json_exchange(
        completion(usage={**USAGE, "prompt_cache_hit_tokens": 5})
    ),
    "USAGE-REASONING-001": lambda: json_exchange(
        completion(usage={**USAGE, "completion_tokens_details": {"reasoning_tokens": 4}})
    ),
    "MAX-TOKENS-001": lambda: json_exchange(request={**REQUEST, "stream": False, "max_tokens": 2}),
    "FINISH-LENGTH-001": lambda: json_exchange(
        completion(
            choices=[
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Hi"},
                    "logprobs": None,
                    "finish_reason": "length",
                }
            ]
        ),
        request={**REQUEST, "stream": False, "max_tokens": 16},
    ),
    "STOP-001": lambda: json_exchange(request={**REQUEST, "stream": False, "stop": ["there"]}),
    "JSON-MODE-001": lambda: json_exchange(
        request={**REQUEST, "stream": False, "response_format": {"type": "json_object"}}
    ),
    "TOOL-ARGS-001": lambda: stream_exchange(tool_chunks(args='{"n": '), request=TOOL_REQUEST),
    "TOOL-FINISH-001": lambda: stream_exchange(
        [*tool_chunks()[:3], chunk({"content": ""}, "stop", usage=dict(USAGE)), "[DONE]"],
        request=TOOL_REQUEST,
    ),
    "LOGPROBS-PRESENT-001": lambda: json_exchange(request=LOGPROB_REQUEST),
    "LOGPROBS-RANGE-001": lambda: json_exchange(
        logprob_body(logprob("Hi", 0.25)), request=LOGPROB_REQUEST
    ),
    "LOGPROBS-TOP-001": lambda: json_exchange(
        logprob_body(logprob("Hi", top=1)), request=LOGPROB_REQUEST
    ),
    "LOGPROBS-BYTES-001": lambda: json_exchange(
        logprob_body({**logprob("Hi"), "bytes": [72]}), request=LOGPROB_REQUEST
    ),
    "STREAM-FRAMING-001": lambda: stream_exchange(raw=sse(clean_chunks(), terminated=False)),
    "STREAM-FRAMING-002": lambda: stream_exchange(
        raw=sse(clean_chunks()[:1]) + b'data: {"x": "\xff"}\n\n' + sse(clean_chunks()[1:])
    ),
    "STREAM-DONE-001": lambda: stream_exchange(clean_chunks()[:-1]),
    "STREAM-JSON-001": lambda: stream_exchange(
        [*clean_chunks()[:2], "{not json", *clean_chunks()[2:]]
    ),
    "STREAM-ERROR-001": lambda: stream_exchange(
        [*clean_chunks()[:2], {"error": {"message": "boom", "type": "server_error"}}, "[DONE]"]
    ),
    "STREAM-CONSTANT-001": lambda: stream_exchange(with_chunk(2, lambda c: c.update(id="other"))),
    "STREAM-ROLE-001": lambda: stream_exchange(clean_chunks()[1:]),
    "STREAM-ROLE-002": lambda: stream_exchange(
        with_chunk(1, lambda c: c["choices"][0]["delta"].update(role="user"))
    ),
    "STREAM-FINISH-001": lambda: stream_exchange(
        with_chunk(3, lambda c: c["choices"][0].update(finish_reason=None))
    ),
    "STREAM-USAGE-001": lambda: stream_exchange(
        [chunk({"role": "assistant", "content": ""}, usage=dict(USAGE)), *clean_chunks()[1:]],
        request={**REQUEST, "stream_options": {"include_usage": True}},
    ),
    "STREAM-USAGE-002": lambda: stream_exchange(
        [
            *[c for c in clean_chunks()[:3]],
            chunk({"content": ""}, "stop"),
            {**chunk({}), "choices": [], "usage": dict(USAGE)},
            "[DONE]",
        ]
    ),
    "STREAM-TOOL-INDEX-001": lambda: stream_exchange(tool_chunks(index=None), request=TOOL_REQUEST),
    "STREAM-TOOL-FIRST-001": lambda: stream_exchange(
        tool_chunks(repeat_name=True), request=TOOL_REQUEST
    ),
    "STREAM-REASONING-ORDER-001": lambda: stream_exchange(
        [
            chunk({"role": "assistant", "content": None, "reasoning_content": ""}),
            chunk({"content": "Answer", "reasoning_content": None}),
            chunk({"content": None, "reasoning_content": "more thinking"}),
            chunk({"content": ""}, "stop", usage=dict(USAGE)),
            "[DONE]",
        ]
    ),
    "THINKING-OFF-001": lambda: json_exchange(
        thought("Let me think.", reasoning_tokens=3), request=thinking_request("disabled")
    ),
    "THINKING-ON-001": lambda: stream_exchange(
        request={**thinking_request("enabled"), "stream": True}
    ),
    "THINKING-TOKENS-001": lambda: json_exchange(thought("Let me think.", reasoning_tokens=None)),
}


def test_every_registered_check_has_a_breaking_exchange() -> None:
    # the rules of other families are broken by the mock (tests/reference/test_mock.py)
    chat = {i for i, c in CHECKS.items() if c.families is None or "chat" in c.families}
    assert set(BREAKS) == chat


@pytest.mark.parametrize("check_id", sorted(BREAKS))
def test_each_rule_fails_on_its_broken_exchange(deepseek: Any, check_id: str) -> None:
    result = run(deepseek, BREAKS[check_id]())
    found: list[Failure] = failures(result, check_id)
    assert found, f"{check_id} did not fail: {result.outcomes[check_id]}"
    assert all(f.check_id == check_id and f.exchange == result.exchange_id for f in found)
    assert all(f.message for f in found)


CLEAN: dict[str, Callable[[], Exchange]] = {
    "stream": lambda: stream_exchange(),
    "stream with include_usage": lambda: stream_exchange(
        [*[dict(c, usage=None) for c in clean_chunks()[:3]], *clean_chunks()[3:]],
        request={**REQUEST, "stream_options": {"include_usage": True}},
    ),
    "stream with CRLF and keep-alive comments": lambda: stream_exchange(
        raw=b": keep-alive\r\n\r\n" + sse(clean_chunks(), sep="\r\n\r\n")
    ),
    "tool stream": lambda: stream_exchange(tool_chunks(), request=TOOL_REQUEST),
    "reasoner stream": lambda: stream_exchange(
        [
            chunk({"role": "assistant", "content": None, "reasoning_content": ""}),
            chunk({"content": None, "reasoning_content": "Think"}),
            chunk({"content": "Answer", "reasoning_content": None}),
            chunk(
                {"content": ""},
                "stop",
                usage={**USAGE, "completion_tokens_details": {"reasoning_tokens": 1}},
            ),
            "[DONE]",
        ]
    ),
    "json": lambda: json_exchange(),
    "thinking enabled": lambda: json_exchange(
        thought("Let me think.", reasoning_tokens=3), request=thinking_request("enabled")
    ),
    "thinking disabled": lambda: json_exchange(request=thinking_request("disabled")),
    "json after keep-alive blank lines": lambda: json_exchange(
        raw=b"\n\n\n" + json.dumps(completion()).encode()
    ),
    "json with logprobs": lambda: json_exchange(
        logprob_body(logprob("Hi")), request=LOGPROB_REQUEST
    ),
    # Regression (llama-server): a partial UTF-8 character is the token "" with its raw bytes.
    "json with a partial-character token": lambda: json_exchange(
        logprob_body({**logprob("Hi"), "token": "", "bytes": [229, 145]}), request=LOGPROB_REQUEST
    ),
    "json mode": lambda: json_exchange(
        completion(
            choices=[
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": '{"a": 1}'},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ]
        ),
        request={**REQUEST, "stream": False, "response_format": {"type": "json_object"}},
    ),
    "length at max_tokens": lambda: json_exchange(
        completion(
            choices=[
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Hi"},
                    "logprobs": None,
                    "finish_reason": "length",
                }
            ]
        ),
        request={**REQUEST, "stream": False, "max_tokens": 3},
    ),
    "accepted": lambda: json_exchange(expectation="accept"),
    "rejected": lambda: json_exchange(ERROR, status=400, expectation="reject"),
    "unauthorized": lambda: json_exchange(
        {
            "error": {
                "message": "Authentication Fails",
                "type": "authentication_error",
                "param": None,
                "code": "invalid_request_error",
            }
        },
        status=401,
        expectation="unauthorized",
    ),
    "error envelope": lambda: json_exchange(
        {
            "error": {
                "message": "Authentication Fails",
                "type": "authentication_error",
                "param": None,
                "code": "invalid_request_error",
            }
        },
        status=401,
    ),
}


@pytest.mark.parametrize("name", sorted(CLEAN))
def test_clean_exchanges_pass_every_rule(deepseek: Any, name: str) -> None:
    result = run(deepseek, CLEAN[name]())
    assert failing(result) == {}, [str(f) for f in result.failures]


def test_request_dependent_rules_skip_without_a_request(deepseek: Any) -> None:
    result = run(deepseek, stream_exchange(with_request=False, content_type=None))
    assert result.outcomes["STOP-001"].status == "skip"
    assert "no request was recorded" in (result.outcomes["STOP-001"].reason or "")
    assert result.outcomes["HTTP-CONTENT-TYPE-001"].reason == "the recording has no headers"
    assert failing(result) == {}


def test_unterminated_done_is_explained(deepseek: Any) -> None:
    result = run(deepseek, stream_exchange(raw=sse(clean_chunks(), terminated=False)))
    (done,) = failures(result, "STREAM-DONE-001")
    assert "ends with 'data: [DONE]' but no blank line after it" in done.message


def test_schema_failure_fields(deepseek: Any) -> None:
    broken = with_chunk(1, lambda c: c["choices"][0].update(finish_reason="eos_token"))
    (failure,) = failures(run(deepseek, stream_exchange(broken)), "STREAM-CHUNK-SCHEMA-001")
    assert failure.chunk_index == 1
    assert failure.instance_path == "/choices/0/finish_reason"
    assert failure.schema_path == (
        "/components/schemas/ChatCompletionChunk/properties/choices/items/properties/"
        "finish_reason/enum"
    )
    assert failure.value == "eos_token"
    assert str(failure).splitlines() == [
        "[STREAM-CHUNK-SCHEMA-001] 'eos_token' is not one of ['stop', 'length', 'content_filter', "
        "'tool_calls', 'insufficient_system_resource', None]",
        "  where: chunk 1, at /choices/0/finish_reason",
        "  value: eos_token",
        "  schema: /components/schemas/ChatCompletionChunk/properties/choices/items/properties/"
        "finish_reason/enum",
    ]


def test_nan_in_a_chunk_is_not_json(deepseek: Any) -> None:
    raw = sse(clean_chunks()[:1]) + b'data: {"logprob": NaN}\n\n' + sse(clean_chunks()[1:])
    (failure,) = failures(run(deepseek, stream_exchange(raw=raw)), "STREAM-JSON-001")
    assert "NaN is not valid JSON" in failure.message


def test_a_failing_check_does_not_stop_the_others(deepseek: Any, monkeypatch: Any) -> None:
    check = CHECKS["USAGE-TOTAL-001"]

    def boom(ctx: Any) -> Any:
        raise RuntimeError("bug")
        yield

    monkeypatch.setitem(
        CHECKS,
        "USAGE-TOTAL-001",
        type(check)(**{**{f: getattr(check, f) for f in check.__dataclass_fields__}, "run": boom}),
    )
    result = run(deepseek, json_exchange())
    assert result.outcomes["USAGE-TOTAL-001"].status == "error"
    assert result.outcomes["BODY-SCHEMA-001"].status == "pass"


SAME_COMPLETION = [
    # (what, message or delta, logprobs requested, logprobs given)
    ("reasoning only, logprobs missing", {"reasoning_content": "Think."}, True, None),
    ("answer, logprobs missing", {"content": "Hi."}, True, None),
    ("answer, logprobs unrequested", {"content": "Hi."}, False, {"content": []}),
    ("answer, logprobs as asked", {"content": "Hi."}, True, {"content": []}),
]


@pytest.mark.parametrize(("what", "part", "requested", "given"), SAME_COMPLETION)
def test_a_body_and_a_stream_of_the_same_completion_get_the_same_verdict(
    deepseek: Any, what: str, part: dict[str, Any], requested: bool, given: Any
) -> None:
    request = {**REQUEST, "logprobs": requested}
    body = completion()
    body["choices"][0].update(
        message={"role": "assistant", "content": None, **part}, logprobs=given
    )
    streamed = [
        chunk({"role": "assistant", "content": ""}),
        {**chunk(part), "choices": [{**chunk(part)["choices"][0], "logprobs": given}]},
        chunk({"content": ""}, "stop", usage=dict(USAGE)),
        "[DONE]",
    ]
    as_body = run(deepseek, json_exchange(body, request={**request, "stream": False}))
    as_stream = run(deepseek, stream_exchange(streamed, request={**request, "stream": True}))
    verdicts = [r.outcomes["LOGPROBS-PRESENT-001"].status for r in (as_body, as_stream)]
    assert verdicts[0] == verdicts[1], (what, verdicts)
    assert verdicts[0] == ("pass" if given is not None and requested else "fail"), what


def test_a_forced_tool_call_may_end_with_stop(deepseek: Any) -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    body = completion()
    body["choices"][0].update(
        message={"role": "assistant", "content": None, "tool_calls": [call]}, finish_reason="stop"
    )
    named = {
        **REQUEST,
        "stream": False,
        "tool_choice": {"type": "function", "function": {"name": "f"}},
    }
    assert (
        run(deepseek, json_exchange(body, request=named)).outcomes["TOOL-FINISH-001"].status
        == "pass"
    )
    auto = {**REQUEST, "stream": False, "tool_choice": "auto"}
    assert (
        run(deepseek, json_exchange(body, request=auto)).outcomes["TOOL-FINISH-001"].status
        == "fail"
    )


def test_no_response_fails_only_completeness(deepseek: Any) -> None:
    from conformance.exchange import NO_RESPONSE

    exchange = Exchange(
        id="lost",
        request=Request.create(body=REQUEST),
        response=Response(status=NO_RESPONSE, headers=(), body=b""),
        expectation="accept",
        interrupted="no response: connection reset",
    )
    result = run(deepseek, exchange)
    assert failing(result) == {"HTTP-COMPLETE-001": "fail"}
    assert all(
        o.reason and o.reason.startswith(("no response", "does not apply"))
        for k, o in result.outcomes.items()
        if k != "HTTP-COMPLETE-001"
    )


def test_a_stream_rule_that_skips_or_errs_mid_stream_is_fed_no_more(
    deepseek: Any, monkeypatch: Any
) -> None:
    from conformance.checks import SkipCheck

    calls: dict[str, int] = {"STREAM-CONSTANT-001": 0, "STREAM-ROLE-002": 0}

    def patched(check_id: str, raise_: Callable[[], Exception]) -> None:
        check = CHECKS[check_id]

        class Rule(check.rule):  # type: ignore[name-defined, misc]
            def on_chunk(self, chunk: Any) -> Any:
                calls[check_id] += 1
                raise raise_()

        monkeypatch.setitem(CHECKS, check_id, dataclasses.replace(check, rule=Rule))

    patched("STREAM-CONSTANT-001", lambda: RuntimeError("bug"))  # fed every chunk
    patched("STREAM-ROLE-002", lambda: SkipCheck("enough"))  # fed chunks with "role" only
    extra = chunk({"role": "assistant", "content": "x"})
    raw = sse([*clean_chunks()[:1], extra, extra, *clean_chunks()[1:]])
    result = run(deepseek, stream_exchange(raw=raw))
    assert calls == {"STREAM-CONSTANT-001": 1, "STREAM-ROLE-002": 1}
    assert result.outcomes["STREAM-CONSTANT-001"].status == "error"
    assert result.outcomes["STREAM-ROLE-002"].status == "skip"
    assert result.outcomes["STREAM-ROLE-002"].reason == "enough"
    assert result.outcomes["STREAM-FINISH-001"].status == "pass"


def test_a_tool_call_cut_off_by_max_tokens_may_end_with_length(deepseek: Any) -> None:
    """vLLM, stream-tools-named: the call cut at max_tokens ends with "length", rightly."""
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": '{"ci'}}
    body = completion()
    body["choices"][0].update(
        message={"role": "assistant", "content": None, "tool_calls": [call]},
        finish_reason="length",
    )
    capped = {**REQUEST, "stream": False, "tool_choice": "auto", "max_tokens": 3}
    outcome = run(deepseek, json_exchange(body, request=capped)).outcomes["TOOL-FINISH-001"]
    assert outcome.status == "pass"
    uncapped = {**REQUEST, "stream": False, "tool_choice": "auto"}
    outcome = run(deepseek, json_exchange(body, request=uncapped)).outcomes["TOOL-FINISH-001"]
    assert outcome.status == "fail"


@pytest.mark.parametrize(("completion_tokens", "status"), [(32, "pass"), (33, "fail")])
def test_max_tokens_bounds_each_choice_not_their_sum(
    deepseek: Any, completion_tokens: int, status: str
) -> None:
    """A correct vLLM failed it with n: 2 (32 > 16): usage counts every choice."""
    body = completion()
    second = {**body["choices"][0], "index": 1}
    body["choices"].append(second)
    body["usage"] = {
        **USAGE,
        "completion_tokens": completion_tokens,
        "total_tokens": USAGE["prompt_tokens"] + completion_tokens,
    }
    request = {**REQUEST, "stream": False, "max_tokens": 16, "n": 2}
    outcome = run(deepseek, json_exchange(body, request=request)).outcomes["MAX-TOKENS-001"]
    assert outcome.status == status
