"""``conformance proxy``: the validating proxy in front of an upstream."""

from __future__ import annotations

import argparse
from typing import IO, TYPE_CHECKING, Any

from .._errors import UsageError

if TYPE_CHECKING:
    pass

from ._common import EXIT_OK, Options, _add_contract_options, _listening, _load, _writable
from .serve import _add_serve_limits, _orderly_server, _serve_limits


def _add_proxy(commands: Any) -> None:
    proxy = commands.add_parser(
        "proxy",
        help="a validating proxy: forward live traffic unchanged and check every exchange",
        description="Forward every request to --upstream and stream each answer back as it "
        "arrives, unchanged (same status, same headers but the hop-by-hop ones, same bytes), "
        "while the checks judge a copy of every exchange of an operation the profile "
        "certifies (others are forwarded and counted). The reports are written on SIGINT or "
        "SIGTERM and every --flush-every checked exchanges, atomically; the client's key is "
        "never kept.",
    )
    proxy.add_argument(
        "--upstream", required=True, metavar="URL", help="where requests go (the server checked)"
    )
    proxy.add_argument("--host", default="127.0.0.1")
    proxy.add_argument("--port", type=int, default=8001)
    _add_contract_options(proxy.add_argument_group("contract"), spec="flag")
    proxy.add_argument("--report-dir", default="reports", metavar="DIR")
    proxy.add_argument(
        "--flush-every",
        type=int,
        default=0,
        metavar="N",
        help="also write the reports every N checked exchanges, from the checks' process "
        "(default: only at the end); each write renders every exchange so far, so pick N "
        "for a write every few seconds at most",
    )
    proxy.add_argument(
        "--auth-header",
        metavar="NAME",
        default="Authorization",
        help="the header the clients' key comes in (never kept; replays name $CONFORMANCE_API_KEY)",
    )
    proxy.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="the longest wait for the upstream's next bytes, then the exchange is let go "
        "and reported (default 60 s)",
    )
    proxy.add_argument(
        "--upstream-keepalive",
        type=float,
        default=4.0,
        metavar="S",
        help="how long an idle connection to the upstream is kept for the next request; keep "
        "it under the upstream's own idle timeout (default 4 s: uvicorn, and so vLLM and "
        "SGLang, closes one after 5 s)",
    )
    _add_proxy_observing(proxy.add_argument_group("observing"))
    limits = proxy.add_argument_group(
        "limits", "what one client may make the proxy hold (beyond: the status given, and closed)"
    )
    limits.add_argument(
        "--shutdown-timeout",
        type=float,
        default=5.0,
        metavar="S",
        help="after SIGINT or SIGTERM, how long exchanges in flight may take to end before "
        "they are cut and counted; the report is written at the signal, and again at the end "
        "(default 5 s: keep it under your orchestrator's kill grace)",
    )
    limits.add_argument(
        "--write-timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="the longest wait for a client to take the next piece of an answer; then it and "
        "its upstream connection are let go (default 60 s)",
    )
    limits.add_argument(
        "--max-body",
        type=int,
        default=16 * 1024 * 1024,
        metavar="BYTES",
        help="the largest request body; 413 beyond, before reading it (default 16 MiB)",
    )
    _add_serve_limits(limits)
    proxy.set_defaults(handler=_cmd_proxy)


def _add_proxy_observing(group: Options) -> None:
    group.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve Prometheus metrics on this port (/metrics, on --host): exchanges by "
        "operation and outcome, failures by check, upstream errors, abandoned, not judged, "
        "backlog, time to the upstream's headers",
    )
    group.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="one line on stderr per failing exchange, as text or a JSON object (default text)",
    )
    group.add_argument(
        "--sample",
        type=float,
        default=1.0,
        metavar="RATE",
        help="the fraction of exchanges judged, 0 < RATE <= 1 (all are forwarded; default 1): "
        "bounded CPU at high volume, replicas' reports merge with 'conformance report merge'",
    )
    group.add_argument(
        "--replica",
        metavar="NAME",
        help="this proxy's name among replicas, the prefix of its exchange ids, so that "
        "'conformance report merge' keeps them apart (default: the host name and the pid; "
        "letters, digits, '.', '_' and '-')",
    )


def _cmd_proxy(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    import threading

    import uvicorn

    from .._serving import uvicorn_options
    from ..exchange import redact_url
    from ..proxy import UVICORN_OPTIONS, create_proxy_app
    from ..proxy._observe import Observer, configure_logging

    if not args.upstream.startswith(("http://", "https://")):
        raise UsageError(f"--upstream {redact_url(args.upstream)!r} is not an http(s) URL")
    if args.flush_every < 0:
        raise UsageError(f"--flush-every {args.flush_every} is negative")
    for flag, value in (
        ("--timeout", args.timeout),
        ("--write-timeout", args.write_timeout),
        ("--upstream-keepalive", args.upstream_keepalive),
        ("--shutdown-timeout", args.shutdown_timeout),
        ("--max-body", args.max_body),
    ):
        if not value > 0:
            raise UsageError(f"{flag} {value:g} must be above 0")
    limits = _serve_limits(args)
    if not 0 < args.sample <= 1:
        raise UsageError(f"--sample {args.sample:g} is not a fraction in (0, 1]")
    if args.metrics_port is not None:
        _listening(args.host, args.metrics_port)
    contract = _load(args)
    _writable(args.report_dir)
    _listening(args.host, args.port)
    observer = Observer(metrics=args.metrics_port is not None, log_format=args.log_format)
    configure_logging(err)
    app = create_proxy_app(
        contract=contract,
        upstream=args.upstream,
        report_dir=args.report_dir,
        flush_every=args.flush_every,
        auth_header=args.auth_header,
        timeout=args.timeout,
        write_timeout=args.write_timeout,
        upstream_keepalive=args.upstream_keepalive,
        max_request_bytes=args.max_body,
        observer=observer,
        sample=args.sample,
        replica=args.replica,
        on_exit=lambda state: out.write(
            f"conformance proxy: {state.forwarded} request(s) forwarded, "
            f"{state.judged} checked; reports: {args.report_dir}\n"
        ),
    )
    checked = ", ".join(op.label for op in contract.certified_operations())
    out.write(
        f"conformance proxy on http://{args.host}:{args.port} -> {redact_url(args.upstream)} "
        f"(checking {checked}; reports in {args.report_dir} on exit)\n"
    )
    out.flush()
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=args.shutdown_timeout,
        **{**UVICORN_OPTIONS, **uvicorn_options(limits)},
    )
    if args.metrics_port is not None:
        observer.serve(args.metrics_port, args.host)
        out.write(f"metrics on http://{args.host}:{args.metrics_port}/metrics\n")
        out.flush()
    # at the signal, the report of what was judged is written at once (from a thread: it
    # costs what the tally kept, a tenth of a second); then in-flight exchanges get up to
    # --shutdown-timeout to end, the checks up to 3 s more, and the final report replaces it
    _orderly_server(on_signal=lambda: threading.Thread(target=app.state.flush).start())(
        config
    ).run()
    # SIGINT or SIGTERM: the report is written; one line says what it rests on; exit 0 (an
    # orchestrator reads 143, uvicorn's re-raised SIGTERM, as a crash)
    err.write(app.state.verdict_line() + "\n")
    err.flush()
    return EXIT_OK
