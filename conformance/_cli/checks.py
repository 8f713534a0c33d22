"""``conformance checks``: the registered checks, as text or Markdown."""

from __future__ import annotations

import argparse
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass

from ._common import EXIT_OK


def _add_checks(commands: Any) -> None:
    checks = commands.add_parser(
        "checks",
        help="list the checks, by certification level, with their categories",
        description="The checks by level, each with its severity and category. --checks and "
        "--exclude-checks take ids, categories and levels.",
    )
    checks.add_argument("--format", choices=("text", "markdown"), default="text")
    checks.set_defaults(handler=_cmd_checks)


def _cmd_checks(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from .._vocab import LEVELS
    from ..checks import CHECKS

    if args.format == "markdown":
        out.write(checks_markdown())
        return EXIT_OK
    for level in LEVELS:
        out.write(f"{level}:\n")
        for check in CHECKS.values():
            if check.level == level:
                out.write(
                    f"  {check.id:<28} {check.severity:<6} {check.category:<14} {check.title}\n"
                )
    categories = sorted({c.category for c in CHECKS.values()})
    out.write(
        f"\n--checks and --exclude-checks take ids, levels ({', '.join(LEVELS)}) and "
        f"categories ({', '.join(categories)})\n"
    )
    return EXIT_OK


def checks_markdown() -> str:
    """The README's table of checks by level, generated from the registry."""
    from .._vocab import LEVELS
    from ..checks import CHECKS

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
