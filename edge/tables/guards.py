"""Guards (PIN hashes, lockouts) and their shifts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from core.reasons import event_codes
from edge.store import CheckStore


@dataclass(frozen=True)
class GuardRow:
    name: str
    pin_hash: str
    failed: int
    locked_until_ms: int
    """A monotonic reading of the boot ``locked_boot`` (see ``edge.guards``)."""
    locked_boot: str | None


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
    own_temp_c: float | None = None
    """The guard's own temperature when the shift opened (None: not taken)."""


class ShiftCounts(BaseModel):
    """What a guard hands over: the shift's checks by verdict, and what is still open
    (also the kiosk's answer: one definition)."""

    model_config = ConfigDict(frozen=True)

    checks: int
    admit: int
    deny: int
    remeasure: int
    manual: int
    fevers: int
    overrides: int
    visitors_in: int
    """Visitors registered at this gate who have not left yet (at handover time)."""


class GuardTable:
    def __init__(self, store: CheckStore) -> None:
        self.store, self.db = store, store.db

    def upsert(self, guard_id: str, name: str, pin_hash: str) -> None:
        """Add a guard or reset their name and PIN, ending any lockout."""
        with self.db.conn:
            self.db.execute(
                "INSERT INTO guards (id, name, pin_hash) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE "
                "SET name = excluded.name, pin_hash = excluded.pin_hash, active = 1, failed = 0, "
                "locked_until_ms = 0, locked_boot = NULL",
                (guard_id, name, pin_hash),
            )

    def names(self) -> dict[str, str]:
        """Active guards, id → name."""
        return dict(self.db.execute("SELECT id, name FROM guards WHERE active = 1 ORDER BY id").fetchall())

    def find(self, guard_id: str) -> GuardRow | None:
        row = self.db.execute(
            "SELECT name, pin_hash, failed, locked_until_ms, locked_boot FROM guards "
            "WHERE id = ? AND active = 1",
            (guard_id,),
        ).fetchone()
        return GuardRow(*row) if row else None

    def record_failures(
        self, guard_id: str, failed: int, locked_until_ms: int, locked_boot: str | None
    ) -> None:
        with self.db.conn:
            self.db.execute(
                "UPDATE guards SET failed = ?, locked_until_ms = ?, locked_boot = ? WHERE id = ?",
                (failed, locked_until_ms, locked_boot, guard_id),
            )

    def copy_from(self, other_log: Path) -> None:
        """Carry the guards of another check log over (a board set up for a new device)."""
        self.db.execute("ATTACH DATABASE ? AS old", (str(other_log),))
        with self.db.conn:
            self.db.execute("INSERT OR IGNORE INTO guards SELECT * FROM old.guards")
        self.db.execute("DETACH DATABASE old")


class ShiftTable:
    def __init__(self, store: CheckStore) -> None:
        self.store, self.db = store, store.db

    def open(self, guard_id: str, token: str, now_ms: int, own_temp_c: float | None = None) -> Shift:
        """In one transaction: clear the guard's failures, end whoever's shift was open,
        open theirs from the next check on."""
        with self.db.conn:
            self.db.execute("UPDATE guards SET failed = 0, locked_until_ms = 0 WHERE id = ?", (guard_id,))
            self._end_open(now_ms)
            first_seq = self.store.highest_seq() + 1
            cursor = self.db.execute(
                "INSERT INTO shifts (guard_id, token, first_seq, started_ms, own_temp_c) "
                "VALUES (?, ?, ?, ?, ?)",
                (guard_id, token, first_seq, now_ms, own_temp_c),
            )
        assert cursor.lastrowid is not None
        found = self.get(cursor.lastrowid)
        assert found is not None
        return found

    def end_open(self, now_ms: int) -> None:
        with self.db.conn:
            self._end_open(now_ms)

    def _end_open(self, now_ms: int) -> None:
        self.db.execute(
            "UPDATE shifts SET ended_ms = ?, last_seq = ? WHERE ended_ms IS NULL",
            (now_ms, self.store.highest_seq()),
        )

    def current(self) -> Shift | None:
        return self._where("s.ended_ms IS NULL ORDER BY s.id DESC LIMIT 1", ())

    def get(self, shift_id: int) -> Shift | None:
        return self._where("s.id = ?", (shift_id,))

    def counts(self, shift: Shift) -> ShiftCounts:
        """The shift's checks (by seq range, so a clock jump cannot move them); records of
        what was done about a check (a fever's disposition) are not checks."""
        last = shift.last_seq if shift.last_seq is not None else self.store.highest_seq()
        events = event_codes()
        row = self.db.execute(
            "SELECT count(*), "
            "coalesce(sum(verdict = 'admit'), 0), coalesce(sum(verdict = 'deny'), 0), "
            "coalesce(sum(verdict = 'remeasure'), 0), coalesce(sum(verdict = 'manual'), 0), "
            "coalesce(sum(reason = 'fever'), 0), coalesce(sum(instr(flags, 'override') > 0), 0) "
            f"FROM checks WHERE seq BETWEEN ? AND ? AND reason NOT IN ({', '.join('?' * len(events))})",
            (shift.first_seq, last, *events),
        ).fetchone()
        visitors_in = self.db.execute("SELECT count(*) FROM visitors WHERE left_ms IS NULL").fetchone()[0]
        checks, admit, deny, remeasure, manual, fevers, overrides = row
        return ShiftCounts(
            checks=checks, admit=admit, deny=deny, remeasure=remeasure, manual=manual,
            fevers=fevers, overrides=overrides, visitors_in=visitors_in,
        )  # fmt: skip

    def _where(self, condition: str, params: tuple[object, ...]) -> Shift | None:
        row = self.db.execute(
            "SELECT s.id, s.guard_id, g.name, s.token, s.first_seq, s.started_ms, s.ended_ms, s.last_seq, "
            "s.own_temp_c "
            f"FROM shifts s JOIN guards g ON g.id = s.guard_id WHERE {condition}",
            params,
        ).fetchone()
        return Shift(*row) if row else None
