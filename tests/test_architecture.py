"""The layers of ARCHITECTURE.md: imports point one way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "conformance"
#: stage -> the stages it may import (the leaf modules _errors, _sse, _resources, _util and
#: _vocab are open to all)
ALLOWED = {
    "contract": set(),
    "exchange": {"contract"},
    "checks": {"contract", "exchange"},
    "plan": {"contract", "exchange", "checks"},
    "runner": {"contract", "exchange", "checks", "plan"},
    "report": {"contract", "exchange", "checks", "plan", "runner"},
    "reference": {"contract"},
    "proxy": {"contract", "exchange", "checks", "plan", "runner", "report"},
}
STAGES = set(ALLOWED)


def _imported_stages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level >= 1:
            parts = (node.module or "").split(".")
            # "from ..checks import x" (level 2 inside a stage) or "from .contract import x"
            if (node.level == 2 or path.parent == PACKAGE) and parts[0] in STAGES:
                found.add(parts[0])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("conformance."):
            found.add(node.module.split(".")[1])
    return found


@pytest.mark.parametrize("stage", sorted(ALLOWED))
def test_stage_imports_point_one_way(stage: str) -> None:
    for path in (PACKAGE / stage).rglob("*.py"):
        imported = _imported_stages(path) - {stage}
        assert imported <= ALLOWED[stage], (
            f"{path.relative_to(PACKAGE)} imports {imported - ALLOWED[stage]}"
        )


def test_leaf_modules_import_nothing_from_the_package() -> None:
    for name in ("_errors.py", "_sse.py", "_resources.py", "_util.py", "_vocab.py", "_serving.py"):
        tree = ast.parse((PACKAGE / name).read_text())
        assert not [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level > 0], (
            name
        )


def test_check_ids_are_written_only_where_they_are_registered() -> None:
    """The driver stamps a failure with its check's id: no check body re-types it."""
    from conformance import CHECKS

    text = "\n".join(p.read_text() for p in sorted((PACKAGE / "checks").glob("*.py")))
    for check_id in CHECKS:
        uses = text.count(f'"{check_id}"')
        registrations = text.count(f'id="{check_id}"')
        assert uses == registrations, f"{check_id} is written outside its registration"
        assert 1 <= registrations <= 2  # a response check and its stream rule share one id


def test_test_modules_do_not_import_each_other() -> None:
    """Shared test helpers live in tests/helpers.py (or a package's builders), fixtures in
    conftest.py; a test module never imports from another test module or from conftest."""
    tests = PACKAGE.parent / "tests"
    offenders = []
    for path in tests.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                last = node.module.rsplit(".", 1)[-1]
                if node.module.startswith("tests") and (
                    last.startswith("test_") or last == "conftest"
                ):
                    offenders.append(f"{path.relative_to(tests)}: from {node.module}")
    assert not offenders
