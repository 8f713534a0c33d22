"""What several test modules share: paths of the test data, and small helpers.

Test modules import from here, never from each other or from conftest (which holds fixtures).
"""

from __future__ import annotations

import functools
import io
import json
import re
import socket
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "spec" / "deepseek-chat-completions.yaml"
ERRATA = ROOT / "spec" / "deepseek-errata.overlay.yaml"
#: Everything the tests read, with its provenance (tests/data/README.md).
DATA = ROOT / "tests" / "data"
CAPTURES = DATA / "captures"
SEED = DATA / "seed" / "000_960365534726db65.txt"


def cli(*argv: str) -> tuple[int, str, str]:
    """Run the ``conformance`` command in-process: exit status, stdout, stderr."""
    from conformance._cli import main

    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


async def asgi_body(receive: Any) -> bytes:
    """The whole request body an ASGI app receives (for the small servers tests write)."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


def free_port() -> int:
    """A loopback port nobody listens on (for servers started in a subprocess)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def read_capture(name: str) -> tuple[int, dict[str, str], bytes]:
    """A raw ``NAME.response.http`` capture: status, headers (lower-cased names), body."""
    raw = (CAPTURES / f"{name}.response.http").read_bytes()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(re.split(r"\s+", lines[0])[1])
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    return status, headers, body


def load_report(directory: Path) -> dict[str, Any]:
    """report.json of a run, validated against the public report schema the package ships."""
    report = json.loads((directory / "report.json").read_text())
    _report_validator().validate(report)
    return report  # type: ignore[no-any-return]


@functools.cache
def _report_validator() -> Any:
    """The report schema's validator, formats checked (jsonschema-rs: the suite reads a
    report.json in ~150 tests, and the Python validator took 0.12 s a report)."""
    import jsonschema_rs

    from conformance.report import report_schema

    return jsonschema_rs.validator_for(report_schema(), validate_formats=True)


def run_against(report_dir: Path, *args: str, faults: tuple[str, ...] = ()) -> tuple[int, str, str]:
    """``conformance run`` against the reference server with ``faults`` switched on, its key
    given, the reports written to ``report_dir``; more flags in ``args``."""
    from conformance.reference import DEFAULT_API_KEY, create_app, serve_in_thread

    with serve_in_thread(create_app(faults=list(faults))) as url:
        return cli(
            "run",
            "--base-url",
            url,
            "--api-key",
            DEFAULT_API_KEY,
            "--report-dir",
            str(report_dir),
            *args,
        )


def chromium(profile: Path) -> list[str]:
    """The command line of headless Chromium (Debian's ``chromium``, which .ci/run installs),
    its user data in ``profile``."""
    import shutil

    import pytest

    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return [
                path,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
            ]
    pytest.skip("no Chromium here (Debian's 'chromium' package; .ci/run installs it)")


#: The smallest chat completions path item, for documents written in tests (YAML, indented
#: under ``paths:``).
CHAT_PATH = """  /chat/completions:
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [model, messages]
              properties:
                model: {type: string}
                messages: {type: array, minItems: 1, items: {type: object}}
                max_tokens: {type: integer}
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {type: object, required: [id], properties: {id: {type: string}}}
"""
