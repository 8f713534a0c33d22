"""Documents in the wild (``tests/data/wild``, see its SOURCES.md): real providers' OpenAPI
documents, as their authors wrote them, give a correct verdict with no hand-written profile.

For every document: lint runs; its main operation is found by path or shape; ``conformance
run --spec D`` against D's own mock passes with zero failures, each check not judged saying
why; each generic mock fault fails the check it names on D; a broken chunk fails
STREAM-CHUNK-SCHEMA-001 under D wherever D types its events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from conformance.checks import check_exchange
from conformance.contract import load_contract
from conformance.exchange import Request, build_exchange
from conformance.plan import PlanConfig, plan
from conformance.reference import DEFAULT_API_KEY, MOCK_FAULTS, create_mock_app
from tests.helpers import cli, load_report

WILD = Path(__file__).parent.parent / "data" / "wild"
DOCUMENTS = sorted(p.name for p in WILD.iterdir() if p.suffix in (".json", ".yaml"))

#: The main operation each document is recognised to have (method, path, family).
MAIN = {
    "azure-openai.yaml": ("post", "/deployments/{deployment-id}/chat/completions", "chat"),
    "deepinfra.json": ("post", "/v1/chat/completions", "chat"),
    "groq.yaml": ("post", "/openai/v1/chat/completions", "chat"),
    "mistral.yaml": ("post", "/v1/chat/completions", "chat"),
    "moonshot.json": ("post", "/v1/chat/completions", "chat"),
    "ogx.yaml": ("post", "/v1/chat/completions", "chat"),
    "ollama.yaml": ("post", "/api/generate", "generic"),  # no chat completions in it
    "tgi.json": ("post", "/v1/chat/completions", "chat"),
    "together.yaml": ("post", "/chat/completions", "chat"),
}


@pytest.fixture(scope="module")
def contracts() -> dict[str, Any]:
    return {}


def _contract(contracts: dict[str, Any], name: str) -> Any:
    if name not in contracts:
        contracts[name] = load_contract(str(WILD / name))
    return contracts[name]


def test_the_corpus_is_eight_documents_or_more_each_with_its_source() -> None:
    sources = (WILD / "SOURCES.md").read_text()
    assert len(DOCUMENTS) >= 8
    for name in DOCUMENTS:
        assert f"`{name}`" in sources, name
    assert set(MAIN) == set(DOCUMENTS)


@pytest.mark.parametrize("name", DOCUMENTS)
def test_lint_runs(name: str) -> None:
    code, out, err = cli("lint", str(WILD / name))
    assert code in (0, 1), (out, err)
    assert "Traceback" not in out + err
    assert "error(s)" in out and "warning(s)" in out


@pytest.mark.parametrize("name", DOCUMENTS)
def test_the_main_operation_is_found_by_path_or_shape(contracts: dict[str, Any], name: str) -> None:
    contract = _contract(contracts, name)
    main = contract.operation()
    assert (main.method, main.path, main.family) == MAIN[name]


@pytest.mark.parametrize("name", DOCUMENTS)
def test_a_run_against_its_own_mock_passes_and_says_why_for_what_it_did_not_judge(
    name: str, tmp_path: Path
) -> None:
    code, out, err = cli(
        "run",
        *("--spec", str(WILD / name), "--report-dir", str(tmp_path)),
        # no drawn positive or negative beyond those an operation with no body of its own
        # needs: the drawing is what costs here (Hypothesis, ~0.04 s a body), not the checks
        *("--max-examples", "0", "--shrink-budget", "0"),
    )
    assert "checking the embedded mock of the document" in err
    report = load_report(tmp_path)
    failing = {c["id"]: c["failures"][:2] for c in report["checks"] if c["status"] == "fail"}
    assert code == 0 and not failing, (out, failing)
    assert report["exchanges"], out
    for check in report["checks"]:
        if check["status"] != "pass":  # not exercised, not applicable, not selected: why
            assert check["skip_reasons"] or not check["selected"], check["id"]
    assert not report["run"]["cases_skipped"], out


def _send(client: TestClient, contract: Any, case: Any) -> Any:
    """The exchange of ``case`` sent to the mock ``client``, judged under ``contract``."""
    answer = client.request(
        case.method,
        case.target,
        headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"},
        content=json.dumps(case.body).encode() if case.body is not None else None,
    )
    operation = contract.operation(case.method.lower(), case.path)
    exchange = build_exchange(
        id=case.name,
        request=Request.create(method=case.method, url=case.target, body=case.body),
        status=answer.status_code,
        headers=tuple(answer.headers.items()),
        body=answer.content,
        asked_stream=contract.wants_stream(case.body, operation),
        expectation=case.expectation,
        case=case.name,
    )
    return check_exchange(contract, exchange, operation=operation)


def _valid_cases(contract: Any) -> list[Any]:
    """A valid request of each operation (the first 15 of the document), and a streamed one
    of the main operation where it documents streams: a fault shows where the document
    leaves it room (a schema with required properties, a typed body)."""
    planned = plan(
        contract,
        PlanConfig(max_examples=0, phases=frozenset({"scenario", "example"})),
        model=contract.documented_model() or "x",
    )
    first: dict[tuple[str, str], Any] = {}
    streamed = []
    for case in planned.cases:
        if case.expectation != "accept" or case.auth != "valid":
            continue
        key = (case.method.lower(), case.path)
        if case.stream:
            streamed += [] if streamed else [case]
        elif key not in first and len(first) < 15:
            first[key] = case
    return [*first.values(), *streamed]


def _requires(contract: Any, operation: Any) -> bool:
    """Whether a 2xx JSON answer of ``operation`` requires a property."""
    for status, variants in operation.responses.items():
        for variant in variants:
            if status.startswith("2") and variant.json_schema is not None:
                schema = contract.schema(variant.json_schema)
                while isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
                    schema = contract.schema(schema["$ref"][1:])
                if isinstance(schema, dict) and schema.get("required"):
                    return True
    return False


GENERIC = sorted(n for n, f in MOCK_FAULTS.items() if f.shows_on == "any")


@pytest.mark.parametrize("name", DOCUMENTS)
def test_each_generic_mock_fault_fails_its_check_on_the_document(
    contracts: dict[str, Any], name: str
) -> None:
    contract = _contract(contracts, name)
    cases = _valid_cases(contract)
    operations = [contract.operation(c.method.lower(), c.path) for c in cases]
    with TestClient(create_mock_app(contract=contract)) as client:
        clean = [_send(client, contract, c) for c in cases]
    for result in clean:
        failed = [i for i, o in result.outcomes.items() if o.status == "fail"]
        assert not failed, (result.case, failed, result.status)
    for fault in GENERIC:
        if fault == "undocumented-status" and all("default" in o.responses for o in operations):
            continue  # a `default` response documents every status: none is undocumented
        if fault in ("drop-required", "wrong-type") and not any(
            _requires(contract, o) for o in operations
        ):
            # no answer of the document requires a property (Ollama's): the mock's answers
            # are {}, with nothing to leave out or mistype
            continue
        breaks = MOCK_FAULTS[fault].breaks
        with TestClient(create_mock_app(contract=contract, faults=[fault])) as client:
            results = [_send(client, contract, c) for c in cases]
        failed = {i for r in results for i, o in r.outcomes.items() if o.status == "fail"}
        assert failed & set(breaks), (fault, breaks, failed)


@pytest.mark.parametrize("name", DOCUMENTS)
def test_a_broken_chunk_fails_the_chunk_schema_where_the_document_types_its_events(
    contracts: dict[str, Any], name: str
) -> None:
    contract = _contract(contracts, name)
    main = contract.operation()
    typed = [
        v.stream
        for variants in main.responses.values()
        for v in variants
        if v.stream is not None and v.stream.data_schema
    ]
    broken = {"object": 42, "choices": "nope", "id": 7}
    exchange = build_exchange(
        id="broken",
        request=Request.create(body={"model": "m", "messages": [], "stream": True}),
        status=200,
        headers=(("Content-Type", "text/event-stream"),),
        body=f"data: {json.dumps(broken)}\n\ndata: [DONE]\n\n".encode(),
        asked_stream=True,
    )
    outcome = check_exchange(contract, exchange, operation=main).outcomes["STREAM-CHUNK-SCHEMA-001"]
    if typed:
        assert outcome.status == "fail", outcome
    else:  # said, not passed: the document types no event stream of this operation
        assert outcome.status == "skip" and outcome.reason, outcome


def test_profile_init_writes_the_reading_as_a_profile_that_loads_and_plans_the_same(
    tmp_path: Path,
) -> None:
    spec = WILD / "azure-openai.yaml"
    target = tmp_path / "azure.yaml"
    code, out, err = cli("profile", "init", "--spec", str(spec), "-o", str(target))
    assert code == 0 and "wrote" in err, err
    text = target.read_text()
    assert "path: /deployments/{deployment-id}/chat/completions" in text
    assert "operations: all" in text and "embedded: mock" in text
    by_profile = load_contract(profile=str(target))
    as_written = load_contract(str(spec))
    assert by_profile.operation().label == as_written.operation().label
    assert [o.label for o in by_profile.certified_operations()] == [
        o.label for o in as_written.certified_operations()
    ]
    # never overwritten; a bad document is one line
    code, _, err = cli("profile", "init", "--spec", str(spec), "-o", str(target))
    assert code == 2 and "exists" in err and err.count("\n") == 1
    code, _, err = cli("profile", "init", "--spec", str(tmp_path / "nope.yaml"))
    assert code == 2 and "Traceback" not in err and err.count("\n") == 1
    # to stdout by default
    code, out, _ = cli("profile", "init", "--spec", str(spec))
    assert code == 0 and out.startswith("# A starting profile for azure-openai.yaml")
