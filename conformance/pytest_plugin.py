"""The conformance pytest plugin (entry point ``pytest11: conformance``).

Reserved: live runs against a ``--base-url`` arrive with the runner. Until then it only registers
its option group, so that installing the package changes nothing in other projects' test runs.
Like hypothesis' plugin it imports nothing heavy: pytest loads it in every session.
"""

from __future__ import annotations

import pytest

GROUP = "conformance"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup(GROUP, "conformance: contract-conformance of Chat Completions APIs")
