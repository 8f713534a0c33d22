"""What every command shares: the parser, the option groups of the contract, the target and the
outputs, and the small parsers and guards of values."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any, Literal, NoReturn

from .._errors import UsageError
from .._util import printable

if TYPE_CHECKING:
    from ..contract import Contract
    from ..report import Report


PROG = "conformance"


EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so every error takes one path."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _profile_names() -> str:
    from ..contract._profiles import available_profiles

    return ", ".join(available_profiles())


def _add_contract_options(
    parser: Options, *, spec: Literal["argument", "flag"] = "argument"
) -> None:
    """The contract's options, the same wherever a contract is loaded: the document (the
    ``SPEC`` argument, or ``--spec PATH`` where the arguments are files to judge), the
    profile and the overlays."""
    if spec == "flag":
        parser.add_argument(
            "--spec", metavar="PATH", help="OpenAPI document (default: the profile's)"
        )
    else:
        parser.add_argument(
            "spec",
            nargs="?",
            metavar="SPEC",
            help="OpenAPI 3.0/3.1/3.2 document (path or URL, YAML or JSON); "
            "default: the profile's document",
        )
        # the flag every other command takes, so that a command line carried over works
        parser.add_argument(
            "--spec", dest="spec_flag", metavar="PATH", help="the same as SPEC (as run takes it)"
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


def _add_output_options(parser: Options) -> None:
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
    from ..report import dumps

    if args.format == "json":
        out.write(dumps(report))
        _write_outputs(report, args.report_dir, err)
    else:
        out.write(text)
        _write_outputs(report, args.report_dir, out)
    return EXIT_FAILED if report["verdict"] == "fail" else EXIT_OK


def _add_transport_options(parser: Options) -> None:
    parser.add_argument(
        "--auth-header",
        metavar="NAME",
        default=None,
        help="the header the key goes in (default: the one the document's security scheme "
        "names, else Authorization, as 'Bearer KEY'; any other carries the bare key, e.g. "
        "api-key or x-api-key)",
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

    from ..exchange import redact_url
    from ..runner import Transport, parse_header

    for flag, value in (("--cacert", args.cacert), ("--client-cert", args.client_cert)):
        if value and not Path(value).is_file():
            raise UsageError(f"{flag} {value!r}: no such file")
    if args.proxy and not args.proxy.startswith(("http://", "https://", "socks5://")):
        shown = redact_url(args.proxy)
        raise UsageError(f"--proxy {shown!r} is not an http(s) or socks5 URL")
    given = args.auth_header
    if given is not None and (not given.strip() or ":" in given):
        raise UsageError(f"--auth-header {given!r} is not a header name")
    verify: bool | str = args.cacert or True
    if args.tls_verify == "false":
        verify = False
    return Transport(
        auth_header=(given or "").strip(),
        headers=tuple(parse_header(text, os.environ) for text in args.header),
        proxy=args.proxy,
        verify=verify,
        client_cert=args.client_cert,
    )


#: A command's handler: the parsed arguments, stdout, stderr -> the exit status.
Handler = Callable[[argparse.Namespace, IO[str], IO[str]], int]
#: Where options are added: a parser, or one of its groups (``--help`` lists them together).
Options = argparse.ArgumentParser | argparse._ArgumentGroup


def _needs_command(group: str, commands: str) -> Handler:
    def handler(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
        raise UsageError(
            f"'{group}' needs a command: {commands} (see 'conformance {group} --help')"
        )

    return handler


def _load(args: argparse.Namespace) -> Contract:
    from ..contract import load_contract

    spec, flag = args.spec, getattr(args, "spec_flag", None)
    if spec is not None and flag is not None and spec != flag:
        raise UsageError(f"two documents given: {spec} and --spec {flag}; give one")
    return load_contract(spec or flag, profile=args.profile, overlays=args.overlay)


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
    from ..report import load_baseline

    return load_baseline(path)


def _write_outputs(report: Report, directory: str, out: IO[str]) -> None:
    from ..report import write_all

    try:
        written = write_all(report, directory)
    except OSError as exc:
        raise UsageError(
            f"cannot write the reports to {directory}: {exc.strerror or exc}"
        ) from None
    out.write(f"reports: {written['report.json'].parent} ({', '.join(written)})\n")


def _writable(directory: str) -> None:
    """Exit 2 now, before any request, when the reports cannot be written."""
    from ..report import ensure_writable

    try:
        ensure_writable(directory)
    except OSError as exc:
        raise UsageError(
            f"--report-dir {directory}: cannot write there ({exc.strerror or exc}); give a "
            "writable directory"
        ) from None


def _listening(host: str, port: int) -> None:
    import socket

    if not 0 < port < 65536:
        raise UsageError(f"--port {port} is not a port number (1-65535)")
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None


def _env_flag(name: str) -> bool:
    """An environment variable set to a true value (:func:`env_flag`); a bad one: exit 2."""
    from .._util import env_flag

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
