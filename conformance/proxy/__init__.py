"""The validating proxy: forwards live traffic to an upstream unchanged, as it arrives, and
checks every exchange of an operation the contract describes with the suite's checks."""

from __future__ import annotations

from ._app import UVICORN_OPTIONS, ProxyState, create_proxy_app

__all__ = ["UVICORN_OPTIONS", "ProxyState", "create_proxy_app"]
