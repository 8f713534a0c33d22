"""A live run, as a pipeline of named steps: find the model (the preflight), plan the cases
(the plan stage), send them concurrently within the budget and judge each exchange as it
comes, shrink the failing generated ones, and conclude (what was not served, notes, the
examples database)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from .._errors import TargetUnreachable, UsageError
from .._vocab import CaseSource
from ..checks import ExchangeResult, check_exchange
from ..exchange import NO_RESPONSE, Exchange, Request, Response, redact_url
from ..plan import DEFAULT_SEED, Case, Plan, PlanConfig, parameter_values, plan
from ._database import load_examples, save_examples
from ._preflight import preflight
from ._send import (
    Limits,
    Transport,
    curl_command,
    join_url,
    no_cookies,
    send,
)
from ._shrink import shrink

if TYPE_CHECKING:
    from ..contract import Contract, Operation

__all__ = ["RunConfig", "RunResult", "RunWatch", "plan_budget", "run", "run_async"]


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """What a live run sends, to where, and within which budgets and limits."""

    base_url: str
    api_key: str | None = None
    model: str | None = None
    #: the reasoning model of the reasoner cases (default: one GET /models lists)
    reasoning_model: str | None = None
    max_examples: int = 5  # property-based positives, and as many negatives
    #: the request budget, retries included (None: the plan's, :func:`plan_budget`)
    max_requests: int | None = None
    max_tokens: int = 16
    workers: int = 4
    seed: int | None = None
    limits: Limits = field(default_factory=Limits)
    #: (i, n): send only the i-th of n deterministic slices of the cases (1-based).
    shard: tuple[int, int] | None = None
    #: where failing generated cases are kept and replayed from first (None: not kept)
    examples_db: Path | None = None
    #: requests spent at most on making failing generated cases smaller (0: not shrunk)
    shrink_budget: int = 20
    #: seconds spent at most on shrinking (a slow server makes each attempt costly)
    shrink_seconds: float = 60.0
    #: the content the target's model takes in (generated positives send no other parts)
    modalities: frozenset[str] = frozenset({"text"})
    #: the key's header, headers for every request, proxy and TLS
    transport: Transport = field(default_factory=Transport)
    #: the case sources to plan (``--phases``; None: all)
    phases: frozenset[CaseSource] | None = None
    #: the deployment takes no key (``--no-auth``): the contract given is
    #: :meth:`~conformance.contract.Contract.without_auth`, and the report says so
    no_auth: bool = False
    #: the check ids to run (``--checks``; None: all); only the cases they need are sent
    checks: frozenset[str] | None = None
    #: stop sending after this many exchanges failed a check (None: never)
    max_failures: int | None = None
    #: at most this many requests a second (None: no limit)
    rate_limit: float | None = None
    #: the operations to check ("GET /models"), of those the profile certifies (None: all)
    operations: frozenset[str] | None = None

    @property
    def planning(self) -> PlanConfig:
        """The part of this configuration that decides the cases (:func:`~conformance.plan.plan`)."""
        return PlanConfig(
            max_examples=self.max_examples,
            max_tokens=self.max_tokens,
            seed=self.seed if self.seed is not None else DEFAULT_SEED,
            modalities=self.modalities,
            phases=self.phases,
            checks=self.checks,
            operations=self.operations,
            shard=self.shard,
        )

    def __post_init__(self) -> None:
        """Every bad value refused here, once, for the CLI, the pytest plugin and the Python
        API alike: :class:`UsageError` naming the field and its flag."""
        for name, flag, least in (
            ("max_requests", "--max-requests", 1),
            ("max_examples", "--max-examples", 0),
            ("max_tokens", "--max-tokens", 1),
            ("workers", "--workers", 1),
            ("shrink_budget", "--shrink-budget", 0),
            ("shrink_seconds", "--shrink-time", 0),
            ("max_failures", "--max-failures", 1),
        ):
            value = getattr(self, name)
            if value is None and name in ("max_failures", "max_requests"):
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or value < least:
                raise UsageError(
                    f"{name} ({flag}) is {value!r}: it must be a number of {least} or more"
                )
        if self.rate_limit is not None and not self.rate_limit > 0:
            raise UsageError(
                f"rate_limit (--rate-limit) is {self.rate_limit!r}: it must be above 0"
            )
        if self.base_url and not self.base_url.startswith(("http://", "https://")):
            raise UsageError(
                f"base_url (--base-url) {redact_url(self.base_url)!r} is not an http(s) URL "
                "(empty: the embedded reference server)"
            )
        if self.shard is not None:
            index, count = self.shard
            if not 1 <= index <= count:
                raise UsageError(
                    f"shard (--shard) {index}/{count}: the index must be from 1 to {count}"
                )


@dataclass(kw_only=True)
class RunWatch:
    """What a run is doing, for a progress display to read from another thread: how many of
    how many cases are done, and since when each case in flight has been waiting."""

    total: int = 0
    done: int = 0
    in_flight: dict[str, float] = field(default_factory=dict)  # case -> time.monotonic()

    def slowest(self, now: float | None = None) -> tuple[str, float] | None:
        """The case in flight the longest, and for how many seconds (None when none is)."""
        waiting = dict(self.in_flight)  # a copy: the run's thread changes it
        if not waiting:
            return None
        name, since = min(waiting.items(), key=lambda item: item[1])
        return name, (time.monotonic() if now is None else now) - since

    def line(self, now: float | None = None) -> str:
        """``37/84 done; waiting longest on tools-auto (12 s)``; before the plan (the
        preflight), ``waiting on the preflight: GET /models (20 s)``."""
        slowest = self.slowest(now)
        if not self.total and slowest is not None:
            return f"waiting on {slowest[0]} ({slowest[1]:.0f} s)"
        text = f"{self.done}/{self.total} done"
        if slowest is not None:
            text += f"; waiting longest on {slowest[0]} ({slowest[1]:.0f} s)"
        return text


@dataclass(kw_only=True)
class RunResult:
    """A finished live run: the checked exchanges, what was sent and spent, and what was not sent."""

    results: list[ExchangeResult]
    model: str
    seed: int
    started_at: str
    duration_s: float
    requests_sent: int
    tokens_spent: int
    cases_planned: int
    cases_skipped: list[str]  # not sent: the request budget ran out, or --max-failures
    replayed: int = 0  # cases replayed first from the examples database
    examples_kept: int = 0  # failing generated cases now kept there
    notes: list[str] = field(default_factory=list)  # what the user should know (not failures)
    #: operations every case of which got 404, 405 or 501: not served by the target, reported
    #: once, their exchanges left out and their checks not applicable there
    not_served: tuple[str, ...] = ()
    #: :func:`plan_fingerprint` of the cases sent (two runs with the same one sent the same)
    plan_fingerprint: str = ""
    #: what stopped the sending before every case was sent (``--max-failures 3``, the budget)
    stopped_by: str | None = None


#: The requests of the preflight (GET /models, a one-token completion, /v1/models once).
PREFLIGHT_REQUESTS = 3


def plan_budget(cases: int, shrink_budget: int) -> int:
    """The default request budget of a plan of ``cases``: every case once, a retry for one
    in ten (a 429 or a dropped connection), and the shrinking budget; the default budget
    always covers the default plan (a fixed 200 left 35 of the openai profile's 233 cases
    unsent on every default run)."""
    return cases + -(-cases // 10) + shrink_budget


#: What a server answers for an operation it does not serve at all.
NOT_SERVED_STATUSES = frozenset({404, 405, 501})


def not_served(
    contract: Contract, results: list[ExchangeResult], keyless: Collection[str] = ()
) -> dict[str, tuple[int, frozenset[int]]]:
    """The operations (not the profile's main one, which the preflight checks) every exchange
    of which sent with the key got 404, 405 or 501 (``keyless``: the exchanges sent without
    one or with a wrong one, which many servers answer 401 before they route):
    label -> (exchanges, statuses)."""
    by_operation: dict[str, list[int]] = {}
    for result in results:
        if result.operation is not None and result.exchange_id not in keyless:
            by_operation.setdefault(result.operation, []).append(result.status)
    main = contract.operation().label
    return {
        label: (len(statuses), frozenset(statuses))
        for label, statuses in by_operation.items()
        if label != main and statuses and all(s in NOT_SERVED_STATUSES for s in statuses)
    }


async def run_async(
    contract: Contract,
    config: RunConfig,
    *,
    watch: RunWatch | None = None,
    on_plan: Callable[[str], None] | None = None,
    cases: list[Case] | None = None,
) -> RunResult:
    """Run ``config``; ``cases`` replaces the planned ones (benchmarks, custom suites);
    ``watch`` is kept up to date for a progress display."""
    # the key in the header the document names, its required headers sent (x-api-key and
    # anthropic-version for Anthropic's)
    config = dataclasses.replace(config, transport=config.transport.for_contract(contract))
    started = datetime.now(UTC)
    clock = time.perf_counter()
    async with httpx.AsyncClient(
        limits=httpx.Limits(max_connections=max(config.workers, 1) * 2),
        follow_redirects=False,
        cookies=no_cookies(),  # every case stands alone
        **config.transport.client_options(),
    ) as client:
        sender = _Sender(contract, config, client, watch if watch is not None else RunWatch())
        model, reasoner = await _models(sender, custom=cases is not None)
        replay = load_examples(config.examples_db) if config.examples_db else []
        planned = plan(
            contract, config.planning, model=model, reasoner=reasoner, replay=replay, cases=cases
        )
        if config.max_requests is None:  # the budget the plan needs, beside what was spent
            sender.left = plan_budget(len(planned.cases), config.shrink_budget)
        if on_plan is not None:
            on_plan(planned.line)
        results = await sender.send_all(planned.cases)
        await _shrink_failures(sender, planned.cases, results)
    return _concluded(
        sender,
        planned,
        [r for r in results if r is not None],
        started=started.isoformat(timespec="seconds").replace("+00:00", "Z"),
        duration_s=time.perf_counter() - clock,
    )


async def _models(sender: _Sender, *, custom: bool) -> tuple[str, str | None]:
    """The run's model (``--model``, else the preflight's) and its reasoning model
    (``--reasoning-model``, else one GET /models lists); no preflight for a custom suite
    whose model is given."""
    config = sender.config
    available: tuple[str, ...] = ()
    if custom and config.model is not None:
        model = config.model
    else:
        step = "the preflight: GET /models, then a one-token completion"
        sender.watch.in_flight[step] = time.monotonic()  # a CI log says what it waits on
        try:
            checked = await preflight(
                sender.client,
                base_url=config.base_url,
                api_key=config.api_key,
                model=config.model,
                path=sender.contract.operation().path,
                models_path=_models_path(sender.contract),
                documented_model=sender.contract.documented_model(),
                limits=config.limits,
                on_request=sender.spend,
                transport=config.transport,
            )
        finally:
            sender.watch.in_flight.pop(step, None)
        model, available = checked.model, checked.models
    reasoner = config.reasoning_model or next(
        (m for m in available if "reasoner" in m and m != model), None
    )
    return model, reasoner


def _models_path(contract: Contract) -> str:
    """Where the target lists its models: the document's own ``GET .../models`` (under its
    prefix: ``/v1/models``), else ``/models``."""
    listed = sorted(
        (
            op.path
            for op in contract.operations
            if op.method == "get" and op.path.endswith("/models")
        ),
        key=len,
    )
    return listed[0] if listed else "/models"


class _Sender:
    """Sends cases within the run's budget, pace and concurrency, judging each exchange as it
    comes; counts what was sent and what failed."""

    def __init__(
        self, contract: Contract, config: RunConfig, client: httpx.AsyncClient, watch: RunWatch
    ) -> None:
        self.contract = contract
        self.config = config
        self.client = client
        self.watch = watch
        #: the preflight's allowance until the plan sizes the budget (``max_requests`` None)
        self.left = config.max_requests if config.max_requests is not None else PREFLIGHT_REQUESTS
        self.sent = 0
        self.failed = 0
        self.skipped: list[str] = []
        #: what stopped the sending early (None: every case was sent)
        self.stopped_by: str | None = None
        #: answers cut short while other requests were in flight (a server that aborts under
        #: concurrency: --workers 1 tells)
        self.cut_in_company = 0
        self._pace = _Pace(config.rate_limit)
        self._operations = {(op.method.upper(), op.path): op for op in contract.operations}

    def spend(self) -> None:
        self.left -= 1
        self.sent += 1

    def operation_of(self, case: Case) -> Operation:
        main = self.contract.operation()
        return self._operations.get((case.method.upper(), case.path), main)

    async def send(self, case: Case) -> Exchange:
        await self._pace.wait()
        return await send(
            self.client,
            case,
            base_url=self.config.base_url,
            api_key=self.config.api_key,
            limits=self.config.limits,
            on_request=self.spend,
            transport=self.config.transport,
        )

    def stopped(self) -> bool:
        """The budget is spent, or enough exchanges failed (``--max-failures``); which one
        stopped the run first is kept (``stopped_by``)."""
        limit = self.config.max_failures
        if self.stopped_by is None and limit is not None and self.failed >= limit:
            self.stopped_by = f"--max-failures {limit}"
        elif self.stopped_by is None and self.left <= 0:
            given = self.config.max_requests
            self.stopped_by = (
                f"the request budget (--max-requests {given})"
                if given is not None
                else "the request budget (the plan's)"
            )
        return self.stopped_by is not None

    async def send_all(self, cases: tuple[Case, ...]) -> list[ExchangeResult | None]:
        """Every case's judged exchange, in the plan's order (None: not sent)."""
        self.watch.total = len(cases)
        results: list[ExchangeResult | None] = [None] * len(cases)
        semaphore = asyncio.Semaphore(max(self.config.workers, 1))

        async def one(position: int, case: Case) -> None:
            async with semaphore:
                if self.stopped():
                    self.skipped.append(case.name)
                else:
                    results[position] = await self._judged(case)
            self.watch.done += 1

        tasks = [asyncio.create_task(one(i, case)) for i, case in enumerate(cases)]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        return results

    async def _judged(self, case: Case) -> ExchangeResult:
        self.watch.in_flight[case.name] = time.monotonic()
        try:
            exchange = await self.send(case)
        except TargetUnreachable as exc:
            # The target went away mid-run: this case fails, the run goes on.
            exchange = _lost(case, self.config, str(exc))
        finally:
            self.watch.in_flight.pop(case.name, None)
        if exchange.interrupted and not exchange.cut and self.watch.in_flight:
            self.cut_in_company += 1
        result = check_exchange(
            self.contract,
            exchange,
            operation=self.operation_of(case),
            selected=self.config.checks,
        )
        self.failed += any(o.status == "fail" for o in result.outcomes.values())
        return result


async def _shrink_failures(
    sender: _Sender, cases: tuple[Case, ...], results: list[ExchangeResult | None]
) -> None:
    """Make the failing generated cases smaller against the target, within the shrink budget
    and time (``--shrink-budget``, ``--shrink-time``); the smallest goes into the result's
    evidence."""
    config = sender.config
    left = config.shrink_budget
    until = time.monotonic() + config.shrink_seconds

    async def attempt(case: Case) -> Exchange | None:
        nonlocal left
        if left <= 0 or sender.left <= 0 or time.monotonic() > until:
            return None
        left -= 1
        try:
            return await sender.send(case)
        except TargetUnreachable:
            return None

    for case, result in zip(cases, results, strict=True):
        if left <= 0 or result is None or case.source not in ("property", "negative"):
            continue
        if time.monotonic() > until:
            break
        smaller = await shrink(sender.contract, case, result, attempt)
        if smaller is not None:
            result.evidence["shrunk"] = smaller


def _concluded(
    sender: _Sender,
    planned: Plan,
    finished: list[ExchangeResult],
    *,
    started: str,
    duration_s: float,
) -> RunResult:
    """The run's result: operations not served left out (and said), the notes, the failing
    generated cases kept in the examples database."""
    contract, config, cases = sender.contract, sender.config, planned.cases
    unserved = not_served(contract, finished, {c.name for c in cases if c.auth != "valid"})
    finished = [r for r in finished if r.operation not in unserved]
    notes = _notes(sender, planned.model, unserved) + _left_out_notes(planned)
    kept = 0
    if config.examples_db is not None:
        try:
            kept = save_examples(
                config.examples_db, list(cases), finished, operations=config.operations
            )
        except OSError as exc:
            notes.append(f"the examples database {config.examples_db} was not written: {exc}")
    return RunResult(
        results=finished,
        model=planned.model,
        seed=planned.seed,
        started_at=started,
        duration_s=duration_s,
        requests_sent=sender.sent,
        tokens_spent=sum(r.tokens for r in finished),
        cases_planned=len(cases),
        cases_skipped=sender.skipped,
        replayed=planned.replayed,
        examples_kept=kept,
        notes=notes,
        not_served=tuple(sorted(unserved)),
        plan_fingerprint=planned.fingerprint,
        stopped_by=sender.stopped_by if sender.skipped else None,
    )


def _left_out_notes(planned: Plan) -> list[str]:
    """What was left out of the plan, and why: hand-picked cases the document's request
    schema rejects, draws the generator cannot make (the checks they would have exercised
    say "not exercised"; the rest of the run goes on)."""
    if not planned.left_out:
        return []
    shown = "; ".join(f"{what}: {why}" for what, why in planned.left_out[:8])
    more = f"; and {len(planned.left_out) - 8} more" if len(planned.left_out) > 8 else ""
    return [f"left out of the plan, not applicable to this document: {shown}{more}"]


def _notes(
    sender: _Sender, model: str, unserved: dict[str, tuple[int, frozenset[int]]]
) -> list[str]:
    """What the user should know of the run (not failures): operations not served, --no-auth,
    operations not exercised for want of a parameter value, an early stop."""
    contract, config = sender.contract, sender.config
    notes = []
    for label, (count, statuses) in sorted(unserved.items()):
        codes = "/".join(str(s) for s in sorted(statuses))
        notes.append(
            f"{label} is not served: each of its {count} case(s) got {codes}; its checks are "
            f"not applicable there (leave it out with --exclude-path {label.split(' ', 1)[1]})"
        )
    if config.no_auth:
        notes.append(
            "--no-auth: the deployment takes no key; AUTH-001 is not applicable and no auth "
            "case was sent"
        )
    notes += [
        reason
        for operation in contract.certified_operations()
        if (config.operations is None or operation.label in config.operations)
        and isinstance(reason := parameter_values(contract, operation, model=model), str)
    ]
    if sender.cut_in_company and config.workers > 1:
        notes.append(
            f"{sender.cut_in_company} answer(s) were cut short while other requests were in "
            f"flight: a server that aborts under concurrency passes with --workers 1 (run "
            "again with it to tell)"
        )
    if sender.stopped_by is not None and sender.skipped:
        if sender.stopped_by.startswith("--max-failures"):
            limit = config.max_failures
            extra = sender.failed - (limit or 0)
            also = f" ({extra} more failed among those in flight then)" if extra > 0 else ""
            notes.append(
                f"{sender.stopped_by} stopped the run after {limit} failing exchange(s){also}: "
                f"{len(sender.skipped)} case(s) not sent"
            )
        else:
            notes.append(
                f"{sender.stopped_by} ran out: {len(sender.skipped)} case(s) not sent "
                "(raise --max-requests)"
            )
    return notes


class _Pace:
    """At most ``rate`` request starts a second, spread evenly (``--rate-limit``)."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1 / rate if rate else 0.0
        self.next = 0.0

    async def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        start = max(now, self.next)
        self.next = start + self.interval
        if start > now:
            await asyncio.sleep(start - now)


def _lost(case: Case, config: RunConfig, reason: str) -> Exchange:
    url = join_url(config.base_url, case.target)
    return Exchange(
        id=case.name,
        request=Request.create(method=case.method, url=url, body=case.body),
        response=Response(status=NO_RESPONSE, headers=(), body=b""),
        expectation=case.expectation,
        case=case.name,
        interrupted=f"no response: {reason}",
        reproduce=curl_command(case, url, config.transport),
        violations=case.violations,
    )


def run(contract: Contract, config: RunConfig, **kwargs: Any) -> RunResult:
    """Run ``config`` against its target and check every exchange (a blocking wrapper of
    :func:`run_async`)."""
    return asyncio.run(run_async(contract, config, **kwargs))
