"""Docs that stay true: the README's counts, and the CI snippets of docs/ci.md (valid YAML,
calling only flags that exist)."""

from __future__ import annotations

import re
import shlex

import pytest
import yaml

from conformance._cli import _build_parser
from conformance.checks import CHECKS
from conformance.reference import FAULTS
from tests.helpers import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
CI = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")


def test_the_readme_counts_are_the_registries() -> None:
    assert f"The checks ({len(CHECKS)} today)" in README
    assert f"Each of its {len(FAULTS)} faults" in README


def _blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def _commands(text: str) -> list[list[str]]:
    """Every ``conformance ...`` command of the snippets, as argv without the program (line
    continuations joined, YAML folded scalars read)."""
    found = []
    for block in _blocks(text, "yaml"):
        for value in _strings(yaml.safe_load(block)):
            found += _in(value)
    for block in _blocks(text, "sh"):
        found += _in(block.replace("\\\n", " "))
    return found


def _strings(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return []


def _in(text: str) -> list[list[str]]:
    return [
        shlex.split(line.strip())[1:]
        for line in text.replace("\n  ", " ").splitlines()
        if line.strip().startswith("conformance ")
    ]


def test_the_ci_snippets_are_yaml_and_call_only_real_flags() -> None:
    blocks = _blocks(CI, "yaml")
    assert len(blocks) == 2 and all(isinstance(yaml.safe_load(b), dict) for b in blocks)
    commands = _commands(CI)
    assert len(commands) >= 4
    parser = _build_parser()
    for argv in commands:
        try:
            args = parser.parse_args(argv)
        except SystemExit:  # pragma: no cover - the message names the bad flag
            pytest.fail(f"docs/ci.md calls a flag that does not exist: {argv}")
        assert args.handler.__name__ in ("_cmd_run", "_cmd_report_diff"), argv
