"""A live run: plan the cases, send them concurrently within a budget, check every exchange."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from .._errors import UsageError
from .._vocab import CaseSource
from ..checks import CHECKS, ExchangeResult, check_exchange
from ..exchange import NO_RESPONSE, Exchange, Request, Response, redact_url
from ._cases import (
    Case,
    auth_cases,
    body_key,
    example_cases,
    generated_cases,
    minimal_body,
    mutation_cases,
    negative_cases,
    operation_cases,
    parameter_cases,
    parameter_values,
    probing,
    scenario_cases,
    token_budget,
    valid_base,
    violations_of,
)
from ._database import load_examples, save_examples
from ._preflight import preflight
from ._select import needed_by
from ._send import (
    Limits,
    TargetUnreachable,
    Transport,
    curl_command,
    join_url,
    no_cookies,
    send,
)
from ._shrink import shrink

if TYPE_CHECKING:
    from ..contract import Contract, Operation

__all__ = [
    "RunConfig",
    "RunResult",
    "RunWatch",
    "chosen",
    "describe_plan",
    "plan_cases",
    "run",
    "run_async",
]


#: The seed of a run that names none: the same command draws the same cases (repeatable
#: verdicts, shards that agree); ``--seed random`` explores.
DEFAULT_SEED = 0


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """What a live run sends, to where, and within which budgets and limits."""

    base_url: str
    api_key: str | None = None
    model: str | None = None
    #: the reasoning model of the reasoner cases (default: one GET /models lists)
    reasoning_model: str | None = None
    max_examples: int = 5  # property-based positives, and as many negatives
    max_requests: int = 200  # the budget, retries included
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
            if value is None and name == "max_failures":
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
        """``37/84 done; waiting longest on tools-auto (12 s)``."""
        text = f"{self.done}/{self.total} done"
        slowest = self.slowest(now)
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


def plan_cases(
    contract: Contract, config: RunConfig, *, model: str, reasoner: str | None, seed: int
) -> list[Case]:
    """Every case of a run, in the order they are sent: of the operations chosen, the phases
    chosen, and of those the cases the chosen checks need."""
    main, *others = contract.certified_operations()
    chosen_ops = config.operations
    cases: list[Case] = []
    if chosen_ops is None or main.label in chosen_ops:
        cases = _main_cases(contract, config, model=model, reasoner=reasoner, seed=seed)
    for operation in others:
        if chosen_ops is None or operation.label in chosen_ops:
            cases += _other_cases(contract, config, operation, model=model, seed=seed, have=cases)
    planned = [
        dataclasses.replace(c, violations=violations_of(contract, c))
        if c.expectation == "reject"
        else c
        for c in cases
    ]
    # a "negative" the contract does not reject (its document lacks the rule) is no negative
    planned = [c for c in planned if c.expectation != "reject" or c.violations]
    # a negative needs only the status: let go at the first byte of a 2xx stream (bounded cost)
    planned = [probing(contract, c) for c in planned]
    return chosen(planned, config)


def _other_cases(
    contract: Contract,
    config: RunConfig,
    operation: Operation,
    *,
    model: str,
    seed: int,
    have: list[Case],
) -> list[Case]:
    """The cases of another operation the profile certifies: its examples (and a streamed
    one, and one without the key), then, when it takes a JSON body, positives drawn from its
    request schema and one-constraint negatives of its first example (the model pinned to the
    example's: another operation may serve other models). Every case carries the values of
    its path and query parameters; parameters get their own query case and negatives. None
    when a path parameter has no known value (see :func:`parameter_values`)."""
    values = parameter_values(contract, operation, model=model)
    if isinstance(values, str):
        return []
    path_values, query = values
    cases = [
        dataclasses.replace(c, path_values=path_values, query=query)
        for c in _body_cases(contract, config, operation, model=model, seed=seed, have=have)
    ]
    if cases and operation.parameters:
        cases += parameter_cases(
            contract, operation, cases[0], count=max(config.max_examples, 1), seed=seed
        )
    return cases


def _body_cases(
    contract: Contract,
    config: RunConfig,
    operation: Operation,
    *,
    model: str,
    seed: int,
    have: list[Case],
) -> list[Case]:
    cases = operation_cases(contract, operation, max_tokens=config.max_tokens, model=model)
    if operation.request_schema is None:
        return cases
    examples = [c.body for c in cases if c.source == "example" and isinstance(c.body, dict)]
    pinned = model  # the run's model everywhere, never the example's
    smallest = minimal_body(contract, operation, model=model, max_tokens=config.max_tokens)
    # drawn only when sent, or when the operation has no body of its own to start from
    needed = _wants(config, "property") or (not examples and smallest is None)
    positives = (
        _drawn(
            contract,
            config,
            model=pinned,
            seed=seed,
            have=[*have, *cases],
            operation=operation,
            count=max(config.max_examples, 1),
            base=examples[0] if examples else smallest,
        )
        if needed
        else []
    )
    if not examples:
        # no example: the smallest body that says something plays its part (the required
        # properties, each a simple value of its schema: "prompt": "x"); else the drawn body
        # with the fewest nulls and empty strings ("prompt": null is valid where the document
        # says nullable, but tells little)
        base_body = smallest
        if base_body is None and positives:
            chosen = min(positives, key=lambda c: _nulls(c.body))
            positives = [c for c in positives if c is not chosen]
            base_body = chosen.body
        if base_body is not None:
            cases = operation_cases(
                contract, operation, max_tokens=config.max_tokens, base=base_body, model=model
            )
    # a drawn body made meaningful may be the operation's own base body: sent once
    known = {body_key(c.body) for c in cases}
    positives = [c for c in positives if body_key(c.body) not in known]
    bodies = [c.body for c in cases if isinstance(c.body, dict) and c.auth == "valid"]
    if not bodies:
        return cases + positives
    base = bodies[0]
    cases += positives
    cases += mutation_cases(
        contract, model=pinned, max_tokens=config.max_tokens, operation=operation, base=base
    )
    if _wants(config, "negative"):
        cases += _drawn(
            contract,
            config,
            model=pinned,
            seed=seed,
            have=[*have, *cases],
            operation=operation,
            negative=True,
        )
    return cases


def _wants(config: RunConfig, source: CaseSource) -> bool:
    """Whether the run sends the cases of ``source`` (``--phases``): drawing the others would
    cost seconds of Hypothesis for cases :func:`chosen` then drops. A drawn case depends only
    on the seed and on bodies it must not repeat, never on the draws of another phase, so a
    phase's cases are the same with or without the others."""
    return config.phases is None or source in config.phases


def _nulls(value: Any) -> int:
    """How many nulls and empty strings ``value`` holds, at any depth."""
    if value is None or value == "":
        return 1
    if isinstance(value, dict):
        return sum(_nulls(v) for v in value.values())
    if isinstance(value, list):
        return sum(_nulls(v) for v in value)
    return 0


def _drawn(
    contract: Contract,
    config: RunConfig,
    *,
    model: str,
    seed: int,
    have: list[Case],
    operation: Operation | None = None,
    negative: bool = False,
    count: int | None = None,
    base: dict[str, Any] | None = None,
) -> list[Case]:
    """Positives (or negatives) drawn from an operation's request schema, none of them a body
    of ``have``, from ``base`` (the operation's smallest meaningful body) where the draw left
    an input out."""
    return generated_cases(
        contract,
        count=config.max_examples if count is None else count,
        seed=seed,
        model=model,
        max_tokens=config.max_tokens,
        negative=negative,
        exclude={body_key(c.body) for c in have},
        modalities=config.modalities,
        operation=operation,
        base=base,
    )


def _main_cases(
    contract: Contract, config: RunConfig, *, model: str, reasoner: str | None, seed: int
) -> list[Case]:
    """The cases of the profile's main operation (chat completions): examples, scenarios,
    generated positives and negatives, auth."""
    cases = example_cases(contract, model=model, max_tokens=config.max_tokens)
    cases += scenario_cases(model, reasoner, max_tokens=config.max_tokens)
    base = valid_base(model, config.max_tokens)
    if _wants(config, "property"):
        cases += _drawn(contract, config, model=model, seed=seed, have=cases, base=base)
    cases += negative_cases(model, max_tokens=config.max_tokens)
    cases += mutation_cases(contract, model=model, max_tokens=config.max_tokens)
    if _wants(config, "negative"):
        cases += _drawn(contract, config, model=model, seed=seed, have=cases, negative=True)
    if contract.operation().requires_auth:
        cases += auth_cases(model)
    return cases


def _known(contract: Contract, case: Case) -> bool:
    """Whether ``case`` goes to an operation the profile certifies (a replayed case of
    another document or profile does not)."""
    return any(
        (op.method.upper(), op.path) == (case.method.upper(), case.path)
        for op in contract.certified_operations()
    )


def chosen(cases: list[Case], config: RunConfig) -> list[Case]:
    """``cases`` of the configured operations and phases that the configured checks need."""
    if config.operations is not None:
        cases = [c for c in cases if f"{c.method.upper()} {c.path}" in config.operations]
    if config.phases is not None:
        cases = [c for c in cases if c.source in config.phases]
    if config.checks is not None:
        checks = [CHECKS[i] for i in config.checks]
        cases = [c for c in cases if needed_by(c, checks)]
    return cases


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
    watch = watch if watch is not None else RunWatch()
    started = datetime.now(UTC)
    clock = time.perf_counter()
    seed = config.seed if config.seed is not None else DEFAULT_SEED
    operation = contract.operation()
    limits = httpx.Limits(max_connections=max(config.workers, 1) * 2)
    budget = {"left": config.max_requests, "sent": 0}

    def spend() -> None:
        budget["left"] -= 1
        budget["sent"] += 1

    async with httpx.AsyncClient(
        limits=limits,
        follow_redirects=False,
        cookies=no_cookies(),  # every case stands alone
        **config.transport.client_options(),
    ) as client:
        available: tuple[str, ...] = ()
        if cases is not None and config.model is not None:
            model = config.model
        else:
            checked = await preflight(
                client,
                base_url=config.base_url,
                api_key=config.api_key,
                model=config.model,
                path=operation.path,
                limits=config.limits,
                on_request=spend,
                transport=config.transport,
            )
            model, available = checked.model, checked.models
        reasoner = config.reasoning_model or next(
            (m for m in available if "reasoner" in m and m != model), None
        )
        if cases is None:
            cases = plan_cases(contract, config, model=model, reasoner=reasoner, seed=seed)
        replay = (
            [
                # a replayed negative is a probe too (its body may ask for 8,193 tokens)
                probing(contract, dataclasses.replace(c, violations=violations_of(contract, c)))
                if c.expectation == "reject"
                else c
                for c in chosen(load_examples(config.examples_db), config)
                if _known(contract, c)
            ]
            if config.examples_db
            else []
        )
        if replay:
            again = {body_key(c.body) for c in replay}
            cases = replay + [c for c in cases if body_key(c.body) not in again]
        if config.shard is not None:
            index, count = config.shard
            cases = [c for i, c in enumerate(cases) if i % count == index - 1]
        if on_plan is not None:
            on_plan(describe_plan(cases, model=model, seed=seed))
        watch.total = len(cases)
        skipped: list[str] = []
        results: list[ExchangeResult | None] = [None] * len(cases)
        semaphore = asyncio.Semaphore(max(config.workers, 1))
        done = failed = 0
        pace = _Pace(config.rate_limit)
        operations = {(op.method.upper(), op.path): op for op in contract.operations}

        async def sent(case: Case) -> Exchange:
            await pace.wait()
            return await send(
                client,
                case,
                base_url=config.base_url,
                api_key=config.api_key,
                limits=config.limits,
                on_request=spend,
                transport=config.transport,
            )

        async def one(position: int, case: Case) -> None:
            nonlocal done
            nonlocal failed
            async with semaphore:
                enough = config.max_failures is not None and failed >= config.max_failures
                if budget["left"] <= 0 or enough:
                    skipped.append(case.name)
                else:
                    watch.in_flight[case.name] = time.monotonic()
                    try:
                        exchange = await sent(case)
                    except TargetUnreachable as exc:
                        # The target went away mid-run: this case fails, the run goes on.
                        exchange = _lost(case, config, str(exc))
                    finally:
                        watch.in_flight.pop(case.name, None)
                    result = check_exchange(
                        contract,
                        exchange,
                        operation=operations.get((case.method.upper(), case.path), operation),
                        selected=config.checks,
                    )
                    failed += any(o.status == "fail" for o in result.outcomes.values())
                    results[position] = result
            done += 1
            watch.done = done

        tasks = [asyncio.create_task(one(i, case)) for i, case in enumerate(cases)]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        shrink_left = config.shrink_budget
        shrink_until = time.monotonic() + config.shrink_seconds

        async def attempt(case: Case) -> Exchange | None:
            nonlocal shrink_left
            if shrink_left <= 0 or budget["left"] <= 0 or time.monotonic() > shrink_until:
                return None
            shrink_left -= 1
            try:
                return await sent(case)
            except TargetUnreachable:
                return None

        for position, case in enumerate(cases):
            result = results[position]
            if shrink_left <= 0 or result is None or case.source not in ("property", "negative"):
                continue
            if time.monotonic() > shrink_until:
                break
            smaller = await shrink(contract, case, result, attempt)
            if smaller is not None:
                result.evidence["shrunk"] = smaller
    finished = [r for r in results if r is not None]
    kept, notes = 0, []
    unserved = not_served(contract, finished, {c.name for c in cases if c.auth != "valid"})
    if unserved:
        finished = [r for r in finished if r.operation not in unserved]
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
        for operation in contract.certified_operations()[1:]
        if (config.operations is None or operation.label in config.operations)
        and isinstance(reason := parameter_values(contract, operation, model=model), str)
    ]
    if config.max_failures is not None and failed >= config.max_failures and skipped:
        notes.append(
            f"stopped after {failed} failing exchange(s) (--max-failures "
            f"{config.max_failures}): {len(skipped)} case(s) not sent"
        )
    if config.examples_db is not None:
        try:
            kept = save_examples(config.examples_db, cases, finished, operations=config.operations)
        except OSError as exc:
            notes.append(f"the examples database {config.examples_db} was not written: {exc}")
    return RunResult(
        results=finished,
        model=model,
        seed=seed,
        started_at=started.isoformat(timespec="seconds").replace("+00:00", "Z"),
        duration_s=time.perf_counter() - clock,
        requests_sent=budget["sent"],
        tokens_spent=sum(r.tokens for r in finished),
        cases_planned=len(cases),
        cases_skipped=skipped,
        replayed=len(replay),
        examples_kept=kept,
        notes=notes,
        not_served=tuple(sorted(unserved)),
        plan_fingerprint=plan_fingerprint(cases),
    )


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


def plan_fingerprint(cases: list[Case]) -> str:
    """A short hash of every case's method, target and body, in order: two runs that print the
    same fingerprint sent the same requests (the model and the key aside: the model is part of
    the bodies, the key never is)."""
    digest = hashlib.sha256()
    for case in cases:
        body = case.raw if case.raw is not None else body_key(case.body).encode()
        for part in (case.method.upper().encode(), case.target.encode(), body, case.auth.encode()):
            digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()[:16]


def describe_plan(cases: list[Case], *, model: str, seed: int) -> str:
    """One line: how many cases of each source, the model, the seed (to draw them again) and
    what the run may spend (:func:`token_budget`)."""
    sources: dict[str, int] = {}
    for case in cases:
        sources[case.source] = sources.get(case.source, 0) + 1
    parts = ", ".join(f"{source} {n}" for source, n in sources.items())
    budget = token_budget(cases, model=model)
    spend = f"at most {budget.completion:,} completion token(s)"
    if budget.uncapped:
        spend += f" (and {budget.uncapped} case(s) without max_tokens)"
    if budget.reasoning:
        spend += f", plus the reasoning of {budget.reasoning} reasoning-model case(s)"
    spend += f", about {budget.prompt:,} prompt token(s)"
    return (
        f"{len(cases)} case(s) planned ({parts}), model {model}, seed {seed}, plan "
        f"{plan_fingerprint(cases)}; {spend}"
    )


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
