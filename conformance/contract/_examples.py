"""The examples a document gives for a media type (``example`` and ``examples``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .._util import join_pointer
from ._model import Contract, Operation
from ._walk import resolve_pointer

__all__ = ["media_examples", "request_examples"]


def media_examples(media: Any, pointer: str) -> Iterator[tuple[str, str, Any]]:
    """(pointer, label, value) of each example of a Media Type Object (``externalValue`` is not
    fetched)."""
    if not isinstance(media, dict):
        return
    if "example" in media:
        yield join_pointer(pointer, "example"), "example", media["example"]
    for name, example in (media.get("examples") or {}).items():
        if isinstance(example, dict) and "value" in example:
            yield (
                join_pointer(pointer, "examples", name, "value"),
                f"example {name!r}",
                example["value"],
            )


def request_examples(contract: Contract, operation: Operation) -> list[tuple[str, Any]]:
    """(name, body) of each request example of ``operation``."""
    if operation.request_schema is None:
        return []
    media_pointer = operation.request_schema.rsplit("/", 1)[0]
    try:
        media = resolve_pointer(contract.document, media_pointer)
    except KeyError:
        return []
    out = []
    for pointer, _label, value in media_examples(media, media_pointer):
        name = pointer.rsplit("/", 2)[-2] if pointer.endswith("/value") else "example"
        out.append((name, value))
    return out
