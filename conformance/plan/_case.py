"""The case: one request a run sends and what the contract says of it, and what every source
of cases shares (frugal bodies, body keys, names).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from .._util import is_int
from .._vocab import Auth, CaseSource, Expectation
from ..contract import parameter_text
from ..exchange import Violation

if TYPE_CHECKING:
    from ..contract import Contract, Operation

__all__ = [
    "MAX_BODY",
    "MAX_CHOICES",
    "MAX_CONTENT",
    "Case",
    "body_key",
    "frugal",
    "naming",
    "operation_of",
    "slug_of",
]


#: Longest message content a generated case sends (frugality).
MAX_CONTENT = 64


@dataclass(frozen=True, kw_only=True, slots=True)
class Case:
    """One request the run sends, and what the contract says of it (``expectation``)."""

    name: str
    body: Any = None  # the JSON body
    raw: bytes | None = None  # a body that is not JSON (malformed input)
    expectation: Expectation = "accept"
    auth: Auth = "valid"
    method: str = "POST"
    path: str = "/chat/completions"
    source: CaseSource = "scenario"
    #: For a negative: what the body breaks (computed from the contract when planned).
    violations: tuple[Violation, ...] = ()
    #: The rule family of the case's operation (which checks can judge its answer).
    family: str = "chat"
    #: The values of the path's parameters (``path`` keeps its template) and the query, as
    #: JSON values (``20``, ``true``); written as text when sent.
    path_values: tuple[tuple[str, Any], ...] = ()
    query: tuple[tuple[str, Any], ...] = ()
    #: A negative whose verdict needs only the status: sent as a stream, and let go at the
    #: headers of a 2xx event stream (:func:`probing`), so a lenient server that starts an
    #: unbounded generation (``max_tokens: -1``) stops at once instead of running for minutes.
    probe: bool = False
    #: Whether its operation documents an event stream: where none is documented,
    #: ``stream: true`` is answered (and read) as the document says, as JSON.
    stream_documented: bool = True

    @property
    def stream(self) -> bool:
        return (
            self.stream_documented
            and isinstance(self.body, dict)
            and self.body.get("stream") is True
        )

    @property
    def target(self) -> str:
        """The path as sent: its parameters filled in (percent-encoded) and the query after
        it (an array is the name repeated, OAS' ``form`` style, exploded)."""
        path = self.path
        for name, value in self.path_values:
            path = path.replace("{" + name + "}", quote(parameter_text(value), safe=""))
        pairs = self.query_text()
        return path + ("?" + urlencode(pairs) if pairs else "")

    def query_text(self) -> list[tuple[str, str]]:
        """The query as the server reads it: (name, text) pairs."""
        return [
            (name, parameter_text(item))
            for name, value in self.query
            for item in (value if isinstance(value, list) else [value])
        ]


#: The largest generated body (bytes of JSON): small enough to read and replay by hand.
MAX_BODY = 4096

#: The most choices a generated positive asks for (``n``).
MAX_CHOICES = 2


def body_key(body: Any) -> str:
    """A body as text, keys sorted: two cases with the same key send the same bytes."""
    return json.dumps(body, sort_keys=True, default=str)


def frugal(body: Any, *, model: str, max_tokens: int, documented: set[str] | None = None) -> Any:
    """``body`` with the model pinned, ``max_tokens`` capped and message contents short; with
    ``documented`` (the properties the request schema has), only those are set (an embedding
    request has no ``max_tokens``)."""
    if not isinstance(body, dict):
        return body
    body = copy.deepcopy(body)
    if documented is None or "model" in documented:
        body["model"] = model
    if documented is None or "max_tokens" in documented:
        limit = body.get("max_tokens")
        body["max_tokens"] = min(limit, max_tokens) if is_int(limit) and limit > 0 else max_tokens
    for message in body.get("messages") or []:
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            message["content"] = message["content"][:MAX_CONTENT]
    return body


def operation_of(contract: Contract, case: Case) -> Operation:
    """The operation a case is sent to (the main one when the document has no other there)."""
    for operation in contract.operations:
        if operation.method.upper() == case.method.upper() and operation.path == case.path:
            return operation
    return contract.operation()


def naming(contract: Contract, operation: Operation) -> dict[str, str]:
    """How the cases of ``operation`` are named (its path as a prefix, unless it is the main
    one) and which rule family judges them."""
    if operation is contract.operation():
        return {"prefix": "", "family": operation.rule_family}
    return {"prefix": f"{slug_of(contract, operation)}-", "family": operation.rule_family}


def slug_of(contract: Contract, operation: Operation) -> str:
    """The operation's path as a name part: ``/models/{model}`` -> ``models-{model}``, with
    its method first when the profile certifies another operation at that path
    (``get-deployments``, ``post-deployments``: exchange ids never repeat)."""
    slug = operation.path.strip("/").replace("/", "-") or "root"
    shared = sum(op.path == operation.path for op in contract.certified_operations()) > 1
    return f"{operation.method.lower()}-{slug}" if shared else slug
