"""Login throttling: wrong passwords are limited per user and per address.

Built on ``limits`` (moving windows, in this process's memory). A user is locked for the
rest of the window after 5 wrong passwords in 15 minutes, an address after 20 — and
while locked even the right password is refused, or guessing would go on undisturbed.
A correct login clears the user's failures. One hub process keeps its own counts; with
several processes each counts separately (docs/hub.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

PER_USER = parse("5/15 minutes")
PER_ADDRESS = parse("20/15 minutes")


@dataclass
class LoginThrottle:
    limiter: MovingWindowRateLimiter = field(default_factory=lambda: MovingWindowRateLimiter(MemoryStorage()))

    def _keys(self, username: str, address: str) -> list[tuple[RateLimitItem, str, str]]:
        return [(PER_USER, "user", username.strip().lower()), (PER_ADDRESS, "address", address)]

    def locked_for(self, username: str, address: str) -> float:
        """Seconds until this user may try again from this address (0: now)."""
        waits = [
            self.limiter.get_window_stats(item, kind, key).reset_time - time.time()
            for item, kind, key in self._keys(username, address)
            if not self.limiter.test(item, kind, key)
        ]
        return max([0.0, *waits])

    def failed(self, username: str, address: str) -> None:
        for item, kind, key in self._keys(username, address):
            self.limiter.hit(item, kind, key)

    def succeeded(self, username: str) -> None:
        self.limiter.clear(PER_USER, "user", username.strip().lower())
