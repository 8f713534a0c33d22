"""The redaction policy: which headers, query parameters and URL parts hold secrets, and the
scrubbing of known secret values from what a server sends back, however it writes them.

A policy, not a list of cases: a header or a query parameter is a secret when its name is a
known credential name or *contains* ``key``, ``token``, ``secret``, ``signature``, ``auth``,
``password`` or ``cookie`` (``Ocp-Apim-Subscription-Key``, ``X-Auth-Token``,
``?subscription-key=``), or is ``sig`` (Azure SAS); a URL's user information is. The values
of such headers and parameters, and the key, are then scrubbed from responses:

- as written, and with any character written as a JSON escape (``\\u0073k-...``, ``\\/``) or
  percent-encoded (``sk%2D...``);
- split across the string values of one JSON member name (a model streaming the key token by
  token in ``content`` deltas: each value that carries a part is replaced);
- the value taken without the whitespace around it (``Bearer  KEY``).

What a report shows of a scrubbed value is ``[REDACTED]``.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable

__all__ = [
    "REDACTED",
    "SECRET_HEADERS",
    "Scrubber",
    "header_secrets",
    "is_secret_name",
    "redact_headers",
    "redact_url",
    "scrub",
    "url_secrets",
]

REDACTED = "[REDACTED]"
#: Credential headers by their full names; any name :func:`is_secret_name` accepts is one too.
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "api-key",
        "x-api-key",
        "openai-api-key",
        "cookie",
        "set-cookie",
        "x-goog-api-key",
        "ocp-apim-subscription-key",
        "x-auth-token",
    }
)
#: A name that contains one of these is a secret's (headers and query parameters alike).
_SECRET_PART = re.compile(r"key|token|secret|signature|auth|password|passwd|cookie", re.I)
#: Short names that are secrets' whole (Azure SAS's ``sig``).
_SECRET_WHOLE = frozenset({"sig", "code", "pwd", "session", "sid"})
#: Shorter values are not scrubbed from responses (they would match ordinary text).
MIN_SECRET = 6


def is_secret_name(name: str) -> bool:
    """Whether a header or query parameter named ``name`` carries a secret."""
    lowered = name.strip().lower()
    return (
        lowered in SECRET_HEADERS
        or lowered in _SECRET_WHOLE
        or _SECRET_PART.search(lowered) is not None
    )


def redact_headers(headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Headers with every secret's value replaced (the scheme of an Authorization is kept)."""
    out = []
    for name, value in headers:
        if is_secret_name(name):
            scheme = value.strip().split(None, 1)[0] if " " in value.strip() else ""
            value = f"{scheme} {REDACTED}" if scheme.lower() in {"bearer", "basic"} else REDACTED
        out.append((name, value))
    return tuple(out)


def header_secrets(headers: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """The secret values in ``headers`` (by :func:`is_secret_name`), to scrub from echoes: the
    credential without its scheme (``Bearer``), each cookie's value, the whole value."""
    found: list[str] = []
    for name, value in headers:
        if not is_secret_name(name):
            continue
        value = value.strip()
        found.append(value)
        parts = value.split(None, 1)
        if len(parts) == 2 and parts[0].lower() in {"bearer", "basic", "token", "key"}:
            found.append(parts[1].strip())
        if name.lower() in ("cookie", "set-cookie"):
            for crumb in value.split(";"):
                found.append(crumb.partition("=")[2].strip())
    return tuple(dict.fromkeys(s for s in found if len(s) >= MIN_SECRET))


#: A query parameter (``name=value``), after ``?`` or ``&``.
_PARAMETER = re.compile(r"(?<=[?&])([^=&#]*)=([^&#]*)")
#: A URL's user information (``https://user:password@host/`` or ``https://token@host/``).
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)([^/?#@]*)@")


def redact_url(url: str) -> str:
    """``url`` with its secrets replaced: the value of each secret query parameter
    (``?subscription-key=[REDACTED]``) and its user information (``user:[REDACTED]@``; a lone
    user name, often a token, is redacted whole): what reports, messages and replays show."""
    if "@" in url:
        url = _USERINFO.sub(_redacted_userinfo, url, count=1)
    if "?" in url:
        url = _PARAMETER.sub(
            lambda m: f"{m[1]}={REDACTED}" if _secret_parameter(m[1]) else m[0], url
        )
    return url


def _redacted_userinfo(match: re.Match[str]) -> str:
    user, colon, _ = match[2].partition(":")
    return f"{match[1]}{user}:{REDACTED}@" if colon else f"{match[1]}{REDACTED}@"


def _secret_parameter(name: str) -> bool:
    from urllib.parse import unquote_plus

    return is_secret_name(unquote_plus(name))


def url_secrets(url: str) -> tuple[str, ...]:
    """The secrets :func:`redact_url` hides in ``url`` (which may be a bare query string), as
    sent (percent-encoded) and as read, to scrub from what a server echoes."""
    from urllib.parse import unquote, unquote_plus

    userinfo = _USERINFO.match(url)
    found = []
    if userinfo:
        user, colon, password = userinfo[2].partition(":")
        found.append(password if colon else user)
        # what an HTTP client sends of it: Authorization: Basic base64(user:password)
        basic = f"{unquote(user)}:{unquote(password)}".encode()
        found.append(base64.b64encode(basic).decode("ascii"))
    query = url if "?" in url or "://" in url else "?" + url
    query = query.partition("#")[0]
    found += [m[2] for m in _PARAMETER.finditer(query) if _secret_parameter(m[1])]
    return tuple(
        s for v in found for s in dict.fromkeys((v, unquote(v), unquote_plus(v))) if s.strip()
    )


def _char_pattern(char: str) -> str:
    """One character of a secret, however a JSON string or a URL may write it."""
    code = ord(char)
    ways = [re.escape(char)]
    if code < 0x10000:
        ways.append(rf"\\u{code:04x}")
    if char == "/":
        ways.append(r"\\/")
    ways += ["".join(f"%{b:02x}" for b in char.encode("utf-8"))]
    return "(?:" + "|".join(ways) + ")"


#: A JSON member whose value is a string: ``"name": "value"`` (both raw, as written).
_MEMBER = re.compile(r'"((?:[^"\\]|\\.){1,64})"\s*:\s*"((?:[^"\\]|\\.)*)"', re.S)
#: The largest body whose split secrets are searched (each JSON string member's values joined).
MAX_SPLIT_SEARCH = 1024 * 1024


class Scrubber:
    """Replaces known secret values in bytes a server sent (see the module's docstring).
    Compiled once for a set of secrets; shorter ones than :data:`MIN_SECRET` are ignored."""

    def __init__(self, secrets: Iterable[str]) -> None:
        wanted = sorted(
            {s.strip() for s in secrets if len(s.strip()) >= MIN_SECRET}, key=len, reverse=True
        )
        self.secrets = tuple(wanted)
        self._plain = tuple(s.encode("utf-8", "surrogatepass") for s in wanted)
        self._pattern = (
            re.compile("|".join("".join(map(_char_pattern, s)) for s in wanted), re.I)
            if wanted
            else None
        )

    def __bool__(self) -> bool:
        return bool(self.secrets)

    def scrub_bytes(self, data: bytes) -> bytes:
        """``data`` with every secret replaced by ``[REDACTED]``."""
        if self._pattern is None or not data:
            return data
        for plain in self._plain:  # the common case, at bytes.replace's speed
            data = data.replace(plain, REDACTED.encode())
        if b"\\" in data or b"%" in data:
            text = self._pattern.sub(REDACTED, data.decode("latin-1"))
            data = text.encode("latin-1", "replace")
        if b'"' in data and len(data) <= MAX_SPLIT_SEARCH:
            data = self._split(data)
        return data

    def scrub_text(self, text: str) -> str:
        """``text`` with every secret replaced (a URL, a header value, a message)."""
        if self._pattern is None or not text:
            return text
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return self._pattern.sub(REDACTED, text) if "\\" in text or "%" in text else text

    def _split(self, data: bytes) -> bytes:
        """A secret cut across the string values of one JSON member name (a stream's deltas):
        each value that carries a part of it is replaced whole."""
        raw = data.decode("latin-1")
        groups: dict[str, list[tuple[int, int, str]]] = {}
        for match in _MEMBER.finditer(raw):
            groups.setdefault(match[1], []).append((match.start(2), match.end(2), match[2]))
        cuts: list[tuple[int, int]] = []
        for values in groups.values():
            if len(values) < 2:
                continue
            decoded = [_json_string(v) for *_, v in values]
            joined = "".join(decoded)
            if not any(s in joined for s in self.secrets):
                continue
            starts = []
            at = 0
            for text in decoded:
                starts.append(at)
                at += len(text)
            for secret in self.secrets:
                for found in re.finditer(re.escape(secret), joined):
                    for (start, end, _), begin, text in zip(values, starts, decoded, strict=True):
                        if begin < found.end() and begin + len(text) > found.start():
                            cuts.append((start, end))
        if not cuts:
            return data
        out, last = [], 0
        for start, end in sorted(set(cuts)):
            if start < last:
                continue
            out += [raw[last:start], REDACTED]
            last = end
        out.append(raw[last:])
        return "".join(out).encode("latin-1", "replace")


def _json_string(raw: str) -> str:
    """A JSON string's raw content, decoded (as it is, when it is not valid JSON)."""
    if "\\" not in raw:
        return raw
    try:
        value = json.loads(f'"{raw}"')
    except ValueError:
        return raw
    return value if isinstance(value, str) else raw


def scrub(data: bytes, secrets: Iterable[str]) -> bytes:
    """``data`` with the ``secrets`` replaced, should the server echo them (in an error
    message, say), however written: what a response says goes into reports."""
    return Scrubber(secrets).scrub_bytes(data)
