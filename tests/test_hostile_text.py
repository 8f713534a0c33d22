"""Any text a server sends reaches every output written, parseable and inert: a lone
surrogate lost the report (the writer raised), an ESC sequence or a bidi override reached the
terminal, a NUL made junit.xml unreadable, ``<script>`` went raw into summary.md."""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import junitparser
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from conformance._cli import main

#: What must never reach a terminal raw: C0 but tab and newline, DEL, C1, bidi, surrogates.
RAW_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
NASTY = [
    "\udc80",
    "\ud83d",
    "\x1b[2J",
    "\x1b]0;pwned\x07",
    "\x07",
    "\u202e",
    "\x00",
    "\x0c",
    "\r",
    "\ufffe",
    "\x85",
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "[x](javascript:alert(1))",
    "![i](http://evil.example/i.png)",
    "`",
    "``",
    "|",
    "]]>",
    "&amp;",
    "\n# heading",
]
hostile = st.lists(
    st.one_of(st.sampled_from(NASTY), st.characters(exclude_categories=())), max_size=12
).map("".join)


def _record(directory: Path, text: str) -> Path:
    """An SSE answer that quotes ``text`` where checks report it (id, model, a bad field)."""
    chunk = {
        "id": text,
        "object": "chat.completion.chunk",
        "created": 1,
        "model": text,
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": text}],
    }
    path = directory / "answer.sse"
    # ASCII JSON with \\u escapes: the file is valid UTF-8, the strings hold what they hold
    path.write_text(f"data: {json.dumps(chunk)}\n\ndata: {json.dumps({'x': text})}\n\n")
    return path


def _check_outputs(directory: Path, out: str, err: str) -> None:
    assert not RAW_CONTROL.search(out), repr(out[:500])
    assert not RAW_CONTROL.search(err), repr(err[:500])
    raw = (directory / "report.json").read_bytes()
    json.loads(raw)
    orjson.loads(raw)  # strict: refuses lone-surrogate escapes
    junit = directory / "junit.xml"
    ET.parse(junit)
    junitparser.JUnitXml.fromfile(str(junit))
    summary = (directory / "summary.md").read_text(encoding="utf-8")
    rendered = MarkdownIt("commonmark", {"html": True}).enable("table").render(summary)
    for markup in ("<script", "<img", "<a ", "javascript:"):
        assert markup not in _outside_code(rendered), (markup, rendered)
    html = (directory / "report.html").read_text(encoding="utf-8")
    assert "<script>alert(1)" not in html and "<img src=x" not in html


def _outside_code(rendered: str) -> str:
    return re.sub(r"<code>.*?</code>", "", rendered, flags=re.S)


def test_a_lone_surrogate_in_a_stream_loses_no_report(tmp_path: Path) -> None:
    """The issue's reproduction: ``data: {"id":"\\udc80"}`` ended in a traceback."""
    answer = tmp_path / "s.sse"
    answer.write_bytes(b'data: {"id":"\\udc80"}\n\n')
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["validate", str(answer), "--report-dir", str(tmp_path / "r")], stdout=out, stderr=err
    )
    assert code == 1, err.getvalue()
    for name in ("report.json", "junit.xml", "report.html", "summary.md", "badge.svg"):
        assert (tmp_path / "r" / name).exists(), name
    _check_outputs(tmp_path / "r", out.getvalue(), err.getvalue())
    assert "\\udc80" in out.getvalue()  # shown as an escape, not lost


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=hostile)
def test_any_text_from_a_server_reaches_every_output_written_and_inert(
    text: str, tmp_path: Path
) -> None:
    directory = tmp_path / "reports"
    answer = _record(tmp_path, text)
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["validate", str(answer), "--report-dir", str(directory), "-v"], stdout=out, stderr=err
    )
    assert code == 1, err.getvalue()
    _check_outputs(directory, out.getvalue(), err.getvalue())


def test_a_hostile_report_renders_inert_in_a_browser(tmp_path: Path) -> None:
    """report.html was safe: kept so, proved in Chromium with the hostile text of a server
    (a script that would retitle the page, an image whose error handler would)."""
    import subprocess

    from tests.helpers import chromium

    flags = chromium(tmp_path / "profile")
    attack = (
        "<script>document.title='pwned'</script>"
        "<img src=x onerror=\"document.title='pwned'\">\u202e\x1b[2J\udc80"
    )
    answer = _record(tmp_path, attack)
    directory = tmp_path / "reports"
    code = main(
        ["validate", str(answer), "--report-dir", str(directory)],
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    assert code == 1
    url = (directory / "report.html").resolve().as_uri()
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "<title>Conformance report: fail</title>" in dom.stdout
    assert "pwned</title>" not in dom.stdout and '<img src="x"' not in dom.stdout
    assert "document.title=" in dom.stdout  # shown as text


ATTACK = (
    "\x1b]0;pwned\x07\x1b[2J\u202e<script>alert(1)</script>[x](javascript:alert(1))"
    '<img src=x onerror="alert(1)">\udc80'
)


def test_a_model_id_from_the_server_never_reaches_the_terminal_raw(tmp_path: Path) -> None:
    """GET /models' ids were printed as they were: an OSC title, a clear screen, U+202E."""
    from conformance.reference import serve_in_thread
    from tests.helpers import asgi_body

    async def server(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await asgi_body(receive)
        listing = {"object": "list", "data": [{"id": ATTACK, "object": "model", "owned_by": "x"}]}
        status = 200 if scope["path"].endswith("/models") else 400
        body = listing if status == 200 else {"error": {"message": f"no model {ATTACK}"}}
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": json.dumps(body).encode()})

    with serve_in_thread(server) as url:
        out, err = io.StringIO(), io.StringIO()
        code = main(
            ["run", "--base-url", url, "--api-key", "k", "--report-dir", str(tmp_path)],
            stdout=out,
            stderr=err,
        )
    assert code == 2 and "was refused" in err.getvalue()  # the model, in the server's words
    assert not RAW_CONTROL.search(out.getvalue() + err.getvalue()), err.getvalue()
    assert "\\x1b]0;pwned\\x07" in err.getvalue()  # shown, escaped


def test_the_matrix_markdown_renders_no_server_markup(tmp_path: Path) -> None:
    answer = _record(tmp_path, ATTACK)
    directory = tmp_path / "reports"
    main(
        ["validate", str(answer), "--report-dir", str(directory)],
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    out = io.StringIO()
    assert main(["report", "matrix", str(directory)], stdout=out, stderr=io.StringIO()) == 0
    rendered = MarkdownIt("commonmark", {"html": True}).enable("table").render(out.getvalue())
    outside = _outside_code(rendered)
    for markup in ("<script", "<img", "<a ", "javascript:"):
        assert markup not in outside, (markup, rendered)
    assert not RAW_CONTROL.search(out.getvalue())
