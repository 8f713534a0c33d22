"""Operations as data: a profile certifies more than chat completions (deepseek: GET /models),
each gets the checks of every operation and those of its family, and the user chooses which
run."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance import UsageError
from conformance.checks import CHECKS
from conformance.contract import load_contract, load_profile
from tests.helpers import cli, load_report, run_against


def test_the_deepseek_profile_certifies_chat_models_and_fim() -> None:
    contract = load_contract(profile="deepseek")
    assert [(o.label, o.family) for o in contract.certified_operations()] == [
        ("POST /chat/completions", "chat"),
        ("GET /models", "models"),
        ("GET /user/balance", "generic"),
        ("POST /beta/completions", "completions"),
    ]
    models = contract.operation("get", "/models")
    assert CHECKS["BODY-SCHEMA-001"].not_applicable(contract, models) is None
    reason = CHECKS["USAGE-TOTAL-001"].not_applicable(contract, models)
    assert reason == (
        "does not apply to GET /models: a rule of chat/completions operations (GET /models is "
        "models)"
    )


def test_a_run_checks_every_certified_operation(tmp_path: Path) -> None:
    code, out, _ = run_against(tmp_path, "--max-examples", "1")
    assert code == 0, out
    report = load_report(tmp_path)
    operations = {e["id"]: e["operation"] for e in report["exchanges"]}
    assert operations["models"] == operations["models-auth-missing"] == "GET /models"
    assert operations["plain"] == "POST /chat/completions"


def test_a_fault_in_another_operation_fails_the_generic_check_there(tmp_path: Path) -> None:
    code, out, _ = run_against(tmp_path, "--max-examples", "1", faults=("models-bad-shape",))
    report = load_report(tmp_path)
    schema = next(c for c in report["checks"] if c["id"] == "BODY-SCHEMA-001")
    assert code == 1 and {f["exchange"] for f in schema["failures"]} == {"models"}
    assert "'owned_by' is a required property" in out


def test_choosing_operations(tmp_path: Path) -> None:
    code, out, _ = run_against(tmp_path, "--operation", "get /models")
    report = load_report(tmp_path)
    assert code == 0, out
    assert {e["operation"] for e in report["exchanges"]} == {"GET /models"}
    assert report["level"] is None  # the chat rules judged nothing: no level on evidence unseen
    code, out, _ = cli("run", "--exclude-path", "/models", "--dry-run")
    assert code == 0 and "models" not in out.split("\n", 2)[1]


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["--operation", "GET /nope"], "--operation 'GET /nope' is not an operation the profile"),
        (["--include-path", "/nope"], "--include-path '/nope' is not a path the profile"),
        (
            [
                *("--exclude-path", "/models", "--exclude-path", "/chat/completions"),
                *("--exclude-path", "/beta/completions", "--exclude-path", "/user/balance"),
            ],
            "leave no operation",
        ),
    ],
)
def test_bad_operation_flags_are_one_line(argv: list[str], line: str) -> None:
    code, _, err = cli("run", "--dry-run", *argv)
    assert code == 2 and line in err and err.count("\n") == 1, err


def test_validate_checks_a_recording_against_the_operation_named(tmp_path: Path) -> None:
    recording = tmp_path / "models.http"
    recording.write_bytes(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n"
        b'{"object": "list", "data": [{"id": "deepseek-chat", "object": "model"}]}'
    )
    code, out, _ = cli(
        "validate", str(recording), "--operation", "GET /models", "--report-dir", str(tmp_path)
    )
    assert code == 1 and "'owned_by' is a required property" in out
    assert load_report(tmp_path)["exchanges"][0]["operation"] == "GET /models"


def test_a_profile_with_a_bad_family_is_a_usage_error(tmp_path: Path) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text(
        "spec: x.yaml\noperations:\n  - method: get\n    path: /models\n    family: nope\n"
    )
    with pytest.raises(
        UsageError, match=r"at /operations/0/family: 'nope' is not one of \['chat', 'completions'"
    ):
        load_profile(str(profile))


def test_fim_completions_get_the_generic_and_the_completions_rules(tmp_path: Path) -> None:
    code, out, _ = run_against(tmp_path, "--operation", "POST /beta/completions")
    assert code == 0, out
    report = load_report(tmp_path)
    ids = {e["id"]: e for e in report["exchanges"]}
    assert ids["beta-completions-stream"]["stream"] and ids["beta-completions-stream"]["chunks"]
    statuses = {c["id"]: c for c in report["checks"]}
    for judged in (
        "STREAM-DONE-001",
        "STREAM-CHUNK-SCHEMA-001",
        "USAGE-TOTAL-001",
        "BODY-SCHEMA-001",
    ):
        assert statuses[judged]["status"] == "pass" and statuses[judged]["exercised"], judged
    role = statuses["STREAM-ROLE-001"]
    assert role["status"] == "skip" and role["skip_reasons"][0].startswith(
        "does not apply to POST /beta/completions: a rule of chat operations"
    )


def test_faults_of_the_stream_and_the_usage_show_on_fim_too(tmp_path: Path) -> None:
    code, _, _ = run_against(
        tmp_path,
        "--operation",
        "POST /beta/completions",
        faults=("no-done", "usage-total-wrong"),
    )
    report = load_report(tmp_path)
    failing = {
        c["id"]: {f["exchange"] for f in c["failures"]}
        for c in report["checks"]
        if c["status"] == "fail"
    }
    assert code == 1
    streams = {e["id"] for e in report["exchanges"] if e["stream"]}
    assert failing["STREAM-DONE-001"] == streams and "beta-completions-stream" in streams
    assert {"beta-completions-example-fim", "beta-completions-stream"} <= failing["USAGE-TOTAL-001"]


def test_validate_checks_a_recorded_completions_stream(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from conformance.reference import DEFAULT_API_KEY, create_app

    with TestClient(create_app()) as client:
        answer = client.post(
            "/beta/completions",
            json={"model": "deepseek-chat", "prompt": "def f(", "stream": True, "max_tokens": 8},
            headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"},
        )
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"
    good, cut = tmp_path / "fim.http", tmp_path / "fim-cut.http"
    good.write_bytes(head + answer.content)
    cut.write_bytes(head + answer.content.replace(b"data: [DONE]\n\n", b""))
    for path, expected in ((good, 0), (cut, 1)):
        code, out, _ = cli(
            "validate",
            str(path),
            "--operation",
            "POST /beta/completions",
            "--report-dir",
            str(tmp_path / path.stem),
        )
        assert code == expected, out
    assert "FAIL STREAM-DONE-001" in out and "FAIL STREAM-ROLE" not in out


def test_the_report_is_grouped_by_operation(tmp_path: Path) -> None:
    code, out, _ = run_against(tmp_path, "--max-examples", "1", faults=("models-bad-shape",))
    assert code == 1
    report = load_report(tmp_path)
    schema = next(c for c in report["checks"] if c["id"] == "BODY-SCHEMA-001")
    per = {e["operation"]: e for e in schema["operations"]}
    assert per["GET /models"]["failed"] == 1 and per["POST /chat/completions"]["failed"] == 0
    assert per["POST /beta/completions"]["exercised"] > 0
    assert "  GET /models: 2 exchange(s), " in out and "failed: BODY-SCHEMA-001" in out
    summary = (tmp_path / "summary.md").read_text()
    assert "| `GET /models` | 2 | " in summary and "`BODY-SCHEMA-001` |" in summary
    assert "<h2>Operations</h2>" in (tmp_path / "report.html").read_text()


def test_every_case_with_a_model_field_uses_the_runs_model() -> None:
    """The /responses cases sent the document's gpt-4.1: refused by every server that does
    not serve that name, and its negatives then passed for the wrong reason."""
    from conformance.plan import PlanConfig, plan_cases

    contract = load_contract(profile="openai")
    config = PlanConfig(max_examples=1, operations=frozenset({"POST /responses"}))
    cases = plan_cases(contract, config, model="my-model")
    named = [c for c in cases if isinstance(c.body, dict) and "model" in c.body]
    assert any(c.path == "/responses" for c in named)
    wrong = [(c.name, c.body["model"]) for c in named if c.body["model"] != "my-model"]
    # a negative may break the model field itself (its type, say): nothing else may differ
    assert [w for w in wrong if not w[0].startswith(("negative", "responses-negative"))] == []
    assert all("model" in name for name, _ in wrong if "negative" in name), wrong
