"""The validating proxy: forwards live traffic to an upstream unchanged, as it arrives, and
checks every exchange of an operation the contract describes with the suite's checks."""

from __future__ import annotations

from ._app import ProxyState, create_proxy_app

__all__ = ["ProxyState", "create_proxy_app"]
