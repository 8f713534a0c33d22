"""Checks, failures and the registry.

A check states one rule: a stable id, a title, a severity (MUST/SHOULD/MAY), the category and
certification level it belongs to, and its source (a spec pointer, an erratum or a cited page).
Checks are pure: they read a :class:`CheckContext` and *yield* :class:`Failure` s; they never do
I/O and never raise, except :class:`SkipCheck` to say they do not apply. The driver adds the
context (exchange id, replay command), as jsonschema's ``iter_errors`` does for its keywords.

Two shapes:
- a *response check* is a generator function run once per exchange, after the body or the whole
  stream has been read;
- a *stream rule* is a small class, instantiated per streamed exchange, fed each chunk
  (``on_chunk``) and told when the stream ends (``on_end``). It keeps only what its rule needs.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from .._util import is_int
from .._vocab import LEVELS, SEVERITIES, Expectation, Level, RunOn, Severity
from ._render import MAX_VALUE_CHARS, render_failure

if TYPE_CHECKING:
    from .._sse import Framing
    from ..contract import Contract, Operation, ResponseVariant
    from ..exchange import Exchange

__all__ = [
    "CHECKS",
    "Check",
    "CheckContext",
    "ChoiceSummary",
    "Chunk",
    "Failure",
    "SkipCheck",
    "Summary",
    "failure",
    "response_check",
    "stream_rule",
]

_UNSET: Any = object()


class SkipCheck(Exception):
    """Raised by a check that found nothing to judge in an exchange: the exchange is not about
    its rule (no stop sequence requested, say), or the feature it judges did not occur (no
    streamed tool call). The message says why. A check that judged nothing never passes; a
    SkipCheck raised after failures were yielded does not undo them."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Failure:
    """One violation, as data. Rendered for people by ``str()``; reporters read the fields.

    Checks leave ``check_id``, ``exchange`` and ``reproduce`` empty: the driver, which knows
    which check yielded the failure and on which exchange, stamps them (as jsonschema's
    validators stamp the keyword on the errors a keyword function yields).
    """

    message: str
    check_id: str = ""
    instance_path: str | None = None  # JSON pointer into the body or the chunk
    schema_path: str | None = None  # JSON pointer into the effective spec
    chunk_index: int | None = None  # the SSE event's index in the stream
    value: Any = None  # the offending value (truncated when large)
    exchange: str | None = None
    reproduce: str | None = None

    def with_context(self, **changes: Any) -> Failure:
        return dataclasses.replace(self, **changes)

    def as_fields(self) -> dict[str, Any]:
        """The fields by name (those of a failure entry in report.json)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def __str__(self) -> str:
        return render_failure(self.as_fields(), label=self.check_id)


def truncate(value: Any) -> Any:
    """A value small enough to keep in a report: the value itself when its JSON is short,
    else the start of its JSON. Only what can show is encoded (a 32 MiB string in a failure
    cost 0.6 s to encode in full, to keep 300 characters of it)."""
    try:
        text = json.dumps(_cut(value, MAX_VALUE_CHARS), ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)[:MAX_VALUE_CHARS]
    return value if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 3] + "..."


def _cut(value: Any, room: int, depth: int = 0) -> Any:
    """``value`` with every string and array longer than ``room`` cut to ``room + 1`` (its
    JSON then starts as the whole value's does, for more than ``room`` characters); deeper
    than 64 levels, left as it is."""
    if isinstance(value, str):
        return value if len(value) <= room else value[: room + 1]
    if depth > 64:
        return value
    if isinstance(value, list):
        return [_cut(v, room, depth + 1) for v in value[: room + 1]]
    if isinstance(value, dict) and len(value) <= room:
        return {k: _cut(v, room, depth + 1) for k, v in value.items()}
    return value


@dataclass(kw_only=True)
class ChoiceSummary:
    """What one choice amounted to: accumulated text and assembled tool calls."""

    index: int
    content: str = ""
    reasoning_content: str = ""
    finish_reason: str | None = None
    tool_calls: dict[int, dict[str, str]] = field(default_factory=dict)


@dataclass(kw_only=True)
class Summary:
    """The completion a response amounts to, built from a JSON body or accumulated from a
    stream; the semantic checks (usage, stop, json mode, tools) read only this."""

    choices: dict[int, ChoiceSummary] = field(default_factory=dict)
    usage: Any = None
    usage_chunk: int | None = None  # the chunk that carried usage, in a stream
    #: In a stream: how many choice deltas came, and the chunk where each choice's content
    #: began (its first non-empty ``content``).
    deltas: int = 0
    content_from: dict[int, int] = field(default_factory=dict)

    def choice(self, index: int) -> ChoiceSummary:
        if index not in self.choices:
            self.choices[index] = ChoiceSummary(index=index)
        return self.choices[index]


@dataclass(kw_only=True, slots=True)
class Chunk:
    """One SSE event as a stream rule sees it. Rules must not change it; it is not frozen only
    because a frozen dataclass costs a setattr call per field, once per chunk on the hot path."""

    index: int  # the event's index in the stream
    offset: int
    data: str
    sentinel: bool  # data is a documented sentinel such as [DONE]
    payload: Any = None  # the parsed JSON, None for a sentinel or unparsable data
    json_error: str | None = None
    #: (position, choice) of each object in ``payload["choices"]``, computed once per chunk.
    choices: tuple[tuple[int, dict[str, Any]], ...] = ()
    #: The event's ``event:`` field (``message`` when it has none): named events select their
    #: schema by it (OpenAI's Responses API).
    event: str = "message"

    @staticmethod
    def choices_of(payload: Any) -> tuple[tuple[int, dict[str, Any]], ...]:
        if not isinstance(payload, dict):
            return ()
        items = payload.get("choices")
        if type(items) is not list:
            return ()
        if len(items) == 1 and type(items[0]) is dict:  # the common case, without a generator
            return ((0, items[0]),)
        return tuple([(i, c) for i, c in enumerate(items) if isinstance(c, dict)])


@dataclass(kw_only=True)
class CheckContext:
    """What a check may read of one exchange: the contract, the operation, the response variant
    the status selects, the parsed body or the stream's summary and framing."""

    contract: Contract
    operation: Operation
    exchange: Exchange
    variant: ResponseVariant | None
    #: whether the request asked for a stream; None when no request was recorded.
    wants_stream: bool | None
    body: Any = _UNSET  # parsed JSON body of a non-streamed response
    body_error: str | None = None
    summary: Summary | None = None
    #: While a stream is read: the summary so far, the current chunk included (stream rules
    #: with a needle read what they do not see, such as where content began).
    partial: Summary | None = None
    framing: Framing | None = None

    @property
    def request(self) -> Any:
        return self.exchange.request_body

    def require_request(self) -> dict[str, Any]:
        """The request body a rule depends on; SkipCheck when none was recorded, or when the
        request was invalid (its parameters promise nothing: a server that accepts
        ``top_logprobs: 21`` fails NEGATIVE-INPUT-001, not the logprobs rules)."""
        body = self.exchange.request_body
        if not isinstance(body, dict):
            raise SkipCheck("no request was recorded, and this rule depends on it")
        if self.exchange.expectation == "reject":
            raise SkipCheck("the request was invalid: its parameters promise nothing")
        return body

    @property
    def has_body(self) -> bool:
        return self.body is not _UNSET


@dataclass(frozen=True, kw_only=True, slots=True)
class Check:
    """One rule. ``run`` checks a whole exchange (a response check); ``rule`` is the class fed a
    stream chunk by chunk (a stream rule). A rule about both kinds of response has both."""

    id: str
    title: str
    severity: Severity
    category: str  # what it is about: http, schema, stream, usage, logprobs, tools, ...
    level: Level  # the certification level it counts toward
    source: str  # ids of docs/sources.md with the words they say, separated by "; "
    run: Callable[[CheckContext], Iterator[Failure]] | None = field(
        default=None, repr=False, compare=False
    )
    rule: type[Any] | None = field(default=None, repr=False, compare=False)
    #: For ``run``: ``any`` (it reads headers or the Summary, so it also runs after a stream)
    #: or ``json`` (it reads the JSON body; streams need a ``rule``).
    run_on: RunOn = "any"
    #: Property names the contract must declare for the rule to apply (DeepSeek's cache
    #: counters, reasoning content...): a contract without them is not judged by it.
    requires: tuple[str, ...] = ()
    #: Property names the operation's request body must take (at its top, through ``$ref``
    #: and branches) for the rule to apply: a switch the rule judges (``thinking``), not a
    #: name used anywhere (Mistral's content chunks have a ``thinking`` too).
    requires_request: tuple[str, ...] = ()
    #: Whether the rule is about authentication, so applies only to a secured operation.
    requires_auth: bool = False
    #: Whether the rule reads the events' data as the document types it, so applies only to
    #: an operation whose event stream is typed (a document that does not type its events
    #: gets "not applicable", never a pass on chunks nothing was checked against).
    requires_typed_stream: bool = False
    #: Whether the rule is about a stream's sentinel (``data: [DONE]``), so applies only to
    #: an operation whose streams end with one (Anthropic's end with an event: "not
    #: applicable", never "not exercised").
    requires_sentinel: bool = False
    #: Whether the rule judges an exchange that got no response at all (a connection that
    #: failed, a timeout before the status line); every other rule skips it.
    without_response: bool = False
    #: Whether the rule reads the status line and headers only, so also judges an exchange
    #: whose body the suite let go unread (a probe: ``Exchange.cut``); every other rule skips it.
    status_only: bool = False
    #: What would help when the rule found nothing to judge (a flag to try).
    hint: str = ""
    #: The exchanges it can judge, by what their request expects: most rules read an answer
    #: (``accept``); the HTTP and schema rules read errors too. What cases a selection of
    #: checks needs (``--checks``) is read from this.
    judges: tuple[Expectation, ...] = ("accept",)
    #: The operation families whose exchanges it judges (a rule about chat completions never
    #: judges an embedding); None: every operation (status, content type, schemas, framing).
    families: tuple[str, ...] | None = ("chat",)

    def not_applicable(self, contract: Contract, operation: Operation | None = None) -> str | None:
        """Why this check does not apply to ``contract`` (or to ``operation`` of it), or None
        when it does."""
        if operation is not None and self.families is not None:
            family = operation.rule_family
            if family not in self.families:
                return (
                    f"does not apply to {operation.label}: a rule of {'/'.join(self.families)} "
                    f"operations ({operation.label} is "
                    + (f"{family})" if operation.family else "not certified by the profile)")
                )
        missing = [name for name in self.requires if not contract.declares(name)]
        if missing:
            return f"does not apply: the contract declares no {', '.join(missing)}"
        location = (operation or contract.operation()).request_schema
        untaken = [
            name
            for name in self.requires_request
            if location is None or not contract.names_property(location, name)
        ]
        if untaken:
            return f"does not apply: the request takes no {', '.join(untaken)}"
        if self.requires_auth and not contract.operation().requires_auth:
            return "does not apply: the operation declares no security requirement"
        if self.requires_sentinel:
            target = operation or contract.operation()
            streams = [v.stream for vs in target.responses.values() for v in vs if v.stream]
            if not any(s.sentinels for s in streams):
                return f"does not apply to {target.label}: " + (
                    "its streams end without a sentinel" if streams else "it does not stream"
                )
        if self.requires_typed_stream and operation is not None:
            streams = [v.stream for vs in operation.responses.values() for v in vs if v.stream]
            if streams and not any(s.data_schema or s.named_events for s in streams):
                return (
                    f"does not apply to {operation.label}: the document does not type its "
                    "events (no itemSchema, contentSchema or data schema)"
                )
        return None


#: Every check, by id, in registration order.
CHECKS: dict[str, Check] = {}


def _register(check: Check) -> None:
    existing = CHECKS.get(check.id)
    if existing is not None:
        if (existing.run and check.run) or (existing.rule and check.rule):
            raise ValueError(f"duplicate check id {check.id}")
        check = dataclasses.replace(
            existing, run=existing.run or check.run, rule=existing.rule or check.rule
        )
    if check.severity not in SEVERITIES or check.level not in LEVELS:
        raise ValueError(f"{check.id}: bad severity or level")
    CHECKS[check.id] = check


def response_check(
    *,
    id: str,
    title: str,
    severity: Severity,
    category: str,
    level: Level,
    source: str,
    run_on: RunOn = "any",
    requires: tuple[str, ...] = (),
    requires_request: tuple[str, ...] = (),
    requires_auth: bool = False,
    without_response: bool = False,
    status_only: bool = False,
    hint: str = "",
    judges: tuple[Expectation, ...] = ("accept",),
    families: tuple[str, ...] | None = ("chat",),
) -> Callable[
    [Callable[[CheckContext], Iterator[Failure]]], Callable[[CheckContext], Iterator[Failure]]
]:
    """Register a check of a whole non-streamed exchange (or, with a stream rule of the same
    id, of both kinds)."""

    def decorate(
        fn: Callable[[CheckContext], Iterator[Failure]],
    ) -> Callable[[CheckContext], Iterator[Failure]]:
        _register(
            Check(
                id=id,
                title=title,
                severity=severity,
                category=category,
                level=level,
                source=source,
                run=fn,
                run_on=run_on,
                requires=requires,
                requires_request=requires_request,
                requires_auth=requires_auth,
                without_response=without_response,
                status_only=status_only,
                hint=hint,
                judges=judges,
                families=families,
            )
        )
        return fn

    return decorate


def stream_rule(
    *,
    id: str,
    title: str | None = None,
    severity: Severity | None = None,
    category: str | None = None,
    level: Level | None = None,
    source: str | None = None,
    requires: tuple[str, ...] = (),
    hint: str | None = None,
    families: tuple[str, ...] | None = ("chat",),
    requires_typed_stream: bool = False,
    requires_sentinel: bool = False,
) -> Callable[[type[Any]], type[Any]]:
    """Register a stream rule. A new check needs its metadata (severity defaults to MUST,
    category to ``stream``, level to ``streaming``); with the id of a registered response
    check, only the rule is added to it, and giving metadata too is an error."""

    def decorate(cls: type[Any]) -> type[Any]:
        existing = CHECKS.get(id)
        metadata = (title, severity, category, level, source, requires or None, hint)
        if existing is not None:
            if any(m is not None for m in metadata):
                raise ValueError(
                    f"{id}: the stream rule of a registered check takes the check's metadata; "
                    "give it only the id"
                )
            _register(dataclasses.replace(existing, run=None, rule=cls))
        else:
            if title is None or source is None:
                raise ValueError(f"{id}: a new check needs a title and a source")
            _register(
                Check(
                    id=id,
                    title=title,
                    severity=severity or "MUST",
                    category=category or "stream",
                    level=level or "streaming",
                    source=source,
                    rule=cls,
                    requires=requires,
                    hint=hint or "",
                    families=families,
                    requires_typed_stream=requires_typed_stream,
                    requires_sentinel=requires_sentinel,
                )
            )
        return cls

    return decorate


class RuleBase:
    """Convenience base for stream rules: ``self.fail(...)`` makes a failure (the driver
    stamps the check id).

    ``only_if``: a string that must appear in an event's data for ``on_chunk`` to have
    anything to say (e.g. ``"tool_calls"``); the driver skips the call otherwise (the hot path).
    """

    only_if: ClassVar[str | None] = None

    def __init__(self, ctx: CheckContext) -> None:
        self.ctx = ctx

    def fail(self, message: str, **fields: Any) -> Failure:
        return failure(message, **fields)

    def on_chunk(self, chunk: Chunk) -> Iterable[Failure]:
        return ()

    def on_end(self) -> Iterable[Failure]:
        return ()


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one (malformed shapes are the schema
    check's business; the other rules read what is there)."""
    return value if isinstance(value, dict) else {}


def as_int(value: Any, default: int) -> int:
    return value if is_int(value) else default


def failure(message: str, **fields: Any) -> Failure:
    """A failure of the check being run (the driver stamps its id), the value truncated."""
    if "value" in fields:
        fields["value"] = truncate(fields["value"])
    return Failure(message=message, **fields)
