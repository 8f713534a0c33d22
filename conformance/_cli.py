"""The ``conformance`` command: ``main(argv) -> int``.

Exit status: 0 success, 1 the contract (or the server) failed, 2 the tool could not do its job
(bad flag, unreadable spec, overlay that does not apply). Errors of the tool are one line on
stderr, never a traceback. Heavy modules are imported inside the commands, so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC
from typing import IO, TYPE_CHECKING, Any, NoReturn

from . import __version__
from ._errors import ConformanceError, UsageError
from ._util import printable, write_text_atomic

if TYPE_CHECKING:
    from .contract import Contract
    from .report import Report

__all__ = ["main"]

PROG = "conformance"
EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so every error takes one path."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _profile_names() -> str:
    from .contract._profiles import available_profiles

    return ", ".join(available_profiles())


def _add_contract_options(parser: argparse.ArgumentParser, *, with_spec: bool = True) -> None:
    if with_spec:
        parser.add_argument(
            "spec",
            nargs="?",
            metavar="SPEC",
            help="OpenAPI 3.0/3.1/3.2 document (path or URL, YAML or JSON); "
            "default: the profile's document",
        )
    parser.add_argument(
        "--profile",
        metavar="NAME",
        help=f"a profile ({_profile_names()}; default deepseek: the shipped spec + errata) or a "
        "profile file",
    )
    parser.add_argument(
        "--overlay",
        action="append",
        default=[],
        metavar="FILE",
        help="an OpenAPI Overlay 1.0 document applied after the profile's (repeatable)",
    )


def _add_lint(commands: Any) -> None:
    lint = commands.add_parser(
        "lint",
        help="check an OpenAPI document before any server is asked",
        description="Lint a contract: OAS validity, unsatisfiable oneOf, security, error "
        "responses, and every example against its own schema. Exit 0 with no error finding, "
        "1 with one, 2 when the document cannot be read.",
    )
    _add_contract_options(lint)
    lint.add_argument("--format", choices=("text", "json"), default="text")
    lint.add_argument(
        "--all",
        action="store_true",
        help="every operation and component of the document, not only what the profile's "
        "operations use",
    )
    lint.set_defaults(handler=_cmd_lint)


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
    run.add_argument("--base-url", metavar="URL", help="e.g. https://api.deepseek.com")
    run.add_argument(
        "--api-key",
        metavar="KEY",
        help="the bearer key (default: $CONFORMANCE_API_KEY); never written anywhere",
    )
    run.add_argument(
        "--no-auth",
        action="store_true",
        default=None,
        help="the deployment takes no key (also $CONFORMANCE_NO_AUTH=1): AUTH-001 is not "
        "applicable, no auth case is sent, and the report says so",
    )
    _add_transport_options(run)
    run.add_argument("--model", metavar="NAME", help="default: the first of GET /models")
    run.add_argument(
        "--reasoning-model",
        metavar="NAME",
        help="the model of the reasoning cases (default: a *reasoner* GET /models lists)",
    )
    run.add_argument("--spec", metavar="PATH", help="OpenAPI document (default: the profile's)")
    _add_contract_options(run, with_spec=False)
    run.add_argument("--report-dir", metavar="DIR", default="reports")
    run.add_argument(
        "--max-examples",
        type=int,
        default=5,
        metavar="N",
        help="property-based positives, and as many negatives (default 5)",
    )
    run.add_argument(
        "--max-requests",
        type=int,
        metavar="N",
        help="the request budget, retries included (default 200; 2000 against the embedded "
        "server, which costs nothing)",
    )
    run.add_argument(
        "--max-tokens",
        type=int,
        default=16,
        metavar="N",
        help="max_tokens of cases that need no more (default 16)",
    )
    run.add_argument(
        "--workers", type=int, default=4, metavar="N", help="concurrent requests (default 4)"
    )
    run.add_argument(
        "--seed",
        metavar="N|random",
        help="the seed of the generated cases (default 0: the same command draws the same "
        "cases); 'random' draws new ones, printed so that they can be drawn again",
    )
    run.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        metavar="S",
        help="the most one request may take, from sending it to its last byte, in seconds "
        "(default 600)",
    )
    run.add_argument(
        "--connect-timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="the longest wait for a connection, in seconds (default 10, at most --timeout)",
    )
    run.add_argument(
        "--first-byte-timeout",
        type=float,
        metavar="S",
        help="the longest wait for a response's first byte, in seconds (default: --timeout)",
    )
    run.add_argument(
        "--idle-timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="the longest silence allowed mid-response, in seconds (default 60, at most --timeout)",
    )
    run.add_argument("--strict", action="store_true", help="SHOULD failures fail the run too")
    run.add_argument(
        "--phases",
        metavar="LIST",
        help="the cases to plan, comma separated: examples, scenarios, property, negative, "
        "auth (default: all)",
    )
    run.add_argument(
        "--operation",
        action="append",
        default=[],
        metavar="'METHOD /path'",
        help="check only this operation of those the profile certifies (repeatable; default: "
        "all of them, e.g. POST /chat/completions and GET /models)",
    )
    run.add_argument(
        "--include-path",
        action="append",
        default=[],
        metavar="PATH",
        help="check only the operations at this path (repeatable)",
    )
    run.add_argument(
        "--exclude-path",
        action="append",
        default=[],
        metavar="PATH",
        help="leave out the operations at this path (repeatable)",
    )
    run.add_argument(
        "--checks",
        action="append",
        default=[],
        metavar="LIST",
        help="run only these checks (ids or categories, comma separated; repeatable), and send "
        "only the cases they need",
    )
    run.add_argument(
        "--exclude-checks",
        action="append",
        default=[],
        metavar="LIST",
        help="leave these checks out (ids or categories, comma separated; repeatable)",
    )
    run.add_argument(
        "--max-failures",
        type=int,
        metavar="N",
        help="stop sending after N exchanges failed a check (the rest are listed as not sent)",
    )
    run.add_argument(
        "--rate-limit",
        metavar="N/s|N/m",
        help="at most N requests a second (N/s) or a minute (N/m)",
    )
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan (cases per phase, requests, the most tokens it may spend) and "
        "send nothing",
    )
    run.add_argument(
        "--shrink-budget",
        type=int,
        default=20,
        metavar="N",
        help="requests spent at most on making failing generated cases smaller (default 20; "
        "0: no shrinking)",
    )
    run.add_argument(
        "--shrink-time",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds spent at most on shrinking, whatever is left of --shrink-budget (default 60)",
    )
    run.add_argument(
        "--modalities",
        default="text",
        metavar="LIST",
        help="what the model takes in, comma separated: text, image, audio, file (default "
        "text: generated requests send no image, audio or file parts)",
    )
    run.add_argument(
        "--examples-db",
        metavar="PATH",
        help="where generated cases that failed are kept and replayed first by the next run "
        "(default: examples.json in the report directory)",
    )
    run.add_argument(
        "--baseline",
        metavar="FILE",
        help="accepted failures, each with a reason and an expiry date",
    )
    run.add_argument(
        "--shard",
        metavar="I/N",
        help="send the I-th of N slices of the cases "
        "(merge the reports with 'conformance report merge')",
    )
    _add_output_options(run)
    run.set_defaults(handler=_cmd_run)


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument(
        "-v", "--verbose", action="store_true", help="every deviation and exchange"
    )
    loudness.add_argument("-q", "--quiet", action="store_true", help="only the verdict lines")
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="stdout: the text summary (default), or report.json itself",
    )


def _verbosity(args: argparse.Namespace) -> int:
    return 0 if args.quiet else 2 if args.verbose else 1


def _finish(args: argparse.Namespace, report: Any, text: str, out: IO[str], err: IO[str]) -> int:
    """Print the outcome (text, or report.json with --format json), write the reports, and
    say the exit status."""
    from .report import dumps

    if args.format == "json":
        out.write(dumps(report))
        _write_outputs(report, args.report_dir, err)
    else:
        out.write(text)
        _write_outputs(report, args.report_dir, out)
    return EXIT_FAILED if report["verdict"] == "fail" else EXIT_OK


def _add_transport_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--auth-header",
        metavar="NAME",
        default="Authorization",
        help="the header the key goes in (default Authorization, as 'Bearer KEY'; any other "
        "carries the bare key, e.g. api-key)",
    )
    parser.add_argument(
        "-H",
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="a header for every request (repeatable); $VAR in the value is read from the "
        "environment; values are never written anywhere",
    )
    parser.add_argument("--proxy", metavar="URL", help="send every request through this proxy")
    parser.add_argument("--cacert", metavar="FILE", help="trust the CA certificates in FILE")
    parser.add_argument(
        "--tls-verify",
        choices=("true", "false"),
        default="true",
        help="verify the server's certificate (default true)",
    )
    parser.add_argument(
        "--client-cert", metavar="FILE", help="a client certificate (PEM, with its key)"
    )


def _transport(args: argparse.Namespace) -> Any:
    """The runner's Transport from the transport options (files checked now, not mid-run)."""
    import os
    from pathlib import Path

    from .exchange import redact_url
    from .runner import Transport, parse_header

    for flag, value in (("--cacert", args.cacert), ("--client-cert", args.client_cert)):
        if value and not Path(value).is_file():
            raise UsageError(f"{flag} {value!r}: no such file")
    if args.proxy and not args.proxy.startswith(("http://", "https://", "socks5://")):
        shown = redact_url(args.proxy)
        raise UsageError(f"--proxy {shown!r} is not an http(s) or socks5 URL")
    if not args.auth_header.strip() or ":" in args.auth_header:
        raise UsageError(f"--auth-header {args.auth_header!r} is not a header name")
    verify: bool | str = args.cacert or True
    if args.tls_verify == "false":
        verify = False
    return Transport(
        auth_header=args.auth_header.strip(),
        headers=tuple(parse_header(text, os.environ) for text in args.header),
        proxy=args.proxy,
        verify=verify,
        client_cert=args.client_cert,
    )


def _add_validate(commands: Any) -> None:
    validate = commands.add_parser(
        "validate",
        help="check recorded exchanges offline",
        description="Check recorded exchanges against the contract: raw HTTP response files "
        "(status line, headers, blank line, body), bare JSON or SSE bodies, or HAR 1.2 files. "
        "The request comes from --request or a sibling NAME.request.json; without one, "
        "request-dependent rules are skipped. Exit 0 with no MUST failure, 1 with one, 2 for "
        "unreadable input.",
    )
    validate.add_argument("files", nargs="+", metavar="FILE", help="recorded exchange(s)")
    validate.add_argument(
        "--request", metavar="FILE", help="the JSON request body (for a single FILE)"
    )
    validate.add_argument(
        "--spec", metavar="PATH", help="OpenAPI document (default: the profile's)"
    )
    _add_contract_options(validate, with_spec=False)
    validate.add_argument(
        "--report-dir",
        metavar="DIR",
        default="reports",
        help="where the reports are written (default: reports/)",
    )
    validate.add_argument("--baseline", metavar="FILE", help="accepted failures")
    validate.add_argument("--strict", action="store_true", help="SHOULD failures fail too")
    validate.add_argument(
        "--operation",
        metavar="'METHOD /path'",
        help="the operation the recordings answer (default: the profile's main one, e.g. "
        "'GET /models')",
    )
    _add_output_options(validate)
    validate.set_defaults(handler=_cmd_validate)


def _add_report(commands: Any) -> None:
    report = commands.add_parser("report", help="work with reports")
    report.set_defaults(handler=_needs_command("report", "merge, diff, matrix or schema"))
    report_commands = report.add_subparsers(
        dest="report_command", metavar="COMMAND", parser_class=_Parser
    )
    merge = report_commands.add_parser(
        "merge",
        help="merge shard reports, or proxy replicas' reports, into one",
        description="Merge the report.json of shard runs (same contract, same seed), or of "
        "proxy replicas (same contract), into one report, and write all its outputs.",
    )
    merge.add_argument(
        "dirs", nargs="+", metavar="DIR", help="a shard's or a replica's report directory"
    )
    merge.add_argument("-o", "--output", metavar="DIR", required=True)
    merge.add_argument(
        "--allow-partial",
        action="store_true",
        help="merge even with a shard missing or given twice (the report then grants no level)",
    )
    merge.set_defaults(handler=_cmd_report_merge)
    diff = report_commands.add_parser(
        "diff",
        help="what got worse (or better) from one report to another",
        description="Compare two report.json (directories or files): new failing checks, new "
        "ways a failing check fails, fixed checks, checks no longer exercised, level and "
        "verdict changes, timings slower beyond a threshold. Exit 1 when something got worse, "
        "0 otherwise, 2 when the reports cannot be compared (another profile or document).",
    )
    diff.add_argument("old", metavar="OLD", help="the earlier report (directory or report.json)")
    diff.add_argument("new", metavar="NEW", help="the later report")
    diff.add_argument("--format", choices=("text", "json", "md"), default="text")
    diff.add_argument(
        "--force", action="store_true", help="compare reports of different contracts anyway"
    )
    diff.add_argument(
        "--slower",
        type=float,
        default=20.0,
        metavar="PERCENT",
        help="a timing's p50 or p99 is worse when it grew by more than this (default 20) and "
        "by more than --slower-floor-ms",
    )
    diff.add_argument("--slower-floor-ms", type=float, default=50.0, metavar="MS")
    diff.set_defaults(handler=_cmd_report_diff)
    matrix = report_commands.add_parser(
        "matrix",
        help="one table of checks x servers from many reports",
        description="Render the features (the checks, by category and level) of many reports "
        "side by side: pass, fail (with the first failure), not exercised, not applicable.",
    )
    matrix.add_argument("reports", nargs="+", metavar="REPORT", help="report directory or file")
    matrix.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="matrix.html or matrix.md (default: Markdown on stdout)",
    )
    matrix.set_defaults(handler=_cmd_report_matrix)
    schema = report_commands.add_parser(
        "schema",
        help="print the JSON Schema of report.json",
        description="Print the JSON Schema (2020-12) that every report.json this suite writes "
        "validates against: the public, versioned format of the report.",
    )
    schema.set_defaults(handler=_cmd_report_schema)


def _add_checks(commands: Any) -> None:
    checks = commands.add_parser("checks", help="list the checks, by certification level")
    checks.add_argument("--format", choices=("text", "markdown"), default="text")
    checks.set_defaults(handler=_cmd_checks)


def _add_serve(commands: Any) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the reference server (DeepSeek's contract, with optional faults)",
        description="Run the embedded reference server: a deterministic implementation of the "
        "deepseek profile (POST /chat/completions, POST /v1/chat/completions, GET /models), "
        "with faults to switch on. It accepts the API key "
        "'sk-conformance-reference' unless --api-key says otherwise.",
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME",
        help="switch a fault on (repeatable)",
    )
    serve.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME",
        help="a legal behaviour real servers differ in, which no check may fail (repeatable): "
        "crlf, no-space, keep-alive, nulls, strict-input",
    )
    serve.add_argument(
        "--list-faults", action="store_true", help="list the faults and the variants and exit"
    )
    serve.add_argument("--api-key", action="append", metavar="KEY", help="an accepted key")
    serve.add_argument("--latency-ms", type=float, default=0.0, help="delay before answering")
    serve.add_argument("--chunk-delay-ms", type=float, default=0.0, help="delay between chunks")
    serve.add_argument(
        "--keep-alive", action="store_true", help="send DeepSeek's keep-alive lines and comments"
    )
    serve.add_argument(
        "--auth-header",
        metavar="NAME",
        default="Authorization",
        help="the header that must carry the key (default Authorization: Bearer KEY; another "
        "carries the bare key, e.g. api-key)",
    )
    serve.add_argument(
        "--mock",
        action="store_true",
        help="answer every operation the profile certifies from the document's schemas "
        "(schema-driven; with --profile, e.g. openai); --fault takes the mock's faults",
    )
    serve.add_argument(
        "--profile", metavar="NAME", help="the profile --mock serves (default deepseek)"
    )
    serve.add_argument(
        "--spec",
        metavar="PATH",
        help="--mock: the OpenAPI document to serve (without --profile: every operation of it "
        "whose responses can be checked)",
    )
    serve.add_argument(
        "--seed", type=int, default=0, help="--mock: the same seed gives the same answers"
    )
    _add_serve_limits(
        serve.add_argument_group(
            "limits", "what one client may make the server hold (beyond: the status given)"
        )
    )
    serve.set_defaults(handler=_cmd_serve)


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
    proxy.add_argument("--profile", metavar="NAME", help="the contract (default deepseek)")
    proxy.add_argument("--spec", metavar="PATH", help="OpenAPI document (default: the profile's)")
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
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve Prometheus metrics on this port (/metrics, on --host): exchanges by "
        "operation and outcome, failures by check, upstream errors, abandoned, not judged, "
        "backlog, time to the upstream's headers",
    )
    proxy.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="one line on stderr per failing exchange, as text or a JSON object (default text)",
    )
    proxy.add_argument(
        "--sample",
        type=float,
        default=1.0,
        metavar="RATE",
        help="the fraction of exchanges judged, 0 < RATE <= 1 (all are forwarded; default 1): "
        "bounded CPU at high volume, replicas' reports merge with 'conformance report merge'",
    )
    proxy.add_argument(
        "--replica",
        metavar="NAME",
        help="this proxy's name among replicas, the prefix of its exchange ids, so that "
        "'conformance report merge' keeps them apart (default: the host name and the pid; "
        "letters, digits, '.', '_' and '-')",
    )
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


def _add_serve_limits(group: Any) -> None:
    """The flags of :class:`~conformance._serving.ServeLimits` (proxy, serve)."""
    group.add_argument(
        "--max-header-bytes",
        type=int,
        default=64 * 1024,
        metavar="BYTES",
        help="the largest request head (request line and headers); 431 beyond (default 64 KiB)",
    )
    group.add_argument(
        "--max-headers",
        type=int,
        default=100,
        metavar="N",
        help="the most header fields in a request; 431 beyond (default 100)",
    )
    group.add_argument(
        "--header-timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="a request head must arrive whole within S seconds of its first byte or of the "
        "connection's start; 408 then (default 10 s)",
    )
    group.add_argument(
        "--max-connections",
        type=int,
        default=0,
        metavar="N",
        help="open client connections at most; one more closes the one idle longest, or gets "
        "503 when none is idle (default 512, fewer if the open-file limit is low)",
    )


def _serve_limits(args: argparse.Namespace) -> Any:
    from ._serving import ServeLimits

    for flag, value in (
        ("--max-header-bytes", args.max_header_bytes),
        ("--max-headers", args.max_headers),
        ("--header-timeout", args.header_timeout),
    ):
        if not value > 0:
            raise UsageError(f"{flag} {value:g} must be above 0")
    if args.max_connections < 0:
        raise UsageError(f"--max-connections {args.max_connections} is negative")
    return ServeLimits(
        max_header_bytes=args.max_header_bytes,
        max_headers=args.max_headers,
        header_timeout=args.header_timeout,
        max_connections=args.max_connections,
    )


def _cmd_proxy(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    import threading

    import uvicorn

    from ._serving import uvicorn_options
    from .contract import load_contract
    from .exchange import redact_url
    from .proxy import UVICORN_OPTIONS, create_proxy_app
    from .proxy._observe import Observer, configure_logging

    if not args.upstream.startswith(("http://", "https://")):
        raise UsageError(f"--upstream {redact_url(args.upstream)!r} is not an http(s) URL")
    if args.flush_every < 0:
        raise UsageError(f"--flush-every {args.flush_every} is negative")
    for flag, value in (
        ("--timeout", args.timeout),
        ("--write-timeout", args.write_timeout),
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
    contract = load_contract(args.spec, profile=args.profile or (None if args.spec else "deepseek"))
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


def _orderly_server(on_signal: Callable[[], object] | None = None) -> Any:
    """uvicorn's ``Server`` whose SIGINT and SIGTERM end ``run()`` after the graceful shutdown
    (the lifespan's, which writes the report), instead of raising the signal again: the
    process then exits 0, as a service stopped on purpose should. ``on_signal`` is called at
    the first signal (the proxy writes its report then, not only at the end)."""
    import contextlib
    import signal
    import threading

    import uvicorn

    class OrderlyServer(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            first = not self.should_exit
            super().handle_exit(sig, frame)
            if first and on_signal is not None:
                on_signal()

        @contextlib.contextmanager
        def capture_signals(self) -> Any:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            handled = (signal.SIGINT, signal.SIGTERM)
            originals = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
            try:
                yield
            finally:
                for sig, handler in originals.items():
                    signal.signal(sig, handler)

    return OrderlyServer


def _OrderlyServer(config: Any) -> Any:
    return _orderly_server()(config)


def _add_spec(commands: Any) -> None:
    spec = commands.add_parser("spec", help="work with the effective contract")
    spec.set_defaults(handler=_needs_command("spec", "export"))
    spec_commands = spec.add_subparsers(
        dest="spec_command", metavar="COMMAND", parser_class=_Parser
    )
    export = spec_commands.add_parser(
        "export",
        help="write the effective (overlaid) contract as OpenAPI 3.2 YAML",
        description="Write the effective contract (spec + profile overlays + --overlay) as an "
        "OpenAPI 3.2 YAML document, every schema in JSON Schema 2020-12.",
    )
    _add_contract_options(export)
    export.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    export.set_defaults(handler=_cmd_spec_export)


#: A command's handler: the parsed arguments, stdout, stderr -> the exit status.
Handler = Callable[[argparse.Namespace, IO[str], IO[str]], int]


def _needs_command(group: str, commands: str) -> Handler:
    def handler(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
        raise UsageError(
            f"'{group}' needs a command: {commands} (see 'conformance {group} --help')"
        )

    return handler


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Contract-conformance suite for OpenAI/DeepSeek-compatible Chat "
        "Completions APIs.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for add in (
        _add_lint,
        _add_run,
        _add_validate,
        _add_report,
        _add_checks,
        _add_serve,
        _add_proxy,
        _add_spec,
    ):
        add(commands)
    return parser


def _load(args: argparse.Namespace) -> Contract:
    from .contract import load_contract

    return load_contract(args.spec, profile=args.profile, overlays=args.overlay)


def _positive(value: float, flag: str, *, zero: bool = False) -> None:
    if value < 0 or (value == 0 and not zero):
        raise UsageError(f"{flag} must be {'0 or more' if zero else 'more than 0'}, got {value:g}")


def _seed(value: str | None) -> int | None:
    """``None`` (the runner's stable default), a number, or a fresh random one."""
    if value is None:
        return None
    if value == "random":
        import random

        return random.randrange(2**31)
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"--seed {value!r} is not a number or 'random'") from None


def _shard(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    index, _, count = value.partition("/")
    try:
        shard = int(index), int(count)
    except ValueError:
        raise UsageError(f"--shard {value!r} is not I/N (e.g. 1/2)") from None
    if not 1 <= shard[0] <= shard[1]:
        raise UsageError(f"--shard {value!r}: I must be between 1 and N")
    return shard


def _baseline(path: str | None) -> object:
    if path is None:
        return None
    from .report import load_baseline

    return load_baseline(path)


def _write_outputs(report: Report, directory: str, out: IO[str]) -> None:
    from .report import write_all

    try:
        written = write_all(report, directory)
    except OSError as exc:
        raise UsageError(
            f"cannot write the reports to {directory}: {exc.strerror or exc}"
        ) from None
    out.write(f"reports: {written['report.json'].parent} ({', '.join(written)})\n")


def _cmd_checks(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from ._vocab import LEVELS
    from .checks import CHECKS

    if args.format == "markdown":
        out.write(checks_markdown())
        return EXIT_OK
    for level in LEVELS:
        out.write(f"{level}:\n")
        for check in CHECKS.values():
            if check.level == level:
                out.write(f"  {check.id:<28} {check.severity:<6} {check.title}\n")
    return EXIT_OK


def checks_markdown() -> str:
    """The README's table of checks by level, generated from the registry."""
    from ._vocab import LEVELS
    from .checks import CHECKS

    lines = []
    for level in LEVELS:
        members = [c for c in CHECKS.values() if c.level == level]
        lines += [
            f"**{level}** ({len(members)} checks)",
            "",
            "| check | severity | rule |",
            "|---|---|---|",
        ]
        lines += [f"| `{c.id}` | {c.severity} | {c.title} |" for c in members]
        lines.append("")
    return "\n".join(lines)


def _cmd_report_merge(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from .report import merge_reports, read_report, render_text

    merged = merge_reports([read_report(d) for d in args.dirs], allow_partial=args.allow_partial)
    _write_outputs(merged, args.output, out)
    out.write(render_text([], merged).lstrip("\n"))
    return EXIT_FAILED if merged["verdict"] == "fail" else EXIT_OK


def _cmd_report_diff(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from .report import diff_reports, read_report, render_diff

    diff = diff_reports(
        read_report(args.old),
        read_report(args.new),
        old_label=args.old,
        new_label=args.new,
        force=args.force,
        slower=args.slower / 100,
        floor_s=args.slower_floor_ms / 1000,
    )
    out.write(render_diff(diff, args.format))
    return EXIT_FAILED if diff.worse else EXIT_OK


def _cmd_report_matrix(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from pathlib import Path

    from .report import build_matrix, read_report, render_matrix_html, render_matrix_markdown

    matrix = build_matrix([(r, read_report(r)) for r in args.reports])
    if args.output is None:
        out.write(render_matrix_markdown(matrix))
        return EXIT_OK
    target = Path(args.output)
    html = target.suffix.lower() in (".html", ".htm")
    text = render_matrix_html(matrix) if html else render_matrix_markdown(matrix)
    try:
        write_text_atomic(target, text)
    except OSError as exc:
        raise UsageError(f"-o {target}: cannot write it ({exc.strerror or exc})") from None
    out.write(f"matrix of {len(matrix.columns)} report(s): {target}\n")
    return EXIT_OK


def _cmd_report_schema(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from .report import report_schema_text

    out.write(report_schema_text())
    return EXIT_OK


def _writable(directory: str) -> None:
    """Exit 2 now, before any request, when the reports cannot be written."""
    from .report import ensure_writable

    try:
        ensure_writable(directory)
    except OSError as exc:
        raise UsageError(
            f"--report-dir {directory}: cannot write there ({exc.strerror or exc}); give a "
            "writable directory"
        ) from None


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
    from .runner import PHASES, describe_plan, plan_cases, token_budget

    model = config.model or "MODEL"
    seed = config.seed if config.seed is not None else 0
    cases = plan_cases(contract, config, model=model, reasoner=config.reasoning_model, seed=seed)
    out.write(f"dry run: nothing is sent\n{describe_plan(cases, model=model, seed=seed)}\n")
    for phase, source in PHASES.items():
        names = [c.name for c in cases if c.source == source]
        if names:
            shown = ", ".join(names[:6]) + (
                f", ... ({len(names) - 6} more)" if len(names) > 6 else ""
            )
            out.write(f"  {phase:<10} {len(names):>3}  {shown}\n")
    budget = token_budget(cases, model=model)
    requests = min(len(cases), config.max_requests) + 2
    out.write(
        f"requests: {len(cases)} case(s) + 2 preflight, at most {config.max_requests} "
        f"(--max-requests), so up to {requests}; tokens: at most {budget.completion:,} "
        f"completion, about {budget.prompt:,} prompt\n"
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
    from .runner import MODALITIES

    names = {part.strip() for part in text.split(",") if part.strip()}
    unknown = sorted(names - set(MODALITIES))
    if unknown or "text" not in names:
        raise UsageError(
            f"--modalities {text!r}: "
            + (f"unknown {', '.join(unknown)}; " if unknown else "text is missing; ")
            + f"give a comma-separated list of {', '.join(MODALITIES)} (text included)"
        )
    return frozenset(names)


#: The request budget of a run against the embedded server (free, and every case of a
#: profile with many operations fits).
EMBEDDED_BUDGET = 2000


def _cmd_run(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    import os
    from pathlib import Path

    from ._session import live_report
    from .checks import CHECKS
    from .report import render_text
    from .runner import (
        API_KEY_VARIABLE,
        Limits,
        RunConfig,
        parse_phases,
        select_checks,
        select_operations,
    )

    if args.max_requests is None:
        args.max_requests = 200 if args.base_url else EMBEDDED_BUDGET
    # the run's values (budgets, workers, the URL's scheme) are refused by RunConfig, for the
    # CLI, the plugin and the Python API alike; the timeouts (Limits) here
    _positive(args.timeout, "--timeout")
    _positive(args.idle_timeout, "--idle-timeout")
    _positive(args.connect_timeout, "--connect-timeout")
    if args.first_byte_timeout is not None:
        _positive(args.first_byte_timeout, "--first-byte-timeout")
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
    limits = Limits(
        total=args.timeout,
        first_byte=min(args.first_byte_timeout or args.timeout, args.timeout),
        idle=min(args.idle_timeout, args.timeout),
        connect=min(args.connect_timeout, args.timeout),
    )
    shard = _shard(args.shard)
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
        shard=shard,
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
    _quiet_hypothesis()
    if args.dry_run:
        return _dry_run(contract, config, out)
    _writable(args.report_dir)

    def announce(url: str) -> None:
        err.write(f"conformance: no --base-url: checking the embedded reference server ({url})\n")

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


class _progress:
    """Progress while a run is sending: on a terminal a live line (``37/84``, the case waited
    on the longest); elsewhere (CI logs) a plain line every ``interval`` seconds, so a hanging
    server is seen as it hangs, not after the run."""

    def __init__(self, stream: IO[str], *, interval: float = 10.0) -> None:
        import threading

        from .runner import RunWatch

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
            if self.watch.total:
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


def _cmd_validate(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    import functools
    import time
    from datetime import datetime

    from .checks import check_exchange
    from .exchange import read_exchanges
    from .report import build_report, render_text

    if args.request and len(args.files) > 1:
        raise UsageError("--request goes with a single FILE (or use NAME.request.json siblings)")
    started = datetime.now(UTC)
    clock = time.perf_counter()
    contract = _load(args)
    operation = contract.operation()
    if args.operation:
        method, _, path = args.operation.strip().partition(" ")
        operation = contract.operation(method, path.strip())
    baseline = _baseline(args.baseline)
    results = []
    for name in args.files:
        asks = functools.partial(contract.wants_stream, operation=operation)
        for exchange in read_exchanges(name, request_file=args.request, asks_stream=asks):
            results.append(check_exchange(contract, exchange, operation=operation))
    report = build_report(
        contract,
        results,
        started_at=started.isoformat(timespec="seconds").replace("+00:00", "Z"),
        duration_s=time.perf_counter() - clock,
        fail_on="SHOULD" if args.strict else "MUST",
        baseline=baseline,  # type: ignore[arg-type]
    )
    return _finish(args, report, render_text(results, report, verbosity=_verbosity(args)), out, err)


def _cmd_lint(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from .contract import lint

    contract = _load(args)
    findings = lint(contract, whole_document=args.all)
    errors = sum(f.severity == "error" for f in findings)
    warnings = len(findings) - errors
    if args.format == "json":
        json.dump(
            {
                "spec": contract.source,
                "sha256": contract.sha256,
                "profile": contract.profile.name,
                "overlays": list(contract.overlays),
                "openapi": contract.openapi,
                "summary": {"errors": errors, "warnings": warnings},
                "findings": [f.as_dict() for f in findings],
            },
            out,
            indent=2,
        )
        out.write("\n")
    else:
        overlays = "".join(f" + {o}" for o in contract.overlays)
        out.write(
            f"{contract.source}{overlays} (OpenAPI {contract.openapi}, "
            f"profile {contract.profile.name})\n"
        )
        for f in findings:
            out.write(f"{f.severity:<7} {f.rule}  {f.pointer or '/'}\n        {f.message}\n")
        out.write(f"{errors} error(s), {warnings} warning(s)\n")
    return EXIT_FAILED if errors else EXIT_OK


def _cmd_serve(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    import socket

    from .reference import (
        DEFAULT_API_KEY,
        FAULTS,
        MOCK_FAULTS,
        VARIANTS,
        create_app,
        unknown_faults,
        unknown_variants,
    )

    if args.list_faults:
        width = max(len(name) for name in FAULTS)
        for fault in FAULTS.values():
            effect = ", ".join(fault.breaks)
            if fault.starves:
                effect += (", " if effect else "") + "not exercised: " + ", ".join(fault.starves)
            if fault.stops_run:
                effect += f" (a run stops at the preflight: {fault.stops_run}...)"
            out.write(f"{fault.name:<{width}}  {effect}\n")
            out.write(f"{'':<{width}}  {fault.description}\n")
        out.write(f"{len(FAULTS)} faults\n\nvariants (legal: every check still passes)\n")
        for variant in VARIANTS.values():
            out.write(f"{variant.name:<{width}}  {variant.description} ({variant.source})\n")
        out.write("\nfaults of --mock (generic: every operation shows them)\n")
        for mock_fault in MOCK_FAULTS.values():
            out.write(f"{mock_fault.name:<{width}}  {', '.join(mock_fault.breaks)}\n")
            out.write(f"{'':<{width}}  {mock_fault.description}\n")
        return EXIT_OK
    limits = _serve_limits(args)
    if args.mock:
        return _serve_mock(args, out, limits)
    if args.spec:
        raise UsageError("serve --spec needs --mock (the reference server serves its profile)")
    for kind, unknown in (
        ("fault", unknown_faults(args.fault)),
        ("variant", unknown_variants(args.variant)),
    ):
        if unknown:
            raise UsageError(
                f"unknown {kind}(s): {', '.join(unknown)} (see 'conformance serve --list-faults')"
            )
    if args.latency_ms < 0 or args.chunk_delay_ms < 0:
        raise UsageError("--latency-ms and --chunk-delay-ms must be 0 or more")
    if not 0 < args.port < 65536:
        raise UsageError(f"--port {args.port} is not a port number (1-65535)")
    try:
        with socket.create_server((args.host, args.port)):
            pass
    except OSError as exc:
        raise UsageError(
            f"cannot listen on {args.host}:{args.port} ({exc.strerror or exc})"
        ) from None
    import uvicorn

    from ._serving import uvicorn_options

    app = create_app(
        faults=args.fault,
        api_keys=args.api_key or [DEFAULT_API_KEY],
        latency_ms=args.latency_ms,
        chunk_delay_ms=args.chunk_delay_ms,
        keep_alive=args.keep_alive,
        variants=args.variant,
        auth_header=args.auth_header,
    )
    faults = f" with faults: {', '.join(args.fault)}" if args.fault else ""
    faults += f" (variants: {', '.join(args.variant)})" if args.variant else ""
    out.write(f"conformance reference server on http://{args.host}:{args.port}{faults}\n")
    out.flush()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        timeout_graceful_shutdown=1,
        **uvicorn_options(limits),
    )
    return EXIT_OK


def _listening(host: str, port: int) -> None:
    import socket

    if not 0 < port < 65536:
        raise UsageError(f"--port {port} is not a port number (1-65535)")
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None


def _serve_mock(args: argparse.Namespace, out: IO[str], limits: Any) -> int:
    """``serve --mock``: every operation of the profile, answered from its schemas."""
    import uvicorn

    from ._serving import uvicorn_options
    from .contract import load_contract
    from .reference import DEFAULT_API_KEY, create_mock_app

    contract = load_contract(args.spec, profile=args.profile or (None if args.spec else "deepseek"))
    app = create_mock_app(
        contract=contract,
        faults=args.fault,
        api_keys=args.api_key or [DEFAULT_API_KEY],
        seed=args.seed,
    )
    _listening(args.host, args.port)
    served = ", ".join(op.label for op in contract.certified_operations())
    out.write(
        f"conformance mock of the {contract.profile.name} profile on "
        f"http://{args.host}:{args.port} ({served})\n"
    )
    out.flush()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        timeout_graceful_shutdown=1,
        **uvicorn_options(limits),
    )
    return EXIT_OK


def _cmd_spec_export(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from pathlib import Path

    from .contract import export_document

    text = export_document(_load(args))
    if args.output:
        path = Path(args.output)
        try:
            write_text_atomic(path, text)
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    else:
        out.write(text)
    return EXIT_OK


def _env_flag(name: str) -> bool:
    """An environment variable set to a true value (:func:`env_flag`); a bad one: exit 2."""
    from ._util import env_flag

    try:
        return env_flag(name)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


class _Printable:
    """A text stream whose writes are made :func:`printable`; ``raw`` is the stream itself
    (the progress bar's own escape sequences go there)."""

    def __init__(self, stream: IO[str]) -> None:
        self.raw = stream

    def write(self, text: str) -> int:
        return self.raw.write(printable(text))

    def __getattr__(self, name: str) -> Any:  # flush, isatty, fileno, encoding...
        return getattr(self.raw, name)


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
) -> int:
    """Run the command line; return the exit status. What it prints goes through
    :func:`~conformance._util.printable`: a model id, a message or a note a server wrote never
    reaches the terminal or the CI log as control characters (ESC sequences, an OSC title,
    BEL, a bidi override: shown as ``\x1b``, ``\u202e``)."""
    out = _Printable(stdout or sys.stdout)
    err = _Printable(stderr or sys.stderr)
    parser = _build_parser()
    try:
        try:
            args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
        except SystemExit as exc:  # --help and --version
            return int(exc.code or 0)
        handler: Handler | None = getattr(args, "handler", None)
        if handler is None:
            parser.print_help(out)
            return EXIT_ERROR
        return handler(args, out, err)  # type: ignore[arg-type]
    except ConformanceError as exc:
        err.write(f"{PROG}: error: {exc}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        err.write(f"{PROG}: interrupted\n")
        return 130
    except BrokenPipeError:  # the reader went away (| head): stop quietly
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
