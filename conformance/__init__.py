"""conformance: contract-conformance testing for OpenAI/DeepSeek-compatible Chat Completions APIs.

Importing this package is cheap (the pytest plugin and ``conformance --help`` depend on it): the
names below are loaded on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._api import RunOutcome, run, validate
    from ._errors import (
        ConformanceError,
        OperationNotFound,
        OverlayError,
        ServerStartError,
        SpecError,
        TargetUnreachable,
        UsageError,
    )
    from .checks import CHECKS, Check, ExchangeResult, Failure, check_exchange
    from .contract import (
        Contract,
        Finding,
        Operation,
        Profile,
        ResponseVariant,
        StreamSpec,
        export_document,
        lint,
        load_contract,
        load_profile,
    )
    from .exchange import Exchange, Request, Response, read_exchanges
    from .runner import RunConfig

__version__ = "0.1.0.dev0"

__all__ = [
    "CHECKS",
    "Check",
    "ConformanceError",
    "Contract",
    "Exchange",
    "ExchangeResult",
    "Failure",
    "Finding",
    "Operation",
    "OperationNotFound",
    "OverlayError",
    "Profile",
    "Request",
    "Response",
    "ResponseVariant",
    "RunConfig",
    "RunOutcome",
    "ServerStartError",
    "SpecError",
    "StreamSpec",
    "TargetUnreachable",
    "UsageError",
    "__version__",
    "check_exchange",
    "export_document",
    "lint",
    "load_contract",
    "load_profile",
    "read_exchanges",
    "run",
    "validate",
]

_LAZY = {
    "RunConfig": ".runner",
    "RunOutcome": "._api",
    "run": "._api",
    "validate": "._api",
    "CHECKS": ".checks",
    "Check": ".checks",
    "ExchangeResult": ".checks",
    "Failure": ".checks",
    "check_exchange": ".checks",
    "Exchange": ".exchange",
    "Request": ".exchange",
    "Response": ".exchange",
    "read_exchanges": ".exchange",
    "ConformanceError": "._errors",
    "OperationNotFound": "._errors",
    "OverlayError": "._errors",
    "ServerStartError": "._errors",
    "TargetUnreachable": "._errors",
    "SpecError": "._errors",
    "UsageError": "._errors",
    "Contract": ".contract",
    "Finding": ".contract",
    "Operation": ".contract",
    "Profile": ".contract",
    "ResponseVariant": ".contract",
    "StreamSpec": ".contract",
    "export_document": ".contract",
    "lint": ".contract",
    "load_contract": ".contract",
    "load_profile": ".contract",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'conformance' has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
