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
    """Start the hub on 127.0.0.1:``port`` and return once it is ready (/readyz)."""
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
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"hub on port {port} did not start within {timeout_s:.0f} s")


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
