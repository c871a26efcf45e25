"""``gatecheck edge init``: make this board the device a bundle describes.

The same command serves three moments: a fresh board (creates the home, the database and
the settings file), a rotated key (same device id: the bundle is replaced, the check log
and its unsent backlog stay), and a board re-used for another device (the old log is put
aside, never mixed with the new identity's sequence numbers — refused while it still holds
checks the hub has not confirmed, unless the operator says ``--replace``).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from core.bundle import BundleError, DeviceBundle
from edge.device_home import DeviceHome
from edge.log_identity import record_log
from edge.settings import DeviceSettings
from edge.store import CheckStore
from edge.tables.guards import GuardTable


class InitError(Exception):
    """The device cannot be set up as asked (the message says what to do)."""


@dataclass(frozen=True)
class InitResult:
    bundle: DeviceBundle
    previous_device: str | None
    """The device id this board had before, if any."""
    archived: Path | None
    """Where a previous device's check log was moved."""
    backlog: int
    """Checks on the device not yet confirmed by the hub."""


def _previous(home: DeviceHome) -> DeviceBundle | None:
    if not home.bundle.exists():
        return None
    try:
        return DeviceBundle.load(home.bundle)
    except BundleError:
        return None  # unreadable: it cannot be used anyway; its log is judged on its own


def _archive_log(home: DeviceHome, label: str) -> Path:
    """Move the check log (with its WAL) aside and carry the guards over to the new one."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = home.path / f"edge-{label}-{stamp}.db"
    # A checkpoint folds the WAL into the file, so one file holds the whole log.
    with sqlite3.connect(home.database) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    shutil.move(home.database, target)
    for suffix in ("-wal", "-shm"):
        Path(f"{home.database}{suffix}").unlink(missing_ok=True)
    store = CheckStore(home.database)
    try:
        GuardTable(store).copy_from(target)
    finally:
        store.close()
    return target


def init_device(
    home: DeviceHome, bundle: DeviceBundle, settings: DeviceSettings, replace: bool = False
) -> InitResult:
    """Install ``bundle`` into ``home`` and write its ``settings`` file."""
    home.path.mkdir(parents=True, exist_ok=True)
    home.path.chmod(0o750)
    previous = _previous(home)
    archived: Path | None = None
    if home.database.exists() and (previous is None or previous.device_id != bundle.device_id):
        store = CheckStore(home.database)
        try:
            waiting = store.backlog()
        finally:
            store.close()
        label = previous.device_id if previous else "unknown"
        if waiting and not replace:
            raise InitError(
                f"this board still holds {waiting} checks of device {label} that the hub has not "
                "confirmed. Let them sync first ('gatecheck sync run --once'), or pass --replace "
                "to keep them aside in a separate file."
            )
        archived = _archive_log(home, label)
    if previous is not None and previous.device_id == bundle.device_id and bundle.ca_cert is None:
        # A rotated bundle comes from the hub, which does not keep the site CA: keep ours.
        bundle = bundle.model_copy(update={"ca_cert": previous.ca_cert})
    bundle.save(home.bundle)
    store = CheckStore(home.database)
    try:
        record_log(home.path, store)
        backlog = store.backlog()
    finally:
        store.close()
    settings.model_copy(update={"home": home.path}).save()
    _match_owner(home, [home.bundle, home.env_file, *home.path.glob("edge*.db*")])
    return InitResult(bundle, previous.device_id if previous else None, archived, backlog)


def _match_owner(home: DeviceHome, paths: list[Path]) -> None:
    """Run as root (sudo) on an installed device, give what we wrote to the home's owner
    (the service account), or the services could no longer read their own files."""
    if os.geteuid() != 0:
        return
    owner = home.path.stat()
    for path in paths:
        if path.exists():
            os.chown(path, owner.st_uid, owner.st_gid)
