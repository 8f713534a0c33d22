"""The validating proxy, assembled: :func:`create_proxy_app` builds the relay (the ASGI app,
:mod:`._relay`), its upstream (:mod:`._upstream`), the checks (:mod:`._judge`) and what they
share (:class:`ProxyState`, :mod:`._state`); uvicorn serves it with :data:`UVICORN_OPTIONS`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .._errors import UsageError
from .._serving import uvicorn_options
from ..runner import Transport
from ._http import matcher
from ._judge import Judge
from ._observe import Observer
from ._relay import Relay, RelayLimits
from ._state import _REPLICA, JUDGE_AT_SHUTDOWN_S, ProxyState
from ._upstream import Upstream

if TYPE_CHECKING:
    from ..contract import Contract

__all__ = ["UVICORN_OPTIONS", "ProxyState", "Relay", "create_proxy_app"]

#: How uvicorn must serve the proxy: by default it adds its own ``Server`` and ``Date`` headers
#: to every answer, beside the upstream's (a client saw both twice); and the proxy needs no
#: X-Forwarded-* handling nor an access log line per request.
#: Served with the guarded protocol (:mod:`conformance._serving`): origin-form request targets
#: only, bounded request heads, a deadline for them, and a cap on connections.
UVICORN_OPTIONS: dict[str, Any] = {
    "server_header": False,
    "date_header": False,
    "proxy_headers": False,
    "access_log": False,
    **uvicorn_options(),
}
#: The largest request body forwarded (a chat request is a few KB; 413 beyond, before it is
#: read when its Content-Length says so).
MAX_REQUEST_BYTES = 16 * 1024 * 1024
#: The longest wait for the upstream's next bytes (headers or body), as ``run``'s idle limit:
#: a hung upstream stream is let go, and reported, within a minute.
UPSTREAM_IDLE_S = 60.0
#: The longest wait for a client to take the next piece of an answer: a client that stops
#: reading is let go, and the upstream connection with it.
CLIENT_WRITE_TIMEOUT_S = 60.0
#: How long an idle connection to the upstream is kept for the next request: under the 5 s
#: after which uvicorn (vLLM, SGLang, LiteLLM), llama.cpp's server and Node.js close an idle
#: connection. Kept longer, a request sent on a connection the upstream was closing at that
#: instant failed (a 502 the proxy made; 2 streams of 6,400 in a benchmark with gaps of
#: 4.97 s), and a POST is not retried (RFC 9112 9.3.1: it may have been applied).
UPSTREAM_KEEPALIVE_S = 4.0
#: The memory the exchanges waiting for the checks may take, in all (bytes): when the checks
#: fall behind the traffic, an exchange beyond this is forwarded as ever but not judged, and
#: counted, so the proxy's memory stays bounded however long the checks lag. An exchange
#: weighs its kept bytes plus ``EXCHANGE_OVERHEAD`` (:mod:`._relay`).
MAX_BACKLOG_BYTES = 64 * 1024 * 1024


def create_proxy_app(
    *,
    contract: Contract,
    upstream: str,
    report_dir: str | Path | None = None,
    flush_every: int = 0,
    auth_header: str = "Authorization",
    max_bytes: int = 8 * 1024 * 1024,
    timeout: float = UPSTREAM_IDLE_S,
    write_timeout: float = CLIENT_WRITE_TIMEOUT_S,
    upstream_keepalive: float = UPSTREAM_KEEPALIVE_S,
    max_request_bytes: int = MAX_REQUEST_BYTES,
    max_backlog_bytes: int = MAX_BACKLOG_BYTES,
    on_exit: Callable[[ProxyState], object] | None = None,
    judge_in: Literal["process", "thread"] = "process",
    observer: Observer | None = None,
    sample: float = 1.0,
    replica: str | None = None,
    judge_at_shutdown: float = JUDGE_AT_SHUTDOWN_S,
    checks_on_idle_cpu: bool = True,
) -> Relay:
    """The proxy of ``upstream`` for ``contract``'s certified operations: a :class:`Relay`,
    whose ``state`` is the :class:`ProxyState`; serve it with :data:`UVICORN_OPTIONS` (or the
    client gets uvicorn's ``Server`` and ``Date`` headers too). The report is written at
    shutdown (``on_exit`` is called then) and every ``flush_every`` checked exchanges, by the
    checks' process. ``judge_in``: ``process`` (a worker process with its own contract: the
    checks never hold the proxy's GIL) or ``thread`` (tests). ``max_backlog_bytes``: the kept
    copies that may wait for the checks (beyond: forwarded, not judged, counted).
    ``timeout``: the longest wait for the upstream's next bytes; ``write_timeout``: for a
    client to take the next piece; ``upstream_keepalive``: how long an idle upstream
    connection is kept (keep it under the upstream's own idle timeout);
    ``max_request_bytes``: the largest request body (413).
    Targets that are not a path, or climb above the upstream's base path, get a 400.
    ``observer``: metrics and log lines; ``sample``: the fraction judged (all forwarded);
    ``replica``: the prefix of exchange ids; ``judge_at_shutdown``: how long exchanges read
    whole may wait for the checks at shutdown; ``checks_on_idle_cpu``: the checks process on
    SCHED_IDLE (the default: it never takes CPU a client's bytes need, and a machine kept busy
    by other work starves it until it eases) or at nice 10. The upstream is reached through
    ``HTTPS_PROXY``/``HTTP_PROXY`` unless ``NO_PROXY`` covers it.

    The worker is *spawned*: a script that calls this must guard its entry point (``if
    __name__ == "__main__":``), or the worker would run it again."""
    if replica is not None and not _REPLICA.fullmatch(replica):
        raise UsageError(f"--replica {replica!r}: use 1 to 64 letters, digits, '.', '_' or '-'")
    if judge_in not in ("process", "thread"):
        raise UsageError(f"judge_in {judge_in!r}: 'process' or 'thread'")
    state = ProxyState(
        contract=contract,
        upstream=upstream.rstrip("/"),
        report_dir=Path(report_dir) if report_dir is not None else None,
        flush_every=flush_every,
        sample=sample,
    )
    if replica is not None:
        state.replica = replica
    observe = observer if observer is not None else Observer()
    return Relay(
        state=state,
        judge=Judge(
            contract=contract,
            state=state,
            observer=observe,
            in_thread=judge_in == "thread",
            idle=checks_on_idle_cpu,
        ),
        observer=observe,
        upstream=Upstream(state.upstream, idle_timeout=timeout, keepalive=upstream_keepalive),
        match=matcher(contract.certified_operations()),
        limits=RelayLimits(
            max_bytes=max_bytes,
            write_timeout=write_timeout,
            max_request_bytes=max_request_bytes,
            max_backlog_bytes=max_backlog_bytes,
            sample=sample,
        ),
        transport=Transport(auth_header=auth_header),
        on_exit=on_exit,
        judge_at_shutdown=judge_at_shutdown,
    )
