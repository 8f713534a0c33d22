"""``conformance spec export``: the effective contract as OpenAPI 3.2."""

from __future__ import annotations

import argparse
from typing import IO, TYPE_CHECKING, Any

from .._errors import UsageError
from .._util import write_text_atomic

if TYPE_CHECKING:
    pass

from ._common import EXIT_OK, _add_contract_options, _load, _needs_command, _Parser


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


def _cmd_spec_export(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from pathlib import Path

    from ..contract import export_document

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
