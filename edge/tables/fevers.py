"""Fever holds: confirmed fevers and what the guard did about each (fever_acks)."""

from __future__ import annotations

from typing import Any

from edge.store import CheckStore


class FeverTable:
    def __init__(self, store: CheckStore) -> None:
        self.db = store.db

    def unacknowledged(self) -> list[dict[str, Any]]:
        """Confirmed fevers nobody has acknowledged yet, oldest first."""
        rows = self.db.execute(
            "SELECT c.seq, c.temp_c, c.wall_ms FROM checks c LEFT JOIN fever_acks a ON a.seq = c.seq "
            "WHERE c.reason = 'fever' AND c.verdict = 'deny' AND a.seq IS NULL ORDER BY c.seq"
        ).fetchall()
        return [{"seq": seq, "temp_c": temp, "wall_ms": wall} for seq, temp, wall in rows]

    def acknowledge(self, seq: int, guard_id: str, action: str, note: str | None, acked_ms: int) -> None:
        with self.db.conn:
            self.db.execute(
                "INSERT INTO fever_acks (seq, guard_id, action, note, acked_ms) VALUES (?, ?, ?, ?, ?)",
                (seq, guard_id, action, note, acked_ms),
            )
