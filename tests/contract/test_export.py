"""``spec export``: the effective contract as OAS 3.2, usable by other tools (schemathesis)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from conformance.contract import export_document, lint, load_contract

ROLES = {"system", "user", "assistant", "tool"}


@pytest.fixture(scope="module")
def exported(deepseek: Any) -> dict[str, Any]:
    return yaml.safe_load(export_document(deepseek))


def test_export_is_valid_oas_32(exported: dict[str, Any]) -> None:
    from openapi_spec_validator import OpenAPIV32SpecValidator

    assert exported["openapi"] == "3.2.0"
    assert list(OpenAPIV32SpecValidator(exported).iter_errors()) == []


def test_export_round_trips_without_findings(exported: dict[str, Any], tmp_path: Any) -> None:
    path = tmp_path / "effective.yaml"
    path.write_text(yaml.safe_dump(exported))
    assert lint(load_contract(path)) == []


def test_literal_export_is_32_with_the_30_nullables_read(literal: Any) -> None:
    exported = yaml.safe_load(export_document(literal))
    request = exported["paths"]["/chat/completions"]["post"]["requestBody"]["content"]
    assert request["application/json"]["schema"]["properties"]["max_tokens"]["type"] == [
        "integer",
        "null",
    ]


def test_schemathesis_generates_valid_messages(deepseek: Any, exported: dict[str, Any]) -> None:
    schemathesis = pytest.importorskip("schemathesis")
    operation = schemathesis.openapi.from_dict(exported)["/chat/completions"]["POST"]
    validator = deepseek.validator(deepseek.operation().request_schema)
    bodies: list[Any] = []

    @given(case=operation.as_strategy())
    @settings(  # derandomized: the same 20 bodies every run, every role among them
        max_examples=20,
        database=None,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def draw(case: Any) -> None:
        bodies.append(case.body)

    draw()
    assert bodies
    for body in bodies:
        assert body["messages"], body
        assert {m["role"] for m in body["messages"]} <= ROLES
        assert validator.is_valid(body), body
    assert {m["role"] for b in bodies for m in b["messages"]} == ROLES
