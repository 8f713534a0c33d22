"""The command line: exit codes, output, and one clear line for every bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from conformance.report import report_schema
from tests.helpers import SPEC, cli


def test_lint_literal_fails_with_findings() -> None:
    code, out, err = cli("lint", str(SPEC), "--profile", "literal")
    assert code == 1 and err == ""
    assert "error   LINT-ONEOF-UNSAT  /paths/~1chat~1completions/post" in out
    assert out.rstrip().endswith("warning(s)")


def test_lint_deepseek_is_clean() -> None:
    code, out, _ = cli("lint", str(SPEC), "--profile", "deepseek")
    assert code == 0
    assert out.rstrip().endswith("0 error(s), 0 warning(s)")


def test_lint_defaults_to_the_deepseek_profile() -> None:
    code, out, _ = cli("lint")
    assert code == 0 and "profile deepseek" in out


def test_lint_json_output() -> None:
    code, out, _ = cli("lint", str(SPEC), "--profile", "literal", "--format", "json")
    data = json.loads(out)
    assert code == 1
    assert data["summary"]["errors"] == sum(f["severity"] == "error" for f in data["findings"])
    assert set(data["findings"][0]) == {"rule", "severity", "pointer", "message"}
    assert data["profile"] == "literal" and data["overlays"] == []


def test_spec_export_to_a_file(tmp_path: Path) -> None:
    target = tmp_path / "out" / "effective.yaml"
    code, out, _ = cli("spec", "export", "-o", str(target))
    assert code == 0 and out == ""
    assert yaml.safe_load(target.read_text())["openapi"] == "3.2.0"


def _overlay(tmp_path: Path, target: str) -> Path:
    path = tmp_path / "o.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "overlay": "1.0.0",
                "info": {"title": "t", "version": "1"},
                "actions": [{"target": target, "description": "my fix", "update": {"x": 1}}],
            }
        )
    )
    return path


def test_user_overlay_applies(tmp_path: Path) -> None:
    code, out, _ = cli("spec", "export", "--overlay", str(_overlay(tmp_path, "$.info")))
    assert code == 0 and yaml.safe_load(out)["info"]["x"] == 1


BAD = [
    (["lint", "/no/such/spec.yaml"], "conformance: error: /no/such/spec.yaml: no such file"),
    (["lint", "--frob"], "conformance: error: unrecognized arguments: --frob"),
    (["lint", "--format", "xml"], "conformance: error: argument --format: invalid choice"),
    (["lint", "--profile", "nope"], "conformance: error: unknown profile 'nope'"),
    (["spec"], "conformance: error: 'spec' needs a command: export"),
    (["spec", "export", "--overlay", "/no/o.yaml"], "conformance: error: /no/o.yaml: no such file"),
    (
        ["lint", "http://127.0.0.1:9/x.yaml"],
        "conformance: error: http://127.0.0.1:9/x.yaml: cannot fetch",
    ),
]


@pytest.mark.parametrize(("argv", "line"), BAD)
def test_bad_input_is_one_line_and_exit_2(argv: list[str], line: str) -> None:
    code, _out, err = cli(*argv)
    assert code == 2
    assert err.startswith(line)
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    ("content", "line"),
    [
        ("a: [\n", "is not valid YAML or JSON"),
        ("just text\n", "is not an OpenAPI document"),
        (
            "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /p:\n    get:\n      responses:\n"
            "        '200': {description: ok, content: {application/json: {schema: {$ref: '#/nope'}}}}\n",
            "$ref '#/nope' cannot be resolved",
        ),
    ],
)
def test_bad_documents(tmp_path: Path, content: str, line: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(content)
    code, _, err = cli("lint", str(path))
    assert code == 2 and line in err and err.count("\n") == 1


def test_overlay_action_that_matches_nothing(tmp_path: Path) -> None:
    code, _, err = cli("lint", "--overlay", str(_overlay(tmp_path, "$.nowhere")))
    assert code == 2
    assert "action 0: target '$.nowhere' matches nothing in the document (my fix)" in err


def test_console_script_help_and_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "conformance._cli", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout.startswith("conformance ")
    assert cli("--help")[0] == 0
    assert cli()[0] == 2  # no command: help, and a usage error status


def test_a_run_that_could_not_run_still_writes_its_summary(tmp_path: Path) -> None:
    """docs/ci.md appends reports/summary.md to the job summary after every run: after an
    exit 2 the directory was empty and that step failed too."""
    (tmp_path / "summary.md").write_text("## Conformance: ✅ pass (a stale one)\n")
    code, _, err = cli("run", "--base-url", "http://127.0.0.1:9", "--report-dir", str(tmp_path))
    assert code == 2, err
    summary = (tmp_path / "summary.md").read_text()
    assert summary.startswith("## Conformance: ⚪ no verdict: nothing was judged")
    assert "could not run: " in summary and "127.0.0.1:9" in summary
    assert "stale" not in summary
    report = json.loads((tmp_path / "report.json").read_text())
    jsonschema.validate(report, report_schema())
    assert report["verdict"] == "none" and report["level"] is None
    assert report["run"]["notes"][0].startswith("could not run: ")
    # a contract that does not load: the summary alone, saying why
    code, _, err = cli("run", "--profile", "nope", "--report-dir", str(tmp_path / "bad"))
    assert code == 2, err
    assert (
        (tmp_path / "bad" / "summary.md").read_text().startswith("## Conformance: ⚪ could not run")
    )


def test_lint_takes_the_document_as_run_does_too() -> None:
    """``conformance lint --spec D`` was "unrecognized arguments: --spec"."""
    seed = "spec/deepseek-chat-completions.yaml"
    as_argument = cli("lint", seed, "--profile", "literal")
    as_flag = cli("lint", "--spec", seed, "--profile", "literal")
    assert as_flag == as_argument and as_flag[0] in (0, 1)
    code, _, err = cli("lint", seed, "--spec", "other.yaml")
    assert code == 2 and "two documents given" in err
