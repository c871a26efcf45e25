"""Device uploads cannot make the hub hold more than its body limit: who is asking and
how large the body may be are settled before the body is read or inflated. Against a
real hub process (uvicorn), whose peak memory is read from /proc."""

from __future__ import annotations

import gzip
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.bundle import DeviceBundle
from core.protocol import (
    HEADER_DEVICE,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    INGEST_PATH,
    sign_request,
)
from hub.core.db import create_schema, make_engine
from tests.conftest import copy_device
from tests.hub_process import free_port, start_hub_process

HUGE = 100 * 1024 * 1024
CHUNK = b"\0" * (1024 * 1024)


@pytest.fixture
def hub(tmp_path: Path, bundle: DeviceBundle) -> Iterator[tuple[str, int]]:
    db = tmp_path / "hub-limits.db"
    engine = make_engine(f"sqlite:///{db}")
    create_schema(engine)
    copy_device(bundle, engine)
    port = free_port()
    process = start_hub_process(f"sqlite:///{db}", port)
    try:
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def push_huge_body(port: int, device_id: str, answers: list[bytes]) -> None:
    """Announce a 100 MB upload and send it until the hub stops listening."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        head = (
            f"POST {INGEST_PATH} HTTP/1.1\r\nHost: hub\r\nContent-Length: {HUGE}\r\n"
            f"{HEADER_DEVICE}: {device_id}\r\n{HEADER_TIMESTAMP}: 1\r\n{HEADER_NONCE}: n\r\n"
            f"{HEADER_SIGNATURE}: AAAA\r\n\r\n"
        )
        sock.sendall(head.encode())
        try:
            for _ in range(HUGE // len(CHUNK)):
                sock.sendall(CHUNK)
        except OSError:
            pass  # the hub answered and closed: what we want
        try:
            answers.append(sock.recv(200))
        except OSError:
            answers.append(b"")


@pytest.mark.parametrize("device_id", ["dev-unknown00", None], ids=["unknown-device", "known-device"])
def test_six_huge_bodies_at_once_cost_the_hub_no_memory(
    hub: tuple[str, int], bundle: DeviceBundle, device_id: str | None
) -> None:
    url, pid = hub
    port = int(url.rsplit(":", 1)[1])
    before = peak_rss_mb(pid)
    answers: list[bytes] = []
    senders = [
        threading.Thread(target=push_huge_body, args=(port, device_id or bundle.device_id, answers))
        for _ in range(6)
    ]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join(60)
    # Unknown: refused before the body; known: refused by the declared length (413).
    expected = b"HTTP/1.1 401" if device_id else b"HTTP/1.1 413"
    assert [a[:12] for a in answers] == [expected] * 6
    assert peak_rss_mb(pid) - before < 40  # six 100 MB bodies: none was held


def test_a_signed_body_over_the_limit_is_refused_in_every_encoding(
    hub: tuple[str, int], bundle: DeviceBundle
) -> None:
    url, _ = hub
    big = b"[" + b"0," * (10 * 1024 * 1024) + b"0]"  # 20 MB: over the 16 MB default
    for encoding, body in (("identity", big), ("gzip", gzip.compress(big))):
        headers = sign_request(bundle.signing_key_bytes, bundle.device_id, "POST", INGEST_PATH, body)
        # Sent in chunks with no Content-Length: the limit holds on what actually arrives.
        chunks = (body[i : i + len(CHUNK)] for i in range(0, len(body), len(CHUNK)))
        response = httpx.post(
            url + INGEST_PATH, content=chunks, headers={**headers, "Content-Encoding": encoding}, timeout=60
        )
        assert response.status_code == 413, (encoding, response.text)
