"""Helpers for hub tests: checks as a device makes them, batches, signed uploads."""

from __future__ import annotations

import gzip
import time
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from core.bundle import DeviceBundle
from core.protocol import INGEST_PATH, LOG_SEQ_BITS, BatchIn, CheckColumns, CheckIn, sign_request

NOON_SHANGHAI = int(datetime(2026, 11, 20, 4, 0, tzinfo=UTC).timestamp() * 1000)
SENT_MONO = 10**12
"""The device's monotonic clock when it sends; checks' readings are derived from it so the
device's wall clock and monotonic clock agree (a device whose clock is right)."""


def now_ms() -> int:
    return int(time.time() * 1000)


def make_check(seq: int, wall_ms: int = NOON_SHANGHAI, clock_error_ms: int = 0, **overrides: Any) -> CheckIn:
    """A check made at ``wall_ms`` (true time) by a device whose clock was off by
    ``clock_error_ms``; its monotonic reading follows the true time."""
    fields: dict[str, Any] = dict(
        seq=seq, gate="North", wall_ms=wall_ms + seq + clock_error_ms,
        mono_ms=SENT_MONO - (now_ms() - wall_ms - seq), boot_id="b1",
        verdict="admit", reason="ok", temp_c=36.5, temp_source="sensor", scheme="opaque",
        holder=f"{seq:032x}",
    )  # fmt: skip
    fields.update(overrides)
    return CheckIn(**fields)


LOG_SPAN = 1 << LOG_SEQ_BITS
"""Where the hub puts a device's second log (its first at 0)."""
LOG = "0123456789abcdef" * 2
"""The check log the test device sends from (unless a test says another)."""


def make_batch(
    device: DeviceBundle,
    after: int | None,
    items: list[CheckIn],
    clock_error_ms: int = 0,
    boot_id: str = "b1",
    log_id: str = LOG,
) -> BatchIn:
    return BatchIn(
        device_id=device.device_id, log_id=log_id, after_seq=after, boot_id=boot_id,
        sent_wall_ms=now_ms() + clock_error_ms, sent_mono_ms=SENT_MONO, checks=CheckColumns.pack(items),
    )  # fmt: skip


def post(client: TestClient, device: DeviceBundle, batch: BatchIn, key: bytes | None = None) -> Any:
    body = gzip.compress(batch.model_dump_json().encode())
    headers = sign_request(key or device.signing_key_bytes, device.device_id, "POST", INGEST_PATH, body)
    headers["Content-Encoding"] = "gzip"
    return client.post(INGEST_PATH, content=body, headers=headers)
