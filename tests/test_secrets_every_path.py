"""A distinctive secret sent by every path a secret can take, through ``conformance run`` and
through the proxy, and echoed back by a server in every way a server can (headers, body, error,
stream, split across events, JSON-escaped, percent-encoded), is in no file either writes, nor
on stdout or stderr. Each path below got past the scrubbing before the redaction policy."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance.contract import load_contract
from conformance.proxy import UVICORN_OPTIONS, create_proxy_app
from conformance.reference import serve_in_thread
from tests.helpers import asgi_body, cli

#: One secret per path; the tests grep for each one's distinctive part (after its first
#: character, which a server may JSON-escape).
SECRETS = {
    "api_key": "sk-CANARY-apikey-7f3a9",
    "env_header": "CANARY-envheader-51c2e",
    "subscription": "CANARY-subscription-9d8e",
    "x_auth": "CANARY-xauthtoken-0b4c",
    "cookie": "CANARY-cookie-6a1f",
    "query": "CANARY-query-c0ffee",
    "sig": "CANARY-sig-2e7d",
    "userinfo": "CANARY-userinfo-77aa",
}


def _escaped(text: str) -> str:
    """``text`` with its first character as a JSON escape (``\\u0073k-...``)."""
    return f"\\u{ord(text[0]):04x}" + text[1:]


def echoing_server() -> Any:
    """A chat server that leaks every secret it was sent, every way it can."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await asgi_body(receive)
        sent = [v.decode("latin-1") for _, v in scope["headers"]]
        sent += [v for _, v in urllib.parse.parse_qsl(scope["query_string"].decode())]
        values = [v.split(" ", 1)[-1].strip() for v in sent if "CANARY" in v]
        values += [c.split("=", 1)[1] for v in sent if "CANARY-cookie" in v for c in v.split(";")]
        values = [v for v in values if "=" not in v]
        echo = [(b"x-echo-" + str(i).encode(), v.encode("latin-1")) for i, v in enumerate(values)]
        echo.append((b"set-cookie", b"session=" + SECRETS["cookie"].encode() + b"; HttpOnly"))
        path = scope["path"]
        if path.endswith("/models"):
            listing = {"object": "list", "data": [{"id": "m", "object": "model", "owned_by": "x"}]}
            await _answer(send, 200, [(b"content-type", b"application/json"), *echo], listing)
            return
        request = json.loads(body or b"{}")
        if request.get("stream"):
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"text/event-stream"), *echo],
                }
            )
            for value in values:  # each secret in three deltas, and once JSON-escaped
                third = len(value) // 3
                pieces = [value[:third], value[third : 2 * third], value[2 * third :]]
                pieces.append(_escaped(value))
                for piece in pieces:
                    text = json.dumps(piece) if not piece.startswith("\\u") else f'"{piece}"'
                    chunk = (
                        '{"id":"c","object":"chat.completion.chunk","created":1,"model":"m",'
                        f'"choices":[{{"index":0,"delta":{{"content":{text}}}}}]}}'
                    )
                    await send(
                        {
                            "type": "http.response.body",
                            "body": f"data: {chunk}\n\n".encode(),
                            "more_body": True,
                        }
                    )
            await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})
            return
        wrong = any("wrong-key" in v for v in sent) or b"authorization" not in dict(
            scope["headers"]
        )
        if wrong:  # the wrong key or none: an error that quotes every header it was sent
            error = {"error": {"message": "Incorrect API key: " + " ".join(sent)}}
            await _answer(send, 401, [(b"content-type", b"application/json"), *echo], error)
            return
        quoted = " ".join(_escaped(v) for v in values) + " " + urllib.parse.quote(" ".join(values))
        text = (
            '{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,'
            f'"message":{{"role":"assistant","content":"{quoted}"}},"finish_reason":"stop"}}],'
            '"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}'
        )
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), *echo],
            }
        )
        await send({"type": "http.response.body", "body": text.encode()})

    return app


async def _answer(send: Any, status: int, headers: list[Any], body: Any) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": json.dumps(body).encode()})


def _leaks(directory: Path, *texts: str) -> list[str]:
    found = []
    for name, secret in SECRETS.items():
        needle = secret[1:]
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            if needle in path.read_text(encoding="utf-8", errors="replace"):
                found.append(f"{name} in {path.name}")
        found += [f"{name} in output {i}" for i, text in enumerate(texts) if needle in text]
    return found


@pytest.mark.parametrize("key_by", ["flag", "environment"])
def test_no_secret_leaves_a_run_by_any_path(
    key_by: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key by --api-key in Authorization, or by $CONFORMANCE_API_KEY in the header
    --auth-header names (bare, as Azure's api-key)."""
    monkeypatch.setenv("CANARY_HEADER", SECRETS["env_header"])
    if key_by == "flag":
        key = ["--api-key", SECRETS["api_key"]]
    else:
        monkeypatch.setenv("CONFORMANCE_API_KEY", SECRETS["api_key"])
        key = ["--auth-header", "X-Api-Key"]
    with serve_in_thread(echoing_server()) as url:
        base = url.replace("http://", f"http://me:{SECRETS['userinfo']}@") + (
            f"/v1?subscription-key={SECRETS['query']}&sig={SECRETS['sig']}"
        )
        code, out, err = cli(
            "run",
            "--base-url",
            base,
            *key,
            "-H",
            "X-Env: $CANARY_HEADER",
            "-H",
            f"Ocp-Apim-Subscription-Key: {SECRETS['subscription']}",
            "-H",
            f"X-Auth-Token: {SECRETS['x_auth']}",
            "-H",
            f"Cookie: session={SECRETS['cookie']}",
            "--phases",
            "scenarios,auth",
            "--max-requests",
            "40",
            "--report-dir",
            str(tmp_path / "reports"),
            "-v",
        )
    assert code in (0, 1), err
    assert (tmp_path / "reports" / "report.json").exists()
    assert _leaks(tmp_path, out, err) == []


def test_no_secret_leaves_the_proxy_by_any_path(tmp_path: Path) -> None:
    with serve_in_thread(echoing_server()) as upstream:
        target = upstream.replace("http://", f"http://me:{SECRETS['userinfo']}@") + (
            f"?sig={SECRETS['sig']}"
        )
        app = create_proxy_app(
            contract=load_contract(),
            upstream=target,
            report_dir=tmp_path / "reports",
            checks_on_idle_cpu=False,  # a loaded machine would starve it: this test waits
        )
        with serve_in_thread(app, options=UVICORN_OPTIONS) as url:
            headers = {
                "Authorization": f"Bearer  {SECRETS['api_key']}",  # two spaces
                "Ocp-Apim-Subscription-Key": SECRETS["subscription"],
                "X-Auth-Token": SECRETS["x_auth"],
                "Cookie": f"session={SECRETS['cookie']}",
            }
            query = f"?subscription-key={SECRETS['query']}"
            with httpx.Client(timeout=10, headers=headers) as client:
                chat = {"model": "m", "messages": [{"role": "user", "content": "Hi"}]}
                client.post(url + "/v1/chat/completions" + query, json=chat)
                client.post(url + "/v1/chat/completions" + query, json={**chat, "stream": True})
                client.get(url + "/v1/models" + query)
            app.state.settle()
    assert app.state.judged, app.state.report()["run"]["notes"]
    assert (tmp_path / "reports" / "report.json").exists()
    assert _leaks(tmp_path) == []


def test_a_key_refused_at_the_preflight_is_not_printed(tmp_path: Path) -> None:
    """The server quotes the refused key in its error, JSON-escaped, split by spaces it kept."""
    key = SECRETS["api_key"]

    async def refusing(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        sent = dict(scope["headers"]).get(b"authorization", b"").decode()
        message = f"Incorrect API key provided: {_escaped(sent.split()[-1])} ({sent!r})"
        text = '{"error": {"message": "' + message.replace('"', "'") + '"}}'
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": text.encode()})

    with serve_in_thread(refusing) as url:
        code, out, err = cli(
            "run", "--base-url", url, "--api-key", key, "--report-dir", str(tmp_path / "r")
        )
    assert code == 2 and "the key was refused" in err, err
    assert key[1:] not in out + err
