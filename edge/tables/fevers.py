"""The fever drill's open cases and what the guards did about each (fever_acks).

Two kinds of case hold the lane (docs/kiosk.md, "Fever drill"): a first high reading
waiting for its re-test, open until it is re-tested, released by a guard or its re-test
window closes; and a confirmed fever, open until a guard records its disposition. Both
are derived from the stored checks, so a hold survives a reload and a restart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from core.fever_drill import PRESENT_BEFORE_MS
from edge.store import CheckStore


@dataclass(frozen=True)
class OpenCase:
    seq: int
    stage: Literal["retest", "fever"]
    temp_c: float | None
    wall_ms: int
    mono_ms: int
    boot_id: str
    holder: str | None


class FeverTable:
    def __init__(self, store: CheckStore) -> None:
        self.db = store.db

    def open_cases(self, boot_id: str, since_mono_ms: int) -> list[OpenCase]:
        """First high readings of this boot since ``since_mono_ms`` nobody re-tested or
        released, then confirmed fevers nobody has acknowledged; oldest first."""
        retests = self.db.execute(
            "SELECT c.seq, c.temp_c, c.wall_ms, c.mono_ms, c.boot_id, c.holder FROM checks c "
            "WHERE c.reason = 'temp_high' AND c.boot_id = ? AND c.mono_ms >= ? "
            "AND NOT EXISTS (SELECT 1 FROM fever_acks a WHERE a.seq = c.seq) "
            "AND NOT EXISTS (SELECT 1 FROM checks r WHERE r.refers_to = c.seq) ORDER BY c.seq",
            (boot_id, since_mono_ms),
        ).fetchall()
        fevers = self.db.execute(
            "SELECT c.seq, c.temp_c, c.wall_ms, c.mono_ms, c.boot_id, c.holder FROM checks c "
            "WHERE c.reason = 'fever' AND c.verdict = 'deny' "
            "AND NOT EXISTS (SELECT 1 FROM fever_acks a WHERE a.seq = c.seq) ORDER BY c.seq"
        ).fetchall()
        return [OpenCase(row[0], "retest", *row[1:]) for row in retests] + [
            OpenCase(row[0], "fever", *row[1:]) for row in fevers
        ]

    def people_present(self, seq: int, until_ms: int) -> list[str]:
        """Pseudonyms of the others checked at this gate from ``PRESENT_BEFORE_MS`` before
        the case's first high reading until ``until_ms`` (the people who may have been near)."""
        row = self.db.execute(
            "SELECT coalesce(f.wall_ms, c.wall_ms), c.holder FROM checks c "
            "LEFT JOIN checks f ON f.seq = c.refers_to AND f.reason = 'temp_high' WHERE c.seq = ?",
            (seq,),
        ).fetchone()
        if row is None:
            return []
        first_ms, holder = row
        rows = self.db.execute(
            "SELECT DISTINCT holder FROM checks WHERE wall_ms BETWEEN ? AND ? AND holder IS NOT NULL "
            "AND holder IS NOT ? ORDER BY holder",
            (first_ms - PRESENT_BEFORE_MS, until_ms, holder),
        ).fetchall()
        return [r[0] for r in rows]

    def acknowledge(
        self, seq: int, guard_id: str, action: str, note: str | None, acked_ms: int, present: list[str]
    ) -> None:
        """Close a case (inside the transaction that stores its ``fever_handled`` record)."""
        self.db.execute(
            "INSERT INTO fever_acks (seq, guard_id, action, note, acked_ms, present) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (seq, guard_id, action, note, acked_ms, json.dumps(present)),
        )
