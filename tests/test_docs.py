"""Docs that stay true: the README's counts, and the CI snippets of docs/ci.md (valid YAML,
calling only flags that exist)."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

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


def test_the_documented_install_step_installs_this_package(tmp_path: Path) -> None:
    """docs/ci.md's `pip install chat-conformance` found no distribution: the step it shows
    now, its placeholders filled with this checkout and its commit, resolves to this package
    (a dry run that ignores what is installed: pip clones, builds the metadata, installs
    nothing; a fresh virtual environment would prove no more, at 4 s of CPU to make it)."""
    (line,) = {match for match in re.findall(r'pip install "(chat-conformance @ [^"]+)"', CI)}
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    requirement = line.replace("https://REPOSITORY-URL@REF", f"file://localhost{ROOT}@{commit}")
    report = tmp_path / "pip.json"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--ignore-installed",
         "--quiet", "--report", str(report), requirement],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    (installed,) = json.loads(report.read_text())["install"]
    assert installed["metadata"]["name"] == "chat-conformance"
