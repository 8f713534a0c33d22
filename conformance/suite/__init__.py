"""The conformance suite as pytest tests: ``pytest --pyargs conformance.suite --base-url URL``."""

__all__: list[str] = []
