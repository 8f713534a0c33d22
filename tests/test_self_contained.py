"""The repository stands alone: nothing in it reads or cites a folder beside the checkout."""

from __future__ import annotations

import json
import subprocess

import jsonschema
import pytest

from conformance.report import report_schema, report_schema_text
from tests.helpers import ROOT, cli

#: Spelled in pieces so that this file does not match itself.
OUTSIDE = (
    "../" + "shared",
    "shared" + "/captures",
    "shared" + "/reference",
    "shared" + "/seeds",
    "shared" + "/report.schema",
)


def _tracked() -> list[str]:
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [f for f in files if (ROOT / f).is_file()]


def test_no_file_refers_to_a_folder_outside_the_repository() -> None:
    offenders = []
    for name in _tracked():
        try:
            text = (ROOT / name).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        offenders += [f"{name}: {needle}" for needle in OUTSIDE if needle in text]
    assert not offenders


def test_the_report_schema_ships_in_the_package_and_is_a_valid_schema() -> None:
    schema = report_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert json.loads(report_schema_text()) == schema


def test_report_schema_prints_it() -> None:
    code, out, err = cli("report", "schema")
    assert code == 0 and not err
    assert json.loads(out) == report_schema()


def test_ci_turns_a_skip_into_a_failure(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeconftest((ROOT / "tests" / "conftest.py").read_text(encoding="utf-8"))
    pytester.makepyfile(
        "import pytest\n"
        "def test_needs_a_file():\n"
        "    pytest.skip('../elsewhere is not here')\n"
        "@pytest.mark.xfail(strict=True)\n"
        "def test_known():\n"
        "    assert False\n"
    )
    monkeypatch.delenv("CONFORMANCE_TESTS_FORBID_SKIPS", raising=False)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(skipped=1, xfailed=1)
    monkeypatch.setenv("CONFORMANCE_TESTS_FORBID_SKIPS", "1")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1, xfailed=1)
    result.stdout.fnmatch_lines(["*forbids skips*elsewhere is not here*"])
