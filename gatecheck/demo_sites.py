"""The demo's other sites, one for each state a manager must tell apart: a complete and
clear yesterday (a zero report to confirm), a late report with a gate gone quiet, and a
site whose gate never reported (today is "no data yet", never zero). Their history is
made as it would have happened: logs written with yesterday's clocks and synced; where
the demo cannot wait a day, the uplink's failure is written into the hub's device state
(said so below)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click
import httpx
from pydantic import TypeAdapter
from sqlalchemy import Engine, update

from edge.store import CheckStore, NewCheck
from hub import rollups, site_sync
from hub.core.db import device_status, devices
from hub.region_overview import RegionOverview
from hub.regions import create_region, place_site
from hub.registry import Site, create_site, enrol_device
from hub.schemas import DayCounts, DayStatus, DeviceHealth
from sync.agent import SyncAgent

WEEK_MS = 7 * 86_400_000


@dataclass(frozen=True)
class DemoSite:
    site: Site
    story: str


INCIDENTS = (("deny", "fever", 38.6), ("deny", "code_red", 36.5))
"""What went wrong at the bank yesterday: a confirmed fever and a red code."""


def _checks_at(
    store: CheckStore, device_id: str, gate: str, when: datetime, n: int, incidents: bool = False
) -> None:
    """``n`` checks a gate recorded from ``when``, during an earlier boot of the board (its
    own boot id and monotonic clock; its wall clock was set): clean ones, after the
    ``INCIDENTS`` if asked."""
    boot = f"demo-boot-{when.date().isoformat()}"
    outcomes = [*(INCIDENTS if incidents else ()), *[("admit", "ok", 36.4)] * n][:n]
    for i, (verdict, reason, temp_c) in enumerate(outcomes):
        store.append(
            NewCheck(
                device_id=device_id, gate=gate, wall_ms=int(when.timestamp() * 1000) + i * 60_000,
                mono_ms=3_600_000 + i * 60_000, boot_id=boot, verdict=verdict, reason=reason,
                temp_c=temp_c, temp_source="sensor", scheme="gc1", urgent=verdict == "deny",
                holder=hashlib.sha256(f"{device_id}{i}".encode()).hexdigest()[:32],
            )
        )  # fmt: skip


def _enrolled_last_week(engine: Engine, device_id: str) -> None:
    """The gate was installed a week ago (so yesterday was watched)."""
    with engine.begin() as conn:
        week_ago = int(datetime.now(UTC).timestamp() * 1000) - WEEK_MS
        conn.execute(update(devices).where(devices.c.id == device_id).values(created_at_ms=week_ago))


def _site_with_history(
    engine: Engine,
    hub_url: str,
    store_path: Path,
    site: Site,
    gate_name: str,
    since: datetime,
    n: int,
    incidents: bool = False,
) -> str:
    """A gate installed last week at ``site`` whose log from ``since`` is synced now; its id."""
    gate = enrol_device(engine, site.id, gate_name, hub_url)
    _enrolled_last_week(engine, gate.device_id)
    store = CheckStore(store_path)
    _checks_at(store, gate.device_id, gate.gate, since, n, incidents)
    SyncAgent(gate, store).push()
    store.close()
    return gate.device_id


def more_sites(engine: Engine, hub_url: str, root: Path, timezone: str) -> list[DemoSite]:
    tz = ZoneInfo(timezone)
    yesterday = datetime.now(tz).date() - timedelta(days=1)
    made = []

    school = create_site(engine, "静安小学 Jing'an School", timezone)
    morning = datetime.combine(yesterday, time(7, 30), tz)
    _site_with_history(engine, hub_url, root / "school.db", school, "校门 School gate", morning, 40)
    made.append(DemoSite(school, "yesterday complete and clear: a zero report to confirm"))

    bank = create_site(engine, "平安银行支行 Bank branch", timezone)
    opened = datetime.combine(yesterday, time(9, 0), tz)
    _site_with_history(engine, hub_url, root / "bank.db", bank, "营业厅 Hall", opened, 25, incidents=True)
    made.append(DemoSite(bank, "yesterday complete with a fever and a red code: a report with incidents"))

    # Due at midnight: yesterday's report is late whenever the demo runs (with a later
    # deadline it would read "waiting" in the half hour after midnight).
    market = create_site(engine, "东门菜市场 East Market", timezone, report_deadline="00:00")
    early = datetime.combine(yesterday, time(6, 0), tz)
    device_id = _site_with_history(engine, hub_url, root / "market.db", market, "东门 East gate", early, 12)
    # Its uplink failed yesterday at 07:00 and has not come back (the demo cannot wait):
    went_quiet = int(datetime.combine(yesterday, time(7, 0), tz).timestamp() * 1000)
    with engine.begin() as conn:
        conn.execute(
            update(device_status)
            .where(device_status.c.device_id == device_id)
            .values(synced_until_ms=went_quiet, last_seen_ms=went_quiet)
        )
        site_sync.refresh(conn, market.id)  # what the hub keeps of the site's completeness
    made.append(DemoSite(market, "gate quiet since yesterday 07:00: report late, gate offline"))

    compound = create_site(engine, "和平小区 Peace Compound", timezone)
    enrol_device(engine, compound.id, "正门 Main gate", hub_url)
    made.append(DemoSite(compound, "gate installed, never reported: no data yet (not zero)"))
    return made


def report_states(api: httpx.Client, sites: list[Site], offline_after_ms: int) -> str:
    """Each site as the dashboard sees it now: today, yesterday's report, quiet gates."""
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    lines = [f"{'site':<28}{'today':>16}  {'yesterday':<14}{'offline gates'}"]
    for site in sites:
        today = datetime.now(ZoneInfo(site.timezone)).date().isoformat()
        days = [DayCounts.model_validate(d) for d in api.get(f"/api/v1/sites/{site.id}/daily").json()]
        counted = next((d for d in days if d.date == today), None)
        status = DayStatus.model_validate(api.get(f"/api/v1/sites/{site.id}/status").json())
        health = [DeviceHealth.model_validate(d) for d in api.get(f"/api/v1/sites/{site.id}/devices").json()]
        quiet = [
            d.gate for d in health if d.last_seen_ms is None or now_ms - d.last_seen_ms > offline_after_ms
        ]
        shown = f"{counted.checks} checks" if counted else "no data yet"
        lines.append(f"{site.name:<28}{shown:>16}  {status.state:<14}{', '.join(quiet) or '-'}")
    return "\n".join(lines)


def echo_states(api: httpx.Client, sites: list[Site], offline_after_ms: int) -> None:
    click.echo("\nReport states (as the dashboard shows them):")
    click.echo(report_states(api, sites, offline_after_ms))


def place_in_regions(engine: Engine, main: Site, others: list[DemoSite]) -> tuple[str, str]:
    """A city with two districts and the demo's sites placed in them by kind of venue, as
    an officer above the sites sees them; returns the city's and one district's ids."""
    city = create_region(engine, "示范市 Demo City")
    west = create_region(engine, "静安区 Jing'an District", city.id)
    east = create_region(engine, "东城区 East District", city.id)
    school, bank, market, compound = (o.site for o in others)
    for site, region, category in (
        (main, west, "residential"), (school, west, "school"), (compound, west, "residential"),
        (bank, east, "bank"), (market, east, "market"),
    ):  # fmt: skip
        place_site(engine, site.id, region.id, category)
    rollups.fold(engine)  # what the hub does every few seconds
    return city.id, west.id


def echo_region(api: httpx.Client, city_id: str) -> None:
    """The city's page as its officer reads it: today by district and by category, and the
    sites late or without a gate."""
    found = TypeAdapter(RegionOverview).validate_python(api.get(f"/api/v1/regions/{city_id}/overview").json())
    click.echo(f"\nRegion {found.name}, {found.day} (sums of each site's own local day):")
    click.echo(f"{'':<28}{'sites':>6}{'checks':>8}{'fevers':>8}{'late':>6}{'no gate':>9}{'offline':>9}")
    for part in [found.total, *found.children]:
        counts = part.counts
        click.echo(
            f"{part.name:<28}{part.sites:>6}{counts.get('checks', 0):>8}{counts.get('fevers', 0):>8}"
            f"{part.late:>6}{part.no_gates:>9}{part.offline:>9}"
        )
    for category in found.by_category:
        click.echo(f"  {category.name:<26}{category.sites:>6}{category.counts.get('checks', 0):>8}")
    for late in found.late:
        click.echo(f"  late or without a gate: {late.name}")
