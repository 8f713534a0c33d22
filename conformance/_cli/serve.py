"""``conformance serve``: the reference server or the mock of a profile, served with the guarded
protocol; the orderly uvicorn server the proxy uses too."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from .._errors import UsageError

if TYPE_CHECKING:
    pass

from ._common import EXIT_OK, _listening, _load


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
        "--overlay",
        action="append",
        default=[],
        metavar="FILE",
        help="--mock: an OpenAPI Overlay 1.0 document applied after the profile's (repeatable)",
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
    from .._serving import ServeLimits

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


def _cmd_serve(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:

    from ..reference import (
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
    if args.spec or args.overlay:
        flag = "--spec" if args.spec else "--overlay"
        raise UsageError(f"serve {flag} needs --mock (the reference server serves its profile)")
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
    _listening(args.host, args.port)

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
    return _served(app, args, limits)


def _serve_mock(args: argparse.Namespace, out: IO[str], limits: Any) -> int:
    """``serve --mock``: every operation of the profile, answered from its schemas."""

    from ..reference import DEFAULT_API_KEY, create_mock_app

    contract = _load(args)
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
    return _served(app, args, limits)


def _served(app: Any, args: argparse.Namespace, limits: Any) -> int:
    """Serve ``app`` on ``--host``/``--port`` with the guarded protocol and its ``limits``."""
    import uvicorn

    from .._serving import uvicorn_options

    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        timeout_graceful_shutdown=1,
        **uvicorn_options(limits),
    )
    return EXIT_OK
