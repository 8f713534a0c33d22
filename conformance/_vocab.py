"""The closed vocabularies of the suite, as ``Literal`` types, and their values in order.

A leaf module: every stage may import it, and it imports nothing from the package.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "LEVELS",
    "SEVERITIES",
    "Auth",
    "CaseSource",
    "Expectation",
    "Level",
    "RunOn",
    "Severity",
    "Status",
]

#: How binding a rule is (RFC 2119 words): a MUST failure fails the gate, a SHOULD failure
#: fails it under ``--strict``, a MAY failure never does.
Severity = Literal["MUST", "SHOULD", "MAY"]
#: Certification levels, lowest first: a level needs every MUST check of it and below.
Level = Literal["core", "streaming", "full"]
#: What a check amounted to, for one exchange or over a run.
Status = Literal["pass", "fail", "skip", "error"]
#: What the contract says of a request: valid, invalid, or sent without a valid key.
Expectation = Literal["accept", "reject", "unauthorized"]
#: The key a case sends: the configured one, none, or a wrong one.
Auth = Literal["valid", "none", "wrong"]
#: Where a case comes from.
CaseSource = Literal["example", "scenario", "property", "negative", "auth"]
#: What a response check reads: anything (headers, the summary; it runs after a stream too) or
#: the JSON body only.
RunOn = Literal["any", "json"]

SEVERITIES: tuple[Severity, ...] = get_args(Severity)
LEVELS: tuple[Level, ...] = get_args(Level)
