from __future__ import annotations

import copy
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance import SpecError, UsageError, load_contract
from conformance._errors import OperationNotFound
from tests.helpers import SPEC, cli

CHUNK = {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}


def _doc(version: str, media: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "openapi": version,
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/chat/completions": {
                "post": {
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    "responses": {"200": {"description": "ok", "content": media}},
                }
            }
        },
        **extra,
    }


def _write(tmp_path: Path, doc: dict[str, Any], name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc) if name.endswith(".json") else yaml.safe_dump(doc))
    return path


def test_oas32_item_schema_with_content_schema_and_sentinel(tmp_path: Path) -> None:
    item = {
        "oneOf": [
            {
                "type": "object",
                "properties": {
                    "data": {
                        "type": "string",
                        "contentMediaType": "application/json",
                        "contentSchema": {"$ref": "#/components/schemas/Chunk"},
                    }
                },
            },
            {"type": "object", "properties": {"data": {"const": "[END]"}}},
        ]
    }
    doc = _doc(
        "3.2.0",
        {"text/event-stream": {"itemSchema": item}},
        components={"schemas": {"Chunk": CHUNK}},
    )
    contract = load_contract(_write(tmp_path, doc), profile="literal")
    (variant,) = contract.operation().responses["200"]
    assert variant.stream is not None
    assert variant.stream.sentinels == ("[END]",)
    assert variant.stream.sentinels_documented
    assert variant.stream.data_schema is not None
    validator = contract.validator(variant.stream.data_schema)
    assert validator.is_valid({"id": "x"})
    assert not validator.is_valid({"id": 1})


def test_oas31_schema_is_read_per_event_as_the_data_json(tmp_path: Path) -> None:
    doc = _doc(
        "3.1.0",
        {"application/json": {"schema": CHUNK}, "text/event-stream": {"schema": CHUNK}},
    )
    contract = load_contract(_write(tmp_path, doc, "spec.json"), profile="literal")
    op = contract.operation()
    (variant,) = op.responses["200"]
    assert variant.stream is not None and variant.json_schema is not None
    assert variant.stream.data_schema == variant.stream.event_schema
    assert variant.stream.sentinels == ("[DONE]",)  # from the profile
    assert not variant.stream.sentinels_documented
    assert op.request_required


def test_the_one_response_selection_rule(deepseek: Any) -> None:
    op = deepseek.operation()
    stream = deepseek.select_response(op, 200, {"stream": True})
    plain = deepseek.select_response(op, 200, {"stream": False})
    assert stream.stream is not None and plain.json_schema is not None
    assert deepseek.select_response(op, 400, {}).status == "400"
    assert deepseek.select_response(op, 418, {}) is None


def test_apidog_response_keys_are_alternative_responses(literal: Any) -> None:
    variants = literal.operation().responses["200"]
    assert [v.name for v in variants] == [None, "Streaming"]
    # The literal seed documents no event stream: a stream request falls back to the first.
    assert literal.select_response(literal.operation(), 200, {"stream": True}) is variants[0]


def test_30_nullable_is_read(literal: Any) -> None:
    request = literal.validator(literal.operation().request_schema)
    assert request.is_valid({"messages": [], "model": "m", "max_tokens": None})
    assert not request.is_valid({"messages": [], "model": "m", "max_tokens": "1"})


def test_internal_and_external_refs_resolve(tmp_path: Path) -> None:
    (tmp_path / "common.yaml").write_text(yaml.safe_dump({"Chunk": CHUNK}))
    doc = _doc(
        "3.1.0",
        {"application/json": {"schema": {"$ref": "#/components/schemas/Wrapper"}}},
        components={"schemas": {"Wrapper": {"$ref": "common.yaml#/Chunk"}}},
    )
    contract = load_contract(_write(tmp_path, doc), profile="literal")
    (variant,) = contract.operation().responses["200"]
    validator = contract.validator(variant.json_schema)
    assert validator.is_valid({"id": "a"}) and not validator.is_valid({})


def test_schema_pointer_follows_refs(deepseek: Any) -> None:
    location = deepseek.operation().responses["200"][0].json_schema
    errors = list(deepseek.validator(location).iter_errors({"usage": {"prompt_tokens": "x"}}))
    # usage is optional, so null too (null_is_absent): the type error is inside its anyOf
    errors += [sub for e in errors for sub in e.context or ()]
    pointers = {deepseek.schema_pointer(location, e.absolute_schema_path) for e in errors}
    assert "/components/schemas/Usage/properties/prompt_tokens/type" in pointers


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a: [", "is not valid YAML or JSON: did not find expected node content (line 2"),
        ("- 1\n- 2\n", "is not an OpenAPI document (top level is a list"),
        ("swagger: '2.0'\n", "no 'openapi' field (Swagger 2.0 is not supported)"),
        ("openapi: 4.0.0\npaths: {}\n", "declares openapi '4.0.0'"),
        ("openapi: 3.1.0\npaths: []\n", "'paths' is not a mapping"),
    ],
)
def test_unreadable_documents(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(content)
    with pytest.raises(SpecError) as info:
        load_contract(path, profile="literal")
    assert message in str(info.value)
    assert str(info.value).startswith(str(path))


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="no such file"):
        load_contract(tmp_path / "nope.yaml", profile="literal")
    with pytest.raises(SpecError, match="is a directory"):
        load_contract(tmp_path, profile="literal")


def test_a_bad_ref_names_its_place(tmp_path: Path) -> None:
    doc = _doc("3.1.0", {"application/json": {"schema": {"$ref": "#/components/schemas/Nope"}}})
    with pytest.raises(SpecError) as info:
        load_contract(_write(tmp_path, doc), profile="literal")
    assert (
        info.value.pointer
        == "/paths/~1chat~1completions/post/responses/200/content/application~1json/schema"
    )
    assert "$ref '#/components/schemas/Nope' cannot be resolved" in str(info.value)


def test_unknown_profile_lists_the_shipped_ones() -> None:
    with pytest.raises(
        UsageError,
        match="unknown profile 'nope'; available: anthropic, deepseek, deepseek-2025, literal",
    ):
        load_contract(profile="nope")


def test_operation_not_in_spec(tmp_path: Path) -> None:
    doc = _doc("3.1.0", {})
    doc["paths"] = {"/other": doc["paths"]["/chat/completions"]}
    contract = load_contract(_write(tmp_path, doc), profile="literal")
    with pytest.raises(
        OperationNotFound,
        match=r"POST /chat/completions is not in the document \(it has: POST /other\)",
    ):
        contract.operation()


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "spec.yaml").write_bytes(SPEC.read_bytes())
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path))  # noqa: E731
    http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_load_from_a_url(http_root: str) -> None:
    contract = load_contract(f"{http_root}/spec.yaml", profile="deepseek")
    assert contract.openapi == "3.2.0"
    assert contract.sha256 == "1ed4ada0008e08cbed676ff2b7d2ca2b6f69ca2a000405e339850911c281efab"
    with pytest.raises(SpecError, match="gave HTTP 404"):
        load_contract(f"{http_root}/missing.yaml", profile="literal")


def test_unreachable_url() -> None:
    with pytest.raises(SpecError, match="cannot fetch the document"):
        load_contract("http://127.0.0.1:9/spec.yaml", profile="literal")


def test_the_same_files_load_once_and_an_edited_file_loads_again(tmp_path: Path) -> None:
    spec = _write(tmp_path, _doc("3.1.0", {"application/json": {"schema": CHUNK}}))
    first = load_contract(spec)
    assert load_contract(spec) is first and load_contract(str(spec)) is first
    spec.write_text(spec.read_text().replace("'200'", "'201'"))
    again = load_contract(spec)
    assert again is not first and again.operation().responses != first.operation().responses
    overlay = tmp_path / "o.yaml"
    overlay.write_text(
        "overlay: 1.0.0\ninfo: {title: t, version: '1'}\n"
        "actions: [{target: $.info, update: {title: u}}]\n"
    )
    with_overlay = load_contract(spec, overlays=[overlay])
    assert with_overlay.document["info"]["title"] == "u"
    overlay.write_text(overlay.read_text().replace("title: u", "title: w"))
    assert load_contract(spec, overlays=[overlay]).document["info"]["title"] == "w"


def test_a_file_written_while_it_loads_is_not_remembered_under_its_former_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The files are digested (the key of what a process keeps), then read and parsed: a
    file written between the two must not leave the new document under the old bytes."""
    from conformance.contract import _loader

    spec = _write(tmp_path, _doc("3.1.0", {"application/json": {"schema": CHUNK}}))
    before = spec.read_text()
    digest_before = _loader.file_digest(spec)
    spec.write_text(before.replace("'200'", "'201'"))  # written after the digest was taken
    with monkeypatch.context() as patch:
        patch.setattr(_loader, "file_digest", lambda source: digest_before)
        assert "201" in load_contract(spec).operation().responses
    spec.write_text(before)  # the former bytes again
    assert "200" in load_contract(spec).operation().responses


@pytest.mark.parametrize("profile", ["deepseek", "anthropic"])
def test_a_shared_contract_comes_out_of_every_command_as_it_went_in(
    tmp_path: Path, profile: str
) -> None:
    """A process shares one Contract per set of files (the previous test): nothing may
    change it. A run of every phase (examples, scenarios, drawn bodies, negatives and their
    mutations, shrinking a failure), the reference server serving it, and lint, then the
    documents compared with what they were."""
    contract = load_contract(profile=profile)
    before = copy.deepcopy((contract.document, contract.schema_document))
    code, _, err = cli(
        "run", "--profile", profile, "--report-dir", str(tmp_path / "run"), "--seed", "3"
    )
    assert code in (0, 1), err
    code, _, err = cli("lint", "--profile", profile, "--all")
    assert code in (0, 1), err
    assert load_contract(profile=profile) is contract
    assert (contract.document, contract.schema_document) == before
