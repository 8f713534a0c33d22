"""The reference server: a deterministic DeepSeek-profile implementation with switchable faults.

It imports only the contract stage (and the tool's leaf modules).
"""

from __future__ import annotations

from ._app import DEFAULT_API_KEY, MODELS, create_app
from ._faults import FAULTS, Fault, unknown_faults
from ._serve import serve_in_thread

__all__ = [
    "DEFAULT_API_KEY",
    "FAULTS",
    "MODELS",
    "Fault",
    "create_app",
    "serve_in_thread",
    "unknown_faults",
]
