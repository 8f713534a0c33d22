"""A live run and its report: the one code path behind ``conformance run`` and the pytest plugin,
so both give the same verdict and the same report.json."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .contract import Contract
    from .report import Baseline, Report
    from .report._types import RunInfo
    from .runner import RunConfig, RunResult, RunWatch

__all__ = ["live_report"]


def live_report(
    contract: Contract,
    config: RunConfig,
    *,
    strict: bool = False,
    baseline: Baseline | None = None,
    on_embedded: Callable[[str, str], None] | None = None,
    watch: RunWatch | None = None,
    on_plan: Callable[[str], None] | None = None,
) -> tuple[RunResult, Report]:
    """Run ``config`` (against the embedded reference server when its base_url is empty) and
    build the report."""
    import dataclasses

    from .exchange import redact_url
    from .report import build_report
    from .runner import run

    embedded = not config.base_url
    kind: str | None = None  # which embedded server: "reference" or "mock"
    with contextlib.ExitStack() as stack:
        if embedded:
            from .reference import DEFAULT_API_KEY, create_app, create_mock_app, serve_in_thread

            if contract.profile.embedded == "mock" or not _same(
                contract.source, contract.profile.spec
            ):
                app, kind = create_mock_app(contract=contract), "mock"
            else:
                auth = config.transport.for_contract(contract).auth_header
                app = create_app(contract=contract, auth_header=auth)
                kind = "reference"
            url = stack.enter_context(serve_in_thread(app))
            config = dataclasses.replace(
                config, base_url=url, api_key=config.api_key or DEFAULT_API_KEY
            )
            if on_embedded is not None:
                on_embedded(url, "mock of the document" if kind == "mock" else "reference server")
        result = run(contract, config, watch=watch, on_plan=on_plan)
    info: RunInfo = {
        "requests_sent": result.requests_sent,
        "tokens_spent": result.tokens_spent,
        "cases_planned": result.cases_planned,
        "cases_skipped": result.cases_skipped,
        "embedded_server": embedded,
        "shard": None if config.shard is None else f"{config.shard[0]}/{config.shard[1]}",
        "replayed": result.replayed,
        "examples_kept": result.examples_kept,
        "notes": list(result.notes),
        "not_served": list(result.not_served),
        "plan_fingerprint": result.plan_fingerprint,
    }
    if result.stopped_by is not None:  # what stopped the sending (not sent: why)
        info["stopped_by"] = result.stopped_by
    if kind is not None:
        info["embedded"] = kind
    report = build_report(
        contract,
        result.results,
        started_at=result.started_at,
        duration_s=result.duration_s,
        base_url=None if embedded else redact_url(config.base_url),
        model=result.model,
        seed=result.seed,
        fail_on="SHOULD" if strict else "MUST",
        baseline=baseline,
        not_served=result.not_served,
        run=info,
        selected=config.checks,
    )
    return result, report


def _same(source: str, spec: str) -> bool:
    """Whether the contract's document is its profile's own (else: the mock serves it)."""
    from pathlib import Path

    if "://" in source or "://" in spec:
        return source == spec
    return Path(source).resolve() == Path(spec).resolve()
