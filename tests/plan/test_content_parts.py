"""A user message written as content parts: the V4 overlay's parts (DSV4, DSVISION), the
``content-parts`` scenario every run sends where the document takes them, the image scenario
only when the run says the model takes images, and the 2025 reference that refuses both."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.contract import load_contract, request_is_valid
from conformance.plan import PlanConfig, plan

VISION = "deepseek-v4-flash-vision-exp"


def _user(*parts: dict[str, Any], role: str = "user") -> dict[str, Any]:
    return {"model": VISION, "messages": [{"role": role, "content": list(parts)}]}


TEXT = {"type": "text", "text": "What is this?"}
IMAGE = {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "low"}}
FILE = {"type": "file", "file": {"file_id": "file-abc"}}


def test_the_v4_overlay_takes_text_image_and_file_parts_in_user_messages(deepseek: Any) -> None:
    assert request_is_valid(deepseek, _user(TEXT, IMAGE, FILE))
    assert request_is_valid(
        deepseek, {"model": VISION, "messages": [{"role": "user", "content": "hi"}]}
    )
    # images in user messages only (DSVISION: a system or assistant image is a 400)
    assert not request_is_valid(deepseek, _user(TEXT, role="system"))
    assert not request_is_valid(deepseek, _user(IMAGE, role="assistant"))
    # each part is closed on its type; no empty array; detail from the guide's four
    assert not request_is_valid(deepseek, _user())
    assert not request_is_valid(deepseek, _user({"type": "image_url", "text": "x"}))
    assert not request_is_valid(
        deepseek, _user({"type": "image_url", "image_url": {"url": "u", "detail": "huge"}})
    )
    assert not request_is_valid(deepseek, _user({"type": "file", "file": {}}))
    # the 2025 reference: a user message's content is a string
    assert not request_is_valid(load_contract(profile="deepseek-2025"), _user(TEXT))


def _names(contract: Any, **config: Any) -> tuple[set[str], dict[str, str]]:
    planned = plan(contract, PlanConfig(max_examples=0, **config), model="deepseek-chat")
    return {c.name for c in planned.cases}, dict(planned.left_out)


def test_text_parts_are_planned_and_an_image_only_for_a_model_that_takes_images(
    deepseek: Any,
) -> None:
    names, _ = _names(deepseek)
    assert "content-parts" in names and "content-image" not in names
    names, _ = _names(deepseek, modalities=frozenset({"text", "image"}))
    assert {"content-parts", "content-image"} <= names


@pytest.mark.parametrize("profile", ["deepseek-2025", "literal"])
def test_a_string_only_document_leaves_the_part_scenarios_out_and_says_why(profile: str) -> None:
    names, left_out = _names(
        load_contract(profile=profile), modalities=frozenset({"text", "image"})
    )
    assert not {"content-parts", "content-image"} & names
    assert left_out["content-parts"].startswith("the document's request schema rejects it (")
    assert "/messages/0" in left_out["content-image"]
