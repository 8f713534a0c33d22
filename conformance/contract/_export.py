"""``conformance spec export``: the effective contract as an OpenAPI 3.2 YAML document."""

from __future__ import annotations

import copy
from typing import Any

import yaml

from ._model import Contract

__all__ = ["effective_document", "export_document"]

try:
    _Dumper: type[yaml.SafeDumper] = yaml.CSafeDumper  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Dumper = yaml.SafeDumper


def effective_document(contract: Contract) -> dict[str, Any]:
    """A copy of the overlaid document with every schema in JSON Schema 2020-12, declared as
    OAS 3.2.0: what :func:`export_document` writes, as data (the caller may change it)."""
    document: dict[str, Any] = copy.deepcopy(dict(contract.schema_document))
    document["openapi"] = "3.2.0"
    return document


def export_document(contract: Contract) -> str:
    """The overlaid document with every schema in JSON Schema 2020-12, declared as OAS 3.2.0.

    Nothing is dropped: extensions (``x-...``), examples and descriptions stay as written.
    """
    document = effective_document(contract)
    header = (
        f"# Effective contract exported by conformance (profile {contract.profile.name}).\n"
        f"# Source: {contract.source} (sha256 {contract.sha256})\n"
        + "".join(f"# Overlay: {o}\n" for o in contract.overlays)
    )
    body = yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return header + body
