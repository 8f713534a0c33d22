from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conformance import OverlayError
from conformance.contract import apply_overlay, load_overlay


def _overlay(tmp_path: Path, actions: list[dict], **extra: object) -> Path:
    path = tmp_path / "o.yaml"
    doc = {"overlay": "1.0.0", "info": {"title": "t", "version": "1"}, "actions": actions, **extra}
    path.write_text(yaml.safe_dump(doc))
    return path


DOC = {
    "openapi": "3.1.0",
    "info": {"title": "x", "version": "1"},
    "tags": [{"name": "a"}],
    "paths": {"/p": {"get": {"summary": "s", "parameters": [1, 2], "x-y": {"k": 1}}}},
}


def test_update_merges_objects_and_replaces_the_rest(tmp_path: Path) -> None:
    overlay = load_overlay(
        _overlay(
            tmp_path,
            [
                {
                    "target": "$.paths['/p'].get",
                    "update": {"summary": "new", "parameters": [3], "x-y": {"j": 2}},
                }
            ],
        )
    )
    result = apply_overlay(DOC, overlay)
    op = result["paths"]["/p"]["get"]
    assert op == {"summary": "new", "parameters": [3], "x-y": {"k": 1, "j": 2}}
    assert DOC["paths"]["/p"]["get"]["summary"] == "s"  # the input is not mutated


def test_update_on_an_array_appends(tmp_path: Path) -> None:
    overlay = load_overlay(_overlay(tmp_path, [{"target": "$.tags", "update": {"name": "b"}}]))
    assert apply_overlay(DOC, overlay)["tags"] == [{"name": "a"}, {"name": "b"}]


def test_remove_deletes_every_match(tmp_path: Path) -> None:
    overlay = load_overlay(
        _overlay(
            tmp_path,
            [
                {"target": "$.paths['/p'].get.parameters[*]", "remove": True},
                {"target": "$..['x-y']", "remove": True},
            ],
        )
    )
    assert apply_overlay(DOC, overlay)["paths"]["/p"]["get"] == {"summary": "s", "parameters": []}


def test_actions_apply_in_order(tmp_path: Path) -> None:
    overlay = load_overlay(
        _overlay(
            tmp_path,
            [
                {"target": "$.info", "remove": True},
                {"target": "$", "update": {"info": {"title": "again"}}},
            ],
        )
    )
    assert apply_overlay(DOC, overlay)["info"] == {"title": "again"}


def test_a_target_that_matches_nothing_names_the_action(tmp_path: Path) -> None:
    path = _overlay(
        tmp_path,
        [
            {"target": "$.info", "update": {"x-a": 1}},
            {"target": "$.nowhere", "description": "Fix the nowhere", "update": {"a": 1}},
        ],
    )
    with pytest.raises(OverlayError) as info:
        apply_overlay(DOC, load_overlay(path))
    assert info.value.action == 1
    assert "action 1: target '$.nowhere' matches nothing" in str(info.value)
    assert "Fix the nowhere" in str(info.value)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"openapi": "3.1.0"}, "not an Overlay document"),
        ({"overlay": "2.0.0", "info": {"title": "t"}, "actions": []}, "not supported"),
        ({"overlay": "1.0.0", "actions": [{"target": "$"}]}, "no info.title"),
        ({"overlay": "1.0.0", "info": {"title": "t"}, "actions": []}, "has no actions"),
        (
            {"overlay": "1.0.0", "info": {"title": "t"}, "actions": [{"target": "$"}]},
            "action 0: has neither 'update' nor 'remove: true'",
        ),
        (
            {
                "overlay": "1.0.0",
                "info": {"title": "t"},
                "actions": [{"target": "$[", "remove": True}],
            },
            "is not RFC 9535 JSONPath",
        ),
    ],
)
def test_malformed_overlays_are_clear_errors(tmp_path: Path, document: dict, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(OverlayError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_overlay(path)


def test_a_missing_overlay_file(tmp_path: Path) -> None:
    with pytest.raises(OverlayError, match="no such file"):
        load_overlay(tmp_path / "missing.yaml")
