"""``gatecheck sync``: push the device's checks to the hub."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import click
from tenacity import retry, retry_if_exception_type, wait_random_exponential

from edge.cli import db_option, device_option, open_device
from sync.agent import HubRejected, HubUnavailable, SyncAgent, SyncReport

logger = logging.getLogger(__name__)


@click.group()
def sync() -> None:
    """Device → hub synchronisation."""


def _summary(report: SyncReport) -> str:
    return (
        f"synced: {report.stored} new, {report.duplicates} already at hub, "
        f"hub holds up to #{report.acked_seq}, backlog {report.backlog}"
    )


@sync.command()
@device_option
@db_option
@click.option("--once", is_flag=True, help="Drain the backlog once and exit.")
@click.option("--interval", default=30.0, show_default=True, help="Seconds between rounds.")
@click.option("--batch-size", default=500, show_default=True, help="Checks per batch.")
def run(device_path: Path, db_path: Path, once: bool, interval: float, batch_size: int) -> None:
    """Send unsynced checks to the hub. Retries with full-jitter backoff when it is
    unreachable; with --once, exits 1 (checks stay queued) instead."""
    bundle, store = open_device(device_path, db_path)
    agent = SyncAgent(bundle, store, batch_size=batch_size)
    if once:
        try:
            click.echo(_summary(agent.push()))
        except HubUnavailable as exc:
            raise click.ClickException(f"{exc}; {store.backlog()} checks stay queued on the device") from exc
        except HubRejected as exc:
            raise click.ClickException(str(exc)) from exc
        return

    @retry(
        retry=retry_if_exception_type(HubUnavailable),
        wait=wait_random_exponential(multiplier=1, max=300),
        before_sleep=lambda state: logger.warning(
            "sync failed, retrying: %s", state.outcome.exception() if state.outcome else "?"
        ),
    )
    def push_with_backoff() -> SyncReport:
        return agent.push()

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    while True:
        try:
            click.echo(_summary(push_with_backoff()))
        except HubRejected as exc:
            raise click.ClickException(str(exc)) from exc
        time.sleep(interval)
