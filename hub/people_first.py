"""People before devices: while a person's request is being answered, device uploads wait
at the door of this process (a bounded time) instead of sharing its one GIL with it.

Why: a page costs ~15–50 ms of CPU (the overview ~17 ms at the peak now), an upload ~5 ms.
Under a fleet's load every process has several uploads running in threads; a page thread
then gets a share of the interpreter (Python switches threads every 5 ms) and its answer
takes several times its CPU — the overview's p95 was 250–420 ms at 200 uploads/s on two
cores. An agent retries unseen and
its checks are safe on the device; a manager is looking at a phone. Uploads already
running finish; new ones wait until no person's request is in this process, or
``MAX_WAIT_S`` at most, so a stream of pages delays uploads but never stops them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading

from starlette.types import ASGIApp, Receive, Scope, Send

from core.protocol import HEADER_DEVICE

MAX_WAIT_S = 0.25
"""The longest an upload waits for people's requests to end (the agent's timeout is 30 s)."""
UPLOAD_NICENESS = 10
"""How much lower the uploads' threads run than the rest of the process (``nice``)."""

log = logging.getLogger(__name__)

_NOT_PEOPLE = ("/static/", "/docs-assets/", "/healthz", "/readyz", "/metrics")
"""Requests nobody waits for, or that cost nothing: no reason to hold uploads for them."""
_DEVICE = HEADER_DEVICE.lower().encode()


class People:
    """The people's requests in flight in this process, and uploads waiting for none."""

    def __init__(self, max_wait_s: float = MAX_WAIT_S) -> None:
        self.max_wait_s = max_wait_s
        self.in_flight = 0
        self._waiting: set[asyncio.Future[None]] = set()

    def arrived(self) -> None:
        self.in_flight += 1

    def left(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            for waiter in self._waiting:
                if not waiter.done():
                    waiter.set_result(None)

    async def wait_for_people(self) -> None:
        """Return when no person's request is being answered here, or after ``max_wait_s``.
        (A future per wait, not an ``asyncio.Event``: that binds to the first event loop
        it meets, and a test may serve one app from several.)"""
        if not self.in_flight:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiting.add(waiter)
        try:
            await asyncio.wait_for(waiter, self.max_wait_s)
        except TimeoutError:
            pass
        finally:
            self._waiting.discard(waiter)


class CountPeople:
    """Plain ASGI middleware (it sees every request): a person's request is counted in
    ``people`` from its arrival until its answer is sent or it fails."""

    def __init__(self, app: ASGIApp, people: People) -> None:
        self.app = app
        self.people = people

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _is_person(scope):
            await self.app(scope, receive, send)
            return
        self.people.arrived()
        try:
            await self.app(scope, receive, send)
        finally:
            self.people.left()


def _is_person(scope: Scope) -> bool:
    if scope["type"] != "http" or scope["path"].startswith(_NOT_PEOPLE):
        return False
    return not any(name == _DEVICE for name, _ in scope["headers"])


def lower_priority() -> None:
    """Run the calling thread ``UPLOAD_NICENESS`` lower (the upload threads' initializer).

    Why: the hold above works inside one process, but a page also shares the machine's
    cores with the other workers' uploads; with the uploads' threads niced, the kernel
    runs a page's thread and its answer first whenever the cores are short, and the
    uploads have every cycle nobody else wants — so the fleet's throughput is the same
    (bench/fleet.py at the peak: the overview's p50 −28 %, p95 −22 %, checks/s unchanged;
    docs/hub.md, twelfth session). Linux sets a thread's niceness on its own; raising it needs no
    privilege (lowering it again would, so these threads serve uploads only)."""
    thread = threading.get_native_id()
    try:
        now = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, now + UPLOAD_NICENESS))
    except (AttributeError, OSError) as exc:  # no per-thread niceness here
        log.warning("upload threads run at the same priority as pages: %s", exc)
