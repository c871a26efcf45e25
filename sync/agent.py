"""The device's sync agent: drain unsynced checks to the hub, in order, safely.

The agent keeps no state of its own: the high-water mark lives in the edge database next
to the checks, and moves only to the ``acked_seq`` the hub answers. A crash at any point
re-sends at most one batch, which the hub recognises as duplicates.
"""

from __future__ import annotations

import gzip
import logging
from dataclasses import dataclass

import httpx
from pydantic import ValidationError

from edge import clock
from edge.store import CheckStore
from gatecheck import __version__
from provisioning.bundle import DeviceBundle
from sync.protocol import INGEST_PATH, BatchAck, BatchIn, CheckIn, sign_request

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 500


class HubUnavailable(Exception):
    """The hub could not be reached or failed transiently; try again later."""


class HubRejected(Exception):
    """The hub refused the upload for a reason retrying will not fix."""


@dataclass(frozen=True)
class SyncReport:
    batches: int
    stored: int
    duplicates: int
    acked_seq: int
    backlog: int


class SyncAgent:
    """Pushes one device's checks to its hub."""

    def __init__(
        self,
        bundle: DeviceBundle,
        store: CheckStore,
        client: httpx.Client | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        timeout: float = 30.0,
    ) -> None:
        self.bundle = bundle
        self.store = store
        self.client = client or httpx.Client(base_url=bundle.hub_url, timeout=timeout)
        self.batch_size = batch_size

    def _post(self, batch: BatchIn) -> BatchAck:
        body = gzip.compress(batch.model_dump_json(exclude_defaults=False).encode(), mtime=0)
        headers = sign_request(
            self.bundle.signing_key_bytes, self.bundle.device_id, "POST", INGEST_PATH, body
        )
        headers.update({"Content-Type": "application/json", "Content-Encoding": "gzip"})
        try:
            response = self.client.post(INGEST_PATH, content=body, headers=headers)
        except httpx.TransportError as exc:
            raise HubUnavailable(f"cannot reach hub at {self.bundle.hub_url}: {exc}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise HubUnavailable(f"hub answered {response.status_code}")
        if response.status_code != 200:
            raise HubRejected(f"hub refused the upload ({response.status_code}): {response.text}")
        try:
            return BatchAck.model_validate_json(response.content)
        except ValidationError as exc:
            raise HubUnavailable(f"hub sent an unreadable answer: {exc}") from exc

    def push(self) -> SyncReport:
        """Send batches until the hub holds every stored check (or an error stops us)."""
        batches = stored = duplicates = 0
        stalled = 0
        while True:
            after = self.store.acked_seq()
            rows = self.store.after(after, self.batch_size)
            if not rows:
                break
            now = clock.now()
            batch = BatchIn(
                device_id=self.bundle.device_id,
                after_seq=after,
                boot_id=now.boot_id,
                sent_wall_ms=now.wall_ms,
                sent_mono_ms=now.mono_ms,
                software=__version__,
                checks=[CheckIn(**row) for row in rows],
            )
            ack = self._post(batch)
            batches += 1
            stored += ack.stored
            duplicates += ack.duplicates
            # Move to exactly what the hub holds — backwards too, if it lost data.
            self.store.set_acked_seq(ack.acked_seq)
            stalled = stalled + 1 if ack.acked_seq <= after else 0
            if stalled >= 2:
                raise HubRejected(f"hub does not advance past seq {ack.acked_seq}")
            logger.info("batch of %d sent; hub holds up to #%d", len(rows), ack.acked_seq)
        return SyncReport(batches, stored, duplicates, self.store.acked_seq(), self.store.backlog())
