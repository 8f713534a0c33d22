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
    "runner": {"contract", "exchange", "checks"},
    "report": {"contract", "exchange", "checks", "runner"},
    "reference": {"contract"},
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
    for name in ("_errors.py", "_sse.py", "_resources.py", "_util.py", "_vocab.py"):
        tree = ast.parse((PACKAGE / name).read_text())
        assert not [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level > 0], (
            name
        )
