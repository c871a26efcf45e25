"""The device's durable log of checks (SQLite via sqlite-utils).

Durability choices (see docs/architecture.md): WAL journal with ``synchronous=FULL`` so a
check acknowledged on screen survives a power cut, and ``AUTOINCREMENT`` on ``seq`` so a
number is never handed out twice — not after a crash, not after old rows are purged.
The sync agent runs in another process and shares this file; WAL lets it read while the
gate writes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import sqlite_utils
from pydantic import ConfigDict

from core import RELEASED
from core.private import create_private_file
from core.protocol import CheckIn, CheckRecord

RELEASED_MS = int(RELEASED.timestamp() * 1000)
"""Wall-clock times before the software existed come from a board without the time."""

# Each entry moves the schema one version up; PRAGMA user_version records where a file is.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE checks (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        device_id TEXT NOT NULL,
        gate TEXT NOT NULL,
        wall_ms INTEGER NOT NULL,
        mono_ms INTEGER NOT NULL,
        boot_id TEXT NOT NULL,
        verdict TEXT NOT NULL,
        reason TEXT NOT NULL,
        temp_c REAL,
        temp_source TEXT NOT NULL,
        scheme TEXT,
        holder TEXT,
        engine TEXT
    );
    CREATE TABLE sync_state (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    """,
    # Flags (clock unset, stale trust list) and the lookup behind the re-measure rule.
    """
    ALTER TABLE checks ADD COLUMN flags TEXT NOT NULL DEFAULT '';
    CREATE INDEX checks_by_holder ON checks (holder, seq);
    """,
    # The priority lane (fevers, red codes, refusals go first) and the downlink's config.
    """
    ALTER TABLE checks ADD COLUMN urgent INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE checks ADD COLUMN urgent_sent INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX checks_urgent_unsent ON checks (urgent, urgent_sent, seq);
    CREATE TABLE device_config (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        etag TEXT NOT NULL,
        policy TEXT NOT NULL,
        trust TEXT NOT NULL,
        applied_ms INTEGER NOT NULL
    );
    """,
    # The guard kiosk: who acted on a check, on which earlier check, and why; guards and
    # their shifts; visitors (registered on entry, closed on leaving); fever holds released.
    """
    ALTER TABLE checks ADD COLUMN guard_id TEXT;
    ALTER TABLE checks ADD COLUMN refers_to INTEGER REFERENCES checks (seq);
    ALTER TABLE checks ADD COLUMN note TEXT;
    CREATE TABLE guards (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        pin_hash TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        failed INTEGER NOT NULL DEFAULT 0,
        locked_until_ms INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE shifts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        guard_id TEXT NOT NULL REFERENCES guards (id),
        token TEXT NOT NULL,
        first_seq INTEGER NOT NULL,
        started_ms INTEGER NOT NULL,
        ended_ms INTEGER,
        last_seq INTEGER
    );
    CREATE TABLE visitors (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        check_seq INTEGER NOT NULL REFERENCES checks (seq),
        name TEXT NOT NULL,
        phone TEXT NOT NULL,
        host TEXT NOT NULL,
        purpose TEXT NOT NULL,
        escort TEXT,
        guard_id TEXT NOT NULL,
        entered_ms INTEGER NOT NULL,
        left_ms INTEGER,
        left_guard_id TEXT
    );
    CREATE INDEX visitors_open ON visitors (left_ms, id);
    CREATE TABLE fever_acks (
        seq INTEGER PRIMARY KEY REFERENCES checks (seq),
        guard_id TEXT NOT NULL,
        action TEXT NOT NULL,
        note TEXT,
        acked_ms INTEGER NOT NULL
    );
    """,
    # SD-card wear: every index a routine check touches is one more page written (and
    # fsynced) per check. Index only the rows the lookups need: first high readings (the
    # re-measure rule) and urgent checks not yet sent. See bench/wear.py.
    """
    DROP INDEX checks_urgent_unsent;
    CREATE INDEX checks_urgent_unsent ON checks (seq) WHERE urgent = 1 AND urgent_sent = 0;
    DROP INDEX checks_by_holder;
    CREATE INDEX checks_pending_high ON checks (holder, seq) WHERE reason = 'temp_high';
    """,
    # The log's identity: a random id made with the file, sent with every batch. A log
    # that was lost and started again gets a new id, so the hub never mistakes its
    # numbers for the old log's (docs/protocol.md, "Check log identity").
    """
    CREATE TABLE log_identity (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        log_id TEXT NOT NULL,
        created_ms INTEGER NOT NULL
    );
    INSERT INTO log_identity (id, log_id, created_ms)
    VALUES (1, lower(hex(randomblob(16))), CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
    """,
    # PIN lockouts on the monotonic clock of one boot: a wall clock reset to 1970 (no RTC)
    # must not lock a guard out for decades.
    """
    ALTER TABLE guards ADD COLUMN locked_boot TEXT;
    UPDATE guards SET locked_until_ms = 0;
    """,
    # The fever drill: the people at the gate around a confirmed fever, kept with its
    # disposition; the lane-hold lookup reads confirmed fevers through a partial index.
    """
    ALTER TABLE fever_acks ADD COLUMN present TEXT NOT NULL DEFAULT '[]';
    CREATE INDEX checks_fevers ON checks (seq) WHERE reason = 'fever';
    """,
    # The visitor book goes to the hub too: each change of an entry (made, closed) bumps
    # its version; the sync agent sends entries whose version the hub has not confirmed.
    """
    ALTER TABLE visitors ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE visitors ADD COLUMN sent_version INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX visitors_unsent ON visitors (id) WHERE version > sent_version;
    """,
    # Rules that change: the downlinked config holds the version in force and the next one
    # (core.policy.SiteRules); each check records the version it was decided under.
    """
    UPDATE device_config SET policy = json_object('version', 1, 'policy', json(policy));
    ALTER TABLE checks ADD COLUMN policy_version INTEGER;
    """,
    # Staff before their shift: the guard's own temperature when the shift opened.
    """
    ALTER TABLE shifts ADD COLUMN own_temp_c REAL;
    """,
)

PAGE_SIZE = 1024
"""Page size of new check logs. A check is ~250 bytes and every commit writes whole pages
to the WAL, so 1 KiB pages write a quarter of what SQLite's default 4 KiB pages do."""

WIRE_FIELDS = tuple(CheckIn.model_fields)
"""The columns a check travels with — the shared record's fields, defined in core."""


def _checks(cursor: sqlite3.Cursor) -> list[CheckIn]:
    """Rows as typed checks (flags are a list everywhere but in this table's text column)."""
    checks = []
    for row in cursor:
        values = dict(zip(WIRE_FIELDS, row, strict=True))
        values["flags"] = values["flags"].split(",") if values["flags"] else []
        checks.append(CheckIn.model_validate(values))
    return checks


class SyncKey(StrEnum):
    """What the sync agent keeps in the check log's ``sync_state`` table (a number each),
    read by the gate screen, ``edge status`` and the doctor."""

    ACKED_SEQ = "acked_seq"
    """Highest seq the hub confirmed holding, with every seq below it."""
    UPLINK_OK_MS = "uplink_ok_ms"
    DOWNLINK_OK_MS = "downlink_ok_ms"
    HUB_REFUSED_MS = "hub_refused_ms"
    """When the hub last refused this device (revoked, key not accepted)…"""
    HUB_REFUSED_STATUS = "hub_refused_status"
    """…and with which HTTP status (403 revoked, 401 key)."""


class StoreError(Exception):
    """The local database cannot be opened or is from a newer version."""


class StorageFault(StoreError):
    """The card refused a write (full, read-only, failing): nothing of it was stored.
    Carries the words the guard sees; the gate retries with the next presentation."""

    def __init__(self, exc: sqlite3.Error, path: Path | None = None) -> None:
        self.code = "storage_full" if _primary(exc) == sqlite3.SQLITE_FULL else "storage_fault"
        self.text_zh, self.text_en = STORAGE_TEXTS[self.code]
        where = f"{path}: " if path else ""
        super().__init__(f"{self.text_zh} / {self.text_en} ({where}{exc})")


STORAGE_TEXTS = {
    "storage_full": (
        "存储已满 — 请联系管理员，人工登记",
        "Storage full — call the administrator, log by hand",
    ),
    "storage_fault": (
        "存储故障 — 请联系管理员，人工登记",
        "Storage fault — call the administrator, log by hand",
    ),
}


def _primary(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


class NewCheck(CheckRecord):
    """A check as decided, before the store gives it a sequence number: the shared record
    plus what stays on the device."""

    model_config = ConfigDict(frozen=True)

    device_id: str
    engine: str | None = None
    """The decoder that read the code (for the decoder's own statistics)."""
    urgent: bool = False
    """Sent ahead of the routine backlog (see the priority lane in docs/protocol.md)."""
    guard_id: str | None = None
    """The guard who recorded it (kiosk actions); None for the camera's own checks."""
    note: str | None = None
    """The guard's stated reason (overrides, refusals)."""


_NEW_CHECK_FIELDS = tuple(NewCheck.model_fields)
"""The columns a new check is written to (the shared record and the device's own)."""


@dataclass
class Purged:
    """What a retention purge removed (``up_to_seq`` 0: nothing was old and synced)."""

    up_to_seq: int
    checks: int = 0
    visitors: int = 0


class CheckStore:
    """Append-only log of checks plus the sync high-water mark."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            create_private_file(self.path)
            # One connection may serve several threads (the kiosk's camera loop and its web
            # requests); they take turns under the kiosk's lock.
            self.db = sqlite_utils.Database(sqlite3.connect(self.path, check_same_thread=False))
            self.db.execute("PRAGMA busy_timeout = 10000")
            self.db.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # takes effect on a new file only
            self.db.enable_wal()
            self.db.execute("PRAGMA synchronous = FULL")
            self._migrate()
            self.log_id, self.log_created_ms = self._identity()
            """This log's identity (32 hex digits) and when the file was made (device clock)."""
        except sqlite3.OperationalError as exc:
            if _primary(exc) in (sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY):
                raise StorageFault(exc, self.path) from exc
            raise StoreError(f"cannot open check database {self.path}: {exc}") from exc
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open check database {self.path}: {exc}") from exc

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StoreError(
                f"{self.path} has schema version {version}, newer than this software "
                f"({len(MIGRATIONS)}); upgrade gatecheck"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            self.db.conn.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")

    def append(self, check: NewCheck, also: Callable[[int], None] | None = None) -> int:
        """Store one check durably and return its sequence number. ``also(seq)`` runs in
        the same transaction (a visitor's entry is stored with its check or not at all).
        A write the card refuses raises ``StorageFault`` and leaves nothing behind."""
        values = [
            ",".join(check.flags) if name == "flags" else getattr(check, name) for name in _NEW_CHECK_FIELDS
        ]
        try:
            with self.db.conn:
                cursor = self.db.execute(
                    f"INSERT INTO checks ({', '.join(_NEW_CHECK_FIELDS)}) "
                    f"VALUES ({', '.join('?' * len(_NEW_CHECK_FIELDS))})",
                    values,
                )
                assert cursor.lastrowid is not None
                if also is not None:
                    also(cursor.lastrowid)
        except sqlite3.OperationalError as exc:
            raise StorageFault(exc) from exc
        return cursor.lastrowid

    def state(self, key: SyncKey) -> int | None:
        """A number the sync side keeps here (see ``SyncKey``)."""
        row = self.db.execute("SELECT value FROM sync_state WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else None

    def set_state(self, key: SyncKey, value: int) -> None:
        with self.db.conn:
            self.db.execute(
                "INSERT INTO sync_state (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def acked_seq(self) -> int:
        """Highest seq the hub has confirmed holding (with every seq below it)."""
        return self.state(SyncKey.ACKED_SEQ) or 0

    def set_acked_seq(self, seq: int) -> None:
        self.set_state(SyncKey.ACKED_SEQ, seq)

    def _identity(self) -> tuple[str, int]:
        row = self.db.execute("SELECT log_id, created_ms FROM log_identity WHERE id = 1").fetchone()
        return str(row[0]), int(row[1])

    def flags_noted(self, note: str, since_wall_ms: int) -> list[str] | None:
        """The flags of the latest check since then whose note is ``note`` (None: none)."""
        row = self.db.execute(
            "SELECT flags FROM checks WHERE note = ? AND wall_ms >= ? ORDER BY seq DESC LIMIT 1",
            (note, since_wall_ms),
        ).fetchone()
        return None if row is None else [f for f in row[0].split(",") if f]

    def highest_seq(self) -> int:
        """The highest sequence number this log ever handed out (purged rows included):
        no acknowledgement from the hub can be higher."""
        row = self.db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'checks'").fetchone()
        return int(row[0]) if row else 0

    def urgent_unsent(self, limit: int) -> list[CheckIn]:
        """Urgent checks the hub has not had yet, oldest first."""
        cursor = self.db.execute(
            f"SELECT {', '.join(WIRE_FIELDS)} FROM checks WHERE urgent = 1 AND urgent_sent = 0 "
            "AND seq > ? ORDER BY seq LIMIT ?",
            (self.acked_seq(), limit),
        )
        return _checks(cursor)

    def mark_urgent_sent(self, seqs: list[int]) -> None:
        with self.db.conn:
            self.db.conn.executemany("UPDATE checks SET urgent_sent = 1 WHERE seq = ?", [(s,) for s in seqs])

    def save_config(self, etag: str, rules_json: str, trust_json: str, applied_ms: int) -> None:
        """Apply a downlinked configuration: all of it or nothing, in one transaction."""
        with self.db.conn:
            self.db.execute(
                "INSERT INTO device_config (id, etag, policy, trust, applied_ms) VALUES (1, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET etag = excluded.etag, policy = excluded.policy, "
                "trust = excluded.trust, applied_ms = excluded.applied_ms",
                (etag, rules_json, trust_json, applied_ms),
            )

    def config(self) -> tuple[str, str, str] | None:
        """(etag, rules JSON — ``core.policy.SiteRules`` —, trust JSON) of the applied
        downlink config, if any."""
        row = self.db.execute("SELECT etag, policy, trust FROM device_config WHERE id = 1").fetchone()
        return (row[0], row[1], row[2]) if row else None

    def config_etag(self) -> str | None:
        row = self.db.execute("SELECT etag FROM device_config WHERE id = 1").fetchone()
        return str(row[0]) if row else None

    def after(self, seq: int, limit: int) -> list[CheckIn]:
        """Up to ``limit`` checks with a seq above ``seq``, oldest first."""
        cursor = self.db.execute(
            f"SELECT {', '.join(WIRE_FIELDS)} FROM checks WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq, limit),
        )
        return _checks(cursor)

    def pending_high_reading(self, holder: str | None, boot_id: str, since_mono_ms: int) -> int | None:
        """When (monotonic ms) this person's open first high reading was taken, if any.

        With a holder pseudonym we look at that person's latest first high reading, open
        while nothing of theirs came after it but a "wait for the re-test"; without one (no
        readable code) the person is whoever stood at the gate in the previous check.
        Monotonic time within one boot is used so a clock jump cannot fake the window.
        """
        if holder is None:
            row = self.db.execute(
                "SELECT reason, boot_id, mono_ms FROM checks WHERE holder IS NULL "
                "AND seq = (SELECT max(seq) FROM checks)"
            ).fetchone()
            open_high = bool(row) and row[0] == "temp_high" and row[1] == boot_id and row[2] >= since_mono_ms
            return int(row[2]) if open_high else None
        # Their latest first high reading (a partial index holds only those), provided
        # nothing of theirs came after it (a short scan: the window is minutes long).
        high = self.db.execute(
            "SELECT seq, boot_id, mono_ms FROM checks WHERE holder = ? AND reason = 'temp_high' "
            "ORDER BY seq DESC LIMIT 1",
            (holder,),
        ).fetchone()
        if high is None or high[1] != boot_id or high[2] < since_mono_ms:
            return None
        later = self.db.execute(
            "SELECT 1 FROM checks WHERE seq > ? AND holder = ? AND reason != 'retest_wait' LIMIT 1",
            (high[0], holder),
        )
        return None if later.fetchone() is not None else int(high[2])

    def high_reading_at(self, seq: int, boot_id: str, since_mono_ms: int) -> int | None:
        """When check ``seq`` was taken, if it is a first high reading within the window."""
        row = self.db.execute("SELECT reason, boot_id, mono_ms FROM checks WHERE seq = ?", (seq,)).fetchone()
        in_window = bool(row) and row[0] == "temp_high" and row[1] == boot_id and row[2] >= since_mono_ms
        return int(row[2]) if in_window else None

    def holder_at(self, seq: int) -> str | None:
        """The pseudonym of the person of check ``seq`` (None: no code, or no such check)."""
        row = self.db.execute("SELECT holder FROM checks WHERE seq = ?", (seq,)).fetchone()
        return row[0] if row else None

    def count(self) -> int:
        """Checks held (synced ones until purged included)."""
        return int(self.db.execute("SELECT count(*) FROM checks").fetchone()[0])

    def quick_check(self) -> str:
        """SQLite's quick integrity check of the file: "ok", or what is damaged."""
        return str(self.db.execute("PRAGMA quick_check").fetchone()[0])

    def backlog(self) -> int:
        """Checks not yet confirmed by the hub."""
        return int(
            self.db.execute("SELECT count(*) FROM checks WHERE seq > ?", (self.acked_seq(),)).fetchone()[0]
        )

    def purge(self, older_than_ms: int, chunk: int = 2000) -> Purged:
        """Delete checks the hub has confirmed that are older than ``older_than_ms`` (wall
        clock), with the visitor records, fever acknowledgements and closed shifts that
        belong to them. Unsynced checks are never deleted.

        Age is decided by sequence number, not by each row's timestamp: the newest
        confirmed check whose clock was trustworthy and older than the limit sets a cutoff,
        and everything recorded before it — including rows stamped 1970 by a board that
        had not got the time yet — is older still. Deletes go in small transactions so the
        gate never waits long and the WAL stays small."""
        row = self.db.execute(
            "SELECT max(seq) FROM checks WHERE wall_ms >= ? AND wall_ms < ? AND seq <= ?",
            (RELEASED_MS, older_than_ms, self.acked_seq()),
        ).fetchone()
        cutoff = int(row[0] or 0)
        purged = Purged(cutoff)
        if not cutoff:
            return purged
        for table, column, counter in (
            ("visitors", "check_seq", "visitors"),
            ("fever_acks", "seq", None),
            ("shifts", "last_seq", None),
            ("checks", "seq", "checks"),
        ):
            while True:
                with self.db.conn:
                    deleted = self.db.execute(
                        f"DELETE FROM {table} WHERE rowid IN "
                        f"(SELECT rowid FROM {table} WHERE {column} <= ? LIMIT ?)",
                        (cutoff, chunk),
                    ).rowcount
                if counter is not None:
                    setattr(purged, counter, getattr(purged, counter) + deleted)
                if deleted < chunk:
                    break
        return purged

    def rows(self) -> list[dict[str, Any]]:
        """Every stored check (for reports and tests; the device log is small)."""
        return list(self.db["checks"].rows)

    def close(self) -> None:
        self.db.close()
