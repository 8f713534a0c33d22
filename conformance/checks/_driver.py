"""Running every check on one exchange: the driver adds the context checks leave out."""

from __future__ import annotations

import dataclasses
import re
from collections import deque
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._util import ORJSON_MAX, is_int, strict_json, strict_json_fast
from .._vocab import Status
from ..exchange import NO_RESPONSE
from ._base import (
    CHECKS,
    Check,
    CheckContext,
    Chunk,
    Failure,
    RuleBase,
    SkipCheck,
    Summary,
    as_dict,
    as_int,
)

if TYPE_CHECKING:
    from .._sse import EventFields
    from ..contract import Contract, Operation
    from ..exchange import EventSource, Exchange

__all__ = ["CheckOutcome", "ExchangeResult", "check_exchange", "summary_from_body"]

#: Failures kept per check per exchange; the rest are counted (bounded memory and reports).
MAX_FAILURES_PER_CHECK = 50
#: Evidence kept per exchange: the first events, the failing ones, the last ones, and bytes.
EVIDENCE_FIRST_EVENTS = 40
EVIDENCE_FAILING_EVENTS = 60
EVIDENCE_LAST_EVENTS = 5
EVIDENCE_DATA_CHARS = 2000


def _cut(data: str) -> str:
    """An event's data as the evidence keeps it: whole up to ``EVIDENCE_DATA_CHARS``, else cut
    and saying so (a reader must not take a cut event for the server's)."""
    if len(data) <= EVIDENCE_DATA_CHARS:
        return data
    return data[:EVIDENCE_DATA_CHARS] + f"… [cut here: the event's data is {len(data)} characters]"


EVIDENCE_BODY_BYTES = 64 * 1024


@dataclass(kw_only=True)
class CheckOutcome:
    """What one check found on one exchange: its status, failures (bounded) and why it skipped."""

    status: Status
    failures: list[Failure] = field(default_factory=list)
    suppressed: int = 0
    reason: str | None = None  # why it was skipped, or the internal error


@dataclass(kw_only=True)
class ExchangeResult:
    """Every check's outcome on one exchange, with the evidence a person needs to see."""

    exchange_id: str
    status: int
    stream: bool
    outcomes: dict[str, CheckOutcome]
    chunks: int = 0
    tokens: int = 0  # what usage counts (:func:`_spent`), when the response reported it
    case: str | None = None
    operation: str | None = None  # "POST /chat/completions"
    #: What a person needs to see (request, response head, body excerpt or the events around
    #: the failures), bounded in size; secrets were redacted when the request was made.
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def failures(self) -> list[Failure]:
        return [f for o in self.outcomes.values() for f in o.failures]

    def render(self) -> str:
        """The failures as the CLI writes them (``[CHECK-ID] message`` and where), or a line
        saying there is none: ``assert not result.failures, result.render()``."""
        from ._render import render_failure

        if not self.failures:
            return f"{self.exchange_id}: no failure"
        return "\n".join(
            render_failure(dataclasses.asdict(f), label=f.check_id) for f in self.failures
        )


def summary_from_body(body: Any) -> Summary | None:
    """The :class:`Summary` of a non-streamed body, or None when it has no choices to read."""
    if not isinstance(body, dict) or not isinstance(body.get("choices"), list):
        return None
    summary = Summary(usage=body.get("usage"))
    for position, choice in enumerate(body["choices"]):
        if not isinstance(choice, dict):
            continue
        entry = summary.choice(as_int(choice.get("index"), position))
        entry.finish_reason = choice.get("finish_reason")
        message = as_dict(choice.get("message"))
        content = message.get("content", choice.get("text"))  # a text completion's text
        entry.content = content if isinstance(content, str) else ""
        reasoning = message.get("reasoning_content")
        entry.reasoning_content = reasoning if isinstance(reasoning, str) else ""
        for i, call in enumerate(message.get("tool_calls") or []):
            if isinstance(call, dict):
                function = as_dict(call.get("function"))
                entry.tool_calls[i] = {
                    "id": str(call.get("id") or ""),
                    "name": str(function.get("name") or ""),
                    "arguments": str(function.get("arguments") or ""),
                }
    return summary


class _Accumulator:
    """Builds the :class:`Summary` of a stream: text and tool arguments, nothing else.

    Fragments are appended, UTF-8 encoded, to a bytearray and decoded once at the end:
    ``str +=`` on an attribute copies the whole string each time (quadratic on long streams),
    and a list of fragments costs about 60 bytes a chunk; a bytearray costs the text's size."""

    def __init__(self) -> None:
        self.summary = Summary()
        self.parts: dict[tuple[int, str], bytearray] = {}
        self.arguments: dict[tuple[int, int], bytearray] = {}

    def _append(self, key: tuple[int, str], text: str) -> None:
        data = text.encode("utf-8", errors="surrogatepass")
        part = self.parts.get(key)
        if part is None:
            self.parts[key] = bytearray(data)
        else:
            part += data

    def feed(self, chunk: Chunk) -> None:
        # the hot path: once per chunk, so lookups are inlined (measured in
        # benchmarks/bench_validate.py)
        payload = chunk.payload
        if type(payload) is not dict:
            return
        summary = self.summary
        if payload.get("usage") is not None:
            summary.usage = payload["usage"]
            summary.usage_chunk = chunk.index
        choices = summary.choices
        summary.deltas += len(chunk.choices)
        for position, choice in chunk.choices:
            index = choice.get("index")
            if type(index) is not int:
                index = position
            entry = choices.get(index)
            if entry is None:
                entry = summary.choice(index)
            finish = choice.get("finish_reason")
            if finish is not None:
                entry.finish_reason = finish
            delta = choice.get("delta")
            if type(delta) is not dict:
                if isinstance(choice.get("text"), str):  # a text completion's chunk
                    self._append((index, "content"), choice["text"])
                continue
            content = delta.get("content")
            if type(content) is str:
                part = self.parts.get((index, "content"))
                if part:  # the hot path of _append, inline (content began before)
                    part += content.encode("utf-8", "surrogatepass")
                else:
                    self._append((index, "content"), content)
                    if content and index not in summary.content_from:
                        summary.content_from[index] = chunk.index
                if len(delta) == 1:
                    continue  # a delta with content alone (the hot path)
            reasoning = delta.get("reasoning_content")
            if type(reasoning) is str:
                self._append((index, "reasoning_content"), reasoning)
            calls = delta.get("tool_calls")
            for call in calls if calls else ():
                if not isinstance(call, dict) or not is_int(call.get("index")):
                    continue
                slot = entry.tool_calls.setdefault(
                    call["index"], {"id": "", "name": "", "arguments": ""}
                )
                function = as_dict(call.get("function"))
                if call.get("id"):
                    slot["id"] = str(call["id"])
                if function.get("name"):
                    slot["name"] = str(function["name"])
                if isinstance(function.get("arguments"), str):
                    key = (index, call["index"])
                    text = function["arguments"].encode("utf-8", errors="surrogatepass")
                    self.arguments.setdefault(key, bytearray()).extend(text)

    def finish(self) -> Summary:
        for (index, field_name), data in self.parts.items():
            text = data.decode("utf-8", errors="surrogatepass")
            setattr(self.summary.choice(index), field_name, text)
        for (index, call), data in self.arguments.items():
            text = data.decode("utf-8", errors="surrogatepass")
            self.summary.choice(index).tool_calls[call]["arguments"] = text
        return self.summary


class _Collector:
    def __init__(self, checks: list[Check], exchange_id: str, reproduce: str | None) -> None:
        self.outcomes = {c.id: CheckOutcome(status="pass") for c in checks}
        self.exchange_id = exchange_id
        self.reproduce = reproduce
        self.total = 0  # failures seen so far, kept and suppressed
        self.dropped: set[str] = set()  # checks that stopped applying (skip, error) mid-stream

    def skip(self, check_id: str, reason: str) -> None:
        """The check judged nothing here (unless it already failed: failures stand)."""
        if self.outcomes[check_id].status != "fail":
            self.outcomes[check_id] = CheckOutcome(status="skip", reason=reason)
        self.dropped.add(check_id)

    def error(self, check_id: str, exc: BaseException) -> None:
        outcome = self.outcomes[check_id]
        outcome.status = "error"
        outcome.reason = f"the check itself failed: {exc!r} (please report this)"
        self.dropped.add(check_id)

    def add_call(self, check_id: str, make: Callable[[], Iterable[Failure]]) -> None:
        """``add`` of what ``make()`` returns, when making it may raise too (an ``on_end``)."""
        try:
            failures = make()
        except SkipCheck as exc:
            self.skip(check_id, str(exc))
        except Exception as exc:
            self.error(check_id, exc)
        else:
            self.add(check_id, failures)

    def add(self, check_id: str, failures: Iterable[Failure]) -> None:
        outcome = self.outcomes[check_id]
        if outcome.status == "skip":
            return
        try:
            for item in failures:
                outcome.status = "fail" if outcome.status != "error" else "error"
                self.total += 1
                if len(outcome.failures) < MAX_FAILURES_PER_CHECK:
                    outcome.failures.append(
                        item.with_context(
                            check_id=check_id, exchange=self.exchange_id, reproduce=self.reproduce
                        )
                    )
                else:
                    outcome.suppressed += 1
        except SkipCheck as exc:
            self.skip(check_id, str(exc))
        except Exception as exc:  # a bug in a check must not lose the other checks' results
            self.error(check_id, exc)


def _chunk(fields: EventFields, sentinels: tuple[str, ...]) -> Chunk:
    index, offset, data, name = fields[:4]
    if data in sentinels:
        return Chunk(index=index, offset=offset, data=data, sentinel=True, event=name)
    try:  # strict_json, its common case inline (the hot path: once per chunk)
        payload = strict_json_fast(data) if len(data) <= ORJSON_MAX else strict_json(data)
    except ValueError:
        try:
            payload = strict_json(data)
        except ValueError as exc:
            return Chunk(
                index=index,
                offset=offset,
                data=data,
                sentinel=False,
                json_error=str(exc),
                event=name,
            )
    # Chunk.choices_of, its common case (one choice) inline
    items = payload.get("choices") if type(payload) is dict else None
    if type(items) is list and len(items) == 1 and type(items[0]) is dict:
        choices: tuple[tuple[int, dict[str, Any]], ...] = ((0, items[0]),)
    else:
        choices = Chunk.choices_of(payload)
    return Chunk(
        index=index,
        offset=offset,
        data=data,
        sentinel=False,
        payload=payload,
        choices=choices,
        event=name,
    )


def check_exchange(
    contract: Contract,
    exchange: Exchange,
    *,
    operation: Operation | None = None,
    selected: Collection[str] | None = None,
) -> ExchangeResult:
    """Run every registered check on ``exchange`` (or the ``selected`` ids; the others are
    skipped, saying so); a streamed body is consumed as it is read."""
    ctx = _context(contract, exchange, operation or contract.operation())
    checks = list(CHECKS.values())
    collector = _Collector(checks, exchange.id, exchange.reproduce)
    response = exchange.response
    checks = _applicable(ctx, checks, collector, selected)
    if response.status == NO_RESPONSE:
        chunks, events = 0, None
        reason = f"no response: {exchange.interrupted or 'none'}"
        _without_body(ctx, checks, collector, lambda c: c.without_response, reason)
    elif exchange.cut is not None:  # the suite let the body go: status and headers only
        chunks, events = 0, None
        reason = f"the body was not read: {exchange.cut}"
        _without_body(ctx, checks, collector, lambda c: c.status_only, reason)
    elif response.events is not None:
        chunks, events = _check_stream(ctx, response.events, checks, collector)
    else:
        chunks, events = 0, None
        _check_body(ctx, response.body or b"", checks, collector)
    usage = ctx.summary.usage if ctx.summary is not None else None
    total = _spent(usage)
    return ExchangeResult(
        exchange_id=exchange.id,
        status=response.status,
        stream=events is not None,
        outcomes=collector.outcomes,
        chunks=chunks,
        tokens=total if is_int(total) else 0,
        case=exchange.case,
        operation=ctx.operation.label,
        evidence=_evidence(exchange, events, chunks),
    )


def _without_body(
    ctx: CheckContext,
    checks: list[Check],
    collector: _Collector,
    judges: Callable[[Check], bool],
    reason: str,
) -> None:
    """An exchange with no body to read: the response checks that ``judges`` admits run, the
    others are skipped for ``reason``."""
    for check in checks:
        if check.run is not None and judges(check):
            collector.add(check.id, check.run(ctx))
        else:
            collector.skip(check.id, reason)


def _applicable(
    ctx: CheckContext,
    checks: list[Check],
    collector: _Collector,
    selected: Collection[str] | None,
) -> list[Check]:
    """The checks that apply to the contract and were selected; the others are skipped,
    saying why."""
    kept = []
    for check in checks:
        reason = check.not_applicable(ctx.contract, ctx.operation)
        if reason is None and selected is not None and check.id not in selected:
            reason = "not selected (--checks / --exclude-checks)"
        if reason is None:
            kept.append(check)
        else:
            collector.skip(check.id, reason)
    return kept


def _context(contract: Contract, exchange: Exchange, operation: Operation) -> CheckContext:
    """What the checks read: the response variant the status (and the request) selects."""
    response = exchange.response
    request = exchange.request_body
    wants_stream = contract.wants_stream(request, operation) if isinstance(request, dict) else None
    variant = contract.select_response(
        operation,
        response.status,
        request if isinstance(request, dict) else {},
        stream=response.is_stream if wants_stream is None else None,
    )
    return CheckContext(
        contract=contract,
        operation=operation,
        exchange=exchange,
        variant=variant,
        wants_stream=wants_stream,
    )


def _check_body(ctx: CheckContext, body: bytes, checks: list[Check], collector: _Collector) -> None:
    try:
        ctx.body = strict_json(body)
    except ValueError as exc:
        ctx.body_error = str(exc)
    ctx.summary = summary_from_body(ctx.body) if ctx.body_error is None else None
    for check in checks:
        if check.run is None:
            collector.skip(check.id, "applies to streamed responses only")
            continue
        collector.add(check.id, check.run(ctx))


def _start_rules(
    ctx: CheckContext, checks: list[Check], collector: _Collector
) -> list[tuple[str, Any]]:
    """A stream rule per check that has one; the others skip (or wait for the end)."""
    rules: list[tuple[str, Any]] = []
    for check in checks:
        if check.rule is None:
            if check.run_on != "any":
                collector.skip(check.id, "applies to non-streamed responses only")
            continue
        try:
            rules.append((check.id, check.rule(ctx)))
        except SkipCheck as exc:
            collector.skip(check.id, str(exc))
        except Exception as exc:
            collector.error(check.id, exc)
    return rules


class _Evidence:
    """The events kept for people to read: the first ones, the failing ones, the last ones."""

    __slots__ = ("failing", "kept", "last")

    def __init__(self) -> None:
        self.kept: dict[int, str] = {}
        self.last: deque[tuple[int, str]] = deque(maxlen=EVIDENCE_LAST_EVENTS)
        self.failing = 0

    def observe(self, index: int, data: str, failed: bool) -> None:
        data = _cut(data)
        if index < EVIDENCE_FIRST_EVENTS:
            self.kept[index] = data
        elif failed and self.failing < EVIDENCE_FAILING_EVENTS:
            self.kept[index] = data
            self.failing += 1
        self.last.append((index, data))

    def events(self) -> dict[int, str]:
        return {**self.kept, **dict(self.last)}


def _rule_groups(
    rules: list[tuple[str, Any]], gone: set[str]
) -> tuple[
    list[tuple[str, Any]],
    list[tuple[str, list[tuple[str, Any]]]],
    Callable[[str], re.Match[str] | None],
]:
    """The rules fed every chunk, the others grouped by their needle (``only_if``), and a
    search for any needle: a chunk is searched once however many rules have needles. Rules
    with nothing to say per chunk (their ``on_chunk`` is the base one) and the ``gone`` ones
    (they skipped or erred mid-stream) are left out. This is the hot path (once per rule per
    chunk): bound methods, grouped."""
    groups: dict[str, list[tuple[str, Any]]] = {}
    for check_id, rule in rules:
        if type(rule).on_chunk is not RuleBase.on_chunk and check_id not in gone:
            needle = getattr(rule, "only_if", None) or ""
            groups.setdefault(needle, []).append((check_id, rule.on_chunk))
    always = groups.pop("", [])
    # one search for every needle (half the time of one `in` per needle), then `in` on the
    # rare chunk where one is found
    pattern = re.compile("|".join(re.escape(n) for n in groups))
    return always, list(groups.items()), pattern.search


def _check_stream(
    ctx: CheckContext, events: EventSource, checks: list[Check], collector: _Collector
) -> tuple[int, dict[int, str]]:
    """Feed each event to the stream rules as it is read, then run the end-of-stream checks.
    Returns the number of events and the ones kept as evidence."""
    variant = ctx.variant
    sentinels = (
        variant.stream.sentinels if variant and variant.stream else ctx.contract.profile.sentinels
    )
    rules = _start_rules(ctx, checks, collector)
    accumulator = _Accumulator()
    ctx.partial = accumulator.summary
    evidence = _Evidence()
    gone: set[str] = set()  # rules that skipped or erred mid-stream: fed no more
    always, needled, any_needle = _rule_groups(rules, gone)
    chunks = 0
    feed = accumulator.feed
    observe = evidence.observe
    keep_last = evidence.last.append
    for fields in events.fields():
        chunk = _chunk(fields, sentinels)
        chunks += 1
        feed(chunk)
        before = collector.total
        text = chunk.data
        todo = always
        if needled and any_needle(text) is not None:  # rare: a new list
            todo = always + [m for needle, ms in needled if needle in text for m in ms]
        for check_id, on_chunk in todo:
            try:
                found = on_chunk(chunk)
            except SkipCheck as exc:
                collector.skip(check_id, str(exc))
                continue
            except Exception as exc:
                collector.error(check_id, exc)
                continue
            if found:  # an empty tuple or list: nothing to record (the common case)
                collector.add(check_id, iter(found))
        if collector.dropped:
            gone |= collector.dropped
            collector.dropped.clear()
            always, needled, any_needle = _rule_groups(rules, gone)
        if collector.total > before or chunk.index < EVIDENCE_FIRST_EVENTS:
            observe(chunk.index, text, collector.total > before)
        else:  # the hot path of _Evidence.observe, inline
            keep_last((chunk.index, text if len(text) <= EVIDENCE_DATA_CHARS else _cut(text)))
    ctx.framing = events.framing
    summary = accumulator.finish()
    ctx.summary = summary if summary.choices or summary.usage is not None else None
    for check_id, rule in rules:
        if collector.outcomes[check_id].status not in ("skip", "error"):
            collector.add_call(check_id, rule.on_end)
    for check in checks:
        if check.rule is None and check.run is not None and check.run_on == "any":
            collector.add(check.id, check.run(ctx))
    return chunks, evidence.events()


def _spent(usage: Any) -> int:
    """The tokens ``usage`` counts: ``total_tokens`` (chat), else ``input_tokens`` plus
    ``output_tokens`` (Anthropic's Messages, OpenAI's Responses), else none."""
    if not isinstance(usage, dict):
        return 0
    total = usage.get("total_tokens")
    if is_int(total):
        return int(total)
    parts = [usage.get(k) for k in ("input_tokens", "output_tokens")]
    return sum(int(p) for p in parts if is_int(p))


def _evidence(exchange: Exchange, events: dict[int, str] | None, chunks: int) -> dict[str, Any]:
    request = exchange.request
    response = exchange.response
    out: dict[str, Any] = {
        "request": None
        if request is None
        else {
            "method": request.method,
            "url": request.url,
            "headers": [list(h) for h in request.headers],
            "body": request.body,
        },
        "response": {
            "status": response.status,
            "headers": None if response.headers is None else [list(h) for h in response.headers],
        },
        "interrupted": exchange.interrupted,
        "reproduce": exchange.reproduce,
        "timings": exchange.timings.as_dict(),
        "violations": [
            {
                "instance_path": v.instance_path,
                "keyword": v.keyword,
                "message": v.message,
                "schema_path": v.schema_path,
            }
            for v in exchange.violations
        ],
    }
    if events is not None:
        out["response"]["events"] = [{"index": i, "data": events[i]} for i in sorted(events)]
        out["response"]["events_total"] = chunks
    else:
        body = response.body or b""
        out["response"]["body"] = body[:EVIDENCE_BODY_BYTES].decode("utf-8", errors="replace")
        out["response"]["body_truncated"] = len(body) > EVIDENCE_BODY_BYTES
    return out
