from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from conformance.contract import lint, load_contract

OP = "/paths/~1chat~1completions/post"
REQ = f"{OP}/requestBody/content/application~1json"
STREAM = f"{OP}/responses/x-200:Streaming/content/application~1json"


def _by_rule(findings: list[Any]) -> dict[str, set[tuple[str, str]]]:
    out: dict[str, set[tuple[str, str]]] = {}
    for f in findings:
        out.setdefault(f.rule, set()).add((f.severity, f.pointer))
    return out


def test_literal_seed_findings(literal: Any) -> None:
    findings = lint(literal)
    rules = _by_rule(findings)
    assert rules["LINT-ONEOF-UNSAT"] == {
        ("error", f"{REQ}/schema/properties/messages/items/oneOf"),
        ("error", f"{REQ}/schema/properties/stop/oneOf"),
        ("error", f"{REQ}/schema/properties/tool_choice/oneOf"),
    }
    assert rules["LINT-NULL-TYPE"] == {
        ("error", f"{REQ}/schema/properties/tools/type"),
        ("error", f"{STREAM}/schema/properties/choices/items/properties/finish_reason/type"),
        ("error", f"{STREAM}/schema/properties/choices/items/properties/logprobs/type"),
        ("error", f"{STREAM}/schema/properties/usage/type"),
    }
    assert rules["LINT-RESPONSE-KEY"] == {("warning", f"{OP}/responses/x-200:Streaming")}
    assert rules["LINT-SECURITY-SCHEME"] == {("error", "/components/securitySchemes/bearer/type")}
    assert rules["LINT-SECURITY-REQUIREMENT"] == {("error", "/security/0/x-apidog")}
    assert rules["LINT-SECURITY-OVERRIDE"] == {("warning", f"{OP}/security")}
    assert rules["LINT-ERRORS-UNDOCUMENTED"] == {("warning", f"{OP}/responses")}
    examples = {p for s, p in rules["LINT-EXAMPLE-INVALID"] if s == "error"}
    assert examples == {
        f"{REQ}/examples/1/value",
        f"{REQ}/examples/2/value",
        f"{OP}/responses/200/content/application~1json/example",
        f"{STREAM}/example",
    }
    assert ("warning", f"{STREAM}/example") in rules["LINT-SSE-EXAMPLE-UNTERMINATED"]
    assert "LINT-OAS-INVALID" in rules


def test_literal_example_messages_say_where(literal: Any) -> None:
    messages = [f.message for f in lint(literal) if f.rule == "LINT-EXAMPLE-INVALID"]
    assert (
        "request example '1' does not match its schema at /tool_choice: 'none' is not valid "
        f"under any of the given schemas (schema {REQ}/schema/properties/tool_choice/oneOf)"
    ) in messages
    assert any(
        m.startswith(
            "response 200 (Streaming) example, event 1: does not match its schema at /: "
            "'usage' is a required property"
        )
        for m in messages
    )


def test_deepseek_profile_has_no_finding(deepseek: Any) -> None:
    assert lint(deepseek) == []


def test_overlapping_but_not_identical_branches(tmp_path: Path) -> None:
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {},
        "components": {
            "schemas": {
                "A": {"oneOf": [{"type": "object"}, {"type": "object", "properties": {"a": {}}}]},
                "B": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                "C": {"oneOf": [{"type": "string", "enum": ["x", "y"]}, {"const": "x"}]},
            }
        },
    }
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc))
    findings = [f for f in lint(load_contract(path)) if f.rule == "LINT-ONEOF-UNSAT"]
    assert [(f.pointer, f.message[:40]) for f in findings] == [
        ("/components/schemas/A/oneOf", "oneOf branches 0 and 1 both accept {}, s"),
        ("/components/schemas/C/oneOf", 'oneOf branches 0 and 1 both accept "x", '),
    ]


def test_a_default_its_schema_rejects_is_located_at_the_default(tmp_path: Path) -> None:
    """It was located at "/": "'8' is not of type 'integer'" with no way to find the 8."""
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {},
        "components": {
            "schemas": {
                "A": {"type": "object", "properties": {"n": {"type": "integer", "default": "8"}}}
            }
        },
    }
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc))
    (finding,) = [f for f in lint(load_contract(path)) if f.rule == "LINT-OAS-INVALID"]
    assert finding.pointer == "/components/schemas/A/properties/n/default"
    assert "'8' is not of type 'integer'" in finding.message
