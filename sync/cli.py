"""``gatecheck sync``: push the device's checks to the hub and pull its configuration."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from core.protocol import MAX_BATCH_CHECKS
from edge import systemd
from edge.cli_options import db_option, device_option, open_device
from edge.settings import current
from edge.systemd import sleep_pinging
from sync.agent import HubRejected, HubUnavailable, SyncAgent, SyncReport, SyncSettings

logger = logging.getLogger(__name__)


@click.group()
def sync() -> None:
    """Device → hub synchronisation, and the hub → device downlink."""


def _summary(report: SyncReport) -> str:
    return (
        f"synced: {report.stored} new ({report.urgent} urgent first), {report.duplicates} already at hub, "
        f"hub holds up to #{report.acked_seq}, backlog {report.backlog}"
    )


@sync.command()
@device_option
@db_option
@click.option("--once", is_flag=True, help="One round (config, urgent, backlog), then exit.")
@click.option(
    "--interval",
    default=lambda: current().sync.interval_s,
    type=click.FloatRange(0.1, 86400),
    help="Seconds between rounds [setting GATECHECK_SYNC__INTERVAL_S; default 30].",
)
@click.option(
    "--batch-size",
    default=lambda: current().sync.batch_size,
    type=click.IntRange(1, MAX_BATCH_CHECKS),
    help="Most checks per batch [setting GATECHECK_SYNC__BATCH_SIZE; default 500].",
)
@click.option(
    "--max-batch-kb",
    default=lambda: current().sync.max_batch_kb,
    type=click.IntRange(1, 64 * 1024),
    help="Most compressed KiB per batch [setting GATECHECK_SYNC__MAX_BATCH_KB; default 256].",
)
@click.option(
    "--retry-for",
    type=click.FloatRange(0),
    help="Seconds to keep retrying an unreachable hub (default: forever; with --once: 0).",
)
@click.option(
    "--max-backoff",
    default=lambda: current().sync.max_backoff_s,
    type=click.FloatRange(0.1, 86400),
    help="Longest wait between retries, s [setting GATECHECK_SYNC__MAX_BACKOFF_S; default 300].",
)
def run(
    device_path: Path,
    db_path: Path,
    once: bool,
    interval: float,
    batch_size: int,
    max_batch_kb: int,
    retry_for: float | None,
    max_backoff: float,
) -> None:
    """Send urgent checks, then the backlog, and apply new configuration from the hub.
    Transient failures are retried with full-jitter exponential backoff (honouring
    Retry-After); with --once an unreachable hub exits 1 and the checks stay queued. A
    refusal (revoked, key not accepted) is reported and tried again every round with the
    bundle read afresh, so loading a rotated bundle needs no restart."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    bundle, store = open_device(device_path, db_path)
    settings = SyncSettings(
        batch_size=batch_size,
        max_batch_bytes=max_batch_kb * 1024,
        backoff_cap_s=max_backoff,
        retry_for_s=(0.0 if once else None) if retry_for is None else retry_for,
    )
    agent = SyncAgent(bundle, store, settings, sleep=sleep_pinging)
    systemd.notify("READY=1")
    while True:
        systemd.notify("WATCHDOG=1")
        try:
            agent.pull_config()
            click.echo(_summary(agent.push()))
        except HubUnavailable as exc:
            if once:
                raise click.ClickException(
                    f"{exc}; {store.backlog()} checks stay queued on the device"
                ) from exc
            logger.warning("round failed: %s", exc)
        except HubRejected as exc:
            if once:
                raise click.ClickException(str(exc)) from exc
            logger.error("hub refused: %s; trying again in %.0f s", exc, max_backoff)
            sleep_pinging(max_backoff)
            bundle, store = open_device(device_path, db_path)  # a new bundle may be in place
            agent = SyncAgent(bundle, store, settings, sleep=sleep_pinging)
            continue
        if once:
            return
        sleep_pinging(interval)
