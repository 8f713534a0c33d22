"""Errors of the tool itself, as opposed to contract failures of the server under test.

A contract failure (the server broke the contract) is data in a report. The exceptions here say
that *we* could not do the job: the spec cannot be read, an overlay does not apply, a flag is
wrong. The CLI prints them as one line and exits with status 2.

Hierarchy::

    ConformanceError
    ├── UsageError              a bad flag, profile, fault name or argument combination
    ├── SpecError               the OpenAPI document cannot be read, parsed or resolved
    │   ├── OverlayError        an overlay is malformed or an action does not apply
    │   └── OperationNotFound   the document has no such operation
    ├── TargetUnreachable       the server under test gave no response at all
    ├── TargetRefused           it answered, but refused the key, the model or the path
    └── ServerStartError        the embedded reference server did not start

They are plain classes (not frozen dataclasses) so that ``add_note`` works on them.
"""

from __future__ import annotations

__all__ = [
    "ConformanceError",
    "OperationNotFound",
    "OverlayError",
    "ServerStartError",
    "SpecError",
    "TargetRefused",
    "TargetUnreachable",
    "UsageError",
]


class ConformanceError(Exception):
    """Base class of every error raised by the tool itself (exit status 2)."""


class UsageError(ConformanceError):
    """A command-line flag, profile or argument is wrong."""


class SpecError(ConformanceError):
    """An OpenAPI document cannot be read, parsed or resolved.

    ``source`` names the file or URL; ``pointer`` is the JSON pointer of the offending node when
    one is known.
    """

    def __init__(self, message: str, *, source: str, pointer: str | None = None) -> None:
        self.source = source
        self.pointer = pointer
        where = f"{source}" + (f" at {pointer}" if pointer else "")
        super().__init__(f"{where}: {message}")


class OverlayError(SpecError):
    """An overlay is malformed, or one of its actions cannot be applied.

    ``action`` is the zero-based index of the failing action, when the error is about one.
    """

    def __init__(
        self, message: str, *, source: str, action: int | None = None, pointer: str | None = None
    ) -> None:
        self.action = action
        if action is not None:
            message = f"action {action}: {message}"
        super().__init__(message, source=source, pointer=pointer)


class OperationNotFound(SpecError):
    """The document has no operation with that method and path (the profile names one)."""


class TargetUnreachable(ConformanceError):
    """The target could not be reached at all (no response): DNS, connection, TLS, timeout.

    A server that answers badly is a contract failure in the report, not this error.
    """


class ServerStartError(ConformanceError):
    """The embedded reference server could not start (the port, or the thread, failed)."""


class TargetRefused(ConformanceError):
    """The target answered, but not as an API the run can check as configured: the key was
    refused, the model is unknown, the path is not there, or it is not an API at all. Found by
    the preflight, before the budget is spent; the message carries the server's own words."""
