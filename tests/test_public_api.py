from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import conformance


def test_public_names_are_pinned() -> None:
    assert conformance.__all__ == [
        "CHECKS",
        "Check",
        "ConformanceError",
        "Contract",
        "Exchange",
        "ExchangeResult",
        "Failure",
        "Finding",
        "Operation",
        "OperationNotFound",
        "OverlayError",
        "Profile",
        "Request",
        "Response",
        "ResponseVariant",
        "RunConfig",
        "RunOutcome",
        "ServerStartError",
        "SpecError",
        "StreamSpec",
        "TargetUnreachable",
        "UsageError",
        "__version__",
        "check_exchange",
        "export_document",
        "lint",
        "load_contract",
        "load_profile",
        "read_exchanges",
        "run",
        "validate",
    ]
    for name in conformance.__all__:
        assert getattr(conformance, name) is not None


def test_tool_errors_are_one_family() -> None:
    assert issubclass(conformance.SpecError, conformance.ConformanceError)
    assert issubclass(conformance.OverlayError, conformance.SpecError)
    assert issubclass(conformance.UsageError, conformance.ConformanceError)
    assert issubclass(conformance.OperationNotFound, conformance.SpecError)
    assert issubclass(conformance.TargetUnreachable, conformance.ConformanceError)
    assert issubclass(conformance.ServerStartError, conformance.ConformanceError)
    error = conformance.SpecError("broken", source="x.yaml", pointer="/paths")
    error.add_note("notes work on our exceptions")  # not frozen dataclasses
    assert str(error) == "x.yaml at /paths: broken"


def test_failures_are_data_and_not_exceptions() -> None:
    failure = conformance.Failure(check_id="X-1", message="m", chunk_index=3, instance_path="/a")
    assert str(failure) == "[X-1] m\n  where: chunk 3, at /a"
    assert not isinstance(failure, BaseException)


def test_every_check_is_cited() -> None:
    for check in conformance.CHECKS.values():
        assert check.severity in {"MUST", "SHOULD", "MAY"}
        assert check.level in {"core", "streaming", "full"}
        assert check.source and check.title, check.id


def test_importing_the_package_and_plugin_is_cheap() -> None:
    code = (
        "import sys, conformance, conformance.pytest_plugin;"
        "heavy = {'jsonschema', 'schemathesis', 'yaml', 'httpx', 'hypothesis', 'referencing'};"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


ROOT = Path(__file__).resolve().parents[1]
#: Every package and module of conformance/ without a leading underscore: each is documented
#: in docs/api.md, its names pinned in tests/data/public_surface.txt.
PUBLIC = (
    "conformance",
    "conformance.contract",
    "conformance.exchange",
    "conformance.checks",
    "conformance.plan",
    "conformance.runner",
    "conformance.report",
    "conformance.reference",
    "conformance.proxy",
    "conformance.suite",
)


@pytest.mark.parametrize("module", [m for m in PUBLIC if m != "conformance.suite"])
def test_every_exported_class_and_function_has_a_docstring(module: str) -> None:
    mod = importlib.import_module(module)
    missing = []
    for name in mod.__all__:
        value = getattr(mod, name)
        if not (inspect.isclass(value) or inspect.isfunction(value)):
            continue
        doc = value.__doc__ or ""
        # a dataclass without a docstring gets its signature as one
        if not doc.strip() or doc.startswith(f"{value.__name__}("):
            missing.append(name)
    assert not missing, f"{module}: no docstring for {missing}"


def _surface() -> list[str]:
    return [
        f"{module}: {name}" for module in PUBLIC for name in importlib.import_module(module).__all__
    ]


def test_every_module_is_private_or_part_of_the_documented_surface() -> None:
    public = {
        f"conformance.{p.stem}"
        for p in (ROOT / "conformance").iterdir()
        if not p.name.startswith("_") and (p.suffix == ".py" or (p / "__init__.py").exists())
    }
    assert public - {"conformance.pytest_plugin"} == set(PUBLIC) - {"conformance"}
    for module in PUBLIC:
        mod = importlib.import_module(module)
        for path in Path(mod.__file__ or "").parent.glob("*.py"):
            if module != "conformance" and path.name != "__init__.py":
                assert path.name.startswith("_") or module == "conformance.suite", path


def test_the_surface_of_every_public_package_is_pinned_and_documented() -> None:
    pinned = (ROOT / "tests" / "data" / "public_surface.txt").read_text().splitlines()
    assert _surface() == pinned, (
        "the public surface changed: update tests/data/public_surface.txt and docs/api.md"
    )
    sections = (ROOT / "docs" / "api.md").read_text().split("\n## ")
    documented = {
        section.split("`", 2)[1]: section for section in sections[1:] if section.startswith("`")
    }
    for line in pinned:
        module, name = line.split(": ")
        assert f"`{name}`" in documented[module], f"docs/api.md does not name {module}.{name}"
