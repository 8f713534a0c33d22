"""Reading a request body within bounds, for the reference server and the mock.

A declared ``Content-Length`` over the limit is a 413 before a byte of the body is read; a
body without one (chunked) is read until it passes the limit, then refused: a client cannot
make the server hold more than ``limit`` bytes of one request (512 MiB sent to
``/beta/completions`` held 1 GB before). Parsing is bounded too: JSON nested beyond Python's
recursion limit is refused as a 400, never a 500 with a traceback.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

__all__ = ["MAX_BODY", "BodyTooLarge", "TooDeep", "parse_json", "read_body"]

#: The largest request body the reference server and the mock read.
MAX_BODY = 4 * 1024 * 1024


class BodyTooLarge(Exception):
    """The body is over the limit (said by its Content-Length, or seen while reading)."""


class TooDeep(ValueError):
    """The JSON is nested deeper than it can be parsed."""


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The request's body, at most ``limit`` bytes; :class:`BodyTooLarge` beyond."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    raw = bytearray()
    async for part in request.stream():
        raw += part
        if len(raw) > limit:
            raise BodyTooLarge
    return bytes(raw)


def parse_json(raw: bytes) -> Any:
    """``json.loads``, with deep nesting a :class:`TooDeep` (a ValueError) rather than a
    RecursionError."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise TooDeep("the JSON body is nested too deeply") from None
