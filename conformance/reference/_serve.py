"""Running the reference server on a loopback socket in a background thread."""

from __future__ import annotations

import socket
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from .._errors import ServerStartError

__all__ = ["serve_in_thread"]


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_in_thread(
    app: Any,
    *,
    host: str = "127.0.0.1",
    start_timeout: float = 20.0,
    stop_timeout: float = 10.0,
    options: Mapping[str, Any] | None = None,
) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free port; yields its base URL; stops it on exit.
    :class:`ServerStartError` when it cannot listen or does not start in ``start_timeout``; a
    ``ResourceWarning`` when it has not stopped ``stop_timeout`` seconds after (an app that
    never yields to its event loop: its thread goes on). ``options``: more ``uvicorn.Config``
    settings (the proxy's :data:`~conformance.proxy.UVICORN_OPTIONS`)."""
    import uvicorn

    try:
        port = _free_port(host)
    except OSError as exc:
        raise ServerStartError(
            f"the embedded reference server cannot listen on {host} ({exc.strerror or exc})"
        ) from None
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="error",
            lifespan="auto",  # an app that keeps resources (the proxy) closes them
            timeout_graceful_shutdown=1,
            **(options or {}),
        )
    )
    thread = threading.Thread(target=server.run, name="conformance-reference", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(timeout=10)
            raise ServerStartError(
                f"the embedded reference server did not start on {host}:{port} within "
                f"{start_timeout:g} s"
            )
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=stop_timeout)
        if thread.is_alive():  # an app that never yields keeps its thread (and a core) busy
            warnings.warn(
                f"the server on {host}:{port} did not stop within {stop_timeout:g} s; its "
                "thread goes on",
                ResourceWarning,
                stacklevel=3,
            )
