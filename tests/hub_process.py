"""A hub in its own process (`gatecheck hub serve`), for storms and benchmarks: what a
deployment runs, killable with SIGKILL."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]


def start_hub_process(
    database_url: str, port: int, timeout_s: float = 30.0, workers: int = 1
) -> subprocess.Popen[bytes]:
    """Start the hub on 127.0.0.1:``port`` and return once it is ready (/readyz) and
    each of its workers listens."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gatecheck",
            "hub",
            "serve",
            "--port",
            str(port),
            "--database-url",
            database_url,
            "--workers",
            str(workers),
        ],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            ready = False
        if ready and len(listening_sockets(port)) >= workers:  # every worker, not just the first
            return process
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"hub on port {port} did not start within {timeout_s:.0f} s")


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _sockets(port: int, state: str) -> set[str]:
    """The inodes of the TCP sockets on local ``port`` in ``state`` (01 established,
    0A listening), from /proc."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                if fields[3] == state and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    found.add(f"socket:[{fields[9]}]")
    return found


def listening_sockets(port: int) -> set[str]:
    """The sockets listening on ``port`` (one per hub worker: hub.listeners)."""
    return _sockets(port, "0A")


def connections_by_process(port: int) -> dict[int, int]:
    """How many established TCP connections to ``port`` each process holds (the server's
    ends: the local address's port is ``port``)."""
    inodes = _sockets(port, "01")
    held: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            links = [os.readlink(fd) for fd in (entry / "fd").iterdir()]
        except OSError:  # gone, or not ours to read
            continue
        if n := sum(link in inodes for link in links):
            held[int(entry.name)] = n
    return held
