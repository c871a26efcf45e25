"""Guards on duty: PIN login, shifts, and the counts handed over at the end of a shift.

One kiosk screen serves one gate, so the guard on duty is a property of the device, not
of a browser: logging in opens a shift (closing the previous one), and every guard action
is recorded with that shift's guard id. The shift's token, kept in the kiosk's cookie,
is what authorises an action — a page that never logged in cannot act.

A PIN is short, so it is hashed with scrypt and a guard is locked out for
``LOCKOUT_S`` after ``MAX_FAILURES`` wrong PINs in a row — timed on the monotonic clock of
the boot (``locked_until_ms`` is a monotonic reading, ``locked_boot`` its boot), since a
board without an RTC may have its wall clock jump by decades.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

from core.messages import LocalisedError
from core.passwords import check_password, hash_password, stand_in_hash
from edge import clock
from edge.store import CheckStore
from edge.tables.guards import GuardTable, Shift, ShiftCounts, ShiftTable

MAX_FAILURES = 5
LOCKOUT_S = 60
PIN_PATTERN = re.compile(r"\d{4,8}")
GUARD_ID_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,32}")


class GuardError(LocalisedError):
    """A guard, PIN or shift request that cannot be honoured (the message says why)."""


class GuardBook:
    """Guards and shifts, in the device's check log (``edge.tables.guards``)."""

    def __init__(self, store: CheckStore) -> None:
        self.guards, self.shifts = GuardTable(store), ShiftTable(store)

    def add(self, guard_id: str, name: str, pin: str) -> None:
        """Add a guard or reset their name and PIN (and any lockout)."""
        if not GUARD_ID_PATTERN.fullmatch(guard_id):
            raise GuardError(
                "保安编号：1–32 个字母、数字、'.'、'_' 或 '-'",
                "guard id: 1 to 32 letters, digits, '.', '_' or '-'",
            )
        if not name.strip() or len(name) > 64:
            raise GuardError("保安姓名：1–64 个字符", "guard name: 1 to 64 characters")
        if not PIN_PATTERN.fullmatch(pin):
            raise GuardError("PIN 码：4–8 位数字", "PIN: 4 to 8 digits")
        self.guards.upsert(guard_id, name.strip(), hash_password(pin))

    def names(self) -> dict[str, str]:
        """Active guards, id → name."""
        return self.guards.names()

    def log_in(self, guard_id: str, pin: str, fit: Callable[[], float | None] | None = None) -> Shift:
        """Check the PIN and open a shift for the guard, ending whoever was on duty. ``fit``
        runs once the PIN is right and before the shift opens: the guard's own health
        check, which refuses the shift by raising, else gives the temperature kept with it."""
        guard = self.guards.find(guard_id)
        now = clock.now()
        if guard is None:
            check_password(pin, stand_in_hash())  # as slow as a wrong PIN: ids stay secret
            raise GuardError("保安编号或 PIN 码错误", "unknown guard id or wrong PIN")
        # The lockout runs on this boot's monotonic clock (a reboot ends it).
        if guard.locked_boot == now.boot_id and now.mono_ms < guard.locked_until_ms:
            wait_s = (guard.locked_until_ms - now.mono_ms) // 1000 + 1
            raise GuardError(
                f"PIN 码错误次数过多，请 {wait_s} 秒后再试", f"too many wrong PINs: try again in {wait_s} s"
            )
        if not check_password(pin, guard.pin_hash):
            failed = guard.failed + 1
            if failed >= MAX_FAILURES:
                self.guards.record_failures(guard_id, 0, now.mono_ms + LOCKOUT_S * 1000, now.boot_id)
            else:
                self.guards.record_failures(guard_id, failed, 0, None)
            raise GuardError("保安编号或 PIN 码错误", "unknown guard id or wrong PIN")
        own_temp_c = fit() if fit is not None else None
        return self.shifts.open(guard_id, secrets.token_urlsafe(24), now.wall_ms, own_temp_c)

    def log_out(self, token: str) -> Shift:
        """End the shift the token belongs to (the handover)."""
        shift = self.on_duty(token)
        if shift is None:
            raise GuardError("本屏幕无保安登录", "no guard is logged in on this screen")
        self.shifts.end_open(clock.now().wall_ms)
        ended = self.shifts.get(shift.id)
        assert ended is not None
        return ended

    def on_duty(self, token: str | None = None) -> Shift | None:
        """The open shift; with ``token``, only if the token is that shift's."""
        shift = self.shifts.current()
        if shift is None or (token is not None and not secrets.compare_digest(shift.token, token)):
            return None
        return shift

    def counts(self, shift: Shift) -> ShiftCounts:
        """The shift's checks by verdict, and the visitors still inside."""
        return self.shifts.counts(shift)
