from __future__ import annotations

import subprocess
import sys

import conformance


def test_public_names_are_pinned() -> None:
    assert conformance.__all__ == [
        "ConformanceError",
        "Contract",
        "Finding",
        "Operation",
        "OverlayError",
        "Profile",
        "ResponseVariant",
        "SpecError",
        "StreamSpec",
        "UsageError",
        "__version__",
        "export_document",
        "lint",
        "load_contract",
        "load_profile",
    ]
    for name in conformance.__all__:
        assert getattr(conformance, name) is not None


def test_tool_errors_are_one_family() -> None:
    assert issubclass(conformance.SpecError, conformance.ConformanceError)
    assert issubclass(conformance.OverlayError, conformance.SpecError)
    assert issubclass(conformance.UsageError, conformance.ConformanceError)
    error = conformance.SpecError("broken", source="x.yaml", pointer="/paths")
    error.add_note("notes work on our exceptions")  # not frozen dataclasses
    assert str(error) == "x.yaml at /paths: broken"


def test_importing_the_package_and_plugin_is_cheap() -> None:
    code = (
        "import sys, conformance, conformance.pytest_plugin;"
        "heavy = {'jsonschema', 'schemathesis', 'yaml', 'httpx', 'hypothesis', 'referencing'};"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
