"""Serving on several worker processes, each with a listening socket of its own that the
kernel balances new connections over (``SO_REUSEPORT``).

Why: uvicorn's ``--workers`` binds one socket in its supervisor and every worker accepts
from it. A worker woken by a new connection accepts every connection waiting (asyncio
drains the queue), so a burst — a fleet's agents reconnecting after an outage, a load
balancer opening its pool, bench/fleet.py's 32 connections — lands on one worker and
stays there as long as the connections are kept alive. Measured (docs/hub.md, twelfth
session): all 33 connections on one of two workers in 2 of 6 runs, and the two workers
then stored no more than one. With a socket per worker, Linux hashes each new connection
over the sockets of the group, whichever worker is awake.

uvicorn's supervisor is kept (it restarts a dead worker, stops on a startup failure,
passes SIGTERM for a graceful stop); what changes is the socket it hands each worker. The
supervisor binds one to claim the address (and to fail at once if it is taken) but never
listens on it, so the kernel gives it no connections; what a worker receives, when the
socket is pickled across to it, is a fresh socket bound to the same address.
"""

from __future__ import annotations

import socket
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

BALANCED = hasattr(socket, "SO_REUSEPORT")
"""Linux (and the BSDs) have it; elsewhere the workers share one socket, as uvicorn does."""


class WorkerSocket(socket.socket):
    """The supervisor's claim on the address; pickled, it becomes a worker's own socket."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_bound, (self.family, self.getsockname()))


def _bound(family: socket.AddressFamily, address: Any, kind: type[socket.socket] = socket.socket) -> Any:
    """A TCP socket bound to ``address`` in the port's SO_REUSEPORT group (not listening:
    uvicorn's server calls listen when it starts)."""
    sock = kind(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    return sock


def serve(app: str, workers: int, **options: Any) -> None:
    """Run ``app`` (an import string) on ``workers`` processes; ``options`` are
    ``uvicorn.Config``'s."""
    if workers <= 1 or not BALANCED:
        uvicorn.run(app, workers=workers, **options)
        return
    config = uvicorn.Config(app, workers=workers, **options)
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    claim = _bound(family, (config.host, config.port), WorkerSocket)
    try:
        Multiprocess(config, sockets=[claim]).run()
    except KeyboardInterrupt:
        pass
    finally:
        claim.close()
