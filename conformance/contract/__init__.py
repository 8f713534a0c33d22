"""The contract stage: load an OpenAPI document, apply overlays, normalise it, lint it."""

from __future__ import annotations

from .._util import is_json_media_type
from ._document import RawDocument, read_document
from ._examples import request_examples
from ._export import effective_document, export_document
from ._headers import auth_header, header_values
from ._lint import Finding, lint
from ._loader import load_contract, overlaid_document
from ._model import (
    Contract,
    Operation,
    Parameter,
    ResponseVariant,
    StreamSpec,
    explain_error,
)
from ._overlay import Overlay, OverlayAction, apply_overlay, load_overlay
from ._profiles import Profile, available_profiles, load_profile, profile_schema
from ._requests import (
    REQUEST_RULES,
    RequestRule,
    parameter_errors,
    parameter_text,
    request_errors,
    request_is_valid,
)

__all__ = [
    "REQUEST_RULES",
    "Contract",
    "Finding",
    "Operation",
    "Overlay",
    "OverlayAction",
    "Parameter",
    "Profile",
    "RawDocument",
    "RequestRule",
    "ResponseVariant",
    "StreamSpec",
    "apply_overlay",
    "auth_header",
    "available_profiles",
    "effective_document",
    "explain_error",
    "export_document",
    "header_values",
    "is_json_media_type",
    "lint",
    "load_contract",
    "load_overlay",
    "load_profile",
    "overlaid_document",
    "parameter_errors",
    "parameter_text",
    "profile_schema",
    "read_document",
    "request_errors",
    "request_examples",
    "request_is_valid",
]
