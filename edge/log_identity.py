"""Is the check log on this board the one the device was set up with?

``gatecheck edge init`` records the log's identity beside the device bundle (``log-id``).
A log that was lost — the file deleted or zeroed, the card re-flashed and restored without
it — comes back empty with a *new* identity the next time a command opens it. The gate
goes on recording into it (a gate that stopped would be worse) and the hub numbers the new
log separately, so nothing recorded after the loss is mistaken for the old log's checks.
But the guard and the technician must hear of it: checks that had not reached the hub
before the loss are gone. Running ``edge init`` again confirms the log in use.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from edge.store import CheckStore

LOG_ID_FILE = "log-id"


@dataclass(frozen=True)
class LogReplaced:
    """The log in use is not the one recorded at set-up."""

    expected: str
    found: str
    created_ms: int

    def describe(self) -> str:
        created = datetime.fromtimestamp(self.created_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
        return (
            f"the check log in use (id {self.found[:8]}, started {created}) is not the one this device "
            f"was set up with (id {self.expected[:8]}): the earlier log was lost (file deleted or "
            "damaged, card re-flashed). Checks it held that had not reached the hub are gone; every "
            "check since is kept and syncs as a new log. Check or replace the SD card, then confirm "
            "this log with 'gatecheck edge init --bundle FILE'"
        )


def record_log(folder: Path, store: CheckStore) -> None:
    """Remember ``store``'s identity as this device's log (set-up, or a confirmed loss)."""
    path = folder / LOG_ID_FILE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(store.log_id + "\n", encoding="ascii")
    os.replace(tmp, path)


def replaced_log(folder: Path, store: CheckStore, adopt: bool = False) -> LogReplaced | None:
    """The loss, if ``store`` is not the log recorded in ``folder``. A device set up before
    logs had identities has no record: with ``adopt`` (the gate starting) its log becomes
    the recorded one."""
    try:
        expected = (folder / LOG_ID_FILE).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        if adopt and folder.is_dir():
            record_log(folder, store)
        return None
    if expected == store.log_id:
        return None
    return LogReplaced(expected, store.log_id, store.log_created_ms)
