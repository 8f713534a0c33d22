"""The plan: every case of a run, in the order it is sent, from the configuration alone.

:func:`plan` is the stage's one entry: the cases of the main operation (examples,
scenarios, drawn positives, negatives, auth) and of every other operation the profile
certifies (examples, a body, drawn positives, negatives, parameters), of the operations, phases
and checks chosen; the failing cases kept by an earlier run first; the shard's slice. Nothing
is sent and nothing is read but the contract: the same configuration gives the same plan.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._vocab import CaseSource
from ..checks import CHECKS
from ..contract import request_errors
from ._auth import auth_cases
from ._budget import OUTPUT_LIMITS, TokenBudget, describe_plan, plan_fingerprint, token_budget
from ._case import Case, body_key
from ._drawn import generated_cases
from ._examples import example_cases, minimal_body, operation_cases
from ._fit import fit_case
from ._mutations import object_schema
from ._negatives import mutation_cases, probing, violations_of
from ._parameters import parameter_cases, parameter_values
from ._scenarios import negative_cases, scenario_cases, valid_base
from ._select import needed_by
from ._thinking import thinking_cases

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ..contract import Contract, Operation

__all__ = ["DEFAULT_SEED", "Plan", "PlanConfig", "chosen", "plan", "plan_cases"]


#: The seed of a run that names none: the same command draws the same cases (repeatable
#: verdicts, shards that agree); ``--seed random`` explores.
DEFAULT_SEED = 0


@dataclass(frozen=True, kw_only=True)
class PlanConfig:
    """What decides the cases of a run (a part of the run's configuration:
    ``RunConfig.planning``)."""

    #: property-based positives of each operation, and as many negatives
    max_examples: int = 5
    #: the ``max_tokens`` of every case that needs no more
    max_tokens: int = 16
    seed: int = DEFAULT_SEED
    #: the content the target's model takes in (generated positives send no other parts)
    modalities: frozenset[str] = frozenset({"text"})
    #: the case sources to plan (``--phases``; None: all)
    phases: frozenset[CaseSource] | None = None
    #: the check ids to run (``--checks``; None: all): only the cases they need are planned
    checks: frozenset[str] | None = None
    #: the operations to check ("GET /models"), of those the profile certifies (None: all)
    operations: frozenset[str] | None = None
    #: (i, n): only the i-th of n deterministic slices of the cases (1-based)
    shard: tuple[int, int] | None = None


@dataclass(frozen=True, kw_only=True)
class Plan:
    """The cases a run sends, in order, with the model and seed they were planned for."""

    cases: tuple[Case, ...]
    model: str
    seed: int
    #: how many of the first cases are replayed from the examples database
    replayed: int = 0
    #: (what, why) of what was left out of the plan: a hand-picked case the document's
    #: request schema rejects, the drawn bodies of an operation the generator cannot draw
    left_out: tuple[tuple[str, str], ...] = ()
    #: the model of the reasoning cases (None: no reasoner, no such case)
    reasoner: str | None = None
    #: the operations ("METHOD /path") whose requests document no output limit
    unlimited: frozenset[str] = frozenset()

    @property
    def fingerprint(self) -> str:
        """:func:`plan_fingerprint`: two runs that print the same one sent the same."""
        return plan_fingerprint(list(self.cases))

    @property
    def budget(self) -> TokenBudget:
        return token_budget(
            list(self.cases), model=self.model, reasoner=self.reasoner, unlimited=self.unlimited
        )

    @property
    def line(self) -> str:
        """The plan line (:func:`describe_plan`)."""
        return describe_plan(
            list(self.cases),
            model=self.model,
            seed=self.seed,
            reasoner=self.reasoner,
            unlimited=self.unlimited,
        )


def plan(
    contract: Contract,
    config: PlanConfig,
    *,
    model: str,
    reasoner: str | None = None,
    replay: Iterable[Case] = (),
    cases: Iterable[Case] | None = None,
) -> Plan:
    """The plan of a run: :func:`plan_cases` (or ``cases``, a custom suite), after the cases
    of ``replay`` (failing generated cases an earlier run kept) that go to an operation the
    profile certifies and that the configuration chooses, then the shard's slice."""
    left_out: list[tuple[str, str]] = []
    planned = (
        list(cases)
        if cases is not None
        else plan_cases(contract, config, model=model, reasoner=reasoner, left_out=left_out)
    )
    again = [
        # a replayed negative is a probe too (its body may ask for 8,193 tokens)
        probing(contract, dataclasses.replace(c, violations=violations_of(contract, c)))
        if c.expectation == "reject"
        else c
        for c in chosen(_as_documented(contract, list(replay)), config)
        if _known(contract, c)
    ]
    if again:
        keys = {body_key(c.body) for c in again}
        planned = again + [c for c in planned if body_key(c.body) not in keys]
    if config.shard is not None:
        index, count = config.shard
        planned = [c for i, c in enumerate(planned) if i % count == index - 1]
    return Plan(
        cases=tuple(planned),
        model=model,
        seed=config.seed,
        replayed=len(again),
        left_out=tuple(left_out),
        reasoner=reasoner,
        unlimited=_unlimited(contract),
    )


def _unlimited(contract: Contract) -> frozenset[str]:
    """The certified operations whose request documents no output limit (embeddings)."""
    out = set()
    for operation in contract.certified_operations():
        location = operation.request_schema
        properties = object_schema(contract, contract.schema(location))[1] if location else {}
        if not any(name in properties for name in OUTPUT_LIMITS):
            out.add(operation.label)
    return frozenset(out)


def plan_cases(
    contract: Contract,
    config: PlanConfig,
    *,
    model: str,
    reasoner: str | None = None,
    left_out: list[tuple[str, str]] | None = None,
) -> list[Case]:
    """Every case of a run, in the order they are sent: of the operations chosen, the phases
    chosen, and of those the cases the chosen checks need (no replay, no shard). The
    hand-picked cases the document rejects, and the draws the generator cannot make, are
    left out, (what, why) added to ``left_out``."""
    left_out = [] if left_out is None else left_out
    seed = config.seed
    main, *others = contract.certified_operations()
    chosen_ops = config.operations
    cases: list[Case] = []
    if chosen_ops is None or main.label in chosen_ops:
        if main.family == "chat":
            try:
                cases = _main_cases(contract, config, model=model, reasoner=reasoner, seed=seed)
            except DrawFailed as exc:
                left_out.append((f"drawn bodies of {main.label}", str(exc)))
                undrawn = dataclasses.replace(config, phases=_UNDRAWN & (config.phases or _ALL))
                cases = _main_cases(contract, undrawn, model=model, reasoner=reasoner, seed=seed)
            cases = _fitted(contract, main, chosen(cases, config), left_out)
        else:  # a document with no chat completions: its first operation, as any other
            cases = _other_cases(contract, config, main, model=model, seed=seed, have=[])
    for operation in others:
        if chosen_ops is None or operation.label in chosen_ops:
            try:
                cases += _other_cases(
                    contract, config, operation, model=model, seed=seed, have=cases
                )
            except DrawFailed as exc:
                left_out.append((f"drawn bodies of {operation.label}", str(exc)))
                cases += _other_cases(
                    contract, config, operation, model=model, seed=seed, have=cases, draw=False
                )
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
    return chosen(_as_documented(contract, planned), config)


def _fitted(
    contract: Contract,
    operation: Operation,
    cases: list[Case],
    left_out: list[tuple[str, str]],
) -> list[Case]:
    """``cases`` fitted to the document's request schema (:func:`fit_case`); the hand-picked
    ones it rejects left out, with why, in ``left_out``."""
    out = []
    for case in cases:
        fitted = (
            case if case.source in ("example", "property") else fit_case(contract, operation, case)
        )
        if isinstance(fitted, str):
            left_out.append((case.name, f"the document's request schema rejects it ({fitted})"))
        else:
            out.append(fitted)
    return out


def _as_documented(contract: Contract, cases: list[Case]) -> list[Case]:
    """``cases``, those of an operation that documents no event stream marked so."""
    streaming = {(op.method.upper(), op.path) for op in contract.operations if op.documents_stream}
    return [
        c
        if (c.method.upper(), c.path) in streaming
        else dataclasses.replace(c, stream_documented=False)
        for c in cases
    ]


def _other_cases(
    contract: Contract,
    config: PlanConfig,
    operation: Operation,
    *,
    model: str,
    seed: int,
    have: list[Case],
    draw: bool = True,
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
        for c in _body_cases(
            contract, config, operation, model=model, seed=seed, have=have, draw=draw
        )
    ]
    if cases and operation.parameters:
        count = max(config.max_examples, 1) if draw else 0
        try:
            cases += parameter_cases(contract, operation, cases[0], count=count, seed=seed)
        except DrawFailed:
            raise
        except Exception as exc:  # schemathesis' and hypothesis' own, as in _drawn
            raise DrawFailed(_cannot_draw(exc)) from exc
    return cases


def _operation_model(contract: Contract, operation: Operation, model: str) -> str:
    """The run's model, unless ``operation`` 's request schema closes ``model`` to values
    without it (DeepSeek's FIM takes ``deepseek-chat`` only): then the first it documents
    that the schema takes. A request the contract rejects is never sent as one it accepts."""
    if operation.request_schema is None:
        return model

    def refused(name: Any) -> bool:
        errors = request_errors(contract, {"model": name}, operation)
        return any(list(e.absolute_path) == ["model"] for e in itertools.islice(errors, 20))

    if not refused(model):
        return model
    documented = contract.property_values(operation.request_schema, "model")
    return next((v for v in documented if isinstance(v, str) and not refused(v)), model)


def _body_cases(
    contract: Contract,
    config: PlanConfig,
    operation: Operation,
    *,
    model: str,
    seed: int,
    have: list[Case],
    draw: bool = True,
) -> list[Case]:
    model = _operation_model(contract, operation, model)
    cases = operation_cases(contract, operation, max_tokens=config.max_tokens, model=model)
    if operation.request_schema is None or not draw:
        return cases
    examples = [c.body for c in cases if c.source == "example" and isinstance(c.body, dict)]
    pinned = model  # the run's model everywhere, never the example's
    smallest = minimal_body(contract, operation, model=model, max_tokens=config.max_tokens)
    # drawn only when sent, or when the operation has no body of its own to start from
    needed = (_wants(config, "property") and config.max_examples > 0) or (
        not examples and smallest is None
    )
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


class DrawFailed(Exception):
    """The generator could not draw from an operation's request schema (its draws are left
    out of the plan, and the run says why)."""


#: The case sources that need no draw, and every source.
_UNDRAWN: frozenset[CaseSource] = frozenset({"example", "scenario", "auth"})
_ALL: frozenset[CaseSource] = frozenset({"example", "scenario", "property", "negative", "auth"})


def _wants(config: PlanConfig, source: CaseSource) -> bool:
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
    config: PlanConfig,
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
    an input out. :class:`DrawFailed` when the generator cannot draw from the schema (a part
    of it schemathesis does not support, a schema nothing satisfies)."""
    try:
        return _generated(
            contract,
            config,
            model=model,
            seed=seed,
            have=have,
            operation=operation,
            negative=negative,
            count=count,
            base=base,
        )
    except Exception as exc:  # schemathesis' and hypothesis' own: any of them, one note
        raise DrawFailed(_cannot_draw(exc)) from exc


def _cannot_draw(exc: BaseException) -> str:
    text = str(exc).strip()
    first = text.splitlines()[0][:200] if text else ""
    return f"the generator cannot draw them: {type(exc).__name__}" + (f": {first}" if first else "")


def _generated(
    contract: Contract,
    config: PlanConfig,
    *,
    model: str,
    seed: int,
    have: list[Case],
    operation: Operation | None,
    negative: bool,
    count: int | None,
    base: dict[str, Any] | None,
) -> list[Case]:
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
    contract: Contract, config: PlanConfig, *, model: str, reasoner: str | None, seed: int
) -> list[Case]:
    """The cases of the profile's main operation (chat completions): examples, scenarios,
    generated positives and negatives, auth."""
    cases = example_cases(contract, model=model, max_tokens=config.max_tokens)
    cases += scenario_cases(
        model, reasoner, max_tokens=config.max_tokens, modalities=config.modalities
    )
    cases += thinking_cases(contract, model, max_tokens=config.max_tokens)
    base = valid_base(model, config.max_tokens)
    if _wants(config, "property"):
        cases += _drawn(contract, config, model=model, seed=seed, have=cases, base=base)
    cases += negative_cases(model, max_tokens=config.max_tokens)
    cases += mutation_cases(contract, model=model, max_tokens=config.max_tokens)
    if _wants(config, "negative"):
        cases += _drawn(contract, config, model=model, seed=seed, have=cases, negative=True)
    if contract.operation().requires_auth:
        cases += auth_cases(model)
    # every case of the main operation goes to its path as the document writes it
    # (/v1/chat/completions in a document under /v1)
    main = contract.operation()
    target = (main.method.upper(), main.path)
    cases = [
        c
        if (c.method.upper(), c.path) == target
        else dataclasses.replace(c, method=target[0], path=target[1])
        for c in cases
    ]
    if main.parameters:  # /deployments/{deployment-id}/chat/completions?api-version=...
        values = parameter_values(contract, main, model=model)
        if isinstance(values, str):
            return []
        path_values, query = values
        cases = [dataclasses.replace(c, path_values=path_values, query=query) for c in cases]
    return cases


def _known(contract: Contract, case: Case) -> bool:
    """Whether ``case`` goes to an operation the profile certifies (a replayed case of
    another document or profile does not)."""
    return any(
        (op.method.upper(), op.path) == (case.method.upper(), case.path)
        for op in contract.certified_operations()
    )


def chosen(cases: list[Case], config: PlanConfig) -> list[Case]:
    """``cases`` of the configured operations and phases that the configured checks need."""
    if config.operations is not None:
        cases = [c for c in cases if f"{c.method.upper()} {c.path}" in config.operations]
    if config.phases is not None:
        cases = [c for c in cases if c.source in config.phases]
    if config.checks is not None:
        checks = [CHECKS[i] for i in config.checks]
        cases = [c for c in cases if needed_by(c, checks)]
    return cases
