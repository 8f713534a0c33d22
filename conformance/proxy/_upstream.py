"""The upstream of a proxy: where a request goes (built from ``--upstream``'s parts only),
with which credentials, through which proxy, and the one aiohttp session that reaches it."""

from __future__ import annotations

import base64
import io
import urllib.parse
from collections.abc import Awaitable

import aiohttp
import yarl

from ..exchange import url_secrets
from ._http import CLIENT_DEFAULT_HEADERS, env_proxy

__all__ = ["Upstream"]

#: A request body larger than this goes upstream as a stream (aiohttp warns that bytes over
#: 1 MiB hold the event loop).
STREAMED_BODY_BYTES = 1024 * 1024


class Upstream:
    """``--upstream``: its scheme, authority and base path, taken apart once, so a request adds
    only its path (the scheme, host and port are never the client's to choose)."""

    def __init__(self, url: str, *, idle_timeout: float, keepalive: float) -> None:
        self.url = url.rstrip("/")
        self.idle_timeout = idle_timeout
        #: how long an idle connection is kept for the next request (``--upstream-keepalive``)
        self.keepalive = keepalive
        #: HTTP(S)_PROXY and NO_PROXY, as httpx and curl read them
        self.via = env_proxy(self.url)
        #: a key in --upstream's query, or a password in it or in the proxy's URL
        self.secrets = url_secrets(self.url) + (url_secrets(self.via) if self.via else ())
        origin = urllib.parse.urlsplit(self.url)
        self._origin = origin
        self._base_path, self._base_query = origin.path.rstrip("/"), origin.query
        self._host = yarl.URL(self.url, encoded=True)
        # --upstream's user information is sent as Basic credentials when the client sent none
        # (aiohttp refuses a URL's credentials beside an Authorization header: every request
        # was a 502), never in the URL
        userinfo, _, bare_netloc = origin.netloc.rpartition("@")
        self._wire_prefix = (
            f"{origin.scheme}://{origin.netloc}",
            f"{origin.scheme}://{bare_netloc}",
        )
        self._basic: str | None = None
        if userinfo:
            user, _, password = userinfo.partition(":")
            pair = f"{urllib.parse.unquote(user)}:{urllib.parse.unquote(password)}"
            self._basic = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
        self._session: aiohttp.ClientSession | None = None

    def url_of(self, path: str, query: str) -> str | None:
        """The upstream URL of a request for ``path`` (origin-form, dot-segments resolved);
        None if it would reach another authority all the same."""
        joined = "&".join(q for q in (self._base_query, query) if q)
        origin = self._origin
        url = f"{origin.scheme}://{origin.netloc}{self._base_path}{path}" + (
            f"?{joined}" if joined else ""
        )
        built = yarl.URL(url, encoded=True)
        if (built.scheme, built.raw_host, built.port, built.raw_user) != (
            self._host.scheme,
            self._host.raw_host,
            self._host.port,
            self._host.raw_user,
        ):
            return None
        return url

    def session(self) -> aiohttp.ClientSession:
        """The one session of the proxy's upstream connections (made in the event loop)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                # idle connections dropped before the upstream drops them (a request sent as
                # it closed one was a 502), checked when one is taken from the pool
                connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=self.keepalive),
                # no sock_read: the relay keeps ``idle_timeout`` itself, on one timer an
                # exchange (aiohttp's is a timer made and cancelled at every read)
                timeout=aiohttp.ClientTimeout(total=None, connect=30.0, sock_read=None),
                # no cookie jar: a cookie the upstream sets for one client went with every
                # other client's requests (each client's own Cookie header is forwarded as is)
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                # not trust_env: aiohttp would then add ~/.netrc credentials the client never
                # sent (and read the file on every request); the environment's proxy is taken
                # once (``via``)
                trust_env=False,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def request(
        self, method: str, url: str, headers: list[tuple[str, str]], body: bytes | bytearray
    ) -> Awaitable[aiohttp.ClientResponse]:
        """Send a request with the client's headers only (none of aiohttp's defaults), and
        ``--upstream``'s credentials when the client sent none."""
        sent_names = {name.lower() for name, _ in headers}
        if self._basic is not None and "authorization" not in sent_names:
            headers = [*headers, ("Authorization", self._basic)]
        return self.session().request(
            method,
            yarl.URL(url.replace(*self._wire_prefix, 1), encoded=True),
            headers=headers,
            data=(io.BytesIO(body) if len(body) > STREAMED_BODY_BYTES else bytes(body))
            if body
            else None,
            allow_redirects=False,
            skip_auto_headers=[h for h in CLIENT_DEFAULT_HEADERS if h.lower() not in sent_names],
            proxy=self.via,
        )
