"""Small helpers every stage needs, each written once: JSON pointers, media types, strict JSON,
integers that are not booleans.

A leaf module: every stage may import it, and it imports nothing from the package.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeGuard

__all__ = [
    "SSE_MEDIA_TYPE",
    "escape_token",
    "is_int",
    "is_json_media_type",
    "is_sse_media_type",
    "join_pointer",
    "media_type_base",
    "pointer_of",
    "strict_json",
    "strict_json_fast",
    "write_text_atomic",
]

SSE_MEDIA_TYPE = "text/event-stream"


def escape_token(token: str | int) -> str:
    """One JSON-pointer reference token, escaped (RFC 6901: ``~`` as ``~0``, ``/`` as ``~1``)."""
    return str(token).replace("~", "~0").replace("/", "~1")


def pointer_of(tokens: Iterable[str | int]) -> str:
    """The JSON pointer of a path (``""`` for the root)."""
    return "".join("/" + escape_token(t) for t in tokens)


def join_pointer(base: str, *tokens: str | int) -> str:
    """``base`` extended by ``tokens``."""
    return base + pointer_of(tokens)


def media_type_base(media_type: str) -> str:
    """The media type without its parameters, lower-cased: ``text/event-stream`` of
    ``Text/Event-Stream; charset=utf-8``."""
    return media_type.split(";", 1)[0].strip().lower()


def is_json_media_type(media_type: str) -> bool:
    """``application/json`` or a ``+json`` structured syntax suffix, with any parameters."""
    base = media_type_base(media_type)
    return base == "application/json" or base.endswith("+json")


def is_sse_media_type(media_type: str) -> bool:
    """``text/event-stream``, with any parameters."""
    return media_type_base(media_type) == SSE_MEDIA_TYPE


def is_int(value: Any) -> TypeGuard[int]:
    """A JSON integer: an ``int`` and not a boolean (``True`` is an ``int`` in Python, not in
    JSON). ``type() is`` rather than ``isinstance``: it excludes ``bool`` in one test, and the
    stream rules call this for every choice of every chunk."""
    return type(value) is int


def _reject(constant: str) -> Any:
    raise ValueError(f"{constant} is not valid JSON")


#: The largest text orjson parses: its error path allocates about 16 times the input (a 32 MB
#: body of garbage took 0.5 GB), so large texts go to the standard library, whose memory stays
#: a small multiple of the input. Chunks and ordinary bodies are far smaller.
ORJSON_MAX = 1024 * 1024


def strict_json(text: str | bytes) -> Any:
    """JSON as RFC 8259 says: NaN, Infinity and -Infinity are not JSON.

    orjson (strict, and several times faster) parses first; what it refuses goes to the
    standard library, which explains the error, or accepts what orjson is stricter about than
    RFC 8259 (an escaped lone surrogate such as ``"\\ud800"``).
    """
    if _orjson is not None and len(text) <= ORJSON_MAX:
        try:
            return _orjson.loads(text)
        except _orjson.JSONDecodeError:
            pass
    return json.loads(text, parse_constant=_reject)


_orjson: Any
try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - orjson is a dependency; this keeps it optional
    _orjson = None

#: orjson's ``loads`` itself, for a hot path that checks ``len(text) <= ORJSON_MAX`` and
#: falls back to :func:`strict_json` on ``ValueError`` (one Python call less per chunk).
strict_json_fast: Callable[[str | bytes], Any] = strict_json if _orjson is None else _orjson.loads


def _umask() -> int:
    """The process's umask (Linux reads it without changing it; elsewhere it is set and put
    back at once)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` so that a killed run never leaves half a file; the file gets
    the mode a plain ``open`` would give it (0644 under umask 022), not mkstemp's 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
