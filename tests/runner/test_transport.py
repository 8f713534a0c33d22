"""Auth and transport: the key in another header, headers for every request, the base URL's
query kept, TLS and proxy options checked up front; no header value reaches a report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance import UsageError
from conformance.reference import DEFAULT_API_KEY, create_app, serve_in_thread
from conformance.runner import join_url, parse_header
from tests.helpers import cli, load_report


@pytest.mark.parametrize(
    ("base", "url"),
    [
        ("http://h/v1", "http://h/v1/models"),
        ("http://h/v1/", "http://h/v1/models"),
        ("http://h", "http://h/models"),
        (
            "https://x.openai.azure.com/openai/deployments/d?api-version=2024-10-21",
            "https://x.openai.azure.com/openai/deployments/d/models?api-version=2024-10-21",
        ),
    ],
)
def test_the_base_urls_query_goes_after_every_path(base: str, url: str) -> None:
    assert join_url(base, "/models") == url


def test_headers_read_variables_and_never_show_a_value() -> None:
    header = parse_header("OpenAI-Organization: ${ORG}", {"ORG": "org-123456"})
    assert (header.name, header.value, header.shown) == (
        "OpenAI-Organization",
        "org-123456",
        "${ORG}",
    )
    assert "org-123456" not in repr(header)
    assert parse_header("X-Team:  blue-team-7", {}).shown == "[REDACTED]"
    with pytest.raises(UsageError, match=r"the variable \$NOPE is not set"):
        parse_header("X: $NOPE", {})
    with pytest.raises(UsageError, match="is written 'Name: value'") as raised:
        parse_header("sk-secret-without-name", {})
    assert "sk-secret" not in str(raised.value)


def test_a_key_in_another_header_end_to_end(tmp_path: Path) -> None:
    with serve_in_thread(create_app(auth_header="api-key")) as url:
        base = ("run", "--base-url", url, "--api-key", DEFAULT_API_KEY, "--max-examples", "1")
        code, out, err = cli(*base, "--report-dir", str(tmp_path / "plain"))
        assert code == 2 and "the key was refused (401" in err, (out, err)
        code, out, _ = cli(*base, "--auth-header", "api-key", "--report-dir", str(tmp_path / "ok"))
    assert code == 0, out
    report = load_report(tmp_path / "ok")
    exchange = next(e for e in report["exchanges"] if e["id"] == "plain")
    assert ["api-key", "[REDACTED]"] in exchange["request"]["headers"]
    assert '-H "api-key: $CONFORMANCE_API_KEY"' in exchange["reproduce"]
    auth = next(c for c in report["checks"] if c["id"] == "AUTH-001")
    assert auth["status"] == "pass"


def test_extra_headers_and_the_query_reach_the_server_and_no_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEAM_TOKEN", "team-token-from-env")
    with serve_in_thread(create_app()) as url:
        code, out, _ = cli(
            "run",
            *("--base-url", url + "/?api-version=2024-10-21", "--api-key", DEFAULT_API_KEY),
            *("-H", "X-Team: $TEAM_TOKEN", "--header", "X-Literal: literal-header-secret"),
            *("--max-examples", "1", "--report-dir", str(tmp_path)),
        )
    assert code == 0, out
    report = load_report(tmp_path)
    exchange = next(e for e in report["exchanges"] if e["id"] == "plain")
    assert exchange["request"]["url"] == f"{url}/chat/completions?api-version=2024-10-21"
    headers = dict(exchange["request"]["headers"])
    assert headers["X-Team"] == headers["X-Literal"] == "[REDACTED]"
    assert "-H \"X-Team: $TEAM_TOKEN\" -H 'X-Literal: [REDACTED]'" in exchange["reproduce"]
    for path in tmp_path.rglob("*"):
        text = path.read_text(errors="replace")
        assert "team-token-from-env" not in text and "literal-header-secret" not in text, path
        assert DEFAULT_API_KEY not in text, path


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["--cacert", "/nonexistent/ca.pem"], "--cacert '/nonexistent/ca.pem': no such file"),
        (["--client-cert", "/nonexistent/c.pem"], "--client-cert '/nonexistent/c.pem': no such"),
        (["--proxy", "ftp://p"], "--proxy 'ftp://p' is not an http(s) or socks5 URL"),
        (  # a password in the URL is not repeated
            ["--proxy", "ftp://me:pw-SECRET@p"],
            "--proxy 'ftp://me:[REDACTED]@p' is not an http(s) or socks5 URL",
        ),
        (["--auth-header", "a: b"], "--auth-header 'a: b' is not a header name"),
        (["-H", "X: $CONFORMANCE_UNSET_VARIABLE"], "the variable $CONFORMANCE_UNSET_VARIABLE"),
        (["--tls-verify", "maybe"], "--tls-verify: invalid choice: 'maybe'"),
    ],
)
def test_bad_transport_flags_are_one_line(argv: list[str], line: str) -> None:
    code, _, err = cli("run", *argv)
    assert code == 2 and line in err and err.count("\n") == 1, err


def test_tls_options_reach_the_client(tmp_path: Path) -> None:
    from conformance.runner import Transport

    bundle = tmp_path / "ca.pem"
    bundle.write_text("not a certificate")
    assert Transport(verify=str(bundle)).client_options() == {"verify": str(bundle)}
    options = Transport(verify=False, proxy="http://p:3128", client_cert="c.pem").client_options()
    assert options == {"verify": False, "proxy": "http://p:3128", "cert": "c.pem"}
    assert json.dumps(options)  # plain data
    import ssl

    default = Transport().client_options()["verify"]
    assert isinstance(default, ssl.SSLContext) and default.verify_mode == ssl.CERT_REQUIRED
    assert Transport().client_options()["verify"] is default  # the CA bundle is read once


def test_the_shared_tls_context_follows_ssl_cert_file(monkeypatch: pytest.MonkeyPatch) -> None:
    import certifi

    from conformance.runner import Transport

    default = Transport().client_options()["verify"]
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())
    assert Transport().client_options()["verify"] is not default
