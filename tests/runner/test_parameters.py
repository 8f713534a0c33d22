"""Path and query parameters: a document given without a profile is checked on every operation
whose responses the suite can check; parameters get values (the run's model, the document's
examples, drawn ones) and one-constraint negatives, and the mock rejects what they break."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conformance.contract import load_contract, parameter_errors
from conformance.plan import PlanConfig, parameter_values, plan_cases
from conformance.reference import DEFAULT_API_KEY, create_mock_app, serve_in_thread
from conformance.runner._send import join_url
from tests.helpers import CHAT_PATH, cli, load_report

#: A small document of things with parameters (written for these tests), beside chat.
DOCUMENT = (
    """
openapi: 3.1.0
info: {title: things, version: "1"}
paths:
"""
    + CHAT_PATH
    + """  /models/{model}:
    get:
      parameters:
        - {name: model, in: path, required: true, schema: {type: string}}
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema:
                type: object
                required: [id]
                properties: {id: {type: string}}
  /things:
    get:
      parameters:
        - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 100, default: 20}}
        - {name: order, in: query, schema: {type: string, enum: [asc, desc]}}
        - {name: kind, in: query, required: true, schema: {type: string}, example: red}
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {type: object, required: [data], properties: {data: {type: array}}}
        "400":
          description: bad
          content: {application/json: {schema: {type: object}}}
  /things/{thing_id}:
    delete:
      parameters:
        - {name: thing_id, in: path, required: true, schema: {type: string}}
      responses:
        "200": {description: ok, content: {application/json: {schema: {type: object}}}}
  /upload:
    post:
      requestBody:
        content:
          multipart/form-data:
            schema: {type: object}
      responses:
        "200": {description: ok, content: {application/json: {schema: {type: object}}}}
"""
)

THINGS = ("GET /models/{model}", "GET /things", "DELETE /things/{thing_id}")


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("things") / "things.yaml"
    path.write_text(DOCUMENT)
    return path


def test_a_document_without_a_profile_is_certified_on_every_checkable_operation(
    document: Path,
) -> None:
    contract = load_contract(str(document))
    assert [(o.label, o.family) for o in contract.certified_operations()] == [
        ("POST /chat/completions", "chat"),
        ("GET /models/{model}", "generic"),
        ("GET /things", "generic"),
        ("DELETE /things/{thing_id}", "generic"),
    ]  # not POST /upload: a multipart body is not sent


def test_parameters_get_values_and_one_constraint_negatives(document: Path) -> None:
    contract = load_contract(str(document))
    config = PlanConfig(operations=frozenset(THINGS), max_examples=2, seed=1)
    cases = plan_cases(contract, config, model="m")
    targets = {c.name: (c.target, c.expectation) for c in cases}
    assert targets["models-{model}"] == ("/models/m", "accept")  # the run's model
    assert targets["things"] == ("/things?kind=red", "accept")  # the required one, its example
    assert targets["things-query"] == ("/things?kind=red&limit=20&order=asc", "accept")
    assert sum(c.source == "property" for c in cases) == 2  # drawn queries
    negatives = {c.name: (c.target, [str(v) for v in c.violations]) for c in cases if c.violations}
    assert negatives == {
        "things-negative-missing-required-query-kind": (
            "/things",
            ["?kind: query parameter 'kind': missing (it is required)"],
        ),
        "things-negative-wrong-type-query-limit": (
            "/things?kind=red&limit=x",
            ["?limit: query parameter 'limit': 'x' is not of type 'integer'"],
        ),
        "things-negative-out-of-range-query-limit-maximum": (
            "/things?kind=red&limit=101",
            ["?limit: query parameter 'limit': 101 is greater than the maximum of 100"],
        ),
        "things-negative-out-of-range-query-limit-minimum": (
            "/things?kind=red&limit=0",
            ["?limit: query parameter 'limit': 0 is less than the minimum of 1"],
        ),
        "things-negative-bad-enum-query-order": (
            "/things?kind=red&order=__not_in_enum__",
            ["?order: query parameter 'order': '__not_in_enum__' is not one of ['asc', 'desc']"],
        ),
    }
    for case in cases:  # every positive is valid as sent
        if case.expectation == "accept":
            sent = dict(case.path_values)
            assert not list(
                parameter_errors(
                    contract,
                    contract.operation(case.method, case.path),
                    path=sent,
                    query=case.query_text(),
                )
            )


def test_a_path_parameter_without_a_known_value_is_not_exercised_and_says_why(
    document: Path,
) -> None:
    contract = load_contract(str(document))
    operation = contract.operation("delete", "/things/{thing_id}")
    assert parameter_values(contract, operation, model="m") == (
        "DELETE /things/{thing_id} was not exercised: the document gives no value for its path "
        "parameter 'thing_id' (an example or an enum would do)"
    )


def test_query_values_are_read_as_their_schema_types(document: Path) -> None:
    contract = load_contract(str(document))
    things = contract.operation("get", "/things")

    def errors(*query: tuple[str, str]) -> list[str]:
        return [e.message for _, e in parameter_errors(contract, things, path={}, query=query)]

    assert errors(("kind", "red"), ("limit", "20")) == []
    assert errors(("kind", "red"), ("limit", "2.5")) == ["'2.5' is not of type 'integer'"]
    assert errors(("kind", "red"), ("undocumented", "x")) == []  # servers ignore those


def _run(document: Path, tmp_path: Path, *faults: str) -> tuple[int, str, dict[str, Any]]:
    contract = load_contract(str(document))
    with serve_in_thread(create_mock_app(contract=contract, faults=faults)) as url:
        chosen = [flag for label in THINGS for flag in ("--operation", label)]
        code, out, _ = cli(
            "run",
            *("--spec", str(document), "--base-url", url, "--api-key", DEFAULT_API_KEY),
            *("--model", "m", "--max-examples", "2", "--shrink-budget", "0"),
            *chosen,
            *("--report-dir", str(tmp_path)),
        )
    return code, out, load_report(tmp_path)


def test_the_mock_judges_parameters_and_the_run_passes(document: Path, tmp_path: Path) -> None:
    code, out, report = _run(document, tmp_path)
    assert code == 0, out
    statuses = {c["id"]: c["status"] for c in report["checks"]}
    assert statuses["NEGATIVE-INPUT-001"] == statuses["HTTP-ACCEPT-001"] == "pass"
    urls = {e["id"]: e["request"]["url"] for e in report["exchanges"]}
    assert urls["things-negative-wrong-type-query-limit"].endswith("/things?kind=red&limit=x")
    assert report["run"]["notes"] == [
        "DELETE /things/{thing_id} was not exercised: the document gives no value for its path "
        "parameter 'thing_id' (an example or an enum would do)"
    ]


def test_a_server_that_ignores_bad_parameters_fails_negative_input(
    document: Path, tmp_path: Path
) -> None:
    code, out, report = _run(document, tmp_path, "lenient-parameters")
    failing = {c["id"]: c for c in report["checks"] if c["status"] == "fail"}
    assert code == 1 and set(failing) == {"NEGATIVE-INPUT-001"}, out
    assert "the request breaks: ?limit: query parameter 'limit': 'x' is not of type" in out


def test_the_base_urls_query_comes_first_then_the_paths() -> None:
    assert (
        join_url("https://h/openai?api-version=1", "/things?kind=red")
        == "https://h/openai/things?api-version=1&kind=red"
    )
    assert join_url("https://h/v1/", "/things") == "https://h/v1/things"


def test_serve_mock_serves_a_document(document: Path) -> None:
    code, _out, err = cli("serve", "--spec", str(document))
    assert code == 2 and "serve --spec needs --mock" in err


def test_cases_of_two_methods_at_one_path_have_their_own_names(tmp_path: Path) -> None:
    """GET and POST of /deployments/storage/volumes both named their cases
    deployments-storage-volumes: exchange ids repeated in the report."""
    path = tmp_path / "two.yaml"
    path.write_text(
        """
openapi: 3.1.0
info: {title: two, version: "1"}
paths:
"""
        + CHAT_PATH
        + """  /things:
    get:
      responses:
        "200": {description: ok, content: {application/json: {schema: {type: object}}}}
    post:
      requestBody:
        content:
          application/json:
            schema: {type: object, properties: {name: {type: string}}, required: [name]}
            example: {name: red}
      responses:
        "200": {description: ok, content: {application/json: {schema: {type: object}}}}
"""
    )
    contract = load_contract(str(path))
    cases = plan_cases(contract, PlanConfig(max_examples=1, seed=1), model="m")
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), names
    assert any(n.startswith("get-things") for n in names)
    assert any(n.startswith("post-things") for n in names)


def test_a_document_under_v1_runs_with_its_paths_as_written(tmp_path: Path) -> None:
    """POST /v1/chat/completions was "not in the document" for run --spec and serve --mock
    --spec alike; --operation did not help, only a hand-written profile did."""
    path = tmp_path / "v1.yaml"
    path.write_text(
        "openapi: 3.1.0\ninfo: {title: v1, version: '1'}\npaths:\n"
        + CHAT_PATH.replace("/chat/completions:", "/v1/chat/completions:")
    )
    contract = load_contract(str(path))
    assert contract.operation().label == "POST /v1/chat/completions"
    cases = plan_cases(contract, PlanConfig(max_examples=0), model="m")
    main = [c for c in cases if c.family == "chat"]
    assert main and {c.path for c in main} == {"/v1/chat/completions"}
    # no flag but --spec: the embedded mock serves the document's paths; the target lists no
    # models (the document has no models endpoint): a model is asked with --model, once
    code, _, err = cli(
        "run", "--spec", str(path), "--model", "m", "--max-examples", "0",
        "--report-dir", str(tmp_path / "r"),
    )  # fmt: skip
    assert code in (0, 1), err
    report = load_report(tmp_path / "r")
    assert {e["operation"] for e in report["exchanges"]} == {"POST /v1/chat/completions"}
    # without --model: the model the document's example names (the target lists none)
    path.write_text(
        path.read_text().replace(
            "                max_tokens: {type: integer}\n",
            "                max_tokens: {type: integer}\n"
            "            example: {model: doc-model, messages: [{role: user, content: Hi}]}\n",
        )
    )
    code, _, err = cli(
        "run", "--spec", str(path), "--max-examples", "0", "--report-dir", str(tmp_path / "d")
    )
    assert code in (0, 1), err
    assert load_report(tmp_path / "d")["target"]["model"] == "doc-model"
