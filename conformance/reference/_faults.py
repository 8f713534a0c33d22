"""The reference server's faults: each one breaks named checks, and nothing else that is MUST.

A fault is data (name, what it does, the check ids it breaks, the requests that show it); the
server consults ``fault in faults`` at the point where it would behave. The fault matrix test
proves each claim: the named checks fail, no other MUST check fails, the clean server passes.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FAULTS", "Fault", "unknown_faults"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Fault:
    """A way the reference server can break the contract, and the checks that must then fail."""

    name: str
    description: str
    breaks: tuple[str, ...]
    #: needs a real socket and a client timeout (it hangs or never ends)
    hangs: bool = False
    #: checks it leaves with nothing to judge (they must say "not exercised", never pass)
    starves: tuple[str, ...] = ()
    #: a run against it stops before the cases, with a line containing this (the preflight)
    stops_run: str | None = None
    #: which answers show it: "any", only "stream"s (a fault of the framing or the events), or
    #: requests with "parameters" (path or query)
    shows_on: str = "any"


_LIST = [
    # -- HTTP, auth, validation
    Fault(
        name="undocumented-status",
        description="answers valid requests with HTTP 299",
        breaks=("HTTP-STATUS-001",),
    ),
    Fault(
        name="server-error",
        description="answers one valid request in three with a 500 and the error envelope",
        breaks=("HTTP-ACCEPT-001",),
    ),
    Fault(
        name="refuse-every-key",
        description="answers 401 to every request, the right key included",
        breaks=("HTTP-ACCEPT-001",),
        stops_run="the key was refused (401",
    ),
    Fault(
        name="lenient-tool-call-id",
        description="accepts an assistant tool call whose id is not a string",
        breaks=("NEGATIVE-INPUT-001",),
    ),
    Fault(
        name="no-auth",
        description="serves requests with no or a wrong API key",
        breaks=("AUTH-001",),
    ),
    Fault(
        name="string-content-only",
        description="refuses a message whose content is an array of parts (422, as servers "
        "of the string-only era do: D2#20)",
        breaks=("HTTP-ACCEPT-001",),
    ),
    Fault(
        name="accept-invalid",
        description="answers invalid requests with 200 and a completion",
        breaks=("NEGATIVE-INPUT-001",),
    ),
    Fault(
        name="models-bad-shape",
        description="GET /models lists models without owned_by (another operation than chat: "
        "the generic checks judge every operation the profile certifies)",
        breaks=("BODY-SCHEMA-001",),
    ),
    Fault(
        name="json-as-text-plain",
        description="serves JSON completions as text/plain",
        breaks=("HTTP-CONTENT-TYPE-001",),
    ),
    Fault(
        name="stream-as-json",
        description="serves the event stream as application/json",
        breaks=("HTTP-CONTENT-TYPE-001",),
    ),
    Fault(
        name="error-as-text-plain",
        description="serves error bodies as text/plain",
        breaks=("HTTP-CONTENT-TYPE-001",),
    ),
    Fault(
        name="bad-error-envelope",
        description='error bodies are {"detail": ...}, not the error envelope',
        breaks=("BODY-SCHEMA-001",),
    ),
    # -- schema
    Fault(
        name="bad-object",
        description="`object` is wrong in bodies and chunks",
        breaks=("BODY-SCHEMA-001", "STREAM-CHUNK-SCHEMA-001"),
    ),
    Fault(
        name="bad-finish-reason",
        description='finish_reason is "eos_token"',
        breaks=("BODY-SCHEMA-001", "STREAM-CHUNK-SCHEMA-001", "TOOL-FINISH-001"),
    ),
    Fault(
        name="nan-logprob",
        description="a -Infinity logprob (not JSON)",
        breaks=("BODY-JSON-001", "STREAM-JSON-001"),
    ),
    # -- stream framing and sequence
    Fault(
        name="no-done",
        description="the stream ends without data: [DONE]",
        breaks=("STREAM-DONE-001",),
    ),
    Fault(name="done-twice", description="data: [DONE] is sent twice", breaks=("STREAM-DONE-001",)),
    Fault(
        name="unterminated-done",
        description="the final data: [DONE] has no blank line after it",
        breaks=("STREAM-FRAMING-001", "STREAM-DONE-001"),
    ),
    Fault(
        name="invalid-utf8",
        description="a content delta carries a byte that is not UTF-8",
        breaks=("STREAM-FRAMING-002", "JSON-MODE-001"),
    ),
    Fault(
        name="non-json-chunk",
        description="one event's data is not JSON",
        breaks=("STREAM-JSON-001",),
    ),
    Fault(
        name="in-band-error",
        description="an error object arrives inside the 200 stream, before the finish chunk",
        breaks=("STREAM-ERROR-001", "STREAM-CHUNK-SCHEMA-001"),
    ),
    Fault(
        name="id-changes",
        description="the chunk id changes mid-stream",
        breaks=("STREAM-CONSTANT-001",),
    ),
    Fault(name="no-role", description="the first delta has no role", breaks=("STREAM-ROLE-001",)),
    Fault(
        name="wrong-role",
        description='a later delta says role "user"',
        breaks=("STREAM-ROLE-002", "STREAM-CHUNK-SCHEMA-001"),
    ),
    Fault(
        name="no-finish-reason",
        description="no chunk carries finish_reason",
        breaks=("STREAM-FINISH-001", "STREAM-USAGE-002"),
    ),
    Fault(
        name="content-after-finish",
        description="a content chunk follows the finish chunk",
        breaks=("STREAM-FINISH-001", "STREAM-USAGE-001", "JSON-MODE-001"),
    ),
    Fault(
        name="usage-every-chunk",
        description="every chunk carries usage",
        breaks=("STREAM-USAGE-001", "STREAM-USAGE-002"),
    ),
    Fault(
        name="no-stream-usage",
        description="no chunk carries usage, even with include_usage",
        breaks=("STREAM-USAGE-001",),
    ),
    Fault(
        name="usage-chunk",
        description="usage comes on an extra choices: [] chunk (OpenAI's placement)",
        breaks=("STREAM-USAGE-002",),
    ),
    Fault(
        name="reasoning-after-content",
        description="reasoning_content resumes after the content started",
        breaks=("STREAM-REASONING-ORDER-001",),
    ),
    Fault(
        name="thinking-not-off",
        description='thinks although the request sent thinking: {"type": "disabled"}',
        breaks=("THINKING-OFF-001",),
    ),
    Fault(
        name="thinking-switch-ignored",
        description="ignores the thinking switch: the model alone decides (deepseek-chat never "
        "thinks)",
        breaks=("THINKING-ON-001",),
    ),
    Fault(
        name="reasoning-tokens-uncounted",
        description="usage leaves the reasoning out (no completion_tokens_details, "
        "completion_tokens of the answer alone)",
        breaks=("THINKING-TOKENS-001",),
    ),
    # -- tools
    Fault(
        name="tool-no-index",
        description="tool-call deltas carry no index",
        breaks=("STREAM-TOOL-INDEX-001", "STREAM-CHUNK-SCHEMA-001"),
    ),
    Fault(
        name="tool-no-index-when-required",
        description='tool-call deltas carry no index when tool_choice is "required"',
        breaks=("STREAM-TOOL-INDEX-001", "STREAM-CHUNK-SCHEMA-001"),
    ),
    Fault(
        name="no-tool-calls",
        description="never calls a tool: answers with text even when tool_choice forces a call",
        breaks=(),
        starves=(
            "STREAM-TOOL-INDEX-001",
            "STREAM-TOOL-FIRST-001",
            "TOOL-ARGS-001",
            "TOOL-FINISH-001",
        ),
    ),
    Fault(
        name="tool-name-repeated",
        description="every tool-call delta repeats the function name",
        breaks=("STREAM-TOOL-FIRST-001",),
    ),
    Fault(
        name="tool-args-invalid",
        description="tool-call arguments are not JSON",
        breaks=("TOOL-ARGS-001",),
    ),
    Fault(
        name="tool-finish-stop",
        description='a tool call finishes with "stop"',
        breaks=("TOOL-FINISH-001",),
    ),
    # -- usage and limits
    Fault(
        name="usage-total-wrong",
        description="total_tokens is off by one",
        breaks=("USAGE-TOTAL-001",),
    ),
    Fault(
        name="usage-cache-wrong",
        description="cache hit + miss differ from prompt_tokens",
        breaks=("USAGE-CACHE-001",),
    ),
    Fault(
        name="reasoning-tokens-exceed",
        description="reasoning_tokens exceeds completion_tokens",
        breaks=("USAGE-REASONING-001", "FINISH-LENGTH-001"),
    ),
    Fault(
        name="ignore-max-tokens", description="max_tokens is ignored", breaks=("MAX-TOKENS-001",)
    ),
    Fault(
        name="early-length",
        description='finish_reason "length" well before max_tokens',
        breaks=("FINISH-LENGTH-001",),
    ),
    Fault(name="ignore-stop", description="stop sequences are ignored", breaks=("STOP-001",)),
    Fault(
        name="json-mode-text",
        description="response_format json_object gets plain text",
        breaks=("JSON-MODE-001",),
    ),
    # -- log probabilities
    Fault(
        name="logprobs-unrequested",
        description="logprobs are sent although not requested",
        breaks=("LOGPROBS-PRESENT-001",),
    ),
    Fault(
        name="positive-logprob", description="logprobs are positive", breaks=("LOGPROBS-RANGE-001",)
    ),
    Fault(
        name="short-top-logprobs",
        description="top_logprobs has one entry fewer than requested",
        breaks=("LOGPROBS-TOP-001",),
    ),
    Fault(
        name="bad-logprob-bytes",
        description="bytes are not the token's UTF-8",
        breaks=("LOGPROBS-BYTES-001",),
    ),
    # -- transport (need a real socket and client timeouts)
    Fault(
        name="hang-mid-stream",
        description="the stream stops sending after two chunks and never ends",
        breaks=(
            "HTTP-COMPLETE-001",
            "STREAM-DONE-001",
            "STREAM-FINISH-001",
            "STREAM-USAGE-001",
            "TOOL-ARGS-001",
        ),
        hangs=True,
    ),
    Fault(
        name="endless-stream",
        description="the stream never ends (a content chunk every 10 ms)",
        breaks=(
            "HTTP-COMPLETE-001",
            "STREAM-DONE-001",
            "STREAM-FINISH-001",
            "STREAM-USAGE-001",
        ),
        hangs=True,
    ),
]

FAULTS: dict[str, Fault] = {f.name: f for f in _LIST}


def unknown_faults(names: list[str] | tuple[str, ...]) -> list[str]:
    """The names that are not faults of :data:`FAULTS`."""
    return [n for n in names if n not in FAULTS]
