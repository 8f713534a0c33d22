"""The reference server's variants: legal behaviours real servers differ in, which no check
may fail.

A fault breaks the contract and names the checks that must fail; a variant keeps to it, the
way some real server does (vLLM's nulls, an SSE framing the standard allows, a strict
deserialiser), and every check must still pass. The generation test runs many seeds against
them: a suite that fails a server for what the contract allows raises false alarms.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["VARIANTS", "Variant", "unknown_variants"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Variant:
    """A legal way the reference server can behave, and which real servers behave so."""

    name: str
    description: str
    #: who does this, or what allows it (ids of docs/sources.md)
    source: str


_LIST = [
    Variant(
        name="crlf",
        description="SSE lines end with CRLF instead of LF",
        source="WHATWG §9.2.6 (CRLF, LF and CR all end a line)",
    ),
    Variant(
        name="no-space",
        description="SSE fields have no space after the colon (data:{...})",
        source="WHATWG §9.2.6 (a single leading space of the value is optional)",
    ),
    Variant(
        name="keep-alive",
        description="blank lines before a JSON body and ': keep-alive' comments in streams",
        source="DSRL",
    ),
    Variant(
        name="nulls",
        description="null for the optional response fields an answer does not use "
        "(reasoning_content, tool_calls, completion_tokens_details; vLLM does the same)",
        source="PROFILE null_is_absent",
    ),
    Variant(
        name="strict-input",
        description="rejects request properties the schema does not document and integral "
        "floats for integers, with 422 (OpenAI: 'Unrecognized request argument'; a strict "
        "deserialiser: 'invalid type: floating point')",
        source="PROFILE",
    ),
]

VARIANTS: dict[str, Variant] = {v.name: v for v in _LIST}


def unknown_variants(names: list[str] | tuple[str, ...]) -> list[str]:
    """The names that are not variants of :data:`VARIANTS`."""
    return [n for n in names if n not in VARIANTS]
