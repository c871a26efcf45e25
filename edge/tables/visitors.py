"""The visitor book: an entry opened after the visitor's check admitted them, closed when
they leave (销号)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from core.protocol import VisitorRecord
from edge.store import CheckStore


class VisitorEntry(BaseModel):
    """An entry of the visitor book (also the kiosk's answer: one definition)."""

    model_config = ConfigDict(frozen=True)

    id: int
    check_seq: int
    name: str
    host: str
    purpose: str
    escort: str | None
    entered_ms: int
    left_ms: int | None


@dataclass(frozen=True)
class Screened:
    """A check as a visitor's registration sees it."""

    verdict: str
    flags: tuple[str, ...]
    wall_ms: int
    visitor_id: int | None
    """The entry opened for this check already, if any."""


class VisitorTable:
    def __init__(self, store: CheckStore) -> None:
        self.db = store.db

    def open(
        self, check_seq: int, name: str, phone: str, host: str, purpose: str, escort: str | None,
        guard_id: str, entered_ms: int,
    ) -> int:  # fmt: skip
        """Open an entry for the visitor of check ``check_seq``; its number."""
        with self.db.conn:
            cursor = self.db.execute(
                "INSERT INTO visitors (check_seq, name, phone, host, purpose, escort, guard_id, entered_ms) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (check_seq, name, phone, host, purpose, escort, guard_id, entered_ms),
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def close(self, visitor_id: int, guard_id: str, left_ms: int) -> bool:
        """Close an open entry — inside the transaction that stores the exit record; False
        when there is none (left already, or unknown)."""
        changed: int = self.db.execute(
            "UPDATE visitors SET left_ms = ?, left_guard_id = ?, version = version + 1 "
            "WHERE id = ? AND left_ms IS NULL",
            (left_ms, guard_id, visitor_id),
        ).rowcount
        return changed > 0

    def screened(self, check_seq: int) -> Screened | None:
        """The visitor's check a registration names, and the entry already opened for it."""
        row = self.db.execute(
            "SELECT verdict, flags, wall_ms, (SELECT min(id) FROM visitors WHERE check_seq = seq) "
            "FROM checks WHERE seq = ?",
            (check_seq,),
        ).fetchone()
        if row is None:
            return None
        verdict, flags, wall_ms, visitor_id = row
        return Screened(verdict, tuple((flags or "").split(",")), wall_ms, visitor_id)

    def entries(self, *, inside_only: bool = False, visitor_id: int | None = None) -> list[VisitorEntry]:
        """The book, newest first (the phone number stays in the database)."""
        where, params = ["1"], []
        if inside_only:
            where.append("left_ms IS NULL")
        if visitor_id is not None:
            where.append("id = ?")
            params.append(visitor_id)
        rows = self.db.execute(
            "SELECT id, check_seq, name, host, purpose, escort, entered_ms, left_ms FROM visitors "
            f"WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT 200",
            params,
        ).fetchall()
        names = tuple(VisitorEntry.model_fields)
        return [VisitorEntry(**dict(zip(names, row, strict=True))) for row in rows]

    def unsent(self, limit: int) -> list[tuple[VisitorRecord, int]]:
        """Entries changed since the hub last confirmed them, oldest first, with the
        version sent (an entry closed meanwhile is sent again)."""
        rows = self.db.execute(
            "SELECT id, check_seq, name, phone, host, purpose, escort, entered_ms, left_ms, version "
            "FROM visitors WHERE version > sent_version ORDER BY id LIMIT ?",
            (limit,),
        ).fetchall()
        names = ("id", "check_seq", "name", "phone", "host", "purpose", "escort", "entered_ms", "left_ms")
        return [(VisitorRecord(**dict(zip(names, row[:-1], strict=True))), row[-1]) for row in rows]

    def mark_sent(self, sent: list[tuple[int, int]]) -> None:
        """The hub holds these (id, version)s: an entry changed since stays unsent."""
        with self.db.conn:
            self.db.conn.executemany(
                "UPDATE visitors SET sent_version = ? WHERE id = ? AND version >= ?",
                [(version, visitor_id, version) for visitor_id, version in sent],
            )
