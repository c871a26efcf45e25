"""The device's sync agent: urgent checks first, then the backlog in order; config back.

The agent keeps no state of its own: the high-water mark and the downlinked config live
in the edge database next to the checks, and the mark moves only to the ``acked_seq`` the
hub answers. A crash at any point re-sends at most one batch, which the hub recognises as
duplicates. docs/protocol.md describes the exchange; this module is its device half.
"""

from __future__ import annotations

import email.utils
import gzip
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from pydantic import ValidationError

from core import __version__
from core.bundle import DeviceBundle
from core.policy import SiteRules
from core.protocol import (
    CONFIG_PATH,
    HEADER_SERVER_TIME,
    INGEST_PATH,
    MAX_BATCH_VISITORS,
    VISITORS_PATH,
    BatchAck,
    BatchIn,
    CheckColumns,
    CheckIn,
    DeviceConfig,
    VisitorsAck,
    VisitorsIn,
    refused_as_replay,
    refused_for_clock,
    sign_request,
)
from core.trust import TrustList
from edge import clock
from edge.store import CheckStore, SyncKey
from edge.tables.visitors import VisitorTable

logger = logging.getLogger(__name__)


class HubUnavailable(Exception):
    """The hub could not be reached or failed transiently; try again later."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class HubRejected(Exception):
    """The hub refused the request for a reason retrying will not fix."""


class _TooLarge(Exception):
    """A batch is over the byte cap, or the hub answered 413: send fewer checks."""


@dataclass(frozen=True)
class SyncSettings:
    batch_size: int = 500
    """Most checks in one batch."""
    max_batch_bytes: int = 256 * 1024
    """Most compressed bytes in one batch."""
    timeout_s: float = 30.0
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 300.0
    retry_for_s: float | None = None
    """Give up on a request after retrying this long; None retries until it succeeds."""
    progress_every_s: float = 2.0


@dataclass
class SyncReport:
    batches: int = 0
    stored: int = 0
    duplicates: int = 0
    urgent: int = 0
    acked_seq: int = 0
    backlog: int = 0
    visitors: int = 0
    """Visitor-book entries sent (new, or closed since)."""


@dataclass
class WireCounter:
    """HTTP bytes both ways (request and status lines, headers, bodies)."""

    sent: int = 0
    received: int = 0
    requests: int = 0
    errors: dict[str, int] = field(default_factory=dict)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


class SyncAgent:
    """Pushes one device's checks to its hub and pulls its configuration back."""

    def __init__(
        self,
        bundle: DeviceBundle,
        store: CheckStore,
        settings: SyncSettings | None = None,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        device_clock: Callable[[], clock.ClockReading] = clock.now,
    ) -> None:
        self.bundle = bundle
        self.store = store
        self.settings = settings or SyncSettings()
        self.client = client or httpx.Client(
            base_url=bundle.hub_url, timeout=self.settings.timeout_s, verify=bundle.tls_verify()
        )
        self.sleep = sleep
        self.device_clock = device_clock
        self.clock_offset_s = 0.0
        """Hub clock minus ours; applied when signing if our clock is off (no RTC)."""
        self.wire = WireCounter()

    # -- one request, signed, with retries ------------------------------------------

    def _send(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        now = self.device_clock().wall_ms / 1000
        signing_time = now + self.clock_offset_s if abs(self.clock_offset_s) > 30 else now
        signed = sign_request(
            self.bundle.signing_key_bytes, self.bundle.device_id, method, path, body, now=signing_time
        )
        request = self.client.build_request(method, path, content=body, headers={**headers, **signed})
        self.wire.requests += 1
        self.wire.sent += (
            len(method) + len(path) + 12 + sum(len(k) + len(v) + 4 for k, v in request.headers.items())
        )
        self.wire.sent += len(body)
        try:
            response = self.client.send(request)
        except httpx.TransportError as exc:
            kind = type(exc).__name__
            self.wire.errors[kind] = self.wire.errors.get(kind, 0) + 1
            raise HubUnavailable(f"cannot reach hub at {self.bundle.hub_url}: {kind} {exc}") from exc
        self.wire.received += 15 + sum(len(k) + len(v) + 4 for k, v in response.headers.items())
        self.wire.received += len(response.content)
        server_ms = response.headers.get(HEADER_SERVER_TIME)
        if server_ms and server_ms.isdigit():
            self.clock_offset_s = int(server_ms) / 1000 - (now + self.device_clock().wall_ms / 1000) / 2
        return response

    def _call(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """A request, retried through transient failures with full-jitter backoff."""
        started = time.monotonic()
        attempt = 0
        clock_retried = False
        while True:
            try:
                response = self._send(method, path, body, headers or {})
                if response.status_code in (200, 304):
                    return response
                if response.status_code == 413:
                    raise _TooLarge(response.text)
                detail = response.text
                if refused_for_clock(response.status_code, detail) and not clock_retried:
                    clock_retried = True  # our clock was off; the answer told us the hub's
                    continue
                if refused_as_replay(response.status_code, detail):
                    # The network delivered this request twice and the hub committed the
                    # other copy; this answer is the copy's. Sending again (a new nonce)
                    # gets the real answer — the checks count once.
                    raise HubUnavailable("the network duplicated the request; sending it again")
                if response.status_code >= 500 or response.status_code in (408, 429):
                    raise HubUnavailable(
                        f"hub answered {response.status_code}",
                        _retry_after(response.headers.get("retry-after")),
                    )
                if response.status_code in (401, 403):
                    # Kept where the gate screen can say so (revoked, key not accepted).
                    self.store.set_state(SyncKey.HUB_REFUSED_MS, int(time.time() * 1000))
                    self.store.set_state(SyncKey.HUB_REFUSED_STATUS, response.status_code)
                raise HubRejected(f"hub refused the request ({response.status_code}): {detail}")
            except HubUnavailable as exc:
                retry_for = self.settings.retry_for_s
                if retry_for is not None and time.monotonic() - started >= retry_for:
                    raise
                ceiling = min(self.settings.backoff_cap_s, self.settings.backoff_base_s * 2**attempt)
                delay = random.uniform(0, ceiling)
                if exc.retry_after is not None:
                    delay = min(max(delay, exc.retry_after), self.settings.backoff_cap_s)
                logger.warning("%s; retrying in %.1f s", exc, delay)
                self.sleep(delay)
                attempt += 1

    # -- uplink ----------------------------------------------------------------------

    def _trust(self) -> TrustList:
        """The trust list the gate is using: the downlinked one, else the bundle's."""
        applied = self.store.config()
        return TrustList.model_validate_json(applied[2]) if applied else self.bundle.trust

    def _rules(self) -> SiteRules:
        """The rules the gate is using: the downlinked ones, else the bundle's."""
        applied = self.store.config()
        if applied:
            return SiteRules.model_validate_json(applied[1])
        return SiteRules(version=self.bundle.policy_version, policy=self.bundle.policy)

    def _post_batch(self, checks: list[CheckIn], after_seq: int | None) -> BatchAck:
        now = self.device_clock()
        trust = self._trust()
        batch = BatchIn(
            device_id=self.bundle.device_id,
            log_id=self.store.log_id,
            after_seq=after_seq,
            boot_id=now.boot_id,
            sent_wall_ms=now.wall_ms,
            sent_mono_ms=now.mono_ms,
            software=__version__,
            backlog=max(0, self.store.backlog() - (len(checks) if after_seq is not None else 0)),
            trust_version=trust.version,
            policy_version=self._rules().at(now.wall_ms)[0],
            trust_fetched_ms=int(trust.fetched_at.timestamp() * 1000) if trust.fetched_at else None,
            checks=CheckColumns.pack(checks),
        )
        body = gzip.compress(batch.model_dump_json().encode(), compresslevel=9, mtime=0)
        if len(body) > self.settings.max_batch_bytes and len(checks) > 1:
            raise _TooLarge(f"{len(body)} bytes for {len(checks)} checks")
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        response = self._call("POST", INGEST_PATH, body, headers)
        try:
            ack = BatchAck.model_validate_json(response.content)
        except ValidationError as exc:
            raise HubUnavailable(f"hub sent an unreadable answer: {exc}") from exc
        if ack.acked_seq > self.store.highest_seq():
            # Never believe the hub holds checks this log never made: moving the mark there
            # would skip every check recorded up to that number.
            raise HubRejected(
                f"hub says it holds this device's checks up to #{ack.acked_seq}, but this check log "
                f"ends at #{self.store.highest_seq()}; keeping every check queued"
            )
        if ack.conflicts:
            logger.error(
                "hub holds %d of these seq numbers with other content (kept aside there and alerted)",
                ack.conflicts,
            )
        return ack

    def _drain(
        self,
        fetch: Callable[[int], list[CheckIn]],
        send: Callable[[list[CheckIn]], BatchAck],
        report: SyncReport,
    ) -> None:
        """Send what ``fetch`` gives, halving batches that are too large, until empty."""
        size = self.settings.batch_size
        while rows := fetch(size):
            try:
                ack = send(rows)
            except _TooLarge as exc:
                if size == 1:
                    raise HubRejected(f"a single check is too large for the hub: {exc}") from exc
                size = max(1, size // 2)
                logger.info("batch too large (%s); sending %d checks at a time", exc, size)
                continue
            report.batches += 1
            report.stored += ack.stored
            report.duplicates += ack.duplicates
            size = min(self.settings.batch_size, size * 2)

    def push(self) -> SyncReport:
        """Urgent checks first, then every stored check in order, until the hub has all."""
        report = SyncReport()
        started = time.monotonic()
        total = self.store.backlog()
        last_log = started

        def urgent(checks: list[CheckIn]) -> BatchAck:
            ack = self._post_batch(checks, after_seq=None)
            self.store.mark_urgent_sent([c.seq for c in checks])
            report.urgent += len(checks)
            return ack

        def routine(checks: list[CheckIn]) -> BatchAck:
            nonlocal last_log
            after = self.store.acked_seq()
            ack = self._post_batch(checks, after_seq=after)
            # Move to exactly what the hub holds — backwards too, if it lost data.
            self.store.set_acked_seq(ack.acked_seq)
            if ack.acked_seq == after:
                raise HubRejected(f"hub does not advance past seq {after}")
            now = time.monotonic()
            if total > self.settings.batch_size and now - last_log >= self.settings.progress_every_s:
                last_log = now
                left = self.store.backlog()
                rate = (total - left) / max(now - started, 1e-6)
                logger.info("backlog: %d of %d sent (%.0f%%), %.0f checks/s, %d left",
                            total - left, total, 100 * (total - left) / total, rate, left)  # fmt: skip
            return ack

        self._drain(self.store.urgent_unsent, urgent, report)
        routine_batches = report.batches
        self._drain(lambda n: self.store.after(self.store.acked_seq(), n), routine, report)
        if report.batches == routine_batches:
            # Nothing to send: say so, so the hub knows this device's day is complete.
            self.store.set_acked_seq(self._post_batch([], after_seq=self.store.acked_seq()).acked_seq)
        report.visitors = self.push_visitors()
        self.store.set_state(SyncKey.UPLINK_OK_MS, int(time.time() * 1000))
        report.acked_seq = self.store.acked_seq()
        report.backlog = self.store.backlog()
        return report

    def push_visitors(self) -> int:
        """The visitor book's new and changed entries, after the checks they belong to."""
        book = VisitorTable(self.store)
        sent = 0
        while unsent := book.unsent(MAX_BATCH_VISITORS):
            body = VisitorsIn(
                device_id=self.bundle.device_id, log_id=self.store.log_id, visitors=[v for v, _ in unsent]
            ).model_dump_json()
            headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
            response = self._call("POST", VISITORS_PATH, gzip.compress(body.encode(), mtime=0), headers)
            try:
                VisitorsAck.model_validate_json(response.content)
            except ValidationError as exc:
                raise HubUnavailable(f"hub sent an unreadable answer: {exc}") from exc
            book.mark_sent([(v.id, version) for v, version in unsent])
            sent += len(unsent)
        return sent

    # -- downlink --------------------------------------------------------------------

    def pull_config(self) -> bool:
        """Fetch config, policy and trust list if they changed; apply atomically. Returns
        True when a new configuration was applied."""
        etag = self.store.config_etag()
        response = self._call("GET", CONFIG_PATH, headers={"If-None-Match": etag} if etag else {})
        now_ms = int(time.time() * 1000)
        if response.status_code == 304:
            self.store.set_state(SyncKey.DOWNLINK_OK_MS, now_ms)
            return False
        try:
            config = DeviceConfig.model_validate_json(response.content)
        except ValidationError as exc:
            raise HubUnavailable(f"hub sent an unreadable configuration: {exc}") from exc
        if config.device_id != self.bundle.device_id:
            raise HubRejected(f"hub sent the configuration of {config.device_id}")
        trust = config.trust.model_copy(update={"fetched_at": clock.utc_now()})
        rules = SiteRules(version=config.policy_version, policy=config.policy, next=config.next_policy)
        self.store.save_config(
            response.headers.get("etag", ""), rules.model_dump_json(), trust.model_dump_json(), now_ms
        )
        self.store.set_state(SyncKey.DOWNLINK_OK_MS, now_ms)
        logger.info(
            "applied configuration %s (trust list version %d)", response.headers.get("etag"), trust.version
        )
        return True
