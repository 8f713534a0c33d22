"""Running the reference server on a loopback socket in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["serve_in_thread"]


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_in_thread(
    app: Any, *, host: str = "127.0.0.1", start_timeout: float = 20.0
) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free port; yields its base URL; stops it on exit."""
    import uvicorn

    port = _free_port(host)
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level="error", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name="conformance-reference", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the embedded reference server did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
