"""Reading a YAML or JSON document from a path or a URL, with errors a person can act on."""

from __future__ import annotations

import hashlib
import json
import pickle
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from .._errors import SpecError
from .._util import Kept

__all__ = ["RawDocument", "file_digest", "parse_text", "read_document"]

try:  # libyaml makes the 3 MB OpenAI document load in well under a second
    _BaseLoader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _BaseLoader = yaml.SafeLoader


class _Loader(_BaseLoader):  # type: ignore[valid-type,misc]
    """Safe YAML, but dates stay strings: an OpenAPI document is JSON data, and a JSON Schema
    ``const: 2024-01-01`` means the string."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}

#: Largest document we read (the official OpenAI spec is about 3 MB).
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, kw_only=True, slots=True)
class RawDocument:
    """A document as read: its name, bytes, digest and parsed data."""

    source: str
    uri: str
    content: bytes
    sha256: str
    data: Any


def _is_url(source: str) -> bool:
    return urlsplit(source).scheme in {"http", "https"}


def _fetch(url: str) -> bytes:
    import httpx

    too_big = f"is larger than the {MAX_DOCUMENT_BYTES} bytes we read"
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=30.0) as response:
            if response.status_code != 200:
                raise SpecError(
                    f"fetching the document gave HTTP {response.status_code}, expected 200",
                    source=url,
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > MAX_DOCUMENT_BYTES:
                raise SpecError(too_big, source=url)
            content = bytearray()
            for part in response.iter_bytes():  # decoded, so a compressed bomb stops here too
                content += part
                if len(content) > MAX_DOCUMENT_BYTES:
                    raise SpecError(too_big, source=url)
    except httpx.HTTPError as exc:
        raise SpecError(f"cannot fetch the document ({exc})", source=url) from None
    return bytes(content)


def read_document(source: str | Path) -> RawDocument:
    """Read and parse ``source`` (a path or an http(s) URL) as YAML or JSON."""
    name = str(source)
    if _is_url(name):
        content = _fetch(name)
        uri = name
    else:
        content = _local_bytes(name)
        uri = Path(name).resolve().as_uri()
    sha256 = hashlib.sha256(content).hexdigest()
    return RawDocument(
        source=name, uri=uri, content=content, sha256=sha256, data=_parsed(content, sha256, name)
    )


def _local_bytes(name: str) -> bytes:
    """The bytes of the local file ``name``, at most the cap; :class:`SpecError` saying why
    not (a directory, a device or FIFO that never ends, too large, missing, unreadable)."""
    path = Path(name)
    try:
        if path.is_dir():
            raise SpecError("is a directory, expected a YAML or JSON file", source=name)
        if not stat.S_ISREG(path.stat().st_mode):  # /dev/zero, a FIFO: never ends
            raise SpecError("is not a regular file (a device, a FIFO?)", source=name)
        size = path.stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            raise SpecError(
                f"is {size} bytes, larger than the {MAX_DOCUMENT_BYTES} bytes we read",
                source=name,
            )
        with path.open("rb") as handle:  # at most the cap, whatever the size said
            content = handle.read(MAX_DOCUMENT_BYTES + 1)
    except FileNotFoundError:
        raise SpecError("no such file", source=name) from None
    except PermissionError:
        raise SpecError("permission denied", source=name) from None
    except OSError as exc:
        raise SpecError(f"cannot read ({exc.strerror or exc})", source=name) from None
    if len(content) > MAX_DOCUMENT_BYTES:
        raise SpecError(f"is larger than the {MAX_DOCUMENT_BYTES} bytes we read", source=name)
    return content


def file_digest(source: str | Path) -> str | None:
    """The sha256 of a local file's bytes as :func:`read_document` reads them, or None: a
    URL, or a file that cannot be read (reading it for real then says why)."""
    name = str(source)
    if _is_url(name):
        return None
    try:
        return hashlib.sha256(_local_bytes(name)).hexdigest()
    except SpecError:
        return None


#: Parsed documents by the sha256 of their bytes, pickled: a process that loads the same
#: document again (the tests, a pytest session, ``report diff``) gets its own copy in a tenth
#: of the time a parse takes (the 3 MB OpenAI document: 1.8 s to parse, about 0.1 s to
#: unpickle), and never an object another caller could have changed.
_PARSED: Kept[str, bytes] = Kept(8)


def _parsed(content: bytes, sha256: str, source: str) -> Any:
    blob = _PARSED.get(sha256)
    if blob is not None:
        return pickle.loads(blob)
    data = parse_text(content, source=source)
    if len(content) > 64 * 1024:  # small ones parse faster than a pickle round trip
        try:
            blob = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
        except RecursionError:  # deep but parseable: not kept
            return data
        _PARSED.put(sha256, blob)
    return data


def parse_text(content: bytes, *, source: str) -> Any:
    """Parse bytes as JSON (when they look like it) or YAML; errors name the line."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpecError(f"is not UTF-8 text (byte {exc.start})", source=source) from None
    stripped = text.lstrip()
    too_deep = SpecError("is nested too deeply to be read", source=source)
    if stripped.startswith(("{", "[")):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            pass  # YAML is a superset of most JSON; let it report the error
        except RecursionError:
            raise too_deep from None
    try:
        return yaml.load(text, Loader=_Loader)
    except RecursionError:
        raise too_deep from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = exc.problem or str(exc)
        raise SpecError(f"is not valid YAML or JSON: {problem}{where}", source=source) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"is not valid YAML or JSON: {exc}", source=source) from None
