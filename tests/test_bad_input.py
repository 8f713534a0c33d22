"""Every command, every kind of bad input: one clear line on stderr and exit 2, never a
traceback."""

from __future__ import annotations

import socket

import pytest

from tests.helpers import cli


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("bad")
    (d / "notyaml.yaml").write_text("a: [\n  b: }\n")
    (d / "notoas.yaml").write_text("hello: world\n")
    (d / "badref.yaml").write_text(
        "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /chat/completions:\n    post:\n"
        "      responses:\n        '200': {description: ok, content: {application/json: {schema: {$ref: '#/nope'}}}}\n"
    )
    (d / "nomatch.yaml").write_text(
        "overlay: 1.0.0\ninfo: {title: t, version: '1'}\nactions:\n  - target: $.nowhere\n    update: {a: 1}\n"
    )
    (d / "notoverlay.yaml").write_text("openapi: 3.1.0\n")
    (d / "binary.bin").write_bytes(b"\x00\x01\x02\xff")
    return {p.stem: str(p) for p in d.iterdir()} | {
        "dir": str(d),
        "missing": str(d / "missing.yaml"),
    }


COMMANDS: list[tuple[str, list[str]]] = [
    ("lint missing", ["lint", "{missing}"]),
    ("lint not yaml", ["lint", "{notyaml}"]),
    ("lint not openapi", ["lint", "{notoas}"]),
    ("lint bad ref", ["lint", "{badref}"]),
    ("lint binary", ["lint", "{binary}"]),
    ("lint directory", ["lint", "{dir}"]),
    ("lint overlay matches nothing", ["lint", "--overlay", "{nomatch}"]),
    ("lint not an overlay", ["lint", "--overlay", "{notoverlay}"]),
    ("lint unreachable url", ["lint", "http://127.0.0.1:{port}/spec.yaml"]),
    ("lint bad flag", ["lint", "--frob"]),
    ("export missing overlay", ["spec", "export", "--overlay", "{missing}"]),
    ("export bad profile", ["spec", "export", "--profile", "nope"]),
    ("validate missing", ["validate", "{missing}"]),
    ("validate binary", ["validate", "{binary}"]),
    ("validate bad spec", ["validate", "{binary}", "--spec", "{notyaml}"]),
    ("validate missing baseline", ["validate", "{binary}", "--baseline", "{missing}"]),
    ("run bad spec", ["run", "--spec", "{notoas}"]),
    ("run bad ref", ["run", "--spec", "{badref}"]),
    ("run overlay", ["run", "--overlay", "{nomatch}"]),
    ("run bad url", ["run", "--base-url", "not a url"]),
    ("run unreachable", ["run", "--base-url", "http://127.0.0.1:{port}"]),
    ("run bad shard", ["run", "--shard", "3/2"]),
    ("run missing baseline", ["run", "--baseline", "{missing}"]),
    ("run bad number", ["run", "--workers", "many"]),
    ("serve bad fault", ["serve", "--fault", "nope"]),
    ("merge missing", ["report", "merge", "{missing}", "-o", "{dir}/out"]),
    ("merge without output", ["report", "merge", "{dir}"]),
    ("checks bad format", ["checks", "--format", "pdf"]),
    ("no such command", ["frobnicate"]),
]


@pytest.mark.parametrize(("name", "argv"), COMMANDS, ids=[c[0] for c in COMMANDS])
def test_bad_input(files: dict[str, str], name: str, argv: list[str]) -> None:
    args = [a.format(**files, port=_closed_port()) for a in argv]
    code, out, err = cli(*args)
    assert code == 2, f"{name}: exit {code}\n{out}{err}"
    assert err.startswith("conformance: error: "), err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert len(err) < 400, err
