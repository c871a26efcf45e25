"""People before devices: while a person's request is being answered, device uploads wait
at the door of this process (a bounded time) instead of sharing its one GIL with it.

Why: a page costs ~50 ms of CPU, an upload ~5 ms. Under a fleet's load every process has
several uploads running in threads; a page thread then gets a share of the interpreter
(Python switches threads every 5 ms) and its answer takes several times its CPU — the
overview's p95 was 250–420 ms at 200 uploads/s on two cores. An agent retries unseen and
its checks are safe on the device; a manager is looking at a phone. Uploads already
running finish; new ones wait until no person's request is in this process, or
``MAX_WAIT_S`` at most, so a stream of pages delays uploads but never stops them.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send

from core.protocol import HEADER_DEVICE

MAX_WAIT_S = 0.25
"""The longest an upload waits for people's requests to end (the agent's timeout is 30 s)."""

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
