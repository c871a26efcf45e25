"""People before devices: while a person's request is being answered, device uploads wait
at the door of this process (a bounded time) instead of sharing its one GIL with it — all
but ``BESIDE`` of them.

Why: a page costs ~10–50 ms of CPU, an upload ~5 ms. Under a fleet's load every process
has several uploads running in threads; a page thread then gets a share of the interpreter
(Python switches threads every 5 ms) and its answer takes several times its CPU — the
overview's p95 was 250–420 ms at 200 uploads/s on two cores. An agent retries unseen and
its checks are safe on the device; a manager is looking at a phone. Uploads already
running finish; new ones wait until no person's request is in this process, or
``MAX_WAIT_S`` at most, so a stream of pages delays uploads but never stops them.

Holding every upload had a price at the morning peak: a browser keeps its connection, so
one process answers all of a manager's pages, and each page stopped that process's
ingest — two workers stored no more than one (docs/hub.md, eleventh session). With one
upload let run beside the page, the page shares the interpreter with one thread instead
of sixteen, and the process keeps storing.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.types import ASGIApp, Receive, Scope, Send

from core.protocol import HEADER_DEVICE

MAX_WAIT_S = 0.25
"""The longest an upload waits for people's requests to end (the agent's timeout is 30 s)."""
BESIDE = 1
"""Uploads that run while a person's request is answered in the same process."""

_NOT_PEOPLE = ("/static/", "/docs-assets/", "/healthz", "/readyz", "/metrics")
"""Requests nobody waits for, or that cost nothing: no reason to hold uploads for them."""
_DEVICE = HEADER_DEVICE.lower().encode()


class People:
    """The people's requests in flight in this process, the uploads running in it, and
    the uploads waiting for their turn (first come, first let in).

    A waiter let in is counted as running by whoever lets it in, in the same step of the
    event loop, so a new arrival can never take the place meant for it."""

    def __init__(self, max_wait_s: float = MAX_WAIT_S, beside: int = BESIDE) -> None:
        self.max_wait_s = max_wait_s
        self.beside = beside
        self.in_flight = 0
        self.uploads = 0
        # A future per waiter, not an ``asyncio.Event``: that binds to the first event
        # loop it meets, and a test may serve one app from several.
        self._waiting: deque[asyncio.Future[None]] = deque()

    def arrived(self) -> None:
        self.in_flight += 1

    def left(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            while self._waiting:
                self._let_in(self._waiting.popleft())

    @asynccontextmanager
    async def upload(self) -> AsyncIterator[None]:
        """Hold an upload until its turn, then count it as running until it ends."""
        if self.in_flight and self.uploads >= self.beside:
            await self._wait_for_turn()
        else:
            self.uploads += 1
        try:
            yield
        finally:
            self._ended()

    def _ended(self) -> None:
        self.uploads -= 1
        while self._waiting and (not self.in_flight or self.uploads < self.beside):
            self._let_in(self._waiting.popleft())

    async def _wait_for_turn(self) -> None:
        """Return counted as running: let in by ``left``/an ending upload, or after
        ``max_wait_s``. ``asyncio.wait`` never cancels the future, so whether it was let
        in is read from it with no await in between."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            await asyncio.wait({waiter}, timeout=self.max_wait_s)
        except asyncio.CancelledError:  # the upload's client went away while it waited
            if waiter.done():
                self._ended()
            else:
                self._waiting.remove(waiter)
            raise
        if not waiter.done():
            self._waiting.remove(waiter)
            self.uploads += 1

    def _let_in(self, waiter: asyncio.Future[None]) -> None:
        self.uploads += 1
        waiter.set_result(None)


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
