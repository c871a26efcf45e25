"""A fault-injecting HTTP/1.1 proxy on 127.0.0.1, for network storms in tests and bench.

It sits between the sync agent and a real hub and, per request, by a seeded draw:
drops it (closes the connection, nothing forwarded), delays it, forwards it and then
resets the connection before the answer (the hub committed, the device never hears),
forwards it and truncates the answer, forwards it twice (``duplicate``: the client gets
the first answer), or forwards it twice and answers with the second copy's answer
(``echo``: what a network that duplicates packets does to a signed request — the hub
refuses the copy's nonce). Everything else passes through; ``latency_s`` adds a fixed
delay to every request.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
import threading
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Faults:
    drop: float = 0.0
    delay: float = 0.0
    delay_s: float = 0.3
    reset: float = 0.0
    truncate: float = 0.0
    duplicate: float = 0.0
    echo: float = 0.0
    latency_s: float = 0.0
    seed: int = 0

    def draw(self, rng: random.Random) -> str:
        roll = rng.random()
        for name in ("drop", "delay", "reset", "truncate", "duplicate", "echo"):
            chance: float = getattr(self, name)
            if roll < chance:
                return name
            roll -= chance
        return "pass"


async def _read_message(reader: asyncio.StreamReader) -> bytes | None:
    """One HTTP/1.1 message (head + Content-Length body), or None at end of stream."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    body = await reader.readexactly(length) if length else b""
    return head + body


@dataclass
class FaultProxy:
    upstream_port: int
    faults: Faults = field(default_factory=Faults)
    upstream_host: str = "127.0.0.1"
    seen: Counter[str] = field(default_factory=Counter)
    requests: list[bytes] = field(default_factory=list)
    """Every request forwarded to the hub, in order (bodies included)."""

    def __post_init__(self) -> None:
        self._rng = random.Random(self.faults.seed)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="faultproxy")
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _forward(self, request: bytes) -> bytes:
        reader, writer = await asyncio.open_connection(self.upstream_host, self.upstream_port)
        try:
            self.requests.append(request)
            writer.write(request)
            await writer.drain()
            return await _read_message(reader) or b""
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (request := await _read_message(reader)) is not None:
                fault = self.faults.draw(self._rng)
                self.seen[fault] += 1
                if fault == "drop":
                    break
                if self.faults.latency_s:
                    await asyncio.sleep(self.faults.latency_s)
                if fault == "delay":
                    await asyncio.sleep(self.faults.delay_s)
                try:
                    response = await self._forward(request)
                    if fault == "duplicate":
                        await self._forward(request)
                    elif fault == "echo":
                        response = await self._forward(request)
                except OSError:
                    break  # hub down: the client sees the connection close
                if fault == "reset":
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()
                    return
                if fault == "truncate":
                    writer.write(response[: max(1, len(response) // 2)])
                    await writer.drain()
                    break
                writer.write(response)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            if not self._loop.is_closed():
                writer.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()
        tasks = asyncio.all_tasks(self._loop)
        for task in tasks:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        self._loop.run_until_complete(server.wait_closed())
        self._loop.close()

    def start(self) -> FaultProxy:
        self._thread.start()
        self._ready.wait(5)
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
