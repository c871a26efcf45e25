"""``gatecheck provision``: sites and device enrolment, against the hub's database."""

from __future__ import annotations

from pathlib import Path

import click

from hub.cli import database_option
from hub.core.db import create_schema, make_engine
from provisioning.registry import ProvisioningError, create_site, enrol_device, list_sites


@click.group()
def provision() -> None:
    """Create sites and enrol devices."""


@provision.group()
def site() -> None:
    """Sites: a compound, branch or school with its own timezone."""


@site.command("create")
@database_option
@click.option("--name", required=True, help="Site name as managers know it.")
@click.option("--timezone", required=True, help="IANA timezone, e.g. Asia/Shanghai.")
def site_create(database_url: str, name: str, timezone: str) -> None:
    """Create a site and print its id."""
    engine = make_engine(database_url)
    create_schema(engine)
    try:
        created = create_site(engine, name, timezone)
    except ProvisioningError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(created.id)


@site.command("list")
@database_option
def site_list(database_url: str) -> None:
    """List sites: id, timezone, name."""
    engine = make_engine(database_url)
    create_schema(engine)
    for s in list_sites(engine):
        click.echo(f"{s.id}\t{s.timezone}\t{s.name}")


@provision.group()
def device() -> None:
    """Devices: one per gate."""


@device.command("enrol")
@database_option
@click.option("--site", "site_id", required=True, help="Site id from 'site create'.")
@click.option("--gate", required=True, help="Name of the entrance, e.g. 'North gate'.")
@click.option("--hub-url", required=True, help="URL the device will sync to.")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the device bundle (it holds secrets: mode 0600).",
)
def device_enrol(database_url: str, site_id: str, gate: str, hub_url: str, out: Path) -> None:
    """Enrol a device and write its bundle."""
    engine = make_engine(database_url)
    create_schema(engine)
    try:
        bundle = enrol_device(engine, site_id, gate, hub_url)
    except ProvisioningError as exc:
        raise click.ClickException(str(exc)) from exc
    bundle.save(out)
    click.echo(f"{bundle.device_id}\t{out}")
