"""Small helpers every stage needs, each written once: JSON pointers, media types, strict JSON,
integers that are not booleans, a process's bounded memo.

A leaf module: every stage may import it, and it imports nothing from the package.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from collections.abc import Callable, Hashable, Iterable
from pathlib import Path
from typing import Any, Generic, TypeGuard, TypeVar

__all__ = [
    "SSE_MEDIA_TYPE",
    "Kept",
    "escape_token",
    "is_int",
    "is_json_media_type",
    "is_sse_media_type",
    "join_pointer",
    "json_safe",
    "md_code",
    "media_type_base",
    "pointer_of",
    "printable",
    "strict_json",
    "strict_json_fast",
    "without_surrogates",
    "write_text_atomic",
    "xml_safe",
]

SSE_MEDIA_TYPE = "text/event-stream"

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Kept(Generic[K, V]):
    """A process's bounded memo (parsed documents, loaded contracts, draws, lint findings):
    the most recently used last, the oldest let go first beyond ``most`` entries, or ``most``
    in all when each value has a ``weight``. Safe to share between threads: the lock covers
    the bookkeeping only, never the making of a value (two threads may make the same one; the
    last kept wins). One class, not five copies of "while too many: delete the oldest", two of
    which could raise when two threads evicted at once."""

    def __init__(self, most: int, *, weight: Callable[[V], int] | None = None) -> None:
        self.most = most
        self._weight = weight
        self._items: dict[K, V] = {}
        self._total = 0
        self._lock = threading.Lock()

    def _size(self, value: V) -> int:
        return 1 if self._weight is None else self._weight(value)

    def get(self, key: K) -> V | None:
        """The value kept for ``key`` (now the most recently used), or None."""
        with self._lock:
            value = self._items.pop(key, None)
            if value is not None:
                self._items[key] = value
            return value

    def put(self, key: K, value: V) -> None:
        """Keep ``value`` for ``key``, letting the oldest go beyond the bound (``value``
        itself when it alone is over it)."""
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._total -= self._size(old)
            self._items[key] = value
            self._total += self._size(value)
            while self._items and self._total > self.most:
                self._total -= self._size(self._items.pop(next(iter(self._items))))

    def __len__(self) -> int:
        return len(self._items)


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


# The output encoders: every output of the tool (files, console, CI logs) goes through one of
# these, so no text a server or a document sent can make a writer fail, a terminal obey, or an
# XML or Markdown reader see markup. Each shows what it replaced as an escape (``\u202e``,
# ``\x1b``, ``\udc80``): the bad value stays visible as evidence.

#: Lone surrogates: a Python str may hold them (JSON ``"\udc80"``, ``surrogateescape``);
#: UTF-8 cannot, and a writer that meets one fails.
_SURROGATES = re.compile("[\ud800-\udfff]")
#: What a terminal or a CI log must never receive raw: C0 controls but tab and newline, DEL,
#: C1 controls (ESC and CSI sequences, OSC titles, BEL, clear screen), the bidirectional
#: overrides and isolates (U+202E turns the rest of a line around), and lone surrogates.
_UNPRINTABLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
#: What XML 1.0 forbids (section 2.2), and the C1 controls and bidi overrides of a CI page.
_NOT_XML = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e"
    "\u2066-\u2069\ud800-\udfff\ufffe\uffff]"
)


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def without_surrogates(text: str) -> str:
    """``text`` with each lone surrogate written as its escape (``\udc80``): encodable."""
    return _SURROGATES.sub(_escaped, text)


def json_safe(json_text: str) -> str:
    """JSON text (``ensure_ascii=False``) with each lone surrogate written as the visible text
    ``\udc80`` (the JSON ``"\\udc80"``), which every JSON parser reads; a ``\udc80`` escape
    would be JSON that strict parsers (orjson, Rust's serde) refuse."""
    return _SURROGATES.sub(lambda m: f"\\\\u{ord(m.group()):04x}", json_text)


def printable(text: str) -> str:
    """``text`` safe for a terminal or a CI log: controls, ESC sequences, bidi overrides and
    lone surrogates shown as escapes; tab and newline kept."""
    return _UNPRINTABLE.sub(_escaped, text)


def xml_safe(text: str) -> str:
    """``text`` with what XML 1.0 forbids (and what a CI page should not render: C1 controls,
    bidi overrides) shown as escapes; markup characters are the XML writer's to escape."""
    return _NOT_XML.sub(_escaped, text)


def md_code(text: str, *, cell: bool = False) -> str:
    """``text`` as a Markdown code span: no HTML, link, image or emphasis is ever rendered from
    it, however it is written; on one line, printable; ``cell``: inside a table (``|``
    escaped)."""
    text = printable(text).replace("\n", " ").replace("\t", " ")
    if cell:
        text = text.replace("|", "\\|")
    if not text:
        return "` `"
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text[0] in "` " or text[-1] in "` " else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def write_text_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` so that a killed run never leaves half a file; the file gets
    the mode a plain ``open`` would give it (0644 under umask 022), not mkstemp's 0600. Any
    text is written: a lone surrogate is written as its escape (``\udc80``), never fatal."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as handle:
            handle.write(text)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def env_flag(name: str) -> bool:
    """An environment variable set to a true value (1, true, yes, on); false when unset or
    0, false, no, off; ValueError (saying what it expected) for anything else."""
    value = os.environ.get(name, "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"${name}={value!r}: expected 1/true/yes/on or 0/false/no/off")
