from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.contract import Contract, load_contract

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "spec" / "deepseek-chat-completions.yaml"
ERRATA = ROOT / "spec" / "deepseek-errata.overlay.yaml"
#: ../shared beside the checkout (CI lays a copy of it there too).
SHARED = ROOT.parent / "shared"
CAPTURES = SHARED / "captures"
SEED = SHARED / "seeds" / "000_960365534726db65.txt"


def need_shared(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is not here (the shared/ folder beside the checkout)")
    return path


def read_capture(name: str) -> tuple[int, dict[str, str], bytes]:
    """A raw ``NAME.response.http`` capture: status, headers (lower-cased names), body."""
    raw = need_shared(CAPTURES / f"{name}.response.http").read_bytes()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(re.split(r"\s+", lines[0])[1])
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    return status, headers, body


def load_report(directory: Path) -> dict[str, Any]:
    """report.json of a run, validated against the public report schema."""
    import json

    import jsonschema

    report = json.loads((directory / "report.json").read_text())
    schema = json.loads(need_shared(SHARED / "report.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(report)
    return report  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def deepseek() -> Contract:
    return load_contract(profile="deepseek")


@pytest.fixture(scope="session")
def literal() -> Contract:
    return load_contract(profile="literal")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def serve() -> Iterator[Callable[[Any], str]]:
    """Start an ASGI app on a real loopback socket (uvicorn in a thread); returns its URL."""
    import uvicorn

    servers: list[Any] = []

    def start(app: Any) -> str:
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        servers.append((server, thread))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=5)
