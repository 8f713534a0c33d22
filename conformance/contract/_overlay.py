"""OpenAPI Overlay Specification 1.0.0: ordered actions with RFC 9535 JSONPath targets.

Each action selects nodes with ``target``. ``remove: true`` deletes them from their parents;
otherwise ``update`` is merged in: into an object recursively (objects merge, anything else is
replaced), into an array by appending. The spec leaves "a target that selects nothing" open; we
make it an error that names the action, because a correction that silently stops applying (the
document changed underneath it) is how an errata overlay rots.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonpath_rfc9535

from .._errors import OverlayError, SpecError
from .._util import pointer_of
from ._document import read_document

__all__ = ["Overlay", "OverlayAction", "apply_overlay", "load_overlay"]


@dataclass(frozen=True, kw_only=True, slots=True)
class OverlayAction:
    """One Overlay 1.0 action: a JSONPath target and an update or a removal."""

    target: str
    description: str | None
    update: Any = None
    remove: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class Overlay:
    """An OpenAPI Overlay 1.0 document: where it came from and its actions, in order."""

    source: str
    sha256: str
    title: str
    actions: tuple[OverlayAction, ...]


def load_overlay(source: str | Path) -> Overlay:
    """Read and check an overlay document."""
    try:
        raw = read_document(source)
    except OverlayError:
        raise
    except SpecError as exc:
        raise OverlayError(str(exc).split(": ", 1)[-1], source=str(source)) from None
    name = raw.source
    data = raw.data
    if not isinstance(data, dict) or "overlay" not in data:
        raise OverlayError("is not an Overlay document (no top-level 'overlay' field)", source=name)
    version = str(data["overlay"])
    if not version.startswith("1."):
        raise OverlayError(f"overlay version {version!r} is not supported (1.x is)", source=name)
    info = data.get("info")
    if not isinstance(info, dict) or "title" not in info:
        raise OverlayError("has no info.title (required by Overlay 1.0)", source=name)
    actions_data = data.get("actions")
    if not isinstance(actions_data, list) or not actions_data:
        raise OverlayError("has no actions (Overlay 1.0 requires at least one)", source=name)
    actions = []
    for i, item in enumerate(actions_data):
        if not isinstance(item, dict) or not isinstance(item.get("target"), str):
            raise OverlayError("has no string 'target'", source=name, action=i)
        remove = item.get("remove", False)
        if not isinstance(remove, bool):
            raise OverlayError("'remove' must be true or false", source=name, action=i)
        if not remove and "update" not in item:
            raise OverlayError("has neither 'update' nor 'remove: true'", source=name, action=i)
        try:
            jsonpath_rfc9535.compile(item["target"])
        except jsonpath_rfc9535.JSONPathError as exc:
            raise OverlayError(
                f"target {item['target']!r} is not RFC 9535 JSONPath ({exc})",
                source=name,
                action=i,
            ) from None
        actions.append(
            OverlayAction(
                target=item["target"],
                description=item.get("description"),
                update=item.get("update"),
                remove=remove,
            )
        )
    return Overlay(source=name, sha256=raw.sha256, title=str(info["title"]), actions=tuple(actions))


def _merge(target: Any, update: Any) -> Any:
    """Overlay 1.0 merge: objects merge key by key, everything else is replaced."""
    if isinstance(target, dict) and isinstance(update, dict):
        for key, value in update.items():
            target[key] = _merge(target[key], value) if key in target else copy.deepcopy(value)
        return target
    return copy.deepcopy(update)


def apply_overlay(document: Any, overlay: Overlay) -> Any:
    """Return a new document with every action of ``overlay`` applied in order."""
    result = copy.deepcopy(document)
    for i, action in enumerate(overlay.actions):
        nodes = jsonpath_rfc9535.find(action.target, result)
        if not nodes:
            what = " ".join((action.description or "").split())
            what = what if len(what) <= 80 else what[:77] + "..."
            raise OverlayError(
                f"target {action.target!r} matches nothing in the document"
                + (f" ({what})" if what else "")
                + "; the overlay does not fit this document",
                source=overlay.source,
                action=i,
            )
        locations = [tuple(node.location) for node in nodes]
        if action.remove:
            # Deepest and last first, so earlier removals do not shift later indices.
            for location in sorted(locations, key=_removal_order, reverse=True):
                if not location:
                    raise OverlayError(
                        "cannot remove the document root", source=overlay.source, action=i
                    )
                parent = _resolve(result, location[:-1])
                key = location[-1]
                if isinstance(parent, list) and isinstance(key, int):
                    del parent[key]
                elif isinstance(parent, dict):
                    parent.pop(key, None)
            continue
        for location in locations:
            node = _resolve(result, location)
            if isinstance(node, list):
                node.append(copy.deepcopy(action.update))
            elif isinstance(node, dict) and isinstance(action.update, dict):
                _merge(node, action.update)
            else:
                raise OverlayError(
                    f"target {action.target!r} selects a {type(node).__name__} at "
                    f"{pointer_of(location) or '/'}; 'update' needs an object or an array",
                    source=overlay.source,
                    action=i,
                )
    return result


def _removal_order(location: tuple[int | str, ...]) -> tuple[int, int]:
    last = location[-1] if location else -1
    return (len(location), last if isinstance(last, int) else -1)


def _resolve(document: Any, location: tuple[int | str, ...]) -> Any:
    node = document
    for part in location:
        node = node[part]
    return node
