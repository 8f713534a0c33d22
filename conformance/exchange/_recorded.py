"""Recorded traffic as exchanges: raw HTTP response files, bare bodies, and HAR 1.2 files.

- A raw response file is a status line, headers, a blank line and the body (the format of
  ``tests/data/captures/*.response.http``). Its request comes from ``--request`` or a sibling
  ``NAME.request.json``.
- A bare body is JSON or an SSE stream with no status or headers: status 200 is assumed and the
  checks that need headers are skipped.
- A HAR 1.2 file gives one exchange per entry.

Streamed bodies are read from the file in blocks as they are checked (constant memory).
"""

from __future__ import annotations

import base64
import json
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from .._errors import UsageError
from .._util import is_sse_media_type, strict_json
from ._build import build_exchange, reads_as_stream
from ._model import Exchange, Request

__all__ = ["read_exchanges"]

BLOCK = 64 * 1024
#: The largest body read whole (a JSON body, a HAR file, a raw response that is not a stream):
#: 32 MiB, four times the runner's response limit; a stream is read in blocks, at any size.
MAX_WHOLE_BYTES = 32 * 1024 * 1024
_STATUS_LINE = re.compile(rb"^HTTP/\d(?:\.\d)?\s+(\d{3})")
_SSE_START = re.compile(rb"^(?:\xef\xbb\xbf)?(?:data|event|id|retry)?:", re.M)


_Asks = Callable[[Any], bool]


def _never(body: Any) -> bool:
    return False


def _blocks(path: Path, offset: int) -> Iterator[bytes]:
    """The file's bytes from ``offset``, read in blocks; the file is opened only when the
    stream is read, and closed when it ends (or is abandoned)."""
    with path.open("rb") as handle:
        handle.seek(offset)
        while block := handle.read(BLOCK):
            yield block


def _looks_like_sse(head: bytes) -> bool:
    stripped = head.lstrip(b"\xef\xbb\xbf")
    return bool(_SSE_START.match(stripped))


def _request_for(path: Path, request_file: str | None) -> Request | None:
    candidate = Path(request_file) if request_file else None
    if candidate is None:
        name = path.name
        for suffix in (".response.http", ".http", ".json", ".sse", ".txt"):
            if name.endswith(suffix):
                sibling = path.with_name(name[: -len(suffix)] + ".request.json")
                if sibling != path and sibling.is_file():
                    candidate = sibling
                break
    if candidate is None:
        return None
    try:
        if not stat.S_ISREG(candidate.stat().st_mode):
            raise UsageError(f"the request {candidate} is not a regular file")
        with candidate.open("rb") as handle:
            body = strict_json(_read_capped(candidate, handle, 0))
    except OSError as exc:
        raise UsageError(f"cannot read the request {candidate}: {exc.strerror or exc}") from None
    except RecursionError:
        raise UsageError(f"the request {candidate} is nested too deeply to be read") from None
    except ValueError as exc:
        raise UsageError(f"the request {candidate} is not JSON ({exc})") from None
    return Request.create(method="POST", body=body)


def _raw_http(
    path: Path, handle: IO[bytes], head: bytes, request: Request | None, asks: _Asks
) -> Exchange:
    buffer = head
    while b"\r\n\r\n" not in buffer and b"\n\n" not in buffer:
        more = handle.read(BLOCK)
        if not more:
            break
        buffer += more
        if len(buffer) > 1024 * 1024:
            raise UsageError(f"{path}: no end of headers in the first MiB")
    separator = b"\r\n\r\n" if b"\r\n\r\n" in buffer else b"\n\n"
    header_block, _, rest = buffer.partition(separator)
    body_offset = len(header_block) + len(separator)
    lines = re.split(rb"\r?\n", header_block)
    match = _STATUS_LINE.match(lines[0])
    if match is None:  # pragma: no cover - guarded by the caller
        raise UsageError(f"{path}: not an HTTP response (no status line)")
    headers = []
    for line in lines[1:]:
        name, sep, value = line.decode("latin-1").partition(":")
        if sep:
            headers.append((name.strip(), value.strip()))
    status = int(match[1])
    asked = asks(request.body) if request is not None else False
    body: bytes | Iterable[bytes]
    if reads_as_stream(status=status, headers=headers, asked_stream=asked):
        body = _blocks(path, body_offset)  # read as it is parsed: a stream of any length
        handle.close()
    else:
        body = rest + _read_capped(path, handle, len(rest))
        handle.close()
        _nesting_ok(path, body)
    return build_exchange(
        id=path.name,
        request=request,
        status=status,
        headers=headers,
        body=body,
        asked_stream=asked,
        source=str(path),
    )


def _har(path: Path, data: Any, asks: _Asks) -> Iterator[Exchange]:
    entries = data.get("log", {}).get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise UsageError(f"{path}: a HAR file needs log.entries")
    for i, entry in enumerate(entries):
        req = entry.get("request") or {}
        res = entry.get("response") or {}
        text = (req.get("postData") or {}).get("text")
        try:
            body = strict_json(text) if text else None
        except ValueError:
            body = None
        headers = [(h.get("name", ""), h.get("value", "")) for h in req.get("headers") or []]
        request = Request.create(
            method=req.get("method", "POST"), url=req.get("url"), headers=headers, body=body
        )
        content = res.get("content") or {}
        raw = content.get("text") or ""
        payload = (
            base64.b64decode(raw) if content.get("encoding") == "base64" else raw.encode("utf-8")
        )
        response_headers = tuple(
            (h.get("name", ""), h.get("value", "")) for h in res.get("headers") or []
        )
        # HAR keeps the media type beside the headers too: a recording without the header
        # still says it is a stream
        mime = content.get("mimeType") or ""
        yield build_exchange(
            id=f"{path.name}#{i}",
            request=request,
            status=int(res.get("status", 0)),
            headers=response_headers,
            body=payload,
            asked_stream=asks(body) or is_sse_media_type(mime),
            source=str(path),
        )


def _read_capped(path: Path, handle: IO[bytes], already: int) -> bytes:
    """The rest of ``handle``, or :class:`UsageError` past :data:`MAX_WHOLE_BYTES` in all."""
    rest = handle.read(MAX_WHOLE_BYTES - already + 1)
    if already + len(rest) > MAX_WHOLE_BYTES:
        raise UsageError(
            f"{path}: a body read whole (JSON, HAR, a response that is not a stream) is over "
            f"{MAX_WHOLE_BYTES // (1024 * 1024)} MiB; not read"
        )
    return rest


def _nesting_ok(path: Path, body: bytes) -> None:
    """:class:`UsageError` for JSON nested deeper than it can be parsed (not a crash later)."""
    stripped = body.lstrip()
    if not stripped.startswith((b"{", b"[")):
        return
    try:
        json.loads(body)
    except RecursionError:
        raise UsageError(f"{path}: the JSON is nested too deeply to be read") from None
    except ValueError:
        return


def read_exchanges(
    path_name: str, *, request_file: str | None = None, asks_stream: _Asks | None = None
) -> Iterator[Exchange]:
    """The exchanges recorded in a file (one, or one per HAR entry). Regular files only (a
    device or a FIFO never ends); a body read whole is capped (:data:`MAX_WHOLE_BYTES`).
    ``asks_stream``: whether a request body asks for a stream (the operation's selector: a
    success to such a request is read as a stream whatever its Content-Type, as ``run`` and
    the proxy read it; :func:`~conformance.exchange.build_exchange`)."""
    asks: _Asks = asks_stream if asks_stream is not None else _never
    path = Path(path_name)
    try:
        kind = path.stat().st_mode
    except FileNotFoundError:
        raise UsageError(f"{path_name}: no such file") from None
    except OSError as exc:
        raise UsageError(f"{path_name}: cannot read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(kind):
        raise UsageError(f"{path_name}: is a directory, expected a recorded exchange")
    if not stat.S_ISREG(kind):
        raise UsageError(
            f"{path_name}: is not a regular file (a device, a FIFO or a socket); save the "
            "recording to a file first"
        )
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise UsageError(f"{path_name}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path_name}: is a directory, expected a recorded exchange") from None
    except OSError as exc:
        raise UsageError(f"{path_name}: cannot read ({exc.strerror or exc})") from None
    head = handle.read(BLOCK)
    stripped = head.lstrip()
    if _STATUS_LINE.match(head):
        try:
            exchange = _raw_http(path, handle, head, _request_for(path, request_file), asks)
        finally:
            handle.close()
        yield exchange
        return
    if _looks_like_sse(head):
        handle.close()
        yield build_exchange(  # a bare stream: its events say what it is
            id=path.name,
            request=_request_for(path, request_file),
            status=200,
            headers=None,
            body=_blocks(path, 0),
            asked_stream=True,
            source=str(path),
        )
        return
    try:
        rest = head + _read_capped(path, handle, len(head))
    finally:
        handle.close()
    _nesting_ok(path, rest)
    if stripped.startswith(b"{"):
        try:
            data = json.loads(rest)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("log"), dict):
            yield from _har(path, data, asks)
            return
    if stripped.startswith((b"{", b"[")) or not stripped:
        yield build_exchange(
            id=path.name,
            request=_request_for(path, request_file),
            status=200,
            headers=None,
            body=rest,
            asked_stream=False,  # a bare JSON body
            source=str(path),
        )
        return
    raise UsageError(
        f"{path_name}: not a recorded exchange (expected an HTTP response with a status line, "
        "a JSON body, an SSE stream or a HAR file)"
    )
