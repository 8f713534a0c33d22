"""``conformance run``: a live run against a target (or the embedded server), with its progress
display and dry run."""

from __future__ import annotations

import argparse
from typing import IO, TYPE_CHECKING, Any

from .._errors import UsageError

if TYPE_CHECKING:
    from ..contract import Contract
    from ..runner import Limits, RunConfig

from ._common import (
    EXIT_OK,
    _add_contract_options,
    _add_output_options,
    _add_transport_options,
    _baseline,
    _env_flag,
    _finish,
    _load,
    _positive,
    _seed,
    _shard,
    _transport,
    _verbosity,
    _writable,
)


def _add_run(commands: Any) -> None:
    run = commands.add_parser(
        "run",
        help="check a live endpoint (default: the embedded reference server)",
        description="Send the spec's examples, a scenario per feature, property-based "
        "positives and negatives and auth cases to an endpoint, check every response and "
        "stream, and write report.json. With no --base-url, the embedded reference server is "
        "started on a free loopback port and checked. Exit 0 conforming (no MUST failure; no "
        "SHOULD failure either with --strict), 1 not conforming, 2 could not run.",
    )
    _add_run_target(run)
    _add_contract_options(run.add_argument_group("contract"), spec="flag")
    _add_run_selection(run)
    _add_run_budgets(run)
    _add_run_timeouts(run)
    _add_run_outcome(run)
    run.set_defaults(handler=_cmd_run)


def _add_run_target(run: argparse.ArgumentParser) -> None:
    group = run.add_argument_group("target")
    group.add_argument("--base-url", metavar="URL", help="e.g. https://api.deepseek.com")
    group.add_argument(
        "--api-key",
        metavar="KEY",
        help="the bearer key (default: $CONFORMANCE_API_KEY); never written anywhere",
    )
    group.add_argument(
        "--no-auth",
        action="store_true",
        default=None,
        help="the deployment takes no key (also $CONFORMANCE_NO_AUTH=1): AUTH-001 is not "
        "applicable, no auth case is sent, and the report says so",
    )
    _add_transport_options(group)
    group.add_argument("--model", metavar="NAME", help="default: the first of GET /models")
    group.add_argument(
        "--reasoning-model",
        metavar="NAME",
        help="the model of the reasoning cases (default: a *reasoner* GET /models lists)",
    )


def _add_run_selection(run: argparse.ArgumentParser) -> None:
    group = run.add_argument_group("selection")
    group.add_argument(
        "--phases",
        metavar="LIST",
        help="the cases to plan, comma separated: examples, scenarios, property, negative, "
        "auth (default: all)",
    )
    group.add_argument(
        "--operation",
        action="append",
        default=[],
        metavar="'METHOD /path'",
        help="check only this operation of those the profile certifies (repeatable; default: "
        "all of them, e.g. POST /chat/completions and GET /models)",
    )
    group.add_argument(
        "--include-path",
        action="append",
        default=[],
        metavar="PATH",
        help="check only the operations at this path (repeatable)",
    )
    group.add_argument(
        "--exclude-path",
        action="append",
        default=[],
        metavar="PATH",
        help="leave out the operations at this path (repeatable)",
    )
    group.add_argument(
        "--checks",
        action="append",
        default=[],
        metavar="LIST",
        help="run only these checks (ids or categories, comma separated; repeatable), and send "
        "only the cases they need",
    )
    group.add_argument(
        "--exclude-checks",
        action="append",
        default=[],
        metavar="LIST",
        help="leave these checks out (ids or categories, comma separated; repeatable)",
    )
    group.add_argument(
        "--modalities",
        default="text",
        metavar="LIST",
        help="what the model takes in, comma separated: text, image, audio, file (default "
        "text: generated requests send no image, audio or file parts)",
    )


def _add_run_budgets(run: argparse.ArgumentParser) -> None:
    group = run.add_argument_group("budgets and limits")
    group.add_argument(
        "--max-examples",
        type=int,
        default=5,
        metavar="N",
        help="property-based positives, and as many negatives (default 5)",
    )
    group.add_argument(
        "--max-requests",
        type=int,
        metavar="N",
        help="the request budget, retries included (default: what the plan needs, its cases "
        "once, a retry for one in ten and --shrink-budget; --dry-run prints it)",
    )
    group.add_argument(
        "--max-tokens",
        type=int,
        default=16,
        metavar="N",
        help="max_tokens of cases that need no more (default 16)",
    )
    group.add_argument(
        "--workers", type=int, default=4, metavar="N", help="concurrent requests (default 4)"
    )
    group.add_argument(
        "--seed",
        metavar="N|random",
        help="the seed of the generated cases (default 0: the same command draws the same "
        "cases); 'random' draws new ones, printed so that they can be drawn again",
    )
    group.add_argument(
        "--max-failures",
        type=int,
        metavar="N",
        help="stop sending after N exchanges failed a check (the rest are listed as not sent)",
    )
    group.add_argument(
        "--rate-limit",
        metavar="N/s|N/m",
        help="at most N requests a second (N/s) or a minute (N/m)",
    )
    group.add_argument(
        "--shrink-budget",
        type=int,
        default=20,
        metavar="N",
        help="requests spent at most on making failing generated cases smaller (default 20; "
        "0: no shrinking)",
    )
    group.add_argument(
        "--shrink-time",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds spent at most on shrinking, whatever is left of --shrink-budget (default 60)",
    )
    group.add_argument(
        "--shard",
        metavar="I/N",
        help="send the I-th of N slices of the cases "
        "(merge the reports with 'conformance report merge')",
    )


def _add_run_timeouts(run: argparse.ArgumentParser) -> None:
    group = run.add_argument_group("timeouts")
    group.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        metavar="S",
        help="the most one request may take, from sending it to its last byte, in seconds "
        "(default 600)",
    )
    group.add_argument(
        "--connect-timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="the longest wait for a connection, in seconds (default 10, at most --timeout)",
    )
    group.add_argument(
        "--first-byte-timeout",
        type=float,
        metavar="S",
        help="the longest wait for a response's first byte, in seconds (default: --timeout)",
    )
    group.add_argument(
        "--idle-timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="the longest silence allowed mid-response, in seconds (default 60, at most --timeout)",
    )


def _add_run_outcome(run: argparse.ArgumentParser) -> None:
    group = run.add_argument_group("outcome")
    group.add_argument("--report-dir", metavar="DIR", default="reports")
    group.add_argument("--strict", action="store_true", help="SHOULD failures fail the run too")
    group.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan (cases per phase, requests, the most tokens it may spend) and "
        "send nothing",
    )
    group.add_argument(
        "--examples-db",
        metavar="PATH",
        help="where generated cases that failed are kept and replayed first by the next run "
        "(default: examples.json in the report directory)",
    )
    group.add_argument(
        "--baseline",
        metavar="FILE",
        help="accepted failures, each with a reason and an expiry date",
    )
    _add_output_options(group)


def _quiet_hypothesis() -> None:
    """Hypothesis keeps caches in ``.hypothesis/`` of the current directory: a run writes
    them to the user's cache directory instead (unless $HYPOTHESIS_STORAGE_DIRECTORY says
    where), so it leaves nothing where it was started."""
    import os
    from pathlib import Path

    if os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        return
    from hypothesis.configuration import set_hypothesis_home_dir

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    set_hypothesis_home_dir(cache / "conformance" / "hypothesis")


def _rate(text: str | None) -> float | None:
    """``--rate-limit N/s`` or ``N/m`` as requests a second."""
    if text is None:
        return None
    count, _, unit = text.strip().partition("/")
    try:
        value = float(count)
    except ValueError:
        value = -1.0
    if value <= 0 or unit not in ("s", "m"):
        raise UsageError(f"--rate-limit {text!r}: write N/s or N/m with N > 0 (e.g. 60/m)")
    return value if unit == "s" else value / 60


def _dry_run(contract: Any, config: Any, out: IO[str]) -> int:
    """Print the plan a run would send, and send nothing (no server is asked, not even
    the embedded one: the model is --model's, or a placeholder)."""
    from ..plan import PHASES, plan

    model = config.model or "MODEL"
    planned = plan(contract, config.planning, model=model, reasoner=config.reasoning_model)
    cases = planned.cases
    out.write(f"dry run: nothing is sent\n{planned.line}\n")
    for phase, source in PHASES.items():
        names = [c.name for c in cases if c.source == source]
        if names:
            shown = ", ".join(names[:6]) + (
                f", ... ({len(names) - 6} more)" if len(names) > 6 else ""
            )
            out.write(f"  {phase:<10} {len(names):>3}  {shown}\n")
    budget = planned.budget
    from ..runner import plan_budget

    given = config.max_requests
    most = given if given is not None else plan_budget(len(cases), config.shrink_budget)
    said = (
        "--max-requests"
        if given is not None
        else "the plan's: a retry for one in ten, and --shrink-budget"
    )
    out.write(
        f"requests: {len(cases)} case(s) + 2 preflight, at most {most} ({said}); tokens: at "
        f"most {budget.completion:,} completion, about {budget.prompt:,} prompt\n"
    )
    if not config.model:
        out.write("the model is a placeholder: a run takes the first of GET /models (--model)\n")
    if not config.reasoning_model:
        out.write(
            "reasoning-model cases are not counted: a run adds them when GET /models lists a "
            "reasoner (--reasoning-model)\n"
        )
    return EXIT_OK


def _modalities(text: str) -> frozenset[str]:
    from ..plan import MODALITIES

    names = {part.strip() for part in text.split(",") if part.strip()}
    unknown = sorted(names - set(MODALITIES))
    if unknown or "text" not in names:
        raise UsageError(
            f"--modalities {text!r}: "
            + (f"unknown {', '.join(unknown)}; " if unknown else "text is missing; ")
            + f"give a comma-separated list of {', '.join(MODALITIES)} (text included)"
        )
    return frozenset(names)


def _cmd_run(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from .._session import live_report
    from ..report import render_text

    contract, config = _run_config(args)
    _quiet_hypothesis()
    if args.dry_run:
        return _dry_run(contract, config, out)
    _writable(args.report_dir)

    def announce(url: str, kind: str) -> None:
        err.write(f"conformance: no --base-url: checking the embedded {kind} ({url})\n")

    def plan(line: str) -> None:
        err.write(f"conformance: {line}\n")
        err.flush()

    with _progress(err) as watch:
        result, report = live_report(
            contract,
            config,
            strict=args.strict,
            baseline=_baseline(args.baseline),  # type: ignore[arg-type]
            on_embedded=announce,
            on_plan=plan,
            watch=watch,
        )
    for note in result.notes:
        err.write(f"conformance: note: {note}\n")
    text = render_text(result.results, report, only_failures=True, verbosity=_verbosity(args))
    return _finish(args, report, text, out, err)


def _run_config(args: argparse.Namespace) -> tuple[Contract, RunConfig]:
    """The contract and the run's configuration from the flags (a bad value: one
    :class:`UsageError` naming the flag; the run's values are refused by ``RunConfig``, for
    the CLI, the plugin and the Python API alike, the timeouts here)."""
    import os
    from pathlib import Path

    from ..checks import CHECKS
    from ..plan import parse_phases, select_checks, select_operations
    from ..runner import API_KEY_VARIABLE, RunConfig

    limits = _limits(args)
    if args.base_url is not None and not args.base_url.strip():
        raise UsageError(
            "--base-url is empty (an unset CI variable?); give the endpoint's URL, or leave the "
            "flag out to check the embedded reference server"
        )
    if args.base_url:  # before the contract is loaded: a bad URL says so at once
        RunConfig(base_url=args.base_url)
    contract = _load(args)
    contract.operation()  # the profile's operation is in the document
    no_auth = bool(args.no_auth) or _env_flag("CONFORMANCE_NO_AUTH")
    if no_auth:
        contract = contract.without_auth()
    config = RunConfig(
        base_url=args.base_url or "",
        api_key=args.api_key or os.environ.get(API_KEY_VARIABLE),
        no_auth=no_auth,
        model=args.model,
        reasoning_model=args.reasoning_model,
        max_examples=args.max_examples,
        max_requests=args.max_requests,
        max_tokens=args.max_tokens,
        workers=args.workers,
        seed=_seed(args.seed),
        limits=limits,
        shard=_shard(args.shard),
        examples_db=Path(args.examples_db or Path(args.report_dir) / "examples.json"),
        shrink_budget=args.shrink_budget,
        shrink_seconds=args.shrink_time,
        modalities=_modalities(args.modalities),
        transport=_transport(args),
        phases=parse_phases(args.phases) if args.phases else None,
        checks=select_checks(args.checks, args.exclude_checks, CHECKS),
        max_failures=args.max_failures,
        rate_limit=_rate(args.rate_limit),
        operations=select_operations(
            [op.label for op in contract.certified_operations()],
            args.operation,
            args.include_path,
            args.exclude_path,
        ),
    )
    return contract, config


def _limits(args: argparse.Namespace) -> Limits:
    """The timeouts of one request (each at most --timeout)."""
    from ..runner import Limits

    _positive(args.timeout, "--timeout")
    _positive(args.idle_timeout, "--idle-timeout")
    _positive(args.connect_timeout, "--connect-timeout")
    if args.first_byte_timeout is not None:
        _positive(args.first_byte_timeout, "--first-byte-timeout")
    return Limits(
        total=args.timeout,
        first_byte=min(args.first_byte_timeout or args.timeout, args.timeout),
        idle=min(args.idle_timeout, args.timeout),
        connect=min(args.connect_timeout, args.timeout),
    )


class _progress:
    """Progress while a run is sending: on a terminal a live line (``37/84``, the case waited
    on the longest); elsewhere (CI logs) a plain line every ``interval`` seconds, from the
    preflight on, so a hanging server is seen as it hangs, not after the run."""

    def __init__(self, stream: IO[str], *, interval: float = 10.0) -> None:
        import threading

        from ..runner import RunWatch

        self.stream = stream
        self.interval = interval
        self.watch = RunWatch()
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def __enter__(self) -> Any:
        import threading

        tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        target = self._live if tty else self._lines
        self.thread = threading.Thread(target=target, name="conformance-progress", daemon=True)
        self.thread.start()
        return self.watch

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=5)

    def _lines(self) -> None:
        while not self.stop.wait(self.interval):
            if self.watch.total or self.watch.in_flight:  # the preflight too
                self.stream.write(f"conformance: {self.watch.line()}\n")
                self.stream.flush()

    def _live(self) -> None:
        from rich.console import Console
        from rich.progress import Progress

        stream = getattr(self.stream, "raw", self.stream)  # rich writes its own escapes
        with Progress(console=Console(file=stream), transient=True) as progress:
            task = progress.add_task("checking", total=None)
            while not self.stop.wait(0.25):
                slowest = self.watch.slowest()
                waiting = f" · waiting on {slowest[0]} {slowest[1]:.0f}s" if slowest else ""
                progress.update(
                    task,
                    completed=self.watch.done,
                    total=self.watch.total or None,
                    description=f"{self.watch.done}/{self.watch.total}{waiting}",
                )
