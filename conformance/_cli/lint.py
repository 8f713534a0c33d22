"""``conformance lint``: what the document itself gets wrong."""

from __future__ import annotations

import argparse
import json
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass

from ._common import EXIT_FAILED, EXIT_OK, _add_contract_options, _load


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


def _cmd_lint(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from ..contract import lint

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
