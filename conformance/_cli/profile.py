"""``conformance profile init --spec D``: a starting profile for a document, to edit."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .._errors import UsageError
from .._util import write_text_atomic
from ._common import EXIT_OK, _needs_command, _Parser

if TYPE_CHECKING:
    from ..contract import Contract

__all__ = ["_add_profile"]


def _add_profile(commands: Any) -> None:
    profile = commands.add_parser("profile", help="work with profiles")
    profile.set_defaults(handler=_needs_command("profile", "init"))
    profile_commands = profile.add_subparsers(
        dest="profile_command", metavar="COMMAND", parser_class=_Parser
    )
    init = profile_commands.add_parser(
        "init",
        help="write a starting profile for an OpenAPI document, to edit",
        description="Write a profile for --spec as the suite reads the document with no "
        "profile: its main operation (found by path or shape), how it streams, every other "
        "operation it can check. Edit it (docs/profiles.md has every key), then run with "
        "--profile FILE.",
    )
    init.add_argument("--spec", metavar="PATH", required=True, help="the OpenAPI document")
    init.add_argument(
        "-o", "--output", metavar="FILE", help="write here (default: stdout); never overwritten"
    )
    init.set_defaults(handler=_cmd_profile_init)


def _cmd_profile_init(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from ..contract import load_contract, load_profile

    contract = load_contract(args.spec)
    if not args.output:
        out.write(starting_profile(contract, args.spec, Path.cwd()))
        return EXIT_OK
    path = Path(args.output)
    if path.exists():
        raise UsageError(f"{path} exists; give another --output (a profile is never overwritten)")
    text = starting_profile(contract, args.spec, path.resolve().parent)
    try:
        write_text_atomic(path, text)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    load_profile(str(path))  # what was written loads, or this is the tool's own bug
    err.write(f"wrote {path}: edit it, then conformance run --profile {path}\n")
    return EXIT_OK


def starting_profile(contract: Contract, spec: str, base: Path) -> str:
    """The YAML of a profile that reads ``spec`` (written relative to ``base``, where the
    profile will be) as the suite reads it with no profile."""
    profile = contract.profile
    main = contract.operation()
    where = spec
    if "://" not in spec:
        where = os.path.relpath(Path(spec).resolve(), base)
    models = [
        o.label for o in contract.operations if o.method == "get" and o.path.endswith("/models")
    ]
    lines = [
        f"# A starting profile for {Path(spec).name}, written by `conformance profile init`:",
        "# edit it, then `conformance run --profile THIS_FILE`. Every key: docs/profiles.md.",
        f"name: {_scalar(Path(spec).stem)}",
        "description: >",
        f"  {_title(contract)}, read as written (no overlay yet: add errata in overlays).",
        f"spec: {_scalar(where)}",
        "overlays: []",
        "# The main operation, found by its path (.../chat/completions) or its shape (messages in",
        "# the request, choices in the answer); family chat gets the chat rules.",
        "operation:",
        f"  method: {main.method}",
        f"  path: {_scalar(main.path)}",
        f"  family: {main.family or 'generic'}",
    ]
    if main.stream_selector is not None:
        lines += [
            "# How it streams: the request's stream: true, where usage goes (finish_chunk:",
            "# DeepSeek's, on the chunk with finish_reason; usage_chunk: OpenAI's, on a last",
            "# chunk with choices: []), and the data that ends a stream.",
            "stream:",
            f"  selector: {_scalar(main.stream_selector)}",
            f"  usage_placement: {profile.usage_placement}",
            f"  sentinels: [{', '.join(_scalar(s) for s in profile.sentinels)}]",
        ]
    lines += [
        "# Every other operation the suite can send and check, with the checks of every",
        "# operation (family generic). To certify fewer, or to give one its family, list them:",
        "#   operations:",
        *[
            f"#     - {{method: get, path: {_scalar(label.split(' ', 1)[1])}, family: models}}"
            for label in models[:1]
        ],
        "#     - {method: post, path: /v1/embeddings, family: embeddings}",
        "operations: all",
        "# What `conformance run` checks with no --base-url: the document's own mock.",
        "embedded: mock",
    ]
    return "\n".join(lines) + "\n"


def _title(contract: Contract) -> str:
    info = contract.document.get("info") if isinstance(contract.document, dict) else None
    title = info.get("title") if isinstance(info, dict) else None
    return " ".join(str(title).split()) if title else "The document"


def _scalar(value: str) -> str:
    """``value`` as a YAML scalar: quoted when plain YAML would read it otherwise."""
    import json

    import yaml

    plain = yaml.safe_dump(value, default_flow_style=True).strip()
    if plain.endswith("..."):
        plain = plain[: -len("...")].strip()
    return plain if yaml.safe_load(plain) == value and "\n" not in plain else json.dumps(value)
