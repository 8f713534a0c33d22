from __future__ import annotations

import pytest


def test_plugin_is_registered_and_harmless(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        "def test_loaded(pytestconfig):\n"
        "    assert pytestconfig.pluginmanager.has_plugin('conformance')\n"
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
