"""A hostile HTTP server on loopback: it answers GET /models properly, then misbehaves on
POST /chat/completions as its mode says (the ``models-`` modes misbehave on GET /models
instead). Raw asyncio sockets, so it can do what no framework
allows (lie, stall, reset, send garbage)."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

MODELS = json.dumps(
    {"object": "list", "data": [{"id": "m", "object": "model", "owned_by": "x"}]}
).encode()
CHUNK = b'data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"m","system_fingerprint":"f","choices":[{"index":0,"delta":{"role":"assistant","content":"hi"},"finish_reason":null}]}\n\n'
_BOMB = gzip.compress(b"\0" * (256 * 1024 * 1024), compresslevel=9)

MODES = (
    "close-first-request",
    "reset-first-request",
    "hang-before-headers",
    "slow-headers",
    "huge-body",
    "gzip-bomb",
    "reset-mid-stream",
    "hang-mid-stream",
    "lying-content-length",
    "invalid-utf8",
    "garbage",
)
#: Modes that misbehave on GET /models (the completions are fine).
MODELS_MODES = ("models-drip", "models-gzip-bomb")


_SEEN = {"chat": 0}


async def _handle(mode: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        if length:
            await reader.readexactly(length)
        if head.startswith(b"GET /models") and mode == "models-drip":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{")
            while True:  # one byte every half second, forever
                await writer.drain()
                await asyncio.sleep(0.5)
                writer.write(b" ")
        if head.startswith(b"GET /models") and mode == "models-gzip-bomb":
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                b"Content-Length: " + str(len(_BOMB)).encode() + b"\r\n\r\n" + _BOMB
            )
            await writer.drain()
            return
        if head.startswith(b"GET /models"):
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(MODELS)).encode()
                + b"\r\n\r\n"
                + MODELS
            )
            await writer.drain()
            return
        sse = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
        _SEEN["chat"] += 1
        if mode in MODELS_MODES:
            writer.write(sse + CHUNK + b"data: [DONE]\n\n")
            await writer.drain()
        elif mode in ("close-first-request", "reset-first-request"):
            # a connection that fails before any response (closed, or reset as a uvicorn server
            # does after a 500), then a good answer
            if _SEEN["chat"] % 2 == 1:
                if mode == "reset-first-request":
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()
                return
            writer.write(sse + CHUNK + b"data: [DONE]\n\n")
            await writer.drain()
        elif mode == "hang-before-headers":
            await asyncio.sleep(3600)
        elif mode == "slow-headers":
            for byte in sse:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.2)
        elif mode == "huge-body":  # claims a gigabyte and sends it as fast as it can
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n"
            )
            block = b" " * 65536
            for _ in range(16384):
                writer.write(block)
                await writer.drain()
        elif mode == "gzip-bomb":
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                b"Content-Length: " + str(len(_BOMB)).encode() + b"\r\n\r\n" + _BOMB
            )
            await writer.drain()
        elif mode == "reset-mid-stream":
            writer.write(sse + CHUNK + CHUNK)
            await writer.drain()
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return
        elif mode == "hang-mid-stream":  # a first chunk, then silence
            writer.write(sse + CHUNK)
            await writer.drain()
            await asyncio.sleep(3600)
        elif mode == "lying-content-length":
            writer.write(
                b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"id":'
            )
            await writer.drain()
        elif mode == "invalid-utf8":
            writer.write(sse + CHUNK.replace(b"hi", b"h\xff\xfe") + b"data: [DONE]\n\n")
            await writer.drain()
        elif mode == "garbage":
            writer.write(b"\x00\xff garbage, not HTTP at all \x13\x37" * 10)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()
        with suppress(ConnectionError, asyncio.CancelledError):
            await writer.wait_closed()


@contextmanager
def hostile(mode: str) -> Iterator[str]:
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, object] = {}

    async def start() -> None:
        server = await asyncio.start_server(lambda r, w: _handle(mode, r, w), "127.0.0.1", 0)
        box["server"] = server
        box["port"] = server.sockets[0].getsockname()[1]
        ready.set()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(10)

    async def stop() -> None:
        server = box["server"]
        server.close()  # type: ignore[attr-defined]
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()  # type: ignore[attr-defined]

    try:
        yield f"http://127.0.0.1:{box['port']}"
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()
