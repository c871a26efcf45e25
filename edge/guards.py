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
from dataclasses import dataclass

from core.passwords import check_password, hash_password, stand_in_hash
from edge import clock
from edge.store import CheckStore

MAX_FAILURES = 5
LOCKOUT_S = 60
PIN_PATTERN = re.compile(r"\d{4,8}")
GUARD_ID_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,32}")


class GuardError(ValueError):
    """A guard, PIN or shift request that cannot be honoured (the message says why)."""


@dataclass(frozen=True)
class Shift:
    id: int
    guard_id: str
    guard_name: str
    token: str
    first_seq: int
    started_ms: int
    ended_ms: int | None = None
    last_seq: int | None = None


@dataclass(frozen=True)
class ShiftCounts:
    """What a guard hands over: the shift's checks by verdict, and what is still open."""

    checks: int
    admit: int
    deny: int
    remeasure: int
    manual: int
    fevers: int
    overrides: int
    visitors_in: int
    """Visitors registered at this gate who have not left yet (at handover time)."""


class GuardBook:
    """Guards and shifts, in the device's check database."""

    def __init__(self, store: CheckStore) -> None:
        self.db = store.db

    def add(self, guard_id: str, name: str, pin: str) -> None:
        """Add a guard or reset their name and PIN (and any lockout)."""
        if not GUARD_ID_PATTERN.fullmatch(guard_id):
            raise GuardError("guard id: 1 to 32 letters, digits, '.', '_' or '-'")
        if not name.strip() or len(name) > 64:
            raise GuardError("guard name: 1 to 64 characters")
        if not PIN_PATTERN.fullmatch(pin):
            raise GuardError("PIN: 4 to 8 digits")
        with self.db.conn:
            self.db.execute(
                "INSERT INTO guards (id, name, pin_hash) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE "
                "SET name = excluded.name, pin_hash = excluded.pin_hash, active = 1, failed = 0, "
                "locked_until_ms = 0",
                (guard_id, name.strip(), hash_password(pin)),
            )

    def names(self) -> dict[str, str]:
        """Active guards, id → name."""
        return dict(self.db.execute("SELECT id, name FROM guards WHERE active = 1 ORDER BY id").fetchall())

    def log_in(self, guard_id: str, pin: str) -> Shift:
        """Check the PIN and open a shift for the guard, ending whoever was on duty."""
        row = self.db.execute(
            "SELECT name, pin_hash, failed, locked_until_ms, locked_boot FROM guards "
            "WHERE id = ? AND active = 1",
            (guard_id,),
        ).fetchone()
        now = clock.now()
        now_ms = now.wall_ms
        if row is None:
            check_password(pin, stand_in_hash())  # as slow as a wrong PIN: ids stay secret
            raise GuardError("unknown guard id or wrong PIN")
        name, pin_hash, failed, locked_until, locked_boot = row
        # The lockout runs on this boot's monotonic clock (a reboot ends it).
        if locked_boot == now.boot_id and now.mono_ms < locked_until:
            raise GuardError(
                f"too many wrong PINs: try again in {(locked_until - now.mono_ms) // 1000 + 1} s"
            )
        if not check_password(pin, pin_hash):
            failed += 1
            locked = failed >= MAX_FAILURES
            with self.db.conn:
                self.db.execute(
                    "UPDATE guards SET failed = ?, locked_until_ms = ?, locked_boot = ? WHERE id = ?",
                    (0 if locked else failed, now.mono_ms + LOCKOUT_S * 1000 if locked else 0,
                     now.boot_id if locked else None, guard_id),
                )  # fmt: skip
            raise GuardError("unknown guard id or wrong PIN")
        token = secrets.token_urlsafe(24)
        with self.db.conn:
            self.db.execute("UPDATE guards SET failed = 0, locked_until_ms = 0 WHERE id = ?", (guard_id,))
            self._end_open_shift(now_ms)
            first_seq = self._last_seq() + 1
            cursor = self.db.execute(
                "INSERT INTO shifts (guard_id, token, first_seq, started_ms) VALUES (?, ?, ?, ?)",
                (guard_id, token, first_seq, now_ms),
            )
        assert cursor.lastrowid is not None
        return Shift(cursor.lastrowid, guard_id, name, token, first_seq, now_ms)

    def log_out(self, token: str) -> Shift:
        """End the shift the token belongs to (the handover)."""
        shift = self.on_duty(token)
        if shift is None:
            raise GuardError("no guard is logged in on this screen")
        now_ms = clock.now().wall_ms
        with self.db.conn:
            self._end_open_shift(now_ms)
        ended = self.shift(shift.id)
        assert ended is not None
        return ended

    def on_duty(self, token: str | None = None) -> Shift | None:
        """The open shift; with ``token``, only if the token is that shift's."""
        shift = self._shift_where("s.ended_ms IS NULL ORDER BY s.id DESC LIMIT 1", ())
        if shift is None or (token is not None and not secrets.compare_digest(shift.token, token)):
            return None
        return shift

    def shift(self, shift_id: int) -> Shift | None:
        return self._shift_where("s.id = ?", (shift_id,))

    def counts(self, shift: Shift) -> ShiftCounts:
        """The shift's checks (by seq range, so a clock jump cannot move them)."""
        last = shift.last_seq if shift.last_seq is not None else self._last_seq()
        row = self.db.execute(
            "SELECT count(*), "
            "coalesce(sum(verdict = 'admit'), 0), coalesce(sum(verdict = 'deny'), 0), "
            "coalesce(sum(verdict = 'remeasure'), 0), coalesce(sum(verdict = 'manual'), 0), "
            "coalesce(sum(reason = 'fever'), 0), coalesce(sum(instr(flags, 'override') > 0), 0) "
            "FROM checks WHERE seq BETWEEN ? AND ?",
            (shift.first_seq, last),
        ).fetchone()
        visitors_in = self.db.execute("SELECT count(*) FROM visitors WHERE left_ms IS NULL").fetchone()[0]
        checks, admit, deny, remeasure, manual, fevers, overrides = row
        return ShiftCounts(checks, admit, deny, remeasure, manual, fevers, overrides, visitors_in)

    def _end_open_shift(self, now_ms: int) -> None:
        self.db.execute(
            "UPDATE shifts SET ended_ms = ?, last_seq = ? WHERE ended_ms IS NULL", (now_ms, self._last_seq())
        )

    def _last_seq(self) -> int:
        """The highest seq handed out so far (AUTOINCREMENT's counter survives purges)."""
        row = self.db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'checks'").fetchone()
        return int(row[0]) if row else 0

    def _shift_where(self, condition: str, params: tuple[object, ...]) -> Shift | None:
        row = self.db.execute(
            "SELECT s.id, s.guard_id, g.name, s.token, s.first_seq, s.started_ms, s.ended_ms, s.last_seq "
            f"FROM shifts s JOIN guards g ON g.id = s.guard_id WHERE {condition}",
            params,
        ).fetchone()
        return Shift(*row) if row else None
