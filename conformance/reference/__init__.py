"""The reference server: a deterministic DeepSeek-profile implementation with switchable faults.

It imports only the contract stage (and the tool's leaf modules).
"""

from __future__ import annotations

from ._app import DEFAULT_API_KEY, MODELS, create_app
from ._faults import FAULTS, Fault, unknown_faults
from ._mock import MOCK_FAULTS, create_mock_app
from ._serve import serve_in_thread
from ._variants import VARIANTS, Variant, unknown_variants

__all__ = [
    "DEFAULT_API_KEY",
    "FAULTS",
    "MOCK_FAULTS",
    "MODELS",
    "VARIANTS",
    "Fault",
    "Variant",
    "create_app",
    "create_mock_app",
    "serve_in_thread",
    "unknown_faults",
    "unknown_variants",
]
